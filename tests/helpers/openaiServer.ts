/**
 * An OpenAI-compatible chat-completions server for tests: real HTTP on 127.0.0.1 (port 0), so the
 * real `ChatOpenAI` client (`configuration: { baseURL: server.baseURL }`, `apiKey: "test"`) can be
 * driven without a key or a network.
 *
 * - `POST /v1/chat/completions` (and `/chat/completions`), non-stream and stream (SSE). With
 *   `stream_options.include_usage` the last chunk carries `usage` and empty `choices`, as OpenAI does.
 * - Every answer has `usage` (scripted, or counted with the o200k tokenizer).
 * - With `logprobs: true` (and `top_logprobs: n`) answers carry `choices[].logprobs.content`: one
 *   entry per token of the answer (tokenizer tokens), deterministic values from the seed, unless
 *   the reply scripts its own entries.
 * - Replies come from a recorded list (consumed in order) or a handler function. A reply may be a
 *   recorded raw `chat.completion` object, which is served as is (or converted to chunks).
 * - Every request received is recorded in `server.requests`.
 * - The "provider" keeps its own bill (`server.billing`): per request, the prompt and completion
 *   tokens it generated, as a provider bills them. With `generationMs` a reply takes that long to
 *   generate, so a client's abort lands mid-generation: a non-streamed reply is generated to the end
 *   and billed in full although nobody reads it (as OpenAI does); a streamed one stops at the next
 *   chunk once the client is gone and bills the chunks generated. `server.idle()` waits for every
 *   generation to end.
 *
 * @example
 * ```ts
 * const server = await startOpenAICompatibleServer({ replies: ["Paris."] });
 * const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: { baseURL: server.baseURL } });
 * const answer = await model.invoke("Capital of France?");
 * // answer.usage_metadata matches server.requests[0] ... ; finally:
 * await server.close();
 * ```
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { getEncoding, type Tiktoken } from "js-tiktoken";

/** The JSON body of a chat-completions request, as far as the server reads it. */
export interface ChatCompletionRequestBody {
  model?: string;
  messages: Array<{ role: string; content?: unknown; tool_calls?: unknown; [key: string]: unknown }>;
  stream?: boolean;
  stream_options?: { include_usage?: boolean } | null;
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  max_tokens?: number | null;
  max_completion_tokens?: number | null;
  tools?: Array<{ type: string; function: { name: string; description?: string; parameters?: unknown } }>;
  [key: string]: unknown;
}

/** One request the server received. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body (`undefined` when the body was not JSON). */
  body: ChatCompletionRequestBody | undefined;
}

/** A log-probability entry, in OpenAI's `logprobs.content` shape. */
export interface TokenLogprob {
  token: string;
  logprob: number;
  bytes: number[] | null;
  top_logprobs: Array<{ token: string; logprob: number; bytes: number[] | null }>;
}

/** A scripted answer. */
export interface ServerTurn {
  /** Answer text. Default `""`. */
  content?: string;
  /** Tool calls; `arguments` may be an object (serialised) or a JSON string. */
  toolCalls?: Array<{ id?: string; name: string; arguments: Record<string, unknown> | string }>;
  /** Usage to report. Default: tokenizer counts of the prompt and the answer. */
  usage?: { prompt_tokens: number; completion_tokens: number };
  /** Finish reason. Default `"tool_calls"` with tool calls, else `"stop"`. */
  finishReason?: string;
  /** Log-probabilities to serve when the request asks for them. Default: generated per token. */
  logprobs?: TokenLogprob[];
}

/** What the "provider" bills for one request (see {@link OpenAICompatibleServer.billing}). */
export interface BilledRequest {
  /** Index of the chat-completions request, from 0. */
  index: number;
  model: string;
  stream: boolean;
  /** Prompt tokens billed. */
  promptTokens: number;
  /** Completion tokens generated and billed (for a stream the client left: the chunks generated). */
  completionTokens: number;
  /** True when the client disconnected or aborted before the reply was complete. */
  clientGone: boolean;
}

/** A recorded raw OpenAI response, served unchanged. */
export interface RawCompletion {
  object: "chat.completion";
  [key: string]: unknown;
}

/** An HTTP error to serve instead of an answer. */
export interface ServerError {
  status: number;
  error: { message: string; type?: string; code?: string | null };
}

/** What a handler or the recorded list gives for one request. */
export type ServerReply = string | ServerTurn | RawCompletion | ServerError;

/** A handler computing the reply of one request. `index` counts chat-completions requests from 0. */
export type ServerHandler = (body: ChatCompletionRequestBody, index: number) => ServerReply | Promise<ServerReply>;

/** Options of {@link startOpenAICompatibleServer}. */
export interface OpenAICompatibleServerOptions {
  /** Recorded replies, consumed in order (an extra request gets a 500), or a handler. */
  replies: ServerReply[] | ServerHandler;
  /** Seed of the generated log-probabilities. Default 1. */
  seed?: number;
  /** Model name echoed when the request names none. Default `"gpt-4o-mini"`. */
  defaultModel?: string;
  /**
   * How long generating one reply takes, in ms (a streamed reply spreads it over its chunks), or a
   * function of the request. Default 0: replies are sent at once.
   */
  generationMs?: number | ((body: ChatCompletionRequestBody, index: number) => number);
}

/** A running server. */
export interface OpenAICompatibleServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** `http://127.0.0.1:<port>/v1`, the value for `configuration.baseURL`. */
  readonly baseURL: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** What the provider billed, one entry per answered chat-completions request, when its generation ended. */
  readonly billing: BilledRequest[];
  /** USD billed so far at `price` (per million tokens), over every entry of `billing`. */
  billedUsd(price: { inputPerMillion: number; outputPerMillion: number }): number;
  /** Resolves when no reply is being generated (the bill is complete). */
  idle(): Promise<void>;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
}

/**
 * Start an OpenAI-compatible chat-completions server on 127.0.0.1 with an OS-assigned port.
 *
 * @example
 * ```ts
 * const server = await startOpenAICompatibleServer({
 *   replies: (body) => ({ content: `You said ${body.messages.length} messages`, usage: { prompt_tokens: 12, completion_tokens: 5 } }),
 * });
 * ```
 */
export async function startOpenAICompatibleServer(
  options: OpenAICompatibleServerOptions,
): Promise<OpenAICompatibleServer> {
  const { replies, seed = 1, defaultModel = "gpt-4o-mini", generationMs = 0 } = options;
  const requests: RecordedRequest[] = [];
  const billing: BilledRequest[] = [];
  let generating = 0;
  let idleWaiters: Array<() => void> = [];
  const generationEnded = () => {
    generating -= 1;
    if (generating > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const wake of waiters) wake();
  };
  const encoder = getEncoding("o200k_base");
  let completionCount = 0;
  let recordedIndex = 0;

  const nextReply = async (body: ChatCompletionRequestBody): Promise<ServerReply> => {
    const index = completionCount++;
    if (typeof replies === "function") return replies(body, index);
    const reply = replies[recordedIndex];
    if (reply === undefined) {
      return {
        status: 500,
        error: { message: `no recorded reply left (${replies.length} recorded, request #${index + 1})` },
      };
    }
    recordedIndex += 1;
    return reply;
  };

  const server: Server = createServer((request, response) => {
    handleRequest(request, response).catch((error: unknown) => {
      sendJson(response, 500, {
        error: { message: error instanceof Error ? error.message : String(error), type: "server_error" },
      });
    });
  });

  async function handleRequest(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const text = await readBody(request);
    const path = (request.url ?? "/").split("?")[0] ?? "/";
    let body: ChatCompletionRequestBody | undefined;
    try {
      body = text.length > 0 ? (JSON.parse(text) as ChatCompletionRequestBody) : undefined;
    } catch {
      body = undefined;
    }
    requests.push({ method: request.method ?? "GET", path, headers: request.headers, body });

    if (request.method === "GET" && (path === "/v1/models" || path === "/models")) {
      sendJson(response, 200, {
        object: "list",
        data: [{ id: defaultModel, object: "model", owned_by: "gavel-tests" }],
      });
      return;
    }
    if (request.method !== "POST" || (path !== "/v1/chat/completions" && path !== "/chat/completions")) {
      sendJson(response, 404, {
        error: { message: `no route ${request.method} ${path}`, type: "invalid_request_error" },
      });
      return;
    }
    if (!body || !Array.isArray(body.messages)) {
      sendJson(response, 400, {
        error: { message: "body must be JSON with a messages array", type: "invalid_request_error" },
      });
      return;
    }
    let clientGone = false;
    response.on("close", () => {
      if (!response.writableFinished) clientGone = true;
    });
    response.on("error", () => undefined); // a client that left; its bill is kept all the same
    const index = completionCount;
    const reply = await nextReply(body);
    if (isServerError(reply)) {
      sendJson(response, reply.status, { error: { type: "server_error", code: null, ...reply.error } });
      return;
    }
    const completion = isRawCompletion(reply)
      ? reply
      : buildCompletion(body, toTurn(reply), encoder, seed, defaultModel);
    const delay = typeof generationMs === "function" ? generationMs(body, index) : generationMs;
    const usage = (completion.usage ?? {}) as { prompt_tokens?: number; completion_tokens?: number };
    const bill = (completionTokens: number) =>
      billing.push({
        index,
        model: typeof completion.model === "string" ? completion.model : defaultModel,
        stream: body.stream === true,
        promptTokens: usage.prompt_tokens ?? 0,
        completionTokens,
        clientGone,
      });
    generating += 1;
    try {
      if (body.stream) {
        const generated = await sendStream(response, completion, body.stream_options?.include_usage === true, {
          delayMs: delay,
          isGone: () => clientGone || response.destroyed,
          tokensOf: (text) => encoder.encode(text).length,
        });
        bill(generated === "all" ? (usage.completion_tokens ?? 0) : generated);
      } else {
        // A non-streamed reply is generated to the end, and billed, whether or not the client waits.
        if (delay > 0) await sleep(delay);
        bill(usage.completion_tokens ?? 0);
        if (!clientGone && !response.destroyed) sendJson(response, 200, completion);
      }
    } finally {
      generationEnded();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    billing,
    billedUsd: (price) =>
      billing.reduce(
        (total, entry) =>
          total + (entry.promptTokens * price.inputPerMillion + entry.completionTokens * price.outputPerMillion) / 1e6,
        0,
      ),
    idle: () =>
      generating === 0
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            idleWaiters.push(resolve);
          }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function toTurn(reply: string | ServerTurn): ServerTurn {
  return typeof reply === "string" ? { content: reply } : reply;
}

function isServerError(reply: ServerReply): reply is ServerError {
  return typeof reply === "object" && "status" in reply && "error" in reply;
}

function isRawCompletion(reply: ServerReply): reply is RawCompletion {
  return typeof reply === "object" && "object" in reply && reply.object === "chat.completion";
}

/** Tokens of the prompt the way OpenAI counts chat messages: 3 per message, 3 to prime the answer. */
function promptTokens(body: ChatCompletionRequestBody, encoder: Tiktoken): number {
  let total = 3;
  for (const message of body.messages) {
    total += 3 + encoder.encode(message.role).length;
    const content = typeof message.content === "string" ? message.content : JSON.stringify(message.content ?? "");
    total += encoder.encode(content).length;
    if (message.tool_calls !== undefined) total += encoder.encode(JSON.stringify(message.tool_calls)).length;
  }
  if (body.tools !== undefined) total += encoder.encode(JSON.stringify(body.tools)).length;
  return total;
}

/** A deterministic pseudo-random number in [0, 1) from a seed and two integers (mulberry32 mix). */
function unitNoise(seed: number, position: number, rank: number): number {
  let state = (seed * 0x9e3779b1 + position * 0x85ebca6b + rank * 0xc2b2ae35) >>> 0;
  state = Math.imul(state ^ (state >>> 15), state | 1);
  state ^= state + Math.imul(state ^ (state >>> 7), state | 61);
  return ((state ^ (state >>> 14)) >>> 0) / 4294967296;
}

function generatedLogprobs(content: string, topCount: number, encoder: Tiktoken, seed: number): TokenLogprob[] {
  const bytesOf = (token: string) => [...Buffer.from(token, "utf8")];
  return encoder.encode(content).map((id, position) => {
    const token = encoder.decode([id]);
    const chosen = -unitNoise(seed, position, 0) * 2;
    const alternatives = Array.from({ length: Math.max(0, topCount - 1) }, (_, rank) => {
      const alternative = encoder.decode([(id + rank + 1) % 100_000]);
      return {
        token: alternative,
        logprob: chosen - 0.5 - unitNoise(seed, position, rank + 1) * 4,
        bytes: bytesOf(alternative),
      };
    });
    const top = topCount > 0 ? [{ token, logprob: chosen, bytes: bytesOf(token) }, ...alternatives] : [];
    return { token, logprob: chosen, bytes: bytesOf(token), top_logprobs: top };
  });
}

function buildCompletion(
  body: ChatCompletionRequestBody,
  turn: ServerTurn,
  encoder: Tiktoken,
  seed: number,
  defaultModel: string,
): RawCompletion {
  const content = turn.content ?? "";
  const toolCalls = (turn.toolCalls ?? []).map((call, position) => ({
    id: call.id ?? `call_${position}_${call.name}`,
    type: "function" as const,
    function: {
      name: call.name,
      arguments: typeof call.arguments === "string" ? call.arguments : JSON.stringify(call.arguments),
    },
  }));
  const usage = turn.usage ?? {
    prompt_tokens: promptTokens(body, encoder),
    completion_tokens:
      encoder.encode(content).length + (toolCalls.length > 0 ? encoder.encode(JSON.stringify(toolCalls)).length : 0),
  };
  const wantsLogprobs = body.logprobs === true;
  const logprobs = wantsLogprobs
    ? { content: turn.logprobs ?? generatedLogprobs(content, body.top_logprobs ?? 0, encoder, seed), refusal: null }
    : null;
  return {
    id: `chatcmpl-gavel-${seed}-${Date.now().toString(36)}`,
    object: "chat.completion",
    created: Math.floor(Date.now() / 1000),
    model: body.model ?? defaultModel,
    system_fingerprint: "fp_gavel_tests",
    choices: [
      {
        index: 0,
        message: {
          role: "assistant",
          content: toolCalls.length > 0 && content === "" ? null : content,
          refusal: null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        logprobs,
        finish_reason: turn.finishReason ?? (toolCalls.length > 0 ? "tool_calls" : "stop"),
      },
    ],
    usage: { ...usage, total_tokens: usage.prompt_tokens + usage.completion_tokens },
  };
}

interface CompletionChoice {
  index: number;
  message: {
    role: string;
    content: string | null;
    tool_calls?: Array<{ id: string; type: string; function: { name: string; arguments: string } }>;
  };
  logprobs: { content: TokenLogprob[] | null } | null;
  finish_reason: string;
}

/** How a stream is generated: the pacing, whether the client left, and a token counter. */
interface StreamGeneration {
  /** Total generation time, spread over the chunks. */
  delayMs: number;
  isGone: () => boolean;
  tokensOf: (text: string) => number;
}

/**
 * Serve a completion as SSE chunks: role, one chunk per token (with its logprob), tool calls,
 * finish, usage. With a delay, each chunk is generated (and billed) after its share of it, and the
 * generation stops at the first chunk after the client left.
 *
 * @returns `"all"` when every chunk was generated, else the completion tokens generated.
 */
async function sendStream(
  response: ServerResponse,
  completion: RawCompletion,
  includeUsage: boolean,
  generation: StreamGeneration,
): Promise<"all" | number> {
  const payloads: Array<{ payload: unknown; text: string }> = [];
  const write = (payload: unknown, text = "") => payloads.push({ payload, text });
  streamPayloads(completion, includeUsage, write);
  response.writeHead(200, {
    "content-type": "text/event-stream",
    "cache-control": "no-cache",
    connection: "keep-alive",
  });
  const paced = payloads.filter((entry) => entry.text.length > 0).length;
  const perChunk = paced > 0 ? generation.delayMs / paced : 0;
  // The text generated so far (generated, so billed, whether or not it reaches the client), counted
  // as one text: a provider's chunks are whole tokens, these 16-character pieces are not.
  let generated = "";
  for (const { payload, text } of payloads) {
    if (text.length > 0 && perChunk > 0) {
      if (generation.isGone()) return generation.tokensOf(generated);
      await sleep(perChunk);
      generated += text;
    }
    if (!generation.isGone()) response.write(`data: ${JSON.stringify(payload)}\n\n`);
  }
  if (generation.isGone()) return perChunk > 0 ? generation.tokensOf(generated) : "all";
  response.write("data: [DONE]\n\n");
  response.end();
  return "all";
}

/** The SSE payloads of `completion`, each with the completion text it carries. */
function streamPayloads(
  completion: RawCompletion,
  includeUsage: boolean,
  write: (payload: unknown, text?: string) => void,
): void {
  const base = {
    id: completion.id,
    object: "chat.completion.chunk",
    created: completion.created,
    model: completion.model,
  };
  const choices = (completion.choices ?? []) as CompletionChoice[];
  for (const choice of choices) {
    write({
      ...base,
      choices: [
        { index: choice.index, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
      ],
    });
    const entries = choice.logprobs?.content ?? null;
    const content = choice.message.content ?? "";
    if (entries && entries.length > 0) {
      for (const entry of entries) {
        write(
          {
            ...base,
            choices: [
              {
                index: choice.index,
                delta: { content: entry.token },
                logprobs: { content: [entry] },
                finish_reason: null,
              },
            ],
          },
          entry.token,
        );
      }
    } else if (content.length > 0) {
      for (const piece of content.match(/.{1,16}/gsu) ?? []) {
        write(
          {
            ...base,
            choices: [{ index: choice.index, delta: { content: piece }, logprobs: null, finish_reason: null }],
          },
          piece,
        );
      }
    }
    (choice.message.tool_calls ?? []).forEach((call, position) => {
      write({
        ...base,
        choices: [
          {
            index: choice.index,
            delta: {
              tool_calls: [
                {
                  index: position,
                  id: call.id,
                  type: "function",
                  function: { name: call.function.name, arguments: "" },
                },
              ],
            },
            logprobs: null,
            finish_reason: null,
          },
        ],
      });
      write(
        {
          ...base,
          choices: [
            {
              index: choice.index,
              delta: { tool_calls: [{ index: position, function: { arguments: call.function.arguments } }] },
              logprobs: null,
              finish_reason: null,
            },
          ],
        },
        call.function.arguments,
      );
    });
    write({
      ...base,
      choices: [{ index: choice.index, delta: {}, logprobs: null, finish_reason: choice.finish_reason }],
    });
  }
  if (includeUsage) write({ ...base, choices: [], usage: completion.usage });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function sendJson(response: ServerResponse, status: number, payload: unknown): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  const text = JSON.stringify(payload);
  response.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  response.end(text);
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    request.on("error", reject);
  });
}
