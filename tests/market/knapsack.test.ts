/**
 * The two exact knapsack methods behind budgeted_vcg: the branch-and-bound search and the
 * dynamic-programming table it hands over to on hard instances. Both must return the same set
 * (the documented tie rule) as brute force, with and without an item limit.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { clearAuction } from "../../src/market/index.js";
import {
  bestKnapsackValue,
  type KnapsackProblem,
  roundingMargin,
  solveKnapsack,
} from "../../src/market/mechanisms/knapsack.js";
import { bestValueByTable, solveByTable } from "../../src/market/mechanisms/knapsackTable.js";

function density({ value, weight }: { value: number; weight: number }): number {
  if (weight === 0) return value > 0 ? Number.POSITIVE_INFINITY : 0;
  return value / weight;
}

/** A problem with the items in value density descending order, as the search requires. */
function problemOf(unsorted: { value: number; weight: number }[], capacity: number, maxItems: number): KnapsackProblem {
  const items = [...unsorted].sort((left, right) =>
    density(left) === density(right) ? 0 : density(left) > density(right) ? -1 : 1,
  );
  const values = Float64Array.from(items.map((item) => item.value));
  return {
    values,
    weights: Float64Array.from(items.map((item) => item.weight)),
    capacity,
    maxItems,
    margin: roundingMargin(values),
  };
}

/** Brute force: highest value, then the lexicographically greatest membership vector (item 0 first). */
function bruteForce(problem: KnapsackProblem, skip = -1): { value: number; chosen: number[] } {
  const count = problem.values.length;
  let best = { value: Number.NEGATIVE_INFINITY, chosen: [] as number[] };
  for (let mask = 2 ** count - 1; mask >= 0; mask--) {
    const chosen = Array.from({ length: count }, (_, index) => ((mask >> (count - 1 - index)) & 1) as number);
    if (skip >= 0 && chosen[skip] === 1) continue;
    let value = 0;
    let weight = 0;
    let size = 0;
    chosen.forEach((member, index) => {
      if (member === 0) return;
      value += problem.values[index] as number;
      weight += problem.weights[index] as number;
      size++;
    });
    if (weight <= problem.capacity && size <= problem.maxItems && value > best.value) best = { value, chosen };
  }
  return best;
}

const instance = fc.record({
  items: fc.array(fc.record({ value: fc.integer({ min: 0, max: 8 }), weight: fc.integer({ min: 0, max: 40 }) }), {
    maxLength: 10,
  }),
  capacity: fc.integer({ min: 0, max: 120 }),
  maxItems: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 5 })),
});

describe("knapsack methods", () => {
  it("search, table and brute force choose the same set and value", () => {
    fc.assert(
      fc.property(instance, ({ items, capacity, maxItems }) => {
        const problem = problemOf(items, capacity, maxItems);
        const expected = bruteForce(problem);
        const searched = solveKnapsack(problem);
        expect(searched.value).toBe(expected.value);
        expect([...searched.chosen]).toEqual(expected.chosen);
        const table = solveByTable(problem);
        expect(table === undefined ? undefined : [...table]).toEqual(expected.chosen);
      }),
      { numRuns: 500 },
    );
  });

  it("the best value without one item agrees across methods", () => {
    fc.assert(
      fc.property(instance, fc.nat(), ({ items, capacity, maxItems }, pick) => {
        fc.pre(items.length > 0);
        const problem = problemOf(items, capacity, maxItems);
        const skip = pick % items.length;
        const expected = bruteForce(problem, skip).value;
        const scratch = new Uint8Array(items.length);
        expect(bestKnapsackValue(problem, skip, 0, scratch)).toBe(expected);
        expect([...scratch].every((byte) => byte === 0)).toBe(true);
        expect(bestValueByTable(problem, skip)).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });

  it("the table declines fractional token counts (the search then runs to the end)", () => {
    expect(solveByTable(problemOf([{ value: 1, weight: 1.5 }], 10, Number.POSITIVE_INFINITY))).toBeUndefined();
  });

  it("stays exact and bounded on a hard instance (equal value density, odd cap, even sizes)", () => {
    // Every bid has density 1, so the LP bound is the cap (2047) but no set reaches an odd total:
    // branch and bound alone would visit ~2^28 nodes; the table finishes it.
    const bids = Array.from({ length: 28 }, (_, index) => {
      const tokens = 2 * (25 + ((index * 7919) % 175));
      return { bidder: `agent-${index}`, amount: tokens, tokens };
    });
    const outcome = clearAuction(bids, { mechanism: "budgeted_vcg", tokenCap: 2047 });
    expect(outcome.tokensUsed).toBe(2046);
    for (const result of outcome.results) if (result.won) expect(result.price).toBeLessThanOrEqual(result.amount);
  });
});
