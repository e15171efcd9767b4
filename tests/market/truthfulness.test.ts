/**
 * Truthfulness: under second price (any reserve, any topK with unit demand) and under budgeted
 * VCG, bidding one's true value is weakly dominant. For random other bids and a grid of
 * deviations (including exact ties with every other bid and with the reserve), the truthful
 * utility is at least the deviating one. utility = value − price when winning, 0 when losing.
 *
 * Why ties cannot break it: the tie key depends on the seed and the bidder id only, never on the
 * amount, and at a tie the price equals the bid, so winning or losing a tie is worth 0 either way.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AuctionOptions, type Bid, clearAuction } from "../../src/market/index.js";
import { tieProneAmount } from "./arbitraries.js";

const ME = "me";

function utilityOf(value: number, bid: Bid, others: readonly Bid[], options: AuctionOptions): number {
  const outcome = clearAuction([...others, bid], options);
  const mine = outcome.results.find((result) => result.bidder === ME);
  if (mine === undefined) throw new Error("my bid is missing from the outcome");
  return mine.won ? value - mine.price : 0;
}

function deviationsAround(value: number, others: readonly Bid[], reservePrice: number): number[] {
  const grid = [0, value / 2, value * 2, value + 1, Math.max(0, value - 1), value + 1e-9, Math.max(0, value - 1e-9)];
  grid.push(reservePrice, reservePrice + 1e-9, Math.max(0, reservePrice - 1e-9), 1e9);
  for (const other of others) grid.push(other.amount, other.amount + 1e-9, Math.max(0, other.amount - 1e-9));
  grid.push(Number.NaN, -1);
  return grid;
}

describe("second price is truthful", () => {
  it("bidding the true value is weakly dominant (reserve, topK ≥ 1, seeded ties)", () => {
    fc.assert(
      fc.property(
        fc.array(tieProneAmount, { maxLength: 8 }),
        tieProneAmount,
        fc.constantFrom(0, 0.25, 1, 2),
        fc.integer({ min: 1, max: 4 }),
        fc.integer(),
        fc.double({ min: 0, max: 50, noNaN: true }),
        (otherAmounts, value, reservePrice, topK, seed, randomDeviation) => {
          const others = otherAmounts.map((amount, index) => ({ bidder: `other-${index}`, amount }));
          const options: AuctionOptions = { mechanism: "second_price", reservePrice, topK, seed };
          const truthful = utilityOf(value, { bidder: ME, amount: value }, others, options);
          expect(truthful).toBeGreaterThanOrEqual(0);
          for (const deviation of [...deviationsAround(value, others, reservePrice), randomDeviation]) {
            expect(truthful).toBeGreaterThanOrEqual(
              utilityOf(value, { bidder: ME, amount: deviation }, others, options),
            );
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("first price is not: shading the bid can pay (documents why second price is the default)", () => {
    const others = [{ bidder: "other", amount: 1 }];
    const options: AuctionOptions = { mechanism: "first_price" };
    const truthful = utilityOf(5, { bidder: ME, amount: 5 }, others, options);
    const shaded = utilityOf(5, { bidder: ME, amount: 2 }, others, options);
    expect(truthful).toBe(0);
    expect(shaded).toBe(3);
  });
});

describe("budgeted VCG is truthful in the amount", () => {
  it("declaring the true value is weakly dominant for a bidder of fixed size", () => {
    // Integer and half-integer amounts keep every sum exact, so the comparison is exact too.
    const integerBid = fc.record({ amount: fc.integer({ min: 0, max: 12 }), tokens: fc.integer({ min: 0, max: 500 }) });
    fc.assert(
      fc.property(
        fc.array(integerBid, { maxLength: 7 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 500 }),
        fc.constantFrom(300, 600, 1024),
        fc.constantFrom(0, 1, 3),
        fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
        fc.integer(),
        (otherBids, value, tokens, tokenCap, reservePrice, topK, seed) => {
          const others = otherBids.map((bid, index) => ({ bidder: `other-${index}`, ...bid }));
          const options: AuctionOptions = { mechanism: "budgeted_vcg", tokenCap, reservePrice, topK, seed };
          const truthful = utilityOf(value, { bidder: ME, amount: value, tokens }, others, options);
          expect(truthful).toBeGreaterThanOrEqual(0);
          const deviations = Array.from({ length: 61 }, (_, step) => step / 2);
          for (const deviation of deviations) {
            const deviating = utilityOf(value, { bidder: ME, amount: deviation, tokens }, others, options);
            expect(truthful).toBeGreaterThanOrEqual(deviating);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
