import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { loadOutcomeIndex } from "../../../src/eval/data/outcomes.js";
import { runRecordedEvaluation } from "../../../src/eval/routing/runner.js";

describe("runRecordedEvaluation on a slice of real RouterBench outcomes", () => {
  it("produces a well-formed report: oracle ≥ every policy, router at λ=0 ≥ the cheapest model", async () => {
    const index = await loadOutcomeIndex();
    const progress: string[] = [];
    const report = await runRecordedEvaluation({
      outcomes: index,
      embedder: "hashing",
      maxPrompts: 300,
      lambdas: [0, 0.1, 0.3],
      escalationThresholds: [0, 0.8, 1.01],
      staticLambdas: [0, 50],
      onProgress: (event) => progress.push(event.phase),
      now: () => new Date("2025-01-01T00:00:00Z"),
    });
    expect(report.createdAt).toBe("2025-01-01T00:00:00.000Z");
    expect(report.dataset.trainPrompts + report.dataset.testPrompts).toBe(300);
    expect(report.dataset.testPrompts).toBe(150);
    expect(progress).toContain("route");
    const names = report.policies.map((policy) => policy.name);
    expect(names).toEqual(
      expect.arrayContaining(["memory-auction", "escalation", "random", "static-per-task", "oracle"]),
    );
    expect(names.filter((name) => name.startsWith("single:"))).toHaveLength(11);

    const oracleAccuracy = report.policies.find((policy) => policy.name === "oracle")?.points[0]?.accuracy ?? 0;
    for (const policy of report.policies) {
      for (const point of policy.points) {
        expect(point.accuracy).toBeLessThanOrEqual(oracleAccuracy + 1e-12);
        expect(point.accuracy).toBeGreaterThanOrEqual(0);
        expect(point.meanCostUsd).toBeGreaterThan(0);
      }
    }
    const memoryAuction = report.policies.find((policy) => policy.name === "memory-auction");
    const atZero = memoryAuction?.points.find((point) => point.parameter === 0);
    const cheapest = report.policies
      .filter((policy) => policy.name.startsWith("single:"))
      .map((policy) => policy.points[0])
      .sort((left, right) => (left?.meanCostUsd ?? 0) - (right?.meanCostUsd ?? 0))[0];
    expect(atZero?.accuracy).toBeGreaterThanOrEqual(cheapest?.accuracy ?? 1);
    expect(atZero?.prompts).toBe(150);
    expect(memoryAuction?.metrics?.apgr).toBeTypeOf("number");

    // Escalation charges every call: at τ > 1 it climbs the whole ladder on every prompt.
    const escalation = report.policies.find((policy) => policy.name === "escalation");
    const top = escalation?.points.find((point) => point.parameter === 1.01);
    expect(top?.calls).toBeGreaterThan(2 * (top?.prompts ?? 0));
    const callSum = Object.values(top?.callsByModel ?? {}).reduce((total, count) => total + count, 0);
    expect(callSum).toBe(top?.calls);

    expect(report.targets?.length).toBe(4);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report); // plain JSON
  });

  it("rejects an unknown option and a missing embedder, naming the field", async () => {
    await expect(runRecordedEvaluation({ embedder: "hashing", lamdbas: [1] } as never)).rejects.toThrow(ConfigError);
    const error = await runRecordedEvaluation({} as never).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error) && error.fields).toEqual(["embedder"]);
  });
});
