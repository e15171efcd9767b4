/**
 * `ModelCallWatcher`: what one model call left behind when it was aborted — the evidence
 * `tokenBudgetMiddleware` settles it on (docs/budgets.md, "What is billed and what is settled").
 *
 * A LangChain callback handler added to the callbacks of the call: the request's model is handed
 * on as {@link ModelCallWatcher.watch} wraps it — the same model, whose `bindTools(...)` result
 * (what the agent invokes) adds the watcher to its `invoke` options. (Constructor or `bindTools`
 * callbacks would not do: `ChatOpenAI` lets a run's callbacks replace those it was bound with.)
 * It follows the first chat-model run of the call and records:
 * - whether that run started with its signal already aborted (the request never left: a model that
 *   honours its signal — `ChatOpenAI` does — sends nothing);
 * - the chunks it streamed (`handleLLMNewToken`, or the content-block events of the v3 stream protocol);
 * - how it ended: its reply (`handleLLMEnd`, also a reply that comes after the caller gave up), or
 *   nothing (`handleLLMError`).
 *
 * Read top to bottom: the handler, then what it tells the middleware.
 */
import {
  BaseCallbackHandler,
  type HandleLLMNewTokenCallbackFields,
  type NewTokenIndices,
} from "@langchain/core/callbacks/base";
import type { ChatModelStreamEvent } from "@langchain/core/language_models/event";
import { AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import type { ChatGeneration, LLMResult } from "@langchain/core/outputs";
import type { RunnableConfig } from "@langchain/core/runnables";
import { countTextTokens, type Usage, usageFromMessage } from "../budget/index.js";

/** How the watched run ended: its reply, or `undefined` when it failed (or was aborted). */
type RunEnd = BaseMessage | undefined;

/**
 * Watches one model call: pass `watcher.watch(model)` as the request's model.
 *
 * @example
 * ```ts
 * const watcher = new ModelCallWatcher(request.runtime.signal);
 * try {
 *   return await handler({ ...request, model: watcher.watch(request.model) });
 * } catch (error) {
 *   const late = watcher.lateUsage("gpt-4o-mini", 900); // the reply's usage, if one comes
 *   watcher.sent(); // false: the run started with its signal aborted
 *   watcher.streamedUsage("gpt-4o-mini", 900); // prompt + the output tokens received, for a stream
 * }
 * ```
 */
export class ModelCallWatcher extends BaseCallbackHandler {
  readonly name = "GavelModelCallWatcher";
  readonly #signal: AbortSignal | undefined;
  /** The watched run: the first chat-model run of the call (an auction router's member calls are its children). */
  #runId: string | undefined;
  #startedAborted = false;
  /** The chunks streamed (`handleLLMNewToken`), merged only if the call is abandoned (`streamedUsage`). */
  readonly #chunks: AIMessageChunk[] = [];
  /** The text and usage of the v3 stream protocol's events. */
  #eventText = "";
  #eventUsage: { input_tokens?: number; output_tokens?: number } = {};
  #endRun: (end: RunEnd) => void = () => undefined;
  /** Resolves when the watched run ends; never when no run starts (a model that drops `modelSettings`). */
  readonly ended: Promise<RunEnd>;

  constructor(signal: AbortSignal | undefined) {
    // Awaited: the record is made before the model goes on (a start is seen before its request leaves).
    super({ _awaitHandler: true });
    this.#signal = signal;
    this.ended = new Promise<RunEnd>((resolve) => {
      this.#endRun = resolve;
    });
  }

  /**
   * `model` for this call: the same model (every property and method its own), except that what
   * its `bindTools` returns, and its own `invoke`, add this watcher to the callbacks of each call.
   */
  watch<Model extends object>(model: Model): Model {
    return withMethods(model, {
      bindTools: (...args: unknown[]) => {
        const bound = (model as { bindTools(...args: unknown[]): unknown }).bindTools(...args);
        return typeof bound === "object" && bound !== null ? this.#watchInvoke(bound) : bound;
      },
      ...this.#invokeOverride(model),
    });
  }

  #watchInvoke<Runnable extends object>(runnable: Runnable): Runnable {
    return withMethods(runnable, this.#invokeOverride(runnable));
  }

  #invokeOverride(runnable: object): Record<string, (...args: never[]) => unknown> {
    const invoke = (runnable as { invoke?: unknown }).invoke;
    if (typeof invoke !== "function") return {};
    return {
      invoke: (input: unknown, options?: RunnableConfig) => invoke.call(runnable, input, this.#withWatcher(options)),
    };
  }

  /** `options` with this watcher added to their callbacks (a manager is copied, not changed). */
  #withWatcher(options: RunnableConfig | undefined): RunnableConfig {
    const callbacks = options?.callbacks;
    if (callbacks === undefined) return { ...options, callbacks: [this] };
    if (Array.isArray(callbacks)) return { ...options, callbacks: [...callbacks, this] };
    const manager = callbacks.copy();
    manager.addHandler(this, true);
    return { ...options, callbacks: manager };
  }

  // -------------------------------------------------------------------------
  // The handler
  // -------------------------------------------------------------------------

  override handleChatModelStart(_model: unknown, _messages: BaseMessage[][], runId: string): void {
    if (this.#runId !== undefined) return;
    this.#runId = runId;
    this.#startedAborted = this.#signal?.aborted === true;
  }

  override handleLLMNewToken(
    _token: string,
    _index: NewTokenIndices,
    runId: string,
    _parentRunId?: string,
    _tags?: string[],
    fields?: HandleLLMNewTokenCallbackFields,
  ): void {
    if (runId !== this.#runId) return;
    const chunk = fields?.chunk;
    const message = chunk !== undefined && "message" in chunk ? chunk.message : undefined;
    if (!AIMessageChunk.isInstance(message)) return;
    this.#chunks.push(message);
  }

  override handleChatModelStreamEvent(event: ChatModelStreamEvent, runId: string): void {
    if (runId !== this.#runId) return;
    if (event.event === "content-block-delta") {
      const { delta } = event;
      if (delta.type === "text-delta") this.#eventText += delta.text;
      else if (delta.type === "reasoning-delta") this.#eventText += delta.reasoning;
      else if (delta.type === "tool-call-delta") this.#eventText += delta.args;
    } else if ((event.event === "usage" || event.event === "message-finish") && event.usage) {
      const { input_tokens, output_tokens } = event.usage;
      if (input_tokens !== undefined) this.#eventUsage.input_tokens = input_tokens;
      if (output_tokens !== undefined) this.#eventUsage.output_tokens = output_tokens;
    }
  }

  override handleLLMEnd(output: LLMResult, runId: string): void {
    if (runId !== this.#runId) return;
    this.#endRun((output.generations[0]?.[0] as ChatGeneration | undefined)?.message);
  }

  override handleLLMError(_error: unknown, runId: string): void {
    if (runId === this.#runId) this.#endRun(undefined);
  }

  // -------------------------------------------------------------------------
  // What it tells
  // -------------------------------------------------------------------------

  /**
   * The usage of the reply, when the run ends with one (a model that ignored its abort still
   * delivers it); `undefined` when it fails. A reply without reported usage is counted: `inputTokens`
   * (the prompt as the middleware counted it) + its output, marked estimated.
   */
  lateUsage(model: string, inputTokens: number): Promise<Usage | undefined> {
    return this.ended.then((reply) =>
      reply === undefined ? undefined : withPrompt(usageFromMessage(reply, [], model), inputTokens),
    );
  }

  /** False when the request never left: the run started with its signal already aborted. True otherwise (or unknown). */
  sent(): boolean {
    return !(this.#runId !== undefined && this.#startedAborted);
  }

  /**
   * What a streamed call received before it was abandoned: the provider's usage when its usage chunk
   * came, else `inputTokens` + the output tokens of the chunks, marked estimated; `undefined` when
   * nothing streamed (a non-streamed call, or a stream abandoned before its first chunk).
   */
  streamedUsage(model: string, inputTokens: number): Usage | undefined {
    const [first, ...rest] = this.#chunks;
    if (first !== undefined) {
      const merged = rest.reduce((message, chunk) => message.concat(chunk), first);
      return withPrompt(usageFromMessage(merged, [], model), inputTokens);
    }
    const { input_tokens, output_tokens } = this.#eventUsage;
    if (this.#eventText.length === 0 && output_tokens === undefined) return undefined;
    if (input_tokens !== undefined && output_tokens !== undefined) {
      return { inputTokens: input_tokens, outputTokens: output_tokens, estimated: false };
    }
    return { inputTokens, outputTokens: output_tokens ?? countTextTokens(this.#eventText, model), estimated: true };
  }
}

/** `usage`, with the middleware's prompt count when the usage was estimated (no prompt was given to count). */
export function withPrompt(usage: Usage, inputTokens: number): Usage {
  return usage.estimated ? { ...usage, inputTokens } : usage;
}

/**
 * `target` seen through a proxy whose `methods` replace its own; every other method is called on
 * `target` itself (so its private fields work) and every other property read from it.
 */
function withMethods<Target extends object>(target: Target, methods: Record<string, unknown>): Target {
  return new Proxy(target, {
    get(object, property) {
      if (typeof property === "string" && Object.hasOwn(methods, property)) return methods[property];
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === "function" && property !== "constructor" ? value.bind(object) : value;
    },
  });
}
