import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createSeededRandom } from "../src/market/random.js";
import { clamp01, mean, softmax, standardNormal } from "../src/math.js";

describe("clamp01", () => {
  it("clips to [0, 1] and keeps what is inside", () => {
    expect([clamp01(-0.2), clamp01(0), clamp01(0.3), clamp01(1), clamp01(1.4)]).toEqual([0, 0, 0.3, 1, 1]);
  });

  it("always lands in [0, 1] for finite input", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (value) => {
        const clipped = clamp01(value);
        return clipped >= 0 && clipped <= 1;
      }),
    );
  });
});

describe("mean", () => {
  it("is the sum over the count, summed left to right", () => {
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([0.1, 0.2, 0.3])).toBe((0.1 + 0.2 + 0.3) / 3);
    expect(mean([])).toBeNaN();
  });

  it("of negated values is the negated mean, exactly", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ noNaN: true, min: -1e6, max: 1e6 }), { minLength: 1 }), (values) => {
        expect(mean(values.map((value) => -value))).toBe(-mean(values) + 0);
      }),
    );
  });
});

describe("softmax", () => {
  it("matches a hand-computed row", () => {
    const [low, high] = softmax([0, Math.log(3)]);
    expect(low).toBeCloseTo(0.25, 12);
    expect(high).toBeCloseTo(0.75, 12);
  });

  it("is a distribution, shift-invariant and stable for large inputs", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ noNaN: true, min: -50, max: 50 }), { minLength: 1, maxLength: 20 }),
        fc.double({ noNaN: true, min: -1e3, max: 1e3 }),
        (row, shift) => {
          const probabilities = softmax(row);
          expect(probabilities.every((probability) => probability >= 0 && probability <= 1)).toBe(true);
          expect(probabilities.reduce((sum, value) => sum + value, 0)).toBeCloseTo(1, 9);
          const shifted = softmax(row.map((value) => value + shift));
          shifted.forEach((probability, index) => {
            expect(probability).toBeCloseTo(probabilities[index] as number, 6);
          });
        },
      ),
    );
    expect(softmax([1000, 1000])).toEqual([0.5, 0.5]);
  });
});

describe("standardNormal", () => {
  it("is Box–Muller of two draws taken in order, the first raised to `smallest`", () => {
    const draws = [0.25, 0.125];
    const next = () => draws.shift() as number;
    expect(standardNormal(next)).toBe(Math.sqrt(-2 * Math.log(0.25)) * Math.cos(2 * Math.PI * 0.125));
    const zeros = () => 0;
    expect(standardNormal(zeros, 1e-12)).toBe(Math.sqrt(-2 * Math.log(1e-12)));
    expect(standardNormal(zeros)).toBe(Math.sqrt(-2 * Math.log(Number.MIN_VALUE)));
  });

  it("has mean ≈ 0 and variance ≈ 1 over a seeded stream", () => {
    const random = createSeededRandom({ seed: 7, stream: "math.test" });
    const samples = Array.from({ length: 20_000 }, () => standardNormal(random.nextFloat));
    const average = mean(samples);
    const variance = mean(samples.map((value) => (value - average) ** 2));
    expect(Math.abs(average)).toBeLessThan(0.03);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });
});
