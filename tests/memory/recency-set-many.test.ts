import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type AuctionRecency, RecencyOrder } from "../../src/memory/recency-order.js";

const keyOf = fc.record({
  auctionId: fc.constantFrom("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l"),
  lastUsedAt: fc.integer({ min: 0, max: 6 }),
  createdAt: fc.integer({ min: 0, max: 3 }),
});

describe("RecencyOrder.setMany", () => {
  it("property: leaves the same order and keys as `set` on each key in turn (later keys of one auction win)", () => {
    fc.assert(
      fc.property(fc.array(keyOf, { maxLength: 12 }), fc.array(keyOf, { maxLength: 30 }), (initial, batch) => {
        const one = new RecencyOrder();
        const many = new RecencyOrder();
        for (const key of initial) {
          one.set(key);
          many.set(key);
        }
        for (const key of batch) one.set(key);
        many.setMany(batch);
        const ids = (order: RecencyOrder) => [...order.leastRecentFirst()].map((key: AuctionRecency) => ({ ...key }));
        expect(ids(many)).toEqual(ids(one));
        for (const key of batch) expect(many.get(key.auctionId)).toEqual(one.get(key.auctionId));
        // Still consistent: every held auction can be moved and deleted.
        for (const { auctionId } of ids(many)) expect(many.delete(auctionId)).toBe(true);
        expect(many.size).toBe(0);
      }),
      { numRuns: 300 },
    );
  });
});
