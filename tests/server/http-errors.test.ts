/**
 * Every error of the gateway, with plain `fetch` (what curl sees): its status, its OpenAI-shaped
 * body `{ error: { message, type, code, param } }` and its headers.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createGavelApp } from "../../adapters/server/app.js";
import { createBodyLimit, createRateLimit, createRequestId } from "../../adapters/server/middleware.js";
import { BUDGET_REMAINING_HEADER, BUDGET_RESETS_HEADER } from "../../adapters/server/openai.js";
import type { RequestObservation, ServerMetrics } from "../../adapters/server/types.js";
import { countTextTokens } from "../../src/budget/index.js";
import { ConfigError } from "../../src/errors.js";
import type { ChargeInput, LedgerWriter } from "../../src/ledger/types.js";
import { ScriptedChatModel } from "../../src/testing.js";
import { BROKE_KEY, type Gateway, MINI_PRICE, startGateway, TEST_KEY } from "./gateway-fixture.js";

/** Requests whose user turn says HANG take longer than the gateway's deadline; FAIL gets a provider 500. */
let gateway: Gateway;
beforeAll(async () => {
  countTextTokens(
    "Load the tokenizer now: its first use takes longer than the gateway's 300 ms deadline.",
    "gpt-4o-mini",
  );
  gateway = await startGateway({
    answer: (body) => {
      const text = JSON.stringify(body.messages);
      if (text.includes("FAIL")) return { status: 500, error: { message: "upstream exploded (sk-secret-123)" } };
      return "Paris.";
    },
    generationMs: (body) => (JSON.stringify(body.messages).includes("HANG") ? 3_000 : 0),
    app: { timeoutMs: 300 },
  });
});
afterAll(async () => {
  await gateway.close();
});

interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

async function post(body: unknown, options: { key?: string | null; raw?: string } = {}) {
  const { key = TEST_KEY, raw } = options;
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(key !== null && { authorization: `Bearer ${key}` }) },
    body: raw ?? JSON.stringify(body),
  });
  return { response, body: (await response.json()) as ErrorBody };
}

const hello = [{ role: "user", content: "Capital of France?" }];

describe("the gateway's errors, over HTTP", () => {
  it("malformed JSON → 400 invalid_json", async () => {
    const { response, body } = await post(undefined, { raw: '{"model": "mini", "messages": [' });
    expect(response.status).toBe(400);
    expect(response.headers.get("content-type")).toMatch(/application\/json/);
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "invalid_json", param: null });
    expect(body.error.message).toMatch(/could not parse the JSON body/);
  });

  it.each([
    ["messages is a string", { model: "mini", messages: "hi" }, "messages"],
    ["no model", { messages: hello }, "model"],
    ["temperature is a string", { model: "mini", messages: hello, temperature: "hot" }, "temperature"],
    ["content is a number", { model: "mini", messages: [{ role: "user", content: 42 }] }, "messages[0].content"],
    ["an unknown role", { model: "mini", messages: [{ role: "robot", content: "hi" }] }, "messages[0].role"],
    [
      "a tool message without tool_call_id",
      { model: "mini", messages: [...hello, { role: "tool", content: "{}" }] },
      "messages[1].tool_call_id",
    ],
    ["max_tokens is negative", { model: "mini", messages: hello, max_tokens: -5 }, "max_tokens"],
  ])("wrong types (%s) → 400 naming the field", async (_, request, param) => {
    const { response, body } = await post(request);
    expect(response.status).toBe(400);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param });
    expect(body.error.message).toContain(`'${param}'`);
  });

  it("n = 2 → 400 naming n and the fix", async () => {
    const { response, body } = await post({ model: "mini", messages: hello, n: 2 });
    expect(response.status).toBe(400);
    expect(body.error).toMatchObject({ type: "invalid_request_error", param: "n" });
    expect(body.error.message).toMatch(/only n = 1 is supported/);
  });

  it("an image part → 400 naming the part", async () => {
    const content = [
      { type: "text", text: "What is this?" },
      { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
    ];
    const { response, body } = await post({ model: "mini", messages: [{ role: "user", content }] });
    expect(response.status).toBe(400);
    expect(body.error.param).toBe("messages[0].content[1].type");
    expect(body.error.message).toMatch(/'image_url' parts are not supported.*text parts only/);
  });

  it("tool call arguments that are not JSON → 400 naming them", async () => {
    const messages = [
      ...hello,
      { role: "assistant", tool_calls: [{ id: "c1", type: "function", function: { name: "f", arguments: "{oops" } }] },
      { role: "tool", tool_call_id: "c1", content: "{}" },
    ];
    const { response, body } = await post({ model: "mini", messages });
    expect(response.status).toBe(400);
    expect(body.error.param).toBe("messages[1].tool_calls[0].function.arguments");
  });

  it("unknown fields are accepted and ignored", async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
      body: JSON.stringify({ model: "mini", messages: hello, brand_new_option: { x: 1 }, metadata: { team: "a" } }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { model: string }).model).toBe("mini");
  });

  it("an unknown model → 404 model_not_found listing the valid ones", async () => {
    const { response, body } = await post({ model: "gpt-5-turbo", messages: hello });
    expect(response.status).toBe(404);
    expect(body.error).toMatchObject({ type: "invalid_request_error", code: "model_not_found", param: "model" });
    expect(body.error.message).toContain("'gpt-5-turbo'");
    expect(body.error.message).toContain("gavel/auto, mini, large");
  });

  it("a missing key → 401 invalid_api_key", async () => {
    const { response, body } = await post({ model: "mini", messages: hello }, { key: null });
    expect(response.status).toBe(401);
    expect(body.error).toMatchObject({ code: "invalid_api_key" });
    expect(body.error.message).toMatch(/Authorization: Bearer/);
  });

  it("a wrong key → 401 invalid_api_key, the key not echoed", async () => {
    const { response, body } = await post({ model: "mini", messages: hello }, { key: "gvl-wrong-key-42" });
    expect(response.status).toBe(401);
    expect(body.error).toMatchObject({ code: "invalid_api_key" });
    expect(JSON.stringify(body)).not.toContain("gvl-wrong-key-42");
  });

  it("/v1/models needs a key too", async () => {
    const response = await fetch(`${gateway.baseURL}/models`);
    expect(response.status).toBe(401);
  });

  it("an exhausted budget → 402 insufficient_quota with the remaining budget and the reset time (body and headers)", async () => {
    const before = gateway.provider.requests.length;
    const { response, body } = await post({ model: "mini", messages: hello }, { key: BROKE_KEY });
    expect(response.status).toBe(402);
    expect(body.error).toMatchObject({ type: "insufficient_quota", code: "insufficient_quota" });
    const resetsAt = response.headers.get(BUDGET_RESETS_HEADER);
    expect(resetsAt).toMatch(/^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
    expect(Number(response.headers.get(BUDGET_REMAINING_HEADER))).toBeCloseTo(0.000001, 9);
    expect(body.error.message).toContain(`resets at ${resetsAt}`);
    expect(body.error.message).toMatch(/Remaining: \$0\.000001/);
    expect(gateway.provider.requests.length).toBe(before); // refused before any provider call
  });

  it("an exhausted budget on gavel/auto → 402 as well", async () => {
    const { response, body } = await post({ model: "gavel/auto", messages: hello }, { key: BROKE_KEY });
    expect(response.status).toBe(402);
    expect(body.error.code).toBe("insufficient_quota");
    expect(response.headers.get(BUDGET_RESETS_HEADER)).toMatch(/T00:00:00\.000Z$/);
  });

  it("a provider 500 → 502 provider_error, without the provider's message", async () => {
    const { response, body } = await post({ model: "mini", messages: [{ role: "user", content: "FAIL please" }] });
    expect(response.status).toBe(502);
    expect(body.error).toMatchObject({ type: "api_error", code: "provider_error" });
    expect(body.error.message).toContain("'mini'");
    expect(body.error.message).not.toContain("sk-secret");
    expect(response.headers.get("x-gavel-winner")).toBe("mini");
  });

  it("a provider that hangs past the deadline → 504 provider_timeout", async () => {
    const { response, body } = await post({ model: "mini", messages: [{ role: "user", content: "HANG please" }] });
    expect(response.status).toBe(504);
    expect(body.error).toMatchObject({ type: "timeout", code: "provider_timeout" });
    expect(body.error.message).toContain("within 300 ms");
  });

  it("a stream whose provider hangs after its first chunk → the error as the last event, then [DONE]", async () => {
    const response = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
      body: JSON.stringify({ model: "mini", messages: [{ role: "user", content: "HANG please" }], stream: true }),
    });
    // The provider sends its role chunk at once, then hangs: the headers are out, so the error is an event.
    expect(response.status).toBe(200);
    const events = (await response.text()).split("\n\n").filter((event) => event.length > 0);
    expect(events.at(-1)).toBe("data: [DONE]");
    const error = JSON.parse(events.at(-2)?.slice("data: ".length) ?? "{}") as ErrorBody;
    expect(error.error).toMatchObject({ type: "timeout", code: "provider_timeout" });
  });

  it("an unknown route → 404 in OpenAI's shape", async () => {
    const response = await fetch(`${gateway.server.url}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_KEY}` },
      body: "{}",
    });
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).error.code).toBe("not_found");
  });

  it("/health and /ready answer 200 without a key", async () => {
    expect((await fetch(`${gateway.server.url}/health`)).status).toBe(200);
    expect((await fetch(`${gateway.server.url}/ready`)).status).toBe(200);
  });
});

describe("a pinned call its client left", () => {
  it("is stopped at the request's deadline and charged the whole reservation (the provider billed a reply nobody read)", async () => {
    const charges: ChargeInput[] = [];
    const ledger = {
      recordCharge: async (input: ChargeInput) => charges.push(input).toString(),
      recordCharges: async () => [],
      recordAuction: async () => "a",
      recordAuctions: async () => [],
      recordOutcome: async () => undefined,
      recordBudget: async () => undefined,
      recordBudgetSnapshot: async () => undefined,
      close: async () => undefined,
    } as unknown as LedgerWriter;
    const own = await startGateway({ answer: () => "Paris.", generationMs: 3_000, app: { timeoutMs: 600, ledger } });
    try {
      const controller = new AbortController();
      const leaving = fetch(`${own.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ model: "mini", messages: hello }),
        signal: controller.signal,
      });
      await vi.waitFor(() => expect(own.provider.requests.length).toBe(1)); // the provider is generating
      controller.abort();
      await expect(leaving).rejects.toThrow();
      await own.provider.idle();
      expect(own.provider.billing[0]?.clientGone).toBe(true); // the gateway stopped it at its deadline
      // Settled once, at the prompt and the whole output cap, marked estimated and abandoned.
      await vi.waitFor(() => expect(charges).toHaveLength(1));
      expect(charges[0]).toMatchObject({ kind: "settle", outputTokens: 256, estimated: true });
      expect(charges[0]?.metadata).toMatchObject({ path: "pinned", abandoned: true });
      const standing = await own.budgets.standing(await own.testKey(), undefined);
      expect(1 - (standing.usd ?? 1)).toBeCloseTo(charges[0]?.usd ?? 0, 12);
      expect((await fetch(`${own.server.url}/health`)).status).toBe(200);
    } finally {
      await own.close();
    }
  });
});

describe("graceful shutdown", () => {
  it("/ready is 503 while draining; an in-flight stream is cut at the deadline and settled at what was streamed", async () => {
    const own = await startGateway({ answer: () => `Answer:${" step".repeat(300)}`, generationMs: 5_000 });
    try {
      const response = await fetch(`${own.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ model: "mini", messages: hello, stream: true }),
      });
      expect(response.status).toBe(200);
      const reader = (response.body as ReadableStream<Uint8Array>).getReader();
      await reader.read(); // the stream has started
      expect(own.gateway.inflight).toBe(1);
      const draining = own.gateway.drain(200);
      expect((await fetch(`${own.server.url}/ready`)).status).toBe(503);
      const refused = await fetch(`${own.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ model: "mini", messages: hello }),
      });
      expect(refused.status).toBe(503);
      await draining;
      expect(own.gateway.inflight).toBe(0);
      let text = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      expect(text).toContain("server_shutting_down");
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      const standing = await own.budgets.standing(await own.testKey(), undefined);
      const spent = 1 - (standing.usd ?? 1);
      expect(spent).toBeGreaterThan(0); // the prompt and what was streamed, not released at zero
    } finally {
      await own.close();
    }
  });
});

describe("what the gateway reports", () => {
  it("one log line and one metrics observation per request, without prompt text unless logPrompts", async () => {
    const lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
    const observed: RequestObservation[] = [];
    const rejected: Array<[string, string | undefined]> = [];
    const metrics: ServerMetrics = {
      observe: (observation) => observed.push(observation),
      rejected: (reason, keyId) => rejected.push([reason, keyId]),
      render: async () => "",
      contentType: "text/plain",
    };
    const own = await startGateway({
      answer: () => "Paris.",
      app: { logger: { log: (level, event, fields) => lines.push({ level, event, fields }) }, metrics },
    });
    try {
      const call = (key: string, extra: Record<string, unknown> = {}) =>
        fetch(`${own.baseURL}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
          body: JSON.stringify({ model: "mini", messages: [{ role: "user", content: "SECRET-PROMPT" }], ...extra }),
        });
      expect((await call(TEST_KEY, { brand_new_option: 1 })).status).toBe(200);
      expect((await call(BROKE_KEY)).status).toBe(402);

      expect(lines.map((line) => [line.level, line.fields.status])).toEqual([
        ["info", 200],
        ["warn", 402],
      ]);
      expect(lines[0]?.fields).toMatchObject({ member: "mini", path: "pinned", ignoredFields: ["brand_new_option"] });
      expect(JSON.stringify(lines)).not.toContain("SECRET-PROMPT");
      expect(JSON.stringify(lines)).not.toContain(TEST_KEY);
      expect(observed).toHaveLength(2);
      const billed = own.provider.billing[0];
      expect(observed[0]).toMatchObject({
        route: "chat",
        status: 200,
        member: "mini",
        path: "pinned",
        stream: false,
        inputTokens: billed?.promptTokens,
        outputTokens: billed?.completionTokens,
      });
      expect(observed[0]?.usd).toBeCloseTo(own.provider.billedUsd(MINI_PRICE), 12);
      expect(observed[1]?.status).toBe(402);
      expect(rejected).toHaveLength(1);
      expect(rejected[0]?.[0]).toBe("budget");
    } finally {
      await own.close();
    }
  });

  it("logPrompts: the prompt and the answer are in the log line", async () => {
    const lines: Array<Record<string, unknown>> = [];
    const own = await startGateway({
      answer: () => "Paris.",
      app: { logPrompts: true, logger: { log: (_level, _event, fields) => lines.push(fields) } },
    });
    try {
      const response = await fetch(`${own.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ model: "mini", messages: [{ role: "user", content: "VISIBLE-PROMPT" }] }),
      });
      expect(response.status).toBe(200);
      expect(JSON.stringify(lines)).toContain("VISIBLE-PROMPT");
      expect(lines[0]?.answer).toBe("Paris.");
    } finally {
      await own.close();
    }
  });

  it("a ConfigError inside the request path → 500 with a generic message (no internals)", async () => {
    const own = await startGateway({
      app: {
        router: () => {
          throw new ConfigError("router options", {
            issues: [{ path: ["ledger", "path"], message: "cannot open /srv/secret/ledger.db" }],
          } as never);
        },
      },
    });
    try {
      const response = await fetch(`${own.baseURL}/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
        body: JSON.stringify({ model: "gavel/auto", messages: hello }),
      });
      expect(response.status).toBe(500);
      const body = (await response.json()) as ErrorBody;
      expect(body.error).toMatchObject({ type: "server_error", code: "internal_error" });
      expect(JSON.stringify(body)).not.toContain("/srv/secret");
    } finally {
      await own.close();
    }
  });
});

describe("every request is counted", () => {
  it("refused before the chat route (413, 401, 429), /v1/models, and a chat request refused while draining (503): once each", async () => {
    const observed: RequestObservation[] = [];
    const metrics: ServerMetrics = {
      observe: (observation) => observed.push(observation),
      rejected: () => undefined,
      render: async () => "",
      contentType: "text/plain",
    };
    const own = await startGateway({
      answer: () => "Paris.",
      app: {
        metrics,
        middleware: [createRequestId(), createBodyLimit({ maxBytes: 1_000 })],
        keyedMiddleware: [createRateLimit({ requestsPerMinute: 2, metrics })],
      },
    });
    try {
      const chat = (key: string | undefined, content = "Capital of France?") =>
        fetch(`${own.baseURL}/chat/completions`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(key !== undefined && { authorization: `Bearer ${key}` }) },
          body: JSON.stringify({ model: "mini", messages: [{ role: "user", content }] }),
        });
      // Two requests a minute: /v1/models takes one (the rate limit covers /v1/*), the first answered chat the other.
      const models = await fetch(`${own.baseURL}/models`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
      const statuses = [models.status];
      statuses.push((await chat(undefined)).status);
      statuses.push((await chat(TEST_KEY, "x".repeat(2_000))).status);
      statuses.push((await chat(TEST_KEY)).status);
      statuses.push((await chat(TEST_KEY)).status);
      await own.gateway.drain(100);
      statuses.push((await chat(BROKE_KEY)).status);
      expect(statuses).toEqual([200, 401, 413, 200, 429, 503]);
      expect(observed.map((observation) => [observation.route, observation.status])).toEqual([
        ["models", 200],
        ["chat", 401],
        ["chat", 413],
        ["chat", 200],
        ["chat", 429],
        ["chat", 503],
      ]);
      expect(observed[3]).toMatchObject({ path: "pinned", member: "mini" });
      expect(observed[4]?.keyId).toBe(observed[3]?.keyId);
      expect(observed.every((observation) => observation.durationSeconds >= 0)).toBe(true);
    } finally {
      await own.close();
    }
  });
});

describe("bad gateway options", () => {
  it("refuses a duplicate member name, a member named gavel/auto and a bad timeoutMs, naming the field", () => {
    const model = new ScriptedChatModel({ replies: ["x"] });
    const member = (name: string) => ({ name, model, price: MINI_PRICE, provider: "scripted" });
    const fieldsOf = (run: () => unknown) => {
      try {
        run();
      } catch (error) {
        if (ConfigError.isInstance(error)) return error.fields;
        throw error;
      }
      return [];
    };
    expect(fieldsOf(() => createGavelApp({ members: [member("a"), member("a")] }))).toEqual(["members.1.name"]);
    expect(fieldsOf(() => createGavelApp({ members: [member("gavel/auto")] }))).toEqual(["members.0.name"]);
    expect(fieldsOf(() => createGavelApp({ members: [member("a")], timeoutMs: 0 }))).toEqual(["timeoutMs"]);
    expect(fieldsOf(() => createGavelApp({ members: [] }))).toEqual(["members"]);
  });
});
