import { writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { DataError } from "../../../../src/eval/errors.js";
import { loadDebateRun } from "../../../../src/eval/multiagent/replay/records.js";
import {
  type DebateReplayRow,
  type ReplayDebatesOptions,
  replayDebates,
} from "../../../../src/eval/multiagent/replay/replay.js";
import {
  loadDebateRuns,
  replayDebateRuns,
  resolveDebateFiles,
  sumDebateReplayRows,
} from "../../../../src/eval/multiagent/replay/runs.js";
import { countWords } from "./fixture.js";
import { writeRuns } from "./runs-fixture.js";

const options = {
  rules: ["last-round-majority", "reliability-weighted", "stop-on-agreement"],
  budgets: [8, 12, 100],
  countTokens: countWords,
} satisfies Omit<ReplayDebatesOptions, "debates">;

async function dataErrorOf(promise: Promise<unknown>): Promise<DataError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!DataError.isInstance(error)) throw new Error(`expected a DataError, got ${String(error)}`);
  return error;
}

function row(rule: string, questions: number, accuracy: number, meanTokens: number, extra = {}): DebateReplayRow {
  return {
    budget: 512,
    rule: rule as DebateReplayRow["rule"],
    kind: "gavel",
    questions,
    accuracy,
    meanTokens,
    costEfficiency: null,
    stoppedEarlyShare: 0.5,
    stoppedByRuleShare: 0.5,
    stoppedByBudgetShare: 0,
    unansweredShare: 0,
    overBudgetShare: 0,
    meanTexts: 3,
    ...extra,
  };
}

describe("resolveDebateFiles", () => {
  it("reads a folder's .jsonl files directly in it, sorted, and a glob's matches", async () => {
    const { runs, a, b } = writeRuns();
    expect(await resolveDebateFiles(runs)).toEqual([a, b]);
    expect(await resolveDebateFiles(join(runs, "*.jsonl"))).toEqual([a, b]);
    expect(await resolveDebateFiles(join(runs, "{b,zz}.jsonl"))).toEqual([b]);
    // A relative glob gives paths relative to the working directory, and a file named twice is kept once.
    const relativeGlob = relative(process.cwd(), join(runs, "?.jsonl"));
    expect(await resolveDebateFiles([b, relativeGlob])).toEqual([b, relative(process.cwd(), a)]);
    expect(await resolveDebateFiles(a)).toEqual([a]);
  });

  it("names the path of an empty folder, a glob matching nothing and a missing path", async () => {
    const { root, runs, empty } = writeRuns();
    const emptyFolder = await dataErrorOf(resolveDebateFiles(empty));
    expect(emptyFolder.file).toBe(empty);
    expect(emptyFolder.message).toBe(`${empty}: no .jsonl or .jsonl.gz file directly in this folder`);
    const nothing = join(runs, "*.jsonl.gz");
    expect((await dataErrorOf(resolveDebateFiles(nothing))).message).toBe(`${nothing}: no file matches this glob`);
    const missing = join(root, "missing.jsonl");
    expect((await dataErrorOf(resolveDebateFiles(missing))).message).toBe(`${missing}: no such file or folder`);
  });
});

describe("loadDebateRuns", () => {
  it("names a run file that holds no debate (it would otherwise fail as a bad option)", async () => {
    const { runs } = writeRuns();
    const blank = join(runs, "c-blank.jsonl");
    writeFileSync(blank, "\n\n");
    const error = await dataErrorOf(loadDebateRuns(runs));
    expect(error.message).toBe(`${blank}: no recorded debate in this file`);
  });
});

describe("replayDebateRuns", () => {
  it("replays each run on its own (2 agents and 3 agents) and sums weighted by questions", async () => {
    const { runs, a, b } = writeRuns();
    const loaded = await loadDebateRuns(runs);
    expect(loaded.map((run) => [run.file, run.debates.length])).toEqual([
      [a, 8],
      [b, 4],
    ]);
    const events: unknown[] = [];
    const report = await replayDebateRuns(loaded, options, (event) => events.push(event));
    expect(events).toEqual([
      { done: 1, total: 2, file: a },
      { done: 2, total: 2, file: b },
    ]);

    // Run by run: each run's report is what replaying that file alone gives, with its own agents.
    const [runA, runB] = report.runs;
    expect(runA?.report).toEqual(await replayDebates({ ...options, debates: (await loadDebateRun(a)).debates }));
    expect(runB?.report).toEqual(await replayDebates({ ...options, debates: (await loadDebateRun(b)).debates }));
    expect(Object.keys(runA?.report.reliability.executors ?? {})).toEqual(["agent-1", "agent-2"]);
    expect(Object.keys(runB?.report.reliability.executors ?? {})).toEqual(["agent-1", "agent-2", "agent-3"]);
    expect(report.questions).toEqual({ total: 12, train: 4 + 2, test: 4 + 2 });

    const key = (part: DebateReplayRow) => `${part.budget} ${part.rule}`;
    expect(report.rows.map(key)).toEqual(runA?.report.rows.map(key));
    expect(report.rows.map(key)).toEqual(runB?.report.rows.map(key));
    expect(report.rows.length).toBeGreaterThanOrEqual(options.budgets.length * (options.rules.length + 1));
    let differs = false;
    for (const summed of report.rows) {
      const parts = [runA, runB].map((run) =>
        run?.report.rows.find((part) => part.budget === summed.budget && part.rule === summed.rule),
      ) as [DebateReplayRow, DebateReplayRow];
      const [left, right] = parts;
      const questions = left.questions + right.questions;
      const weighted = (pick: (part: DebateReplayRow) => number) =>
        (pick(left) * left.questions + pick(right) * right.questions) / questions;
      expect(summed.questions).toBe(questions);
      expect(summed.accuracy).toBeCloseTo(
        weighted((part) => part.accuracy),
        12,
      );
      expect(summed.meanTokens).toBeCloseTo(
        weighted((part) => part.meanTokens),
        12,
      );
      expect(summed.stoppedEarlyShare).toBeCloseTo(
        weighted((part) => part.stoppedEarlyShare),
        12,
      );
      expect(summed.unansweredShare).toBeCloseTo(
        weighted((part) => part.unansweredShare),
        12,
      );
      expect(summed.costEfficiency).toBe(summed.meanTokens > 0 ? summed.accuracy / (summed.meanTokens / 1000) : null);
      if (left.accuracy !== right.accuracy) differs = true;
    }
    // The runs' accuracies differ, so the weighting is tested (not only a plain mean of equal figures).
    expect(differs).toBe(true);
    // From the data: the full debate is right on run A's even questions and on every question of run B.
    const testA = loaded[0]?.debates.filter((debate) => !runA?.report.trainIds.includes(debate.id)) ?? [];
    const rightA = testA.filter((debate) => Number(debate.id.slice("a-q".length)) % 2 === 0).length;
    const full = report.rows.find((summed) => summed.budget === 100 && summed.rule === "full-debate");
    expect(full?.accuracy).toBe((rightA + 2) / 6);
  });

  it("keeps a single run's report as it is", async () => {
    const { a } = writeRuns();
    const report = await replayDebateRuns([await loadDebateRun(a)], options);
    expect(report.runs).toHaveLength(1);
    expect(report.rows).toBe(report.runs[0]?.report.rows);
    expect(report.questions).toEqual(report.runs[0]?.report.questions);
  });

  it("refuses no runs", async () => {
    await expect(replayDebateRuns([], options)).rejects.toThrow(RangeError);
  });
});

describe("sumDebateReplayRows", () => {
  it("sums counts, weights means by questions, recomputes cost efficiency and keeps the field order", () => {
    const [summed] = sumDebateReplayRows([
      [row("gated", 10, 0.8, 100, { label: "same", speakersMean: 2, note: "a" })],
      [row("gated", 30, 0.6, 200, { label: "same", speakersMean: 1, note: "b" })],
    ]);
    expect(summed?.questions).toBe(40);
    expect(summed?.accuracy).toBe(26 / 40);
    expect(summed?.meanTokens).toBe(175);
    expect(summed?.costEfficiency).toBeCloseTo(0.65 / 0.175, 12);
    expect(summed?.stoppedEarlyShare).toBe(0.5);
    expect(summed).toMatchObject({ label: "same", speakersMean: 1.25 });
    expect(summed).not.toHaveProperty("note");
    expect(summed).toMatchObject({ kind: "gavel", meanTexts: 3 });
    expect(Object.keys(summed ?? {}).slice(0, 7)).toEqual([
      "budget",
      "rule",
      "kind",
      "questions",
      "accuracy",
      "meanTokens",
      "costEfficiency",
    ]);
  });

  it("keeps (budget, rule) apart and gives zeros for no questions", () => {
    const rows = sumDebateReplayRows([
      [row("gated", 0, 0, 0), { ...row("gated", 2, 1, 10), budget: 1024 }],
      [row("gated", 0, 0, 0)],
    ]);
    expect(rows.map((summed) => [summed.budget, summed.questions, summed.accuracy, summed.costEfficiency])).toEqual([
      [512, 0, 0, null],
      [1024, 2, 1, 100],
    ]);
  });
});
