import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { entropyOf, untemperedDistribution } from "../../adapters/llamacpp/distribution.js";

function softmax(logits: number[], temperature = 1): number[] {
  const scaled = logits.map((logit) => logit / temperature);
  const maximum = Math.max(...scaled);
  const weights = scaled.map((value) => Math.exp(value - maximum));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  return weights.map((weight) => weight / total);
}

describe("entropyOf", () => {
  it("is ln(n) for a uniform distribution and 0 for a certain one", () => {
    expect(entropyOf(Array(588).fill(1 / 588))).toBeCloseTo(Math.log(588), 12);
    expect(entropyOf([1, 0, 0])).toBe(0);
  });
});

describe("untemperedDistribution", () => {
  it("recovers the temperature-1 distribution from a temperature-scaled one", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: -8, max: 8, noNaN: true }), { minLength: 2, maxLength: 50 }),
        fc.double({ min: 0.3, max: 3, noNaN: true }),
        (logits, temperature) => {
          const sampled = softmax(logits, temperature).map((probability, token) => [token, probability] as const);
          const recovered = untemperedDistribution(sampled, temperature);
          const expected = softmax(logits);
          recovered.forEach(([token, probability]) => {
            expect(probability).toBeCloseTo(expected[token] ?? Number.NaN, 9);
          });
        },
      ),
    );
  });

  it("returns greedy (temperature 0) distributions unchanged", () => {
    expect(untemperedDistribution([[4, 0.75] as const, [9, 0.25] as const], 0)).toEqual([
      [4, 0.75],
      [9, 0.25],
    ]);
  });
});
