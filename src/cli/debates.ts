/**
 * `gavel replay-debates`: replay recorded multi-agent debates under a token-budget sweep and compare
 * Gavel's stopping and aggregation rules with the recorded full debate. No model is called.
 *
 *   gavel replay-debates --debates FILE|FOLDER|GLOB... [--budgets 256,512,1024,1536,2048] [--rules r1,r2]
 *                        [--embedder use-lite|hashing] [--train-fraction 0.5] [--seed 0]
 *                        [--mechanism second_price] [--reserve-price 0] [--top-k 1] [--json] [--quiet]
 *
 * A folder or glob is several runs, replayed run by run and summed. Exit codes (the same as
 * `gavel eval`): 0 done; 1 the replay failed; 2 bad input (missing path, empty folder, a glob matching
 * nothing, an invalid file, a bad option). Output goes through injectable writers, so tests run the
 * real command in-process. The pipeline is the harness's `runDebateReplay`; {@link replayDebatesForCli}
 * (warnings and progress on stderr), {@link debateReplayText} and {@link debateReplayJson} are what
 * another command (e.g. `gavel eval --debates`) reuses.
 */

import Table from "cli-table3";
import { Command, InvalidArgumentError } from "commander";
import { z } from "zod";
import { functionSchema, parseConfig } from "../errors.js";
import type { DebateRun } from "../eval/multiagent/replay/records.js";
import {
  DEFAULT_DEBATE_BUDGETS,
  DEFAULT_TRAIN_FRACTION,
  type DebateReplayReport,
  type DebateReplayRow,
  gatedSettingsSchema,
} from "../eval/multiagent/replay/replay.js";
import {
  DEBATE_REPLAY_RULES,
  DEFAULT_GATED_SETTINGS,
  type DebateReplayRule,
  FULL_DEBATE,
  rowKind,
} from "../eval/multiagent/replay/rules.js";
import { type DebateEmbedderKind, type DebateReplayRun, runDebateReplay } from "../eval/multiagent/replay/run.js";
import type { DebateRunsReport } from "../eval/multiagent/replay/runs.js";
import { createHashingEmbeddings, type EmbeddingsLike } from "../eval/routing/embedding.js";
import { MECHANISM_NAMES } from "../market/options.js";
import type { MechanismName } from "../market/types.js";
import { loadSentenceEncoder, parseInteger, percent } from "./common.js";
import { exitCodeOf, usageErrorsExitWithCode2 } from "./exit-codes.js";
import { createProgressReporter } from "./progress.js";

const debatesCommandOptionsSchema = z
  .object({
    /** Where results go. Default: `process.stdout`. */
    stdout: functionSchema<(text: string) => void>().optional(),
    /** Where errors go. Default: `process.stderr`. */
    stderr: functionSchema<(text: string) => void>().optional(),
    /** Draw a progress bar (several runs) instead of lines. Default: whether stderr is a TTY. */
    interactive: z.boolean().optional(),
    /** Builds the embedder for `econ-commitment`. Default: USE-Lite for `use-lite`, the hashing embedder for `hashing`. */
    createEmbedder: functionSchema<(kind: DebateEmbedderKind) => EmbeddingsLike | Promise<EmbeddingsLike>>().optional(),
  })
  .strict();

/** Options of {@link debatesCommand}: I/O seams for tests and embedding. */
export type DebatesCommandOptions = z.input<typeof debatesCommandOptionsSchema>;

/**
 * The `replay-debates` command of the `gavel` CLI.
 *
 * @param options - Optional writers and embedder factory (seams for tests).
 * @returns A commander `Command` to add to a program.
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * import { Command } from "commander";
 * const program = new Command("gavel").addCommand(debatesCommand());
 * await program.parseAsync(["replay-debates", "--debates", "data/debates/sample.jsonl", "--json"], { from: "user" });
 * await program.parseAsync(["replay-debates", "--debates", "runs/", "--embedder", "hashing"], { from: "user" });
 * ```
 */
export function debatesCommand(options: DebatesCommandOptions = {}): Command {
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = (text: string) => process.stderr.write(text),
    interactive = process.stderr.isTTY === true,
    createEmbedder = defaultDebateEmbedder,
  } = parseConfig("debatesCommand options", debatesCommandOptionsSchema, options);
  const print = (text: string) => stdout(text.endsWith("\n") ? text : `${text}\n`);

  return new Command("replay-debates")
    .description(
      "Replay recorded multi-agent debates under a token-budget sweep: Gavel's stopping and aggregation rules against the full debate.",
    )
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .requiredOption("--debates <path...>", DEBATES_OPTION_HELP)
    .option(
      "--budgets <list>",
      `tokens per question, comma-separated (default ${DEFAULT_DEBATE_BUDGETS.join(",")})`,
      parseBudgets,
    )
    .option(
      "--rules <list>",
      `rules to compare, comma-separated (default: all of ${DEBATE_REPLAY_RULES.join(", ")})`,
      parseRules,
    )
    .option(
      "--embedder <kind>",
      "embedder of econ-commitment: use-lite (default, offline sentence encoder) or hashing",
      parseEmbedder,
    )
    .option(
      "--train-fraction <share>",
      `share of questions the reliabilities are fitted on (default ${DEFAULT_TRAIN_FRACTION})`,
      parseTrainFraction,
    )
    .option("--seed <n>", "split and tie-break seed (default 0)", parseInteger)
    .option(
      "--mechanism <name>",
      `mechanism of gated's speaker auction: ${MECHANISM_NAMES.join(", ")} (default ${DEFAULT_GATED_SETTINGS.mechanism})`,
      parseMechanism,
    )
    .option(
      "--reserve-price <price>",
      `reserve price of gated's speaker auction, ≥ 0 (default ${DEFAULT_GATED_SETTINGS.reservePrice})`,
      parseReservePrice,
    )
    .option(
      "--top-k <n>",
      `most speakers per round of gated, a positive integer (default ${DEFAULT_GATED_SETTINGS.topK})`,
      parseTopK,
    )
    .option("--json", "print the comparison as JSON")
    .option("--quiet", "no progress output (warnings are still printed)")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, self: Command) => {
      const { json, quiet, mechanism, reservePrice, topK, ...rest } = self.opts<
        DebateReplayRun & {
          json?: boolean;
          quiet?: boolean;
          mechanism?: MechanismName;
          reservePrice?: number;
          topK?: number;
        }
      >();
      const gated = {
        ...(mechanism === undefined ? {} : { mechanism }),
        ...(reservePrice === undefined ? {} : { reservePrice }),
        ...(topK === undefined ? {} : { topK }),
      };
      const run: DebateReplayRun = { ...rest, ...(Object.keys(gated).length > 0 && { gated }) };
      const report = await replayDebatesForCli(run, {
        stderr,
        interactive,
        quiet: quiet === true,
        createEmbedder,
      }).catch((error: unknown) => {
        const { exitCode, code } = exitCodeOf(error);
        return self.error(`error: ${error instanceof Error ? error.message : String(error)}`, {
          exitCode,
          code: code === "runFailed" ? "gavel.debates.failed" : "gavel.debates.invalidInput",
        });
      });
      print(json ? JSON.stringify(debateReplayJson(report), null, 2) : debateReplayText(report));
    });
}

/**
 * Help of `--debates`, shared by `gavel replay-debates` and `gavel eval`.
 *
 * @example
 * ```ts
 * new Command("eval").option("--debates <path...>", `replay recorded debates instead: ${DEBATES_OPTION_HELP}`);
 * ```
 */
export const DEBATES_OPTION_HELP =
  "recorded debates, one question a line (.jsonl or .jsonl.gz): a file, a folder (every .jsonl/.jsonl.gz in it) or a quoted glob; each file is one run, replayed on its own and summed";

/** The CLI side of a replay: where warnings and progress go. */
export interface DebateReplayCliIo {
  stderr: (text: string) => void;
  /** Draw a bar instead of lines (stderr is a TTY). */
  interactive: boolean;
  /** No progress (warnings are still printed). */
  quiet: boolean;
  createEmbedder: (kind: DebateEmbedderKind) => EmbeddingsLike | Promise<EmbeddingsLike>;
}

/**
 * `runDebateReplay` as the CLI runs it: one warning line on stderr per file whose lines carried keys
 * the replay ignores, and progress on stderr when there are several runs.
 *
 * @example
 * ```ts
 * const report = await replayDebatesForCli(
 *   { debates: "runs/", embedder: "hashing" },
 *   { stderr: (text) => process.stderr.write(text), interactive: false, quiet: false, createEmbedder: defaultDebateEmbedder },
 * );
 * ```
 */
export async function replayDebatesForCli(run: DebateReplayRun, io: DebateReplayCliIo): Promise<DebateRunsReport> {
  const progress = createProgressReporter({ write: io.stderr, interactive: io.interactive, silent: io.quiet });
  let total = 0;
  try {
    return await runDebateReplay(run, {
      createEmbedder: io.createEmbedder,
      onLoaded: (runs) => {
        for (const warning of ignoredKeysWarnings(runs)) io.stderr(warning);
        total = runs.length;
        if (total > 1) progress.onProgress({ ...REPLAY_PROGRESS, done: 0, total });
      },
      onProgress: ({ done }) => {
        if (total > 1) progress.onProgress({ ...REPLAY_PROGRESS, done, total });
      },
    });
  } finally {
    progress.stop();
  }
}

/** The progress label of a replay of several runs: `route debate replay: 50% (1/2)`. */
const REPLAY_PROGRESS = { phase: "route", policy: "debate replay" } as const;

/**
 * `warning: FILE: ignored keys a, b, c (kept as metadata)`, one line per file that had any.
 *
 * @example
 * ```ts
 * ignoredKeysWarnings([{ file: "runs/a.jsonl", ignoredKeys: ["source"], debates }]);
 * // ["warning: runs/a.jsonl: ignored keys source (kept as metadata)\n"]
 * ```
 */
export function ignoredKeysWarnings(runs: readonly DebateRun[]): string[] {
  return runs
    .filter((run) => run.ignoredKeys.length > 0)
    .map((run) => `warning: ${run.file}: ignored keys ${run.ignoredKeys.join(", ")} (kept as metadata)\n`);
}

/** USE-Lite for `use-lite` (loaded on first use), the hashing embedder for `hashing`. */
export async function defaultDebateEmbedder(kind: DebateEmbedderKind): Promise<EmbeddingsLike> {
  return (await loadSentenceEncoder(kind)) ?? createHashingEmbeddings();
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

const TOKENS_NOTE = "completion tokens of the recorded texts only (prompts are not recorded)";

/**
 * The report as printed by `--json`. One run: the run's report (reliability as weights per agent,
 * every question's replay) plus `runs` of length 1. Several runs: the summed `questions` and `rows`,
 * the sweep, the targets checked on the summed rows, and `runs` — each run's file, questions, ignored
 * keys, reliability, tuned settings and rows.
 */
export function debateReplayJson(report: DebateRunsReport): unknown {
  const runs = report.runs.map(({ file, ignoredKeys, report: run }) => ({
    file,
    questions: run.questions,
    ignoredKeys,
    reliability: run.reliability.executors,
    tuned: run.tuned,
    rows: run.rows,
  }));
  const [first] = report.runs;
  if (report.runs.length === 1 && first !== undefined) {
    return { ...first.report, reliability: first.report.reliability.executors, tokens: TOKENS_NOTE, runs };
  }
  return {
    questions: report.questions,
    trainFraction: report.trainFraction,
    seed: report.seed,
    budgets: report.budgets,
    rules: report.rules,
    baselines: report.baselines,
    gated: first?.report.gated, // the same options for every run
    tokens: TOKENS_NOTE,
    rows: report.rows,
    targets: report.targets,
    runs,
  };
}

/** No colours, so output is the same on a terminal, in a pipe and in tests. */
const PLAIN_TABLE = { style: { head: [], border: [], compact: true } };

/**
 * The report as readable text: one line per budget × rule (summed over the runs), then, for several
 * runs, one line per run: the best of Gavel's rules at the largest budget beside the full debate.
 */
export function debateReplayText(report: DebateRunsReport): string {
  const [only] = report.runs;
  const header =
    report.runs.length === 1 && only !== undefined
      ? singleRunHeader(only.file, only.report)
      : [
          `Recorded debates: ${report.runs.length} runs, replayed one by one (each its own split and reliabilities) and summed`,
          `${report.questions.total} questions: ${report.questions.train} fit the reliabilities, ${report.questions.test} replayed (seed ${report.seed}); rows weighted by replayed questions`,
        ];
  const lines = [
    ...header,
    "Tokens: completion tokens of the recorded texts (js-tiktoken); prompts are not recorded.",
    "",
    rowsTable(report.rows),
  ];
  if (report.runs.length > 1) lines.push("", ...perRunSummary(report));
  if (report.targets.length > 0) {
    lines.push(
      "",
      `Targets${report.runs.length > 1 ? " (on the summed rows)" : ""}:`,
      ...report.targets.map(
        (target) => `  ${target.met ? "met" : "NOT met"}: ${target.description} (${target.detail})`,
      ),
    );
  }
  return lines.join("\n");
}

function singleRunHeader(file: string, report: DebateReplayReport): string[] {
  const reliability = Object.entries(report.reliability.executors)
    .map(([agent, entry]) => `${agent} ${entry.weight.toFixed(2)} (${entry.correct}/${entry.total})`)
    .join(", ");
  return [
    `Recorded debates: ${file}`,
    `${report.questions.total} questions: ${report.questions.train} fit the reliabilities, ${report.questions.test} replayed (seed ${report.seed})`,
    `Reliability (smoothed accuracy of the final answer): ${reliability || "none (no training questions; every agent 0.50)"}`,
  ];
}

function rowsTable(rows: readonly DebateReplayRow[]): string {
  const table = new Table({
    ...PLAIN_TABLE,
    head: [
      "budget",
      "rule",
      "accuracy",
      "mean tokens",
      "texts",
      "acc / 1k tok",
      "stopped early",
      "by rule",
      "by budget",
      "over budget",
    ],
    colAligns: ["right", "left", "right", "right", "right", "right", "right", "right", "right", "right"],
  });
  for (const row of rows) {
    table.push([
      String(row.budget),
      row.rule,
      percent(row.accuracy),
      row.meanTokens.toFixed(1),
      row.meanTexts.toFixed(1),
      row.costEfficiency === null ? "-" : row.costEfficiency.toFixed(3),
      percent(row.stoppedEarlyShare),
      // Baselines stop after round 0 by design, not by a rule: "—".
      rowKind(row.rule) === "baseline" && row.rule !== "econ-commitment" ? "—" : percent(row.stoppedByRuleShare),
      percent(row.stoppedByBudgetShare),
      percent(row.overBudgetShare),
    ]);
  }
  return table.toString();
}

/** One line per run: its questions, the best Gavel rule at the largest budget, the full debate. */
function perRunSummary(report: DebateRunsReport): string[] {
  const budget = Math.max(...report.budgets);
  const table = new Table({
    ...PLAIN_TABLE,
    head: ["run", "replayed", "best Gavel rule", "accuracy", "mean tokens", "full debate", "mean tokens"],
    colAligns: ["left", "right", "left", "right", "right", "right", "right"],
  });
  for (const { file, report: run } of report.runs) {
    const rows = run.rows.filter((row) => row.budget === budget);
    const best = bestGavelRow(rows);
    const full = rows.find((row) => row.rule === FULL_DEBATE);
    table.push([
      file,
      `${run.questions.test}/${run.questions.total}`,
      best?.rule ?? "-",
      best === undefined ? "-" : percent(best.accuracy),
      best === undefined ? "-" : best.meanTokens.toFixed(1),
      full === undefined ? "-" : percent(full.accuracy),
      full === undefined ? "-" : full.meanTokens.toFixed(1),
    ]);
  }
  return [`Per run, at ${budget} tokens (best of Gavel's rules by accuracy, then fewer tokens):`, table.toString()];
}

/** The most accurate row of Gavel's own rules (`kind: "gavel"`; ties: fewer tokens). */
function bestGavelRow(rows: readonly DebateReplayRow[]): DebateReplayRow | undefined {
  const gavel = rows.filter((row) => row.kind === "gavel");
  return [...gavel].sort((left, right) => right.accuracy - left.accuracy || left.meanTokens - right.meanTokens)[0];
}

// ---------------------------------------------------------------------------------------------
// Argument parsing
// ---------------------------------------------------------------------------------------------

function parseBudgets(text: string): number[] {
  const budgets = text.split(",").map((part) => Number(part.trim()));
  if (budgets.length === 0 || budgets.some((budget) => !Number.isInteger(budget) || budget < 1)) {
    throw new InvalidArgumentError("expected positive integers separated by commas, e.g. 256,512,1024.");
  }
  if (new Set(budgets).size !== budgets.length) throw new InvalidArgumentError("budgets must not repeat.");
  return budgets;
}

function parseRules(text: string): DebateReplayRule[] {
  const rules = text.split(",").map((part) => part.trim());
  const known: readonly string[] = DEBATE_REPLAY_RULES;
  const unknown = rules.filter((rule) => !known.includes(rule));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown rule ${unknown.join(", ")}; expected some of ${DEBATE_REPLAY_RULES.join(", ")}.`,
    );
  }
  if (new Set(rules).size !== rules.length) throw new InvalidArgumentError("rules must not repeat.");
  return rules as DebateReplayRule[];
}

function parseEmbedder(text: string): DebateEmbedderKind {
  if (text !== "use-lite" && text !== "hashing") throw new InvalidArgumentError("expected use-lite or hashing.");
  return text;
}

function parseTrainFraction(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || value >= 1)
    throw new InvalidArgumentError("expected a number in [0, 1).");
  return value;
}

/** Checks a flag's value with a field of `gatedSettingsSchema`; the error names the expectation. */
function gatedField<T>(field: z.ZodType<T>, expected: string): (text: string) => T {
  return (text: string) => {
    const number = Number(text);
    const parsed = field.safeParse(text.trim() !== "" && Number.isFinite(number) ? number : text);
    if (!parsed.success) throw new InvalidArgumentError(`expected ${expected}.`);
    return parsed.data;
  };
}

const parseMechanism = gatedField(gatedSettingsSchema.shape.mechanism, `one of ${MECHANISM_NAMES.join(", ")}`);
const parseReservePrice = gatedField(gatedSettingsSchema.shape.reservePrice, "a number ≥ 0, e.g. 0.1");
const parseTopK = gatedField(gatedSettingsSchema.shape.topK, "a positive integer, e.g. 2");
