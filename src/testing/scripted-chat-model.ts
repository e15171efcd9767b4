/**
 * `ScriptedChatModel`: a deterministic stand-in chat model for tests and offline demos.
 *
 * It is NOT a language model. It answers from a script (an array of replies, or a function of
 * the call), records every call it receives, reports `usage_metadata` like a real provider
 * (counted with the real tokenizer unless the script says otherwise), honours `maxTokens` the
 * way a provider honours `max_tokens`, and supports `bindTools`, so `createAgent` can drive it
 * through a real tool-calling loop. Nothing it produces may stand behind a reported figure.
 */
import type { CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import type {
  BaseChatModelCallOptions,
  BaseChatModelParams,
  BindToolsInput,
} from "@langchain/core/language_models/chat_models";
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessage, UsageMetadata } from "@langchain/core/messages";
import { AIMessage, AIMessageChunk } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { ChatGenerationChunk } from "@langchain/core/outputs";
import { countMessageTokens, countTextTokens } from "../budget/index.js";

/** One scripted tool call. `id` defaults to `call_<call index>_<position>`. */
export interface ScriptedToolCall {
  name: string;
  args: Record<string, unknown>;
  id?: string;
}

/** A scripted turn, spelled out. */
export interface ScriptedTurn {
  /** Text of the answer. Default `""`. */
  content?: string;
  /** Tool calls of the answer. */
  toolCalls?: ScriptedToolCall[];
  /**
   * Usage to report. Omitted: counted with the tokenizer (prompt and answer). `null`: report no
   * usage at all, like a provider that returns none.
   */
  usage?: { inputTokens: number; outputTokens: number } | null;
  /** Throw this error instead of answering (the call is still recorded). */
  error?: Error;
}

/** What a script may return for one call: plain text, a ready `AIMessage`, or a `ScriptedTurn`. */
export type ScriptedReply = string | AIMessage | ScriptedTurn;

/** One call the model received. */
export interface ScriptedCall {
  /** 0-based position of the call among all calls of its recorder (this model, its copies, any model sharing it). */
  index: number;
  /** The messages the model was called with (system prompt included). */
  messages: BaseMessage[];
  /** Names of the tools bound for this call. */
  toolNames: string[];
  /** The output cap in force for this call, if any. */
  maxTokens: number | undefined;
}

/** A script as a function of the call. */
export type ScriptedResponder = (call: ScriptedCall) => ScriptedReply | Promise<ScriptedReply>;

/**
 * Calls and script position, shared by a model and every copy made from its fields (for
 * example the capped copy `tokenBudgetMiddleware` makes of a model that has no `maxTokens`).
 *
 * @example
 * ```ts
 * const recorder = createScriptedRecorder();
 * const small = new ScriptedChatModel({ model: "gpt-4o-mini", replies: ["small"], recorder });
 * const large = new ScriptedChatModel({ model: "gpt-4o", replies: ["large"], recorder });
 * await small.invoke("a");
 * await large.invoke("b");
 * recorder.calls.length; // 2, both models' calls in order
 * ```
 */
export class ScriptedRecorder {
  /** Every call received so far, in order (unless the model was built with `recordCalls: false`). */
  readonly calls: ScriptedCall[] = [];
  /** Number of calls received so far. */
  callCount = 0;
  /** Position in each array script (a model and its copies share their script array). */
  readonly #positions = new WeakMap<readonly ScriptedReply[], number>();

  /** The next reply of `script`, or `undefined` when it is used up; advances the position. */
  takeReply(script: readonly ScriptedReply[]): ScriptedReply | undefined {
    const position = this.#positions.get(script) ?? 0;
    const reply = script[position];
    if (reply !== undefined) this.#positions.set(script, position + 1);
    return reply;
  }
}

/**
 * Create a {@link ScriptedRecorder}: pass it to several `ScriptedChatModel`s to see all their calls
 * in order and share one script position.
 *
 * @example
 * ```ts
 * const recorder = createScriptedRecorder();
 * const model = new ScriptedChatModel({ model: "gpt-4o-mini", replies: ["hi"], recorder });
 * ```
 */
export function createScriptedRecorder(): ScriptedRecorder {
  return new ScriptedRecorder();
}

/** Constructor fields of {@link ScriptedChatModel}. */
export interface ScriptedChatModelFields extends BaseChatModelParams {
  /** The script: replies consumed in order, or a function of the call. */
  replies: ScriptedReply[] | ScriptedResponder;
  /** Model name reported to LangSmith and price tables. Default `"scripted"`. */
  model?: string;
  /** Output cap, like a provider's `max_tokens`: reported output tokens never exceed it. */
  maxTokens?: number;
  /**
   * When true the model ignores its cap and reports the full output, like a provider that does
   * not honour `max_tokens`. For testing overrun handling. Default false.
   */
  ignoreMaxTokens?: boolean;
  /** Shared record of calls; pass one to observe several models together. */
  recorder?: ScriptedRecorder;
  /** Keep every call in `calls` (default true). Turn off for long benchmark loops. */
  recordCalls?: boolean;
}

/** Call options: the cap can also be given per call. */
export interface ScriptedChatModelCallOptions extends BaseChatModelCallOptions {
  maxTokens?: number;
  tools?: BindToolsInput[];
}

/**
 * A scripted chat model for tests and offline demos. Answers come from `replies`; every call is
 * recorded in `calls`. Usage is reported as `usage_metadata` (tokenizer counts unless scripted;
 * `usage: null` reports none), and the output is capped at `maxTokens`.
 *
 * @example
 * ```ts
 * import { createAgent, tool } from "langchain";
 * import { z } from "zod";
 * import { ScriptedChatModel } from "langchain-gavel/testing";
 *
 * const model = new ScriptedChatModel({
 *   model: "gpt-4o-mini",
 *   maxTokens: 256,
 *   replies: [
 *     { toolCalls: [{ name: "add", args: { a: 2, b: 3 } }] },
 *     "2 + 3 = 5",
 *   ],
 * });
 * const add = tool(async ({ a, b }) => String(a + b), {
 *   name: "add",
 *   description: "Add two numbers",
 *   schema: z.object({ a: z.number(), b: z.number() }),
 * });
 * const agent = createAgent({ model, tools: [add] });
 * const result = await agent.invoke({ messages: [{ role: "user", content: "2 + 3?" }] });
 * console.log(result.messages.at(-1)?.content, model.calls.length); // "2 + 3 = 5" 2
 * ```
 */
export class ScriptedChatModel extends BaseChatModel<ScriptedChatModelCallOptions, AIMessageChunk> {
  static override lc_name(): string {
    return "ScriptedChatModel";
  }

  readonly model: string;
  readonly maxTokens: number | undefined;
  readonly ignoreMaxTokens: boolean;
  readonly recordCalls: boolean;
  readonly recorder: ScriptedRecorder;
  readonly #replies: ScriptedReply[] | ScriptedResponder;

  constructor(fields: ScriptedChatModelFields) {
    const recorder = fields.recorder ?? createScriptedRecorder();
    // The recorder goes into the constructor fields (`lc_kwargs`), so a copy rebuilt from them shares it.
    super({ ...fields, recorder } as ScriptedChatModelFields);
    const { replies, model = "scripted", maxTokens, ignoreMaxTokens = false, recordCalls = true } = fields;
    this.#replies = replies;
    this.model = model;
    this.maxTokens = maxTokens;
    this.ignoreMaxTokens = ignoreMaxTokens;
    this.recordCalls = recordCalls;
    this.recorder = recorder;
  }

  /** Every call received so far (shared with copies built from the same fields). */
  get calls(): ScriptedCall[] {
    return this.recorder.calls;
  }

  _llmType(): string {
    return "scripted";
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return {
      ls_provider: "scripted",
      ls_model_name: this.model,
      ls_model_type: "chat" as const,
      ls_max_tokens: options?.maxTokens ?? this.maxTokens,
      ls_stop: options?.stop,
    };
  }

  override bindTools(tools: BindToolsInput[], kwargs?: Partial<ScriptedChatModelCallOptions>) {
    return this.withConfig({ ...kwargs, tools } as Partial<ScriptedChatModelCallOptions>);
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    _runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const message = await this.#answer(messages, options);
    return { generations: [{ text: message.text, message }] };
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const message = await this.#answer(messages, options);
    const chunk = new ChatGenerationChunk({
      text: message.text,
      message: new AIMessageChunk({
        content: message.content,
        id: message.id,
        tool_call_chunks: message.tool_calls?.map((call, position) => ({
          type: "tool_call_chunk" as const,
          id: call.id,
          name: call.name,
          args: JSON.stringify(call.args),
          index: position,
        })),
        usage_metadata: message.usage_metadata,
        response_metadata: message.response_metadata,
      }),
    });
    await runManager?.handleLLMNewToken(message.text, undefined, undefined, undefined, undefined, { chunk });
    yield chunk;
  }

  async #answer(messages: BaseMessage[], options: this["ParsedCallOptions"]): Promise<AIMessage> {
    const maxTokens = options?.maxTokens ?? this.maxTokens;
    const call: ScriptedCall = {
      index: this.recorder.callCount,
      messages: [...messages],
      toolNames: (options?.tools ?? []).map(toolName),
      maxTokens,
    };
    this.recorder.callCount += 1;
    if (this.recordCalls) this.recorder.calls.push(call);
    const reply = await this.#nextReply(call);
    return this.#toMessage(reply, call);
  }

  async #nextReply(call: ScriptedCall): Promise<ScriptedReply> {
    if (typeof this.#replies === "function") return this.#replies(call);
    const reply = this.recorder.takeReply(this.#replies);
    if (reply === undefined) {
      throw new Error(
        `ScriptedChatModel "${this.model}" ran out of replies: ${this.#replies.length} scripted, call #${call.index + 1} received.`,
      );
    }
    return reply;
  }

  #toMessage(reply: ScriptedReply, call: ScriptedCall): AIMessage {
    if (AIMessage.isInstance(reply)) return reply;
    const turn: ScriptedTurn = typeof reply === "string" ? { content: reply } : reply;
    if (turn.error) throw turn.error;
    const content = turn.content ?? "";
    const toolCalls = (turn.toolCalls ?? []).map((toolCall, position) => ({
      type: "tool_call" as const,
      id: toolCall.id ?? `call_${call.index}_${position}`,
      name: toolCall.name,
      args: toolCall.args,
    }));
    const usage =
      turn.usage === null
        ? undefined
        : (turn.usage ?? {
            inputTokens: countMessageTokens(call.messages, this.model),
            outputTokens: countTextTokens(
              content + toolCalls.map((toolCall) => JSON.stringify(toolCall)).join(""),
              this.model,
            ),
          });
    const capped =
      usage !== undefined &&
      call.maxTokens !== undefined &&
      !this.ignoreMaxTokens &&
      usage.outputTokens > call.maxTokens;
    const outputTokens = usage === undefined ? 0 : capped ? (call.maxTokens ?? 0) : usage.outputTokens;
    const usageMetadata: UsageMetadata | undefined =
      usage === undefined
        ? undefined
        : {
            input_tokens: usage.inputTokens,
            output_tokens: outputTokens,
            total_tokens: usage.inputTokens + outputTokens,
          };
    return new AIMessage({
      content,
      tool_calls: toolCalls,
      usage_metadata: usageMetadata,
      response_metadata: {
        model_name: this.model,
        finish_reason: capped ? "length" : toolCalls.length > 0 ? "tool_calls" : "stop",
      },
    });
  }
}

function toolName(tool: BindToolsInput): string {
  if (typeof tool === "object" && tool !== null) {
    if ("name" in tool && typeof tool.name === "string") return tool.name;
    if ("function" in tool && typeof tool.function === "object" && tool.function !== null && "name" in tool.function) {
      return String(tool.function.name);
    }
  }
  return "unknown";
}
