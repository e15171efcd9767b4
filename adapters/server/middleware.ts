/**
 * The gateway's operational middleware (Hono): the request body size limit, the request id and the
 * per-key rate limit. `app.ts` mounts them around its auth, in the order of a request's way through
 * the gateway (see `types.ts`):
 *
 *   request id → body limit → auth (sets `c.get("gavelKey")`) → rate limit → routes
 *
 * (The request id first, so that a refused body's 413 carries one too.)
 *
 * The contract with the auth middleware: once a bearer key is verified, auth sets the Hono context
 * variable `gavelKey` (type {@link VirtualKey}, see {@link GavelVariables}) before calling `next()`.
 * The rate limit reads it; a request without it (a route without auth, such as `/health`) is not
 * rate limited.
 */
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { GavelVariables, ServerMetrics, VirtualKey } from "./types.js";

/** The Hono environment of the gateway's middleware. */
export type GavelEnv = { Variables: GavelVariables };

/** The largest request body accepted by default: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Requests per minute of a key whose record sets none, by default. */
export const DEFAULT_REQUESTS_PER_MINUTE = 600;

/** The header carrying the request id, in and out. */
export const REQUEST_ID_HEADER = "x-request-id";

/** An OpenAI-shaped error response: `{ error: { message, type, code } }`. */
function openAIError(
  c: Context,
  status: 413 | 429,
  error: { message: string; type: string; code: string },
  headers: Record<string, string> = {},
): Response {
  return c.json({ error }, status, headers);
}

/** Options of {@link createBodyLimit}. */
export interface BodyLimitOptions {
  /** The largest body accepted, in bytes. Default {@link DEFAULT_MAX_BODY_BYTES} (1 MiB). */
  maxBytes?: number;
}

/**
 * Refuse a request whose body is larger than `maxBytes` with `413` and an OpenAI-shaped error
 * (`code: "request_too_large"`), before anything reads it: a `content-length` over the limit is
 * refused unread; a chunked body is read up to the limit and no further (`hono/body-limit`).
 *
 * @param options - {@link BodyLimitOptions}
 * @returns Hono middleware; mount it first.
 * @throws TypeError when `maxBytes` is not a positive integer.
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createBodyLimit } from "langchain-gavel/server";
 *
 * const app = new Hono();
 * app.use(createBodyLimit({ maxBytes: 256 * 1024 }));
 * // a 300 KB POST → 413 {"error":{"message":"The request body is larger than 262144 bytes …","type":"invalid_request_error","code":"request_too_large"}}
 * ```
 */
export function createBodyLimit(options: BodyLimitOptions = {}): MiddlewareHandler {
  const { maxBytes = DEFAULT_MAX_BODY_BYTES } = options;
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) {
    throw new TypeError(`createBodyLimit: maxBytes must be a positive integer of bytes (got ${String(maxBytes)})`);
  }
  const limit = bodyLimit({
    maxSize: maxBytes,
    onError: (c) =>
      openAIError(c, 413, {
        message: `The request body is larger than ${maxBytes} bytes (${formatBytes(maxBytes)}), the gateway's limit: send a smaller body, or raise limits.bodyBytes in the server's config (serve.yaml).`,
        type: "invalid_request_error",
        code: "request_too_large",
      }),
  });
  return async function gavelBodyLimit(c, next) {
    return limit(c, next);
  };
}

/** A client's request id is kept when it is up to 255 of these characters. */
const SANE_REQUEST_ID = /^[\w=-]{1,255}$/;

/**
 * Give every request an id: the client's `x-request-id` when it sends a sane one (1 to 255 of
 * `[A-Za-z0-9_=-]`), else a new UUID. The id is set as the context variable `requestId` (the same
 * name as `hono/request-id`'s, for the log line) and set on the response's `x-request-id` once the
 * handler has answered — also on a raw `Response` (a stream), whose headers `c.header()` before
 * `next()` would not reach.
 *
 * @param options - `generate`: the id of a request without one. Default `crypto.randomUUID()`.
 * @returns Hono middleware; mount it first, so that every response, refused ones too, carries an id.
 * @example
 * ```ts
 * app.use(createRequestId());
 * app.get("/ping", (c) => c.text(c.get("requestId")));
 * ```
 */
export function createRequestId(options: { generate?: () => string } = {}): MiddlewareHandler<GavelEnv> {
  const { generate = () => crypto.randomUUID() } = options;
  return async function gavelRequestId(c, next) {
    const presented = c.req.header(REQUEST_ID_HEADER);
    const id = presented !== undefined && SANE_REQUEST_ID.test(presented) ? presented : generate();
    c.set("requestId", id);
    await next();
    setResponseHeaders(c, { [REQUEST_ID_HEADER]: id });
  };
}

/** Set headers on the response the handler gave (copying it first when its headers are immutable, as a `fetch` response's are). */
function setResponseHeaders(c: Context, headers: Record<string, string>): void {
  try {
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  } catch {
    c.res = new Response(c.res.body, c.res);
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  }
}

/** Options of {@link createRateLimit}. */
export interface RateLimitOptions {
  /**
   * Requests per minute of a key whose record has no `requestsPerMinute`. Default
   * {@link DEFAULT_REQUESTS_PER_MINUTE}. `Infinity`: such keys are not limited.
   */
  requestsPerMinute?: number;
  /** Counts each refusal (`metrics.rejected("rate", keyId)`). */
  metrics?: Pick<ServerMetrics, "rejected">;
  /** The clock, in ms. Default `Date.now`. */
  now?: () => number;
  /** Buckets kept before the full (idle) ones are forgotten. Default 10,000. */
  maxKeys?: number;
}

/** One key's token bucket. */
interface Bucket {
  /** Requests available now (fractional while refilling). */
  tokens: number;
  /** When `tokens` was computed, in ms. */
  at: number;
  /** The key's rate, in requests per minute (also the bucket's size). */
  rate: number;
}

/**
 * A per-key rate limit: a token bucket per key id, in memory, holding up to `requestsPerMinute`
 * requests and refilled at `requestsPerMinute / 60` per second (so a key may burst a whole
 * minute's requests, then goes at its rate). The rate is the key's `requestsPerMinute`, else the
 * `requestsPerMinute` option.
 *
 * A refused request gets `429` with an OpenAI-shaped error (`type: "requests"`,
 * `code: "rate_limit_exceeded"`), `retry-after` (whole seconds until one request is available) and
 * `x-ratelimit-limit-requests` / `x-ratelimit-remaining-requests`, which an allowed request also
 * carries.
 *
 * The buckets live in this process: with N replicas a key may make N times its rate. The budgets
 * (in a shared store) are the limit across replicas; the rate limit protects one replica.
 *
 * Reads the verified key from `c.get("gavelKey")`, which the auth middleware sets (see
 * {@link GavelVariables}): mount it after auth. A request without a key passes.
 *
 * @param options - {@link RateLimitOptions}
 * @returns Hono middleware.
 * @throws TypeError when `requestsPerMinute` is below 1 (a bucket smaller than one request never allows one).
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { createRateLimit, createServerMetrics, type GavelEnv } from "langchain-gavel/server";
 *
 * const metrics = createServerMetrics();
 * const app = new Hono<GavelEnv>();
 * app.use("/v1/*", auth); // sets c.set("gavelKey", key) once the bearer key is verified
 * app.use("/v1/*", createRateLimit({ requestsPerMinute: 120, metrics }));
 * ```
 */
export function createRateLimit(options: RateLimitOptions = {}): MiddlewareHandler<GavelEnv> {
  const { requestsPerMinute = DEFAULT_REQUESTS_PER_MINUTE, metrics, now = Date.now, maxKeys = 10_000 } = options;
  checkRate(requestsPerMinute, "createRateLimit: requestsPerMinute");
  const buckets = new Map<string, Bucket>();

  /** Take one request from `key`'s bucket; the ms to wait for one when it is empty. */
  const take = (key: VirtualKey, rate: number): { allowed: boolean; remaining: number; waitMs: number } => {
    const at = now();
    const perMs = rate / 60_000;
    const held = buckets.get(key.id);
    const tokens = held === undefined ? rate : Math.min(rate, held.tokens + Math.max(0, at - held.at) * perMs);
    if (held === undefined && buckets.size >= maxKeys) forgetIdle(buckets, at);
    if (tokens >= 1) {
      buckets.set(key.id, { tokens: tokens - 1, at, rate });
      return { allowed: true, remaining: Math.floor(tokens - 1), waitMs: 0 };
    }
    buckets.set(key.id, { tokens, at, rate });
    return { allowed: false, remaining: 0, waitMs: (1 - tokens) / perMs };
  };

  return async function gavelRateLimit(c, next) {
    const key = c.get("gavelKey");
    if (key === undefined) return next();
    const rate = key.requestsPerMinute ?? requestsPerMinute;
    if (rate === Number.POSITIVE_INFINITY) return next();
    checkRate(rate, `key "${key.id}": requestsPerMinute`);
    const { allowed, remaining, waitMs } = take(key, rate);
    const limitHeaders = {
      "x-ratelimit-limit-requests": String(rate),
      "x-ratelimit-remaining-requests": String(remaining),
    };
    if (!allowed) {
      metrics?.rejected("rate", key.id);
      const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
      return openAIError(
        c,
        429,
        {
          message: `Rate limit reached for key "${key.id}": ${rate} requests per minute. Retry in ${retryAfter} s.`,
          type: "requests",
          code: "rate_limit_exceeded",
        },
        { ...limitHeaders, "retry-after": String(retryAfter), "x-ratelimit-reset-requests": `${retryAfter}s` },
      );
    }
    await next();
    setResponseHeaders(c, limitHeaders);
  };
}

function checkRate(rate: number, where: string): void {
  if (typeof rate !== "number" || Number.isNaN(rate) || rate < 1) {
    throw new TypeError(`${where} must be at least 1 request per minute, or Infinity (got ${String(rate)})`);
  }
}

/** Drop the buckets that have refilled (an idle key's bucket is the same as a new one). */
function forgetIdle(buckets: Map<string, Bucket>, at: number): void {
  for (const [id, bucket] of buckets) {
    if (bucket.tokens + ((at - bucket.at) * bucket.rate) / 60_000 >= bucket.rate) buckets.delete(id);
  }
}

function formatBytes(bytes: number): string {
  if (bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} B`;
}
