/**
 * The OpenAI chat-completions surface of the gateway: the request body (a zod schema, parsed once
 * per request), OpenAI messages → LangChain messages, a LangChain answer → `chat.completion`, its
 * chunks → `chat.completion.chunk` server-sent events, and OpenAI-shaped errors.
 *
 * Pure (no I/O): the chat route (`chat.ts`) reads the request and sends what these functions build.
 */
import {
  AIMessage,
  type AIMessageChunk,
  type BaseMessage,
  HumanMessage,
  type MessageContent,
  SystemMessage,
  ToolMessage,
} from "@langchain/core/messages";
import { z } from "zod";
import type { BudgetStanding } from "./types.js";

// ---------------------------------------------------------------------------
// The request body
// ---------------------------------------------------------------------------

/** A text part of a message's content. Image, audio and file parts are refused (see {@link parseChatRequest}). */
const contentPartSchema = z.looseObject({ type: z.string(), text: z.string().optional() });

const contentSchema = z.union([z.string(), z.array(contentPartSchema)]);

const toolCallSchema = z.looseObject({
  id: z.string(),
  type: z.literal("function").optional(),
  function: z.looseObject({ name: z.string().min(1), arguments: z.string() }),
});

const messageSchema = z.discriminatedUnion("role", [
  z.looseObject({ role: z.literal("system"), content: contentSchema, name: z.string().optional() }),
  z.looseObject({ role: z.literal("developer"), content: contentSchema, name: z.string().optional() }),
  z.looseObject({ role: z.literal("user"), content: contentSchema, name: z.string().optional() }),
  z.looseObject({
    role: z.literal("assistant"),
    content: contentSchema.nullish(),
    name: z.string().optional(),
    tool_calls: z.array(toolCallSchema).optional(),
  }),
  z.looseObject({ role: z.literal("tool"), content: contentSchema, tool_call_id: z.string().min(1) }),
]);

const toolSchema = z.looseObject({
  type: z.literal("function"),
  function: z.looseObject({
    name: z.string().min(1),
    description: z.string().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    strict: z.boolean().nullish(),
  }),
});

const toolChoiceSchema = z.union([
  z.enum(["none", "auto", "required"]),
  z.looseObject({ type: z.literal("function"), function: z.looseObject({ name: z.string().min(1) }) }),
]);

const responseFormatSchema = z.discriminatedUnion("type", [
  z.looseObject({ type: z.literal("text") }),
  z.looseObject({ type: z.literal("json_object") }),
  z.looseObject({
    type: z.literal("json_schema"),
    json_schema: z.looseObject({
      name: z.string().min(1),
      description: z.string().optional(),
      schema: z.record(z.string(), z.unknown()).optional(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

const positiveInt = z.number().int().positive();

/** The fields of a `POST /v1/chat/completions` body the gateway reads (every other field is ignored). */
export const chatCompletionRequestSchema = z.object({
  model: z.string().min(1),
  messages: z.array(messageSchema).min(1),
  tools: z.array(toolSchema).optional(),
  tool_choice: toolChoiceSchema.optional(),
  parallel_tool_calls: z.boolean().optional(),
  response_format: responseFormatSchema.optional(),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  n: z.number().int().nullish(),
  max_tokens: positiveInt.nullish(),
  max_completion_tokens: positiveInt.nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  user: z.string().optional(),
  seed: z.number().int().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  store: z.boolean().nullish(),
  frequency_penalty: z.number().nullish(),
  presence_penalty: z.number().nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: z.number().int().nullish(),
});

/** A validated chat-completions request. */
export type ChatCompletionRequest = z.output<typeof chatCompletionRequestSchema>;
/** One OpenAI message of a request. */
export type ChatCompletionMessage = ChatCompletionRequest["messages"][number];
/** One OpenAI function tool of a request. */
export type ChatCompletionTool = NonNullable<ChatCompletionRequest["tools"]>[number];
/** The `response_format` of a request. */
export type ResponseFormat = NonNullable<ChatCompletionRequest["response_format"]>;

const KNOWN_FIELDS: ReadonlySet<string> = new Set(Object.keys(chatCompletionRequestSchema.shape));

/** A parsed request: the body, and the top-level fields the gateway ignored (for a debug log). */
export interface ParsedChatRequest {
  request: ChatCompletionRequest;
  /** Top-level fields the gateway does not know, accepted and ignored (OpenAI clients send new ones). */
  ignoredFields: string[];
}

/**
 * Validate a chat-completions body (already JSON-parsed). Unknown top-level fields are accepted
 * and listed in `ignoredFields`; `n` other than 1 and non-text content parts (images, audio,
 * files) are refused.
 *
 * @throws OpenAIHttpError (400 `invalid_request_error`) naming the first bad field as `param`,
 *   and the fix.
 * @example
 * ```ts
 * const { request } = parseChatRequest({ model: "gavel/auto", messages: [{ role: "user", content: "Hi" }] });
 * parseChatRequest({ model: "gavel/auto", messages: [], n: 2 }); // throws: 400, param "messages"
 * ```
 */
export function parseChatRequest(body: unknown): ParsedChatRequest {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw invalidRequest("The request body must be a JSON object: { model, messages, ... }.", null);
  }
  const result = chatCompletionRequestSchema.safeParse(body);
  if (!result.success) {
    const issue = result.error.issues[0];
    const path = issue?.path ?? [];
    const param = formatParam(path);
    throw invalidRequest(`Invalid value for '${param || "(body)"}': ${fieldHint(path, issue?.message ?? "")}`, param);
  }
  const request = result.data;
  if (request.n !== undefined && request.n !== null && request.n !== 1) {
    throw invalidRequest(
      `Invalid value for 'n': only n = 1 is supported (got ${request.n}); send one request per answer.`,
      "n",
    );
  }
  request.messages.forEach((message, index) => {
    if (!Array.isArray(message.content)) return;
    message.content.forEach((part, position) => {
      if (part.type === "text" && typeof part.text === "string") return;
      const param = `messages[${index}].content[${position}]`;
      throw invalidRequest(
        part.type === "text"
          ? `Invalid value for '${param}.text': a text part needs a string 'text'.`
          : `Invalid value for '${param}.type': '${part.type}' parts are not supported by this gateway; send text parts only (type "text").`,
        part.type === "text" ? `${param}.text` : `${param}.type`,
      );
    });
  });
  const ignoredFields = Object.keys(body).filter((field) => !KNOWN_FIELDS.has(field));
  return { request, ignoredFields };
}

/** `messages[0].content` from a zod path. */
function formatParam(path: readonly PropertyKey[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += text.length === 0 ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/** The zod message, with the fix for the fields a client most often gets wrong. */
function fieldHint(path: readonly PropertyKey[], message: string): string {
  const field = path[path.length - 1];
  if (path.length === 1 && field === "model")
    return `${message}. Send a model id from GET /v1/models, e.g. "gavel/auto".`;
  if (path.length === 1 && field === "messages") return `${message}. Send a non-empty array of { role, content }.`;
  if (path[0] === "messages" && field === "role") {
    return `${message}. A role is one of system, developer, user, assistant, tool.`;
  }
  if (field === "tool_call_id") return `${message}. A tool message answers a tool call: send its id as tool_call_id.`;
  if (field === "arguments") return `${message}. Tool call arguments are a JSON string.`;
  return `${message}.`;
}

// ---------------------------------------------------------------------------
// OpenAI messages → LangChain messages
// ---------------------------------------------------------------------------

function toContent(content: z.output<typeof contentSchema> | null | undefined): MessageContent {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  return content.map((part) => ({ type: "text" as const, text: part.text ?? "" }));
}

/**
 * The LangChain messages of an OpenAI conversation: `system` and `developer` → `SystemMessage`,
 * `user` → `HumanMessage`, `assistant` (with its tool calls) → `AIMessage`, `tool` → `ToolMessage`.
 *
 * @throws OpenAIHttpError (400) when a tool call's `arguments` is not a JSON object.
 * @example
 * ```ts
 * toLangChainMessages([{ role: "user", content: "2 + 3?" }]); // [HumanMessage("2 + 3?")]
 * ```
 */
export function toLangChainMessages(messages: readonly ChatCompletionMessage[]): BaseMessage[] {
  return messages.map((message, index) => {
    const name = "name" in message && typeof message.name === "string" ? { name: message.name } : {};
    switch (message.role) {
      case "system":
      case "developer":
        return new SystemMessage({ content: toContent(message.content), ...name });
      case "user":
        return new HumanMessage({ content: toContent(message.content), ...name });
      case "tool":
        return new ToolMessage({ content: toContent(message.content), tool_call_id: message.tool_call_id });
      default:
        return new AIMessage({
          content: toContent(message.content),
          ...name,
          tool_calls: (message.tool_calls ?? []).map((call, position) => ({
            id: call.id,
            name: call.function.name,
            args: parseArguments(
              call.function.arguments,
              `messages[${index}].tool_calls[${position}].function.arguments`,
            ),
            type: "tool_call" as const,
          })),
        });
    }
  });
}

function parseArguments(text: string, param: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = text.trim().length === 0 ? {} : JSON.parse(text);
  } catch {
    throw invalidRequest(
      `Invalid value for '${param}': not valid JSON; send the arguments as a JSON object string.`,
      param,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalidRequest(
      `Invalid value for '${param}': must be a JSON object string, e.g. "{\\"city\\":\\"Paris\\"}".`,
      param,
    );
  }
  return value as Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// LangChain answers → chat.completion and chat.completion.chunk
// ---------------------------------------------------------------------------

/** OpenAI's finish reasons. */
export type FinishReason = "stop" | "length" | "tool_calls" | "content_filter";

const FINISH_REASONS: ReadonlySet<string> = new Set(["stop", "length", "tool_calls", "content_filter"]);

/** OpenAI's `usage` of a completion. */
export interface CompletionUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

/** One OpenAI tool call of an answer. */
export interface CompletionToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

/** A `chat.completion` object. */
export interface ChatCompletion {
  id: string;
  object: "chat.completion";
  created: number;
  model: string;
  choices: Array<{
    index: 0;
    message: { role: "assistant"; content: string | null; refusal: null; tool_calls?: CompletionToolCall[] };
    logprobs: null;
    finish_reason: FinishReason;
  }>;
  usage: CompletionUsage;
}

/** The text of a LangChain message's content (text blocks joined). */
export function textOf(content: MessageContent): string {
  if (typeof content === "string") return content;
  let text = "";
  for (const block of content) {
    if (typeof block === "string") text += block;
    else if (block.type === "text" && typeof block.text === "string") text += block.text;
  }
  return text;
}

/** The finish reason a message reports (`response_metadata.finish_reason`), else one inferred. */
export function finishReasonOf(message: Pick<AIMessage, "response_metadata" | "tool_calls">): FinishReason {
  const reported = message.response_metadata?.finish_reason;
  if (typeof reported === "string" && FINISH_REASONS.has(reported)) return reported as FinishReason;
  return (message.tool_calls?.length ?? 0) > 0 ? "tool_calls" : "stop";
}

/** OpenAI usage from LangChain's `usage_metadata` (zeros when absent). */
export function usageOf(message: Pick<AIMessage, "usage_metadata">): CompletionUsage {
  const usage = message.usage_metadata;
  const prompt = usage?.input_tokens ?? 0;
  const completion = usage?.output_tokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

/** A new completion id, `chatcmpl-` and 24 random hex digits. */
export function completionId(): string {
  return `chatcmpl-${crypto.randomUUID().replaceAll("-", "").slice(0, 24)}`;
}

/**
 * The `chat.completion` of an answer: `model` is the member that answered, `usage` what the call
 * was charged in tokens (for `gavel/auto`: the auction's calls and the answer).
 *
 * @example
 * ```ts
 * toChatCompletion(new AIMessage("Paris."), { id: completionId(), model: "mini", created: 1733300000 });
 * // { object: "chat.completion", model: "mini", choices: [{ message: { content: "Paris." }, finish_reason: "stop" }], usage }
 * ```
 */
export function toChatCompletion(
  message: Pick<AIMessage, "content" | "tool_calls" | "usage_metadata" | "response_metadata">,
  meta: { id: string; model: string; created: number; usage?: CompletionUsage },
): ChatCompletion {
  const toolCalls: CompletionToolCall[] = (message.tool_calls ?? []).map((call, position) => ({
    id: call.id ?? `call_${position}`,
    type: "function",
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  }));
  const text = textOf(message.content);
  return {
    id: meta.id,
    object: "chat.completion",
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: text.length === 0 && toolCalls.length > 0 ? null : text,
          refusal: null,
          ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
        },
        logprobs: null,
        finish_reason: finishReasonOf(message),
      },
    ],
    usage: meta.usage ?? usageOf(message),
  };
}

/** A `chat.completion.chunk` object. */
export interface ChatCompletionChunk {
  id: string;
  object: "chat.completion.chunk";
  created: number;
  model: string;
  choices: Array<{
    index: 0;
    delta: {
      role?: "assistant";
      content?: string;
      tool_calls?: Array<{
        index: number;
        id?: string;
        type?: "function";
        function: { name?: string; arguments: string };
      }>;
    };
    logprobs: null;
    finish_reason: FinishReason | null;
  }>;
  usage?: CompletionUsage | null;
}

/** One SSE event: `data: <json>\n\n`. */
export function sseEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** The event that ends a stream, as OpenAI sends it. */
export const SSE_DONE = "data: [DONE]\n\n";

/**
 * Turns the chunks of a LangChain stream into OpenAI SSE events: a first event with the role,
 * one per text or tool-call delta, a last one with the finish reason, then (with
 * `include_usage`) one with empty `choices` and the `usage`, then `data: [DONE]`.
 *
 * @example
 * ```ts
 * const encoder = createChunkEncoder({ id: completionId(), model: "mini", created: 1733300000, includeUsage: true });
 * for await (const chunk of model.stream(messages)) write(encoder.chunk(chunk));
 * write(encoder.end(usage));
 * ```
 */
export function createChunkEncoder(meta: { id: string; model: string; created: number; includeUsage: boolean }) {
  const base = { id: meta.id, object: "chat.completion.chunk" as const, created: meta.created, model: meta.model };
  let started = false;
  let sawToolCalls = false;
  let finish: FinishReason | undefined;
  const event = (delta: ChatCompletionChunk["choices"][number]["delta"], finishReason: FinishReason | null = null) =>
    sseEvent({ ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }] });
  return {
    /** The events of one chunk ("" when it carries nothing a client sees). */
    chunk(chunk: AIMessageChunk): string {
      let out = "";
      if (!started) {
        started = true;
        out += event({ role: "assistant", content: "" });
      }
      const reported = chunk.response_metadata?.finish_reason;
      if (typeof reported === "string" && FINISH_REASONS.has(reported)) finish = reported as FinishReason;
      const text = textOf(chunk.content);
      if (text.length > 0) out += event({ content: text });
      const calls = chunk.tool_call_chunks ?? [];
      if (calls.length > 0) {
        sawToolCalls = true;
        out += event({
          tool_calls: calls.map((call, position) => ({
            index: call.index ?? position,
            ...(call.id && { id: call.id, type: "function" as const }),
            function: { ...(call.name && { name: call.name }), arguments: call.args ?? "" },
          })),
        });
      }
      return out;
    },
    /** The closing events: the finish reason, the usage (with `include_usage`), `[DONE]`. */
    end(usage: CompletionUsage): string {
      let out = started ? "" : event({ role: "assistant", content: "" });
      out += event({}, finish ?? (sawToolCalls ? "tool_calls" : "stop"));
      if (meta.includeUsage) out += sseEvent({ ...base, choices: [], usage });
      return out + SSE_DONE;
    },
  };
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** The `type` of an OpenAI error body. */
export type OpenAIErrorType =
  | "invalid_request_error"
  | "authentication_error"
  | "insufficient_quota"
  | "requests"
  | "server_error"
  | "api_error"
  | "timeout";

/** An OpenAI error body: `{ error: { message, type, code, param } }`. */
export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; code: string | null; param: string | null };
}

/**
 * An error the gateway answers with an OpenAI-shaped body, its status and headers.
 *
 * @example
 * ```ts
 * throw new OpenAIHttpError(400, { message: "Invalid value for 'n' ...", type: "invalid_request_error", code: "invalid_value", param: "n" });
 * ```
 */
export class OpenAIHttpError extends Error {
  override readonly name = "OpenAIHttpError";
  readonly status: number;
  readonly body: OpenAIErrorBody;
  readonly headers: Record<string, string>;

  constructor(
    status: number,
    error: OpenAIErrorBody["error"],
    options: { headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(error.message, { cause: options.cause });
    this.status = status;
    this.body = { error };
    this.headers = options.headers ?? {};
  }

  /** The response: JSON body, status, headers. */
  toResponse(extraHeaders: Record<string, string> = {}): Response {
    return new Response(JSON.stringify(this.body), {
      status: this.status,
      headers: { "content-type": "application/json", ...this.headers, ...extraHeaders },
    });
  }
}

/** 400 `invalid_request_error` naming `param`; the message says what is wrong and the fix. */
export function invalidRequest(message: string, param: string | null, code = "invalid_value"): OpenAIHttpError {
  return new OpenAIHttpError(400, { message, type: "invalid_request_error", code, param });
}

/** 401 `invalid_api_key`: no key, or a key the gateway does not know. */
export function invalidApiKey(presented: boolean): OpenAIHttpError {
  return new OpenAIHttpError(401, {
    message: presented
      ? "Incorrect API key provided. Use a key issued by this gateway (gavel keys create)."
      : "Missing API key: send it as 'Authorization: Bearer <key>'.",
    type: "invalid_request_error",
    code: "invalid_api_key",
    param: null,
  });
}

/** 404 `model_not_found`, listing the models a client may ask for. */
export function modelNotFound(model: string, valid: readonly string[]): OpenAIHttpError {
  return new OpenAIHttpError(404, {
    message: `The model '${model}' does not exist on this gateway. Valid models: ${valid.join(", ")}.`,
    type: "invalid_request_error",
    code: "model_not_found",
    param: "model",
  });
}

/**
 * The HTTP status of an exhausted budget: **402 Payment Required**, not 429. A 429 tells every
 * OpenAI client to retry (the official SDKs retry 429 twice with back-off, honouring
 * `retry-after`), which cannot help before the budget resets and would triple the load of refused
 * requests; 429 stays the per-key rate limit, which retrying does fix. The body keeps OpenAI's own
 * quota code, `insufficient_quota`, so clients that look at the code recognise it. (LiteLLM answers
 * 400 for an exceeded budget and 429 for rate limits.)
 */
export const BUDGET_EXHAUSTED_STATUS = 402;

/** Header: USD left on the refused account (`unlimited` when it has no USD limit). */
export const BUDGET_REMAINING_HEADER = "x-gavel-budget-remaining-usd";
/** Header: ISO time the refused account's window resets (`never` when it does not). */
export const BUDGET_RESETS_HEADER = "x-gavel-budget-resets-at";

/** 402 `insufficient_quota`, with the remaining budget and its reset time (body and headers). */
export function budgetExhausted(standing: BudgetStanding, detail?: string): OpenAIHttpError {
  const account = standing.scope === "user" ? "this user's budget" : "this key's budget";
  const left = [
    standing.usd !== undefined ? `$${standing.usd.toFixed(6)}` : undefined,
    standing.tokens !== undefined ? `${standing.tokens} tokens` : undefined,
  ].filter((part) => part !== undefined);
  const resets = standing.resetsAt ? `It resets at ${standing.resetsAt}.` : "It does not reset.";
  return new OpenAIHttpError(
    BUDGET_EXHAUSTED_STATUS,
    {
      message:
        `Budget exhausted: ${account} cannot pay for this request` +
        `${detail ? ` (${detail})` : ""}. Remaining: ${left.length > 0 ? left.join(", ") : "no limit left to report"}. ` +
        `${resets} Ask for a smaller max_tokens, a cheaper model, or a larger budget.`,
      type: "insufficient_quota",
      code: "insufficient_quota",
      param: null,
    },
    {
      headers: {
        [BUDGET_REMAINING_HEADER]: standing.usd !== undefined ? standing.usd.toFixed(9) : "unlimited",
        [BUDGET_RESETS_HEADER]: standing.resetsAt ?? "never",
      },
    },
  );
}

/** 502: the member's provider failed (its message is logged, not echoed: it may carry provider details). */
export function providerError(member: string, status?: number): OpenAIHttpError {
  const code = status === undefined ? "" : ` (HTTP ${status})`;
  return new OpenAIHttpError(502, {
    message: `The provider of '${member}' failed${code}. Retry, or pin another model from GET /v1/models.`,
    type: "api_error",
    code: "provider_error",
    param: null,
  });
}

/** 504: the member's provider did not answer in time. */
export function providerTimeout(member: string, timeoutMs?: number): OpenAIHttpError {
  const after = timeoutMs === undefined ? "" : ` within ${timeoutMs} ms`;
  return new OpenAIHttpError(504, {
    message: `The provider of '${member}' did not answer${after}. Retry, or pin another model.`,
    type: "timeout",
    code: "provider_timeout",
    param: null,
  });
}

/** 503: the gateway is shutting down. */
export function shuttingDown(): OpenAIHttpError {
  return new OpenAIHttpError(
    503,
    {
      message: "The gateway is shutting down. Retry on another replica.",
      type: "server_error",
      code: "server_shutting_down",
      param: null,
    },
    { headers: { "retry-after": "1" } },
  );
}

/** 500 with a generic message: nothing internal (paths, config, secrets) reaches the client. */
export function internalError(requestId: string): OpenAIHttpError {
  return new OpenAIHttpError(500, {
    message: `The gateway failed to handle this request (request id ${requestId}). The operator can find it in the logs.`,
    type: "server_error",
    code: "internal_error",
    param: null,
  });
}
