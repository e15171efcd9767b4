import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { selectTop } from "../../src/memory/vector-matrix.js";

/** The order `selectTop` promises: score descending, then the tie key, then the tie-break. */
function reference(
  scores: ArrayLike<number>,
  k: number,
  tieBreak: (a: number, b: number) => number,
  tieKey?: (index: number) => number,
): number[] {
  return Array.from({ length: scores.length }, (_, index) => index)
    .sort((a, b) => {
      const scoreA = scores[a] as number;
      const scoreB = scores[b] as number;
      if (scoreA !== scoreB) return scoreA > scoreB ? -1 : 1;
      if (tieKey !== undefined && tieKey(a) !== tieKey(b)) return tieKey(a) < tieKey(b) ? -1 : 1;
      return tieBreak(a, b);
    })
    .slice(0, k);
}

/** Float32 scores from a few values (many ties, −0 beside +0, negatives) or from a wide range. */
const scoreArrays = fc.oneof(
  fc.array(fc.constantFrom(-0.5, -0, 0, 0.25, 0.5, 0.75, 1), { minLength: 1, maxLength: 1200 }),
  fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 1, maxLength: 1200 }),
);

// The quickselect pre-filter runs when there are ≥ 4 scores per kept one and no `accept`: these
// inputs reach it (k small against n) and its sort of tied candidates.
describe("selectTop's pre-filter", () => {
  it("property: equals a full sort by score then tie rule, on float32 scores with many ties", () => {
    fc.assert(
      fc.property(scoreArrays, fc.integer({ min: 1, max: 300 }), fc.boolean(), (values, k, keyed) => {
        const scores = Float32Array.from(values);
        const tieBreak = (a: number, b: number) => b - a; // larger index first on ties
        // A coarse key: equal for runs of 7 indices, so the tie-break decides inside them.
        const tieKey = keyed ? (index: number) => -Math.floor(index / 7) : undefined;
        expect(selectTop(scores, k, tieBreak, undefined, tieKey)).toEqual(reference(scores, k, tieBreak, tieKey));
      }),
      { numRuns: 300 },
    );
  });

  it("property: equals a full sort on plain numbers, float32 or not", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double({ min: -1, max: 1, noNaN: true }), fc.constantFrom(0.1, 0.2, -0)), {
          minLength: 1,
          maxLength: 600,
        }),
        fc.integer({ min: 1, max: 100 }),
        (scores, k) => {
          const tieBreak = (a: number, b: number) => a - b;
          expect(selectTop(scores, k, tieBreak)).toEqual(reference(scores, k, tieBreak));
        },
      ),
      { numRuns: 200 },
    );
  });

  it("keeps the heap's result when a score is NaN", () => {
    const scores = Float32Array.from({ length: 400 }, (_, index) => ((index * 37) % 101) / 101);
    scores[123] = Number.NaN;
    const tieBreak = (a: number, b: number) => a - b;
    // An `accept` that takes everything bypasses the pre-filter: the heap alone.
    expect(selectTop(scores, 20, tieBreak)).toEqual(selectTop(scores, 20, tieBreak, () => true));
  });

  it("finds the top 96 of 10,000 distinct scores", () => {
    const scores = Float32Array.from({ length: 10_000 }, (_, index) => Math.sin(index * 12.9898) * 0.5);
    const tieBreak = (a: number, b: number) => a - b;
    const top = selectTop(scores, 96, tieBreak);
    expect(top).toHaveLength(96);
    expect(top).toEqual(reference(scores, 96, tieBreak));
  });
});
