import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import {
  createBodyLimit,
  createRateLimit,
  createRequestId,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_REQUESTS_PER_MINUTE,
  type GavelEnv,
  type RateLimitOptions,
} from "../../adapters/server/middleware.js";
import type { VirtualKey } from "../../adapters/server/types.js";

/** A stand-in for CORE's auth: the bearer value is the key id; it sets `gavelKey` as auth does. */
function appWithKeys(keys: VirtualKey[], rateOptions: RateLimitOptions) {
  const app = new Hono<GavelEnv>();
  app.use(createRequestId());
  app.use(createBodyLimit({ maxBytes: 64 }));
  app.use("/v1/*", async (c, next) => {
    const id = c.req.header("authorization")?.replace(/^Bearer /, "");
    const key = keys.find((candidate) => candidate.id === id);
    if (key === undefined)
      return c.json({ error: { message: "unknown key", type: "auth", code: "invalid_api_key" } }, 401);
    c.set("gavelKey", key);
    await next();
  });
  app.use("/v1/*", createRateLimit(rateOptions));
  app.post("/v1/echo", async (c) => c.json({ got: await c.req.text(), id: c.get("requestId") }));
  // A raw Response (a stream, as a chat completion's SSE is): headers must reach it too.
  app.get(
    "/v1/stream",
    () =>
      new Response(
        new ReadableStream({
          start(controller) {
            controller.enqueue(new TextEncoder().encode("data: [DONE]\n\n"));
            controller.close();
          },
        }),
        { headers: { "content-type": "text/event-stream" } },
      ),
  );
  app.get("/health", (c) => c.text("ok"));
  return app;
}

const bearer = (id: string) => ({ authorization: `Bearer ${id}` });

describe("createBodyLimit", () => {
  it("refuses a body over the limit with 413 in OpenAI's error shape, by content-length", async () => {
    const app = appWithKeys([{ id: "k", name: "k" }], {});
    const response = await app.request("/v1/echo", { method: "POST", body: "x".repeat(65), headers: bearer("k") });
    expect(response.status).toBe(413);
    const body = (await response.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.code).toBe("request_too_large");
    expect(body.error.message).toContain("larger than 64 bytes");
    expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("refuses a chunked body over the limit (no content-length) and passes one within it", async () => {
    const app = appWithKeys([{ id: "k", name: "k" }], {});
    const chunked = (size: number) =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (let sent = 0; sent < size; sent += 16)
            controller.enqueue(new Uint8Array(Math.min(16, size - sent)).fill(97));
          controller.close();
        },
      });
    const over = await app.request("/v1/echo", {
      method: "POST",
      body: chunked(100),
      headers: { ...bearer("k"), "transfer-encoding": "chunked" },
      duplex: "half",
    } as RequestInit);
    expect(over.status).toBe(413);
    const within = await app.request("/v1/echo", {
      method: "POST",
      body: chunked(64),
      headers: { ...bearer("k"), "transfer-encoding": "chunked" },
      duplex: "half",
    } as RequestInit);
    expect(within.status).toBe(200);
    expect(((await within.json()) as { got: string }).got).toBe("a".repeat(64));
  });

  it("defaults to 1 MiB and names a bad maxBytes", async () => {
    expect(DEFAULT_MAX_BODY_BYTES).toBe(1_048_576);
    const app = new Hono();
    app.use(createBodyLimit());
    app.post("/", async (c) => c.text(String((await c.req.text()).length)));
    expect((await app.request("/", { method: "POST", body: "x".repeat(1_048_576) })).status).toBe(200);
    const over = await app.request("/", { method: "POST", body: "x".repeat(1_048_577) });
    expect(over.status).toBe(413);
    expect(((await over.json()) as { error: { message: string } }).error.message).toContain("(1 MiB)");
    expect(() => createBodyLimit({ maxBytes: 0 })).toThrow(/maxBytes must be a positive integer/);
  });
});

describe("createRequestId", () => {
  it("keeps a sane client id, replaces an unsafe one, and reaches raw (streamed) responses", async () => {
    const app = appWithKeys([{ id: "k", name: "k" }], {});
    const kept = await app.request("/v1/echo", {
      method: "POST",
      body: "hi",
      headers: { ...bearer("k"), "x-request-id": "abc-123_=" },
    });
    expect(kept.headers.get("x-request-id")).toBe("abc-123_=");
    expect(((await kept.json()) as { id: string }).id).toBe("abc-123_=");
    const replaced = await app.request("/health", { headers: { "x-request-id": "bad id; injected" } });
    expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const tooLong = await app.request("/health", { headers: { "x-request-id": "a".repeat(256) } });
    expect(tooLong.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const stream = await app.request("/v1/stream", { headers: bearer("k") });
    expect(stream.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const refused = await app.request("/v1/echo", { method: "POST", body: "hi", headers: bearer("nobody") });
    expect(refused.status).toBe(401);
    expect(refused.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("sets the id on a response whose headers are immutable (a fetch response passed through)", async () => {
    const app = new Hono<GavelEnv>();
    app.use(createRequestId({ generate: () => "fixed" }));
    app.get("/", () => fetch("data:text/plain,hi"));
    const response = await app.request("/");
    expect(response.headers.get("x-request-id")).toBe("fixed");
  });
});

describe("createRateLimit", () => {
  it("lets a key burst its per-minute rate, then refuses with 429, retry-after and the OpenAI shape", async () => {
    let now = 0;
    const rejected: Array<[string, string | undefined]> = [];
    const app = appWithKeys([{ id: "slow", name: "slow", requestsPerMinute: 2 }], {
      now: () => now,
      metrics: { rejected: (reason, keyId) => rejected.push([reason, keyId]) },
    });
    const call = () => app.request("/v1/echo", { method: "POST", body: "hi", headers: bearer("slow") });
    const first = await call();
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    expect((await call()).status).toBe(200);
    const refused = await call();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("30"); // one request every 30 s at 2 per minute
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    expect(refused.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await refused.json()) as { error: { message: string; type: string; code: string } };
    expect(body.error).toEqual({
      message: 'Rate limit reached for key "slow": 2 requests per minute. Retry in 30 s.',
      type: "requests",
      code: "rate_limit_exceeded",
    });
    expect(rejected).toEqual([["rate", "slow"]]);
    now = 20_000; // 2/3 of a request refilled: still refused, 10 s to go
    const early = await call();
    expect(early.status).toBe(429);
    expect(early.headers.get("retry-after")).toBe("10");
    now = 30_000;
    expect((await call()).status).toBe(200);
    expect((await call()).status).toBe(429);
  });

  it("keeps one bucket per key, uses the server default for keys without a rate, and skips requests without a key", async () => {
    let now = 0;
    const app = appWithKeys(
      [
        { id: "a", name: "a", requestsPerMinute: 1 },
        { id: "b", name: "b", requestsPerMinute: 1 },
        { id: "default", name: "default" },
        { id: "open", name: "open", requestsPerMinute: Number.POSITIVE_INFINITY },
      ],
      { requestsPerMinute: 3, now: () => now },
    );
    const call = (id: string) => app.request("/v1/echo", { method: "POST", body: "hi", headers: bearer(id) });
    expect((await call("a")).status).toBe(200);
    expect((await call("a")).status).toBe(429);
    expect((await call("b")).status).toBe(200);
    const statuses = [];
    for (let index = 0; index < 4; index++) statuses.push((await call("default")).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    for (let index = 0; index < 50; index++) expect((await call("open")).status).toBe(200);
    for (let index = 0; index < 5; index++) expect((await app.request("/health")).status).toBe(200);
    now = 60_000;
    expect((await call("a")).status).toBe(200);
  });

  it("sets its headers on a streamed response, and has a documented default", async () => {
    expect(DEFAULT_REQUESTS_PER_MINUTE).toBe(600);
    const app = appWithKeys([{ id: "k", name: "k", requestsPerMinute: 5 }], {});
    const response = await app.request("/v1/stream", { headers: bearer("k") });
    expect(await response.text()).toBe("data: [DONE]\n\n");
    expect(response.headers.get("x-ratelimit-remaining-requests")).toBe("4");
  });

  it("forgets idle keys' buckets beyond maxKeys, so memory stays bounded without refusing anyone wrongly", async () => {
    let now = 0;
    const keys = Array.from({ length: 5 }, (_, index) => ({
      id: `k${index}`,
      name: `k${index}`,
      requestsPerMinute: 1,
    }));
    const app = appWithKeys(keys, { now: () => now, maxKeys: 2 });
    const call = (id: string) => app.request("/v1/echo", { method: "POST", body: "hi", headers: bearer(id) });
    for (const key of keys) expect((await call(key.id)).status).toBe(200);
    expect((await call("k4")).status).toBe(429); // its bucket is kept: it is not idle
    now = 60_000;
    for (const key of keys) expect((await call(key.id)).status).toBe(200);
  });

  it("names a bad rate", () => {
    expect(() => createRateLimit({ requestsPerMinute: 0 })).toThrow(
      /requestsPerMinute must be at least 1 request per minute/,
    );
    expect(() => createRateLimit({ requestsPerMinute: 0.5 })).toThrow(/got 0.5/);
  });
});
