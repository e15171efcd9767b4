/**
 * AuctionRouter's bidding modes (issue 10): memory bids, auto with its escalation, bandit feedback
 * through recordOutcome, and the options that guard them.
 */
import { tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createTokenBudget } from "../../../src/budget/index.js";
import { ConfigError } from "../../../src/errors.js";
import { AuctionRouter } from "../../../src/router/index.js";
import { RouterOutcomeError } from "../../../src/router/memory-bids/index.js";
import type { ScriptedChatModel } from "../../helpers/scriptedChatModel.js";
import { gavelOf, scriptedMember } from "../scripted-pool.js";
import {
  CAPITAL_QUESTIONS,
  chargeLabels,
  coldMemory,
  hashingEmbeddings,
  learnPast,
  member,
  memoryLedger,
  newMemory,
  PRICES,
  poolOf,
  REQUEST,
  trio,
  trioPool,
  trioRouter,
} from "./helpers.js";

function callCount(...models: ScriptedChatModel[]): number {
  return models.reduce((sum, model) => sum + model.calls.length, 0);
}

/** A memory where tiny answered every past capital question right and the others wrong. */
/**
 * The confidence rule of these tests' small memories (a dozen past requests): the fitted default
 * (`DEFAULT_CONFIDENCE_RULE`, 24 evidence) needs a memory of RouterBench's size.
 */
const SMALL_MEMORY_RULE = { minEvidence: 4, maxSpread: 0.1 };

async function warmMemory() {
  const embeddings = hashingEmbeddings();
  const memory = newMemory(embeddings);
  await learnPast(memory, embeddings, CAPITAL_QUESTIONS, { "tiny-x1": 1, "mid-x2": 0, "grand-x3": 0 });
  return { embeddings, memory };
}

describe("AuctionRouter options: modes", () => {
  it("defaults to auto with memory and embeddings, to plans otherwise", async () => {
    const { embeddings, memory } = await warmMemory();
    const { tiny, mid, grand } = trio();
    const pool = trioPool({ tiny, mid, grand });
    const auto = new AuctionRouter({ pool, memory, embeddings, memoryBids: { confidence: SMALL_MEMORY_RULE } });
    const answer = await auto.invoke(REQUEST);
    expect(gavelOf(answer).auction.path).toBe("memory");
    const plans = new AuctionRouter({ pool, memory, jury: "none" });
    expect(gavelOf(await plans.invoke(REQUEST)).auction.path).toBe("plans");
  });

  it("refuses bad combinations with ConfigErrors naming the field and the fix", () => {
    const { embeddings, memory } = coldMemory();
    const pool = poolOf({ "tiny-x1": member("tiny-x1", "B"), "grand-x3": member("grand-x3", "B") });
    const refused = (options: Record<string, unknown>) => {
      try {
        new AuctionRouter({ pool, ...options } as ConstructorParameters<typeof AuctionRouter>[0]);
      } catch (error) {
        expect(ConfigError.isInstance(error)).toBe(true);
        return (error as Error).message;
      }
      throw new Error("expected a ConfigError");
    };
    expect(refused({ mode: "memory", embeddings })).toMatch(
      /memory.*mode "memory" bids from an outcome memory.*mode: "plans"/s,
    );
    expect(refused({ mode: "auto", memory })).toMatch(/embeddings.*mode "auto" embeds each request/s);
    expect(refused({ mode: "memory", memory, embeddings, lambda: -0.1 })).toMatch(/lambda/);
    expect(refused({ mode: "memory", memory, embeddings, memoryBids: { explorationRate: 1.5 } })).toMatch(
      /explorationRate/,
    );
    expect(refused({ mode: "memory", memory, embeddings, memoryBids: { priors: { "gpt-9": 0.5 } } })).toMatch(
      /memoryBids\.priors\.gpt-9.*"gpt-9" is not a pool member name/s,
    );
  });
});

describe("AuctionRouter, mode memory", () => {
  it("makes exactly one model call: the winner's answer, without a plan", async () => {
    const { embeddings, memory } = await warmMemory();
    const { router, tiny, mid, grand } = trioRouter(trio(), {
      mode: "memory",
      memory,
      embeddings,
    });
    const answer = await router.invoke(REQUEST);
    const { auction, usage } = gavelOf(answer);
    expect(callCount(tiny, mid, grand)).toBe(1);
    expect(tiny.calls).toHaveLength(1);
    expect(tiny.calls[0]?.messages.map((message) => message.text)).toEqual([REQUEST]);
    expect(auction).toMatchObject({ path: "memory", winner: "tiny-x1", winnerPlan: "", calls: ["tiny-x1"], bids: [] });
    expect(auction.outcome.results.map((result) => result.bidder).sort()).toEqual(["grand-x3", "mid-x2", "tiny-x1"]);
    const tinyBid = auction.outcome.results.find((result) => result.bidder === "tiny-x1");
    expect(tinyBid?.meta?.evidence).toBeGreaterThan(1);
    expect(usage.auction.total_tokens).toBe(0);
    expect(answer.text).toBe("B");
  });

  it("works from the first request on a cold pool of unknown models with explicit prices", async () => {
    const embeddings = hashingEmbeddings();
    const { router, tiny, mid, grand } = trioRouter(trio(), {
      mode: "memory",
      memory: newMemory(embeddings),
      embeddings,
    });
    expect(router.pool.map((item) => item.price)).toEqual([PRICES["tiny-x1"], PRICES["mid-x2"], PRICES["grand-x3"]]);
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.path).toBe("memory");
    expect(callCount(tiny, mid, grand)).toBe(1);
    // Cold: every bid is the price-tier prior against the price; nobody has evidence.
    for (const result of auction.outcome.results) expect(result.meta?.evidence).toBe(0);
  });

  it("explores a uniformly drawn member with explorationRate 1 (path explore)", async () => {
    const { embeddings, memory } = await warmMemory();
    const { router, tiny, mid, grand } = trioRouter(trio(), {
      mode: "memory",
      memory,
      embeddings,
      memoryBids: { explorationRate: 1 },
    });
    const winners = new Set<string>();
    for (let index = 0; index < 12; index += 1) {
      const { auction } = gavelOf(await router.invoke(`${REQUEST} (${index})`));
      expect(auction.path).toBe("explore");
      winners.add(auction.winner);
    }
    expect(winners.size).toBeGreaterThan(1);
    expect(callCount(tiny, mid, grand)).toBe(12);
  });

  it("a budget that affords only the cheap member's answer: the others are dropped before any call", async () => {
    const { embeddings, memory } = await warmMemory();
    // Learn grand as always right too, so only the budget keeps it out.
    await learnPast(memory, embeddings, CAPITAL_QUESTIONS.slice(0, 6), { "grand-x3": 1 });
    const { tiny, mid, grand } = trio();
    // tiny's answer (4,096 output tokens at $0.2/M ≈ $0.0008) fits in $0.003; mid's ($0.006) and grand's ($0.12) do not.
    const budget = createTokenBudget({ limits: { global: { maxUsd: 0.003 } }, prices: PRICES });
    const router = new AuctionRouter({
      pool: trioPool({ tiny, mid, grand }),
      mode: "auto",
      memory,
      embeddings,
      budget,
      memoryBids: { priors: { "grand-x3": 0.95 } },
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.winner).toBe("tiny-x1");
    expect(Object.keys(auction.dropped).sort()).toEqual(["grand-x3", "mid-x2"]);
    expect(auction.dropped["grand-x3"]).toMatch(/^budget: its answer does not fit/);
    expect(auction.outcome.results.map((result) => result.bidder)).toEqual(["tiny-x1"]);
    expect(callCount(mid, grand)).toBe(0);
    const [account] = budget.snapshot();
    expect(account?.reservedTokens).toBe(0);
    expect(account?.spentUsd).toBeGreaterThan(0);
  });
});

describe("AuctionRouter, mode auto", () => {
  it("with a warm memory takes the memory path and makes no extra call", async () => {
    const { embeddings, memory } = await warmMemory();
    const { router, tiny, mid, grand } = trioRouter(trio(), {
      memory,
      embeddings,
      memoryBids: { confidence: SMALL_MEMORY_RULE },
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.path).toBe("memory");
    expect(auction.reason).toMatch(/^evidence \d+\.\d ≥ \d+, spread/);
    expect(callCount(tiny, mid, grand)).toBe(1);
  });

  it("cold start escalates cheapest first; two agreeing answers stop the climb (the top is never called)", async () => {
    const { embeddings, memory } = coldMemory();
    const ledger = memoryLedger();
    const { tiny, mid, grand } = trio({ tiny: "B", mid: "The answer is (B).", grand: "C" });
    const router = new AuctionRouter({
      pool: poolOf({ "grand-x3": grand, "mid-x2": mid, "tiny-x1": tiny }),
      memory,
      embeddings,
      ledger,
    });
    const answer = await router.invoke(REQUEST);
    const { auction, usage } = gavelOf(answer);
    expect(auction.path).toBe("escalation");
    expect(auction.reason).toMatch(/cold; escalation: agreed: B = B/);
    expect(auction.calls).toEqual(["tiny-x1", "mid-x2"]);
    expect(auction.winner).toBe("mid-x2");
    expect(answer.text).toBe("The answer is (B).");
    expect([tiny.calls.length, mid.calls.length, grand.calls.length]).toEqual([1, 1, 0]);
    // tiny's answer is overhead, mid's the execution; each charged once.
    expect(await chargeLabels(ledger, auction.auctionId)).toEqual(["answer:mid-x2", "escalation:tiny-x1"]);
    const stored = await ledger.getAuction(auction.auctionId);
    const tinyCharge = stored?.charges.find((charge) => charge.agent === "tiny-x1");
    expect(usage.auction.total_tokens).toBe((tinyCharge?.inputTokens ?? 0) + (tinyCharge?.outputTokens ?? 0));
    expect(answer.usage_metadata?.total_tokens).toBe(usage.auction.total_tokens + usage.execution.total_tokens);
    expect(stored?.metadata).toMatchObject({ path: "escalation", calls: ["tiny-x1", "mid-x2"] });
    // Both called members have outcome entries; grand (not called) has none.
    expect((await memory.get(`${auction.auctionId}:tiny-x1`))?.metadata).toMatchObject({
      gavel: "outcome",
      called: true,
      answer: "B",
    });
    expect((await memory.get(`${auction.auctionId}:mid-x2`))?.role).toBe("winning");
    expect(await memory.get(`${auction.auctionId}:grand-x3`)).toBeUndefined();
    await ledger.close();
  });

  it("cold start: disagreeing rungs climb to the top member, who answers", async () => {
    const embeddings = hashingEmbeddings();
    const { router, tiny, mid, grand } = trioRouter(trio({ tiny: "A", mid: "B", grand: "C" }), {
      memory: newMemory(embeddings),
      embeddings,
    });
    const answer = await router.invoke(REQUEST);
    const { auction, usage } = gavelOf(answer);
    expect(auction.reason).toMatch(/disagreed: A ≠ B; top "grand-x3" answers/);
    expect(auction.calls).toEqual(["tiny-x1", "mid-x2", "grand-x3"]);
    expect(auction.winner).toBe("grand-x3");
    expect(answer.text).toBe("C");
    expect(callCount(tiny, mid, grand)).toBe(3);
    expect(usage.auction.total_tokens).toBeGreaterThan(0);
  });

  it("unsure, but the cheapest member wins the auction (a high λ): it answers alone, with no climb", async () => {
    const { embeddings, memory } = coldMemory();
    const { router, tiny, mid, grand } = trioRouter(trio({ tiny: "A", mid: "B", grand: "C" }), {
      memory,
      embeddings,
      lambda: 20,
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.path).toBe("memory");
    expect(auction.reason).toMatch(
      /cold; "tiny-x1" won and is the cheapest member: a climb would only buy dearer answers/,
    );
    expect(auction.calls).toEqual(["tiny-x1"]);
    expect(callCount(tiny, mid, grand)).toBe(1);
  });

  it("a failing rung is skipped and recorded; the climb goes on", async () => {
    const embeddings = hashingEmbeddings();
    const tiny = member("tiny-x1", { error: new Error("provider down") });
    const { mid, grand } = trio({ mid: "B", grand: "C" });
    const router = new AuctionRouter({
      pool: trioPool({ tiny, mid, grand }),
      memory: newMemory(embeddings),
      embeddings,
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.reason).toMatch(/"tiny-x1" failed \(.*provider down.*\), skipped/);
    expect(auction.calls).toEqual(["mid-x2", "grand-x3"]);
    expect(auction.winner).toBe("grand-x3");
  });

  it("with a budget, every escalation call is reserved and settled once; nothing stays reserved", async () => {
    const embeddings = hashingEmbeddings();
    const events: string[] = [];
    const budget = createTokenBudget({
      limits: { global: { maxUsd: 10 } },
      prices: PRICES,
      onEvent: (event) => {
        if ("reservation" in event) events.push(`${event.type}:${event.reservation.label}:${event.reservation.model}`);
      },
    });
    const { router } = trioRouter(trio({ tiny: "A", mid: "B", grand: "C" }), {
      memory: newMemory(embeddings),
      embeddings,
      budget,
    });
    const answer = await router.invoke(REQUEST);
    expect(events.filter((event) => event.startsWith("settle:")).sort()).toEqual([
      "settle:router.answer:grand-x3",
      "settle:router.escalation:mid-x2",
      "settle:router.escalation:tiny-x1",
    ]);
    const [account] = budget.snapshot();
    expect(account?.reservedTokens).toBe(0);
    expect(account?.spentTokens).toBe(answer.usage_metadata?.total_tokens);
  });

  it("when the memory's winner fails, the fallback answers; only the fallback counts as called", async () => {
    const { embeddings, memory } = await warmMemory();
    const tiny = member("tiny-x1", { error: new Error("provider down") });
    const { mid, grand } = trio({ mid: "B", grand: "B" });
    const router = new AuctionRouter({
      pool: trioPool({ tiny, mid, grand }),
      mode: "memory",
      memory,
      embeddings,
      fallback: "grand-x3",
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.outcome.winners).toEqual(["tiny-x1"]);
    expect(auction.winner).toBe("grand-x3");
    expect(auction.fallback?.reason).toMatch(/the winner "tiny-x1" failed to answer/);
    expect(auction.calls).toEqual(["grand-x3"]);
    await expect(router.recordOutcome(auction.auctionId, { member: "tiny-x1", correct: false })).rejects.toMatchObject({
      reason: "member_not_called",
    });
    expect(await router.recordOutcome(auction.auctionId, { correct: true })).toBe(true);
    expect((await memory.get(`${auction.auctionId}:grand-x3`))?.outcome).toBe(1);
  });

  it("a rung past answerTimeoutMs is abandoned and skipped; the climb goes on", async () => {
    const embeddings = hashingEmbeddings();
    const tiny = member("tiny-x1", () => new Promise<string>(() => undefined) as never);
    const { mid, grand } = trio({ mid: "B", grand: "C" });
    const router = new AuctionRouter({
      pool: trioPool({ tiny, mid, grand }),
      memory: newMemory(embeddings),
      embeddings,
      answerTimeoutMs: 50,
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.reason).toMatch(/"tiny-x1" failed \(.*50 ms.*\), skipped/);
    expect(auction.calls).toEqual(["mid-x2", "grand-x3"]);
  });

  it("the caller's abort mid-climb: the rejection is the abort, and the rung already bought is in the ledger", async () => {
    const embeddings = hashingEmbeddings();
    const ledger = memoryLedger();
    const controller = new AbortController();
    const tiny = member("tiny-x1", () => {
      setTimeout(() => controller.abort(new Error("caller left")), 0);
      return "A";
    });
    const mid = member("mid-x2", () => new Promise<string>(() => undefined) as never);
    const grand = member("grand-x3", "C");
    const router = new AuctionRouter({
      pool: trioPool({ tiny, mid, grand }),
      memory: newMemory(embeddings),
      embeddings,
      ledger,
      generateId: () => "climb-1",
    });
    await expect(router.invoke(REQUEST, { signal: controller.signal })).rejects.toThrow(/caller left|abort/i);
    expect(await chargeLabels(ledger, "climb-1")).toEqual(["escalation:tiny-x1"]);
    const stored = await ledger.getAuction("climb-1");
    expect(stored?.metadata).toMatchObject({ path: "escalation", calls: ["tiny-x1"] });
    expect(grand.calls).toHaveLength(0);
    await ledger.close();
  });

  it("bound tools reach every rung; two rungs agree when they make the same tool calls", async () => {
    const embeddings = hashingEmbeddings();
    const lookup = tool(async ({ country }) => `capital of ${country}`, {
      name: "lookup",
      description: "Look a capital up",
      schema: z.object({ country: z.string() }),
    });
    const calling = (country: string) => ({ toolCalls: [{ name: "lookup", args: { country } }] });
    const route = async (countries: [string, string, string]) => {
      const tiny = member("tiny-x1", calling(countries[0]));
      const mid = member("mid-x2", calling(countries[1]));
      const grand = member("grand-x3", calling(countries[2]));
      const router = new AuctionRouter({
        pool: trioPool({ tiny, mid, grand }),
        memory: newMemory(embeddings),
        embeddings,
      }).bindTools([lookup]);
      const answer = await router.invoke(REQUEST);
      for (const model of [tiny, mid, grand]) {
        for (const call of model.calls) expect(call.toolNames).toEqual(["lookup"]);
      }
      return { answer, auction: gavelOf(answer).auction };
    };
    const same = await route(["40", "40", "41"]);
    expect(same.auction.calls).toEqual(["tiny-x1", "mid-x2"]);
    expect(same.auction.reason).toMatch(/agreed: the same tool calls lookup\(\{"country":"40"\}\)/);
    expect(same.answer.tool_calls?.[0]?.args).toEqual({ country: "40" });
    const different = await route(["40", "39", "41"]);
    expect(different.auction.calls).toEqual(["tiny-x1", "mid-x2", "grand-x3"]);
    expect(different.answer.tool_calls?.[0]?.args).toEqual({ country: "41" });
  });

  it('unsure: "plans" holds the plan auction instead (path plans)', async () => {
    const embeddings = hashingEmbeddings();
    const { tiny, grand } = trio({ tiny: "B", grand: "B" });
    const router = new AuctionRouter({
      pool: poolOf({ "tiny-x1": tiny, "grand-x3": grand }),
      memory: newMemory(embeddings),
      embeddings,
      jury: "none",
      memoryBids: { unsure: "plans" },
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.path).toBe("plans");
    expect(auction.reason).toMatch(/cold; unsure: plan auction/);
    expect(auction.bids.length).toBe(2);
  });
});

describe("AuctionRouter, mode plans with an embedder", () => {
  it("the answering member's plan entry is an outcome entry: plan auctions feed memory bids", async () => {
    const { embeddings, memory } = coldMemory();
    const small = scriptedMember("tiny-x1", { plan: "Recall the atlas.", answer: "B" });
    const large = scriptedMember("grand-x3", { plan: "Recall the atlas, then check.", answer: "B" });
    const pool = [
      { name: "tiny-x1", model: small, price: PRICES["tiny-x1"] },
      { name: "grand-x3", model: large, price: PRICES["grand-x3"] },
    ];
    const plans = new AuctionRouter({ pool, mode: "plans", memory, embeddings, jury: "none" });
    const { auction } = gavelOf(await plans.invoke(REQUEST));
    const loser = auction.winner === "tiny-x1" ? "grand-x3" : "tiny-x1";
    const winnerEntry = await memory.get(`${auction.auctionId}:${auction.winner}`);
    expect(winnerEntry?.metadata).toMatchObject({
      gavel: "outcome",
      embedder: "hashing-256",
      called: true,
      answer: "B",
    });
    expect(winnerEntry?.plan).not.toBe("");
    expect((await memory.get(`${auction.auctionId}:${loser}`))?.metadata?.called).toBeUndefined();
    expect(await plans.recordOutcome(auction.auctionId, { correct: true })).toBe(true);

    const bids = new AuctionRouter({ pool, mode: "memory", memory, embeddings });
    const decided = gavelOf(await bids.invoke(REQUEST)).auction;
    const evidenceOf = (name: string) =>
      decided.outcome.results.find((result) => result.bidder === name)?.meta?.evidence;
    expect(evidenceOf(auction.winner)).toBeGreaterThan(0.9);
    expect(evidenceOf(loser)).toBe(0);
  });
});

describe("AuctionRouter.recordOutcome: bandit feedback", () => {
  it("scores only called members, once each; an uncalled member's entries never get an outcome", async () => {
    const { embeddings, memory } = await warmMemory();
    const ledger = memoryLedger();
    const { router } = trioRouter(trio(), {
      mode: "memory",
      memory,
      embeddings,
      ledger,
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    const id = auction.auctionId;
    await expect(router.recordOutcome(id, { member: "grand-x3", correct: true })).rejects.toMatchObject({
      name: "RouterOutcomeError",
      reason: "member_not_called",
      member: "grand-x3",
    });
    expect(await memory.get(`${id}:grand-x3`)).toBeUndefined();
    expect(await router.recordOutcome(id, { correct: true, label: "B" })).toBe(true);
    expect((await memory.get(`${id}:tiny-x1`))?.outcome).toBe(1);
    expect((await ledger.getAuction(id))?.outcome?.correct).toBe(true);
    const again = router.recordOutcome(id, { correct: false });
    await expect(again).rejects.toBeInstanceOf(RouterOutcomeError);
    await expect(again).rejects.toMatchObject({ reason: "already_scored" });
    expect((await memory.get(`${id}:tiny-x1`))?.outcome).toBe(1);
    await expect(router.recordOutcome("no-such-auction", { correct: true })).rejects.toMatchObject({
      reason: "unknown_auction",
    });
    await ledger.close();
  });

  it("two outcomes for one answer sent at once: one is recorded, the other refused (never counted twice)", async () => {
    const { embeddings, memory } = await warmMemory();
    const { router } = trioRouter(trio(), {
      mode: "memory",
      memory,
      embeddings,
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    const results = await Promise.allSettled([
      router.recordOutcome(auction.auctionId, { correct: true }),
      router.recordOutcome(auction.auctionId, { correct: false }),
    ]);
    expect(results.map((result) => result.status).sort()).toEqual(["fulfilled", "rejected"]);
    const refused = results.find((result) => result.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ reason: "already_scored" });
    expect((await memory.get(`${auction.auctionId}:tiny-x1`))?.outcome).toBe(1);
  });

  it("after an escalation, a non-final called member can be scored; the ledger grades only the final answer", async () => {
    const { embeddings, memory } = coldMemory();
    const ledger = memoryLedger();
    const { router } = trioRouter(trio({ tiny: "A", mid: "B", grand: "C" }), {
      memory,
      embeddings,
      ledger,
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    const id = auction.auctionId;
    expect(await router.recordOutcome(id, { member: "tiny-x1", correct: false })).toBe(true);
    expect((await ledger.getAuction(id))?.outcome).toBeUndefined();
    expect(await router.recordOutcome(id, { correct: true })).toBe(true);
    expect((await ledger.getAuction(id))?.outcome?.correct).toBe(true);
    expect((await memory.get(`${id}:tiny-x1`))?.outcome).toBe(0);
    expect((await memory.get(`${id}:grand-x3`))?.outcome).toBe(1);
    expect((await memory.get(`${id}:mid-x2`))?.outcome).toBeUndefined();
    await ledger.close();
  });

  it("knows an auction of another router instance through the ledger (metadata.calls)", async () => {
    const { embeddings, memory } = coldMemory();
    const ledger = memoryLedger();
    const { tiny, mid, grand } = trio({ tiny: "A", mid: "B", grand: "C" });
    const options = {
      pool: trioPool({ tiny, mid, grand }),
      memory,
      embeddings,
      ledger,
    };
    const { auction } = gavelOf(await new AuctionRouter(options).invoke(REQUEST));
    const restarted = new AuctionRouter(options);
    expect(await restarted.recordOutcome(auction.auctionId, { member: "mid-x2", score: 0.5 })).toBe(true);
    await expect(restarted.recordOutcome(auction.auctionId, { member: "mid-x2", score: 0.5 })).rejects.toMatchObject({
      reason: "already_scored",
    });
    expect((await memory.get(`${auction.auctionId}:mid-x2`))?.outcome).toBe(0.5);
    await ledger.close();
  });

  it("resolves false without a memory (the ledger still gets the outcome)", async () => {
    const ledger = memoryLedger();
    const { tiny, grand } = trio();
    const router = new AuctionRouter({ pool: poolOf({ "tiny-x1": tiny, "grand-x3": grand }), jury: "none", ledger });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.calls).toEqual([auction.winner]);
    expect(await router.recordOutcome(auction.auctionId, { correct: true })).toBe(false);
    expect((await ledger.getAuction(auction.auctionId))?.outcome?.correct).toBe(true);
    await ledger.close();
  });
});

describe("memory bids read no task label", () => {
  it("routes identically whatever kind the memory's entries carry", async () => {
    const decide = async (kind: string) => {
      const embeddings = hashingEmbeddings();
      const memory = newMemory(embeddings);
      const { learnOutcomes } = await import("../../../src/router/memory-bids/index.js");
      const records = CAPITAL_QUESTIONS.flatMap((prompt, index) =>
        (["tiny-x1", "mid-x2", "grand-x3"] as const).map((model, position) => ({
          prompt_id: `p${index}`,
          prompt,
          model,
          correct: (index + position) % 2,
          cost_usd: 0.001 * (position + 1),
        })),
      );
      await learnOutcomes(memory, records, { embeddings, kind });
      const { tiny, mid, grand } = trio();
      const router = new AuctionRouter({
        pool: trioPool({ tiny, mid, grand }),
        mode: "memory",
        memory,
        embeddings,
        taskKind: "route",
      });
      return gavelOf(await router.invoke(REQUEST)).auction.outcome.results.map((result) => [
        result.bidder,
        result.amount,
      ]);
    };
    const plain = await decide("");
    expect(await decide("arc-challenge")).toEqual(plain);
    expect(await decide("route")).toEqual(plain);
  });
});
