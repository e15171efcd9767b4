import { describe, expect, it } from "vitest";
import { indexOutcomes, type OutcomeRecord } from "../../../src/eval/data/outcomes.js";
import {
  answersAgree,
  fitCascades,
  fitTaskLadders,
  replayCascade,
  runCascade,
  withCascadeRecords,
} from "../../../src/eval/routing/cascade.js";
import { createEscalationPolicy, parserForTask } from "../../../src/eval/routing/escalation.js";
import type { CallResult } from "../../../src/eval/routing/online.js";

/**
 * A multiple-choice task ("arc-challenge") and a code task ("mbpp"). Cheap `a` and `b` agree on p1 and p2
 * (both right on p1, both wrong on p2) and disagree on p3; `big` (dear) is always right; `c` is cheap and
 * always answers "D" (wrong).
 */
function records(): OutcomeRecord[] {
  const row = (prompt: string, task: string, model: string, answer: string, correct: number, cost: number) => ({
    prompt_id: prompt,
    prompt: `question ${prompt}`,
    eval_name: task,
    model,
    correct,
    cost_usd: cost,
    response: `The answer is (${answer}).`,
  });
  return [
    row("p1", "arc-challenge", "a", "A", 1, 1),
    row("p1", "arc-challenge", "b", "A", 1, 2),
    row("p1", "arc-challenge", "c", "D", 0, 1),
    row("p1", "arc-challenge", "big", "A", 1, 100),
    row("p2", "arc-challenge", "a", "B", 0, 1),
    row("p2", "arc-challenge", "b", "B", 0, 2),
    row("p2", "arc-challenge", "c", "D", 0, 1),
    row("p2", "arc-challenge", "big", "C", 1, 100),
    row("p3", "arc-challenge", "a", "A", 1, 1),
    row("p3", "arc-challenge", "b", "C", 0, 2),
    row("p3", "arc-challenge", "c", "D", 0, 1),
    row("p3", "arc-challenge", "big", "A", 1, 100),
    row("m1", "mbpp", "a", "x", 0, 1),
    row("m1", "mbpp", "b", "x", 1, 2),
    row("m1", "mbpp", "big", "x", 1, 100),
  ];
}

describe("agreement cascades", () => {
  const index = indexOutcomes(records());
  const train = ["p1", "p2", "p3", "m1"];

  it("agreement needs two parsed, equal answers", () => {
    const parse = parserForTask("arc-challenge");
    if (parse === undefined) throw new Error("arc has a parser");
    expect(answersAgree(parse, "(A)", "The answer is A")).toBe(true);
    expect(answersAgree(parse, "(A)", "(B)")).toBe(false);
    expect(answersAgree(parse, "no idea", "no idea")).toBe(false);
  });

  it("replays: agreement keeps the first answer and charges two calls; disagreement charges the fallback too", () => {
    const cascade = { first: "a", second: "b", fallback: "big" };
    expect(replayCascade(index, "p1", cascade)).toEqual({ correct: 1, costUsd: 3 });
    expect(replayCascade(index, "p2", cascade)).toEqual({ correct: 0, costUsd: 3 });
    expect(replayCascade(index, "p3", cascade)).toEqual({ correct: 1, costUsd: 103 });
    expect(replayCascade(index, "m1", cascade)).toBeUndefined(); // no parser for code
  });

  it("fits cascades on tasks with a parser only, keeping the accuracy–cost Pareto frontier", () => {
    const cascades = fitCascades(index, train, { strongModel: "big", memberCostShare: 0.5 });
    expect(cascades.every((cascade) => cascade.evalName === "arc-challenge")).toBe(true);
    const names = cascades.map((cascade) => `${cascade.first}+${cascade.second}`);
    // a+b: 2/3 right at 36.3; a+c and c+b always disagree: 3/3 right at 102 and 103 (c+b dominated by a+c).
    expect(names).toEqual(["a+c", "a+b"]);
    expect(cascades[1]?.trainingAccuracy).toBeCloseTo(2 / 3, 12);
    expect(cascades[1]?.trainingMeanCostUsd).toBeCloseTo(109 / 3, 12);
  });

  it("adds one virtual record per cascade and training prompt; the profile knows its accuracy and cost", () => {
    const cascades = fitCascades(index, train, { strongModel: "big", memberCostShare: 0.5, perTask: 1 });
    const view = withCascadeRecords(index, train, cascades);
    const name = cascades[0]?.name as string;
    expect(view.outcomesOf("p2").get(name)).toBe(1);
    expect(view.outcomesOf("m1").has(name)).toBe(false);
    expect(view.profile.accuracy(name, "arc-challenge")).toBe(1);
    expect(view.profile.meanCostUsd(name, "arc-challenge")).toBeCloseTo(102, 12);
  });

  it("runs a cascade with real calls: the fallback is asked only on disagreement", async () => {
    const asked: string[] = [];
    const ask =
      (promptId: string) =>
      async (model: string): Promise<CallResult> => {
        asked.push(model);
        const cell = index.outcome(promptId, model);
        if (cell === "unavailable") throw new Error("unavailable");
        return { model, correct: cell.correct, costUsd: cell.cost_usd, response: cell.response ?? "" };
      };
    const parse = parserForTask("arc-challenge");
    if (parse === undefined) throw new Error("arc has a parser");
    const agreed = await runCascade({ first: "a", second: "b", fallback: "big" }, parse, ask("p1"));
    expect(agreed.agreed).toBe(true);
    expect(agreed.calls.map((call) => call.model)).toEqual(["a", "b"]);
    const escalated = await runCascade({ first: "a", second: "b", fallback: "big" }, parse, ask("p3"));
    expect(escalated.final.model).toBe("big");
    expect(escalated.calls).toHaveLength(3);
    expect(asked).toEqual(["a", "b", "a", "b", "big"]);
  });

  it("fits one ladder per task: best cheap model first, its best agreement partner, then the strong model", () => {
    const ladderOf = fitTaskLadders(index, train, {
      strongModel: "big",
      memberCostShare: 0.5,
      fallbackLadder: ["a", "big"],
    });
    expect(ladderOf("arc-challenge")).toEqual(["a", "c", "big"]); // a: 2/3 alone; a+c: 3/3
    expect(ladderOf("mbpp")).toEqual(["b", "big"]); // no parser: best cheap model, then the top
    expect(ladderOf("unknown-task")).toEqual(["a", "big"]);
  });
});

describe("escalation with a relative threshold", () => {
  it("divides every value by the scale before comparing it with τ", async () => {
    const policy = createEscalationPolicy({ ladder: ["cheap", "dear"], threshold: 0.9 });
    const run = (scale?: number) =>
      policy.run({
        available: ["cheap", "dear"],
        estimate: (model) => (model === "cheap" ? 0.6 : 0.65),
        ask: async () => "",
        ...(scale === undefined ? {} : { scale }),
      });
    expect((await run()).finalModel).toBe("dear"); // 0.6 < 0.9
    expect((await run(0.65)).finalModel).toBe("cheap"); // 0.6 / 0.65 ≈ 0.92 ≥ 0.9
  });
});
