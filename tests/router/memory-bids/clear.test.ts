import { describe, expect, it } from "vitest";
import { clearMemoryBids, type MemberEvidence } from "../../../src/router/memory-bids/index.js";

function member(name: string, value: number, normalisedCost: number): MemberEvidence {
  return {
    member: name,
    value,
    evidence: 3,
    spread: 0.05,
    prior: 0.6,
    expectedCostUsd: normalisedCost / 100,
    normalisedCost,
    score: value,
    neighbours: 4,
  };
}

const pool = [member("cheap", 0.6, 0.1), member("mid", 0.7, 0.4), member("dear", 0.85, 1)];

describe("clearMemoryBids", () => {
  it("bids score + λ through a first-price, one-slot auction, with the estimate in each bid's meta", () => {
    const { winner, outcome, explored, evidence } = clearMemoryBids(pool, { lambda: 0.2, seed: 3 });
    expect(winner).toBe("dear"); // 0.85 − 0.2 = 0.65 > 0.7 − 0.08 = 0.62 > 0.6 − 0.02 = 0.58
    expect(explored).toBe(false);
    expect(outcome.mechanism).toBe("first_price");
    expect(outcome.topK).toBe(1);
    expect(outcome.seed).toBe(3);
    expect(outcome.winners).toEqual(["dear"]);
    const amounts = Object.fromEntries(outcome.results.map((result) => [result.bidder, result.amount]));
    expect(amounts.dear).toBeCloseTo(0.85, 12);
    expect(amounts.mid).toBeCloseTo(0.62 + 0.2, 12);
    expect(amounts.cheap).toBeCloseTo(0.58 + 0.2, 12);
    expect(outcome.results.find((result) => result.bidder === "mid")?.meta).toEqual({
      value: 0.7,
      evidence: 3,
      spread: 0.05,
      normalisedCost: 0.4,
      expectedCostUsd: 0.004,
    });
    expect(evidence.map((row) => row.score)).toEqual(
      [0.6 - 0.02, 0.7 - 0.08, 0.85 - 0.2].map((score) => expect.closeTo(score, 12)),
    );
  });

  it("trades value for cost as λ grows, and picks the highest value at λ = 0", () => {
    expect(clearMemoryBids(pool, { lambda: 0, seed: 0 }).winner).toBe("dear");
    expect(clearMemoryBids(pool, { lambda: 1, seed: 0 }).winner).toBe("cheap");
  });

  it("never bids below 0", () => {
    const { outcome } = clearMemoryBids([member("hopeless", 0, 1), member("free", 0, 0)], { lambda: 0.5, seed: 0 });
    expect(outcome.results.every((result) => result.amount >= 0)).toBe(true);
    expect(outcome.winners).toEqual(["free"]);
  });

  it("breaks ties by the seed: the same seed gives the same winner in any order, and seeds differ", () => {
    const tied = [member("x", 0.7, 0.5), member("y", 0.7, 0.5), member("z", 0.7, 0.5)];
    const winners = new Set<string>();
    for (let seed = 0; seed < 30; seed++) {
      const forward = clearMemoryBids(tied, { lambda: 0.1, seed }).winner;
      expect(clearMemoryBids([...tied].reverse(), { lambda: 0.1, seed }).winner).toBe(forward);
      winners.add(forward);
    }
    expect(winners.size).toBeGreaterThan(1);
  });

  it("explores when draw < rate: the member floor(draw / rate × n) of the names sorted, or of a given pick", () => {
    const options = { lambda: 0.2, seed: 3 };
    expect(clearMemoryBids(pool, { ...options, explore: { rate: 0.1, draw: 0.1 } })).toMatchObject({
      winner: "dear",
      explored: false,
    });
    expect(clearMemoryBids(pool, { ...options, explore: { rate: 0, draw: 0 } }).explored).toBe(false);
    // sorted: cheap, dear, mid
    expect(clearMemoryBids(pool, { ...options, explore: { rate: 0.3, draw: 0.05 } })).toMatchObject({
      winner: "cheap",
      explored: true,
    });
    expect(clearMemoryBids(pool, { ...options, explore: { rate: 0.3, draw: 0.25 } }).winner).toBe("mid");
    expect(clearMemoryBids(pool, { ...options, explore: { rate: 0.3, draw: 0.25, pick: 0.4 } }).winner).toBe("dear");
    const explored = clearMemoryBids(pool, { ...options, explore: { rate: 1, draw: 0.1 } });
    expect(explored.outcome.winners).toEqual(["dear"]); // the auction as cleared; `winner` is who answers
    expect(explored.winner).toBe("cheap");
  });

  it("refuses no member, a negative λ and draws outside [0, 1)", () => {
    expect(() => clearMemoryBids([], { lambda: 0, seed: 0 })).toThrow(/at least one member/);
    expect(() => clearMemoryBids(pool, { lambda: -0.1, seed: 0 })).toThrow(/lambda/);
    expect(() => clearMemoryBids(pool, { lambda: 0, seed: 0, explore: { rate: 0.5, draw: 1 } })).toThrow(
      /explore.draw/,
    );
    expect(() => clearMemoryBids(pool, { lambda: 0, seed: 0, explore: { rate: 1.5, draw: 0 } })).toThrow(
      /explore.rate/,
    );
    expect(() => clearMemoryBids(pool, { lambda: 0, seed: 0, explore: { rate: 0.5, draw: 0, pick: -1 } })).toThrow(
      /explore.pick/,
    );
  });
});
