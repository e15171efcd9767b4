import { describe, expect, it } from "vitest";
import { countTextTokens } from "../../src/budget/index.js";
import { beliefAttention, buildBelief } from "../../src/coordination/beliefs.js";
import { parseStatedConfidence } from "../../src/coordination/confidence.js";
import {
  confidenceOf,
  executorWeightsFromJson,
  executorWeightsToJson,
  fitExecutorWeights,
  refineBeliefs,
  selectCommitmentCandidate,
} from "../../src/coordination/index.js";
import { guardStrategy, truncateToTokens } from "../../src/coordination/prompts.js";
import { ConfigError } from "../../src/errors.js";
import { extractFinalNumber } from "../../src/eval/data/checkers.js";

describe("ECON belief update rule", () => {
  it("matches a hand-computed example: W = softmax(cos), b_i += 0.1 Σ_{j≠i} W_ij b_j", () => {
    // b1 = [1, 0], b2 = [0, 1], b3 = [1, 1].  cos(b1,b2) = 0, cos(b1,b3) = cos(b2,b3) = 1/√2.
    const s = Math.SQRT1_2;
    const e1 = Math.exp(1);
    const es = Math.exp(s);
    const e0 = 1;
    // Row 1: softmax([1, 0, s]); row 2: softmax([0, 1, s]); row 3: softmax([s, s, 1]).
    const row1 = [e1, e0, es].map((value) => value / (e1 + e0 + es));
    const row3 = [es, es, e1].map((value) => value / (2 * es + e1));
    const attention = beliefAttention([
      [1, 0],
      [0, 1],
      [1, 1],
    ]);
    for (const [index, value] of (attention[0] ?? []).entries())
      expect(value).toBeCloseTo(row1[index] ?? Number.NaN, 14);
    for (const [index, value] of (attention[2] ?? []).entries())
      expect(value).toBeCloseTo(row3[index] ?? Number.NaN, 14);

    const result = refineBeliefs(
      [
        [1, 0],
        [0, 1],
        [1, 1],
      ],
      { iterations: 1, tolerance: 0, stepSize: 0.1 },
    );
    const w12 = e0 / (e1 + e0 + es);
    const w13 = es / (e1 + e0 + es);
    const w31 = es / (2 * es + e1);
    // b1' = [1, 0] + 0.1 (w12 [0, 1] + w13 [1, 1]) = [1 + 0.1 w13, 0.1 (w12 + w13)]
    expect(result.beliefs[0]?.[0]).toBeCloseTo(1 + 0.1 * w13, 14);
    expect(result.beliefs[0]?.[1]).toBeCloseTo(0.1 * (w12 + w13), 14);
    // by symmetry b2' = [0.1 (w12 + w13), 1 + 0.1 w13]; b3' = [1, 1] + 0.1 w31 ([1,0] + [0,1]) = (1 + 0.1 w31) [1, 1]
    expect(result.beliefs[1]?.[0]).toBeCloseTo(0.1 * (w12 + w13), 14);
    expect(result.beliefs[2]?.[0]).toBeCloseTo(1 + 0.1 * w31, 14);
    expect(result.beliefs[2]?.[1]).toBeCloseTo(1 + 0.1 * w31, 14);
    // ‖b' − b‖ = sqrt((0.1 w13)² + (0.1 (w12+w13))² ·2 + (0.1 w13)² + 2 (0.1 w31)²)
    const delta = Math.sqrt(2 * (0.1 * w13) ** 2 + 2 * (0.1 * (w12 + w13)) ** 2 + 2 * (0.1 * w31) ** 2);
    expect(result.deltas).toHaveLength(1);
    expect(result.deltas[0]).toBeCloseTo(delta, 14);
    expect(result.stoppedBy).toBe("iterations");
  });

  it("stops when ‖b − b_prev‖ < tolerance, else after the iteration cap", () => {
    // Two orthogonal beliefs: one update moves each by 0.1/(e+1) along the other, ‖Δ‖ = √2 · 0.1/(e+1) ≈ 0.038.
    const moved = (Math.SQRT2 * 0.1) / (Math.E + 1);
    const beliefs = [
      [1, 0],
      [0, 1],
    ];
    const converged = refineBeliefs(beliefs, { iterations: 5, tolerance: 0.05, stepSize: 0.1 });
    expect(converged).toMatchObject({ iterations: 1, stoppedBy: "converged" });
    expect(converged.deltas[0]).toBeCloseTo(moved, 14);
    expect(converged.beliefs[0]?.[1]).toBeCloseTo(0.1 / (Math.E + 1), 14);

    const capped = refineBeliefs(beliefs, { iterations: 5, tolerance: 0.01, stepSize: 0.1 });
    expect(capped).toMatchObject({ iterations: 5, stoppedBy: "iterations" });
    expect(capped.deltas.every((delta) => delta >= 0.01)).toBe(true);

    const zeroStep = refineBeliefs(beliefs, { iterations: 5, tolerance: 0.01, stepSize: 0 });
    expect(zeroStep).toMatchObject({ iterations: 1, stoppedBy: "converged", beliefs });

    const single = refineBeliefs([[1, 2]], { iterations: 5, tolerance: 0.01, stepSize: 0.1 });
    expect(single).toMatchObject({ iterations: 0, stoppedBy: "single-executor", beliefs: [[1, 2]] });
  });

  it("builds beliefs as the unit embedding followed by the confidence", () => {
    expect(buildBelief([3, 4], 0.9)).toEqual([0.6, 0.8, 0.9]);
  });
});

describe("commitment candidate", () => {
  const voter = (name: string, answer: string | undefined, belief: number[], confidence: number, weight: number) => ({
    name,
    answer,
    belief,
    confidence,
    weight,
  });

  it("is the weighted vote of parsed answers scored by weight · confidence · agreement", () => {
    const voters = [
      voter("strong", "42", [1, 0, 0.9], 0.9, 0.9),
      voter("weak1", "17", [0, 1, 0.6], 0.6, 0.2),
      voter("weak2", "17", [0, 1, 0.6], 0.6, 0.2),
      voter("mute", undefined, [1, 1, 0.5], 0.5, 1),
    ];
    const selection = selectCommitmentCandidate(voters, { seed: 0 });
    // m = Σ w b / Σ w with Σ w = 2.3
    const [m0, m1, m2] = [(0.9 + 1) / 2.3, (0.2 + 0.2 + 1) / 2.3, (0.81 + 0.12 + 0.12 + 0.5) / 2.3];
    const cos = ([x, y, z]: [number, number, number]) =>
      (x * m0 + y * m1 + z * m2) / (Math.hypot(x, y, z) * Math.hypot(m0, m1, m2));
    expect(selection.scores[0]?.score).toBeCloseTo(0.9 * 0.9 * cos([1, 0, 0.9]), 14);
    expect(selection.tallies.map((tally) => tally.answer)).toEqual(["42", "17"]);
    expect(selection.tallies[1]?.score).toBeCloseTo(2 * 0.2 * 0.6 * cos([0, 1, 0.6]), 14);
    expect(selection.candidate).toBe("42");
    // Without weights the two "17" executors win.
    const unweighted = selectCommitmentCandidate(
      voters.map((entry) => ({ ...entry, weight: 1 })),
      { seed: 0 },
    );
    expect(unweighted.candidate).toBe("17");
  });

  it("breaks ties by the seeded key, independent of executor order", () => {
    const voters = [voter("a", "1", [1, 0], 1, 1), voter("b", "2", [0, 1], 1, 1)];
    for (const seed of [0, 1, 2, 3, 4]) {
      const forward = selectCommitmentCandidate(voters, { seed }).candidate;
      const backward = selectCommitmentCandidate([...voters].reverse(), { seed }).candidate;
      expect(forward).toBe(backward);
    }
  });

  it("can pick the answer closest to the mean belief instead", () => {
    const voters = [voter("a", "1", [1, 0.1], 1, 1), voter("b", "2", [1, 0.3], 1, 1), voter("c", "3", [0, 1], 1, 1)];
    const selection = selectCommitmentCandidate(voters, { seed: 0, rule: "closest-to-mean" });
    expect(selection.candidate).toBe(selection.closestToMean);
    expect(selection.candidate).toBe("2");
  });
});

describe("confidence", () => {
  it("parses a stated confidence strictly", () => {
    expect(parseStatedConfidence("Answer: 4\nConfidence: 0.8")).toBe(0.8);
    expect(parseStatedConfidence("Answer: 4\nconfidence = 85%")).toBe(0.85);
    expect(parseStatedConfidence("Confidence: .5\nConfidence: 1")).toBe(1);
    expect(parseStatedConfidence("Confidence: 1.5")).toBeUndefined();
    expect(parseStatedConfidence("Confidence: 120%")).toBeUndefined();
    expect(parseStatedConfidence("My confidence: 0.8 roughly")).toBeUndefined();
    expect(parseStatedConfidence("Confidence: high")).toBeUndefined();
  });

  it("prefers logprobs, then the stated value, then 0.5, and records which", () => {
    const logprobs = { logprobs: { content: [{ logprob: -0.1 }, { logprob: -0.3 }] } };
    expect(confidenceOf({ response_metadata: logprobs }, "Confidence: 0.9")).toEqual({
      value: Math.exp(-0.2),
      source: "logprobs",
    });
    expect(confidenceOf({ response_metadata: {} }, "Confidence: 0.9")).toEqual({ value: 0.9, source: "stated" });
    expect(confidenceOf({ response_metadata: { logprobs: null } }, "sure")).toEqual({ value: 0.5, source: "default" });
  });
});

describe("executor weights", () => {
  it("fits smoothed accuracy and round-trips through JSON", () => {
    const weights = fitExecutorWeights([
      { executor: "careful", correct: true },
      { executor: "careful", correct: true },
      { executor: "careful", correct: false },
      { executor: "hasty", correct: false },
    ]);
    expect(weights.executors.careful).toEqual({ weight: 3 / 5, correct: 2, total: 3 });
    expect(weights.executors.hasty).toEqual({ weight: 1 / 3, correct: 0, total: 1 });
    expect(fitExecutorWeights([{ executor: "x", correct: true }], { prior: 2 }).executors.x?.weight).toBe(3 / 5);
    expect(executorWeightsFromJson(executorWeightsToJson(weights))).toEqual(weights);
  });

  it("rejects malformed saved weights naming the field", () => {
    const bad = JSON.stringify({
      version: 1,
      method: "smoothed-accuracy",
      prior: 1,
      executors: { a: { weight: 1.5, correct: 1, total: 1 } },
    });
    expect(() => executorWeightsFromJson(bad)).toThrow(ConfigError);
    try {
      executorWeightsFromJson(bad);
    } catch (error) {
      expect((error as ConfigError).fields).toContain("executors.a.weight");
    }
    // A truncated file is the same kind of error, not a bare SyntaxError.
    expect(() => executorWeightsFromJson(executorWeightsToJson(fitExecutorWeights([])).slice(0, 20))).toThrow(
      /Invalid executor weights:\n.*not JSON/,
    );
    expect(() => fitExecutorWeights([], { prior: 0 })).toThrow(ConfigError);
  });
});

describe("strategy guard and token cap", () => {
  it("strips a sentence that states a parsable answer, keeps the approach", () => {
    const result = guardStrategy("Multiply the rows by the columns. The answer is 42.", extractFinalNumber, "strip");
    expect(result).toEqual({
      strategy: "Multiply the rows by the columns.",
      leaked: true,
      removed: ["The answer is 42."],
    });
    expect(guardStrategy("Add 3 apples to 4 apples, then check units.", extractFinalNumber, "strip").leaked).toBe(
      false,
    );
    expect(guardStrategy("Work out 6 × 7 = ? by repeated addition.", extractFinalNumber, "strip").leaked).toBe(false);
    expect(guardStrategy("So x = 7.", extractFinalNumber, "reject")).toMatchObject({ strategy: "", leaked: true });
    expect(guardStrategy("The answer is 42.", extractFinalNumber, "off").leaked).toBe(false);
  });

  it("truncates to a token count at a word boundary", () => {
    const long = "word ".repeat(200);
    const cut = truncateToTokens(long, 50);
    expect(countTextTokens(cut)).toBeLessThanOrEqual(50);
    expect(countTextTokens(cut)).toBeGreaterThan(40);
    expect(truncateToTokens("short text", 50)).toBe("short text");
  });
});
