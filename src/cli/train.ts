/**
 * `gavel train`: fit learned weights, save them as JSON, print how they do.
 *
 *   gavel train router    --tasks FILE.jsonl [--holdout-fraction 0.3] [--seed N] [--time-limit S]
 *                         [--out router-weights.json] [--json]
 *   gavel train router    --outcomes FILE.jsonl[.gz] | --feedback FILE.jsonl --ledger DB
 *                         --memory FOLDER|postgres://… [--embedder hashing|use-lite] [--limit N]
 *                         [--max-entries N] [--json]
 *   gavel train executors --records FILE.jsonl [--prior 1] [--out executor-weights.json] [--json]
 *   gavel train debate    --config FILE.yaml [--budget N] [--questions 20] [--epochs 3] [--lambda 0.5]
 *                         [--learning-rate 0.1] [--noise 0.2] [--out debate-aggressiveness.json] [--json]
 *
 * `router --tasks` fits the strategy-auction router's weights (SALE's min-max MILP, solved by HiGHS) on a
 * seeded training part of the tasks and compares the fitted weights with the defaults on the
 * held-out part; `router --outcomes` / `--feedback` loads outcomes into the strategy memory the
 * router's memory bids read (src/cli/train-memory.ts, src/cli/feedback.ts). `executors` fits the belief coordination's per-executor weights (ECON). Both run
 * offline on recorded outcomes. `debate` fits the gated debate's aggressiveness α per agent by
 * REINFORCE on `accuracy − λ · tokens / budget` (DALA): the agents of a `mode: debate` experiment
 * debate, live, a seeded training sample of its benchmark that excludes every problem of the
 * evaluation sample, with a fresh α around the current one at every step. All three write JSON that
 * the library reloads (`weightsFromJson`, `executorWeightsFromJson`, `parseAggressiveness`). See
 * docs/train.md.
 *
 * Exit codes (the same as `gavel eval`): 0 done; 1 the run failed (for `router`: the solver failed
 * and the default weights were saved in place of fitted ones; for `debate`: no call of the first
 * epoch succeeded, or a backend failed); 2 bad input (missing file, a bad line — named by file, line
 * and field —, a config that is not a live `mode: debate` experiment — named by key —, a missing API
 * key, a budget that pays for no debate round, an `--out` holding a file that is not weights of the same
 * kind Gavel wrote — `--overwrite` replaces it —, or a bad option). Output goes through injectable
 * writers, so tests run the real command in-process.
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Command, InvalidArgumentError } from "commander";
import { type ZodError, z } from "zod";
import { executorWeightsToJson, fitExecutorWeights } from "../coordination/weights.js";
import { serializeAggressiveness, type TrainingEpoch } from "../debate/training.js";
import { ConfigError, functionSchema, parseConfig } from "../errors.js";
import { loadRecordedOutcomes } from "../eval/data/outcomes.js";
import { loadExperimentConfig } from "../eval/experiment/config.js";
import {
  DEFAULT_TRAINING_QUESTIONS,
  type DebateTraining,
  type DebateTrainingPlan,
  trainDebateAggressiveness,
} from "../eval/multiagent/index.js";
import { assertReplaceable, isTaggedJson } from "../eval/outputs.js";
import { OVERWRITE_FLAG } from "../eval/report/write.js";
import { JsonLineError, parseJsonLines } from "../jsonl.js";
import { LedgerError } from "../ledger/errors.js";
import type { LedgerReader } from "../ledger/types.js";
import { createSeededRandom } from "../market/random.js";
import { StrategyMemoryError } from "../memory/errors.js";
import { DEFAULT_MAX_ENTRIES } from "../memory/index.js";
import { embedderIdOf, learnOutcomes, MemoryEmbedderMismatchError } from "../router/memory-bids/index.js";
import {
  defaultRouterWeights,
  evaluateWeights,
  type FittedWeights,
  fitRouterWeights,
  parseTrainingTask,
  type SolverLoader,
  type TrainingTask,
  type WeightEvaluation,
  weightsToJson,
} from "../router/weights.js";
import {
  loadLlamaCppModel,
  parseInteger,
  parseNonNegative,
  parsePositiveInteger,
  parsePositiveNumber,
  percent,
  plainTable,
} from "./common.js";
import { EXIT_BAD_INPUT, EXIT_RUN_FAILED, exitCodeOf, usageErrorsExitWithCode2 } from "./exit-codes.js";
import { applyFeedback, readFeedbackFile } from "./feedback.js";
import { createProgressReporter } from "./progress.js";
import {
  assertMemoryEmbedder,
  isPostgresUrl,
  MEMORY_EMBEDDERS,
  type MemoryEmbedderKind,
  type MemoryTrainingSummary,
  memoryEmbedder,
  memoryTrainingReport,
  openLedgerReader,
  openStrategyMemory,
  refusedByReason,
} from "./train-memory.js";

const trainCommandOptionsSchema = z
  .object({
    /** Where results go. Default: `process.stdout`. */
    stdout: functionSchema<(text: string) => void>().optional(),
    /** Where progress, warnings and errors go. Default: `process.stderr`. */
    stderr: functionSchema<(text: string) => void>().optional(),
    /** How HiGHS is loaded for `train router`. Default: the `highs` package. A seam for tests of the fallback. */
    loadSolver: functionSchema<SolverLoader>().optional(),
    /** Environment the API keys of `train debate` are read from. Default: `process.env`. */
    env: z.record(z.string(), z.string().optional()).optional(),
  })
  .strict();

/** Options of {@link trainCommand}: I/O and environment seams for tests and embedding. */
export type TrainCommandOptions = z.input<typeof trainCommandOptionsSchema>;

/** One line of the `train executors` records file: did this executor answer one training question right? */
const executorRecordSchema = z
  .object({
    executor: z.string().min(1),
    correct: z.boolean(),
  })
  .strict();

interface RouterFlags {
  tasks?: string;
  holdoutFraction: number;
  seed: number;
  timeLimit: number;
  out: string;
  json?: boolean;
  /** Replace `--out` even when it is not a file of this kind Gavel wrote. */
  overwrite?: boolean;
}

/** Flags of `train router --outcomes / --feedback` (the strategy memory). */
interface RouterMemoryFlags {
  outcomes?: string;
  feedback?: string;
  ledger?: string;
  memory?: string;
  embedder: MemoryEmbedderKind;
  limit?: number;
  /** `--member NAME=MODEL` (repeatable): the pool member a recorded model's outcomes belong to. */
  member?: Record<string, string>;
  maxEntries: number;
  json?: boolean;
}

interface ExecutorFlags {
  records: string;
  prior: number;
  out: string;
  json?: boolean;
  /** Replace `--out` even when it is not a file of this kind Gavel wrote. */
  overwrite?: boolean;
}

interface DebateFlags {
  config: string;
  budget?: number;
  questions: number;
  epochs: number;
  lambda: number;
  learningRate: number;
  noise: number;
  out: string;
  json?: boolean;
  /** Replace `--out` even when it is not a file of this kind Gavel wrote. */
  overwrite?: boolean;
}

/** What `train router --json` prints. */
interface RouterTrainingSummary {
  tasksFile: string;
  out: string;
  split: { seed: number; holdoutFraction: number; training: number; heldOut: number };
  fit: Omit<FittedWeights, "weights">;
  weights: FittedWeights["weights"];
  heldOut: { fitted: WeightEvaluationSummary; default: WeightEvaluationSummary };
}

type WeightEvaluationSummary = Omit<WeightEvaluation, "winners">;

/**
 * The `train` command of the `gavel` CLI, with its subcommands `router`, `executors` and `debate`.
 *
 * @param options - Optional writers, HiGHS loader and environment (seams for tests).
 * @returns A commander `Command` to add to a program.
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * import { Command } from "commander";
 * const program = new Command("gavel").addCommand(trainCommand());
 * await program.parseAsync(["train", "router", "--tasks", "tasks.jsonl", "--out", "router-weights.json"], {
 *   from: "user",
 * });
 * await program.parseAsync(["train", "debate", "--config", "configs/budget_sweep.yaml", "--questions", "20"], {
 *   from: "user",
 * });
 * ```
 */
export function trainCommand(options: TrainCommandOptions = {}): Command {
  const defaultStderr = (text: string) => process.stderr.write(text);
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = defaultStderr,
    loadSolver,
    env = process.env,
  } = parseConfig("trainCommand options", trainCommandOptionsSchema, options);
  const output = { writeOut: stdout, writeErr: stderr };
  const print = (text: string) => stdout(text.endsWith("\n") ? text : `${text}\n`);
  const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));
  /** End the command: the message goes to stderr, the process exits with `exitCode`. */
  function fail(command: Command, message: string, exitCode: number, code: string): never {
    return command.error(`error: ${message}`, { exitCode, code: `gavel.train.${code}` });
  }

  /**
   * Refuse (exit 2, before any work) an `--out` that holds a file Gavel did not write: only weights of
   * the same kind (recognised by their format tag) are replaced without `--overwrite`.
   */
  function guardOut(command: Command, path: string, kind: keyof typeof SAVED_KINDS, overwrite: boolean | undefined) {
    const { what, field, value } = SAVED_KINDS[kind];
    try {
      assertReplaceable(path, {
        what,
        isGavels: (text) => isTaggedJson(text, field, value),
        overwrite: overwrite === true,
        flag: OVERWRITE_FLAG,
      });
    } catch (error) {
      fail(command, error instanceof Error ? error.message : String(error), EXIT_BAD_INPUT, "outputConflict");
    }
  }

  /**
   * Read a JSONL file by the one JSONL rule (src/jsonl.ts) and parse every record; a bad line ends the
   * command with exit code 2, naming file, line and field.
   */
  function readLines<T>(
    command: Command,
    file: string,
    parse: (value: unknown) => T,
  ): Array<{ line: number; value: T }> {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (error) {
      return fail(command, `${file}: cannot read: ${(error as Error).message}`, EXIT_BAD_INPUT, "unreadableFile");
    }
    const parsed: Array<{ line: number; value: T }> = [];
    try {
      for (const { line, value } of parseJsonLines(text, { schema: z.unknown(), file })) {
        try {
          parsed.push({ line, value: parse(value) });
        } catch (error) {
          if (!ConfigError.isInstance(error)) throw error;
          fail(command, `${file}:${line}: ${describeIssues(error)}`, EXIT_BAD_INPUT, "badLine");
        }
      }
    } catch (error) {
      if (!JsonLineError.isInstance(error)) throw error;
      fail(command, error.message, EXIT_BAD_INPUT, "badLine");
    }
    if (parsed.length === 0) fail(command, `${file}: no records (the file is empty)`, EXIT_BAD_INPUT, "emptyFile");
    return parsed;
  }

  const train = new Command("train")
    .description("Fit learned weights from recorded outcomes and save them as JSON.")
    .configureOutput(output);

  train
    .command("router")
    .description(
      "Fit the auction router's weights (--tasks: min-max regret MILP, HiGHS), or load outcomes into the strategy memory its memory bids read (--outcomes, --feedback with --ledger; --memory).",
    )
    .configureOutput(output)
    .option("--tasks <file>", "training tasks, one JSON task with every bid's outcome per line (fits the weights)")
    .option("--outcomes <file>", "recorded outcomes (canonical .jsonl or .jsonl.gz) to load into --memory")
    .option(
      "--feedback <file>",
      'feedback to record into --memory, one {"auction_id", "correct" | "score", "member"?} per line',
    )
    .option("--ledger <db>", "with --feedback: the ledger of those auctions (a SQLite file or a postgres:// URL)")
    .option("--memory <folder|url>", "the strategy memory: a vectra folder (created when missing) or a postgres:// URL")
    .option(
      "--embedder <kind>",
      "the memory's embedder, the router's: use-lite (the bundled sentence encoder; use) or hashing (instant, weak)",
      parseMemoryEmbedder,
      "use-lite",
    )
    .option("--limit <n>", "with --outcomes: load only the first N prompts of the file", parsePositiveInteger)
    .option(
      "--member <name=model>",
      "with --outcomes (repeatable): the router's member NAME answers as the recorded MODEL; only named models are loaded (default: every model, under its own name)",
      collectMember,
    )
    .option("--max-entries <n>", "the memory's bound (keep the router's)", parsePositiveInteger, DEFAULT_MAX_ENTRIES)
    .option("--holdout-fraction <share>", "share of the tasks held out for the comparison", parseHoldoutFraction, 0.3)
    .option("--seed <n>", "seed of the train / held-out split", parseInteger, 0)
    .option("--time-limit <seconds>", "HiGHS wall-clock limit", parsePositiveNumber, 30)
    .option("--out <file>", "where the fitted weights JSON is written", "router-weights.json")
    .option(OVERWRITE_FLAG, "replace --out even when it is not a file of these weights Gavel wrote")
    .option("--json", "print the fit and the comparison as JSON")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, command: Command) => {
      const flags = command.opts<RouterFlags & RouterMemoryFlags>();
      const memoryRun = flags.outcomes !== undefined || flags.feedback !== undefined;
      if (memoryRun || flags.memory !== undefined || flags.ledger !== undefined) {
        await trainRouterMemory(command, flags);
        return;
      }
      if (flags.tasks === undefined) {
        fail(
          command,
          "give --tasks FILE (fit the plan auction's weights) or --outcomes FILE / --feedback FILE --ledger DB with --memory (load the memory bids' memory)",
          EXIT_BAD_INPUT,
          "missingInput",
        );
      }
      for (const flag of ["embedder", "limit", "maxEntries", "member"] as const) {
        if (command.getOptionValueSource(flag) === "cli") {
          fail(
            command,
            `--${kebab(flag)} applies to --outcomes / --feedback, not to --tasks`,
            EXIT_BAD_INPUT,
            "conflictingOptions",
          );
        }
      }
      guardOut(command, flags.out, "router", flags.overwrite);
      const lines = readLines(command, flags.tasks, parseTrainingTask);
      if (lines.length < 2) {
        fail(
          command,
          `${flags.tasks}: ${lines.length} task; at least 2 are needed (one to fit, one to hold out)`,
          EXIT_BAD_INPUT,
          "tooFewTasks",
        );
      }
      const { training, heldOut } = splitTasks(lines, flags.holdoutFraction, flags.seed);
      stderr(
        `fitting router weights on ${training.length} tasks (HiGHS, time limit ${flags.timeLimit} s), holding out ${heldOut.length}\n`,
      );
      let fitted: FittedWeights;
      try {
        fitted = await fitRouterWeights({
          tasks: training.map((entry) => entry.value),
          timeLimitSeconds: flags.timeLimit,
          ...(loadSolver === undefined ? {} : { loadSolver }),
        });
      } catch (error) {
        if (!ConfigError.isInstance(error)) throw error;
        // The fit's own checks (e.g. a bid without a score from one of the jurors) name `tasks.<i>....`.
        fail(command, describeFitIssues(error, flags.tasks, training), EXIT_BAD_INPUT, "badTasks");
      }
      try {
        writeFileSync(flags.out, weightsToJson(fitted));
      } catch (error) {
        fail(command, `${flags.out}: cannot write: ${(error as Error).message}`, EXIT_RUN_FAILED, "unwritableOut");
      }

      const heldOutTasks = heldOut.map((entry) => entry.value);
      const { weights, ...fit } = fitted;
      const summary: RouterTrainingSummary = {
        tasksFile: flags.tasks,
        out: flags.out,
        split: {
          seed: flags.seed,
          holdoutFraction: flags.holdoutFraction,
          training: training.length,
          heldOut: heldOut.length,
        },
        fit,
        weights,
        heldOut: {
          fitted: withoutWinners(evaluateWeights(weights, heldOutTasks)),
          default: withoutWinners(evaluateWeights(defaultRouterWeights(), heldOutTasks)),
        },
      };
      if (flags.json) printJson(summary);
      else print(routerReport(summary));
      if (fitted.status === "fallback") {
        fail(
          command,
          `the solver failed, so ${flags.out} holds the DEFAULT weights (status "fallback"), not fitted ones: ${fitted.fallbackReason ?? fitted.solverStatus}`,
          EXIT_RUN_FAILED,
          "fitFellBack",
        );
      }
    });

  /**
   * `train router --outcomes / --feedback`: open the memory, refuse another embedder's, load the
   * outcomes (`learnOutcomes`) and then the feedback (`applyFeedback`), print the counts.
   */
  async function trainRouterMemory(command: Command, flags: RouterFlags & RouterMemoryFlags): Promise<void> {
    if (flags.tasks !== undefined) {
      fail(
        command,
        "give --tasks (weights) or --outcomes / --feedback (memory), not both",
        EXIT_BAD_INPUT,
        "conflictingOptions",
      );
    }
    for (const flag of ["holdoutFraction", "seed", "timeLimit", "out", "overwrite"] as const) {
      if (command.getOptionValueSource(flag) === "cli") {
        fail(
          command,
          `--${kebab(flag)} applies to --tasks, not to --outcomes / --feedback`,
          EXIT_BAD_INPUT,
          "conflictingOptions",
        );
      }
    }
    if (flags.outcomes === undefined && flags.feedback === undefined) {
      fail(
        command,
        "--memory needs --outcomes FILE or --feedback FILE --ledger DB (what to load)",
        EXIT_BAD_INPUT,
        "missingInput",
      );
    }
    if (flags.memory === undefined) {
      fail(
        command,
        "--memory FOLDER|postgres://… is required: the strategy memory to load (the router's)",
        EXIT_BAD_INPUT,
        "missingMemory",
      );
    }
    if ((flags.feedback === undefined) !== (flags.ledger === undefined)) {
      const message =
        flags.feedback === undefined
          ? "--ledger applies to --feedback (the ledger the feedback's auctions are read from)"
          : "--feedback needs --ledger DB: the ledger holding those auctions (what was asked, who was called)";
      fail(command, message, EXIT_BAD_INPUT, "missingLedger");
    }
    for (const flag of ["limit", "member"] as const) {
      if (flags[flag] !== undefined && flags.outcomes === undefined) {
        fail(command, `--${flag} applies to --outcomes`, EXIT_BAD_INPUT, "conflictingOptions");
      }
    }
    const stop = (error: unknown): never => {
      if (MemoryEmbedderMismatchError.isInstance(error)) {
        return fail(command, `${flags.memory}: ${error.message}`, EXIT_BAD_INPUT, "embedderMismatch");
      }
      if (StrategyMemoryError.isInstance(error) && error.reason === "locked") {
        return fail(
          command,
          `${error.message} (a vectra memory is opened by one process at a time: stop the gateway or router using it, or use a postgres:// memory)`,
          EXIT_BAD_INPUT,
          "memoryLocked",
        );
      }
      const { exitCode, code } = exitCodeOf(error);
      return fail(command, error instanceof Error ? error.message : String(error), exitCode, code);
    };

    // Read every input before opening the memory: a bad line writes nothing.
    const outcomes =
      flags.outcomes === undefined
        ? undefined
        : asMembers(
            limitPrompts(await loadRecordedOutcomes({ path: flags.outcomes }).catch(stop), flags.limit),
            flags.member,
          );
    if (outcomes !== undefined && outcomes.length === 0) {
      const named = Object.values(flags.member ?? {}).join(", ");
      fail(
        command,
        `${flags.outcomes}: no record of the models named by --member (${named})`,
        EXIT_BAD_INPUT,
        "noRecords",
      );
    }
    const feedback = flags.feedback === undefined ? undefined : await readFeedbackFile(flags.feedback).catch(stop);
    const ledgerTarget = flags.ledger as string;
    const ledger = feedback === undefined ? undefined : await openFeedbackLedger(command, ledgerTarget);
    const embeddings = await memoryEmbedder(flags.embedder).catch(stop);
    const embedderId = embedderIdOf(embeddings);
    const memoryTarget = flags.memory as string;
    const memory = await openStrategyMemory(memoryTarget, { embeddings, maxEntries: flags.maxEntries }).catch(
      async (error: unknown) => {
        await ledger?.close().catch(() => undefined);
        return stop(error);
      },
    );
    const progress = createProgressReporter({
      write: stderr,
      interactive: process.stderr.isTTY === true && stderr === defaultStderr,
    });
    const summary: MemoryTrainingSummary = {
      memory: displayedTarget(memoryTarget),
      embedder: embedderId,
      maxEntries: flags.maxEntries,
      size: 0,
    };
    try {
      await assertMemoryEmbedder(memory, embeddings, embedderId);
      if (outcomes !== undefined) {
        const learned = await learnOutcomes(memory, outcomes, {
          embeddings,
          embedderId,
          onProgress: (done, total) => progress.onProgress({ phase: "embed", policy: "outcomes", done, total }),
        });
        summary.outcomes = { file: flags.outcomes as string, records: outcomes.length, ...learned };
      }
      if (feedback !== undefined && ledger !== undefined) {
        try {
          const result = await applyFeedback({
            lines: feedback,
            ledger,
            memory,
            embeddings,
            embedderId,
            onProgress: (done, total) => progress.onProgress({ phase: "load", policy: "feedback", done, total }),
          });
          summary.feedback = {
            file: flags.feedback as string,
            ledger: displayedTarget(ledgerTarget),
            lines: result.lines,
            recorded: result.recorded,
            added: result.added,
            refusedCount: result.refused.length,
            refusedByReason: refusedByReason(result.refused),
            refused: result.refused,
          };
        } finally {
          await ledger.close();
        }
      }
      summary.size = await memory.size();
    } catch (error) {
      progress.stop();
      await ledger?.close().catch(() => undefined);
      await memory.close().catch(() => undefined);
      return stop(error);
    }
    progress.stop();
    await memory.close().catch(stop);
    if (flags.json) printJson(summary);
    else print(memoryTrainingReport(summary));
  }

  /** The ledger of `--feedback`, read-only; a missing file or a database that is no ledger exits 2. */
  async function openFeedbackLedger(command: Command, target: string): Promise<LedgerReader> {
    if (!isPostgresUrl(target) && !existsSync(target)) {
      fail(
        command,
        `no ledger database at ${target} (--ledger reads the ledger the router wrote; it is never created)`,
        EXIT_BAD_INPUT,
        "missingLedger",
      );
    }
    try {
      return await openLedgerReader(target);
    } catch (error) {
      const { exitCode, code } = exitCodeOf(error);
      const reason = error instanceof Error ? error.message : String(error);
      const badInput = LedgerError.isInstance(error) || exitCode === EXIT_BAD_INPUT;
      return fail(
        command,
        `${displayedTarget(target)}: cannot read the ledger: ${reason}`,
        badInput ? EXIT_BAD_INPUT : exitCode,
        badInput ? "unreadableLedger" : code,
      );
    }
  }

  train
    .command("executors")
    .description("Fit the belief coordination's per-executor weights (smoothed accuracy) from outcomes.")
    .configureOutput(output)
    .requiredOption("--records <file>", 'outcomes, one {"executor": NAME, "correct": BOOLEAN} per line')
    .option("--prior <n>", "pseudo-counts of right and wrong added to every executor", parsePositiveNumber, 1)
    .option("--out <file>", "where the weights JSON is written", "executor-weights.json")
    .option(OVERWRITE_FLAG, "replace --out even when it is not a file of these weights Gavel wrote")
    .option("--json", "print the weights as JSON")
    .exitOverride(usageErrorsExitWithCode2)
    .action((_options: unknown, command: Command) => {
      const flags = command.opts<ExecutorFlags>();
      guardOut(command, flags.out, "executors", flags.overwrite);
      const records = readLines(command, flags.records, (value) =>
        parseConfig("executor record", executorRecordSchema, value),
      );
      const weights = fitExecutorWeights(
        records.map((entry) => entry.value),
        { prior: flags.prior },
      );
      try {
        writeFileSync(flags.out, executorWeightsToJson(weights));
      } catch (error) {
        fail(command, `${flags.out}: cannot write: ${(error as Error).message}`, EXIT_RUN_FAILED, "unwritableOut");
      }
      if (flags.json) {
        printJson({ recordsFile: flags.records, out: flags.out, records: records.length, weights });
        return;
      }
      const rows = plainTable(["executor", "correct", "total", "weight"], [1, 2, 3]);
      for (const [name, entry] of Object.entries(weights.executors)) {
        rows.push([name, String(entry.correct), String(entry.total), entry.weight.toFixed(4)]);
      }
      print(
        [
          `Executor weights from ${records.length} records (smoothed accuracy, prior ${weights.prior})`,
          rows.toString(),
          `Saved ${flags.out} (reload with executorWeightsFromJson; pass as createBeliefCoordination({ weights })).`,
        ].join("\n"),
      );
    });

  train
    .command("debate")
    .description(
      "Fit the gated debate's aggressiveness α per agent by REINFORCE on a training split of a mode: debate experiment (live).",
    )
    .configureOutput(output)
    .requiredOption(
      "--config <file>",
      "a mode: debate experiment YAML with a live backend (e.g. configs/budget_sweep.yaml)",
    )
    .option(
      "--budget <tokens>",
      "tokens per example (default: the median of the config's budget sweep)",
      parsePositiveInteger,
    )
    .option(
      "--questions <n>",
      "training questions, sampled outside the evaluation sample",
      parsePositiveInteger,
      DEFAULT_TRAINING_QUESTIONS,
    )
    .option("--epochs <n>", "passes over the training questions", parsePositiveInteger, 3)
    .option(
      "--lambda <x>",
      "weight of the token cost in the reward accuracy − λ · tokens/budget",
      parseNonNegative,
      0.5,
    )
    .option("--learning-rate <x>", "η of the REINFORCE step", parsePositiveNumber, 0.1)
    .option("--noise <x>", "σ of the Gaussian policy around α", parsePositiveNumber, 0.2)
    .option("--out <file>", "where the α JSON is written", "debate-aggressiveness.json")
    .option(OVERWRITE_FLAG, "replace --out even when it is not a file of these weights Gavel wrote")
    .option("--json", "print the training run as JSON")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, command: Command) => {
      const flags = command.opts<DebateFlags>();
      const stop = (error: unknown): never => {
        const { exitCode, code } = exitCodeOf(error);
        return fail(command, error instanceof Error ? error.message : String(error), exitCode, code);
      };
      guardOut(command, flags.out, "debate", flags.overwrite);
      const config = await loadExperimentConfig(flags.config).catch(stop);
      const training = await trainDebateAggressiveness({
        config,
        env,
        questions: flags.questions,
        epochs: flags.epochs,
        lambda: flags.lambda,
        learningRate: flags.learningRate,
        noise: flags.noise,
        configFile: flags.config,
        ...(config.backend.kind === "llamacpp" ? { createLlamaCppModel: await loadLlamaCppModel() } : {}),
        ...(flags.budget === undefined ? {} : { budget: flags.budget }),
        onStart: (plan) => stderr(`${startLine(plan, flags)}\n`),
        onEpoch: (epoch, epochs) => stderr(`${epochLine(epoch, epochs)}\n`),
      }).catch(stop);
      try {
        writeFileSync(flags.out, `${serializeAggressiveness(training.aggressiveness)}\n`);
      } catch (error) {
        fail(command, `${flags.out}: cannot write: ${(error as Error).message}`, EXIT_RUN_FAILED, "unwritableOut");
      }
      if (flags.json) printJson({ config: flags.config, out: flags.out, ...training });
      else print(debateReport(training, flags));
    });

  return train;
}

// ---------------------------------------------------------------------------
// Saved files
// ---------------------------------------------------------------------------

/** What each subcommand saves, and the JSON field and value that tag a file of it as Gavel's. */
const SAVED_KINDS = {
  router: {
    what: "Gavel router weights (format gavel-router-weights)",
    field: "format",
    value: "gavel-router-weights",
  },
  executors: { what: "Gavel executor weights (method smoothed-accuracy)", field: "method", value: "smoothed-accuracy" },
  debate: {
    what: "a Gavel debate α file (kind gavel.debate.aggressiveness)",
    field: "kind",
    value: "gavel.debate.aggressiveness",
  },
} as const;

// ---------------------------------------------------------------------------
// The split
// ---------------------------------------------------------------------------

/**
 * Seeded split: a Fisher–Yates shuffle of the task order, the first `round(n · fraction)` tasks
 * (at least 1, at most n − 1) held out. Both parts keep the file's order.
 */
function splitTasks<T extends { line: number }>(
  entries: readonly T[],
  holdoutFraction: number,
  seed: number,
): { training: T[]; heldOut: T[] } {
  const random = createSeededRandom({ seed, stream: "gavel.train.router.split" });
  const order = entries.map((_, index) => index);
  for (let index = order.length - 1; index > 0; index--) {
    const other = random.nextUint32() % (index + 1);
    [order[index], order[other]] = [order[other] ?? index, order[index] ?? other];
  }
  const heldOutCount = Math.min(entries.length - 1, Math.max(1, Math.round(entries.length * holdoutFraction)));
  const heldOutIndexes = new Set(order.slice(0, heldOutCount));
  return {
    training: entries.filter((_, index) => !heldOutIndexes.has(index)),
    heldOut: entries.filter((_, index) => heldOutIndexes.has(index)),
  };
}

// ---------------------------------------------------------------------------
// Error messages
// ---------------------------------------------------------------------------

/** `field "bids.0.price": Too small: ...; field "taskId": ...` from a `ConfigError`'s zod issues. */
function describeIssues(error: ConfigError): string {
  const issues = (error.cause as ZodError | undefined)?.issues ?? [];
  if (issues.length === 0) return error.message;
  return issues
    .map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join(".") : "(root)";
      return `field "${path}": ${issue.message}`;
    })
    .join("; ");
}

/** Issues of `fitRouterWeights`'s options (`tasks.<i>.bids...`) translated to `FILE:LINE: field "bids..."`. */
function describeFitIssues(
  error: ConfigError,
  file: string,
  training: ReadonlyArray<{ line: number; value: TrainingTask }>,
): string {
  const issues = (error.cause as ZodError | undefined)?.issues ?? [];
  if (issues.length === 0) return `${file}: ${error.message}`;
  return issues
    .map((issue) => {
      const [head, index, ...rest] = issue.path;
      const entry = head === "tasks" && typeof index === "number" ? training[index] : undefined;
      if (entry === undefined) return `${file}: field "${issue.path.join(".")}": ${issue.message}`;
      return `${file}:${entry.line}: field "${rest.join(".")}": ${issue.message}`;
    })
    .join("\n");
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

function withoutWinners({ winners: _winners, ...rest }: WeightEvaluation): WeightEvaluationSummary {
  return rest;
}

function number(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(4);
}

/** One sentence comparing the two rows by held-out mean regret (the fit's own objective, averaged). */
function verdict(fitted: WeightEvaluationSummary, defaults: WeightEvaluationSummary): string {
  const figures = `mean regret ${number(fitted.meanRegret)} vs ${number(defaults.meanRegret)}`;
  if (fitted.meanRegret < defaults.meanRegret)
    return `On the held-out tasks the fitted weights beat the defaults (${figures}).`;
  if (fitted.meanRegret > defaults.meanRegret)
    return `On the held-out tasks the fitted weights do WORSE than the defaults (${figures}): more or more varied training tasks may help.`;
  return `On the held-out tasks the fitted weights and the defaults tie (${figures}).`;
}

function routerReport(summary: RouterTrainingSummary): string {
  const { fit, weights, split, heldOut } = summary;
  const fitLine =
    fit.status === "fallback"
      ? `Fit: FALLBACK — the solver failed (${fit.solverStatus}); the DEFAULT weights were saved. ${fit.fallbackReason ?? ""}`.trim()
      : `Fit: ${fit.status} (HiGHS: ${fit.solverStatus}), objective ${fit.objective === null ? "-" : number(fit.objective)}, ` +
        `training regret mean ${number(fit.training.meanRegret)} / worst ${number(fit.training.worstCaseRegret)}`;
  const jury = Object.entries(weights.jury)
    .map(([juror, weight]) => `${juror} ${number(weight)}`)
    .join(", ");
  const comparison = plainTable(
    ["weights", "accuracy", "cost", "share to dearest", "mean regret", "worst regret"],
    [1, 2, 3, 4, 5],
  );
  for (const [name, evaluation] of [
    ["fitted", heldOut.fitted],
    ["default", heldOut.default],
  ] as const) {
    comparison.push([
      name,
      percent(evaluation.accuracy),
      number(evaluation.totalCost),
      percent(evaluation.shareToDearest),
      number(evaluation.meanRegret),
      number(evaluation.worstCaseRegret),
    ]);
  }
  return [
    `Router weights from ${summary.tasksFile}: ${split.training} training tasks, ${split.heldOut} held out (seed ${split.seed})`,
    fitLine,
    `Weights: cost ${number(weights.cost)}, entropy ${number(weights.entropy)}, jury ${jury === "" ? "-" : jury}`,
    `Held-out comparison (${split.heldOut} tasks; oracle accuracy ${percent(heldOut.fitted.oracleAccuracy)}, oracle cost ${number(heldOut.fitted.oracleCost)}):`,
    comparison.toString(),
    verdict(heldOut.fitted, heldOut.default),
    `Saved ${summary.out} (reload with weightsFromJson; use as new AuctionRouter({ pool, weights })).`,
  ].join("\n");
}

/** α by agent, `solver 1.032, critic 0.9871`. */
function alphaList(aggressiveness: Readonly<Record<string, number>>): string {
  return Object.entries(aggressiveness)
    .map(([agent, alpha]) => `${agent} ${number(alpha)}`)
    .join(", ");
}

function startLine(plan: DebateTrainingPlan, flags: DebateFlags): string {
  const agents = plan.agents
    .map((agent) => (agent.name === agent.model ? agent.name : `${agent.name} (${agent.model})`))
    .join(", ");
  return (
    `training α of ${agents} on ${plan.training} ${plan.benchmark} questions outside the ${plan.evaluation}-question ` +
    `evaluation sample: budget ${plan.budget} tokens per example, ${flags.epochs} epochs, λ ${flags.lambda}, ` +
    `η ${flags.learningRate}, σ ${flags.noise}`
  );
}

function epochLine(epoch: TrainingEpoch, epochs: number): string {
  return (
    `epoch ${epoch.epoch + 1}/${epochs}: accuracy ${percent(epoch.accuracy)}, mean tokens ${number(epoch.meanTokens)}, ` +
    `mean reward ${number(epoch.meanReward)}; α ${alphaList(epoch.aggressiveness)}`
  );
}

function debateReport(training: DebateTraining, flags: DebateFlags): string {
  const agents = training.agents.map((agent) => agent.name);
  const rows = plainTable(
    ["epoch", "accuracy", "mean tokens", "mean reward", ...agents.map((agent) => `α ${agent}`)],
    [0, 1, 2, 3, ...agents.map((_, index) => 4 + index)],
  );
  for (const epoch of training.history) {
    rows.push([
      String(epoch.epoch + 1),
      percent(epoch.accuracy),
      number(epoch.meanTokens),
      number(epoch.meanReward),
      ...agents.map((agent) => number(epoch.aggressiveness[agent] ?? 0)),
    ]);
  }
  const { settings, split, usage } = training;
  return [
    `Debate aggressiveness α from ${flags.config}: ${split.training.length} ${training.benchmark} training questions ` +
      `(none of the ${split.evaluation.length} evaluated), budget ${training.budget} tokens per example`,
    `REINFORCE on accuracy − λ · tokens/budget: λ ${settings.lambda}, η ${settings.learningRate}, σ ${settings.noise}, ` +
      `seed ${settings.seed}; ${usage.calls} calls, ${usage.tokens} tokens${usage.estimated ? " (some estimated: the provider reported no usage)" : ""}`,
    rows.toString(),
    `α: ${alphaList(training.aggressiveness)}`,
    `Saved ${flags.out} (reload with parseAggressiveness; pass as createAuctionDebate({ aggressiveness })).`,
  ].join("\n");
}

// ---------------------------------------------------------------------------
// Argument parsing
// ---------------------------------------------------------------------------

function parseMemoryEmbedder(text: string): MemoryEmbedderKind {
  if (!(MEMORY_EMBEDDERS as readonly string[]).includes(text)) {
    throw new InvalidArgumentError(`expected one of ${MEMORY_EMBEDDERS.join(", ")} (the router's embedder).`);
  }
  return text as MemoryEmbedderKind;
}

/** `maxEntries` → `max-entries`. */
function kebab(flag: string): string {
  return flag.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`);
}

/** A `--memory` / `--ledger` target as messages show it: a URL without its password. */
function displayedTarget(target: string): string {
  return target.replace(/^(postgres(?:ql)?:\/\/[^:/@]*:)[^@]*@/i, "$1***@");
}

/** `--member mini=gpt-4o-mini`, collected by member name (a member named twice is refused). */
function collectMember(text: string, previous: Record<string, string> | undefined): Record<string, string> {
  const match = text.match(/^([^=]+)=(.+)$/);
  if (match === null) throw new InvalidArgumentError("expected NAME=MODEL, e.g. gpt-4=gpt-4-1106-preview.");
  const [, name, model] = match as unknown as [string, string, string];
  if (previous?.[name] !== undefined) throw new InvalidArgumentError(`member "${name}" is named twice.`);
  return { ...previous, [name]: model };
}

/**
 * The records as the router's members: with `--member` mappings, each record of a named model is
 * renamed to its member (evidence is kept by member name) and the other models' records are dropped.
 */
function asMembers<T extends { model: string }>(records: T[], members: Record<string, string> | undefined): T[] {
  if (members === undefined) return records;
  const byModel = new Map<string, string[]>();
  for (const [name, model] of Object.entries(members)) byModel.set(model, [...(byModel.get(model) ?? []), name]);
  return records.flatMap((record) => (byModel.get(record.model) ?? []).map((name) => ({ ...record, model: name })));
}

/** The records of the first `limit` prompt ids of the file (all of them without a limit). */
function limitPrompts<T extends { prompt_id: string }>(records: T[], limit: number | undefined): T[] {
  if (limit === undefined) return records;
  const kept = new Set<string>();
  return records.filter((record) => {
    if (kept.has(record.prompt_id)) return true;
    if (kept.size >= limit) return false;
    kept.add(record.prompt_id);
    return true;
  });
}

function parseHoldoutFraction(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value >= 1) {
    throw new InvalidArgumentError("expected a share strictly between 0 and 1, e.g. 0.3.");
  }
  return value;
}
