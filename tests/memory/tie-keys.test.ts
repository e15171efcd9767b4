import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareIds } from "../../src/market/bids.js";
import { MatrixStore } from "../../src/memory/matrix-store.js";
import type { StrategyEntry } from "../../src/memory/types.js";
import { idPrefixKey, selectTop } from "../../src/memory/vector-matrix.js";

/** Ids that often share prefixes, with characters from the whole UTF-16 range. */
const idOf = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom("a", "ab", "abc", "abcd", "abd", "b", ""),
  fc.string({ unit: "binary", maxLength: 5 }),
  fc.tuple(fc.constantFrom("x-", "x-1", "bench-"), fc.string({ maxLength: 3 })).map(([prefix, rest]) => prefix + rest),
);

describe("idPrefixKey", () => {
  it("property: a smaller key means a smaller id (compareIds); a larger key a larger id", () => {
    fc.assert(
      fc.property(idOf, idOf, (a, b) => {
        const keyA = idPrefixKey(a);
        const keyB = idPrefixKey(b);
        if (keyA < keyB) expect(compareIds(a, b)).toBe(-1);
        if (keyA > keyB) expect(compareIds(a, b)).toBe(1);
        if (a === b) expect(keyA).toBe(keyB);
      }),
      { numRuns: 2000 },
    );
  });
});

describe("selectTop with tie keys", () => {
  it("property: equals a full sort by score then id, with many ties", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), idOf), { maxLength: 80 }),
        fc.integer({ min: 0, max: 90 }),
        (rows, k) => {
          const scores = rows.map(([score]) => score);
          const ids = rows.map(([, id]) => id);
          const tieBreak = (a: number, b: number) => compareIds(ids[a] ?? "", ids[b] ?? "") || a - b;
          const expected = scores
            .map((_, index) => index)
            .sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || tieBreak(a, b))
            .slice(0, k);
          const keys = ids.map(idPrefixKey);
          expect(selectTop(scores, k, tieBreak, undefined, (index) => keys[index] ?? 0)).toEqual(expected);
        },
      ),
    );
  });
});

function entryOf(id: string, agent: string): StrategyEntry {
  return {
    id,
    auctionId: `auction-${id}`,
    task: "t",
    kind: "",
    agent,
    plan: "",
    role: "single",
    cost: 0,
    createdAt: 0,
  };
}

describe("MatrixStore.search among identical vectors", () => {
  it("property: returns the k smallest ids among tied rows, after any additions and removals (rows move)", () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.tuple(idOf, fc.boolean(), fc.constantFrom("mini", "large")), {
          selector: ([id]) => id,
          minLength: 1,
          maxLength: 60,
        }),
        fc.array(fc.nat(), { maxLength: 20 }),
        fc.integer({ min: 1, max: 40 }),
        (rows, removals, k) => {
          const store = new MatrixStore({ precision: "int8" });
          // Two vectors: most rows identical (tied at the top), the rest orthogonal.
          for (const [id, same, agent] of rows)
            store.upsert({ entry: entryOf(id, agent), vector: same ? [1, 0, 0, 0] : [0, 1, 0, 0], lastUsedAt: 0 });
          const kept = new Map(rows.map((row) => [row[0], row]));
          for (const pick of removals) {
            const ids = [...kept.keys()];
            const id = ids[pick % ids.length];
            if (id === undefined || kept.size === 1) break;
            store.remove(id);
            kept.delete(id);
          }
          for (const agent of [undefined, "mini"]) {
            const candidates = [...kept.values()].filter(([, , member]) => agent === undefined || member === agent);
            const expected = candidates
              .sort(([a, sameA], [b, sameB]) => Number(sameB) - Number(sameA) || compareIds(a, b))
              .slice(0, k)
              .map(([id]) => id);
            const found = store.search([1, 0, 0, 0], k, agent === undefined ? {} : { agent });
            expect(found.map((hit) => hit.entry.id)).toEqual(expected);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
