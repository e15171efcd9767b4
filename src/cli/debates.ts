/**
 * `gavel replay-debates`: replay recorded multi-agent debates under a token-budget sweep and compare
 * Gavel's stopping and aggregation rules with the recorded full debate. No model is called.
 *
 *   gavel replay-debates --debates FILE.jsonl [--budgets 256,512,1024,1536,2048] [--rules r1,r2]
 *                        [--embedder use-lite|hashing] [--train-fraction 0.5] [--seed 0] [--json]
 *
 * Exit codes (the same as `gavel eval`): 0 done; 1 the replay failed; 2 bad input (missing or
 * invalid file, bad option). Output goes through injectable writers, so tests run the real command
 * in-process. The pipeline is the harness's `runDebateReplay`; {@link debateReplayText} and
 * {@link debateReplayJson} are the renderings another command (e.g. `gavel eval --debates`) reuses.
 */

import Table from "cli-table3";
import { Command, InvalidArgumentError } from "commander";
import { z } from "zod";
import { functionSchema, parseConfig } from "../errors.js";
import {
  DEFAULT_DEBATE_BUDGETS,
  DEFAULT_TRAIN_FRACTION,
  type DebateReplayReport,
} from "../eval/multiagent/replay/replay.js";
import { DEBATE_REPLAY_RULES, type DebateReplayRule } from "../eval/multiagent/replay/rules.js";
import { type DebateEmbedderKind, type DebateReplayRun, runDebateReplay } from "../eval/multiagent/replay/run.js";
import { createHashingEmbeddings, type EmbeddingsLike } from "../eval/routing/embedding.js";
import { loadSentenceEncoder, parseInteger, percent } from "./common.js";
import { exitCodeOf, usageErrorsExitWithCode2 } from "./exit-codes.js";

const debatesCommandOptionsSchema = z
  .object({
    /** Where results go. Default: `process.stdout`. */
    stdout: functionSchema<(text: string) => void>().optional(),
    /** Where errors go. Default: `process.stderr`. */
    stderr: functionSchema<(text: string) => void>().optional(),
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
 * ```
 */
export function debatesCommand(options: DebatesCommandOptions = {}): Command {
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = (text: string) => process.stderr.write(text),
    createEmbedder = defaultDebateEmbedder,
  } = parseConfig("debatesCommand options", debatesCommandOptionsSchema, options);
  const print = (text: string) => stdout(text.endsWith("\n") ? text : `${text}\n`);

  return new Command("replay-debates")
    .description(
      "Replay recorded multi-agent debates under a token-budget sweep: Gavel's stopping and aggregation rules against the full debate.",
    )
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .requiredOption("--debates <file>", "recorded debates, one question a line (.jsonl or .jsonl.gz)")
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
    .option("--json", "print the comparison as JSON")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, self: Command) => {
      const { json, ...run } = self.opts<DebateReplayRun & { json?: boolean }>();
      const report = await runDebateReplay(run, { createEmbedder }).catch((error: unknown) => {
        const { exitCode, code } = exitCodeOf(error);
        return self.error(`error: ${error instanceof Error ? error.message : String(error)}`, {
          exitCode,
          code: code === "runFailed" ? "gavel.debates.failed" : "gavel.debates.invalidInput",
        });
      });
      print(json ? JSON.stringify(debateReplayJson(report), null, 2) : debateReplayText(report, run.debates));
    });
}

/** USE-Lite for `use-lite` (loaded on first use), the hashing embedder for `hashing`. */
export async function defaultDebateEmbedder(kind: DebateEmbedderKind): Promise<EmbeddingsLike> {
  return (await loadSentenceEncoder(kind)) ?? createHashingEmbeddings();
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/** The report as printed by `--json`: everything but the per-question replays' bulk is kept. */
export function debateReplayJson(report: DebateReplayReport): unknown {
  return {
    questions: report.questions,
    trainFraction: report.trainFraction,
    seed: report.seed,
    budgets: report.budgets,
    rules: report.rules,
    trainIds: report.trainIds,
    reliability: report.reliability.executors,
    tokens: "completion tokens of the recorded texts only (prompts are not recorded)",
    rows: report.rows,
    replays: report.replays,
  };
}

/** No colours, so output is the same on a terminal, in a pipe and in tests. */
const PLAIN_TABLE = { style: { head: [], border: [], compact: true } };

/** The report as a readable table, one line per budget × rule. */
export function debateReplayText(report: DebateReplayReport, file: string): string {
  const reliability = Object.entries(report.reliability.executors)
    .map(([agent, entry]) => `${agent} ${entry.weight.toFixed(2)} (${entry.correct}/${entry.total})`)
    .join(", ");
  const table = new Table({
    ...PLAIN_TABLE,
    head: [
      "budget",
      "rule",
      "accuracy",
      "mean tokens",
      "acc / 1k tok",
      "stopped early",
      "by rule",
      "by budget",
      "over budget",
    ],
    colAligns: ["right", "left", "right", "right", "right", "right", "right", "right", "right"],
  });
  for (const row of report.rows) {
    table.push([
      String(row.budget),
      row.rule,
      percent(row.accuracy),
      row.meanTokens.toFixed(1),
      row.costEfficiency === null ? "-" : row.costEfficiency.toFixed(3),
      percent(row.stoppedEarlyShare),
      percent(row.stoppedByRuleShare),
      percent(row.stoppedByBudgetShare),
      percent(row.overBudgetShare),
    ]);
  }
  return [
    `Recorded debates: ${file}`,
    `${report.questions.total} questions: ${report.questions.train} fit the reliabilities, ${report.questions.test} replayed (seed ${report.seed})`,
    `Reliability (smoothed accuracy of the final answer): ${reliability || "none (no training questions; every agent 0.50)"}`,
    "Tokens: completion tokens of the recorded texts (js-tiktoken); prompts are not recorded.",
    "",
    table.toString(),
  ].join("\n");
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
