/**
 * Token counting with a real tokenizer (js-tiktoken, whose ranks ship inside
 * the npm package: pure CPU, no network), and the usage of a model call.
 *
 * - `o200k_base` (GPT-4o, GPT-4.1, o-series, GPT-5) is the default encoding;
 *   `cl100k_base` is used for `gpt-3.5*` and `gpt-4` / `gpt-4-turbo` names.
 *   For non-OpenAI models the count is an estimate of their own tokenizer.
 * - Messages are counted like OpenAI's cookbook: 3 tokens per message, 1 per
 *   `name`, 3 to prime the reply.
 * - `PromptTokenCounter` is the one counter that remembers what it counted (texts, messages, tool
 *   schemas): the middleware's and the router's prompt counts go through it, with the same results
 *   as the functions here.
 *
 * Read top to bottom: the encodings, the counting functions, usage of a call, the counter, helpers.
 */
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import { Tiktoken, type TiktokenBPE } from "js-tiktoken/lite";
import { requirePeer } from "../peers.js";
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
 *
 * @example
 * ```ts
 * countContentTokens([{ type: "image_url", image_url: { url: "https://example.com/cat.png" } }]) === IMAGE_TOKEN_ESTIMATE; // true (1600)
 * ```
 */
export const IMAGE_TOKEN_ESTIMATE = 1_600;

/** A plain chat message, OpenAI style. */
export interface RoleMessage {
  role: string;
  content: string | unknown[] | null;
  name?: string;
  tool_calls?: unknown[];
}

// The rank files (3.4 MB of JavaScript, ≈ 70 ms to load) are required on first use, not on import,
// and building an encoder parses its ranks (≈ 0.2 s for cl100k, ≈ 0.45 s for o200k), so each
// encoding's counter is built once and shared. What a counter remembers (piece counts) never
// changes a result.
function once<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= create();
    return value;
  };
}
function ranksOf(encoding: EncodingName): TiktokenBPE {
  return requirePeer<TiktokenBPE>(`js-tiktoken/ranks/${encoding}`, "token counting");
}

/** Most pieces a {@link PieceCounter} remembers (short strings: a few MB at most); then it starts over. */
const PIECE_CACHE_LIMIT = 100_000;

/**
 * Counts a text as js-tiktoken's `encode(text, [], []).length` does, remembering the count of each
 * piece. `encode` splits a text into pieces with the encoding's pattern and encodes each piece on its
 * own (byte-pair merges never cross a piece), so the count is the sum over the pieces; but each
 * `encode` call compiles the pattern again and builds a byte key per piece (≈ 70 µs for a 60-token
 * plan), while a remembered piece costs one map lookup. A piece is remembered only when the pattern,
 * run on the piece alone, takes it whole (so `encode(piece)` counts exactly that piece); a text with
 * a piece that splits otherwise alone is counted by `encode` in one go.
 */
class PieceCounter {
  readonly #encoder: Tiktoken;
  /** The pattern `encode` splits with (global, to walk a text). */
  readonly #pieces: RegExp;
  /** The same pattern, sticky: whether a piece alone is one piece. */
  readonly #whole: RegExp;
  readonly #counts = new Map<string, number>();

  constructor(ranks: TiktokenBPE) {
    this.#encoder = new Tiktoken(ranks);
    this.#pieces = new RegExp(ranks.pat_str, "gu");
    this.#whole = new RegExp(ranks.pat_str, "uy");
  }

  count(text: string): number {
    const pieces = this.#pieces;
    pieces.lastIndex = 0;
    let total = 0;
    for (let match = pieces.exec(text); match !== null; match = pieces.exec(text)) {
      const piece = match[0];
      if (piece.length === 0) {
        pieces.lastIndex += 1;
        continue;
      }
      const known = this.#counts.get(piece) ?? this.#learn(piece);
      if (known === undefined) return this.#encoder.encode(text, [], []).length;
      total += known;
    }
    return total;
  }

  /** The count of `piece` when the pattern takes it whole on its own (then remembered), else `undefined`. */
  #learn(piece: string): number | undefined {
    this.#whole.lastIndex = 0;
    if (this.#whole.exec(piece)?.[0] !== piece) return undefined;
    const count = this.#encoder.encode(piece, [], []).length;
    if (this.#counts.size >= PIECE_CACHE_LIMIT) this.#counts.clear();
    this.#counts.set(piece, count);
    return count;
  }
}
const PIECE_COUNTERS: Record<EncodingName, () => PieceCounter> = {
  o200k_base: once(() => new PieceCounter(ranksOf("o200k_base"))),
  cl100k_base: once(() => new PieceCounter(ranksOf("cl100k_base"))),
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
  return PIECE_COUNTERS[encodingForModel(model)]().count(text);
}

/**
 * Tokens of `value` serialized as JSON (tool calls, tool schemas, structured content).
 *
 * @example
 * ```ts
 * countJsonTokens({ city: "Paris" }); // ≈ 5, the tokens of '{"city":"Paris"}'
 * countJsonTokens(undefined); // 0
 * ```
 */
export function countJsonTokens(value: unknown, model?: string): number {
  if (value === undefined || value === null) return 0;
  return countTextTokens(JSON.stringify(value) ?? "", model);
}

/**
 * Prompt tokens the schemas of `tools` add to a call of `model`: each tool as the provider receives
 * it (OpenAI's function format, as JSON; an object that does not convert is counted as its own JSON),
 * counted once per tool object and encoding (by a counter shared by the callers of this function).
 * Anything that is not an object counts 0.
 *
 * @example
 * ```ts
 * countToolTokens([searchTool], "gpt-4o-mini"); // e.g. 48
 * ```
 */
export function countToolTokens(tools: readonly unknown[], model?: string): number {
  return sharedCounter().tools(tools, model);
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
 *
 * @example
 * ```ts
 * countContentTokens("hello world"); // ≈ 2
 * countContentTokens(
 *   [{ type: "text", text: "What is in this image?" }, { type: "image_url", image_url: { url: "https://example.com/cat.png" } }],
 *   "gpt-4o",
 * ); // ≈ 1,606: the text, plus IMAGE_TOKEN_ESTIMATE (1,600) for the image
 * ```
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
  for (const message of messages) tokens += messageTokens(message, model, countTextTokens);
  return tokens;
}

/**
 * Tokens one message adds to a prompt: {@link TOKENS_PER_MESSAGE} + role + content + tool calls (as
 * JSON) + name; texts counted by `countText` (which must count like {@link countTextTokens}).
 * `reportedOutput`, when given, stands for the content and the tool calls.
 */
function messageTokens(
  message: BaseMessage | RoleMessage,
  model: string | undefined,
  countText: (text: string, model?: string) => number,
  reportedOutput?: number,
): number {
  let tokens = TOKENS_PER_MESSAGE + countText(roleOf(message), model);
  if (reportedOutput !== undefined) tokens += reportedOutput;
  else {
    const { content } = message;
    tokens += typeof content === "string" ? countText(content, model) : countContentTokens(content, model);
    const toolCalls = "tool_calls" in message ? message.tool_calls : undefined;
    if (Array.isArray(toolCalls) && toolCalls.length > 0) tokens += countJsonTokens(toolCalls, model);
  }
  if (typeof message.name === "string" && message.name.length > 0) {
    tokens += TOKENS_PER_NAME + countText(message.name, model);
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

/**
 * Tokens a reply generated, as far as its content and tool calls show.
 *
 * @example
 * ```ts
 * import { AIMessage } from "@langchain/core/messages";
 * countOutputTokens(new AIMessage("hello world")); // ≈ 2
 * countOutputTokens(new AIMessage({ content: "", tool_calls: [{ name: "search", args: { query: "weather in Paris" }, id: "call_1" }] }), "gpt-4o");
 * // ≈ 15: the calls' names and arguments as JSON (ids are not counted)
 * ```
 */
export function countOutputTokens(message: Pick<UsageSource, "content" | "tool_calls">, model?: string): number {
  const toolCalls = message.tool_calls ?? [];
  const calls = toolCalls.map(({ name, args }) => ({ name, args }));
  return countContentTokens(message.content, model) + (calls.length > 0 ? countJsonTokens(calls, model) : 0);
}

// ---------------------------------------------------------------------------
// The counter
// ---------------------------------------------------------------------------

/** Options of a {@link PromptTokenCounter}; both off by default (exact counts). */
export interface PromptTokenCounterOptions {
  /**
   * Count an AI message whose provider reported its output tokens (`usage_metadata.output_tokens`)
   * as that many instead of its content and tool calls: it is sent back as about that many tokens,
   * and the tokenizer is spared the one new message of each agent step. An estimate.
   */
  reportedOutputs?: boolean;
  /**
   * Remember messages by id and shape (content length, tool calls, reported output, name) and the
   * count of the history up to them: a checkpointer hands back new message objects with the same
   * ids on every invocation, and only the messages added since are counted. An estimate: a message
   * replaced under the same id with content of the same length keeps its old count.
   */
  rememberIds?: boolean;
}

/** Most characters of text whose counts a counter keeps per encoding (≈ 8 MB; the oldest go first). */
const TEXT_CHARACTERS_LIMIT = 4_000_000;
/**
 * Longest text whose parts' counts are kept: a longer one (a large tool output) is counted each time
 * it is seen, so that no cached part keeps a large string alive.
 */
const CACHED_TEXT_LIMIT = 100_000;
/** Most messages a counter remembers by id (≈ 200 bytes each). */
const MESSAGE_KEY_LIMIT = 50_000;
/** How far back from the end of a history a counted prefix is looked for. */
const PREFIX_LOOKBACK = 64;

/**
 * Prompt tokens, counted once: the one counter the middleware and the router count prompts with.
 * Its counts equal {@link countTextTokens}, {@link countMessageTokens} and
 * {@link countToolTokens} (unless an estimating option is on); what it remembers is bounded:
 *
 * - texts, per encoding, up to {@link TEXT_CHARACTERS_LIMIT} characters, the oldest first out (a
 *   hit does not reorder: that would cost the router's jury prompts ~1 ms an auction), and never
 *   a text over {@link CACHED_TEXT_LIMIT} characters; a long text is counted in parts cut
 *   where the tokenizer cuts anyway (see {@link partsOf}), so a task or a plan quoted by many
 *   prompts (the router's jury prompts) is counted once;
 * - messages, per object and encoding, counted again when their content, tool calls, name or
 *   reported output has been reassigned (a caller may edit a message it passes again), and, with
 *   `rememberIds`, by id;
 * - tool schemas, per tool object and encoding.
 *
 * @example
 * ```ts
 * import { HumanMessage, SystemMessage } from "@langchain/core/messages";
 *
 * const counter = new PromptTokenCounter(); // internal: src/budget/tokens.ts
 * const prompt = [new SystemMessage("Be brief."), new HumanMessage("hello world")];
 * counter.messages(prompt, "gpt-4o"); // 16, as countMessageTokens(prompt, "gpt-4o")
 * counter.messages(prompt, "gpt-4o"); // 16 again, without the tokenizer
 * ```
 */
export class PromptTokenCounter {
  readonly #options: Required<PromptTokenCounterOptions>;
  readonly #texts = new Map<EncodingName, { counts: Map<string, number>; characters: number }>();
  /** Per object, with the fields the count was read from: a message whose fields were reassigned is counted again. */
  readonly #messages = new Map<EncodingName, WeakMap<BaseMessage, CountedMessage>>();
  readonly #tools = new Map<EncodingName, WeakMap<object, number>>();
  /** By message key (see {@link messageKey}): its count, and the count of the history up to it where it was seen. */
  readonly #byKey = new Map<string, { count: number; length: number; prefixTokens: number }>();

  constructor({ reportedOutputs = false, rememberIds = false }: PromptTokenCounterOptions = {}) {
    this.#options = { reportedOutputs, rememberIds };
  }

  /** `countTextTokens(text, model)`, remembered; a long text is counted in parts. */
  text(text: string, model?: string): number {
    const encoding = encodingForModel(model);
    const remember = text.length <= CACHED_TEXT_LIMIT;
    let total = 0;
    for (const part of partsOf(text)) total += this.#part(part, encoding, remember);
    return total;
  }

  /**
   * Prompt tokens of `messages` for `model`, reply priming included: `countMessageTokens(messages,
   * model)`, each message counted once per object (and, with `rememberIds`, once per id).
   */
  messages(messages: readonly BaseMessage[], model?: string): number {
    const encoding = encodingForModel(model);
    let start = 0;
    let tokens = 0;
    if (this.#options.rememberIds) {
      const lookbackEnd = Math.max(0, messages.length - PREFIX_LOOKBACK);
      for (let index = messages.length - 1; index >= lookbackEnd; index -= 1) {
        const message = messages[index];
        const key = message && this.#keyOf(message, encoding);
        const seen = key === undefined ? undefined : this.#byKey.get(key);
        if (seen && seen.length === index + 1) {
          start = index + 1;
          tokens = seen.prefixTokens;
          break;
        }
      }
    }
    const counts = countsOf(this.#messages, encoding, () => new WeakMap());
    for (let index = start; index < messages.length; index += 1) {
      const message = messages[index];
      if (!message) continue;
      const key = this.#keyOf(message, encoding);
      const counted = counts.get(message);
      let count =
        (counted !== undefined && isUnchanged(counted, message) ? counted.count : undefined) ??
        (key === undefined ? undefined : this.#byKey.get(key)?.count);
      if (count === undefined) {
        count = this.#message(message, encoding);
        counts.set(message, countedMessage(message, count));
      }
      tokens += count;
      if (key !== undefined) this.#remember(key, { count, length: index + 1, prefixTokens: tokens });
    }
    return REPLY_PRIMING_TOKENS + tokens;
  }

  /** Tokens one system message of `text` adds to a prompt (`countMessageTokens([system])` without the priming). */
  systemMessage(text: string, model?: string): number {
    return TOKENS_PER_MESSAGE + this.text("system", model) + this.text(text, model);
  }

  /** `countToolTokens(tools, model)`: each tool counted once per object and encoding. */
  tools(tools: readonly unknown[], model?: string): number {
    if (tools.length === 0) return 0;
    const encoding = encodingForModel(model);
    const counts = countsOf(this.#tools, encoding, () => new WeakMap());
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

  /** One message, as {@link messageTokens} counts it (the reported output with `reportedOutputs`). */
  #message(message: BaseMessage, encoding: EncodingName): number {
    const reported = this.#options.reportedOutputs ? reportedOutputOf(message) : undefined;
    return messageTokens(message, encoding, (text) => this.text(text, encoding), reported);
  }

  /** Tokens of one part of a text; the counts of recently seen parts are kept (see {@link TEXT_CHARACTERS_LIMIT}). */
  #part(part: string, encoding: EncodingName, remember: boolean): number {
    const cache = countsOf(this.#texts, encoding, () => ({ counts: new Map<string, number>(), characters: 0 }));
    const known = cache.counts.get(part);
    if (known !== undefined) return known;
    const count = countTextTokens(part, encoding);
    if (!remember) return count;
    cache.counts.set(part, count);
    cache.characters += part.length;
    for (const oldest of cache.counts.keys()) {
      if (cache.characters <= TEXT_CHARACTERS_LIMIT) break;
      cache.counts.delete(oldest);
      cache.characters -= oldest.length;
    }
    return count;
  }

  #keyOf(message: BaseMessage, encoding: EncodingName): string | undefined {
    return this.#options.rememberIds ? messageKey(message, encoding) : undefined;
  }

  /** Remember a message by key; the oldest entries go first beyond {@link MESSAGE_KEY_LIMIT}. */
  #remember(key: string, entry: { count: number; length: number; prefixTokens: number }): void {
    if (!this.#byKey.has(key) && this.#byKey.size >= MESSAGE_KEY_LIMIT) {
      const oldest = this.#byKey.keys().next().value;
      if (oldest !== undefined) this.#byKey.delete(oldest);
    }
    this.#byKey.set(key, entry);
  }
}

/** The counter behind {@link countToolTokens}, built on first use. */
const sharedCounter = once(() => new PromptTokenCounter());

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

/** The counts of `encoding` in `byEncoding`, created on first use. */
function countsOf<Counts>(byEncoding: Map<EncodingName, Counts>, encoding: EncodingName, create: () => Counts): Counts {
  let counts = byEncoding.get(encoding);
  if (counts === undefined) {
    counts = create();
    byEncoding.set(encoding, counts);
  }
  return counts;
}

/** A message's count and the fields it was read from (compared by reference: a cheap check). */
interface CountedMessage {
  count: number;
  content: unknown;
  toolCalls: unknown;
  name: unknown;
  reported: unknown;
}

function countedMessage(message: BaseMessage, count: number): CountedMessage {
  const toolCalls = "tool_calls" in message ? message.tool_calls : undefined;
  const reported = AIMessage.isInstance(message) ? message.usage_metadata?.output_tokens : undefined;
  return { count, content: message.content, toolCalls, name: message.name, reported };
}

/** True when none of the fields a message's count was read from has been reassigned since. */
function isUnchanged(counted: CountedMessage, message: BaseMessage): boolean {
  const toolCalls = "tool_calls" in message ? message.tool_calls : undefined;
  const reported = AIMessage.isInstance(message) ? message.usage_metadata?.output_tokens : undefined;
  return (
    counted.content === message.content &&
    counted.toolCalls === toolCalls &&
    counted.name === message.name &&
    counted.reported === reported
  );
}

/** The output tokens the provider reported for an AI message, when above 0. */
function reportedOutputOf(message: BaseMessage): number | undefined {
  const reported = AIMessage.isInstance(message) ? message.usage_metadata?.output_tokens : undefined;
  return typeof reported === "number" && reported > 0 ? reported : undefined;
}

/**
 * A key that identifies a message's content across deserialisations: its id, type, content
 * length, tool calls and reported output. `undefined` for a message without id.
 */
function messageKey(message: BaseMessage, encoding: EncodingName): string | undefined {
  if (typeof message.id !== "string" || message.id.length === 0) return undefined;
  const content = message.content;
  const length = typeof content === "string" ? content.length : Array.isArray(content) ? contentLength(content) : 0;
  const toolCalls = "tool_calls" in message && Array.isArray(message.tool_calls) ? message.tool_calls.length : 0;
  const reported = AIMessage.isInstance(message) ? (message.usage_metadata?.output_tokens ?? "") : "";
  return `${encoding}|${message.id}|${message.getType()}|${length}|${toolCalls}|${reported}|${message.name ?? ""}`;
}

function contentLength(blocks: readonly unknown[]): number {
  let length = 0;
  for (const block of blocks) {
    if (typeof block === "string") length += block.length;
    else if (isTextBlock(block)) length += block.text.length;
    else length += 1;
  }
  return length;
}

/**
 * Where a text may be cut so that its token count is the sum of its parts' counts: after a `>`
 * and the line breaks that follow it, before a character that is neither white space nor `/`.
 */
const PART_BOUNDARY = /(?<=>\n+)(?=[^\s/])/u;

/**
 * `text` cut at every {@link PART_BOUNDARY}: after each tag line of the router's prompts
 * (`</task>\n\n`, `<plan id="A">\n`, `</plan>\n\n`, …), so a prompt's task and plans are parts of
 * their own, shared with every other prompt that quotes them.
 *
 * The counts add up exactly because the tokenizer (js-tiktoken, both encodings) first splits a
 * text into pre-tokens with a regular expression and encodes each pre-token on its own. A `>`
 * followed by a line break can only begin or continue the punctuation pre-token
 * ` ?[^\s\p{L}\p{N}]+[\r\n/]*` (`[\r\n]*` in cl100k_base), which then takes every following line
 * break and ends before any character other than `\r`, `\n` or `/`. So the whole text has a
 * pre-token boundary there, found the same way in the part before it (nothing in that pre-token
 * looks past it) and after it (a pre-token starting there reads only what follows).
 */
export function partsOf(text: string): string[] {
  return text.split(PART_BOUNDARY);
}
