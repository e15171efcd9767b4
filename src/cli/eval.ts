/**
 * `gavel eval` and `gavel sweep`: run an evaluation described by an experiment file (or by a recorded
 * outcomes file alone), write the report folder and print the figures.
 *
 *   gavel eval  [--config FILE | --outcomes FILE.jsonl[.gz] [--train TRAIN.jsonl[.gz]]] [--out DIR] [--json]
 *   gavel sweep [--config FILE | --outcomes FILE ...] [--out DIR] [--json]
 *
 * With no arguments `gavel eval` runs `configs/default.yaml` of the package: the shipped RouterBench
 * outcomes, split deterministically, routed by the memory-bid auction and the escalation policy against
 * every baseline, report in `reports/`.
 *
 * A benchmark experiment (`data.source: benchmark` with a live backend) is "record, then route": every
 * pool model answers the benchmark prompts once (cached in `<output>/live-outcomes.jsonl`, resumable),
 * then the same routers and baselines replay those answers (docs/live-evaluation.md).
 *
 * A multi-agent experiment (`mode: debate`) runs the debates and belief coordination on the benchmark
 * questions at every token budget of its sweep (docs/multiagent-evaluation.md).
 *
 * The pipelines are the harness's `runExperiment` (src/eval/experiment/run.ts); this file parses the
 * flags, injects the heavy adapters (the sentence encoder, the SQLite ledger, node-llama-cpp — each
 * imported only when the run uses it) and renders the result.
 *
 * Exit codes: 0 done; 1 the run failed (or, with `--fail-on-target`, a target was missed; a live backend
 * kept failing; the live budget was reached); 2 bad input (invalid config, missing API key, unreadable
 * or invalid data, bad option, an optional package the run needs is not installed); 3 the experiment
 * needs something not implemented in this version (a USD budget sweep of routers).
 * Without vega the report is written without its plots, with one warning.
 * Output goes through injectable writers, so tests run the real command in-process.
 */

import { dirname, join, relative, resolve } from "node:path";
import Table from "cli-table3";
import { Command, InvalidArgumentError } from "commander";
import { z } from "zod";
import { functionSchema, parseConfig } from "../errors.js";
import { dataDirectory } from "../eval/data/datasets.js";
import { type ExperimentConfig, loadExperimentConfig, parseExperimentConfig } from "../eval/experiment/config.js";
import { type ExperimentResult, runExperiment, runLeaveOutExperiment } from "../eval/experiment/run.js";
import type { EmbedderFactory } from "../eval/experiment/runner-options.js";
import type { RecordedBenchmarkExperiment } from "../eval/live/run.js";
import { multiAgentTable } from "../eval/multiagent/report.js";
import { paretoFrontier } from "../eval/report/metrics.js";
import type { EvalReport } from "../eval/report/results.js";
import {
  leaveOutTable,
  operatingPointsTable,
  type ReportTable,
  routerMetricsTable,
  targetsTable,
} from "../eval/report/tables.js";
import { OVERWRITE_FLAG } from "../eval/report/write.js";
import type { EmbeddingsLike } from "../eval/routing/embedding.js";
import type { RecordedEvaluationOptions } from "../eval/routing/options.js";
import type { MissingPeerDependencyError } from "../peers.js";
import { loadLlamaCppModel, loadSentenceEncoder, parseInteger, parsePositiveInteger } from "./common.js";
import {
  DEBATES_OPTION_HELP,
  debateReplayJson,
  debateReplayText,
  defaultDebateEmbedder,
  replayDebatesForCli,
} from "./debates.js";
import {
  EXIT_BAD_INPUT,
  EXIT_NOT_IMPLEMENTED,
  EXIT_RUN_FAILED,
  exitCodeOf,
  usageErrorsExitWithCode2,
} from "./exit-codes.js";
import { createProgressReporter } from "./progress.js";
import { checkLedgerTarget, openRunLedger, REPLACE_LEDGER_FLAG } from "./run-ledger.js";

export { EXIT_BAD_INPUT, EXIT_NOT_IMPLEMENTED, EXIT_RUN_FAILED, usageErrorsExitWithCode2 };

/** The experiment `gavel eval` runs when given neither `--config` nor `--outcomes`. */
export function defaultConfigPath(): string {
  return join(dirname(dataDirectory()), "configs", "default.yaml");
}

const evalCommandOptionsSchema = z
  .object({
    /** Where results go. Default: `process.stdout`. */
    stdout: functionSchema<(text: string) => void>().optional(),
    /** Where progress, errors and the wall time go. Default: `process.stderr`. */
    stderr: functionSchema<(text: string) => void>().optional(),
    /** Draw progress bars (stderr is a terminal). Default: `process.stderr.isTTY`. */
    interactive: z.boolean().optional(),
    /** Environment the API keys are read from. Default: `process.env`. */
    env: z.record(z.string(), z.string().optional()).optional(),
    /** The runner. Default: `runRecordedEvaluation`. */
    runEvaluation: functionSchema<(options: RecordedEvaluationOptions) => Promise<EvalReport>>().optional(),
    /**
     * Builds the embedder named in the config (may be async). Default: USE-Lite for `use-lite` (loaded
     * on first use), the built-in hashing embedder for `hashing`.
     */
    createEmbedder: functionSchema<EmbedderFactory>().optional(),
    /** Renders `pareto.svg`. Default: `renderParetoSvg` (vega, loaded on first use). */
    renderPlot: functionSchema<(report: EvalReport) => Promise<string>>().optional(),
    /** The experiment run with no `--config` and no `--outcomes`. Default: the package's `configs/default.yaml`. */
    defaultConfig: z.string().min(1).optional(),
    /** Milliseconds clock for the wall time. Default: `performance.now`. */
    clock: functionSchema<() => number>().optional(),
  })
  .strict();

/** Options of {@link evalCommand} and {@link sweepCommand}: I/O seams for tests and embedding. */
export type EvalCommandOptions = z.input<typeof evalCommandOptionsSchema>;

interface RunFlags {
  config?: string;
  outcomes?: string;
  train?: string;
  out?: string;
  json?: boolean;
  embedder?: ExperimentConfig["embedder"];
  maxPrompts?: number;
  seed?: number;
  failOnTarget?: boolean;
  quiet?: boolean;
  /** Recorded multi-agent debates to replay instead of routing: files, folders, globs (see `gavel replay-debates`). */
  debates?: string[];
  /** Path of the SQLite ledger, or `false` (`--no-ledger`). Default: `<output>/ledger.db`. */
  ledger?: string | false;
  /** Replace an existing Gavel ledger instead of appending the run to it. */
  replaceLedger?: boolean;
  /** The operating points recorded in the ledger. Default: {@link DEFAULT_LEDGER_POINTS}. */
  ledgerPoints?: LedgerPoints;
  /** Replace report files Gavel did not write. */
  overwrite?: boolean;
  /** Leave one dataset out: a dataset name, or `all`. */
  leaveOut?: string;
}

/**
 * The `eval` command of the `gavel` CLI.
 *
 * @param options - Optional writers, environment, runner and embedder (seams for tests).
 * @returns A commander `Command` to add to a program.
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * import { Command } from "commander";
 * const program = new Command("gavel").addCommand(evalCommand());
 * await program.parseAsync(["eval", "--outcomes", "my-run.jsonl.gz", "--json"], { from: "user" });
 * ```
 */
export function evalCommand(options: EvalCommandOptions = {}): Command {
  return runCommand("eval", options);
}

/**
 * The `sweep` command of the `gavel` CLI: the same run as `eval`, printed as the sweep (every router's
 * operating point along its λ or threshold grid, Pareto-optimal points marked).
 *
 * @example
 * ```ts
 * const program = new Command("gavel").addCommand(sweepCommand());
 * await program.parseAsync(["sweep", "--config", "configs/default.yaml"], { from: "user" });
 * ```
 */
export function sweepCommand(options: EvalCommandOptions = {}): Command {
  return runCommand("sweep", options);
}

function runCommand(name: "eval" | "sweep", options: EvalCommandOptions): Command {
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = (text: string) => process.stderr.write(text),
    interactive = process.stderr.isTTY === true,
    env = process.env,
    runEvaluation,
    createEmbedder = defaultEmbedder,
    renderPlot,
    defaultConfig = defaultConfigPath(),
    clock = () => performance.now(),
  } = parseConfig(`${name}Command options`, evalCommandOptionsSchema, options);
  const print = (text: string) => stdout(text.endsWith("\n") ? text : `${text}\n`);

  const command = new Command(name)
    .description(
      name === "eval"
        ? "Evaluate routers against every baseline on recorded outcomes and write a report (default: configs/default.yaml)."
        : "Run the sweep of an experiment (λ for routers, token budgets for mode: debate) and print every operating point.",
    )
    .configureOutput({ writeOut: stdout, writeErr: stderr })
    .option("--config <file>", "experiment YAML file (default: the package's configs/default.yaml)")
    .option("--outcomes <file>", "recorded outcomes in the canonical format (.jsonl or .jsonl.gz), instead of --config")
    .option(
      "--train <file>",
      "with --outcomes: train on this file and evaluate on all of --outcomes; none: no training (every prompt evaluated, the routers start from an empty memory)",
    )
    .option(
      "--leave-out <dataset>",
      "leave one dataset out: train on the other datasets of the recorded file, stream this one (or each, with all) online over GPT-4 and Mixtral, print the share of GPT-4 calls for 95% of its accuracy",
    )
    .option("--out <dir>", "report folder (overrides the config's output)")
    .option(
      "--embedder <kind>",
      "use-lite (default, offline sentence encoder) or hashing (fast, weaker)",
      parseEmbedder,
    )
    .option("--max-prompts <n>", "evaluate a seeded sample of this many prompts", parsePositiveInteger)
    .option("--seed <n>", "split, sampling and tie-break seed (overrides the config)", parseInteger)
    .option("--fail-on-target", "exit with code 1 when a target of the report is missed")
    .option("--json", "print the figures as JSON on stdout")
    .option("--quiet", "no progress output")
    .option(
      "--debates <path...>",
      `replay recorded multi-agent debates instead (as gavel replay-debates): ${DEBATES_OPTION_HELP}`,
    )
    .option(
      "--ledger <file>",
      "SQLite ledger of the routing auctions and charges (default: <out>/ledger.db); an existing Gavel ledger gets this run appended, any other file is refused",
    )
    .option("--no-ledger", "do not write the ledger")
    .option(
      REPLACE_LEDGER_FLAG,
      "replace an existing Gavel ledger instead of appending (never a file Gavel did not write)",
    )
    .option(
      "--ledger-points <which>",
      "operating points recorded in the ledger: frontier:N (default frontier:4: N of each router's Pareto-optimal points, cheapest to most accurate), frontier (all of them), all, or a list such as memory-batch:0.1,auto-online:0.2",
      parseLedgerPoints,
    )
    .option(OVERWRITE_FLAG, "replace files in the report folder that Gavel did not write")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, self: Command) => {
      const flags = self.opts<RunFlags>();
      const fail = (message: string, exitCode: number, code: string): never =>
        self.error(`error: ${message}`, { exitCode, code: `gavel.${name}.${code}` });
      const stop = (error: unknown): never => {
        const { exitCode, code } = exitCodeOf(error);
        return fail(error instanceof Error ? error.message : String(error), exitCode, code);
      };

      if (flags.debates !== undefined) {
        // A replay reads no config and no outcomes: a flag it cannot honour is refused, not ignored.
        const unused = (
          [
            ["--config", flags.config],
            ["--outcomes", flags.outcomes],
            ["--train", flags.train],
            ["--max-prompts", flags.maxPrompts],
          ] as const
        ).filter(([, value]) => value !== undefined);
        if (unused.length > 0) {
          fail(
            `${unused.map(([flag]) => flag).join(", ")} cannot be used with --debates (use gavel replay-debates for the replay's own options)`,
            EXIT_BAD_INPUT,
            "conflictingOptions",
          );
        }
        const replay = await replayDebatesForCli(
          {
            debates: flags.debates,
            ...(flags.embedder === undefined ? {} : { embedder: flags.embedder }),
            ...(flags.seed === undefined ? {} : { seed: flags.seed }),
          },
          { stderr, interactive, quiet: flags.quiet === true, createEmbedder: defaultDebateEmbedder },
        ).catch(stop);
        print(flags.json ? JSON.stringify(debateReplayJson(replay), null, 2) : debateReplayText(replay));
        return;
      }
      if (flags.config !== undefined && flags.outcomes !== undefined) {
        fail("give either --config or --outcomes, not both", EXIT_BAD_INPUT, "conflictingOptions");
      }
      if (flags.train !== undefined && flags.outcomes === undefined) {
        fail("--train needs --outcomes (in a config file, use data.train)", EXIT_BAD_INPUT, "trainWithoutOutcomes");
      }
      if (flags.leaveOut !== undefined && flags.train !== undefined) {
        fail(
          "--leave-out trains on the other datasets of the file: it cannot be used with --train",
          EXIT_BAD_INPUT,
          "conflictingOptions",
        );
      }
      const quiet = flags.quiet === true;
      const config = await experimentOf(flags, defaultConfig).catch(stop);
      if (flags.leaveOut !== undefined) {
        const leaveOutConfig =
          flags.out === undefined ? { ...config, output: join(config.output, "leave-out") } : config;
        const completed = await runLeaveOutExperiment(
          leaveOutConfig,
          {
            env,
            createEmbedder,
            clock,
            startProgress: () => createProgressReporter({ write: stderr, interactive, silent: quiet }),
            onPlotSkipped: (error) => stderr(plotSkippedWarning(error)),
            overwrite: flags.overwrite === true,
            ...(renderPlot === undefined ? {} : { renderPlot }),
            ...(flags.config === undefined ? {} : { configFile: flags.config }),
          },
          flags.leaveOut === "all" ? undefined : [flags.leaveOut],
        ).catch(stop);
        if (flags.json) print(JSON.stringify(jsonOutput("eval", completed), null, 2));
        else print(leaveOutSummary(completed));
        stderr(`Report written to ${displayPath(completed.files.html)} in ${completed.wallSeconds.toFixed(1)} s.\n`);
        return;
      }
      const ledgerPath = flags.ledger === false ? undefined : (flags.ledger ?? join(config.output, "ledger.db"));
      const replaceLedger = flags.replaceLedger === true;
      // Before any work: a file the run may not write is refused now, not after the run.
      const routes = config.mode !== "debate";
      const ledgerState =
        ledgerPath !== undefined && routes
          ? await checkLedgerTarget(ledgerPath, { replace: replaceLedger }).catch(stop)
          : undefined;
      const completed = await runExperiment(config, {
        env,
        createEmbedder,
        clock,
        loadLlamaCppModel,
        startProgress: () => createProgressReporter({ write: stderr, interactive, silent: quiet }),
        onLiveRecorded: (live) => {
          if (!quiet) stderr(liveSummary(live));
        },
        onPlotSkipped: (error) => stderr(plotSkippedWarning(error)),
        ...(ledgerPath === undefined
          ? {}
          : { openLedger: () => openRunLedger(ledgerPath, { replace: replaceLedger }) }),
        ledgerPoints: flags.ledgerPoints ?? DEFAULT_LEDGER_POINTS,
        overwrite: flags.overwrite === true,
        ...(runEvaluation === undefined ? {} : { runEvaluation }),
        ...(renderPlot === undefined ? {} : { renderPlot }),
        ...(flags.config === undefined ? {} : { configFile: flags.config }),
      }).catch(stop);
      if (!quiet && completed.multiAgent !== undefined) stderr(multiAgentSummary(completed.multiAgent));
      const debate = completed.config.mode === "debate";
      if (flags.json) print(JSON.stringify(jsonOutput(debate ? "eval" : name, completed), null, 2));
      else if (debate) print(`${completed.report.title}\n${terminalTable(multiAgentTable(completed.report))}`);
      else print(name === "eval" ? evalSummary(completed) : sweepSummary(completed));
      const others =
        completed.files.svg === undefined ? "report.json, report.md" : "report.json, report.md, pareto.svg";
      stderr(
        `Report written to ${displayPath(completed.files.html)} (and ${others}) in ${completed.wallSeconds.toFixed(1)} s.\n`,
      );
      if (ledgerPath !== undefined && ledgerState !== undefined && !quiet) {
        const where = displayPath(ledgerPath);
        const how =
          ledgerState.kind === "missing"
            ? `recorded in a new ledger, ${where}`
            : replaceLedger
              ? `recorded in ${where}, which was started afresh`
              : `appended to ${where}, beside its earlier runs (${REPLACE_LEDGER_FLAG} starts it afresh)`;
        stderr(`Ledger: this run was ${how}; read it with gavel ledger spend --db ${where} --by scope\n`);
      }
      const missed = (completed.report.targets ?? []).filter((target) => !target.met);
      if (flags.failOnTarget && missed.length > 0) {
        fail(
          `${missed.length} target(s) missed: ${missed.map((target) => target.description).join("; ")}`,
          EXIT_RUN_FAILED,
          "targetMissed",
        );
      }
    });

  return command;
}

// ---------------------------------------------------------------------------------------------
// From flags to an experiment, from an experiment to runner options
// ---------------------------------------------------------------------------------------------

/** The experiment of a command line: `--outcomes` builds one, otherwise the config file is read; flags override it. */
async function experimentOf(flags: RunFlags, defaultConfig: string): Promise<ExperimentConfig> {
  let config: ExperimentConfig;
  if (flags.outcomes !== undefined) {
    const name = flags.outcomes.split(/[\\/]/).pop() ?? "outcomes";
    config = parseExperimentConfig(
      {
        name,
        title: `Routing on ${name}`,
        data: {
          source: "recorded",
          outcomes: resolve(flags.outcomes),
          ...(flags.train === undefined ? {} : { train: flags.train === "none" ? "none" : resolve(flags.train) }),
        },
      },
      "command-line options",
    );
  } else {
    config = await loadExperimentConfig(flags.config ?? defaultConfig);
  }
  const data = flags.maxPrompts === undefined ? config.data : { ...config.data, maxPrompts: flags.maxPrompts };
  return {
    ...config,
    data,
    ...(flags.out === undefined ? {} : { output: flags.out }),
    ...(flags.embedder === undefined ? {} : { embedder: flags.embedder }),
    ...(flags.seed === undefined ? {} : { seed: flags.seed }),
  };
}

/** USE-Lite for `use-lite` (the encoder loads on first use), the built-in hashing embedder for `hashing`. */
async function defaultEmbedder(kind: ExperimentConfig["embedder"]): Promise<EmbeddingsLike | "hashing"> {
  return (await loadSentenceEncoder(kind)) ?? "hashing";
}

// ---------------------------------------------------------------------------------------------
// Argument parsing
// ---------------------------------------------------------------------------------------------

/** What `--ledger-points` takes. */
type LedgerPoints = NonNullable<RecordedEvaluationOptions["ledgerPoints"]>;

/**
 * The points `gavel eval` records when `--ledger-points` is not given: four of each router's
 * Pareto-optimal points, from its cheapest to its most accurate (8 of the main job's 29 points).
 */
export const DEFAULT_LEDGER_POINTS: LedgerPoints = { frontier: 4 };

function parseLedgerPoints(text: string): LedgerPoints {
  if (text === "all" || text === "frontier") return text;
  const capped = /^frontier:(\d+)$/.exec(text);
  if (capped !== null) {
    const most = Number(capped[1]);
    if (most < 1) throw new InvalidArgumentError("expected frontier:N with N ≥ 1.");
    return { frontier: most };
  }
  const keys = text
    .split(",")
    .map((key) => key.trim())
    .filter((key) => key !== "");
  if (keys.length === 0 || !keys.every((key) => /^[a-z][a-z0-9-]*:(?:[λτ]=)?\d+(?:\.\d+)?$/.test(key))) {
    throw new InvalidArgumentError(
      'expected frontier:N, frontier, all or "policy:parameter,..." (e.g. "memory-batch:0.1").',
    );
  }
  return keys;
}

function parseEmbedder(text: string): ExperimentConfig["embedder"] {
  if (text !== "use-lite" && text !== "hashing") throw new InvalidArgumentError("expected use-lite or hashing.");
  return text;
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/** No colours, so output is the same on a terminal, in a pipe and in tests. */
const PLAIN_TABLE = { style: { head: [], border: [], compact: true } };

/** A {@link ReportTable} as a terminal table. */
export function terminalTable(table: ReportTable, keepColumns?: number[]): string {
  const columns = keepColumns ?? table.head.map((_, index) => index);
  const output = new Table({
    ...PLAIN_TABLE,
    head: columns.map((index) => table.head[index] ?? ""),
    colAligns: columns.map((index) => (table.alignRight.includes(index) ? "right" : "left")),
  });
  for (const row of table.rows) output.push(columns.map((index) => row[index] ?? ""));
  return output.toString();
}

/** What the live recording did: calls, failures, cache reuse and spend (printed before routing starts). */
function liveSummary(live: RecordedBenchmarkExperiment): string {
  const { asked, failed, reused, spentUsd, cacheUsd } = live.recording;
  let text =
    `Live calls: ${asked} asked (${failed} failed, see ${displayPath(live.errorsPath)}), ${reused} from the cache; ` +
    `$${Number(spentUsd.toPrecision(4))} spent now, $${Number(cacheUsd.toPrecision(4))} in ${displayPath(live.outcomesPath)}.\n`;
  if (live.unpricedModels.length > 0) {
    text += `No price for ${live.unpricedModels.join(", ")}: their calls count 0 USD (set prices.<model> to change that).\n`;
  }
  return text;
}

/** What the multi-agent sweep did: examples run and reused, and where the accuracy–tokens curve is. */
function multiAgentSummary({ sweep, tokensPlot }: NonNullable<ExperimentResult["multiAgent"]>): string {
  const curve =
    tokensPlot === undefined
      ? "no accuracy–tokens curve (vega is not installed)"
      : `accuracy–tokens curve in ${displayPath(tokensPlot)}`;
  let text = `Examples: ${sweep.asked} run now, ${sweep.reused} from ${displayPath(sweep.runsPath)}; ${curve}.\n`;
  if (sweep.unpricedModels.length > 0)
    text += `No price for ${sweep.unpricedModels.join(", ")}: their calls count 0 USD.\n`;
  return text;
}

/** The one warning of a run without vega: the report is written, the plot is not. */
function plotSkippedWarning(error: MissingPeerDependencyError): string {
  return `warning: plots skipped (the report is written without them): ${error.message}\n`;
}

function displayPath(path: string): string {
  const relativePath = relative(process.cwd(), path);
  return relativePath.startsWith("..") ? path : relativePath;
}

/** A leave-one-dataset-out run: the table, then the notes (how each fold was trained, the rules fitted). */
function leaveOutSummary({ report }: ExperimentResult): string {
  return [report.title, terminalTable(leaveOutTable(report)), "", ...(report.notes ?? [])].join("\n");
}

function evalSummary({ report }: ExperimentResult): string {
  const sections = [
    `${report.title}`,
    `${report.dataset.trainPrompts} training / ${report.dataset.testPrompts} held-out prompts, ${report.dataset.models.length} models (${report.dataset.split})`,
    "",
  ];
  const targets = targetsTable(report);
  if (targets.rows.length > 0) sections.push("Targets", terminalTable(targets), "");
  const metrics = routerMetricsTable(report);
  if (metrics.rows.length > 0) sections.push("Router measures", terminalTable(metrics), "");
  // Baselines with many points (random at matched cost, the static choice over λ) show their Pareto points only.
  const condensed = condensedReport(report);
  // policy, point, accuracy, % strong acc., USD / prompt, % strong cost, calls, largest-model share
  sections.push(
    "Operating points (held-out; baselines with several points: their Pareto points, all in report.md)",
    terminalTable(operatingPointsTable(condensed), [0, 2, 3, 4, 6, 7, 8, 9]),
  );
  return sections.join("\n");
}

/** At most this many points of a multi-point baseline in the terminal summary. */
const BASELINE_POINTS_SHOWN = 6;

function condensedReport(report: EvalReport): EvalReport {
  const policies = report.policies.map((policy) => {
    if (policy.kind === "router" || policy.points.length <= 1) return policy;
    const frontier = paretoFrontier(
      policy.points.map((point) => ({ point, costUsd: point.meanCostUsd, accuracy: point.accuracy })),
    );
    const step = Math.max(1, Math.ceil(frontier.length / BASELINE_POINTS_SHOWN));
    const shown = frontier.filter((_, position) => position % step === 0 || position === frontier.length - 1);
    return { ...policy, points: shown.map((entry) => entry.point) };
  });
  return { ...report, policies };
}

interface SweepRow {
  policy: string;
  label: string;
  parameter?: number;
  accuracy: number;
  meanCostUsd: number;
  strongCostShare?: number;
  largestModelShare: number;
  paretoOptimal: boolean;
}

function sweepRows(report: EvalReport): SweepRow[] {
  const strong = report.policies.find((policy) => policy.name === `single:${report.strongModel}`)?.points[0];
  return report.policies
    .filter((policy) => policy.kind === "router")
    .flatMap((policy) => {
      const frontier = new Set(
        paretoFrontier(policy.points.map((point) => ({ ...point, costUsd: point.meanCostUsd }))).map(
          (point) => point.label,
        ),
      );
      return policy.points.map((point) => ({
        policy: policy.name,
        label: point.label,
        ...(point.parameter === undefined ? {} : { parameter: point.parameter }),
        accuracy: point.accuracy,
        meanCostUsd: point.meanCostUsd,
        ...(strong === undefined || strong.meanCostUsd <= 0
          ? {}
          : { strongCostShare: point.meanCostUsd / strong.meanCostUsd }),
        largestModelShare: point.largestModelShare,
        paretoOptimal: frontier.has(point.label),
      }));
    });
}

function sweepSummary({ report }: ExperimentResult): string {
  const output = new Table({
    ...PLAIN_TABLE,
    head: ["router", "point", "accuracy", "USD / prompt", "% strong cost", "largest-model share", "Pareto"],
    colAligns: ["left", "left", "right", "right", "right", "right", "left"],
  });
  for (const row of sweepRows(report)) {
    output.push([
      row.policy,
      row.label,
      row.accuracy.toFixed(3),
      `$${Number(row.meanCostUsd.toPrecision(3))}`,
      row.strongCostShare === undefined ? "—" : `${(row.strongCostShare * 100).toFixed(1)}%`,
      `${(row.largestModelShare * 100).toFixed(1)}%`,
      row.paretoOptimal ? "*" : "",
    ]);
  }
  return [`${report.title}: sweep`, output.toString(), "* = on the router's Pareto frontier"].join("\n");
}

function jsonOutput(name: "eval" | "sweep", completed: ExperimentResult): Record<string, unknown> {
  const { report, files, wallSeconds } = completed;
  const base = { files, wallSeconds: Number(wallSeconds.toFixed(3)) };
  if (name === "sweep")
    return { title: report.title, sweep: sweepRows(report), targets: report.targets ?? [], ...base };
  return {
    title: report.title,
    dataset: report.dataset,
    strongModel: report.strongModel,
    weakModel: report.weakModel,
    policies: report.policies,
    targets: report.targets ?? [],
    ...(report.leaveOut === undefined ? {} : { leaveOut: report.leaveOut }),
    ...base,
  };
}
