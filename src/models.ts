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
 * The model the agent is about to call, as a chat model or a binding around one; `undefined`
 * when it is neither (a custom runnable: the middleware still budgets it, by name "unknown").
 */
export async function resolveModel(model: unknown): Promise<BudgetableModel | undefined> {
  if (isChatModel(model)) return model;
  if (RunnableBinding.isRunnableBinding(model) && isChatModel(model.bound))
    return model as RunnableBinding<unknown, unknown>;
  const configurable = model as { _getModelInstance?: () => Promise<unknown> } | null;
  if (typeof configurable?._getModelInstance === "function") {
    const instance = await configurable._getModelInstance();
    return isChatModel(instance) ? instance : undefined;
  }
  return undefined;
}

/** The chat model inside a binding, or the model itself. */
function innerModel(model: BudgetableModel): BaseChatModel {
  return RunnableBinding.isRunnableBinding(model) ? (model.bound as BaseChatModel) : model;
}

/** LangSmith parameters of a model; `{}` when the model cannot produce them without call options. */
function lsParams(model: BaseChatModel): { ls_model_name?: unknown; ls_max_tokens?: unknown } {
  try {
    return model.getLsParams({} as never) ?? {};
  } catch {
    return {};
  }
}

function positiveInteger(value: unknown): number | undefined {
  return typeof value === "number" && Number.isInteger(value) && value > 0 ? value : undefined;
}

/**
 * The model's name: its LangSmith `ls_model_name`, else its `model` / `modelName` field, else
 * its LLM type (e.g. `"scripted"`).
 */
export function modelName(model: BudgetableModel): string {
  const chat = innerModel(model);
  const fromParams = lsParams(chat).ls_model_name;
  if (typeof fromParams === "string" && fromParams.length > 0) return fromParams;
  const fields = chat as unknown as { model?: unknown; modelName?: unknown };
  if (typeof fields.model === "string" && fields.model.length > 0) return fields.model;
  if (typeof fields.modelName === "string" && fields.modelName.length > 0) return fields.modelName;
  return chat._llmType();
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
