/**
 * What Gavel reads off a chat model: its name (for prices and the
 * tokenizer), the output cap it declares (its `max_tokens`), and how to get a copy of it that
 * has a cap when it declares none.
 *
 * A model reaches `wrapModelCall` as a `BaseChatModel`, as a `RunnableBinding` around one
 * (`model.withConfig(...)`), or as LangChain's configurable model (`createAgent({ model: "openai:gpt-4o" })`);
 * all three are handled.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessage } from "@langchain/core/messages";
import { RunnableBinding } from "@langchain/core/runnables";
import { countMessageTokens } from "./budget/tokens.js";

/** A chat model, or a binding around one: what the middleware can budget and cap. */
export type BudgetableModel = BaseChatModel | RunnableBinding<unknown, unknown>;

/** True for a LangChain chat model (duck-typed, so two copies of `@langchain/core` still match). */
export function isChatModel(value: unknown): value is BaseChatModel {
  if (typeof value !== "object" || value === null) return false;
  const candidate = value as { _modelType?: unknown; invoke?: unknown };
  return (
    typeof candidate.invoke === "function" &&
    typeof candidate._modelType === "function" &&
    (candidate as { _modelType: () => unknown })._modelType() === "base_chat_model"
  );
}

/**
 * LangChain's configurable model (`initChatModel`, and `createAgent({ model: "openai:gpt-4o" })`):
 * a chat model that builds the real client (a `ChatOpenAI`, say) per call from its default config
 * (`model`, `modelProvider`, `maxTokens`, ...) and the call's `configurable` fields. Duck-typed on
 * the fields LangChain's `ConfigurableModel` has (`langchain/dist/chat_models/universal`).
 */
interface ConfigurableChatModel {
  _getModelInstance(config?: { configurable?: Record<string, unknown> }): Promise<unknown>;
  _defaultConfig?: Record<string, unknown>;
  _configPrefix?: string;
  _configurableFields?: "any" | string[];
}

function isConfigurableModel(value: unknown): value is ConfigurableChatModel {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as Partial<ConfigurableChatModel>)._getModelInstance === "function"
  );
}

/**
 * The model the agent is about to call, as a chat model or a binding around one; `undefined`
 * when it is neither (a custom runnable: the middleware still budgets it, by name "unknown").
 * A configurable model (`initChatModel`, a string model of `createAgent`) resolves to the client
 * it builds for a call with these `configurable` fields — the same instance its own `invoke`
 * would use — so its name, provider and output cap are the client's; when it cannot build one
 * (no model configured yet) it is returned as it is, named from its config.
 *
 * @example
 * ```ts
 * const model = await initChatModel("openai:gpt-4o-mini");
 * modelName((await resolveModel(model))!); // "gpt-4o-mini" (a ChatOpenAI)
 * ```
 */
export async function resolveModel(
  model: unknown,
  configurable?: Record<string, unknown>,
): Promise<BudgetableModel | undefined> {
  if (isConfigurableModel(model)) {
    const instance = await model._getModelInstance(configurable ? { configurable } : undefined).catch(() => undefined);
    if (isChatModel(instance) || (RunnableBinding.isRunnableBinding(instance) && isChatModel(instance.bound)))
      return instance as BudgetableModel;
    return isChatModel(model) ? model : undefined;
  }
  if (isChatModel(model)) return model;
  if (RunnableBinding.isRunnableBinding(model) && isChatModel(model.bound))
    return model as RunnableBinding<unknown, unknown>;
  return undefined;
}

/** True when `model` must go through {@link resolveModel} to be named (a configurable model, or not a chat model). */
export function needsResolving(model: unknown): boolean {
  return !isChatModel(model) || isConfigurableModel(model);
}

/** The chat model inside a binding, or the model itself. */
function innerModel(model: BudgetableModel): BaseChatModel {
  return RunnableBinding.isRunnableBinding(model) ? (model.bound as BaseChatModel) : model;
}

/** LangSmith parameters of a model; `{}` when the model cannot produce them without call options. */
function lsParams(model: BaseChatModel): { ls_model_name?: unknown; ls_max_tokens?: unknown; ls_provider?: unknown } {
  try {
    return model.getLsParams({} as never) ?? {};
  } catch {
    return {};
  }
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

/** Where a model's name was read: its own fields, its (configurable) config, or only its LLM type. */
export type ModelNameSource = "fields" | "config" | "type";

/** Who a model is: the name prices and the tokenizer go by, its provider, and where the name came from. */
export interface ModelIdentity {
  /** e.g. `"gpt-4o-mini"`; the LLM type (e.g. `"chat_model"`, `"scripted"`) when nothing better is known. */
  name: string;
  /** e.g. `"openai"`, `"anthropic"`; `undefined` when the model does not say. */
  provider: string | undefined;
  /** `"type"` when the name is only the LLM type: a reply's `response_metadata.model_name` is then better. */
  source: ModelNameSource;
}

const nonEmpty = (value: unknown): string | undefined =>
  typeof value === "string" && value.length > 0 ? value : undefined;

/** `model` and `modelProvider` of a configurable model's default config, `"provider:model"` split as `initChatModel` does. */
function configIdentity(model: ConfigurableChatModel): { name?: string; provider?: string } {
  const config = model._defaultConfig ?? {};
  let name = nonEmpty(config.model);
  let provider = nonEmpty(config.modelProvider);
  if (name !== undefined && provider === undefined && name.includes(":")) {
    const [prefix = "", ...rest] = name.split(":");
    if (/^[a-z][a-z0-9-]*$/.test(prefix) && rest.join(":").length > 0) {
      provider = prefix;
      name = rest.join(":");
    }
  }
  return { ...(name !== undefined && { name }), ...(provider !== undefined && { provider }) };
}

/**
 * The provider a model reports (`ls_provider`), unless it is only LangChain's default (the class
 * name without "Chat": `"ConfigurableModel"`, `"ScriptedChatModel"`), which names no provider.
 */
function ownProvider(model: BaseChatModel, reported: unknown): string | undefined {
  const provider = nonEmpty(reported);
  if (provider === undefined) return undefined;
  const className = model.getName();
  return provider === (className.startsWith("Chat") ? className.replace("Chat", "") : className) ? undefined : provider;
}

/**
 * The model's name and provider: the LangSmith parameters it reports (`ls_model_name`,
 * `ls_provider`), else its `model` / `modelName` field, else — for LangChain's configurable model —
 * the `model` and `modelProvider` of its default config, else its LLM type (`source: "type"`).
 *
 * @example
 * ```ts
 * modelIdentity(new ChatOpenAI({ model: "gpt-4o-mini" })); // { name: "gpt-4o-mini", provider: "openai", source: "fields" }
 * modelIdentity(await initChatModel(undefined, { configurableFields: ["model"] })); // { name: "chat_model", provider: undefined, source: "type" }
 * ```
 */
export function modelIdentity(model: BudgetableModel): ModelIdentity {
  const chat = innerModel(model);
  const params = lsParams(chat);
  const fields = chat as unknown as { model?: unknown; modelName?: unknown };
  const configured = isConfigurableModel(chat) ? configIdentity(chat) : {};
  const provider = configured.provider ?? ownProvider(chat, params.ls_provider);
  const name = nonEmpty(params.ls_model_name) ?? nonEmpty(fields.model) ?? nonEmpty(fields.modelName);
  if (name !== undefined) return { name, provider, source: "fields" };
  if (configured.name !== undefined) return { name: configured.name, provider, source: "config" };
  return { name: chat._llmType(), provider, source: "type" };
}

/**
 * The model's name: its LangSmith `ls_model_name`, else its `model` / `modelName` field, else
 * (a configurable model) the `model` of its config, else its LLM type (e.g. `"scripted"`).
 * See {@link modelIdentity} for the provider too.
 */
export function modelName(model: BudgetableModel): string {
  return modelIdentity(model).name;
}

/**
 * The output cap the model sends with every request (its `max_tokens`), or `undefined` when it
 * sends none. Read from `ls_max_tokens` (what LangChain's providers report to LangSmith), then
 * from the common field names `maxTokens`, `maxOutputTokens`, `maxCompletionTokens`. Call
 * options of a binding are not trusted: most providers (ChatOpenAI among them) ignore a
 * `max_tokens` call option.
 */
export function declaredOutputCap(model: BudgetableModel): number | undefined {
  const chat = innerModel(model);
  const fromParams = positiveInteger(lsParams(chat).ls_max_tokens);
  if (fromParams !== undefined) return fromParams;
  const fields = chat as unknown as { maxTokens?: unknown; maxOutputTokens?: unknown; maxCompletionTokens?: unknown };
  return (
    positiveInteger(fields.maxTokens) ??
    positiveInteger(fields.maxOutputTokens) ??
    positiveInteger(fields.maxCompletionTokens)
  );
}

/**
 * A copy of `model` that sends `maxTokens` as its output cap, or `undefined` when no such copy
 * can be made. The copy is built by the model's own constructor from the fields it was built
 * with (`lc_kwargs`) plus `maxTokens` — the field name `ChatOpenAI`, `ChatAnthropic` and most
 * LangChain chat models take — and is accepted only if it then declares exactly that cap.
 * A binding is rebuilt around the capped copy with its call options and config unchanged.
 */
export function cappedCopy(model: BudgetableModel, maxTokens: number): BudgetableModel | undefined {
  const copy = rebuiltWith(innerModel(model), { maxTokens });
  if (copy === undefined || declaredOutputCap(copy) !== maxTokens) return undefined;
  if (!RunnableBinding.isRunnableBinding(model)) return copy;
  return new RunnableBinding({
    bound: copy,
    kwargs: model.kwargs,
    config: model.config,
    configFactories: model.configFactories,
  }) as RunnableBinding<unknown, unknown>;
}

/**
 * A copy of `model` built by its own constructor from the fields it was built with (`lc_kwargs`)
 * with `overrides` on top, or `undefined` when the constructor throws or builds no chat model.
 * This is how Gavel changes per-call settings that clients only take at construction
 * (`ChatOpenAI` ignores a per-call `max_tokens` or `logprobs`).
 */
export function rebuiltWith(model: BaseChatModel, overrides: Record<string, unknown>): BaseChatModel | undefined {
  try {
    const Constructor = model.constructor as new (fields: Record<string, unknown>) => BaseChatModel;
    const copy = new Constructor({ ...(model.lc_kwargs ?? {}), ...overrides });
    return isChatModel(copy) ? copy : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The copy of `model` Gavel makes its own short calls with (router plans and juries, debate
 * intents and messages): rebuilt with the output cap `maxTokens` and, when `logprobs` is asked
 * and the client has a `logprobs` field (ChatOpenAI), with `logprobs: true` and `topLogprobs`
 * (when above 0). The model itself when no copy can be built; callers then still pass the cap
 * as a call option.
 *
 * @example
 * ```ts
 * const planner = callCopy(new ChatOpenAI({ model: "gpt-4o-mini" }), { maxTokens: 128, logprobs: true, topLogprobs: 5 });
 * ```
 */
export function callCopy(
  model: BaseChatModel,
  { maxTokens, logprobs, topLogprobs }: { maxTokens: number; logprobs: boolean; topLogprobs: number },
): BaseChatModel {
  const overrides: Record<string, unknown> = { maxTokens };
  if (logprobs && "logprobs" in model) {
    overrides.logprobs = true;
    if (topLogprobs > 0) overrides.topLogprobs = topLogprobs;
  }
  return rebuiltWith(model, overrides) ?? model;
}

/** A chat model that counts its own prompt tokens exactly (`LlamaCppChatModel` does). */
interface SelfCountingModel {
  countPromptTokens(messages: readonly BaseMessage[]): Promise<number>;
}

/** The model's own prompt counter, bound to it, or `undefined` when it has none. */
function ownCounter(model: BudgetableModel): SelfCountingModel["countPromptTokens"] | undefined {
  const inner = innerModel(model) as Partial<SelfCountingModel>;
  return typeof inner.countPromptTokens === "function" ? inner.countPromptTokens.bind(inner) : undefined;
}

/**
 * True when the model counts its own prompt tokens (`countPromptTokens`, as the local llama.cpp
 * model does), so {@link promptTokensOf} is worth awaiting for it.
 *
 * @example
 * ```ts
 * countsOwnPrompt(new ChatOpenAI({ model: "gpt-4o-mini" })); // false
 * countsOwnPrompt(new LlamaCppChatModel({ modelPath, runtime })); // true
 * ```
 */
export function countsOwnPrompt(model: BudgetableModel): boolean {
  return ownCounter(model) !== undefined;
}

/**
 * The prompt tokens to reserve for `model` on `messages`: js-tiktoken's count, or — for a model that
 * counts its own prompt (`countPromptTokens`, as the local llama.cpp model does) — the larger of the
 * two. A tiktoken count is a fair estimate for hosted models but undercounts a small-vocabulary local
 * model several times over, and a budget reservation below the real prompt lets the settled spend
 * pass the budget; the larger of the two is never below either. A count that fails (e.g. the model
 * fails to load) falls back to tiktoken's: the call fails too, and is handled there.
 *
 * @example
 * ```ts
 * const reserve = (await promptTokensOf(model, messages)) + maxOutputTokens;
 * ```
 */
export async function promptTokensOf(model: BudgetableModel, messages: readonly BaseMessage[]): Promise<number> {
  const estimate = countMessageTokens(messages, modelName(model));
  const counter = ownCounter(model);
  if (counter === undefined) return estimate;
  const own = await counter(messages).catch(() => undefined);
  return own === undefined ? estimate : Math.max(own, estimate);
}
