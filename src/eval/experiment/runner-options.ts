/**
 * From an experiment to the options of `runRecordedEvaluation`: the keys of a recorded experiment map
 * one to one; a subset of models, or data whose models are not RouterBench's, needs the outcomes loaded
 * first (to keep the subset, to pick the reference pair).
 */
import { indexOutcomes, loadRecordedOutcomes, type OutcomeIndex } from "../data/outcomes.js";
import { DataError, NotImplementedError } from "../errors.js";
import type { RecordedBenchmarkExperiment } from "../live/run.js";
import { singleModelBaselines } from "../report/metrics.js";
import type { EmbeddingsLike } from "../routing/embedding.js";
import type { RecordedEvaluationOptions } from "../routing/options.js";
import type { ExperimentConfig } from "./config.js";

/** Builds the embedder an experiment names: an `Embeddings`, or `"hashing"` for the built-in one. */
export type EmbedderFactory = (
  kind: ExperimentConfig["embedder"],
) => EmbeddingsLike | "hashing" | Promise<EmbeddingsLike | "hashing">;

/**
 * Map a recorded experiment onto `runRecordedEvaluation` options (the keys match one to one).
 *
 * @throws NotImplementedError for benchmark data, or `backend.models` together with `data.train`.
 * @throws DataError when `backend.models` names a model with no recorded outcomes, or no
 *   reference pair can be picked.
 * @example
 * ```ts
 * const config = await loadExperimentConfig("configs/default.yaml");
 * const report = await runRecordedEvaluation(await runnerOptionsOf(config, () => "hashing"));
 * ```
 */
export async function runnerOptionsOf(
  config: ExperimentConfig,
  createEmbedder: EmbedderFactory,
): Promise<RecordedEvaluationOptions> {
  if (config.data.source !== "recorded")
    throw new NotImplementedError("benchmark data: not implemented in this version");
  const { data, routers, sweep, targets } = config;
  const options: RecordedEvaluationOptions = {
    embedder: await createEmbedder(config.embedder),
    split: data.split,
    trainFraction: data.trainFraction,
    seed: config.seed,
    routers: routers.use,
    protocols: routers.protocols,
    targetAccuracyShare: targets.accuracyShare,
    targetCostShare: targets.costShare,
    parityCostShare: targets.parityCostShare,
  };
  const optional: Partial<RecordedEvaluationOptions> = {
    title: config.title,
    outcomesPath: data.outcomes,
    trainOutcomesPath: data.train === "none" ? undefined : data.train,
    noTraining: data.train === "none" ? true : undefined,
    maxPrompts: data.maxPrompts,
    strongModel: routers.strongModel,
    weakModel: routers.weakModel,
    k: routers.k,
    priorStrength: routers.priorStrength,
    onlineExploration: routers.onlineExploration,
    confidenceLambda: routers.confidenceLambda,
    staticLambdas: routers.staticLambdas,
    lambdas: sweep?.kind === "lambda" ? sweep.lambdas : undefined,
    // The hashing embedder takes microseconds: caching it would only litter the disk.
    embeddingCacheDirectory:
      config.embeddingCache === false || config.embedder === "hashing" ? undefined : config.embeddingCache,
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) (options as Record<string, unknown>)[key] = value;
  }
  const subset = config.backend.kind === "recorded" ? config.backend.models : undefined;
  const chooseReference =
    data.outcomes !== undefined && (routers.strongModel === undefined || routers.weakModel === undefined);
  if (subset === undefined && !chooseReference) return options;

  // Load the outcomes here (once; the runner takes the index) to keep a subset of models or to pick the
  // reference pair of a data set whose models are not RouterBench's.
  if (subset !== undefined && data.train !== undefined && data.train !== "none") {
    throw new NotImplementedError("backend.models together with data.train: not implemented in this version");
  }
  const file = data.outcomes ?? "the shipped outcomes";
  let records = await loadRecordedOutcomes(data.outcomes === undefined ? {} : { path: data.outcomes });
  if (subset !== undefined) {
    const present = new Set(records.map((record) => record.model));
    const unknown = subset.filter((model) => !present.has(model));
    if (unknown.length > 0) {
      throw new DataError({
        file,
        fields: ["backend.models"],
        problem: `no recorded outcomes for ${unknown.map((model) => `"${model}"`).join(", ")}`,
      });
    }
    const keep = new Set(subset);
    records = records.filter((record) => keep.has(record.model));
  }
  const index = indexOutcomes(records, file);
  options.outcomes = index;
  delete options.outcomesPath;
  if (chooseReference) {
    const pair = referencePair(index);
    options.strongModel = routers.strongModel ?? pair.strongModel;
    options.weakModel = routers.weakModel ?? pair.weakModel;
  }
  return options;
}

/**
 * Runner options for a recorded benchmark experiment: the routers, sweep and targets of the config over
 * the outcomes just recorded (already sampled: no `maxPrompts`), split by seed. The reference pair,
 * when the config names none, is picked from the recorded accuracies as for any outcomes file.
 *
 * @example
 * ```ts
 * const live = await recordBenchmarkExperiment({ config, env: process.env });
 * const report = await runRecordedEvaluation(await liveRunnerOptions(config, live, () => "hashing"));
 * ```
 */
export async function liveRunnerOptions(
  config: ExperimentConfig,
  live: Pick<RecordedBenchmarkExperiment, "index" | "outcomesPath">,
  createEmbedder: EmbedderFactory,
): Promise<RecordedEvaluationOptions> {
  if (config.data.source !== "benchmark") throw new Error("liveRunnerOptions: needs benchmark data");
  const named = config.routers.strongModel !== undefined && config.routers.weakModel !== undefined;
  const pair = named ? undefined : referencePair(live.index);
  const recorded: ExperimentConfig = {
    ...config,
    title: config.title ?? `${config.name}: ${config.data.benchmark} answered live by ${config.backend.kind}`,
    data: {
      source: "recorded",
      outcomes: live.outcomesPath,
      split: "seeded",
      trainFraction: config.data.trainFraction,
    },
    backend: { kind: "recorded" },
    routers: {
      ...config.routers,
      strongModel: config.routers.strongModel ?? pair?.strongModel,
      weakModel: config.routers.weakModel ?? pair?.weakModel,
    },
  };
  const options = await runnerOptionsOf(recorded, createEmbedder);
  delete options.outcomesPath;
  return { ...options, outcomes: live.index };
}

/**
 * The RouteLLM reference pair of a data set, when the config names none: the strong model is the most
 * accurate single model (ties: the dearer), the weak model the cheapest model that is less accurate.
 *
 * @throws DataError when every model is equally accurate.
 * @example
 * ```ts
 * const { strongModel, weakModel } = referencePair(await loadOutcomeIndex({ path: "my-run.jsonl" }));
 * ```
 */
export function referencePair(index: OutcomeIndex): { strongModel: string; weakModel: string } {
  const singles = singleModelBaselines(index);
  const strong = [...singles].sort(
    (left, right) => right.accuracy - left.accuracy || right.meanCostUsd - left.meanCostUsd,
  )[0];
  const weak = singles
    .filter((single) => strong !== undefined && single.accuracy < strong.accuracy)
    .sort((left, right) => left.meanCostUsd - right.meanCostUsd || left.accuracy - right.accuracy)[0];
  if (strong === undefined || weak === undefined) {
    throw new DataError({
      file: "recorded outcomes",
      problem:
        "cannot pick a strong and a weak model: every model is equally accurate (set routers.strongModel and routers.weakModel)",
    });
  }
  return { strongModel: strong.name, weakModel: weak.name };
}
