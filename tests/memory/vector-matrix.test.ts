import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { compileDotKernelModule } from "../../src/memory/simd-kernel.js";
import { selectTop, VectorMatrix } from "../../src/memory/vector-matrix.js";

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let normA = 0;
  let normB = 0;
  for (let index = 0; index < a.length; index += 1) {
    dot += (a[index] ?? 0) * (b[index] ?? 0);
    normA += (a[index] ?? 0) ** 2;
    normB += (b[index] ?? 0) ** 2;
  }
  return normA === 0 || normB === 0 ? 0 : dot / Math.sqrt(normA * normB);
}

const finite = fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true });

describe("VectorMatrix", () => {
  it("the SIMD kernel is valid WebAssembly on this runtime", () => {
    expect(compileDotKernelModule()).toBeDefined();
    expect(new VectorMatrix({ dimensions: 4 }).kernel).toBe("wasm");
  });

  describe("without WebAssembly", () => {
    afterEach(() => {
      vi.unstubAllGlobals();
    });

    it('"auto" falls back to the JavaScript loop, which scores the same; "wasm" refuses', () => {
      const withSimd = new VectorMatrix({ dimensions: 3 });
      vi.stubGlobal("WebAssembly", undefined);
      expect(compileDotKernelModule()).toBeUndefined();
      const fallback = new VectorMatrix({ dimensions: 3 });
      expect(fallback.kernel).toBe("js");
      expect(() => new VectorMatrix({ dimensions: 3, kernel: "wasm" })).toThrow(/no WebAssembly SIMD/);
      const rows = [
        [1, 2, 3],
        [-1, 0.5, 0],
        [0, 0, 0],
      ];
      for (const row of rows) {
        withSimd.append(row);
        fallback.append(row);
      }
      const query = [0.3, -2, 1];
      const expected = Array.from(withSimd.scores(query));
      Array.from(fallback.scores(query)).forEach((score, index) => {
        expect(score).toBeCloseTo(expected[index] ?? Number.NaN, 6);
      });
    });
  });

  for (const kernel of ["wasm", "js"] as const) {
    it(`${kernel}: scores equal cosine similarity, for all rows and for listed rows`, () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 13 }).chain((dimensions) =>
            fc.tuple(
              fc.array(fc.array(finite, { minLength: dimensions, maxLength: dimensions }), {
                minLength: 1,
                maxLength: 40,
              }),
              fc.array(finite, { minLength: dimensions, maxLength: dimensions }),
            ),
          ),
          ([rows, query]) => {
            const matrix = new VectorMatrix({ dimensions: query.length, kernel, initialCapacity: 2 });
            for (const row of rows) matrix.append(row);
            const scores = Array.from(matrix.scores(query));
            rows.forEach((row, index) => {
              expect(scores[index]).toBeCloseTo(cosine(row, query), 4);
            });
            const listed = rows.map((_, index) => index).reverse();
            const listedScores = Array.from(matrix.scores(query, listed));
            listed.forEach((row, index) => {
              expect(listedScores[index]).toBeCloseTo(scores[row] ?? 0, 6);
            });
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it("wasm: a row's score is the same float whichever rows are scored with it (four at a time or alone)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 13 }).chain((dimensions) =>
          fc.tuple(
            fc.array(fc.array(finite, { minLength: dimensions, maxLength: dimensions }), {
              minLength: 1,
              maxLength: 11,
            }),
            fc.array(finite, { minLength: dimensions, maxLength: dimensions }),
          ),
        ),
        ([rows, query]) => {
          const matrix = new VectorMatrix({ dimensions: query.length, kernel: "wasm" });
          for (const row of rows) matrix.append(row);
          const alone = rows.map((_, row) => matrix.scores(query, [row])[0]);
          expect(Array.from(matrix.scores(query))).toEqual(alone);
          const listed = rows.map((_, index) => index).reverse();
          expect(Array.from(matrix.scores(query, listed))).toEqual(listed.map((row) => alone[row]));
        },
      ),
      { numRuns: 150 },
    );
  });

  it("removes a row by moving the last row into its place", () => {
    const matrix = new VectorMatrix({ dimensions: 2 });
    matrix.append([1, 0]);
    matrix.append([0, 1]);
    matrix.append([1, 1]);
    expect(matrix.remove(0)).toBe(2);
    expect(matrix.rows).toBe(2);
    expect(Array.from(matrix.vector(0))).toEqual([Math.SQRT1_2, Math.SQRT1_2].map(Math.fround));
    expect(matrix.remove(1)).toBe(-1);
    expect(matrix.rows).toBe(1);
    expect(() => matrix.vector(1)).toThrow(RangeError);
  });

  it("grows past its initial capacity and keeps every row", () => {
    const matrix = new VectorMatrix({ dimensions: 3, initialCapacity: 1 });
    for (let index = 0; index < 100; index += 1) matrix.append([index, 1, 0]);
    expect(matrix.rows).toBe(100);
    const scores = matrix.scores([0, 1, 0]);
    expect(scores[0]).toBeCloseTo(1, 6);
    expect(scores[99]).toBeCloseTo(1 / Math.hypot(99, 1), 6);
  });

  it("rejects vectors of the wrong length and scores a zero vector 0", () => {
    const matrix = new VectorMatrix({ dimensions: 2 });
    expect(() => matrix.append([1, 2, 3])).toThrow(RangeError);
    matrix.append([0, 0]);
    expect(matrix.scores([1, 0])[0]).toBe(0);
    expect(() => matrix.scores([1])).toThrow(RangeError);
  });
});

describe("selectTop", () => {
  it("equals a full sort by score then tie rule", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5 }), { maxLength: 60 }),
        fc.integer({ min: 0, max: 70 }),
        (scores, k) => {
          const tieBreak = (a: number, b: number) => b - a; // larger index first on ties
          const expected = scores
            .map((_, index) => index)
            .sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0) || tieBreak(a, b))
            .slice(0, k);
          expect(selectTop(scores, k, tieBreak)).toEqual(expected);
        },
      ),
    );
  });

  it("skips indices that are not accepted", () => {
    expect(
      selectTop(
        [5, 4, 3, 2],
        2,
        (a, b) => a - b,
        (index) => index % 2 === 1,
      ),
    ).toEqual([1, 3]);
  });
});
