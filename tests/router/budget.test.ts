/**
 * The router and a real `TokenBudget`: the pre-screen of bidders (plan + jury share + answer,
 * tool schemas included), the fallback when nobody can afford anything, the scopes charges carry,
 * and nothing charged twice when the winner's answer fails and the fallback answers.
 */
import { AIMessageChunk, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { ChatGenerationChunk } from "@langchain/core/outputs";
import { tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import {
  type BudgetEvent,
  countMessageTokens,
  createMemoryBudgetStore,
  createTokenBudget,
  type TokenBudget,
} from "../../src/budget/index.js";
import { BudgetExhaustedError } from "../../src/errors.js";
import { AuctionRouter } from "../../src/router/index.js";
import { ScriptedChatModel } from "../../src/testing/scripted-chat-model.js";
import { CHEAP, callsOf, DEAR, gavelOf, gullibleJurorReply, kindOf, scriptedMember } from "./scripted-pool.js";

const TASK = "What is 17 * 23?";
/** Jurors that like plans that verify: the dear member's plan wins whenever it may bid. */
const likesVerify = (plan: string) => (plan.includes("verify") ? 5 : 2);

function pair(answers: { small?: string; large?: string | { error: Error } } = {}) {
  const small = scriptedMember("small", { plan: "Multiply.", score: likesVerify, answer: answers.small ?? "391" });
  const large = scriptedMember("large", {
    plan: "Multiply, then verify by division.",
    score: likesVerify,
    answer: answers.large ?? "large: 391",
  });
  return { small, large };
}

/** The router's pool: `small` at the cheap price, `large` at the dear one. */
function poolOf(small: ScriptedChatModel, large: ScriptedChatModel) {
  return [
    { name: "small", model: small, price: CHEAP },
    { name: "large", model: large, price: DEAR },
  ];
}

/** A router over `pool` charging `budget`, recording into a fresh in-memory ledger under the auction id `id`. */
function routerWithLedger(
  pool: ConstructorParameters<typeof AuctionRouter>[0]["pool"],
  budget: TokenBudget,
  id: string,
  options: Partial<ConstructorParameters<typeof AuctionRouter>[0]> = {},
) {
  const ledger = createSqliteLedger({ path: ":memory:" });
  const router = new AuctionRouter({ pool, budget, ledger, generateId: () => id, ...options });
  return { router, ledger };
}

/** A budget that records its events; `label:model:run` per event. */
function recordingBudget(limits: ConstructorParameters<typeof TokenBudget>[0]["limits"], prices = {}) {
  const events: BudgetEvent[] = [];
  const budget = createTokenBudget({
    limits,
    prices: { small: CHEAP, large: DEAR, ...prices },
    onEvent: (event) => events.push(event),
  });
  const of = (type: BudgetEvent["type"]) =>
    events.flatMap((event) =>
      event.type === type && "reservation" in event ? [`${event.reservation.label}:${event.reservation.model}`] : [],
    );
  return { budget, events, of };
}

describe("AuctionRouter + TokenBudget: the pre-screen", () => {
  it("excludes, before anything is spent, a bidder whose plan fits but whose answer does not; it is never charged", async () => {
    const { small, large } = pair();
    // Alone, large's plan (~$0.0015) fits in $0.01, but its answer (4,096 output tokens at $10/M ≈ $0.041) does not.
    const { budget, of } = recordingBudget({ global: { maxUsd: 0.01 } });
    const { router, ledger } = routerWithLedger(poolOf(small, large), budget, "auction-1");
    const answer = await router.invoke(TASK);
    const { auction, usage } = gavelOf(answer);
    expect(answer.text).toBe("391");
    expect(auction.winner).toBe("small");
    expect(auction.dropped.large).toMatch(/^budget: its plan, its share of the jury and its answer do not fit/);
    // Excluded members neither bid nor judge: large was never called, never reserved, never charged.
    expect(large.calls).toHaveLength(0);
    expect(of("reserve").filter((entry) => entry.endsWith(":large"))).toEqual([]);
    expect(auction.bids.map((bid) => bid.bidder)).toEqual(["small"]);
    expect(auction.bids[0]?.juryDropped.large).toBe(auction.dropped.large);
    const stored = await ledger.getAuction("auction-1");
    expect(stored?.charges.filter((charge) => charge.agent === "large")).toEqual([]);
    expect(stored?.bids.find((bid) => bid.bidder === "large")?.reason).toBe("invalid");
    // What was spent is exactly what the answer reports, and nothing is left reserved.
    const [account] = budget.snapshot();
    expect(account?.reservedUsd).toBe(0);
    expect(account?.spentTokens).toBe(usage.execution.total_tokens + usage.auction.total_tokens);
    await ledger.close();
  });

  it("without the budget the same pool lets the dear member win (the exclusion above is the budget's doing)", async () => {
    const { small, large } = pair();
    const router = new AuctionRouter({
      pool: poolOf(small, large),
    });
    expect(gavelOf(await router.invoke(TASK)).auction.winner).toBe("large");
  });

  it("when no bidder fits but the fallback's answer does, the fallback answers and no auction call is made", async () => {
    const { small, large } = pair();
    // 400 tokens: the fallback's answer (~200 with a 64-token cap) fits, a plan + jury + answer (~700) does not.
    const { budget, of } = recordingBudget({ global: { maxTokens: 400 } });
    const router = new AuctionRouter({
      pool: poolOf(small, large),
      budget,
      executionMaxTokens: 64,
    });
    const answer = await router.invoke(TASK);
    const { auction, usage } = gavelOf(answer);
    expect(answer.text).toBe("391");
    expect(auction.fallback).toEqual({
      member: "small",
      reason: "budget: no bidder can afford its plan, its share of the jury and its answer",
    });
    expect(Object.values(auction.dropped).every((reason) => reason.startsWith("budget:"))).toBe(true);
    expect(Object.keys(auction.dropped).sort()).toEqual(["large", "small"]);
    expect(usage.auction.total_tokens).toBe(0);
    expect(callsOf(small, "plan")).toHaveLength(0);
    expect(large.calls).toHaveLength(0);
    expect(of("settle")).toEqual(["router.answer:small"]);
  });

  it("when not even the fallback's answer fits, raises BudgetExhaustedError before spending anything", async () => {
    const { small, large } = pair();
    // 60 tokens: less than the fallback's bare answer (the prompt + a 64-token cap).
    const { budget, events } = recordingBudget({ global: { maxTokens: 60 } });
    const router = new AuctionRouter({
      pool: poolOf(small, large),
      budget,
      executionMaxTokens: 64,
    });
    const failure = await router.invoke(TASK).catch((error: unknown) => error);
    expect(BudgetExhaustedError.isInstance(failure)).toBe(true);
    expect(small.calls.length + large.calls.length).toBe(0);
    expect(events.map((event) => event.type)).toEqual(["refuse"]);
    expect(budget.snapshot()[0]?.spentTokens).toBe(0);
  });

  it("counts the bound tools' schemas in the answer's reservation and in the pre-screen", async () => {
    const add = tool(async ({ a, b }) => String(a + b), {
      name: "add",
      description: "Add two numbers",
      schema: z.object({ a: z.number(), b: z.number() }),
    });
    const huge = tool(async () => "", {
      name: "lookup",
      description: `Look things up. ${"Use this tool for every reference question, citing sources. ".repeat(60)}`,
      schema: z.object({ query: z.string() }),
    });
    const reservedAnswer = async (tools: Parameters<AuctionRouter["bindTools"]>[0]) => {
      const small = scriptedMember("small", { answer: "5" });
      const { budget, events } = recordingBudget({ global: { maxTokens: 100_000 } });
      const router = new AuctionRouter({ pool: [{ name: "small", model: small, price: CHEAP }], budget });
      await (tools.length > 0 ? router.bindTools(tools) : router).invoke("2 + 3?");
      const reserve = events.find((event) => event.type === "reserve" && event.reservation.label === "router.answer");
      return reserve?.type === "reserve" ? reserve.reservation.tokens : Number.NaN;
    };
    const without = await reservedAnswer([]);
    const withAdd = await reservedAnswer([add]);
    expect(withAdd - without).toBeGreaterThan(20); // the schema of `add`, as JSON tokens

    // A budget that affords the routed answer without tools cannot afford it with a ~700-token tool schema.
    const limit = without + 300;
    const route = (tools: Parameters<AuctionRouter["bindTools"]>[0]) => {
      const small = scriptedMember("small", { answer: "5" });
      const { budget } = recordingBudget({ global: { maxTokens: limit } });
      const router = new AuctionRouter({ pool: [{ name: "small", model: small, price: CHEAP }], budget });
      return { small, call: (tools.length > 0 ? router.bindTools(tools) : router).invoke("2 + 3?") };
    };
    expect((await route([]).call).text).toBe("5");
    const withHuge = route([huge]);
    await expect(withHuge.call).rejects.toMatchObject({ name: "BudgetExhaustedError" });
    expect(withHuge.small.calls).toHaveLength(0);
  });
});

describe("AuctionRouter + TokenBudget: scopes", () => {
  it("charges every call to the call's run scope: a run-scoped limit holds per run, and the ledger sees the runs", async () => {
    const long = Array.from({ length: 1_500 }, () => "word").join(" "); // ~1,500 tokens
    const small = scriptedMember("small", { answer: long });
    const { budget, events } = recordingBudget({ run: { maxTokens: 3_000 } });
    const ledger = createSqliteLedger({ path: ":memory:" });
    const router = new AuctionRouter({
      pool: [{ name: "small", model: small, price: CHEAP }],
      jury: "none",
      budget,
      ledger,
      executionMaxTokens: 2_000,
    });
    const spentIn = (run: string) => budget.snapshot().find((account) => account.scopeId === run)?.spentTokens;

    const first = gavelOf(await router.invoke(TASK, { budgetScopes: { run: "r1" } })).usage;
    const firstTokens = first.auction.total_tokens + first.execution.total_tokens;
    expect(spentIn("r1")).toBe(firstTokens);
    expect(firstTokens).toBeLessThan(3_000); // within the limit: no overrun
    // Run r1 has 3,000 − (~1,600 spent) left: less than one more answer may take. Nothing is called.
    const callsBefore = small.calls.length;
    const again = await router.invoke(TASK, { budgetScopes: { run: "r1" } }).catch((error: unknown) => error);
    expect(again).toMatchObject({ name: "BudgetExhaustedError", scope: "run", scopeId: "r1" });
    expect(small.calls.length).toBe(callsBefore);
    expect(spentIn("r1")).toBe(firstTokens);
    // Run r2 has its own account.
    const second = gavelOf(await router.invoke(TASK, { budgetScopes: { run: "r2" } })).usage;
    expect(spentIn("r2")).toBe(second.auction.total_tokens + second.execution.total_tokens);

    const scopesOfReservations = events.flatMap((event) =>
      event.type === "reserve" ? [event.reservation.scopes] : [],
    );
    expect(scopesOfReservations.length).toBeGreaterThan(0);
    expect(scopesOfReservations.every((scopes) => scopes.run === "r1" || scopes.run === "r2")).toBe(true);
    const spend = await ledger.spend({ by: "scope" });
    expect(Object.fromEntries(spend.map((row) => [row.key, row.totalTokens]))).toEqual({
      "run:r1": firstTokens,
      "run:r2": second.auction.total_tokens + second.execution.total_tokens,
    });
    await ledger.close();
  });

  it("reads the thread from configurable.thread_id and scopes from configurable.budgetScopes; the call option wins", async () => {
    const small = scriptedMember("small", {});
    const { budget, events } = recordingBudget({ thread: {}, run: {}, example: {} });
    const router = new AuctionRouter({
      pool: [{ name: "small", model: small, price: CHEAP }],
      jury: "none",
      budget,
      budgetScopes: { example: "from-option", run: "from-option" },
    });
    await router.invoke(TASK, { configurable: { thread_id: "t-1", budgetScopes: { run: "from-configurable" } } });
    const reservations = events.flatMap((event) => (event.type === "reserve" ? [event.reservation.scopes] : []));
    expect(reservations).toHaveLength(2); // plan, answer
    for (const scopes of reservations)
      expect(scopes).toEqual({ thread: "t-1", run: "from-configurable", example: "from-option" });

    events.length = 0;
    await router.invoke(TASK, { configurable: { thread_id: "t-1" }, budgetScopes: { run: "from-call" } });
    for (const event of events) if (event.type === "reserve") expect(event.reservation.scopes.run).toBe("from-call");
    await expect(router.invoke(TASK, { budgetScopes: { runId: "typo" } as never })).rejects.toMatchObject({
      name: "ConfigError",
    });
  });
});

describe("AuctionRouter + TokenBudget: the winner's answer fails", () => {
  it("the fallback answers, and nothing is charged twice: one answer settled, the winner's released", async () => {
    const { small, large } = pair({ small: "fallback: 391", large: { error: new Error("provider down") } });
    const { budget, of } = recordingBudget({ global: { maxTokens: 100_000 } });
    const { router, ledger } = routerWithLedger(poolOf(small, large), budget, "auction-1");
    const answer = await router.invoke(TASK);
    const { auction, usage } = gavelOf(answer);
    expect(answer.text).toBe("fallback: 391");
    expect(auction.outcome.winners).toEqual(["large"]);
    expect(auction.winner).toBe("small");
    expect(auction.winnerPlan).toBe("");
    expect(auction.fallback?.reason).toMatch(/^the winner "large" failed to answer: .*provider down/);
    // The fallback answered without the winner's plan.
    const fallbackPrompt = callsOf(small, "answer")[0]?.messages ?? [];
    expect(fallbackPrompt.some((message) => message.text.includes("verify by division"))).toBe(false);

    expect(of("settle").filter((entry) => entry.startsWith("router.answer"))).toEqual(["router.answer:small"]);
    expect(of("release")).toEqual(["router.answer:large"]);
    const [account] = budget.snapshot();
    expect(account?.reservedTokens).toBe(0);
    expect(account?.spentTokens).toBe(usage.auction.total_tokens + usage.execution.total_tokens);
    const charges = (await ledger.getAuction("auction-1"))?.charges ?? [];
    expect(charges.filter((charge) => charge.label === "answer").map((charge) => charge.agent)).toEqual(["small"]);
    expect(charges.reduce((sum, charge) => sum + charge.inputTokens + charge.outputTokens, 0)).toBe(
      answer.usage_metadata?.total_tokens,
    );
    // An outcome graded for this answer is not the winner's plan's: the memory is not told.
    expect(await router.recordOutcome("auction-1", { correct: true })).toBe(false);
    await ledger.close();
  });

  it("when the fallback fails too, AuctionRouterError keeps both errors and nothing stays reserved", async () => {
    const small = scriptedMember("small", { plan: "Multiply.", score: likesVerify, answer: { error: new Error("x") } });
    const large = scriptedMember("large", {
      plan: "Multiply, then verify.",
      score: likesVerify,
      answer: { error: new Error("y") },
    });
    const { budget } = recordingBudget({ global: { maxTokens: 100_000 } });
    const router = new AuctionRouter({
      pool: poolOf(small, large),
      budget,
    });
    const failure = await router.invoke(TASK).catch((error: unknown) => error);
    expect(failure).toMatchObject({
      name: "AuctionRouterError",
      reasons: { large: expect.stringMatching(/answer failed: .*y/) },
    });
    expect(callsOf(small, "answer")).toHaveLength(1);
    expect(budget.outstanding).toBe(0);
  });
});

describe("AuctionRouter + TokenBudget: a model that counts its own prompt (local llama.cpp)", () => {
  /** A scripted test double of a small-vocabulary local model: its prompts are 3× js-tiktoken's count. */
  class SelfCountingScriptedModel extends ScriptedChatModel {
    async countPromptTokens(messages: readonly BaseMessage[]): Promise<number> {
      return 3 * countMessageTokens(messages, "small");
    }
  }
  const selfCounting = (name: string, plan: string) =>
    new SelfCountingScriptedModel({
      model: name,
      replies: (call) => {
        const kind = kindOf(call);
        const prompt = call.messages.find((message) => message.type === "human")?.text ?? "";
        const content = kind === "jury" ? gullibleJurorReply(prompt, likesVerify) : kind === "answer" ? "391" : plan;
        return { content, usage: { inputTokens: 3 * countMessageTokens(call.messages, "small"), outputTokens: 4 } };
      },
    });

  it("pre-screens a local member's answer at its own count of the conversation", async () => {
    /** Is `large` admitted by the pre-screen under a token limit of `limit`? */
    const admitted = async (large: ScriptedChatModel, limit: number) => {
      const router = new AuctionRouter({
        pool: [
          { name: "small", model: scriptedMember("small", { plan: "Multiply.", answer: "391" }), price: CHEAP },
          { name: "large", model: large, price: DEAR },
        ],
        budget: createTokenBudget({ limits: { global: { maxTokens: limit } }, prices: { small: CHEAP, large: DEAR } }),
        jury: "none",
      });
      try {
        const { auction } = gavelOf(await router.invoke(TASK));
        return !(auction.dropped.large ?? "").startsWith("budget: its plan");
      } catch (error) {
        if (BudgetExhaustedError.isInstance(error)) return false;
        throw error;
      }
    };
    /** The smallest token limit under which `large` is admitted (the pre-screen's estimate of its auction). */
    const threshold = async (build: () => ScriptedChatModel) => {
      let [low, high] = [1, 200_000];
      while (low < high) {
        const middle = Math.floor((low + high) / 2);
        if (await admitted(build(), middle)) high = middle;
        else low = middle + 1;
      }
      return low;
    };
    const hosted = await threshold(() =>
      scriptedMember("large", { plan: "Multiply, then verify by division.", answer: "391" }),
    );
    const local = await threshold(() => selfCounting("large", "Multiply, then verify by division."));
    // The answer's conversation counted by the model (3×) instead of by tiktoken: the estimate grows by 2×.
    expect(local - hosted).toBe(2 * countMessageTokens([new HumanMessage(TASK)], "large"));
  });

  it("reserves every call at the model's own count, so no settlement overruns its reservation", async () => {
    const { budget, events } = recordingBudget({ global: { maxTokens: 100_000 } });
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: selfCounting("small", "Multiply."), price: CHEAP },
        { name: "large", model: selfCounting("large", "Multiply, then verify by division."), price: DEAR },
      ],
      budget,
    });
    await router.invoke(TASK);
    const settlements = events.flatMap((event) => (event.type === "settle" ? [event] : []));
    // plans, jury and the answer: every one settled at its reported usage, none above its reservation.
    expect(settlements.length).toBeGreaterThanOrEqual(5);
    for (const { reservation, settlement } of settlements) {
      expect(settlement.overrun).toBe(false);
      expect(reservation.tokens).toBeGreaterThanOrEqual(settlement.usage.inputTokens + settlement.usage.outputTokens);
    }
  });
});

describe("AuctionRouter + TokenBudget: a stream the caller stops reading", () => {
  it("settles what was streamed, frees the rest of the reservation and records the auction", async () => {
    const { small, large } = pair();
    const { budget } = recordingBudget({ global: { maxTokens: 100_000 } });
    const { router, ledger } = routerWithLedger(poolOf(small, large), budget, "auction-stopped");
    for await (const chunk of await router.stream(TASK)) {
      expect(chunk.text.length).toBeGreaterThan(0);
      break; // the caller has seen enough
    }
    const [global] = budget.snapshot();
    expect(global?.reservedTokens).toBe(0);
    const stored = await ledger.getAuction("auction-stopped");
    expect(stored?.charges.some((charge) => charge.kind === "settle" && charge.label === "answer")).toBe(true);
    // Everything settled is in the ledger, once: the budget's spend equals the ledger's.
    const ledgerTokens = (stored?.charges ?? [])
      .filter((charge) => charge.kind === "settle")
      .reduce((sum, charge) => sum + charge.inputTokens + charge.outputTokens, 0);
    expect(global?.spentTokens).toBe(ledgerTokens);
    await ledger.close();
  });

  it("settles and records what a stream had produced when it fails mid-answer, then rethrows", async () => {
    /** A scripted test double whose answer stream yields one chunk, then the connection drops. */
    class DroppingStreamModel extends ScriptedChatModel {
      override async *_streamResponseChunks(): AsyncGenerator<ChatGenerationChunk> {
        yield new ChatGenerationChunk({ text: "39", message: new AIMessageChunk({ content: "39" }) });
        throw new Error("connection reset");
      }
    }
    const small = new DroppingStreamModel({
      model: "small",
      replies: (call) => (kindOf(call) === "plan" ? "Multiply." : "391"),
    });
    const { budget } = recordingBudget({ global: { maxTokens: 100_000 } });
    const { router, ledger } = routerWithLedger(
      [{ name: "small", model: small, price: CHEAP }],
      budget,
      "auction-dropped",
      {
        jury: "none",
      },
    );
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const chunk of await router.stream(TASK)) seen.push(chunk.text);
      })(),
    ).rejects.toThrow(/connection reset/);
    expect(seen).toEqual(["39"]);
    const [global] = budget.snapshot();
    expect(global?.reservedTokens).toBe(0);
    const stored = await ledger.getAuction("auction-dropped");
    const settled = (stored?.charges ?? []).filter((charge) => charge.kind === "settle");
    expect(settled.some((charge) => charge.label === "answer")).toBe(true);
    expect(global?.spentTokens).toBe(
      settled.reduce((sum, charge) => sum + charge.inputTokens + charge.outputTokens, 0),
    );
    await ledger.close();
  });
});

describe("AuctionRouter + a store-backed budget (shared by replicas)", () => {
  it("screens, reserves and settles through the store: the same winner, every call charged once, nothing held", async () => {
    const store = createMemoryBudgetStore();
    const limits = { global: { maxUsd: 0.01 } };
    const prices = { small: CHEAP, large: DEAR };
    const budget = createTokenBudget({ limits, prices, store });
    const { small, large } = pair();
    const router = new AuctionRouter({ pool: poolOf(small, large), budget });
    const answer = await router.invoke(TASK);
    const { auction, usage } = gavelOf(answer);
    // The same decision as the in-process budget above: large's answer does not fit in $0.01.
    expect(auction.winner).toBe("small");
    expect(auction.dropped.large).toMatch(/^budget: /);
    const [account] = await budget.snapshot();
    expect(account?.reservedTokens).toBe(0);
    expect(account?.spentTokens).toBe(usage.execution.total_tokens + usage.auction.total_tokens);
    // A second replica on the same store sees the spend.
    const replica = createTokenBudget({ limits, prices, store });
    expect((await replica.remaining()).usd).toBeCloseTo(0.01 - (account?.spentUsd ?? 0), 12);
  });
});
