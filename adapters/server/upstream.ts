/**
 * The members' OpenAI-compatible providers, called without LangChain (the fast paths of
 * `createGavelApp`): one `POST {baseURL}/chat/completions` over `node:http(s)` on a keep-alive agent,
 * the provider's `chat.completion` read as far as the gateway needs it (content, tool calls, usage)
 * and passed back as it is otherwise.
 *
 * Read top to bottom: the completion's shape → calling a member → the HTTP call → reading a reply.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { AIMessage } from "@langchain/core/messages";
import type { CompletionUsage } from "./openai.js";
import { type OpenAIErrorBody, OpenAIHttpError, providerError } from "./openai.js";
import type { ServerUpstream } from "./types.js";

/** A provider's `chat.completion`, as far as the fast path reads it (the rest passes through). */
export interface UpstreamCompletion {
  choices: Array<{
    message?: {
      content?: string | null;
      tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
    };
  }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  [field: string]: unknown;
}

/**
 * POST `payload` (a `chat.completions` body) to `upstream`'s `/chat/completions` with its key, under
 * `signal` and the upstream's own `timeoutMs` ({@link callUpstream}).
 *
 * @example
 * ```ts
 * const completion = await callMember(member.upstream, JSON.stringify(body), signal, member.name);
 * ```
 */
export function callMember(
  upstream: ServerUpstream,
  payload: string,
  signal: AbortSignal,
  member: string,
): Promise<UpstreamCompletion> {
  const url = `${upstream.baseURL.replace(/\/+$/, "")}/chat/completions`;
  const timed =
    upstream.timeoutMs === undefined ? signal : eitherSignal(signal, AbortSignal.timeout(upstream.timeoutMs));
  return callUpstream(url, upstream.apiKey, payload, timed, member);
}

/**
 * The provider's completion as the client gets it: named `model`, with `usage` (the gateway's count)
 * when the provider sent none.
 */
export function answeredAs(completion: UpstreamCompletion, model: string, usage: CompletionUsage) {
  return {
    ...completion,
    model,
    ...((completion.usage === undefined || completion.usage === null) && { usage }),
  };
}

/**
 * How long an idle connection to a provider is kept (ms); a provider that announces a shorter
 * keep-alive timeout (`Keep-Alive: timeout=N`; Node's servers send 5 s) has its connections closed a
 * second before it. Node reads that announcement only for an agent with a `timeout`; without one, a
 * connection the provider was closing could take the next request, which then failed with `socket
 * hang up` (a 502). On a connection in use the timeout does nothing (a long generation is not cut).
 * Such a failure is not retried: a reset cannot tell a request the provider never read from one it
 * read and then dropped, and a second send could be billed twice.
 */
const IDLE_CONNECTION_MS = 4_000;

/** Keep-alive connections to the members' providers, shared by every gateway of the process. */
const UPSTREAM_AGENTS = {
  http: new HttpAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }),
  https: new HttpsAgent({ keepAlive: true, timeout: IDLE_CONNECTION_MS }),
};

/**
 * POST `payload` to an OpenAI-compatible `url` ({@link postJson}: `node:http`, keep-alive). A
 * provider's 4xx passes through with its own body, except 401/403 (the gateway's key was refused)
 * → 502; 5xx and an unreadable answer → 502.
 */
async function callUpstream(
  url: string,
  apiKey: string | undefined,
  payload: string,
  signal: AbortSignal,
  member: string,
): Promise<UpstreamCompletion> {
  const response = await postJson(
    url,
    {
      "content-type": "application/json",
      accept: "application/json",
      ...(apiKey !== undefined && { authorization: `Bearer ${apiKey}` }),
    },
    payload,
    signal,
  );
  const { text } = response;
  if (!(response.status >= 200 && response.status < 300)) {
    const status = response.status;
    if (status < 400 || status >= 500 || status === 401 || status === 403) throw providerError(member, status);
    const error = parsedJson(text)?.error as Record<string, unknown> | undefined;
    throw new OpenAIHttpError(status, {
      message:
        typeof error?.message === "string"
          ? error.message
          : `The provider of '${member}' refused the request (HTTP ${status}).`,
      type: (typeof error?.type === "string"
        ? error.type
        : "invalid_request_error") as OpenAIErrorBody["error"]["type"],
      code: typeof error?.code === "string" ? error.code : null,
      param: typeof error?.param === "string" ? error.param : null,
    });
  }
  const completion = parsedJson(text);
  if (completion === undefined || !Array.isArray(completion.choices)) throw providerError(member);
  return completion as UpstreamCompletion;
}

/**
 * POST `body` to `url` with `node:http(s)` on a keep-alive agent: `{ status, text }` once the whole
 * answer is read. Lighter than `fetch` (no web streams, no copy of the body kept for a redirect),
 * which cost the fast paths about a tenth of the gateway's CPU. An abort of `signal` rejects with its
 * reason, as `fetch` does.
 */
function postJson(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<{ status: number; text: string }> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const secure = url.startsWith("https:");
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      reject(error);
    };
    const onResponse = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", fail);
      response.on("close", () => fail(new Error(`socket closed before the answer of ${url} was read`)));
      response.on("end", () => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
      });
    };
    const outgoing = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: "POST",
        agent: secure ? UPSTREAM_AGENTS.https : UPSTREAM_AGENTS.http,
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      },
      onResponse,
    );
    const onAbort = () => {
      fail(signal.reason);
      outgoing.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    outgoing.on("error", fail);
    outgoing.end(body);
  });
}

/** A signal aborted with the first of `a`, `b` to abort (`AbortSignal.any`, which Node 20.0–20.2 lack). */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  const controller = new AbortController();
  for (const signal of [a, b]) {
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}

// ---------------------------------------------------------------------------
// Reading a reply
// ---------------------------------------------------------------------------

/** A provider's completion as the message the router's accounting reads (content, tool calls, usage). */
export function replyMessage(completion: UpstreamCompletion): AIMessage {
  const { content, tool_calls } = replyOf(completion);
  const reported = reportedUsage(completion);
  const usage_metadata =
    reported === undefined
      ? undefined
      : {
          input_tokens: reported.prompt_tokens,
          output_tokens: reported.completion_tokens,
          total_tokens: reported.prompt_tokens + reported.completion_tokens,
        };
  return new AIMessage({ content, tool_calls, ...(usage_metadata !== undefined && { usage_metadata }) });
}

/** A provider's reply as `countOutputTokens` reads it (content and tool calls). */
export function replyOf(completion: UpstreamCompletion): Pick<AIMessage, "content" | "tool_calls"> {
  const message = completion.choices[0]?.message;
  const tool_calls = (message?.tool_calls ?? []).map((call) => ({
    name: call.function?.name ?? "",
    args: (parsedJson(call.function?.arguments ?? "") ?? {}) as Record<string, unknown>,
    ...(call.id !== undefined && { id: call.id }),
  }));
  return { content: message?.content ?? "", tool_calls };
}

/** The prompt and completion tokens the provider reported, when it reported both as counts. */
export function reportedUsage(
  completion: UpstreamCompletion,
): { prompt_tokens: number; completion_tokens: number } | undefined {
  const reported = completion.usage;
  if (reported === undefined || reported === null) return undefined;
  const { prompt_tokens, completion_tokens } = reported;
  return isCount(prompt_tokens) && isCount(completion_tokens) ? { prompt_tokens, completion_tokens } : undefined;
}

function parsedJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}
