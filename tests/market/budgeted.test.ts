/**
 * budgeted_vcg against brute force: every subset of ≤ 10 bidders is enumerated, the best feasible
 * set is found by the documented rule (highest total value; among equals, the set that includes
 * the earliest bid in selection order), and the Clarke payments are recomputed from scratch.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type Bid, clearAuction, valueDensity } from "../../src/market/index.js";
import { tieKey } from "../../src/market/random.js";

interface Rules {
  tokenCap: number;
  reservePrice: number;
  topK: number | undefined;
  seed: number;
}

/** Candidates in selection order: density ↓, amount ↓, seeded tie key ↑, id ↑. */
function selectionOrder(bids: readonly Bid[], rules: Rules): Bid[] {
  const candidates = bids.filter(
    (bid) => bid.amount >= rules.reservePrice && bid.amount > 0 && (bid.tokens ?? 0) <= rules.tokenCap,
  );
  return candidates.sort((left, right) => {
    const byDensity = valueDensity(right) - valueDensity(left);
    if (valueDensity(right) !== valueDensity(left)) return byDensity > 0 ? 1 : -1;
    if (left.amount !== right.amount) return right.amount - left.amount;
    const byKey = tieKey(rules.seed, left.bidder) - tieKey(rules.seed, right.bidder);
    if (byKey !== 0) return byKey;
    return left.bidder < right.bidder ? -1 : 1;
  });
}

/** The best set by brute force, as a membership vector over `order`; `skip` leaves one bid out. */
function bruteForce(order: readonly Bid[], rules: Rules, skip = -1): { value: number; members: boolean[] } {
  let best = { value: Number.NEGATIVE_INFINITY, members: [] as boolean[] };
  const count = order.length;
  // Masks in decreasing order of the vector (bid 0 is the most significant bit): the first set met
  // with the best value is the one that includes the earliest bid where optimal sets differ.
  for (let mask = 2 ** count - 1; mask >= 0; mask--) {
    const members = order.map((_, index) => (mask & (1 << (count - 1 - index))) !== 0);
    if (skip >= 0 && members[skip]) continue;
    let value = 0;
    let tokens = 0;
    let size = 0;
    members.forEach((member, index) => {
      if (!member) return;
      value += order[index]?.amount ?? 0;
      tokens += order[index]?.tokens ?? 0;
      size++;
    });
    if (tokens > rules.tokenCap || size > (rules.topK ?? Number.POSITIVE_INFINITY)) continue;
    if (value > best.value) best = { value, members };
  }
  return best;
}

const smallInstance = (amount: fc.Arbitrary<number>) =>
  fc.record({
    bids: fc
      .array(fc.record({ amount, tokens: fc.integer({ min: 0, max: 600 }) }), { maxLength: 10 })
      .map((bids) => bids.map((bid, index): Bid => ({ bidder: `bidder-${index}`, ...bid }))),
    tokenCap: fc.constantFrom(0, 200, 512, 1024, 2048),
    reservePrice: fc.constantFrom(0, 0, 1, 2.5),
    topK: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
    seed: fc.integer(),
  });

describe("budgeted_vcg selection", () => {
  it("is the optimal set of brute force, ties broken by the documented rule, payments equal to Clarke's", () => {
    // Small integers make exact ties between different sets common.
    fc.assert(
      fc.property(smallInstance(fc.integer({ min: 0, max: 6 })), ({ bids, ...rules }) => {
        const outcome = clearAuction(bids, { mechanism: "budgeted_vcg", ...rules });
        const order = selectionOrder(bids, rules);
        const best = bruteForce(order, rules);
        const expectedWinners = order.filter((_, index) => best.members[index]).map((bid) => bid.bidder);
        expect([...outcome.winners].sort()).toEqual(expectedWinners.sort());

        order.forEach((bid, index) => {
          if (!best.members[index]) return;
          const withoutMe = bruteForce(order, rules, index).value;
          const clarke = withoutMe - (best.value - bid.amount);
          const result = outcome.results.find((entry) => entry.bidder === bid.bidder);
          expect(result?.price).toBe(Math.max(rules.reservePrice, clarke));
        });
      }),
      { numRuns: 500 },
    );
  });

  it("never exceeds the cap and reaches the optimal value for arbitrary real amounts", () => {
    fc.assert(
      fc.property(smallInstance(fc.double({ min: 0, max: 1000, noNaN: true })), ({ bids, ...rules }) => {
        const outcome = clearAuction(bids, { mechanism: "budgeted_vcg", ...rules });
        const winners = outcome.results.filter((result) => result.won);
        const tokens = winners.reduce((sum, result) => sum + (result.tokens ?? 0), 0);
        const value = winners.reduce((sum, result) => sum + result.amount, 0);
        expect(tokens).toBeLessThanOrEqual(rules.tokenCap);
        const best = bruteForce(selectionOrder(bids, rules), rules);
        expect(value).toBeCloseTo(Math.max(0, best.value), 6);
        for (const winner of winners) {
          expect(winner.price).toBeGreaterThanOrEqual(0);
          expect(winner.price).toBeLessThanOrEqual(winner.amount);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("beats the greedy-by-density choice when greedy is wrong", () => {
    const outcome = clearAuction(
      [
        { bidder: "dense", amount: 5, tokens: 600 },
        { bidder: "left", amount: 4, tokens: 500 },
        { bidder: "right", amount: 4, tokens: 500 },
      ],
      { mechanism: "budgeted_vcg", tokenCap: 1024 },
    );
    expect(outcome.winners.sort()).toEqual(["left", "right"]);
    expect(outcome.tokensUsed).toBe(1000);
    // Without "left", the others could have had 5 ("dense"); with it they get 4 ("right"): pays 1.
    expect(outcome.results.map((result) => [result.bidder, result.price])).toEqual([
      ["left", 1],
      ["right", 1],
      ["dense", 0],
    ]);
  });

  it("clears 32 bidders with the cap binding", () => {
    const bids = Array.from({ length: 32 }, (_, index) => ({
      bidder: `agent-${index}`,
      amount: ((index * 7919) % 97) + 1,
      tokens: 50 + ((index * 104729) % 351),
    }));
    const outcome = clearAuction(bids, { mechanism: "budgeted_vcg", tokenCap: 2048 });
    expect(outcome.tokensUsed).toBeLessThanOrEqual(2048);
    expect(outcome.winners.length).toBeGreaterThan(1);
  });
});
