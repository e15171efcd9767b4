/**
 * fast-check generators shared by the market property tests. Amounts are drawn from a small set of
 * values on purpose, so that exact ties (the hard case for order independence) are frequent.
 */
import fc from "fast-check";
import type { AuctionOptions, Bid, MechanismName } from "../../src/market/index.js";

export const MECHANISMS: readonly MechanismName[] = ["first_price", "second_price", "softmax", "budgeted_vcg"];

/** Bidder ids: short, distinct, including awkward ones (empty, unicode, look-alikes). */
const bidderIds = fc.uniqueArray(
  fc.oneof(
    fc.constantFrom("", "a", "A", "b", "é", "e\u0301", "🦜", "agent-1", "agent-10"),
    fc.string({ maxLength: 6 }),
  ),
  { maxLength: 10 },
);

/** Mostly tie-prone amounts, sometimes arbitrary doubles. */
export const tieProneAmount = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(0, 0.1, 0.25, 0.5, 1, 2, 3) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 20 }) },
  { weight: 1, arbitrary: fc.double({ min: 0, max: 100, noNaN: true }) },
);

/** Amounts a broken bidder might send. */
const brokenAmount = fc.constantFrom(Number.NaN, -1, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -0.001);

const tokens = fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constantFrom(100, 200, 300));

/** A bid list with unique ids, tie-prone amounts, a few broken bids and optional token counts. */
export const bidList: fc.Arbitrary<Bid[]> = bidderIds.chain((ids) =>
  fc.tuple(
    ...ids.map((bidder) =>
      fc
        .record({
          amount: fc.oneof({ weight: 9, arbitrary: tieProneAmount }, { weight: 1, arbitrary: brokenAmount }),
          tokens: fc.option(tokens, { nil: undefined, freq: 8 }),
        })
        .map(({ amount, tokens }): Bid => (tokens === undefined ? { bidder, amount } : { bidder, amount, tokens })),
    ),
  ),
);

/** Auction options covering every mechanism and option. */
export const auctionOptions: fc.Arbitrary<AuctionOptions> = fc.record({
  mechanism: fc.constantFrom(...MECHANISMS),
  reservePrice: fc.constantFrom(0, 0, 0.25, 1, 2.5),
  topK: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
  seed: fc.oneof(fc.integer({ min: 0, max: 5 }), fc.integer()),
  temperature: fc.constantFrom(0.05, 0.5, 1, 10),
  tokenCap: fc.constantFrom(0, 150, 400, 1024),
});

/** A permutation of `items` (same elements, any order). */
export function permutationOf<T>(items: readonly T[]): fc.Arbitrary<T[]> {
  return fc.shuffledSubarray([...items], { minLength: items.length, maxLength: items.length });
}
