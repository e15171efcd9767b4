/**
 * Properties every mechanism must hold, checked on random bid sets with frequent exact ties and
 * a few broken bids: order independence, reserve, individual rationality and bookkeeping.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AuctionOutcome, clearAuction } from "../../src/market/index.js";
import { auctionOptions, bidList, MECHANISMS, permutationOf } from "./arbitraries.js";

describe("order independence", () => {
  it("permuting the bids never changes the outcome, for every mechanism", () => {
    fc.assert(
      fc.property(
        bidList.chain((bids) => fc.tuple(fc.constant(bids), permutationOf(bids))),
        auctionOptions,
        ([bids, permuted], options) => {
          expect(clearAuction(permuted, options)).toEqual(clearAuction(bids, options));
        },
      ),
      { numRuns: 600 },
    );
  });

  for (const mechanism of MECHANISMS) {
    it(`${mechanism}: reversing the arrival order of tied bids changes nothing`, () => {
      fc.assert(
        fc.property(fc.integer({ min: 2, max: 8 }), fc.integer(), (count, seed) => {
          const bids = Array.from({ length: count }, (_, index) => ({
            bidder: `agent-${index}`,
            amount: 1,
            tokens: 100,
          }));
          const options = { mechanism, seed, topK: 1, tokenCap: 100 } as const;
          expect(clearAuction([...bids].reverse(), options)).toEqual(clearAuction(bids, options));
        }),
      );
    });
  }
});

function checkInvariants(outcome: AuctionOutcome, bidCount: number, topK: number | undefined): void {
  const { results, winners } = outcome;
  expect(results).toHaveLength(bidCount);
  expect(results.map((result) => result.rank)).toEqual(results.map((_, index) => index + 1));
  expect(results.slice(0, winners.length).map((result) => result.bidder)).toEqual(winners);
  expect(results.filter((result) => result.won)).toHaveLength(winners.length);
  if (topK !== undefined || outcome.mechanism !== "budgeted_vcg") expect(winners.length).toBeLessThanOrEqual(topK ?? 1);
  let highestPrice = 0;
  for (const result of results) {
    expect(result.reason === "won").toBe(result.won);
    if (!result.won) expect(result.price).toBe(0);
    if (result.won) {
      // Reserve: nobody below it wins, and no winner pays less than it (or more than its bid).
      expect(result.amount).toBeGreaterThanOrEqual(outcome.reservePrice);
      expect(result.price).toBeGreaterThanOrEqual(outcome.reservePrice);
      expect(result.price).toBeLessThanOrEqual(result.amount);
      highestPrice = Math.max(highestPrice, result.price);
    }
    if (result.reason === "invalid") {
      const amountValid = Number.isFinite(result.amount) && result.amount >= 0;
      const tokensValid = outcome.mechanism !== "budgeted_vcg" || (result.tokens !== undefined && result.tokens >= 0);
      expect(amountValid && tokensValid).toBe(false);
    }
    expect(result.detail.length).toBeGreaterThan(0);
  }
  expect(outcome.clearingPrice).toBe(highestPrice);
}

describe("invariants of every outcome", () => {
  it("reserve, individual rationality, topK, ranks and bookkeeping hold", () => {
    fc.assert(
      fc.property(bidList, auctionOptions, (bids, options) => {
        const outcome = clearAuction(bids, options);
        checkInvariants(outcome, bids.length, options.topK);
        for (const result of outcome.results) {
          if (result.amount < (options.reservePrice ?? 0)) expect(result.won).toBe(false);
        }
        if (options.mechanism === "budgeted_vcg") {
          const used = outcome.results
            .filter((result) => result.won)
            .reduce((sum, result) => sum + (result.tokens ?? 0), 0);
          expect(used).toBeLessThanOrEqual(options.tokenCap ?? 0);
          expect(outcome.tokensUsed).toBe(used);
        }
      }),
      { numRuns: 600 },
    );
  });

  it("a bid below the reserve is reported as below_reserve, never as a winner", () => {
    fc.assert(
      fc.property(
        bidList,
        fc.constantFrom(...MECHANISMS),
        fc.double({ min: 0.01, max: 5, noNaN: true }),
        (bids, mechanism, reservePrice) => {
          const outcome = clearAuction(bids, { mechanism, reservePrice, topK: 3, tokenCap: 1024 });
          for (const result of outcome.results) {
            if (result.reason !== "invalid" && result.amount < reservePrice)
              expect(result.reason).toBe("below_reserve");
          }
        },
      ),
    );
  });
});
