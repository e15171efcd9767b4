/**
 * A benchmark experiment recorded live: the config's benchmark tasks, its live pool, the recording,
 * and the outcome index the routers then replay ("record, then route", docs/live-evaluation.md).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { indexOutcomes, type OutcomeIndex } from "../data/outcomes.js";
import { createPythonRunner, type PythonRunner } from "../data/python.js";
import { DataError } from "../errors.js";
import type { ExperimentConfig } from "../experiment/config.js";
import type { EvaluationProgress } from "../routing/options.js";
import { LiveBackendError } from "./errors.js";
import { createLivePool, isLiveBackend, type LivePool, type LivePoolOptions } from "./pool.js";
import { type LiveRecording, recordLiveOutcomes } from "./record.js";
import { type LiveTask, loadLiveTasks } from "./tasks.js";

/** File name of the outcomes cache in the output folder. */
export const LIVE_OUTCOMES_FILE = "live-outcomes.jsonl";
/** File name of the failed calls in the output folder. */
export const LIVE_ERRORS_FILE = "live-errors.jsonl";

/** Options of {@link recordBenchmarkExperiment}. */
export interface RecordBenchmarkExperimentOptions {
  /** A validated experiment with `data.source: benchmark` and a live backend. */
  config: ExperimentConfig;
  env: Readonly<Record<string, string | undefined>>;
  /** Builds local GGUF models (the CLI passes `LlamaCppChatModel`). */
  createLlamaCppModel?: LivePoolOptions["createLlamaCppModel"];
  /** Runs code answers (HumanEval, MBPP). Default: `createPythonRunner()` with its limits. */
  pythonRunner?: PythonRunner;
  onProgress?: (event: EvaluationProgress) => void;
  /** Checks that an Ollama server answers before any call. Default: `GET <baseURL>/models`, 5 s. */
  probe?: (url: string) => Promise<void>;
  configFile?: string;
}

/** A recorded benchmark experiment. */
export interface RecordedBenchmarkExperiment {
  /** The cache of canonical outcome lines (`<output>/live-outcomes.jsonl`). */
  outcomesPath: string;
  /** Failed calls (`<output>/live-errors.jsonl`). */
  errorsPath: string;
  /** This run's (task, model) outcomes, indexed: what the routers replay. */
  index: OutcomeIndex;
  recording: LiveRecording;
  /** Pool models with no price (local): their calls cost 0 USD. */
  unpricedModels: string[];
}

/**
 * Record every pool model's answer to the experiment's benchmark tasks (resuming from the cache in the
 * output folder) and index them for the routers.
 *
 * @throws MissingApiKeyError naming the variable, before anything else.
 * @throws DataError when a GGUF file is missing; LiveBackendError when Ollama does not answer or a
 *   model keeps failing; LiveBudgetReachedError when the budget stops the recording.
 * @example
 * ```ts
 * const config = await loadExperimentConfig("configs/gsm8k.yaml");
 * const live = await recordBenchmarkExperiment({ config, env: process.env });
 * const report = await runRecordedEvaluation({ outcomes: live.index, embedder: "hashing" });
 * ```
 */
export async function recordBenchmarkExperiment(
  options: RecordBenchmarkExperimentOptions,
): Promise<RecordedBenchmarkExperiment> {
  const { config, onProgress } = options;
  const { backend } = config;
  if (!isLiveBackend(backend)) throw new Error("recordBenchmarkExperiment: needs a live backend");
  const { pool, tasks } = await createLiveBenchmark(config, options);
  try {
    const outcomesPath = join(config.output, LIVE_OUTCOMES_FILE);
    const errorsPath = join(config.output, LIVE_ERRORS_FILE);
    const recording = await recordLiveOutcomes({
      tasks,
      pool,
      outcomesPath,
      errorsPath,
      concurrency: backend.concurrency,
      budget: { maxUsd: config.budget?.maxUsd, maxTokens: config.budget?.maxTokens },
      ...(onProgress === undefined ? {} : { onProgress }),
    });
    if (recording.records.length === 0) {
      throw new LiveBackendError({
        backend: backend.kind,
        problem: `no call succeeded: nothing to route (see ${errorsPath})`,
      });
    }
    return {
      outcomesPath,
      errorsPath,
      index: indexOutcomes(recording.records, outcomesPath),
      recording,
      unpricedModels: pool.models.filter((entry) => entry.unpriced).map((entry) => entry.name),
    };
  } finally {
    await pool.dispose();
  }
}

/** What {@link createLiveBenchmark} needs: the seams of a live benchmark run. */
export type OpenLiveBenchmarkOptions = Pick<
  RecordBenchmarkExperimentOptions,
  "env" | "createLlamaCppModel" | "pythonRunner" | "probe" | "configFile"
>;

/**
 * The live pool of a benchmark experiment and its sampled tasks, with every check that can fail made
 * before any paid call: the GGUF files exist, the Ollama server answers, Python starts for a code
 * benchmark. The caller owns the pool and disposes it.
 *
 * @throws DataError when a GGUF file is missing; LiveBackendError when Ollama does not answer.
 */
export async function createLiveBenchmark(
  config: ExperimentConfig,
  { env, createLlamaCppModel, pythonRunner: givenRunner, probe = probeServer, configFile }: OpenLiveBenchmarkOptions,
): Promise<{ pool: LivePool; tasks: LiveTask[] }> {
  const { data, backend } = config;
  if (data.source !== "benchmark" || !isLiveBackend(backend)) {
    throw new Error("createLiveBenchmark: needs data.source benchmark and a live backend");
  }
  if (backend.kind === "llamacpp") {
    for (const path of backend.models) {
      if (!existsSync(path))
        throw new DataError({ file: path, fields: ["backend.models"], problem: "no such GGUF file" });
    }
  }
  const pool: LivePool = createLivePool({
    backend,
    env,
    ...(config.prices === undefined ? {} : { prices: config.prices }),
    ...(createLlamaCppModel === undefined ? {} : { createLlamaCppModel }),
    ...(configFile === undefined ? {} : { configFile }),
  });
  try {
    if (backend.kind === "ollama" && pool.baseURL !== undefined) await probe(pool.baseURL);
    const code = data.benchmark === "humaneval" || data.benchmark === "mbpp";
    const pythonRunner = code ? (givenRunner ?? createPythonRunner()) : undefined;
    // Before any paid call: a code benchmark whose answers cannot be checked would waste them.
    if (pythonRunner !== undefined) await pythonRunner.run("pass");
    const tasks = await loadLiveTasks({
      benchmark: data.benchmark,
      seed: config.seed,
      ...(data.path === undefined ? {} : { path: data.path }),
      ...(data.limit === undefined ? {} : { limit: data.limit }),
      ...(data.maxPrompts === undefined ? {} : { maxPrompts: data.maxPrompts }),
      ...(pythonRunner === undefined ? {} : { pythonRunner }),
    });
    return { pool, tasks };
  } catch (error) {
    await pool.dispose();
    throw error;
  }
}

/** `GET <baseURL>/models` answers within 5 s, or a LiveBackendError that says how to start the server. */
async function probeServer(baseURL: string): Promise<void> {
  try {
    await fetch(`${baseURL}/models`, { signal: AbortSignal.timeout(5_000) });
  } catch (error) {
    throw new LiveBackendError(
      {
        backend: "ollama",
        problem: `no server answers at ${baseURL} (${error instanceof Error ? error.message : String(error)}): start it with \`ollama serve\` and pull the models, or set backend.baseURL`,
      },
      { cause: error },
    );
  }
}
