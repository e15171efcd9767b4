/**
 * Several recorded runs, replayed run by run and summed into one table.
 *
 * A file is one run: its agents are positions within it (`agent-1` of one run is not `agent-1` of
 * another), so every run gets its own split, reliabilities and tuning — {@link replayDebateRuns} calls
 * `replayDebates` once per run with the same options — and only the figures are summed, weighted by
 * each run's replayed questions ({@link sumDebateReplayRows}).
 *
 * `--debates` names the runs: a file, a folder (every `*.jsonl` and `*.jsonl.gz` directly in it) or a
 * glob ({@link resolveDebateFiles}; globs are matched by `tinyglobby`).
 */
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { glob, isDynamicPattern } from "tinyglobby";
import { DataError } from "../../errors.js";
import { type DebateRun, loadDebateRun } from "./records.js";
import {
  type DebateReplayReport,
  type DebateReplayRow,
  type DebateReplayTarget,
  debateReplayTargets,
  type ReplayDebatesOptions,
  replayDebates,
} from "./replay.js";

/** The file names a folder of runs is read for. */
const RUN_FILE = /\.jsonl(\.gz)?$/;

/**
 * The files a `--debates` value names, in order: a file as it is; a folder's `*.jsonl` and
 * `*.jsonl.gz` files directly in it, sorted by name; a glob's matches, sorted. Several values are
 * resolved one after another; a file named twice is kept once (its first place).
 *
 * @param paths - Files, folders or globs (quote a glob, or let the shell expand it into files).
 * @returns The files, at least one.
 * @throws DataError naming the path when it does not exist, a folder holds no run file, or a glob
 *   matches no file.
 * @example
 * ```ts
 * await resolveDebateFiles("runs/");            // ["runs/a.jsonl", "runs/b.jsonl.gz"]
 * await resolveDebateFiles("runs/*-gsm8k.jsonl");
 * ```
 */
export async function resolveDebateFiles(paths: string | readonly string[]): Promise<string[]> {
  const files: string[] = [];
  const seen = new Set<string>();
  for (const path of typeof paths === "string" ? [paths] : paths) {
    for (const file of await resolveOne(path)) {
      const key = resolve(file);
      if (seen.has(key)) continue;
      seen.add(key);
      files.push(file);
    }
  }
  return files;
}

async function resolveOne(path: string): Promise<string[]> {
  const found = await stat(path).catch(() => undefined);
  if (found?.isFile()) return [path];
  if (found?.isDirectory()) {
    const entries = await readdir(path, { withFileTypes: true });
    const files = entries
      .filter((entry) => entry.isFile() && RUN_FILE.test(entry.name))
      .map((entry) => entry.name)
      .sort();
    if (files.length === 0) {
      throw new DataError({ file: path, problem: "no .jsonl or .jsonl.gz file directly in this folder" });
    }
    return files.map((name) => join(path, name));
  }
  if (found !== undefined) throw new DataError({ file: path, problem: "neither a file nor a folder" });
  if (!isDynamicPattern(path)) throw new DataError({ file: path, problem: "no such file or folder" });
  const matches = await glob(path, { absolute: isAbsolute(path), expandDirectories: false, onlyFiles: true });
  if (matches.length === 0) throw new DataError({ file: path, problem: "no file matches this glob" });
  return matches.sort();
}

/**
 * Resolve the paths ({@link resolveDebateFiles}) and load every run, all before any replay, so a bad
 * line in the last file fails at once.
 *
 * @throws DataError naming the path, a file with no debate, or the file, line and field of a bad record.
 * @example
 * ```ts
 * const runs = await loadDebateRuns("runs/");
 * for (const run of runs) console.log(run.file, run.debates.length, run.ignoredKeys);
 * ```
 */
export async function loadDebateRuns(paths: string | readonly string[]): Promise<DebateRun[]> {
  const runs: DebateRun[] = [];
  for (const file of await resolveDebateFiles(paths)) {
    const run = await loadDebateRun(file);
    if (run.debates.length === 0) throw new DataError({ file, problem: "no recorded debate in this file" });
    runs.push(run);
  }
  return runs;
}

/** One run's replay: its file, the keys its lines carried as metadata, and its whole report. */
export interface DebateRunReplay {
  file: string;
  ignoredKeys: string[];
  report: DebateReplayReport;
}

/** Several runs replayed one by one and summed. */
export interface DebateRunsReport {
  /** Summed over the runs. */
  questions: DebateReplayReport["questions"];
  trainFraction: number;
  seed: number;
  budgets: number[];
  rules: DebateReplayReport["rules"];
  baselines: DebateReplayReport["baselines"];
  /** Budget × rule summed over the runs, weighted by replayed questions (a single run's rows as they are). */
  rows: DebateReplayRow[];
  /** The targets, checked on the summed rows (`debateReplayTargets`). */
  targets: DebateReplayTarget[];
  /** Every run's own replay, in file order. */
  runs: DebateRunReplay[];
}

/** Told after each run is replayed. */
export interface DebateRunsProgress {
  /** Runs replayed so far. */
  done: number;
  total: number;
  /** The run just replayed. */
  file: string;
}

/**
 * Replay each run on its own with the same options (`replayDebates`: own split, reliabilities and
 * tuning per run) and sum the tables.
 *
 * @param runs - At least one run (from {@link loadDebateRuns}).
 * @param options - `replayDebates`' options but `debates`.
 * @param onProgress - Told after each run.
 * @throws ConfigError on an invalid option; RangeError when `runs` is empty.
 * @example
 * ```ts
 * const report = await replayDebateRuns(await loadDebateRuns("runs/"), { embeddings: createHashingEmbeddings() });
 * console.table(report.rows); // summed
 * for (const run of report.runs) console.log(run.file, run.report.questions.test);
 * ```
 */
export async function replayDebateRuns(
  runs: readonly DebateRun[],
  options: Omit<ReplayDebatesOptions, "debates">,
  onProgress?: (event: DebateRunsProgress) => void,
): Promise<DebateRunsReport> {
  if (runs.length === 0) throw new RangeError("replayDebateRuns needs at least one run");
  const replayed: DebateRunReplay[] = [];
  for (const run of runs) {
    const report = await replayDebates({ ...options, debates: run.debates });
    replayed.push({ file: run.file, ignoredKeys: run.ignoredKeys, report });
    onProgress?.({ done: replayed.length, total: runs.length, file: run.file });
  }
  const reports = replayed.map((run) => run.report);
  const [head] = reports as [DebateReplayReport, ...DebateReplayReport[]];
  const rows = reports.length === 1 ? head.rows : sumDebateReplayRows(reports.map((report) => report.rows));
  return {
    questions: {
      total: sum(reports.map((report) => report.questions.total)),
      train: sum(reports.map((report) => report.questions.train)),
      test: sum(reports.map((report) => report.questions.test)),
    },
    trainFraction: head.trainFraction,
    seed: head.seed,
    budgets: head.budgets,
    rules: head.rules,
    baselines: head.baselines,
    rows,
    targets: reports.length === 1 ? head.targets : debateReplayTargets(rows),
    runs: replayed,
  };
}

/**
 * Sum several runs' tables into one: for each (budget, rule), in the order first seen, `questions` is
 * the sum, `accuracy` and every `*Share` are Σ count / Σ questions (the counts are recovered from each
 * run's share × questions), `meanTokens` (and any other numeric field) is the mean weighted by each
 * run's questions — Σ tokens / Σ questions — and `costEfficiency` is recomputed from the sums. A
 * non-numeric extra field is kept when every run has the same value. Fields keep the rows' order.
 *
 * @example
 * ```ts
 * const [row] = sumDebateReplayRows([[a], [b]]); // a: 10 questions at 0.8, b: 30 at 0.6
 * row?.accuracy; // 0.65
 * ```
 */
export function sumDebateReplayRows(tables: ReadonlyArray<readonly DebateReplayRow[]>): DebateReplayRow[] {
  const groups = new Map<string, DebateReplayRow[]>();
  for (const row of tables.flat()) {
    const key = `${row.budget}\u0000${row.rule}`;
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [row]);
    else group.push(row);
  }
  return [...groups.values()].map(sumRows);
}

/** A share of questions (a count over `questions`): summed as counts. */
const isCountShare = (field: string) => field === "accuracy" || field.endsWith("Share");

function sumRows(rows: readonly DebateReplayRow[]): DebateReplayRow {
  const [first] = rows as [DebateReplayRow, ...DebateReplayRow[]];
  const questions = sum(rows.map((row) => row.questions));
  const summed: Record<string, unknown> = {};
  for (const field of new Set(rows.flatMap((row) => Object.keys(row)))) {
    const values = rows.map((row) => Reflect.get(row, field) as unknown);
    if (field === "budget" || field === "rule") summed[field] = first[field];
    else if (field === "questions") summed[field] = questions;
    else if (field === "costEfficiency")
      summed[field] = null; // recomputed below, in its place
    else if (values.every((value): value is number => typeof value === "number" && Number.isFinite(value))) {
      const totals = values.map((value, index) => {
        const total = value * (rows[index]?.questions ?? 0);
        return isCountShare(field) ? Math.round(total) : total;
      });
      summed[field] = questions === 0 ? 0 : sum(totals) / questions;
    } else if (values.every((value) => JSON.stringify(value) === JSON.stringify(values[0]))) {
      summed[field] = values[0];
    }
  }
  const row = summed as unknown as DebateReplayRow;
  row.costEfficiency = row.meanTokens > 0 ? row.accuracy / (row.meanTokens / 1000) : null;
  return row;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
