/**
 * Fixes from the review of `gavel serve` (adapters/server/app.ts), each reproduced first:
 * the reserved output cap always reaches the provider; a stream whose client stops reading is
 * settled at its deadline and on drain; members of one model at different prices are refused;
 * `/metrics` needs a key when keys are configured; a malformed model id is a 404; the fast path
 * never forwards `store`/`metadata`; a router whose members all refused the request passes the 4xx on.
 */
import { ChatOpenAI } from "@langchain/openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createGavelApp, type GavelApp, type GavelAppOptions } from "../../adapters/server/app.js";
import { createServerBudgets } from "../../adapters/server/budgets.js";
import { createKeyVerifier } from "../../adapters/server/keys.js";
import { createServerMetrics } from "../../adapters/server/metrics.js";
import { OpenAIHttpError } from "../../adapters/server/openai.js";
import type { ServerBudgets, ServerMember, VirtualKey } from "../../adapters/server/types.js";
import { DEFAULT_PRICES } from "../../src/budget/index.js";
import type { BudgetLimits } from "../../src/budget/types.js";
import { ConfigError } from "../../src/errors.js";
import { AuctionRouterError } from "../../src/router/errors.js";
import type { AuctionRouter } from "../../src/router/index.js";
import {
  type ChatCompletionRequestBody,
  type OpenAICompatibleServer,
  type RawCompletion,
  startOpenAICompatibleServer,
} from "../helpers/openaiServer.js";

const KEY = "gvl-review-0123456789abcdef";
const MINI = DEFAULT_PRICES["gpt-4o-mini"] as { inputPerMillion: number; outputPerMillion: number };

/** A provider that reports 20,000 completion tokens unless asked for fewer (as a real one stops at the cap). */
function longAnswer(body: ChatCompletionRequestBody): RawCompletion {
  const completion = Math.min(20_000, body.max_completion_tokens ?? body.max_tokens ?? 20_000);
  return {
    object: "chat.completion",
    id: "chatcmpl-long",
    created: 1_700_000_000,
    model: "gpt-4o-mini",
    choices: [{ index: 0, message: { role: "assistant", content: "Long." }, logprobs: null, finish_reason: "length" }],
    usage: { prompt_tokens: 10, completion_tokens: completion, total_tokens: 10 + completion },
  };
}

interface Setup {
  provider: OpenAICompatibleServer;
  gateway: GavelApp;
  budgets: ServerBudgets;
  key(): Promise<VirtualKey>;
}

let provider: OpenAICompatibleServer | undefined;
let budgets: ServerBudgets | undefined;
afterEach(async () => {
  await provider?.close();
  await budgets?.close();
  provider = undefined;
  budgets = undefined;
});

/** One member "mini" (gpt-4o-mini) with no output cap of its own; with `fastPath`, its `upstream` too. */
async function setup(
  options: {
    fastPath?: boolean;
    budget?: BudgetLimits;
    answer?: (body: ChatCompletionRequestBody) => RawCompletion | string;
    generationMs?: number;
    app?: Partial<GavelAppOptions>;
  } = {},
): Promise<Setup> {
  provider = await startOpenAICompatibleServer({
    generationMs: options.generationMs ?? 0,
    replies: (body) => (options.answer ?? longAnswer)(body),
  });
  const member: ServerMember = {
    name: "mini",
    model: new ChatOpenAI({
      model: "gpt-4o-mini",
      apiKey: "provider-key",
      maxRetries: 0,
      configuration: { baseURL: provider.baseURL },
    }),
    price: MINI,
    provider: "openai",
    ...(options.fastPath === true && {
      upstream: { baseURL: provider.baseURL, apiKey: "provider-key", model: "gpt-4o-mini" },
    }),
  };
  const keys = createKeyVerifier({
    keys: [{ name: "review", keyEnv: "REVIEW_KEY", budget: options.budget ?? { maxUsd: 1 }, budgetWindow: "1d" }],
    env: { REVIEW_KEY: KEY },
    refreshMs: 0,
  });
  budgets = createServerBudgets({});
  const gateway = createGavelApp({ members: [member], router: { seed: 0 }, keys, budgets, ...options.app });
  return {
    provider,
    gateway,
    budgets,
    key: async () => (await keys.verify(KEY)) as VirtualKey,
  };
}

async function chat(gateway: GavelApp, body: Record<string, unknown>): Promise<Response> {
  return await gateway.app.fetch(
    new Request("http://gateway/v1/chat/completions", {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
      body: JSON.stringify({ messages: [{ role: "user", content: "Tell me everything." }], ...body }),
    }),
  );
}

async function usdLeft(setup: Setup): Promise<number> {
  return (await setup.budgets.standing(await setup.key(), undefined)).usd ?? Number.NaN;
}

function answerBodies(provider: OpenAICompatibleServer): ChatCompletionRequestBody[] {
  return provider.requests
    .filter((request) => request.path.endsWith("/chat/completions"))
    .map((request) => request.body as ChatCompletionRequestBody);
}

describe("the reserved output cap always goes upstream", () => {
  for (const fastPath of [true, false]) {
    it(`${fastPath ? "fast path" : "LangChain path"}: no cap anywhere → the provider is asked for at most 4,096 tokens and the key is never charged above its limit`, async () => {
      const s = await setup({ fastPath, budget: { maxUsd: 0.005 } });
      const response = await chat(s.gateway, { model: "mini" });
      expect(response.status).toBe(200);
      const [body] = answerBodies(s.provider);
      expect(body?.max_tokens ?? body?.max_completion_tokens).toBe(4096);
      expect(await usdLeft(s)).toBeGreaterThanOrEqual(0);
    });
  }
});

describe("a stream whose client stops reading", () => {
  it("is settled at its deadline: nothing stays reserved", async () => {
    const s = await setup({
      answer: () => "one two three four five six seven eight",
      generationMs: 50,
      app: { timeoutMs: 300 },
    });
    const response = await chat(s.gateway, { model: "mini", stream: true });
    expect(response.status).toBe(200); // never read from here on
    await vi.waitFor(() => expect(s.gateway.inflight).toBe(0), { timeout: 5_000 });
    await vi.waitFor(async () => expect(await usdLeft(s)).toBeGreaterThan(1 - 0.0001), { timeout: 5_000 });
    void response.body?.cancel().catch(() => undefined);
  });

  it("is settled on drain, and drain returns only after it", async () => {
    const s = await setup({ answer: () => "one two three four five six seven eight", generationMs: 50 });
    const response = await chat(s.gateway, { model: "mini", stream: true });
    expect(response.status).toBe(200);
    const before = await usdLeft(s);
    expect(before).toBeLessThan(1 - 0.001); // the 4,096-token reservation is held
    await s.gateway.drain(50);
    expect(s.gateway.inflight).toBe(0);
    expect(await usdLeft(s)).toBeGreaterThan(1 - 0.0001);
    void response.body?.cancel().catch(() => undefined);
  });
});

describe("members of one model at different prices", () => {
  it("are refused at construction, naming the member's price", async () => {
    const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "k", maxRetries: 0 });
    const build = () =>
      createGavelApp({
        members: [
          { name: "cheap", model, price: MINI, provider: "openai" },
          { name: "dear", model, price: { inputPerMillion: 5, outputPerMillion: 15 }, provider: "openai" },
        ],
      });
    expect(build).toThrow(/give both the same price/);
    try {
      build();
    } catch (error) {
      expect(ConfigError.isInstance(error)).toBe(true);
    }
    expect(() =>
      createGavelApp({
        members: [
          { name: "a", model, price: MINI, provider: "openai" },
          { name: "b", model, price: { ...MINI }, provider: "openai" },
        ],
      }),
    ).not.toThrow();
  });
});

describe("/metrics", () => {
  it("needs a valid gateway key when keys are configured", async () => {
    const s = await setup({ app: { metrics: createServerMetrics() } });
    expect((await s.gateway.app.fetch(new Request("http://gateway/metrics"))).status).toBe(401);
    const wrong = new Request("http://gateway/metrics", { headers: { authorization: "Bearer gvl-nope-000000000000" } });
    expect((await s.gateway.app.fetch(wrong)).status).toBe(401);
    const right = new Request("http://gateway/metrics", { headers: { authorization: `Bearer ${KEY}` } });
    const response = await s.gateway.app.fetch(right);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain("gavel_");
  });

  it("stays open without keys (loopback only)", async () => {
    const model = new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "k", maxRetries: 0 });
    const gateway = createGavelApp({
      members: [{ name: "mini", model, price: MINI, provider: "openai" }],
      metrics: createServerMetrics(),
    });
    expect((await gateway.app.fetch(new Request("http://gateway/metrics"))).status).toBe(200);
  });
});

describe("GET /v1/models/{id}", () => {
  it("a malformed escape is a 404 model_not_found, not a 500", async () => {
    const s = await setup();
    const response = await s.gateway.app.fetch(
      new Request("http://gateway/v1/models/%E0%A4%A", { headers: { authorization: `Bearer ${KEY}` } }),
    );
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
  });
});

describe("the fast path never forwards store, metadata or stream_options", () => {
  it("the provider does not see them", async () => {
    const s = await setup({ fastPath: true, answer: () => "Paris." });
    const response = await chat(s.gateway, {
      model: "mini",
      max_tokens: 16,
      store: true,
      metadata: { customer: "acme" },
      stream_options: { include_usage: true },
    });
    expect(response.status).toBe(200);
    const [body] = answerBodies(s.provider);
    expect(body).toBeDefined();
    expect(body).not.toHaveProperty("store");
    expect(body).not.toHaveProperty("metadata");
    expect(body).not.toHaveProperty("stream_options");
  });
});

describe("gavel/auto when every member refused the request itself", () => {
  it("passes the last 4xx on instead of a 502 (a retry cannot help)", async () => {
    const refused = new OpenAIHttpError(400, {
      message: "No recorded answer for this prompt.",
      type: "invalid_request_error",
      code: "no_recorded_answer",
      param: null,
    });
    const router = {
      invoke: async () => {
        throw new AuctionRouterError("auction-1", { mini: "no recorded answer" }, [refused]);
      },
    } as unknown as AuctionRouter;
    const s = await setup({ app: { router: () => router } });
    const response = await chat(s.gateway, { model: "gavel/auto" });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe("no_recorded_answer");
  });
});
