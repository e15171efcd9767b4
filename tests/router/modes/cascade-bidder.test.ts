/**
 * Agreement cascades bidding in AuctionRouter's memory auction (issue 10): when `cascade(a + b → top)`
 * wins, the request climbs the escalation ladder [a, b] → top — exactly the rungs' calls, each charged
 * once, each called member written as an outcome entry with its answer.
 */
import { describe, expect, it } from "vitest";
import type { StrategyMemory } from "../../../src/memory/types.js";
import { AuctionRouter } from "../../../src/router/index.js";
import { embedderIdOf, learnOutcomes } from "../../../src/router/memory-bids/index.js";
import { gavelOf } from "../scripted-pool.js";
import {
  CAPITAL_QUESTIONS,
  chargeLabels,
  coldMemory,
  type Embedder,
  type MemberName,
  memoryLedger,
  PRICES,
  poolOf,
  REQUEST,
  trio,
} from "./helpers.js";

const CASCADE = "cascade(tiny-x1 + mid-x2 → grand-x3)";

/**
 * Past capital questions where tiny and mid are each right half the time, agree (on B) exactly when
 * both are right and disagree otherwise; grand is always right. Alone, tiny and mid are coin flips;
 * together they are right whenever they agree, and grand settles the rest.
 */
async function agreeingPast(memory: StrategyMemory, embeddings: Embedder) {
  const cost = (model: MemberName) => (PRICES[model].outputPerMillion * 100) / 1e6;
  const records = CAPITAL_QUESTIONS.flatMap((prompt, index) => {
    const agree = index % 2 === 0;
    const row = (model: MemberName, response: string, correct: number) => ({
      prompt_id: `past-${index}`,
      prompt,
      model,
      correct,
      cost_usd: cost(model),
      response,
    });
    return [
      row("tiny-x1", agree ? "B" : "A", agree ? 1 : 0),
      row("mid-x2", agree ? "B" : "C", agree ? 1 : 0),
      row("grand-x3", "B", 1),
    ];
  });
  await learnOutcomes(memory, records, { embeddings, embedderId: embedderIdOf(embeddings) });
}

/** A memory of {@link agreeingPast}. */
async function agreeingMemory() {
  const { embeddings, memory } = coldMemory();
  await agreeingPast(memory, embeddings);
  return { embeddings, memory };
}

async function setup(answers: { tiny: string; mid: string; grand: string }, cascades?: boolean) {
  const { embeddings, memory } = await agreeingMemory();
  const ledger = memoryLedger();
  const { tiny, mid, grand } = trio(answers);
  const router = new AuctionRouter({
    pool: poolOf({ "grand-x3": grand, "mid-x2": mid, "tiny-x1": tiny }),
    memory,
    embeddings,
    ledger,
    mode: "memory",
    lambda: 0.3,
    ...(cascades !== undefined && { memoryBids: { cascades } }),
  });
  return { router, memory, ledger, tiny, mid, grand };
}

describe("AuctionRouter: agreement cascades bid in memory bids", () => {
  it("a winning cascade whose rungs agree calls exactly its two rungs (the top is never called)", async () => {
    const { router, memory, ledger, tiny, mid, grand } = await setup({
      tiny: "B",
      mid: "The answer is (B).",
      grand: "B",
    });
    const answer = await router.invoke(REQUEST);
    const { auction } = gavelOf(answer);
    expect(auction.path).toBe("escalation");
    expect(auction.reason).toContain(`memory bids: ${CASCADE} won`);
    expect(auction.reason).toMatch(/escalation: agreed: B = B/);
    expect(auction.outcome.winners).toEqual([CASCADE]);
    expect(auction.calls).toEqual(["tiny-x1", "mid-x2"]);
    expect(auction.winner).toBe("mid-x2");
    expect(answer.text).toBe("The answer is (B).");
    expect([tiny.calls.length, mid.calls.length, grand.calls.length]).toEqual([1, 1, 0]);
    expect(await chargeLabels(ledger, auction.auctionId)).toEqual(["answer:mid-x2", "escalation:tiny-x1"]);
    expect((await ledger.getAuction(auction.auctionId))?.metadata).toMatchObject({
      path: "escalation",
      calls: ["tiny-x1", "mid-x2"],
    });
    expect((await memory.get(`${auction.auctionId}:tiny-x1`))?.metadata).toMatchObject({ called: true, answer: "B" });
    expect((await memory.get(`${auction.auctionId}:mid-x2`))?.role).toBe("winning");
    expect(await memory.get(`${auction.auctionId}:grand-x3`)).toBeUndefined();
    expect(await memory.get(`${auction.auctionId}:${CASCADE}`)).toBeUndefined();
  });

  it("when its rungs disagree, the cascade's top answers: three calls, each charged once", async () => {
    const { router, memory, ledger, tiny, mid, grand } = await setup({ tiny: "A", mid: "C", grand: "B" });
    const answer = await router.invoke(REQUEST);
    const { auction } = gavelOf(answer);
    expect(auction.path).toBe("escalation");
    expect(auction.calls).toEqual(["tiny-x1", "mid-x2", "grand-x3"]);
    expect(auction.winner).toBe("grand-x3");
    expect(answer.text).toBe("B");
    expect([tiny.calls.length, mid.calls.length, grand.calls.length]).toEqual([1, 1, 1]);
    expect(await chargeLabels(ledger, auction.auctionId)).toEqual([
      "answer:grand-x3",
      "escalation:mid-x2",
      "escalation:tiny-x1",
    ]);
    expect((await memory.get(`${auction.auctionId}:mid-x2`))?.metadata).toMatchObject({ called: true, answer: "C" });
    expect((await memory.get(`${auction.auctionId}:grand-x3`))?.role).toBe("winning");
    // The verifier's grade reaches a rung that was called.
    expect(await router.recordOutcome(auction.auctionId, { member: "tiny-x1", correct: false })).toBe(true);
  });

  it("memoryBids.cascades: false keeps the members only: one call", async () => {
    const { router, tiny, mid, grand } = await setup({ tiny: "B", mid: "B", grand: "B" }, false);
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.path).toBe("memory");
    expect(auction.outcome.results.map((result) => result.bidder).sort()).toEqual(["grand-x3", "mid-x2", "tiny-x1"]);
    expect(tiny.calls.length + mid.calls.length + grand.calls.length).toBe(1);
  });

  it("no cascade bids in a two-member pool", async () => {
    const { embeddings, memory } = await agreeingMemory();
    const { tiny, grand } = trio({ tiny: "B", grand: "B" });
    const router = new AuctionRouter({
      pool: poolOf({ "grand-x3": grand, "tiny-x1": tiny }),
      memory,
      embeddings,
      mode: "memory",
      lambda: 0.3,
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.outcome.results.map((result) => result.bidder).sort()).toEqual(["grand-x3", "tiny-x1"]);
    expect(auction.path).toBe("memory");
  });

  it('auto mode, unsure with unsure: "plans": a winning cascade does not run, the plan auction does', async () => {
    const { embeddings, memory } = await agreeingMemory();
    const { tiny, mid, grand } = trio({ tiny: "B", mid: "B", grand: "B" });
    const router = new AuctionRouter({
      pool: poolOf({ "grand-x3": grand, "mid-x2": mid, "tiny-x1": tiny }),
      memory,
      embeddings,
      mode: "auto",
      lambda: 0.3,
      jury: "none",
      memoryBids: { unsure: "plans", confidence: { minEvidence: 1_000 } },
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.path).toBe("plans");
    expect(auction.reason).toContain(`memory bids: ${CASCADE} won`);
  });
});
