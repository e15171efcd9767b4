/**
 * What an aborted model call costs (tokenBudgetMiddleware, shared budget), through `createAgent`,
 * the real `ChatOpenAI` and the loopback provider, whose own bill (`server.billing`) counts what it
 * generated — also for a client that left. The rule (docs/budgets.md, "What is billed and what is
 * settled"): a reply that arrives is charged at its usage; a request that never left costs nothing;
 * a stream is charged the prompt plus the output tokens received; a non-streamed call the provider
 * generates to the end is charged its whole reservation. Each call is closed exactly once.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, createMiddleware } from "langchain";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  type BudgetEvent,
  countTextTokens,
  createTokenBudget,
  type SharedTokenBudget,
  type TokenBudget,
} from "../../src/budget/index.js";
import { type TokenBudgetCharge, tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { type OpenAICompatibleServer, startOpenAICompatibleServer } from "../helpers/openaiServer.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";

const MODEL = "gpt-4o-mini";
/** The model's output cap: the reservation is the prompt + this. */
const CAP = 512;
/** The answer: 402 tokens (o200k), under the cap; streamed as 16-character chunks. */
const ANSWER = `Answer:${" step".repeat(400)}`;
/** The prompt `[user "Hi"]` as the provider and the middleware both count it: 3 + (3 + 1 + 1). */
const PROMPT_TOKENS = 8;

let server: OpenAICompatibleServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function openAI(baseURL: string) {
  return new ChatOpenAI({ model: MODEL, apiKey: "test", maxTokens: CAP, maxRetries: 0, configuration: { baseURL } });
}

/** A $1 budget that records its events, and the settlements and releases among them. */
function recordedBudget() {
  const events: BudgetEvent[] = [];
  const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, onEvent: (event) => events.push(event) });
  const closes = () => events.filter((event) => event.type === "settle" || event.type === "release");
  const settlements = () => events.flatMap((event) => (event.type === "settle" ? [event.settlement] : []));
  return { budget, events, closes, settlements };
}

/** Waits until the provider finished generating and the budget closed every reservation. */
async function settled(budget: TokenBudget) {
  await server?.idle();
  await vi.waitFor(() => expect(budget.outstanding).toBe(0));
}

/**
 * A middleware inside the budget's (an auth or rate-limit step, say) during which the caller leaves:
 * it aborts `controller` before the model is called.
 */
function leavingCaller() {
  const controller = new AbortController();
  const callerLeaves = createMiddleware({
    name: "CallerLeaves",
    wrapModelCall: async (request, handler) => {
      controller.abort(new Error("caller left"));
      return handler(request);
    },
  });
  return { controller, callerLeaves };
}

const input = { messages: [new HumanMessage("Hi")] };

describe("tokenBudgetMiddleware: an aborted model call (ChatOpenAI, loopback provider)", () => {
  it("costs nothing when the signal fires before the request is sent (inside the model step)", async () => {
    server = await startOpenAICompatibleServer({ replies: () => ANSWER });
    const { budget, events, closes } = recordedBudget();
    const { controller, callerLeaves } = leavingCaller();
    const agent = createAgent({
      model: openAI(server.baseURL),
      middleware: [tokenBudgetMiddleware({ budget }), callerLeaves],
    });

    await expect(agent.invoke(input, { signal: controller.signal })).rejects.toThrow(/caller left/);
    await settled(budget);

    expect(server.requests).toHaveLength(0); // the provider never saw it: it bills nothing
    expect(events.filter((event) => event.type === "reserve")).toHaveLength(1);
    expect(closes().map((event) => event.type)).toEqual(["release"]); // before: settled at 520 tokens
    expect(budget.snapshot()[0]).toMatchObject({ spentTokens: 0, spentUsd: 0, reservedTokens: 0 });
  });

  it("costs nothing and sends nothing when the signal fires while the budget reserves", async () => {
    server = await startOpenAICompatibleServer({ replies: () => ANSWER });
    const { budget, closes } = recordedBudget();
    const controller = new AbortController();
    // A shared budget whose store answers after the caller left.
    const slowStore: SharedTokenBudget = {
      reserve: async (request) => {
        const reservation = await budget.reserve(request);
        controller.abort(new Error("caller left"));
        return reservation;
      },
      settle: (reservation, usage) => budget.settle(reservation, usage),
      release: (reservation) => budget.release(reservation),
      remaining: (scopes) => budget.remaining(scopes),
    };
    const agent = createAgent({
      model: openAI(server.baseURL),
      middleware: [tokenBudgetMiddleware({ budget: slowStore })],
    });

    await expect(agent.invoke(input, { signal: controller.signal })).rejects.toThrow(/caller left/);
    await settled(budget);

    expect(server.requests).toHaveLength(0);
    expect(closes().map((event) => event.type)).toEqual(["release"]);
    expect(budget.snapshot()[0]).toMatchObject({ spentTokens: 0, spentUsd: 0 });
  });

  /**
   * Streams the agent in "messages" mode and stops after `chunks` chunks: by aborting its signal,
   * or by leaving the loop. Returns the text the caller received.
   */
  async function streamAndStop(agent: ReturnType<typeof createAgent>, chunks: number, how: "abort" | "break") {
    const controller = new AbortController();
    let received = "";
    let count = 0;
    try {
      const stream = await agent.stream(input, { signal: controller.signal, streamMode: "messages" });
      for await (const [chunk] of stream) {
        received += typeof chunk.content === "string" ? chunk.content : "";
        count += 1;
        if (count < chunks) continue;
        if (how === "break") break;
        controller.abort(new Error("caller left"));
      }
    } catch (error) {
      if (!controller.signal.aborted) throw error;
    }
    return received;
  }

  for (const how of ["abort", "break"] as const) {
    it(`charges a stream stopped mid-answer (${how}) the prompt + the output tokens received, not the cap`, async () => {
      server = await startOpenAICompatibleServer({ generationMs: 400, replies: () => ANSWER });
      const { budget, closes, settlements } = recordedBudget();
      const agent = createAgent({ model: openAI(server.baseURL), middleware: [tokenBudgetMiddleware({ budget })] });

      const received = await streamAndStop(agent, 20, how);
      await settled(budget);

      const [bill] = server.billing;
      expect(bill).toMatchObject({ stream: true, promptTokens: PROMPT_TOKENS, clientGone: true });
      expect(bill?.completionTokens).toBeLessThan(CAP); // the provider stopped when the stream closed
      expect(closes()).toHaveLength(1);
      const [settlement] = settlements();
      console.info(`stream stopped (${how})`, { received: countTextTokens(received, MODEL), bill, settlement });
      // Charged: the prompt counted here + the output tokens that reached the middleware (at least
      // what reached the caller, at most what the provider generated). Before: 8 + 512 = 520.
      expect(settlement?.usage).toMatchObject({ inputTokens: PROMPT_TOKENS, estimated: true });
      expect(settlement?.usage.outputTokens).toBeGreaterThanOrEqual(countTextTokens(received, MODEL));
      expect(settlement?.usage.outputTokens).toBeLessThanOrEqual(bill?.completionTokens ?? 0);
      expect(budget.snapshot()[0]?.spentTokens).toBe(PROMPT_TOKENS + (settlement?.usage.outputTokens ?? -1));
    });
  }

  it("charges a non-streamed call aborted while waiting its whole reservation (the provider generates it to the end)", async () => {
    const controller = new AbortController();
    server = await startOpenAICompatibleServer({
      generationMs: 200,
      replies: () => {
        queueMicrotask(() => controller.abort(new Error("caller left")));
        return ANSWER;
      },
    });
    const { budget, closes, settlements } = recordedBudget();
    const agent = createAgent({ model: openAI(server.baseURL), middleware: [tokenBudgetMiddleware({ budget })] });

    await expect(agent.invoke(input, { signal: controller.signal })).rejects.toThrow(/caller left/);
    await settled(budget);

    // The provider generated all 402 tokens for nobody and billed them; the reply never came, so the
    // reservation (8 + 512) is the only figure known to cover the bill.
    expect(server.billing).toMatchObject([{ stream: false, promptTokens: 8, completionTokens: 402, clientGone: true }]);
    expect(closes()).toHaveLength(1);
    expect(settlements()[0]?.usage).toEqual({ inputTokens: PROMPT_TOKENS, outputTokens: CAP, estimated: true });
  });
});

/**
 * What `onCharge` (the ledger's seam) hears of an aborted call: one charge per settlement, at the
 * usage the budget settled, marked `abandoned`; nothing for a release. Before, none at all: the
 * ledger's spend fell short of the budget's by every aborted call.
 */
describe("tokenBudgetMiddleware: onCharge of an aborted model call (ChatOpenAI, loopback provider)", () => {
  /** The charges `onCharge` received, and the sums the ledger would hold. */
  function recordedCharges() {
    const charges: TokenBudgetCharge[] = [];
    const onCharge = (charge: TokenBudgetCharge) => {
      charges.push(charge);
    };
    const tokens = () => charges.reduce((sum, charge) => sum + charge.usage.inputTokens + charge.usage.outputTokens, 0);
    const usd = () => charges.reduce((sum, charge) => sum + (charge.usd ?? 0), 0);
    return { charges, onCharge, tokens, usd };
  }

  /** Waits for the budget to close every reservation and for `count` charges to be reported. */
  async function charged(budget: TokenBudget, charges: TokenBudgetCharge[], count: number) {
    await settled(budget);
    await vi.waitFor(() => expect(charges).toHaveLength(count));
  }

  it("reports nothing when the request never left (released, not charged)", async () => {
    server = await startOpenAICompatibleServer({ replies: () => ANSWER });
    const { budget, closes } = recordedBudget();
    const { charges, onCharge } = recordedCharges();
    const { controller, callerLeaves } = leavingCaller();
    const agent = createAgent({
      model: openAI(server.baseURL),
      middleware: [tokenBudgetMiddleware({ budget, onCharge }), callerLeaves],
    });

    await expect(agent.invoke(input, { signal: controller.signal })).rejects.toThrow(/caller left/);
    await settled(budget);
    await server.idle();

    expect(closes().map((event) => event.type)).toEqual(["release"]);
    expect(charges).toEqual([]);
  });

  it("reports a stream aborted mid-answer once, at the prompt + the output tokens it was settled at", async () => {
    server = await startOpenAICompatibleServer({ generationMs: 400, replies: () => ANSWER });
    const { budget, settlements } = recordedBudget();
    const { charges, onCharge, tokens } = recordedCharges();
    const agent = createAgent({
      model: openAI(server.baseURL),
      middleware: [tokenBudgetMiddleware({ budget, onCharge })],
    });

    await streamAndStopOnAbort(agent, 20);
    await charged(budget, charges, 1);

    const [settlement] = settlements();
    expect(settlement?.usage).toMatchObject({ inputTokens: PROMPT_TOKENS, estimated: true });
    expect(charges[0]).toMatchObject({
      model: MODEL,
      tool: undefined,
      usage: settlement?.usage,
      tokens: settlement?.tokens,
      estimated: true,
      reservedTokens: PROMPT_TOKENS + CAP,
      abandoned: "streamed",
      settlement: { reservationId: settlement?.reservationId, basis: "streamed" },
    });
    expect(charges[0]?.usage.outputTokens).toBeLessThan(CAP);
    expect(tokens()).toBe(budget.snapshot()[0]?.spentTokens);
  });

  it("reports a reply that comes after the caller left once, at its usage (settled off the request path)", async () => {
    const { budget, settlements } = recordedBudget();
    const { charges, onCharge, tokens, usd } = recordedCharges();
    const caller = new AbortController();
    const { model, deliver } = modelIgnoringSignal(caller, { inputTokens: 30, outputTokens: 7 });
    const agent = createAgent({ model, middleware: [tokenBudgetMiddleware({ budget, onCharge })] });

    await expect(agent.invoke(input, { signal: caller.signal })).rejects.toThrow(/caller left/);
    expect(charges).toEqual([]); // the reservation holds its room until the reply (or the grace period)
    deliver();
    await charged(budget, charges, 1);

    expect(settlements()).toHaveLength(1);
    expect(charges[0]).toMatchObject({
      usage: { inputTokens: 30, outputTokens: 7, estimated: false },
      tokens: 37,
      estimated: false,
      abandoned: "late-reply",
    });
    expect(charges[0]?.usage).toEqual(settlements()[0]?.usage);
    expect(tokens()).toBe(budget.snapshot()[0]?.spentTokens);
    expect(usd()).toBeCloseTo(budget.snapshot()[0]?.spentUsd ?? -1, 12);
  });

  it("reports as much as the budget settled over answered, streamed, late and waited-for calls", async () => {
    const aborts: AbortController[] = [];
    server = await startOpenAICompatibleServer({
      generationMs: (_body, index) => (index === 0 ? 0 : 200),
      replies: () => {
        const controller = aborts.shift();
        if (controller) queueMicrotask(() => controller.abort(new Error("caller left")));
        return ANSWER;
      },
    });
    const { budget, settlements } = recordedBudget();
    const { charges, onCharge, tokens, usd } = recordedCharges();
    const agent = createAgent({
      model: openAI(server.baseURL),
      middleware: [tokenBudgetMiddleware({ budget, onCharge })],
    });
    const caller = new AbortController();
    const { model, deliver } = modelIgnoringSignal(caller, { inputTokens: 30, outputTokens: 7 });
    const late = createAgent({ model, middleware: [tokenBudgetMiddleware({ budget, onCharge })] });

    await agent.invoke(input); // answered: charged at its usage, not abandoned
    await streamAndStopOnAbort(agent, 20); // streamed
    await expect(late.invoke(input, { signal: caller.signal })).rejects.toThrow(/caller left/); // a late reply
    deliver();
    const waiting = new AbortController();
    aborts.push(waiting);
    await expect(agent.invoke(input, { signal: waiting.signal })).rejects.toThrow(/caller left/); // the reservation
    await charged(budget, charges, 4);

    expect(charges.map((charge) => charge.abandoned).sort()).toEqual(
      [undefined, "streamed", "late-reply", "reservation"].sort(),
    );
    expect(charges.find((charge) => charge.abandoned === "reservation")).toMatchObject({
      usage: { inputTokens: PROMPT_TOKENS, outputTokens: CAP, estimated: true },
      estimated: true,
    });
    expect(settlements()).toHaveLength(4);
    const [account] = budget.snapshot();
    expect(tokens()).toBe(account?.spentTokens);
    expect(usd()).toBeCloseTo(account?.spentUsd ?? -1, 12);
  });

  it("keeps the call's error and warns when onCharge throws on a settlement off the request path", async () => {
    server = await startOpenAICompatibleServer({ generationMs: 400, replies: () => ANSWER });
    const { budget } = recordedBudget();
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    let calls = 0;
    const agent = createAgent({
      model: openAI(server.baseURL),
      middleware: [
        tokenBudgetMiddleware({
          budget,
          timeoutMs: 50,
          onCharge: () => {
            calls += 1;
            throw new Error("ledger down");
          },
        }),
      ],
    });
    try {
      await expect(agent.invoke(input)).rejects.toThrow(/timed out|deadline|50 ms/i);
      await settled(budget);
      await vi.waitFor(() => expect(warnings.map((warning) => warning.message).join()).toMatch(/ledger down/));
    } finally {
      process.off("warning", onWarning);
    }

    expect(calls).toBe(1);
    expect(warnings.find((warning) => /ledger down/.test(warning.message))).toMatchObject({
      name: "GavelChargeWarning",
      code: "GAVEL_ABANDONED_CHARGE_FAILED",
    });
    expect(budget.snapshot()[0]?.spentTokens).toBeGreaterThan(0); // the budget settled all the same
  });
});

/**
 * A model that ignores its signal (`ChatOpenAI` through LangChain drops a reply that comes after an
 * abort): the caller leaves once the call started, and the reply, with its usage, comes when
 * `deliver()` is called.
 */
function modelIgnoringSignal(caller: AbortController, usage: { inputTokens: number; outputTokens: number }) {
  let deliver: () => void = () => undefined;
  const delivered = new Promise<void>((resolve) => {
    deliver = resolve;
  });
  const model = new ScriptedChatModel({
    model: MODEL,
    maxTokens: CAP,
    replies: async () => {
      caller.abort(new Error("caller left"));
      await delivered;
      return { content: "Late.", usage };
    },
  });
  return { model, deliver: () => deliver() };
}

/** Streams `agent` in "messages" mode and aborts its signal after `chunks` chunks. */
async function streamAndStopOnAbort(agent: ReturnType<typeof createAgent>, chunks: number) {
  const controller = new AbortController();
  let count = 0;
  try {
    const stream = await agent.stream(input, { signal: controller.signal, streamMode: "messages" });
    for await (const _chunk of stream) {
      count += 1;
      if (count >= chunks) controller.abort(new Error("caller left"));
    }
  } catch (error) {
    if (!controller.signal.aborted) throw error;
  }
}
