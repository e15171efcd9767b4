/**
 * Canonical recorded outcomes: the RouterBench converter, the index by prompt and model, and the
 * shipped RouterBench file.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { writeJsonLines } from "../../../src/eval/data/datasets.js";
import {
  convertRouterBench,
  convertRouterBenchFiles,
  indexOutcomes,
  loadOutcomeIndex,
  loadRecordedOutcomes,
  type OutcomeRecord,
  type RouterBenchOutcome,
  type RouterBenchPrompt,
  UNAVAILABLE,
} from "../../../src/eval/data/outcomes.js";
import { DataError } from "../../../src/eval/errors.js";

const prompts: RouterBenchPrompt[] = [
  { prompt_id: "arc.1", eval_name: "arc-challenge", routerdc_split: "train", prompt: "Which? A) x B) y" },
  { prompt_id: "mbpp.7", eval_name: "mbpp", routerdc_split: "train", prompt: "Write add." },
];
const outcomes: RouterBenchOutcome[] = [
  { prompt_id: "mbpp.7", eval_name: "mbpp", model: "small", correct: 0, cost_usd: 0.0001, response: "def add(): pass" },
  { prompt_id: "arc.1", eval_name: "arc-challenge", model: "small", correct: 1, cost_usd: 0.0002, response: "A" },
  { prompt_id: "arc.1", eval_name: "arc-challenge", model: "large", correct: 1, cost_usd: 0.003, response: "A" },
];

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gavel-outcomes-test-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("convertRouterBench", () => {
  it("joins prompts and outcomes into canonical lines, grouped by prompt, models sorted", () => {
    const records = convertRouterBench({ prompts, outcomes });
    expect(records.map((record) => [record.prompt_id, record.model])).toEqual([
      ["arc.1", "large"],
      ["arc.1", "small"],
      ["mbpp.7", "small"],
    ]);
    expect(records[0]).toEqual({
      prompt_id: "arc.1",
      prompt: "Which? A) x B) y",
      eval_name: "arc-challenge",
      model: "large",
      correct: 1,
      cost_usd: 0.003,
      response: "A",
      split: "train",
    });
  });

  it("a missing (prompt, model) cell stays missing and reads as unavailable", () => {
    const index = indexOutcomes(convertRouterBench({ prompts, outcomes }));
    expect(index.outcome("mbpp.7", "large")).toBe(UNAVAILABLE);
    expect(index.outcome("unknown", "large")).toBe(UNAVAILABLE);
    expect(index.outcomesOf("mbpp.7").size).toBe(1);
    expect(index.models).toEqual(["large", "small"]);
    expect(index.promptInfo("arc.1")).toEqual({
      prompt_id: "arc.1",
      prompt: "Which? A) x B) y",
      eval_name: "arc-challenge",
      split: "train",
    });
  });

  it("rejects an outcome for an unknown prompt, a task mismatch and a duplicate pair", () => {
    const unknown = { ...outcomes[0], prompt_id: "nope" } as RouterBenchOutcome;
    expect(() => convertRouterBench({ prompts, outcomes: [unknown] })).toThrow(/not in prompts.jsonl/);
    const mismatch = { ...outcomes[0], eval_name: "arc-challenge" } as RouterBenchOutcome;
    expect(() => convertRouterBench({ prompts, outcomes: [mismatch] })).toThrow(DataError);
    const duplicate = outcomes[1] as RouterBenchOutcome;
    expect(() => convertRouterBench({ prompts, outcomes: [duplicate, duplicate] })).toThrow(/appears twice/);
  });

  it("reads the two files (plain or gzipped) and round-trips through the canonical format", async () => {
    const promptsPath = join(scratch, "prompts.jsonl");
    await writeFile(promptsPath, prompts.map((prompt) => JSON.stringify(prompt)).join("\n"));
    const outcomesPath = join(scratch, "outcomes_long.jsonl.gz");
    await writeJsonLines(outcomesPath, outcomes);
    const records = await convertRouterBenchFiles({ promptsPath, outcomesPath });
    expect(records).toEqual(convertRouterBench({ prompts, outcomes }));

    const canonical = join(scratch, "canonical.jsonl.gz");
    await writeJsonLines(canonical, records);
    expect(await loadRecordedOutcomes({ path: canonical })).toEqual(records);
  });
});

describe("canonical lines and the index", () => {
  const base: OutcomeRecord = { prompt_id: "p", prompt: "?", eval_name: "t", model: "m", correct: 1, cost_usd: 0.1 };

  it("accepts booleans for correct and optional token counts", async () => {
    const path = join(scratch, "booleans.jsonl");
    await writeFile(
      path,
      `${JSON.stringify({ ...base, correct: true, input_tokens: 10, output_tokens: 3 })}\n${JSON.stringify({ ...base, model: "n", correct: false })}\n`,
    );
    const records = await loadRecordedOutcomes({ path });
    expect(records.map((record) => record.correct)).toEqual([1, 0]);
    expect(records[0]?.input_tokens).toBe(10);
  });

  it("a bad line names the file, the line and the field", async () => {
    const path = join(scratch, "negative-cost.jsonl");
    await writeFile(path, `${JSON.stringify(base)}\n${JSON.stringify({ ...base, model: "n", cost_usd: -1 })}\n`);
    await expect(loadRecordedOutcomes({ path })).rejects.toThrow(`${path}:2: field "cost_usd"`);
  });

  it("refuses a (prompt, model) pair twice, and one prompt id with two texts", () => {
    expect(() => indexOutcomes([base, base])).toThrow(/appears twice/);
    expect(() => indexOutcomes([base, { ...base, model: "n", prompt: "other" }])).toThrow(/different prompt/);
  });
});

describe("the shipped RouterBench outcomes", () => {
  it("hold 2,218 prompts, 24,340 rows and 11 models; 58 cells are unavailable", async () => {
    const index = await loadOutcomeIndex();
    expect(index.promptIds).toHaveLength(2218);
    expect(index.rowCount).toBe(24_340);
    expect(index.models).toHaveLength(11);
    expect(index.models).toContain("gpt-4-1106-preview");
    let unavailable = 0;
    const byTask: Record<string, number> = {};
    for (const promptId of index.promptIds) {
      const info = index.promptInfo(promptId);
      if (info) byTask[info.eval_name] = (byTask[info.eval_name] ?? 0) + 1;
      expect(info?.split).toBe("train");
      for (const model of index.models) if (index.outcome(promptId, model) === UNAVAILABLE) unavailable++;
    }
    expect(unavailable).toBe(2218 * 11 - 24_340);
    expect(byTask).toEqual({ "arc-challenge": 1032, winogrande: 887, mbpp: 299 });
  });
});
