/**
 * A bounded load test of `gavel serve` on loopback (issue 12, item 5): 1,000 requests, 100 at a
 * time, half of them streamed, some clients leaving mid-stream or mid-generation, through the real
 * socket (`serveGavelApp`), the real middleware, keys, budgets and metrics, to members that are real
 * `ChatOpenAI` clients of the loopback OpenAI-compatible provider (which keeps its own bill). The key
 * has a USD budget smaller than the demand, so the budget runs out under load.
 *
 * Asserted: no crash (no uncaught error, `/health` still answers); every response is 200 or the
 * budget's 402; the key's settled spend never exceeds its limit; no reservation is left open once
 * the gateway is idle; per request, the provider's bill and the budget's charge agree by the
 * settlement rule of docs/budgets.md ("What is billed and what is settled"); `/metrics` adds up.
 */
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { createGavelApp, type GavelApp } from "../../adapters/server/app.js";
import { createServerBudgets } from "../../adapters/server/budgets.js";
import { createKeyVerifier } from "../../adapters/server/keys.js";
import { createServerMetrics } from "../../adapters/server/metrics.js";
import { createBodyLimit, createRateLimit, createRequestId } from "../../adapters/server/middleware.js";
import { type GavelServer, serveGavelApp } from "../../adapters/server/server.js";
import type { ServerMember } from "../../adapters/server/types.js";
import { createMemoryBudgetStore, DEFAULT_PRICES } from "../../src/budget/index.js";
import type { ChargeInput, LedgerWriter } from "../../src/ledger/types.js";
import {
  type ChatCompletionRequestBody,
  type OpenAICompatibleServer,
  startOpenAICompatibleServer,
} from "../helpers/openaiServer.js";

const MODEL = "gpt-4o-mini";
const PRICE = DEFAULT_PRICES[MODEL] as { inputPerMillion: number; outputPerMillion: number };
const TOTAL = 1_000;
const CONCURRENCY = 100;
/** The key's budget: about half of what the 1,000 requests would cost. */
const LIMIT_USD = 0.03;
const MAX_TOKENS = 256;
/** About 100 tokens (o200k), streamed as ~30 chunks of 16 characters. */
const ANSWER = `Answer:${" the step".repeat(55)}`;
const KEY = "gvl-load-test-key-0123456789";
const KEY_ID = "cfg_load";
/** Most completion tokens a provider may generate after a streaming client left, before it notices. */
const MAX_STREAM_SLACK_TOKENS = 40;

/** What each request is: streamed or not, and whether (and when) its client leaves. */
function planOf(task: number): { stream: boolean; leave?: "mid-stream" | "mid-generation" } {
  const stream = task % 2 === 0;
  if (stream && task % 10 === 4) return { stream, leave: "mid-stream" }; // 10% of all: after 3 content chunks
  if (!stream && task % 20 === 7) return { stream, leave: "mid-generation" }; // 5%: once the provider generates
  return { stream };
}

/** Which request of the run a provider call belongs to (the user turn names it). */
function taskOf(body: ChatCompletionRequestBody): number {
  const match = /Task #(\d+)/.exec(JSON.stringify(body.messages));
  return match ? Number(match[1]) : -1;
}

/** A ledger that keeps the charges in memory (the gateway records each pinned call's charge). */
function recordingLedger(charges: ChargeInput[]): LedgerWriter {
  return {
    recordAuction: async () => "auction",
    recordAuctions: async (inputs) => inputs.map(() => "auction"),
    recordCharge: async (input) => {
      charges.push(input);
      return String(charges.length);
    },
    recordCharges: async (inputs) =>
      inputs.map((input) => {
        charges.push(input);
        return String(charges.length);
      }),
    recordOutcome: async () => undefined,
    recordBudget: async () => undefined,
    recordBudgetSnapshot: async () => undefined,
    close: async () => undefined,
  };
}

/** The sum of the samples of `name` whose labels include `labels`, in Prometheus text. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]]),
    );
    if (Object.entries(labels).every(([label, value]) => found[label] === value)) total += Number(match[3]);
  }
  return total;
}

interface Outcome {
  task: number;
  /** The HTTP status the client saw (a stream's is 200 even when the client left it). */
  status: number;
  left: boolean;
}

/** The controllers of the clients that leave mid-generation: the provider aborts them once it has their request. */
const leavers = new Map<number, AbortController>();

/** One client: sends request `task`, reads the whole answer (or leaves as planned). */
async function client(gatewayUrl: string, task: number): Promise<Outcome> {
  const { stream, leave } = planOf(task);
  const controller = new AbortController();
  if (leave === "mid-generation") leavers.set(task, controller);
  try {
    const response = await fetch(`${gatewayUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json", "x-request-id": `load-${task}` },
      body: JSON.stringify({
        model: task % 3 === 0 ? "mini-b" : "mini-a",
        messages: [{ role: "user", content: `Task #${task}: explain the steps.` }],
        stream,
        ...(stream && { stream_options: { include_usage: true } }),
      }),
      signal: controller.signal,
    });
    if (!stream || response.status !== 200 || response.body === null) {
      await response.text();
      return { task, status: response.status, left: false };
    }
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let contentChunks = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      contentChunks = (text.match(/"content":"[^"]+"/g) ?? []).length;
      if (leave === "mid-stream" && contentChunks >= 3) {
        controller.abort();
        return { task, status: 200, left: true };
      }
    }
    expect(text.endsWith("data: [DONE]\n\n")).toBe(true);
    return { task, status: 200, left: false };
  } catch (error) {
    if (controller.signal.aborted) return { task, status: 0, left: true };
    throw error;
  } finally {
    leavers.delete(task);
  }
}

describe("gavel serve under load (1,000 requests, 100 concurrent, loopback provider)", () => {
  let provider: OpenAICompatibleServer;
  let gateway: GavelApp;
  let server: GavelServer;
  const store = createMemoryBudgetStore();
  const charges: ChargeInput[] = [];
  const taskByIndex: number[] = [];
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeAll(async () => {
    process.on("uncaughtException", onCrash);
    process.on("unhandledRejection", onCrash);
    provider = await startOpenAICompatibleServer({
      generationMs: (body) => (body.stream ? 150 : 50),
      replies: (body, index) => {
        const task = taskOf(body);
        taskByIndex[index] = task;
        leavers.get(task)?.abort(); // the client leaves while the provider generates its reply
        return ANSWER;
      },
    });
    const member = (name: string): ServerMember => ({
      name,
      provider: "openai",
      price: PRICE,
      model: new ChatOpenAI({
        model: MODEL,
        apiKey: "test",
        maxTokens: MAX_TOKENS,
        maxRetries: 0,
        streamUsage: true,
        configuration: { baseURL: provider.baseURL },
      }),
    });
    const metrics = createServerMetrics();
    gateway = createGavelApp({
      members: [member("mini-a"), member("mini-b")],
      keys: createKeyVerifier({
        keys: [{ name: "load", keyEnv: "LOAD_KEY", budget: { maxUsd: LIMIT_USD }, requestsPerMinute: 1_000_000 }],
        env: { LOAD_KEY: KEY },
      }),
      budgets: createServerBudgets({ store }),
      metrics,
      ledger: recordingLedger(charges),
      middleware: [createRequestId(), createBodyLimit()],
      keyedMiddleware: [createRateLimit({ metrics })],
    });
    server = await serveGavelApp(gateway, { port: 0 });
  });

  afterAll(async () => {
    await server?.close({ timeoutMs: 1_000 });
    await provider?.close();
    process.off("uncaughtException", onCrash);
    process.off("unhandledRejection", onCrash);
  });

  it("keeps the budget, leaks no reservation, bills as documented, and counts every request", {
    timeout: 120_000,
  }, async () => {
    const outcomes: Outcome[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < TOTAL) {
          const task = next++;
          outcomes.push(await client(server.url, task));
        }
      }),
    );
    // Drain: every request closed its books, the provider finished generating.
    await vi.waitFor(() => expect(gateway.inflight).toBe(0), { timeout: 20_000, interval: 50 });
    await provider.idle();
    await vi.waitFor(
      async () => {
        const held = (await store.snapshot()).reduce((total, account) => total + account.reservedNanoUsd, 0);
        expect(held).toBe(0);
      },
      { timeout: 20_000, interval: 50 },
    );

    // No crash; every response is 200 or the budget's 402.
    expect(crashes).toEqual([]);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
    expect(outcomes).toHaveLength(TOTAL);
    const seen = outcomes.filter((outcome) => !(outcome.left && outcome.status === 0));
    expect(seen.every((outcome) => outcome.status === 200 || outcome.status === 402)).toBe(true);
    const refused = outcomes.filter((outcome) => outcome.status === 402).length;
    const answered = outcomes.filter((outcome) => outcome.status === 200 && !outcome.left).length;
    expect(refused).toBeGreaterThan(0); // the budget ran out under load
    expect(answered).toBeGreaterThan(100);

    // The settled spend never exceeds the limit; nothing is left reserved.
    const accounts = await store.snapshot();
    const keyAccount = accounts.find((account) => account.scopeId.startsWith(`key:${KEY_ID}`));
    expect(keyAccount).toBeDefined();
    const settledUsd = (keyAccount?.spentNanoUsd ?? 0) / 1e9;
    expect(settledUsd).toBeLessThanOrEqual(LIMIT_USD);
    expect(settledUsd).toBeGreaterThan(LIMIT_USD * 0.9); // the budget was used, not refused wholesale
    for (const account of accounts) {
      expect(account.reservedTokens).toBe(0);
      expect(account.reservedNanoUsd).toBe(0);
    }

    // Per request: the provider's bill against the budget's charge, by the settlement rule.
    const billedUsdOf = (entry: { promptTokens: number; completionTokens: number }) =>
      (entry.promptTokens * PRICE.inputPerMillion + entry.completionTokens * PRICE.outputPerMillion) / 1e6;
    const bills = new Map<number, (typeof provider.billing)[number]>();
    for (const entry of provider.billing) {
      const task = taskByIndex[entry.index] ?? -1;
      expect(bills.has(task)).toBe(false); // one provider call per request
      bills.set(task, entry);
    }
    const chargeOf = new Map<number, ChargeInput>();
    for (const charge of charges) {
      const task = Number(String(charge.metadata?.requestId ?? "").replace("load-", ""));
      expect(chargeOf.has(task)).toBe(false); // charged once
      chargeOf.set(task, charge);
    }
    const streamSlack: number[] = [];
    const leftMidGeneration = { estimated: 0, settled: 0 };
    let billedTotal = 0;
    for (const outcome of outcomes) {
      const bill = bills.get(outcome.task);
      const charge = chargeOf.get(outcome.task);
      billedTotal += bill ? billedUsdOf(bill) : 0;
      if (outcome.status === 402) {
        expect(bill).toBeUndefined(); // refused before any call: nothing billed, nothing charged
        expect(charge).toBeUndefined();
        continue;
      }
      if (!outcome.left) {
        // Answered in full: charged exactly the provider's reported usage.
        expect(bill?.clientGone).toBe(false);
        expect(charge?.estimated).toBe(false);
        expect(charge?.inputTokens).toBe(bill?.promptTokens);
        expect(charge?.outputTokens).toBe(bill?.completionTokens);
        expect(charge?.usd).toBeCloseTo(billedUsdOf(bill ?? { promptTokens: 0, completionTokens: 0 }), 12);
        continue;
      }
      const { stream } = planOf(outcome.task);
      if (!stream) {
        // Left mid-generation: the provider generates and bills the whole reply all the same. When
        // the gateway gave up on the call, the budget charges the whole reservation (prompt + output
        // cap, estimated); when the reply came first, its usage. Either way, never less than the bill.
        const billed = bill ?? { promptTokens: 0, completionTokens: 0 };
        expect(billed.completionTokens).toBeGreaterThan(0);
        if (charge?.estimated) {
          expect(charge.outputTokens).toBe(MAX_TOKENS);
          leftMidGeneration.estimated += 1;
        } else {
          expect(charge?.outputTokens).toBe(billed.completionTokens);
          leftMidGeneration.settled += 1;
        }
        expect(charge?.usd ?? 0).toBeGreaterThanOrEqual(billedUsdOf(billed) - 1e-15);
        continue;
      }
      // Left mid-stream: charged at the tokens streamed (estimated), the provider billed the chunks
      // it generated before it saw the closed connection: the two differ by the chunks in flight.
      expect(bill).toBeDefined();
      expect(charge).toBeDefined();
      expect(bill?.completionTokens).toBeLessThan(100);
      streamSlack.push((bill?.completionTokens ?? 0) - (charge?.outputTokens ?? 0));
    }
    const planned = (leave: "mid-stream" | "mid-generation") =>
      outcomes.filter((outcome) => planOf(outcome.task).leave === leave && outcome.status !== 402).length;
    expect(streamSlack.length).toBe(planned("mid-stream")); // every planned leaver that was not refused left
    expect(streamSlack.length).toBeGreaterThan(20);
    expect(leftMidGeneration.estimated + leftMidGeneration.settled).toBe(planned("mid-generation"));
    expect(leftMidGeneration.estimated + leftMidGeneration.settled).toBeGreaterThan(10);
    // The chunks generated while the closed connection reaches the provider (16 characters, about 4
    // tokens, every 5 ms): a few, bounded here at 10 chunks so a loaded machine does not fail the test.
    expect(Math.min(...streamSlack)).toBeGreaterThanOrEqual(0); // never charged more than was generated
    expect(Math.max(...streamSlack)).toBeLessThanOrEqual(MAX_STREAM_SLACK_TOKENS);
    const chargedTotal = charges.reduce((total, charge) => total + charge.usd, 0);
    expect(chargedTotal).toBeCloseTo(settledUsd, 9);
    // What the provider billed stays within the limit, up to the documented stream slack.
    expect(billedTotal).toBeLessThanOrEqual(
      LIMIT_USD + (streamSlack.length * MAX_STREAM_SLACK_TOKENS * PRICE.outputPerMillion) / 1e6,
    );

    // /metrics adds up.
    const text = await (await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${KEY}` } })).text();
    expect(sum(text, "gavel_requests_total", { route: "chat" })).toBe(TOTAL);
    expect(sum(text, "gavel_requests_total", { route: "chat", status: "402" })).toBe(refused);
    expect(sum(text, "gavel_requests_total", { route: "chat", status: "200" })).toBeGreaterThanOrEqual(answered);
    expect(sum(text, "gavel_budget_rejections_total", { key: KEY_ID })).toBe(refused);
    expect(sum(text, "gavel_rate_limited_total")).toBe(0);
    expect(sum(text, "gavel_inflight_streams")).toBe(0);
    expect(sum(text, "gavel_auctions_total", { path: "pinned" })).toBe(TOTAL);
    expect(sum(text, "gavel_request_duration_seconds_count", { route: "chat" })).toBe(TOTAL);
    // Every charge reaches gavel_usd_total / gavel_tokens_total, also a non-streamed call whose
    // client left, settled after its request was counted (at the reservation, or the late reply's usage).
    const late = charges.filter((charge) => {
      const task = Number(String(charge.metadata?.requestId ?? "").replace("load-", ""));
      return planOf(task).leave === "mid-generation" && charge.metadata?.abandoned === true;
    });
    const lateUsd = late.reduce((total, charge) => total + charge.usd, 0);
    expect(late.length).toBeGreaterThan(0); // the case the metrics once missed did occur
    expect(sum(text, "gavel_usd_total", { key: KEY_ID })).toBeCloseTo(chargedTotal, 9);
    const chargedOutput = charges.reduce((total, charge) => total + charge.outputTokens, 0);
    const chargedInput = charges.reduce((total, charge) => total + charge.inputTokens, 0);
    expect(sum(text, "gavel_tokens_total", { key: KEY_ID, direction: "output" })).toBe(chargedOutput);
    expect(sum(text, "gavel_tokens_total", { key: KEY_ID, direction: "input" })).toBe(chargedInput);
    console.info("load test", {
      answered,
      refused,
      left: outcomes.filter((outcome) => outcome.left).length,
      settledUsd,
      billedUsd: billedTotal,
      streamSlackTokens: {
        max: Math.max(...streamSlack),
        mean: streamSlack.reduce((a, b) => a + b, 0) / streamSlack.length,
      },
      leftMidGeneration,
      usdSettledLate: lateUsd,
    });
  });
});
