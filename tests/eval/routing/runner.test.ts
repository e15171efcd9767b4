import { describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import { indexOutcomes, loadRecordedOutcomes, type OutcomeRecord } from "../../../src/eval/data/outcomes.js";
import type { EvalReport } from "../../../src/eval/report/results.js";
import { runLeaveOneOut } from "../../../src/eval/routing/leave-out.js";
import { runRecordedEvaluation } from "../../../src/eval/routing/runner.js";
import { randomShareOfStrongCalls } from "../../../src/eval/routing/strong-share.js";

/** Embeds the question "q" on one axis and every training text on another: no training neighbour is similar to it. */
const axisEmbeddings = {
  id: "axis-3",
  embedDocuments: async (texts: string[]) =>
    texts.map((text) => (text.startsWith("Question q") ? [1, 0, 0] : [0, 1, 0])),
};

/**
 * Two members: `small` (cheap) and `large` (100× dearer). Training: four unrelated prompts both answer
 * right. Held out: the same question twice (ids t1, t2), which `small` gets wrong and `large` right.
 */
function tinyIndex() {
  const records: OutcomeRecord[] = [];
  const add = (promptId: string, prompt: string, split: string, correct: Record<string, number>) => {
    for (const [model, usd] of [
      ["small", 0.0001],
      ["large", 0.01],
    ] as const) {
      records.push({
        prompt_id: promptId,
        prompt,
        eval_name: "toy",
        model,
        correct: correct[model] ?? 0,
        cost_usd: usd,
        response: "A",
        split,
      });
    }
  };
  for (const id of [1, 2, 3, 4]) add(`train${id}`, `Training text number ${id}`, "train", { small: 1, large: 1 });
  add("t1", "Question q: which one?", "test", { small: 0, large: 1 });
  add("t2", "Question q: which one?", "test", { small: 0, large: 1 });
  return indexOutcomes(records, "tiny");
}

const routerPoint = (report: EvalReport, name: string) =>
  report.policies.find((policy) => policy.name === name)?.points[0];

describe("runRecordedEvaluation: the shipped AuctionRouter under both protocols", () => {
  it("online learns from the outcome of the member it called; batch does not", async () => {
    const report = await runRecordedEvaluation({
      outcomes: tinyIndex(),
      embedder: axisEmbeddings,
      routers: ["memory", "auto"],
      lambdas: [0.4],
      priorStrength: 0.1,
      onlineExploration: 0,
      strongModel: "large",
      weakModel: "small",
      staticLambdas: [0],
    });
    const routers = report.policies.filter((policy) => policy.kind === "router");
    expect(routers.map((policy) => [policy.name, policy.protocol])).toEqual([
      ["memory-batch", "batch"],
      ["memory-online", "online"],
      ["auto-batch", "batch"],
      ["auto-online", "online"],
    ]);
    expect(report.policies.filter((policy) => policy.kind === "baseline").every((p) => p.protocol === undefined)).toBe(
      true,
    );
    // Batch: the frozen memory knows nothing about "q"; the cheap member wins both times, wrong both times.
    const batch = routerPoint(report, "memory-batch");
    expect(batch?.callsByModel).toEqual({ small: 2 });
    expect(batch?.accuracy).toBe(0);
    // Online: small is wrong on t1, that outcome is fed back, and the identical t2 goes to large.
    const online = routerPoint(report, "memory-online");
    expect(online?.callsByModel).toEqual({ small: 1, large: 1 });
    expect(online?.accuracy).toBe(0.5);
    expect(online?.paths).toEqual({ memory: 2 });
    expect(report.notes?.some((note) => note.includes("frozen"))).toBe(true);
    expect(report.notes?.some((note) => /auto's confidence rule fitted on the training part/.test(note))).toBe(true);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it("never reads a prompt's dataset: one eval name and opaque prompt ids give the same routing", async () => {
    // A slice of the real file, split by its split field (set here), so renaming the ids keeps the split.
    const records = (await loadRecordedOutcomes())
      .filter((record) => Number(record.prompt_id.split(".").pop()) % 23 === 0)
      .map((record) => ({ ...record, split: Number(record.prompt_id.split(".").pop()) % 2 === 0 ? "train" : "test" }));
    const options = { embedder: "hashing" as const, lambdas: [0.05], staticLambdas: [0], split: "field" as const };
    const named = await runRecordedEvaluation({ ...options, outcomes: indexOutcomes(records, "named") });
    const opaque = new Map<string, string>();
    const anonymous = await runRecordedEvaluation({
      ...options,
      outcomes: indexOutcomes(
        records.map((record) => {
          if (!opaque.has(record.prompt_id)) opaque.set(record.prompt_id, `p${opaque.size}`);
          return { ...record, eval_name: "same-for-all", prompt_id: opaque.get(record.prompt_id) as string };
        }),
        "anonymous",
      ),
    });
    const routers = (report: EvalReport) => report.policies.filter((policy) => policy.kind === "router");
    expect(routers(named).length).toBe(4);
    expect(routers(named).every((policy) => (policy.points[0]?.prompts ?? 0) > 20)).toBe(true);
    expect(routers(anonymous)).toEqual(routers(named));
    expect(named.dataset.name).not.toBe(anonymous.dataset.name); // the data did differ
  }, 120_000);

  it("rejects an unknown option, a missing embedder, and --train none with a training file", async () => {
    await expect(runRecordedEvaluation({ embedder: "hashing", lamdbas: [1] } as never)).rejects.toThrow(ConfigError);
    const error = await runRecordedEvaluation({} as never).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error) && error.fields).toEqual(["embedder"]);
    const both = await runRecordedEvaluation({
      embedder: "hashing",
      noTraining: true,
      trainOutcomesPath: "train.jsonl",
    }).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(both) && both.fields).toEqual(["noTraining"]);
  });
});

describe("runLeaveOneOut: one online fold per held-out dataset over GPT-4 and Mixtral", () => {
  it("prints one row per dataset with both accuracies, the routers' shares and random's share", async () => {
    const records = (await loadRecordedOutcomes()).filter(
      (record) => Number(record.prompt_id.split(".").pop()) % 17 === 0,
    );
    const report = await runLeaveOneOut({
      outcomes: indexOutcomes(records, "slice"),
      embedder: "hashing",
      routers: ["memory"],
      lambdas: [0, 0.3],
    });
    expect(report.leaveOut?.map((row) => row.dataset)).toEqual(["arc-challenge", "mbpp", "winogrande"]);
    for (const row of report.leaveOut ?? []) {
      expect(Object.keys(row.shares)).toEqual(["memory-online"]);
      expect(row.shares["memory-online"]).toBeGreaterThanOrEqual(0);
      expect(row.shares["memory-online"]).toBeLessThanOrEqual(1);
      expect(row.randomShare).toBeCloseTo(
        randomShareOfStrongCalls({ strongAccuracy: row.strongAccuracy, weakAccuracy: row.weakAccuracy }),
        12,
      );
      const fold = report.policies.find((policy) => policy.name === `memory-online-${row.dataset}`);
      expect(fold?.protocol).toBe("online");
      expect(fold?.points.map((point) => point.prompts)).toEqual([row.prompts, row.prompts]);
      // The pool is the pair: no other model is ever called.
      for (const point of fold?.points ?? []) {
        expect(Object.keys(point.callsByModel).every((m) => m === report.strongModel || m === report.weakModel)).toBe(
          true,
        );
      }
    }
  }, 120_000);
});
