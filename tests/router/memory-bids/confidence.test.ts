import { describe, expect, it } from "vitest";
import {
  type ConfidenceSample,
  DEFAULT_CONFIDENCE_RULE,
  fitConfidenceRule,
  isConfident,
} from "../../../src/router/memory-bids/index.js";

describe("isConfident", () => {
  const rule = { minEvidence: 4, maxSpread: 0.08 };

  it("needs enough evidence and a small enough spread, and says why", () => {
    expect(isConfident({ evidence: 12.34, spread: 0.05 }, rule)).toEqual({
      confident: true,
      reason: "evidence 12.3 ≥ 4, spread 0.050 ≤ 0.08",
    });
    expect(isConfident({ evidence: 0, spread: 0.08 }, rule)).toEqual({
      confident: false,
      reason: "evidence 0.0 < 4: cold",
    });
    expect(isConfident({ evidence: 3.96, spread: 0.01 }, rule)).toEqual({
      confident: false,
      reason: "evidence 4.0 < 4",
    });
    expect(isConfident({ evidence: 5, spread: 0.09 }, rule)).toEqual({
      confident: false,
      reason: "evidence 5.0 ≥ 4, but spread 0.090 > 0.08",
    });
    expect(isConfident({ evidence: 4, spread: 0.08 }, rule).confident).toBe(true);
  });

  it("has the fitted default rule: 32 evidence and a spread ≤ 0.07 (σ = sqrt(v (1 − v) / (n + α_l)), α_l = 8)", () => {
    expect(DEFAULT_CONFIDENCE_RULE).toEqual({ minEvidence: 32, maxSpread: 0.07 });
    const spreadOf = (value: number, evidence: number) => Math.sqrt((value * (1 - value)) / (evidence + 8));
    // A clear winner (v 0.9, σ 0.047) with 32 evidence is trusted; a coin flip (v 0.5, σ 0.079) is not.
    expect(isConfident({ evidence: 32, spread: spreadOf(0.9, 32) }, DEFAULT_CONFIDENCE_RULE).confident).toBe(true);
    expect(isConfident({ evidence: 32, spread: spreadOf(0.5, 32) }, DEFAULT_CONFIDENCE_RULE).confident).toBe(false);
    expect(isConfident({ evidence: 20, spread: spreadOf(0.9, 20) }, DEFAULT_CONFIDENCE_RULE).reason).toBe(
      "evidence 20.0 < 32",
    );
  });
});

function sample(evidence: number, spread: number, memoryCorrect: number, unsureCorrect: number): ConfidenceSample {
  return {
    evidence,
    spread,
    memory: { correct: memoryCorrect, normalisedCost: 0.1 },
    unsure: { correct: unsureCorrect, normalisedCost: 0.6 },
  };
}

describe("fitConfidenceRule", () => {
  const grid = { minEvidence: [0, 2, 4, 5, 6, 8], maxSpread: [0.05, 0.1, 0.5] };

  it("trusts the memory where it pays, and takes the most conservative of equally good rules", () => {
    // The memory is right from evidence 6 on; the unsure path always is, at a higher cost.
    const samples = [1, 2, 3, 6, 8, 10].map((evidence) => sample(evidence, 0.04, evidence >= 6 ? 1 : 0, 1));
    const fitted = fitConfidenceRule(samples, { lambda: 1, grid });
    // minEvidence 4, 5 and 6 split the samples alike; 6 is the most conservative; spread 0.05 likewise.
    expect(fitted).toEqual({
      minEvidence: 6,
      maxSpread: 0.05,
      utility: expect.closeTo(3 * (1 - 0.1) + 3 * (1 - 0.6), 12),
    });
  });

  it("uses the spread: a wide winner is sent to the unsure path", () => {
    const samples = [sample(10, 0.02, 1, 1), sample(10, 0.02, 1, 1), sample(10, 0.09, 0, 1), sample(10, 0.08, 0, 1)];
    expect(fitConfidenceRule(samples, { lambda: 0.5, grid })).toMatchObject({ minEvidence: 8, maxSpread: 0.05 });
  });

  it("never trusts the memory when the unsure path wins everywhere (λ = 0, equal cost does not count)", () => {
    const samples = [sample(10, 0.02, 0, 1), sample(20, 0.01, 1, 1)];
    const fitted = fitConfidenceRule(samples, {
      lambda: 0,
      grid: { minEvidence: [0, 15, 30], maxSpread: [0.05, 0.5] },
    });
    expect(fitted).toEqual({ minEvidence: 30, maxSpread: 0.05, utility: 2 });
  });

  it("trusts the memory everywhere when it is as good and cheaper", () => {
    const samples = [sample(0, 0.1, 1, 1), sample(1, 0.09, 0, 0)];
    // 0.1 is the tightest spread of the grid that still admits both.
    expect(fitConfidenceRule(samples, { lambda: 1, grid })).toMatchObject({ minEvidence: 0, maxSpread: 0.1 });
  });

  it("searches the default grid and refuses no samples, a negative λ or an empty grid", () => {
    const fitted = fitConfidenceRule([sample(3, 0.03, 1, 0)], { lambda: 0.1 });
    expect(fitted.minEvidence).toBe(3);
    expect(fitted.maxSpread).toBe(0.03);
    expect(() => fitConfidenceRule([], { lambda: 0 })).toThrow(/at least one/);
    expect(() => fitConfidenceRule([sample(1, 0.1, 1, 1)], { lambda: -1 })).toThrow(/lambda/);
    expect(() =>
      fitConfidenceRule([sample(1, 0.1, 1, 1)], { lambda: 0, grid: { minEvidence: [], maxSpread: [0.1] } }),
    ).toThrow(/grid/);
  });
});
