/**
 * The shared speaker auction's rules (gating.ts) that both drivers use: who may bid
 * (`heardNothingNew`), how the agreement of agents that do not bid weighs (`reliabilityOf`), and
 * the vote weight (`voteWeight`).
 */
import { describe, expect, it } from "vitest";
import { DEFAULT_RELIABILITY, heardNothingNew, selectSpeakers, voteWeight } from "../../src/debate/gating.js";

const rules = { mechanism: "first_price", reservePrice: 0, topK: 1, seed: 0 } as const;

describe("selectSpeakers weighs the agreement of agents that do not bid", () => {
  const input = {
    candidates: [{ agent: "c", reliability: 0.8, aggressiveness: 1, tokens: 10 }],
    // a (reliable) shares c's answer; b (unreliable) does not. Neither bids this round.
    latestAnswers: { a: "18", b: "26", c: "18" },
    remainingTokens: 100,
    rules,
  };

  it("with reliabilityOf, a non-bidder weighs its own reliability", () => {
    const reliabilities: Record<string, number> = { a: 0.9, b: 0.1, c: 0.8 };
    const { bids } = selectSpeakers({ ...input, reliabilityOf: (agent) => reliabilities[agent] ?? 0.5 });
    // agreement = 0.9 / (0.9 + 0.1): c has little to add.
    expect(bids[0]?.value).toBeCloseTo(0.8 * (1 - 0.9), 10);
  });

  it("without it, non-bidders weigh DEFAULT_RELIABILITY (the old behaviour, kept for callers that pass none)", () => {
    const { bids } = selectSpeakers(input);
    expect(bids[0]?.value).toBeCloseTo(0.8 * (1 - 0.5), 10);
  });
});

describe("heardNothingNew", () => {
  it("marks only an agent whose latest message is more recent than everyone else's", () => {
    expect(heardNothingNew({ a: 1, b: 0, c: 0 })).toEqual(new Set(["a"]));
    expect(heardNothingNew({ a: 1, b: 1, c: 0 })).toEqual(new Set());
    expect(heardNothingNew({ a: 0 })).toEqual(new Set(["a"]));
    expect(heardNothingNew({})).toEqual(new Set());
  });
});

describe("voteWeight", () => {
  it("is α × reliability, DEFAULT_RELIABILITY when unknown, α = 1 when unset", () => {
    expect(voteWeight(0.9, 2)).toBeCloseTo(1.8, 10);
    expect(voteWeight(undefined, 2)).toBe(2 * DEFAULT_RELIABILITY);
    expect(voteWeight(0.9, undefined)).toBe(0.9);
  });
});
