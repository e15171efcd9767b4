import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { selectTop } from "../../src/memory/vector-matrix.js";

/** The order `selectTop` promises: score descending, then the index (the tie-break used here). */
function reference(scores: Float32Array, k: number): number[] {
  return Array.from({ length: scores.length }, (_, index) => index)
    .sort((a, b) => {
      const scoreA = scores[a] as number;
      const scoreB = scores[b] as number;
      if (scoreA !== scoreB) return scoreA > scoreB ? -1 : 1;
      return a - b;
    })
    .slice(0, k);
}

const byIndex = (a: number, b: number) => a - b;

// With ≥ 8 float32 scores per kept one, the threshold is first taken from a sample of every
// 4th/8th/16th score; an unlucky sample (fewer than k scores reach it) falls back to the exact one.
describe("selectTop's sampled threshold", () => {
  it("property: equals a full sort on many scores per kept one (ties, negatives, wide ranges)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(fc.constantFrom(-0.5, -0, 0, 0.25, 0.5, 1), { minLength: 64, maxLength: 4000 }),
          fc.array(fc.float({ min: -1, max: 1, noNaN: true }), { minLength: 64, maxLength: 4000 }),
        ),
        fc.integer({ min: 1, max: 120 }),
        (values, k) => {
          const scores = Float32Array.from(values);
          expect(selectTop(scores, k, byIndex)).toEqual(reference(scores, k));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("finds the top scores placed only where the sample does not look (the exact threshold then)", () => {
    for (const [count, k] of [
      [900, 96],
      [2_000, 96],
      [10_000, 96],
    ] as const) {
      // Every sampled position (a multiple of 4, hence of 8 and 16) scores low; the best are between.
      const scores = Float32Array.from({ length: count }, (_, index) => (index % 4 === 0 ? -1 : index / count));
      expect(selectTop(scores, k, byIndex)).toEqual(reference(scores, k));
      // And the opposite: only sampled positions score high.
      const sampledHigh = Float32Array.from({ length: count }, (_, index) => (index % 16 === 0 ? 1 + index : -index));
      expect(selectTop(sampledHigh, k, byIndex)).toEqual(reference(sampledHigh, k));
    }
  });

  it("leaves NaN scores to the heap's rule, as before", () => {
    const scores = Float32Array.from({ length: 1_000 }, (_, index) => (index === 500 ? Number.NaN : index / 1_000));
    const viaHeap = selectTop(scores, 20, byIndex, () => true);
    expect(selectTop(scores, 20, byIndex)).toEqual(viaHeap);
  });
});
