/**
 * `runExperiment`: run what an experiment file describes and write its report folder. The three
 * pipelines `gavel eval` and `gavel sweep` run:
 *
 * - **routing on recorded outcomes** (`data.source: recorded`): the routers and every baseline replay
 *   the outcomes (docs/routing-on-recorded-data.md);
 * - **record, then route** (`data.source: benchmark` with a live backend): every pool model answers the
 *   benchmark once (cached in `<output>/live-outcomes.jsonl`, resumable), then the same routers replay
 *   those answers (docs/live-evaluation.md);
 * - **multi-agent** (`mode: debate`): the debates and belief coordination at every token budget of the
 *   sweep (docs/multiagent-evaluation.md).
 *
 * Every piece of I/O beyond the experiment's own files comes through {@link ExperimentSeams}: the
 * embedder, the ledger, local models, progress, the clock. Nothing here imports an adapter; the CLI
 * injects the sentence encoder, the SQLite ledger and node-llama-cpp, each loaded only when used.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { GavelError, parseConfig } from "../../errors.js";
import type { LedgerWriter } from "../../ledger/types.js";
import { MissingPeerDependencyError } from "../../peers.js";
import { indexOutcomes, loadRecordedOutcomes } from "../data/outcomes.js";
import { DataError, NotImplementedError } from "../errors.js";
import type { LivePoolOptions } from "../live/pool.js";
import { type RecordedBenchmarkExperiment, recordBenchmarkExperiment } from "../live/run.js";
import { TOKENS_PLOT_FILE, writeTokensPlot } from "../multiagent/report.js";
import { type MultiAgentSweep, runMultiAgentSweep } from "../multiagent/run.js";
import { assertReplaceable, hasGavelMarker } from "../outputs.js";
import type { EvalReport } from "../report/results.js";
import {
  checkReportFolder,
  OVERWRITE_FLAG,
  type WriteReportOptions,
  type WrittenReport,
  writeReport,
} from "../report/write.js";
import { createHashingEmbeddings } from "../routing/embedding.js";
import { type LeaveOneOutOptions, runLeaveOneOut } from "../routing/leave-out.js";
import {
  type EvaluationProgress,
  type RecordedEvaluationOptions,
  recordedEvaluationOptionsSchema,
} from "../routing/options.js";
import { runRecordedEvaluation } from "../routing/runner.js";
import { type ExperimentConfig, requireApiKey, unsupportedReason } from "./config.js";
import { type EmbedderFactory, liveRunnerOptions, referencePair, runnerOptionsOf } from "./runner-options.js";

/** The ledger of a routing run: the runner writes to it, and it is closed (awaited) after the run. */
export type ExperimentLedger = LedgerWriter;

/** Progress of one phase of a run (recording, routing, the sweep): fed events, then stopped. */
export interface ExperimentProgress {
  onProgress(event: EvaluationProgress): void;
  stop(): void;
}

/** Builds a local GGUF chat model (`llamacpp` backends). */
export type LlamaCppModelFactory = NonNullable<LivePoolOptions["createLlamaCppModel"]>;

/** The I/O of {@link runExperiment}: everything it reads or writes beyond the experiment's own files. */
export interface ExperimentSeams {
  /** Where API keys are read from (read once, before any call). */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Builds the embedder the config names (may be async: load a heavy encoder here). Default: the
   * built-in hashing embedder for `hashing`; any other kind needs this seam (the CLI passes USE-Lite
   * from `langchain-gavel/encoder`).
   */
  createEmbedder?: EmbedderFactory;
  /** Loads the factory of local GGUF models; called only for a `llamacpp` backend. */
  loadLlamaCppModel?: () => Promise<LlamaCppModelFactory>;
  /** Opens the ledger of a routing run (called once, just before routing). Default: no ledger. */
  openLedger?: () => ExperimentLedger | undefined | Promise<ExperimentLedger | undefined>;
  /**
   * Which operating points go to the ledger: `"all"`, `"frontier"` (each router's Pareto-optimal
   * points) or `"policy:parameter"` keys. Default: the runner's (`"all"`); the CLI's `--ledger-points`.
   */
  ledgerPoints?: RecordedEvaluationOptions["ledgerPoints"];
  /** Starts the progress of one phase. Default: no progress. */
  startProgress?: () => ExperimentProgress;
  /** Told when the live recording is done, before routing starts (the CLI prints the calls and spend). */
  onLiveRecorded?: (live: RecordedBenchmarkExperiment) => void;
  /** Told when a plot is skipped because vega is not installed (once per run). Default: nothing. */
  onPlotSkipped?: (error: MissingPeerDependencyError) => void;
  /** The recorded runner. Default: `runRecordedEvaluation`. */
  runEvaluation?: (options: RecordedEvaluationOptions) => Promise<EvalReport>;
  /** Renders `pareto.svg`. Default: `renderParetoSvg`. */
  renderPlot?: WriteReportOptions["renderPlot"];
  /** Milliseconds clock of the wall time. Default: `performance.now`. */
  clock?: () => number;
  /**
   * Replace files in the report folder that Gavel did not write (the CLI's `--overwrite`). Default:
   * false — such a file is refused with an `OutputConflictError` before the run starts.
   */
  overwrite?: boolean;
  /** The experiment file, named in error messages about its keys. */
  configFile?: string;
}

/** What {@link runExperiment} did. */
export interface ExperimentResult {
  config: ExperimentConfig;
  report: EvalReport;
  /** The report folder's files (`svg` absent when vega is not installed). */
  files: WrittenReport;
  wallSeconds: number;
  /** A benchmark experiment: what was recorded live. */
  live?: RecordedBenchmarkExperiment;
  /** A multi-agent experiment: the sweep, and its accuracy–tokens plot (absent without vega). */
  multiAgent?: { sweep: MultiAgentSweep; tokensPlot?: string };
}

/**
 * Run an experiment and write its report folder (`config.output`): routing on recorded outcomes,
 * record-then-route on a benchmark answered live, or the multi-agent budget sweep (`mode: debate`).
 *
 * @param config - A validated experiment (`loadExperimentConfig`, `parseExperimentConfig`).
 * @param seams - Environment, embedder, ledger, local models, progress and clock.
 * @returns The report, the files written and what the live phases did.
 * @throws NotImplementedError when the experiment needs something this version does not implement.
 * @throws MissingApiKeyError naming the variable, before any call.
 * @throws DataError when a data file is missing or a line is bad (file, line and field named).
 * @throws OutputConflictError when a file in the report folder is not Gavel's (before any work).
 * @throws MultiAgentSetupError, LiveBackendError, LiveBudgetReachedError from the live pipelines.
 * @example
 * ```ts
 * import { loadExperimentConfig, runExperiment } from "langchain-gavel/eval";
 *
 * const config = await loadExperimentConfig("configs/default.yaml");
 * const { report, files } = await runExperiment({ ...config, embedder: "hashing" }, { env: process.env });
 * console.log(report.title, files.html);
 * ```
 */
export async function runExperiment(config: ExperimentConfig, seams: ExperimentSeams): Promise<ExperimentResult> {
  const clock = seams.clock ?? (() => performance.now());
  const started = clock();
  const reason = unsupportedReason(config);
  if (reason !== undefined) throw new NotImplementedError(reason);
  requireApiKey(config.backend, seams.env);
  // Before any work: a foreign file where the report goes is refused now, not after the run.
  checkReportFolder(config.output, { overwrite: seams.overwrite === true });
  if (config.mode === "debate") {
    assertReplaceable(join(config.output, TOKENS_PLOT_FILE), {
      what: `a Gavel plot (${TOKENS_PLOT_FILE})`,
      isGavels: hasGavelMarker,
      overwrite: seams.overwrite === true,
      flag: OVERWRITE_FLAG,
    });
  }
  const finish = (result: Omit<ExperimentResult, "config" | "wallSeconds">): ExperimentResult => ({
    config,
    ...result,
    wallSeconds: (clock() - started) / 1000,
  });
  if (config.mode === "debate") return finish(await runMultiAgentExperiment(config, seams));
  if (config.data.source === "benchmark") return finish(await runLiveExperiment(config, seams));

  for (const path of [config.data.outcomes, config.data.train]) {
    if (path !== undefined && path !== "none" && !existsSync(path)) {
      throw new DataError({ file: path, problem: "no such file" });
    }
  }
  const runnerOptions = await runnerOptionsOf(config, embedderFactory(seams));
  return finish(await routeAndReport(config, runnerOptions, seams));
}

/**
 * Leave one dataset out (`gavel eval --leave-out`): for each held-out dataset of the experiment's
 * recorded outcomes, train on the others and stream it online through the shipped router over the
 * strong/weak pair (`runLeaveOneOut`); write the report folder (its `leaveOut` table) to `config.output`.
 *
 * @param datasets - The datasets to hold out (default: every dataset of the file).
 * @throws DataError when the experiment is not on recorded outcomes, its file is missing, or a dataset is not in it.
 * @example
 * ```ts
 * const config = await loadExperimentConfig("configs/default.yaml");
 * const { report } = await runLeaveOutExperiment({ ...config, embedder: "hashing" }, { env: {} }, ["mbpp"]);
 * console.table(report.leaveOut);
 * ```
 */
export async function runLeaveOutExperiment(
  config: ExperimentConfig,
  seams: ExperimentSeams & { runLeaveOut?: (options: LeaveOneOutOptions) => Promise<EvalReport> },
  datasets?: readonly string[],
): Promise<ExperimentResult> {
  const clock = seams.clock ?? (() => performance.now());
  const started = clock();
  if (config.mode === "debate" || config.data.source !== "recorded") {
    throw new DataError({
      file: seams.configFile ?? "the experiment",
      fields: ["data.source"],
      problem: "leave one dataset out needs recorded outcomes (data.source: recorded, mode: route)",
    });
  }
  checkReportFolder(config.output, { overwrite: seams.overwrite === true });
  if (config.data.outcomes !== undefined && !existsSync(config.data.outcomes)) {
    throw new DataError({ file: config.data.outcomes, problem: "no such file" });
  }
  const embedder = await embedderFactory(seams)(config.embedder);
  const { routers, sweep } = config;
  const options: LeaveOneOutOptions = {
    embedder,
    title: `${config.title ?? config.name}: leave one dataset out`,
    routers: routers.use,
    seed: config.seed,
    targetAccuracyShare: config.targets.accuracyShare,
  };
  const optional: Partial<LeaveOneOutOptions> = {
    datasets: datasets === undefined ? undefined : [...datasets],
    outcomesPath: config.data.outcomes,
    strongModel: routers.strongModel,
    weakModel: routers.weakModel,
    k: routers.k,
    priorStrength: routers.priorStrength,
    onlineExploration: routers.onlineExploration,
    confidenceLambda: routers.confidenceLambda,
    lambdas: sweep?.kind === "lambda" ? sweep.lambdas : undefined,
    embeddingCacheDirectory:
      config.embeddingCache === false || config.embedder === "hashing" ? undefined : config.embeddingCache,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  }
  if (config.data.outcomes !== undefined && (routers.strongModel === undefined || routers.weakModel === undefined)) {
    // Another file than RouterBench: the pair is picked from its accuracies, as for any outcomes file.
    const index = indexOutcomes(await loadRecordedOutcomes({ path: config.data.outcomes }), config.data.outcomes);
    const pair = referencePair(index);
    options.outcomes = index;
    delete options.outcomesPath;
    options.strongModel = routers.strongModel ?? pair.strongModel;
    options.weakModel = routers.weakModel ?? pair.weakModel;
  }
  const run = seams.runLeaveOut ?? runLeaveOneOut;
  let report = await withProgress(seams, (onProgress) => run({ ...options, onProgress }));
  report = { ...report, config: { ...report.config, experiment: plainConfig(config) } };
  const files = await writeReport(report, config.output, writeOptions(seams, seams.onPlotSkipped));
  return { config, report, files, wallSeconds: (clock() - started) / 1000 };
}

/**
 * A benchmark experiment: record every pool model's answers live (resuming from the cache in the
 * output folder), then route over them exactly as over any recorded outcomes.
 */
async function runLiveExperiment(config: ExperimentConfig, seams: ExperimentSeams) {
  const createLlamaCppModel = await llamaCppFactory(config, seams);
  const live = await withProgress(seams, (onProgress) =>
    recordBenchmarkExperiment({
      config,
      env: seams.env,
      onProgress,
      ...(createLlamaCppModel === undefined ? {} : { createLlamaCppModel }),
      ...(seams.configFile === undefined ? {} : { configFile: seams.configFile }),
    }),
  );
  seams.onLiveRecorded?.(live);
  const runnerOptions = await liveRunnerOptions(config, live, embedderFactory(seams));
  return { ...(await routeAndReport(config, runnerOptions, seams)), live };
}

/**
 * A multi-agent experiment (`mode: debate`): every mechanism at every token budget on the benchmark
 * questions, answered live (resuming from `<output>/multiagent-runs.jsonl`), reported as one policy per
 * mechanism and one point per budget.
 */
async function runMultiAgentExperiment(config: ExperimentConfig, seams: ExperimentSeams) {
  const embedder = await embedderFactory(seams)(config.embedder);
  const createLlamaCppModel = await llamaCppFactory(config, seams);
  const sweep = await withProgress(seams, (onProgress) =>
    runMultiAgentSweep({
      config,
      env: seams.env,
      embeddings: embedder === "hashing" ? createHashingEmbeddings() : embedder,
      onProgress,
      ...(createLlamaCppModel === undefined ? {} : { createLlamaCppModel }),
      ...(seams.configFile === undefined ? {} : { configFile: seams.configFile }),
    }),
  );
  let skipped = false;
  const onPlotSkipped = (error: MissingPeerDependencyError) => {
    if (!skipped) seams.onPlotSkipped?.(error);
    skipped = true;
  };
  const files = await writeReport(sweep.report, config.output, writeOptions(seams, onPlotSkipped));
  let tokensPlot: string | undefined;
  if (!skipped) {
    try {
      tokensPlot = await writeTokensPlot(sweep.report, config.output, { overwrite: seams.overwrite === true });
    } catch (error) {
      if (!MissingPeerDependencyError.isInstance(error)) throw error;
      onPlotSkipped(error);
    }
  }
  return {
    report: sweep.report,
    files,
    multiAgent: { sweep, ...(tokensPlot === undefined ? {} : { tokensPlot }) },
  };
}

/** Route the recorded outcomes (the ledger open for the run), then write the report. */
async function routeAndReport(
  config: ExperimentConfig,
  runnerOptions: RecordedEvaluationOptions,
  seams: ExperimentSeams,
): Promise<{ report: EvalReport; files: WrittenReport }> {
  const { runEvaluation = runRecordedEvaluation, openLedger } = seams;
  // A `ledgerPoints` list naming a point the run has no pass for is refused before the ledger is opened.
  if (openLedger !== undefined && seams.ledgerPoints !== undefined) {
    parseConfig("runRecordedEvaluation options", recordedEvaluationOptionsSchema, {
      ...runnerOptions,
      ledgerPoints: seams.ledgerPoints,
    });
  }
  const ledger = await openLedger?.();
  let report: EvalReport;
  let runFailed = false;
  try {
    report = await withProgress(seams, (onProgress) =>
      runEvaluation({
        ...runnerOptions,
        onProgress,
        ...(ledger === undefined ? {} : { ledger }),
        ...(ledger === undefined || seams.ledgerPoints === undefined ? {} : { ledgerPoints: seams.ledgerPoints }),
      }),
    );
  } catch (error) {
    runFailed = true;
    throw error;
  } finally {
    // Closed (and awaited) however the run ended; a failure to close never hides the run's own error.
    await ledger?.close().catch((error: unknown) => {
      if (!runFailed) throw error;
    });
  }
  report = { ...report, config: { ...report.config, experiment: plainConfig(config) } };
  const files = await writeReport(report, config.output, writeOptions(seams, seams.onPlotSkipped));
  return { report, files };
}

/** Run one phase with a fresh progress reporter, stopped however the phase ends. */
async function withProgress<T>(
  seams: ExperimentSeams,
  phase: (onProgress: (event: EvaluationProgress) => void) => Promise<T>,
): Promise<T> {
  const progress = seams.startProgress?.();
  try {
    return await phase((event) => progress?.onProgress(event));
  } finally {
    progress?.stop();
  }
}

function embedderFactory(seams: ExperimentSeams): EmbedderFactory {
  return (
    seams.createEmbedder ??
    ((kind) => {
      if (kind === "hashing") return "hashing";
      throw new GavelError(
        `runExperiment: the "${kind}" embedder needs seams.createEmbedder (e.g. () => new UniversalSentenceEncoderEmbeddings() from langchain-gavel/encoder), or set embedder: hashing`,
      );
    })
  );
}

async function llamaCppFactory(
  config: ExperimentConfig,
  seams: ExperimentSeams,
): Promise<LlamaCppModelFactory | undefined> {
  if (config.backend.kind !== "llamacpp" || seams.loadLlamaCppModel === undefined) return undefined;
  return seams.loadLlamaCppModel();
}

function writeOptions(seams: ExperimentSeams, onPlotSkipped: ExperimentSeams["onPlotSkipped"]): WriteReportOptions {
  return {
    overwrite: seams.overwrite === true,
    ...(onPlotSkipped === undefined ? {} : { onPlotSkipped }),
    ...(seams.renderPlot === undefined ? {} : { renderPlot: seams.renderPlot }),
  };
}

/** The config as plain JSON for the report (no functions, no absolute home paths beyond what was given). */
function plainConfig(config: ExperimentConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config)) as Record<string, unknown>;
}
