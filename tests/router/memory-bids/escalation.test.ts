import { describe, expect, it } from "vitest";
import { escalationLadder, type MemberEvidence } from "../../../src/router/memory-bids/index.js";

function member(name: string, value: number, expectedCostUsd: number): MemberEvidence {
  return {
    member: name,
    value,
    evidence: 1,
    spread: 0.1,
    prior: 0.5,
    expectedCostUsd,
    normalisedCost: expectedCostUsd,
    score: value,
    neighbours: 1,
  };
}

describe("escalationLadder", () => {
  it("climbs the two cheapest members, then the most valued of the rest", () => {
    const ladder = escalationLadder([
      member("gpt-4", 0.9, 0.03),
      member("mixtral", 0.7, 0.002),
      member("claude-v2", 0.6, 0.02),
      member("mistral-7b", 0.55, 0.0005),
      member("yi-34b", 0.8, 0.003),
    ]);
    expect(ladder).toEqual({ rungs: ["mistral-7b", "mixtral"], top: "gpt-4" });
  });

  it("tops the ladder with the best bid of the rest at the clearing's λ (its score), not the best value", () => {
    const pool = [
      member("gpt-4", 0.9, 0.03),
      member("mixtral", 0.7, 0.002),
      member("claude-v2", 0.6, 0.02),
      member("mistral-7b", 0.55, 0.0005),
      member("yi-34b", 0.8, 0.003),
    ];
    // s = v − λ ĉ, ĉ = cost / the dearest cost (as clearMemoryBids sets it).
    const at = (lambda: number) =>
      pool.map((item) => ({ ...item, score: item.value - (lambda * item.expectedCostUsd) / 0.03 }));
    expect(escalationLadder(at(0)).top).toBe("gpt-4");
    expect(escalationLadder(at(0.5))).toEqual({ rungs: ["mistral-7b", "mixtral"], top: "yi-34b" });
  });

  it("breaks cost ties by value and value ties by cost, then by name", () => {
    const ladder = escalationLadder([
      member("b", 0.5, 0.001),
      member("a", 0.6, 0.001),
      member("d", 0.8, 0.01),
      member("c", 0.8, 0.005),
    ]);
    expect(ladder).toEqual({ rungs: ["a", "b"], top: "c" });
  });

  it("with two members, top is the more valued rung; with one, everything is that member", () => {
    expect(escalationLadder([member("dear", 0.9, 0.01), member("cheap", 0.5, 0.001)])).toEqual({
      rungs: ["cheap", "dear"],
      top: "dear",
    });
    expect(escalationLadder([member("only", 0.5, 0.001)])).toEqual({ rungs: ["only"], top: "only" });
    expect(() => escalationLadder([])).toThrow(/at least one member/);
  });
});
