/**
 * The recorded evaluation runner: split recorded outcomes into a training and a held-out part, then
 * measure the SHIPPED router — `AuctionRouter` over a pool of `RecordedChatModel` members, in bidding
 * modes `memory` and `auto`, under the `batch` and `online` protocols, along a λ sweep — against
 * every single model, random routing at matched cost, the per-task static choice and the oracle, in
 * the same run. Returns an `EvalReport`. See docs/routing-on-recorded-data.md.
 *
 * Read top to bottom: load and split, embed, price, the router passes (passes.ts), the ledger, the
 * baselines, the measures and targets, the report.
 */

import { parseConfig } from "../../errors.js";
import { indexOutcomes, loadRecordedOutcomes, type OutcomeIndex, type OutcomeRecord } from "../data/outcomes.js";
import { MetricError } from "../errors.js";
import {
  averagePerformanceGapRecovered,
  bestRandomMixtureAtCost,
  callPerformanceThreshold,
  operatingPointsFromCosts,
  oracle,
  type PolicyEvaluation,
  paretoArea,
  paretoFrontier,
  singleModelBaselines,
  splitPromptIds,
  staticPerTaskChoice,
} from "../report/metrics.js";
import type { EvalReport, OperatingPoint, PolicyResult } from "../report/results.js";
import { createHashingEmbeddings, type EmbeddingsLike, embedWithCache, promptTail } from "./embedding.js";
import {
  normalisedPointKey,
  pointKey,
  type RecordedEvaluationOptions,
  type ResolvedRecordedEvaluationOptions,
  recordedEvaluationOptionsSchema,
} from "./options.js";
import { runShippedPasses } from "./passes.js";
import { createPromptLookup } from "./recorded-model.js";
import { fitMemberPrices, PrecomputedEmbeddings } from "./shipped.js";
import { randomShareOfStrongCalls, shareOfStrongCalls } from "./strong-share.js";

export {
  DEFAULT_LAMBDAS,
  DEFAULT_STATIC_LAMBDAS,
  DEFAULT_STRONG_MODEL,
  DEFAULT_WEAK_MODEL,
  type EvaluationProgress,
  type RecordedEvaluationOptions,
  type ResolvedRecordedEvaluationOptions,
  recordedEvaluationOptionsSchema,
} from "./options.js";

// ---------------------------------------------------------------------------------------------
// Load and split
// ---------------------------------------------------------------------------------------------

interface Prepared {
  index: OutcomeIndex;
  train: string[];
  test: string[];
  split: string;
  source: string;
}

function recordsOf(index: OutcomeIndex): OutcomeRecord[] {
  return index.promptIds.flatMap((promptId) => [...index.outcomesOf(promptId).values()]);
}

async function loadAndSplit(config: ResolvedRecordedEvaluationOptions): Promise<Prepared> {
  const { outcomes, outcomesPath, trainOutcomesPath, maxPrompts, split, trainFraction, seed, noTraining } = config;
  let index =
    outcomes ?? indexOutcomes(await loadRecordedOutcomes(outcomesPath === undefined ? {} : { path: outcomesPath }));
  const source =
    outcomes !== undefined ? "(index given)" : (outcomesPath ?? "data/routerbench/outcomes.jsonl.gz (shipped)");
  let trainIds: string[] | undefined;
  if (trainOutcomesPath !== undefined) {
    const trainRecords = await loadRecordedOutcomes({ path: trainOutcomesPath });
    trainIds = [...new Set(trainRecords.map((record) => record.prompt_id))];
    index = indexOutcomes([...trainRecords, ...recordsOf(index)], `${trainOutcomesPath} + ${source}`);
  }
  if (maxPrompts !== undefined && maxPrompts < index.promptIds.length) {
    const kept = new Set(
      splitPromptIds(index.promptIds, { trainFraction: maxPrompts / index.promptIds.length, seed }).train,
    );
    index = indexOutcomes(
      recordsOf(index).filter((record) => kept.has(record.prompt_id)),
      source,
    );
  }
  if (noTraining) {
    return { index, train: [], test: [...index.promptIds], split: "no training part (--train none)", source };
  }
  if (trainIds !== undefined) {
    const trainSet = new Set(trainIds);
    return {
      index,
      train: index.promptIds.filter((id) => trainSet.has(id)),
      test: index.promptIds.filter((id) => !trainSet.has(id)),
      split: `trained on ${trainOutcomesPath}`,
      source,
    };
  }
  const splitNames = new Set(index.promptIds.map((id) => index.promptInfo(id)?.split));
  const fieldPartitions = splitNames.has("train") && splitNames.size > 1;
  if (split === "field" || (split === "auto" && fieldPartitions)) {
    if (!fieldPartitions) {
      throw new MetricError(
        `split "field": the records' split field does not partition the data (values: ${[...splitNames].join(", ")})`,
      );
    }
    return {
      index,
      train: index.promptIds.filter((id) => index.promptInfo(id)?.split === "train"),
      test: index.promptIds.filter((id) => index.promptInfo(id)?.split !== "train"),
      split: "the records' split field: train vs the rest",
      source,
    };
  }
  const { train, test } = splitPromptIds(index.promptIds, { trainFraction, seed });
  return { index, train, test, split: `seeded splitPromptIds (trainFraction ${trainFraction}, seed ${seed})`, source };
}

// ---------------------------------------------------------------------------------------------
// Complete prompts, embeddings, prices
// ---------------------------------------------------------------------------------------------

/**
 * Keep the prompts every pool model answered: a recorded member cannot answer a prompt it has no
 * record for, and the router does not know which prompts those are.
 */
export function completePrompts(
  index: OutcomeIndex,
  promptIds: readonly string[],
  models: readonly string[],
): string[] {
  return promptIds.filter((promptId) => {
    const outcomes = index.outcomesOf(promptId);
    return models.every((model) => outcomes.has(model));
  });
}

/** The id an embedder is known by: the option, else its `id` when a string, else its class name. */
export function runEmbedderId(embedder: EmbeddingsLike | "hashing", explicit?: string): string {
  if (explicit !== undefined) return explicit;
  if (embedder === "hashing") return createHashingEmbeddings().id;
  const named = (embedder as { id?: unknown }).id;
  return typeof named === "string" ? named : embedder.constructor.name;
}

/**
 * Embed the text the router embeds for each prompt (its tail: `requestText` of a one-message
 * request) once, through the on-disk cache, and wrap the embedder so the router reuses the vectors.
 */
export async function precomputeEmbeddings(
  index: OutcomeIndex,
  promptIds: readonly string[],
  options: {
    embedder: EmbeddingsLike | "hashing";
    embedderId?: string | undefined;
    cacheDirectory?: string | undefined;
    onProgress?: (done: number, total: number) => void;
  },
): Promise<{ embeddings: PrecomputedEmbeddings; dimensions: number; seconds: number }> {
  const embedder = options.embedder === "hashing" ? createHashingEmbeddings() : options.embedder;
  const id = runEmbedderId(options.embedder, options.embedderId);
  const texts = [...new Set(promptIds.map((promptId) => promptTail(index.promptInfo(promptId)?.prompt ?? "")))];
  const started = Date.now();
  const vectors = await embedWithCache({
    embedder,
    texts,
    embedderId: id,
    ...(options.cacheDirectory === undefined ? {} : { cacheDirectory: options.cacheDirectory }),
    ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
  });
  const byText = new Map(texts.map((text, position) => [text, vectors[position] as number[]]));
  return {
    embeddings: new PrecomputedEmbeddings({ id, vectors: byText, embedder }),
    dimensions: vectors[0]?.length ?? 0,
    seconds: (Date.now() - started) / 1000,
  };
}

// ---------------------------------------------------------------------------------------------
// Tallies
// ---------------------------------------------------------------------------------------------

function pointFromMetric(result: PolicyEvaluation, label: string, parameter?: number): OperatingPoint {
  const point: OperatingPoint = {
    label,
    accuracy: result.accuracy,
    costUsd: result.totalCostUsd,
    meanCostUsd: result.meanCostUsd,
    prompts: result.requests,
    calls: Object.values(result.requestsByModel).reduce((total, count) => total + count, 0),
    largestModelShare: result.largestModelShare ?? 0,
    callsByModel: { ...result.requestsByModel },
  };
  if (parameter !== undefined) point.parameter = parameter;
  if (result.costEfficiency !== undefined) point.costEfficiency = result.costEfficiency;
  return point;
}

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/** A run id unique to the millisecond, short: `run-` + base-36 epoch ms. */
function defaultLedgerRunId(now: Date): string {
  return `run-${now.getTime().toString(36)}`;
}

/** The keys of the points `ledgerPoints` asks for, among the router policies' points. */
function recordedPointKeys(which: ResolvedRecordedEvaluationOptions["ledgerPoints"], policies: PolicyResult[]) {
  const routers = policies.filter((policy) => policy.kind === "router");
  const keysOf = (policy: PolicyResult, points: readonly OperatingPoint[]) =>
    points.map((point) => pointKey(policy.name, point.parameter ?? Number.NaN));
  if (which === "all") return new Set(routers.flatMap((policy) => keysOf(policy, policy.points)));
  if (Array.isArray(which)) return new Set(which.map(normalisedPointKey));
  const most = which === "frontier" ? Number.POSITIVE_INFINITY : which.frontier;
  return new Set(
    routers.flatMap((policy) => {
      const frontier = paretoFrontier(policy.points.map((point) => ({ ...point, costUsd: point.meanCostUsd })));
      return keysOf(policy, spread(frontier, most));
    }),
  );
}

/** At most `most` of `points` (sorted), evenly spread from the first to the last. */
function spread<Point>(points: readonly Point[], most: number): Point[] {
  if (points.length <= most) return [...points];
  if (most === 1) return points.slice(-1);
  const positions = new Set(
    Array.from({ length: most }, (_, step) => Math.round((step * (points.length - 1)) / (most - 1))),
  );
  return [...positions].map((position) => points[position] as Point);
}

function jsonConfig(config: ResolvedRecordedEvaluationOptions, embedderId: string): Record<string, unknown> {
  const { outcomes, ledger, onProgress, now, embedder, ...plain } = config;
  return {
    ...plain,
    embedder: embedderId,
    outcomes: outcomes === undefined ? undefined : "(index given)",
    pool: "RecordedChatModel per model (AuctionRouter members, prices fitted on the training part)",
    ledger: ledger !== undefined,
  };
}

const percent = (value: number) => `${(100 * value).toFixed(1)}%`;

/**
 * Run the recorded evaluation and return its report.
 *
 * @param options - See {@link recordedEvaluationOptionsSchema}; `embedder` is required (`"hashing"` or any
 *   LangChain `Embeddings`, e.g. `new UniversalSentenceEncoderEmbeddings()` from the adapters).
 * @throws ConfigError naming each bad option; DataError on a bad outcomes file; MetricError when
 *   the split leaves a part empty or the strong model does not beat the weak one on the held-out part.
 * @example
 * ```ts
 * const report = await runRecordedEvaluation({
 *   embedder: new UniversalSentenceEncoderEmbeddings(),
 *   embeddingCacheDirectory: ".cache/embeddings",
 *   onProgress: ({ phase, done, total }) => console.log(phase, done, total),
 * });
 * for (const policy of report.policies) console.log(policy.name, policy.protocol, policy.metrics?.paretoArea);
 * ```
 */
export async function runRecordedEvaluation(options: RecordedEvaluationOptions): Promise<EvalReport> {
  const config = parseConfig("runRecordedEvaluation options", recordedEvaluationOptionsSchema, options);
  const { strongModel, weakModel, seed, ledger } = config;
  const progress = config.onProgress ?? (() => undefined);
  const started = Date.now();

  progress({ phase: "load", done: 0, total: 1 });
  const prepared = await loadAndSplit(config);
  const { index, split, source } = prepared;
  progress({ phase: "load", done: 1, total: 1 });
  for (const model of [strongModel, weakModel]) {
    if (!index.models.includes(model)) throw new MetricError(`model "${model}" is not in the recorded outcomes`);
  }
  const models = [...index.models];
  const train = completePrompts(index, prepared.train, models);
  const test = completePrompts(index, prepared.test, models);
  const dropped = prepared.train.length + prepared.test.length - train.length - test.length;
  if (test.length === 0 || (train.length === 0 && !config.noTraining)) {
    throw new MetricError(
      `the split left ${train.length} training and ${test.length} held-out prompts answered by every model; both must be non-empty`,
    );
  }

  // Embed what the router embeds, once, through the cache; price each member from the training records.
  const { embeddings, dimensions, seconds } = await precomputeEmbeddings(index, [...train, ...test], {
    embedder: config.embedder,
    embedderId: config.embedderId,
    cacheDirectory: config.embeddingCacheDirectory,
    onProgress: (done, total) => progress({ phase: "embed", done, total }),
  });
  const priceFrom = train.length > 0 ? train : test;
  const lookup = createPromptLookup(index);
  const prices = fitMemberPrices(lookup, priceFrom, models);

  // The router passes: AuctionRouter.invoke on every held-out prompt, per mode, protocol and λ.
  const passes = await runShippedPasses({
    index,
    train,
    test,
    prices,
    lookup,
    embeddings,
    modes: config.routers,
    protocols: config.protocols,
    lambdas: config.lambdas,
    confidenceLambda: config.confidenceLambda,
    onlineExploration: config.onlineExploration,
    neighbours: config.k,
    priorStrength: config.priorStrength,
    seed,
    strongModel,
    bufferLedger: ledger !== undefined,
    onProgress: progress,
  });
  const policies: PolicyResult[] = [...passes.policies];

  // The ledger: what the router wrote during the passes asked for (`ledgerPoints`), sent as it wrote it.
  let ledgerCounts: { points: number; writes: number; runId: string } | undefined;
  if (ledger !== undefined) {
    const recorded = recordedPointKeys(config.ledgerPoints, policies);
    const runId = config.ledgerRunId ?? defaultLedgerRunId(config.now?.() ?? new Date());
    const chosen = [...passes.ledgers].filter(([key]) => recorded.has(key)).map(([, pass]) => pass);
    for (const [key, pass] of passes.ledgers) {
      if (!recorded.has(key)) continue;
      const [policy = "", parameter = ""] = key.split(":");
      await pass.replay(ledger, {
        scope: { kind: "run", id: runId },
        metadata: { policy, parameter: Number(parameter), runId },
      });
    }
    ledgerCounts = { points: chosen.length, writes: chosen.reduce((total, pass) => total + pass.writes, 0), runId };
  }

  // The baselines, on the same held-out prompts.
  progress({ phase: "baselines", done: 0, total: 1 });
  const policyOptions = { promptIds: test, largestModel: strongModel };
  const singles = singleModelBaselines(index, policyOptions);
  for (const single of singles) {
    policies.push({
      name: `single:${single.name}`,
      kind: "baseline",
      description: `${single.name} alone (scored on the ${single.requests} held-out prompts it has).`,
      points: [pointFromMetric(single, single.name)],
    });
  }
  const routerPoints = policies.filter((policy) => policy.kind === "router").flatMap((policy) => policy.points);
  const randomAt = (meanCostUsd: number) => {
    try {
      return bestRandomMixtureAtCost(index, { ...policyOptions, targetMeanCostUsd: meanCostUsd });
    } catch (error) {
      if (MetricError.isInstance(error)) return undefined;
      throw error;
    }
  };
  const randomPoints = [...new Set(routerPoints.map((point) => point.meanCostUsd))]
    .sort((left, right) => left - right)
    .flatMap((meanCost) => {
      const mixture = randomAt(meanCost);
      return mixture === undefined ? [] : [pointFromMetric(mixture, mixture.name, meanCost)];
    });
  policies.push({
    name: "random",
    kind: "baseline",
    description:
      "Best random mixture of any two models at each router point's mean cost (closed form, bestRandomMixtureAtCost).",
    points: randomPoints,
  });
  // The per-task static choice is fitted on the training part: none without one (--train none).
  if (train.length > 0) {
    policies.push({
      name: "static-per-task",
      kind: "baseline",
      description:
        "Per task, the one model maximising training accuracy − λ × mean USD per prompt (λ sweep, fitted on the training part; it reads each prompt's dataset: a baseline, not a router).",
      points: config.staticLambdas.map((lambda) =>
        pointFromMetric(
          staticPerTaskChoice(index, { ...policyOptions, trainPromptIds: train, lambda }),
          `λ=${lambda}`,
          lambda,
        ),
      ),
    });
  }
  policies.push({
    name: "oracle",
    kind: "baseline",
    description: "The cheapest model that was right on each prompt (an upper bound, not a router).",
    points: [pointFromMetric(oracle(index, policyOptions), "oracle")],
  });
  progress({ phase: "baselines", done: 1, total: 1 });

  // RouteLLM measures and Pareto area.
  const strong = singles.find((single) => single.name === strongModel) as PolicyEvaluation;
  const weak = singles.find((single) => single.name === weakModel) as PolicyEvaluation;
  const gap = { weakAccuracy: weak.accuracy, strongAccuracy: strong.accuracy };
  const cheapestCost = Math.min(...singles.map((single) => single.meanCostUsd));
  const notes: string[] = [];
  for (const policy of policies) {
    if (policy.kind !== "router" && policy.name !== "random" && policy.name !== "static-per-task") continue;
    if (policy.points.length === 0) continue;
    const costPoints = policy.points.map((point) => ({ costUsd: point.meanCostUsd, accuracy: point.accuracy }));
    const metrics: NonNullable<PolicyResult["metrics"]> = {
      paretoArea: paretoArea(costPoints, { minCostUsd: cheapestCost, maxCostUsd: strong.meanCostUsd }),
    };
    if (gap.strongAccuracy > gap.weakAccuracy && strong.meanCostUsd > weak.meanCostUsd) {
      const shares = operatingPointsFromCosts(costPoints, {
        weakCostUsd: weak.meanCostUsd,
        strongCostUsd: strong.meanCostUsd,
      });
      metrics.apgr = averagePerformanceGapRecovered(shares, gap);
      const cpt50 = callPerformanceThreshold(shares, { ...gap, target: 0.5 });
      const cpt80 = callPerformanceThreshold(shares, { ...gap, target: 0.8 });
      if (cpt50 !== undefined) metrics.cpt50 = cpt50;
      if (cpt80 !== undefined) metrics.cpt80 = cpt80;
    }
    policy.metrics = metrics;
  }

  // Targets (in domain, batch; the share of strong calls for the online policies).
  const targets: NonNullable<EvalReport["targets"]> = [];
  const describePoint = (point: OperatingPoint) =>
    `${point.label}: accuracy ${point.accuracy.toFixed(3)} (${percent(point.accuracy / strong.accuracy)} of ${strong.accuracy.toFixed(3)}) at $${point.meanCostUsd.toPrecision(3)}/prompt (${percent(point.meanCostUsd / strong.meanCostUsd)} of $${strong.meanCostUsd.toPrecision(3)})`;
  const operatingTarget = (policy: PolicyResult, accuracyShare: number, costShare: number) => {
    const accuracyBar = accuracyShare * strong.accuracy;
    const costBar = costShare * strong.meanCostUsd;
    const within = policy.points
      .filter((point) => point.meanCostUsd <= costBar)
      .sort((left, right) => right.accuracy - left.accuracy);
    const best = within.find((point) => point.accuracy >= accuracyBar - 1e-12);
    const closest = within[0];
    targets.push({
      description: `${policy.name}: an operating point with ≥ ${Math.round(accuracyShare * 100)}% of ${strongModel}'s accuracy at ≤ ${Math.round(costShare * 100)}% of its cost`,
      met: best !== undefined,
      detail:
        best !== undefined
          ? describePoint(best)
          : `best point within the cost bar: ${closest === undefined ? "none" : describePoint(closest)}; needed accuracy ≥ ${accuracyBar.toFixed(3)}`,
    });
  };
  const staticPolicy = policies.find((policy) => policy.name === "static-per-task");
  for (const policy of policies.filter((candidate) => candidate.kind === "router")) {
    if (policy.protocol === "batch") {
      operatingTarget(policy, 1, config.parityCostShare);
      operatingTarget(policy, config.targetAccuracyShare, config.targetCostShare);
      const area = policy.metrics?.paretoArea;
      const staticArea = staticPolicy?.metrics?.paretoArea;
      if (area !== undefined && staticArea !== undefined) {
        targets.push({
          description: `${policy.name}: Pareto area above the per-task static choice's`,
          met: area > staticArea,
          detail: `${area.toFixed(4)} vs ${staticArea.toFixed(4)} (static-per-task)`,
        });
      }
    } else {
      const share = shareOfStrongCalls(
        policy.points.map((point) => ({
          strongShare: (point.callsByModel[strongModel] ?? 0) / Math.max(1, point.prompts),
          accuracy: point.accuracy,
        })),
        { strongAccuracy: strong.accuracy, weakAccuracy: weak.accuracy, target: config.targetAccuracyShare },
      );
      const random = randomShareOfStrongCalls({
        strongAccuracy: strong.accuracy,
        weakAccuracy: weak.accuracy,
        target: config.targetAccuracyShare,
      });
      targets.push({
        description: `${policy.name}: share of ${strongModel} calls needed for ${Math.round(config.targetAccuracyShare * 100)}% of its accuracy below random routing's (over all ${models.length} models, so not RouteLLM's two-model figure; see --leave-out)`,
        met: share < random,
        detail: `${percent(share)} (interpolated along the λ sweep) vs random ${percent(random)} (closed form, ${weakModel} vs ${strongModel})`,
      });
    }
  }

  const rule = passes.confidence;
  notes.push(
    `Weak model ${weakModel} (accuracy ${weak.accuracy.toFixed(3)}, $${weak.meanCostUsd.toPrecision(3)}/prompt) and strong model ${strongModel} (accuracy ${strong.accuracy.toFixed(3)}, $${strong.meanCostUsd.toPrecision(3)}/prompt) on the held-out part.`,
    `The routers are the shipped AuctionRouter (mode "memory" and "auto") over ${models.length} RecordedChatModel members, each prompt routed by router.invoke(prompt, { metadata: { prompt_id } }); the router is never told a prompt's dataset. Plans mode is not evaluated: recorded models cannot write plans.`,
    `Member prices fitted on the ${train.length > 0 ? "training" : "evaluated (--train none)"} records: Σ cost_usd ÷ Σ tokens per model (prompt tokens counted with js-tiktoken plus the response's), one USD-per-million rate for input and output: ${[
      ...prices,
    ]
      .map(([model, price]) => `${model} ${price.inputPerMillion.toPrecision(3)}`)
      .join(", ")}. Accuracy and cost of every point are the recorded grades and recorded USD of the calls made.`,
    `Batch protocol: the memory is loaded from the ${train.length} training prompts (learnOutcomes: every recorded outcome) and frozen during the test pass (its add and recordOutcome are discarded), exploration 0. Online protocol: the ${test.length} held-out prompts in one seeded order (seed ${seed + 1}), ${train.length > 0 ? "from a fresh copy of the training memory" : "from an empty memory (--train none)"} for each λ, every called member's recorded grade fed back with router.recordOutcome (bandit feedback), exploration ${config.onlineExploration}.`,
    !config.routers.includes("auto")
      ? "auto mode not evaluated: no confidence rule fitted."
      : rule.fitted
        ? `auto's confidence rule fitted on the training part (leave-one-out replay of ${rule.samples} prompts, memory path vs escalation path, at λ ${config.confidenceLambda}): minEvidence ${rule.minEvidence}, maxSpread ${rule.maxSpread} (utility ${rule.utility?.toFixed(2)}).`
        : `auto's confidence rule: the router's default (minEvidence ${rule.minEvidence}, maxSpread ${rule.maxSpread}); no training part to fit it on.`,
    `Embedder ${embeddings.id} (${dimensions}-d) on the text the router embeds (the prompt's tail: the question, few-shot examples dropped); embedding took ${seconds.toFixed(1)} s${config.embeddingCacheDirectory === undefined ? " (no cache)" : ` (cache ${config.embeddingCacheDirectory})`}.`,
    `APGR/CPT: router points mapped to an equivalent strong-call share by cost (operatingPointsFromCosts); Pareto area over [$${cheapestCost.toPrecision(3)}, $${strong.meanCostUsd.toPrecision(3)}] per prompt (step).`,
  );
  if (dropped > 0) {
    notes.push(
      `${dropped} prompt(s) not answered by every model were left out (a recorded member cannot answer them).`,
    );
  }
  if (ledgerCounts !== undefined) {
    const { ledgerPoints } = config;
    const which = Array.isArray(ledgerPoints)
      ? "the points asked for"
      : ledgerPoints === "all"
        ? "every point"
        : ledgerPoints === "frontier"
          ? "each router's Pareto-optimal points"
          : `at most ${ledgerPoints.frontier} Pareto-optimal points per router`;
    notes.push(
      `Ledger: the router's own writes (auctions, charges, outcomes; bids without the estimate's meta) of ${ledgerCounts.points} of ${passes.ledgers.size} operating points (${which}), in scope run/${ledgerCounts.runId}, each tagged with its policy and λ: ${ledgerCounts.writes} writes.`,
    );
  }
  notes.push(`Wall time ${((Date.now() - started) / 1000).toFixed(1)} s.`);

  return {
    title: config.title,
    createdAt: (config.now ?? (() => new Date()))().toISOString(),
    dataset: {
      name: [...new Set(index.promptIds.map((id) => index.promptInfo(id)?.eval_name))].join(", "),
      source,
      trainPrompts: train.length,
      testPrompts: test.length,
      models,
      split,
    },
    strongModel,
    weakModel,
    policies,
    targets,
    config: {
      ...jsonConfig(config, embeddings.id),
      confidenceRule: { minEvidence: rule.minEvidence, maxSpread: rule.maxSpread, fitted: rule.fitted },
    },
    notes,
  };
}
