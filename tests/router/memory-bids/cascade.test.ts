/**
 * Agreement cascades as memory bidders (`estimateCascades`): their value and cost from the hits the
 * members' estimate read, and when none bid.
 */
import { describe, expect, it } from "vitest";
import type { StrategySearchHit } from "../../../src/memory/types.js";
import {
  cascadeName,
  DEFAULT_CASCADE_PRIOR_MARGIN,
  estimateCascades,
} from "../../../src/router/memory-bids/cascade.js";
import { clearMemoryBids, isConfident, type MemberEvidence } from "../../../src/router/memory-bids/index.js";
import { EMBEDDER, entry, hit } from "./helpers.js";

function member(name: string, fields: Partial<MemberEvidence> = {}): MemberEvidence {
  return {
    member: name,
    value: 0.5,
    evidence: 3,
    spread: 0.1,
    prior: 0.6,
    expectedCostUsd: 1,
    normalisedCost: 0,
    score: 0.5,
    neighbours: 3,
    ...fields,
  };
}

/** One member's outcome entry in auction `auction` (called, outcome and answer given). */
function observed(agent: string, auction: string, outcome: number, cost: number, answer?: string, score = 1) {
  return hit(
    score,
    entry(agent, {
      id: `${auction}:${agent}`,
      auctionId: auction,
      outcome,
      cost,
      metadata: { gavel: "outcome", embedder: EMBEDDER, called: true, ...(answer !== undefined && { answer }) },
    }),
  );
}

const MEMBERS = [
  member("a", { expectedCostUsd: 1, value: 0.5 }),
  member("b", { expectedCostUsd: 2, value: 0.6 }),
  member("top", { expectedCostUsd: 100, value: 0.9 }),
];

/** j1: a and b agree (B); j2: they disagree and top answered; j3: they disagree and top was not called there. */
function threeAuctions(): Map<string, StrategySearchHit[]> {
  return new Map([
    ["a", [observed("a", "j1", 1, 1, "B"), observed("a", "j2", 0, 1, "A"), observed("a", "j3", 0, 1, "A")]],
    ["b", [observed("b", "j1", 1, 2, "B"), observed("b", "j2", 0, 2, "C"), observed("b", "j3", 1, 2, "B")]],
    ["top", [observed("top", "j2", 1, 100, "B")]],
  ]);
}

describe("estimateCascades", () => {
  it("values a cascade from the neighbours: agree → b's outcome, disagree → top's outcome there, else top's value", () => {
    const [cascade, ...rest] = estimateCascades({ hits: threeAuctions(), evidence: MEMBERS, priorStrength: 2 });
    expect(rest).toEqual([]);
    expect(cascade).toMatchObject({ member: cascadeName("a", "b", "top"), first: "a", second: "b", top: "top" });
    // y = 1 (j1 agreed), 1 (j2 top), 0.9 (j3: top's value); prior 0.9 − margin, α = 2, n = 3.
    const prior = 0.9 - DEFAULT_CASCADE_PRIOR_MARGIN;
    expect(cascade?.prior).toBeCloseTo(prior, 10);
    expect(cascade?.value).toBeCloseTo((1 + 1 + 0.9 + 2 * prior) / 5, 10);
    // cost: 3 (agreed), 103 (top's cost there), 103 (top's expected cost); cold a + b + top = 103, β = 1.
    expect(cascade?.expectedCostUsd).toBeCloseTo((3 + 103 + 103 + 103) / 4, 10);
    expect(cascade?.normalisedCost).toBeCloseTo(78 / 100, 10);
    expect(cascade?.evidence).toBe(3);
    expect(cascade?.neighbours).toBe(3);
    expect(cascade?.agreement).toBeCloseTo(1 / 3, 10);
    const value = cascade?.value as number;
    expect(cascade?.spread).toBeCloseTo(Math.sqrt((value * (1 - value)) / 5), 10);
  });

  it("on agreement the final answer is the second rung's: its outcome counts", () => {
    const hits = new Map([
      ["a", [observed("a", "j1", 0, 1, "B")]],
      ["b", [observed("b", "j1", 1, 2, "B")]],
      ["top", []],
    ]);
    const [cascade] = estimateCascades({ hits, evidence: MEMBERS, priorStrength: 0 });
    expect(cascade?.value).toBe(1);
  });

  it("weights neighbours by similarity and skips uncalled entries, unscored entries and auctions one rung lacks", () => {
    const uncalled = hit(
      1,
      entry("a", {
        id: "j9:a",
        auctionId: "j9",
        outcome: 1,
        metadata: { gavel: "outcome", embedder: EMBEDDER, called: false, answer: "B" },
      }),
    );
    const unscored = hit(1, entry("a", { id: "j8:a", auctionId: "j8", metadata: { called: true, answer: "B" } }));
    const hits = new Map([
      ["a", [observed("a", "j1", 1, 1, "B", 0.5), observed("a", "j2", 0, 1, "A", 0.25), uncalled, unscored]],
      [
        "b",
        [
          observed("b", "j1", 1, 2, "B", 0.5),
          observed("b", "j2", 0, 2, "C", 0.25),
          observed("b", "j9", 1, 2, "B"),
          observed("b", "j8", 1, 2, "B"),
          observed("b", "j7", 1, 2, "B"),
        ],
      ],
      ["top", [observed("top", "j2", 0, 100, "D", 0.25)]],
    ]);
    const [cascade] = estimateCascades({ hits, evidence: MEMBERS, priorStrength: 0 });
    expect(cascade?.neighbours).toBe(2);
    expect(cascade?.evidence).toBeCloseTo(0.75, 10);
    // 0.5 × 1 (agreed) + 0.25 × 0 (top wrong on j2), over 0.75.
    expect(cascade?.value).toBeCloseTo(0.5 / 0.75, 10);
  });

  it("an answer that cannot be read never agrees: the climb reaches the top", () => {
    const hits = new Map([
      ["a", [observed("a", "j1", 1, 1)]],
      ["b", [observed("b", "j1", 1, 2)]],
      ["top", [observed("top", "j1", 0, 100)]],
    ]);
    const [cascade] = estimateCascades({ hits, evidence: MEMBERS, priorStrength: 0 });
    expect(cascade?.value).toBe(0);
    expect(cascade?.agreement).toBe(0);
  });

  it("does not read entry.kind", () => {
    const relabelled = new Map(
      [...threeAuctions()].map(([name, list]) => [
        name,
        list.map((item) => ({ ...item, entry: { ...item.entry, kind: `kind-of-${item.entry.auctionId}` } })),
      ]),
    );
    const plain = estimateCascades({ hits: threeAuctions(), evidence: MEMBERS, priorStrength: 2 });
    expect(estimateCascades({ hits: relabelled, evidence: MEMBERS, priorStrength: 2 })).toEqual(plain);
  });

  it("no cascade with fewer than three members", () => {
    expect(estimateCascades({ hits: threeAuctions(), evidence: MEMBERS.slice(0, 2), priorStrength: 2 })).toEqual([]);
  });

  it("no cascade when fewer than two members besides the top are cheap enough", () => {
    const dear = [
      member("a", { expectedCostUsd: 30 }),
      member("b", { expectedCostUsd: 40 }),
      member("top", { expectedCostUsd: 100, value: 0.9 }),
    ];
    expect(estimateCascades({ hits: threeAuctions(), evidence: dear, priorStrength: 2 })).toEqual([]);
    // With a larger share the same pool has one.
    expect(estimateCascades({ hits: threeAuctions(), evidence: dear, priorStrength: 2, costShare: 0.5 })).toHaveLength(
      1,
    );
  });

  it("the top is the most valued member; pairs are ordered cheaper first; at most maxCascades bid", () => {
    const pool = [
      member("c", { expectedCostUsd: 3, value: 0.4 }),
      member("a", { expectedCostUsd: 1, value: 0.5 }),
      member("top", { expectedCostUsd: 100, value: 0.9 }),
      member("b", { expectedCostUsd: 2, value: 0.6 }),
      member("runner-up", { expectedCostUsd: 90, value: 0.8 }),
    ];
    const all = estimateCascades({ hits: new Map(), evidence: pool, priorStrength: 2, maxCascades: 10 });
    for (const cascade of all) {
      expect(cascade.top).toBe("top");
      const cost = (name: string) => pool.find((item) => item.member === name)?.expectedCostUsd as number;
      expect(cost(cascade.first)).toBeLessThan(cost(cascade.second));
    }
    // Cold, every cascade has the same prior value: the Pareto frontier keeps the cheapest pair only.
    expect(all.map((cascade) => cascade.member)).toEqual([cascadeName("a", "b", "top")]);
    expect(estimateCascades({ hits: new Map(), evidence: pool, priorStrength: 2, maxCascades: 1 })).toHaveLength(1);
    expect(() => estimateCascades({ hits: new Map(), evidence: pool, priorStrength: 2, maxCascades: 0 })).toThrow(
      /maxCascades/,
    );
    expect(() => estimateCascades({ hits: new Map(), evidence: pool, priorStrength: 2, costShare: 0 })).toThrow(
      /costShare/,
    );
  });

  it("bids like a member: clearMemoryBids can pick it and isConfident reads its evidence and spread", () => {
    const [cascade] = estimateCascades({ hits: threeAuctions(), evidence: MEMBERS, priorStrength: 2 });
    const evidence = [...MEMBERS.map((item) => ({ ...item, normalisedCost: item.expectedCostUsd / 100 })), cascade];
    const clearing = clearMemoryBids(evidence as MemberEvidence[], { lambda: 0, seed: 1 });
    expect(clearing.winner).toBe(cascadeName("a", "b", "top"));
    expect(isConfident(cascade as MemberEvidence, { minEvidence: 3, maxSpread: 1 }).confident).toBe(true);
    expect(isConfident(cascade as MemberEvidence, { minEvidence: 4, maxSpread: 1 }).confident).toBe(false);
  });
});
