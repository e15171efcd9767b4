/**
 * Token counting with a real tokenizer (js-tiktoken, whose ranks ship inside
 * the npm package: pure CPU, no network), and the usage of a model call.
 *
 * - `o200k_base` (GPT-4o, GPT-4.1, o-series, GPT-5) is the default encoding;
 *   `cl100k_base` is used for `gpt-3.5*` and `gpt-4` / `gpt-4-turbo` names.
 *   For non-OpenAI models the count is an estimate of their own tokenizer.
 * - Messages are counted like OpenAI's cookbook: 3 tokens per message, 1 per
 *   `name`, 3 to prime the reply.
 */
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import { Tiktoken } from "js-tiktoken/lite";
import cl100k_base from "js-tiktoken/ranks/cl100k_base";
import o200k_base from "js-tiktoken/ranks/o200k_base";
import type { Usage } from "./types.js";

/** The tokenizer encodings Gavel counts with. */
export type EncodingName = "o200k_base" | "cl100k_base";

/** Tokens added per message by the chat format (OpenAI cookbook, gpt-3.5-turbo-0613 and later). */
export const TOKENS_PER_MESSAGE = 3;
/** Tokens added when a message carries a `name`. */
export const TOKENS_PER_NAME = 1;
/** Tokens that prime the assistant's reply (`<|start|>assistant<|message|>`). */
export const REPLY_PRIMING_TOKENS = 3;
/**
 * Tokens counted for one image or other binary block (its bytes are not
 * tokenized). OpenAI charges 85–1,105 for a high-detail image up to
 * 2048×2048 after scaling; Anthropic ≈ width·height/750, at most ≈ 1,600.
 * The larger figure keeps reservations an upper bound.
 */
export const IMAGE_TOKEN_ESTIMATE = 1_600;

/** A plain chat message, OpenAI style. */
export interface RoleMessage {
  role: string;
  content: string | unknown[] | null;
  name?: string;
  tool_calls?: unknown[];
}

// Building an encoder parses its rank file (≈ 0.2 s for cl100k, ≈ 0.45 s for
// o200k), so each is built once, on first use, and shared. The encoders are
// immutable once built: this memo holds no state that could change a result.
function once<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= create();
    return value;
  };
}
const ENCODERS: Record<EncodingName, () => Tiktoken> = {
  o200k_base: once(() => new Tiktoken(o200k_base)),
  cl100k_base: once(() => new Tiktoken(cl100k_base)),
};

/**
 * The encoding used for `model`: `cl100k_base` for `gpt-3.5*`, `gpt-4`,
 * `gpt-4-32k`, `gpt-4-turbo`, `gpt-4-*-preview` and `text-embedding-*`,
 * `o200k_base` for everything else. An encoding name passed as `model` is used as is.
 *
 * @example
 * ```ts
 * encodingForModel("gpt-3.5-turbo"); // "cl100k_base"
 * encodingForModel("openai/gpt-4o-mini"); // "o200k_base"
 * ```
 */
export function encodingForModel(model?: string): EncodingName {
  if (model === undefined) return "o200k_base";
  if (model === "cl100k_base" || model === "o200k_base") return model;
  const name = model.toLowerCase().slice(model.lastIndexOf("/") + 1);
  if (/^(?:gpt-3\.5|gpt-35|text-embedding-|gpt-4(?:$|-))/.test(name)) return "cl100k_base";
  return "o200k_base";
}

/**
 * Number of tokens in `text` for `model` (see {@link encodingForModel}).
 * Special-token strings such as `<|endoftext|>` are counted as ordinary text.
 *
 * @example
 * ```ts
 * countTextTokens("hello world"); // 2
 * countTextTokens("hello world", "gpt-3.5-turbo"); // 2 (cl100k_base)
 * ```
 */
export function countTextTokens(text: string, model?: string): number {
  if (text.length === 0) return 0;
  return ENCODERS[encodingForModel(model)]().encode(text, [], []).length;
}

/** Tokens of `value` serialized as JSON (tool calls, tool schemas, structured content). */
export function countJsonTokens(value: unknown, model?: string): number {
  if (value === undefined || value === null) return 0;
  return countTextTokens(JSON.stringify(value) ?? "", model);
}

/** Tool schema counts by encoding and tool object: a tool is counted once per encoding. */
const toolCounts = new Map<EncodingName, WeakMap<object, number>>();

/**
 * Prompt tokens the schemas of `tools` add to a call of `model`: each tool as the provider receives
 * it (OpenAI's function format, as JSON; an object that does not convert is counted as its own JSON),
 * counted once per tool object and encoding. Anything that is not an object counts 0.
 *
 * @example
 * ```ts
 * countToolTokens([searchTool], "gpt-4o-mini"); // e.g. 48
 * ```
 */
export function countToolTokens(tools: readonly unknown[], model?: string): number {
  if (tools.length === 0) return 0;
  const encoding = encodingForModel(model);
  let counts = toolCounts.get(encoding);
  if (counts === undefined) {
    counts = new WeakMap();
    toolCounts.set(encoding, counts);
  }
  let total = 0;
  for (const tool of tools) {
    if (typeof tool !== "object" || tool === null) continue;
    let count = counts.get(tool);
    if (count === undefined) {
      count = toolSchemaTokens(tool, encoding);
      counts.set(tool, count);
    }
    total += count;
  }
  return total;
}

function toolSchemaTokens(tool: object, encoding: EncodingName): number {
  try {
    return countJsonTokens(convertToOpenAITool(tool as Parameters<typeof convertToOpenAITool>[0]), encoding);
  } catch {
    try {
      return countJsonTokens(tool, encoding);
    } catch {
      return 0;
    }
  }
}

/**
 * Tokens of a message's content: strings as text; content blocks as their
 * text, images/audio/files as {@link IMAGE_TOKEN_ESTIMATE}, anything else as JSON.
 */
export function countContentTokens(content: unknown, model?: string): number {
  if (content === undefined || content === null) return 0;
  if (typeof content === "string") return countTextTokens(content, model);
  if (!Array.isArray(content)) return countJsonTokens(content, model);
  let tokens = 0;
  for (const block of content) {
    if (typeof block === "string") tokens += countTextTokens(block, model);
    else if (isBinaryBlock(block)) tokens += IMAGE_TOKEN_ESTIMATE;
    else if (isTextBlock(block)) tokens += countTextTokens(block.text, model);
    else tokens += countJsonTokens(block, model);
  }
  return tokens;
}

/**
 * Prompt tokens of a list of messages (LangChain messages or `{ role, content }`
 * objects), with the chat format's per-message overhead: per message
 * {@link TOKENS_PER_MESSAGE} + role + content + tool calls (as JSON) + name
 * ({@link TOKENS_PER_NAME} + its tokens), plus {@link REPLY_PRIMING_TOKENS}
 * once. Matches OpenAI's `num_tokens_from_messages` for text messages.
 * Tools bound to the model are not messages: add {@link countJsonTokens} of their schemas.
 *
 * @example
 * ```ts
 * import { HumanMessage, SystemMessage } from "@langchain/core/messages";
 * countMessageTokens([new SystemMessage("Be brief."), new HumanMessage("hello world")], "gpt-4o"); // 16
 * ```
 */
export function countMessageTokens(messages: ReadonlyArray<BaseMessage | RoleMessage>, model?: string): number {
  let tokens = REPLY_PRIMING_TOKENS;
  for (const message of messages) {
    tokens += TOKENS_PER_MESSAGE;
    tokens += countTextTokens(roleOf(message), model);
    tokens += countContentTokens(message.content, model);
    const toolCalls = "tool_calls" in message ? message.tool_calls : undefined;
    if (Array.isArray(toolCalls) && toolCalls.length > 0) tokens += countJsonTokens(toolCalls, model);
    if (typeof message.name === "string" && message.name.length > 0) {
      tokens += TOKENS_PER_NAME + countTextTokens(message.name, model);
    }
  }
  return tokens;
}

/** The fields of a model's reply that usage is read from (an `AIMessage` or `AIMessageChunk` has them). */
export type UsageSource = Pick<AIMessage, "content" | "usage_metadata" | "tool_calls">;

/**
 * Usage of one call: the provider's `usage_metadata` when present (and not all
 * zeros for a non-empty reply), otherwise counted with js-tiktoken —
 * `prompt` with {@link countMessageTokens}, the reply's content and tool calls
 * without overhead — and marked `estimated: true`. Hidden reasoning tokens
 * cannot be estimated: without `usage_metadata` they are missing from the count.
 *
 * @example
 * ```ts
 * import { AIMessage, HumanMessage } from "@langchain/core/messages";
 * const prompt = [new HumanMessage("hello world")];
 * usageFromMessage(new AIMessage({ content: "Hi!", usage_metadata: { input_tokens: 9, output_tokens: 2, total_tokens: 11 } }), prompt);
 * // { inputTokens: 9, outputTokens: 2, estimated: false }
 * usageFromMessage(new AIMessage("Hi!"), prompt, "gpt-4o");
 * // { inputTokens: 9, outputTokens: 2, estimated: true }
 * ```
 */
export function usageFromMessage(
  message: UsageSource,
  prompt: ReadonlyArray<BaseMessage | RoleMessage>,
  model?: string,
): Usage {
  const outputEstimate = () => countOutputTokens(message, model);
  const reported = message.usage_metadata;
  if (reported && isCount(reported.input_tokens) && isCount(reported.output_tokens)) {
    const allZero = reported.input_tokens === 0 && reported.output_tokens === 0;
    if (!allZero || outputEstimate() === 0) {
      return { inputTokens: reported.input_tokens, outputTokens: reported.output_tokens, estimated: false };
    }
  }
  return { inputTokens: countMessageTokens(prompt, model), outputTokens: outputEstimate(), estimated: true };
}

/** Tokens a reply generated, as far as its content and tool calls show. */
export function countOutputTokens(message: Pick<UsageSource, "content" | "tool_calls">, model?: string): number {
  const toolCalls = message.tool_calls ?? [];
  const calls = toolCalls.map(({ name, args }) => ({ name, args }));
  return countContentTokens(message.content, model) + (calls.length > 0 ? countJsonTokens(calls, model) : 0);
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

const ROLE_OF_TYPE: Record<string, string> = { human: "user", ai: "assistant", system: "system", tool: "tool" };

/** OpenAI-style role of a LangChain message or a plain `{ role }` object, as `countMessageTokens` counts it. */
export function roleOf(message: BaseMessage | RoleMessage): string {
  if ("role" in message && typeof message.role === "string") return message.role;
  const type = "type" in message && typeof message.type === "string" ? message.type : "user";
  return ROLE_OF_TYPE[type] ?? type;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function isTextBlock(block: unknown): block is { type: string; text: string } {
  return typeof block === "object" && block !== null && typeof (block as { text?: unknown }).text === "string";
}

const BINARY_BLOCK_TYPES = new Set(["image", "image_url", "input_image", "audio", "input_audio", "file", "video"]);

function isBinaryBlock(block: unknown): boolean {
  return (
    typeof block === "object" &&
    block !== null &&
    BINARY_BLOCK_TYPES.has(String((block as { type?: unknown }).type)) &&
    !isTextBlock(block)
  );
}
