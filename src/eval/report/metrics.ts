/**
 * Metrics of a run and baselines from recorded outcomes. Pure: no I/O, no clock, no global state.
 *
 * Read top to bottom:
 * 1. Summaries of served requests — accuracy, USD cost, tokens, cost efficiency, share of the largest model.
 * 2. Policies over recorded outcomes — evaluate per-prompt decisions; the baselines every run is compared
 *    with: each single model, the oracle, random routing at matched cost, the per-task static choice.
 * 3. RouteLLM measures — PGR, CPT(x%), APGR over a curve of (strong-call share, accuracy) operating points.
 * 4. The Pareto frontier of (cost, accuracy) points and its area.
 *
 * Missing (prompt, model) cells are "unavailable": a policy that picks an unavailable model for a prompt
 * does not score that prompt (it is counted in `unavailable`), never as wrong and never as free.
 * The formulas are written out in docs/evaluation.md.
 */
import { mulberry32Float } from "../../market/random.js";
import type { OutcomeIndex, OutcomeRecord } from "../data/outcomes.js";
import { MetricError } from "../errors.js";

// ---------------------------------------------------------------------------------------------
// 1. Summaries of served requests
// ---------------------------------------------------------------------------------------------

/** One request as it was served: which model answered, whether it was right, what it cost. */
export interface ServedRequest {
  model: string;
  /** 1 correct, 0 wrong (fractions for partial credit). */
  correct: number;
  costUsd: number;
  inputTokens?: number;
  outputTokens?: number;
}

/** Accuracy, cost and tokens of a set of served requests. */
export interface RunSummary {
  /** Requests scored. */
  requests: number;
  /** Mean of `correct` (pass@1 for code). */
  accuracy: number;
  totalCostUsd: number;
  meanCostUsd: number;
  /** Input + output tokens of all requests; `undefined` unless every request carries both counts. */
  totalTokens: number | undefined;
  meanTokens: number | undefined;
  /** `accuracy / (meanTokens / 1000)`: accuracy per thousand tokens per request; `undefined` without tokens. */
  costEfficiency: number | undefined;
  /** Requests served by each model. */
  requestsByModel: Record<string, number>;
  /** Tokens used by each model (only when `totalTokens` is defined). */
  tokensByModel: Record<string, number>;
  /** The largest (dearest) model, as given or as found. */
  largestModel: string | undefined;
  /** Share of requests served by `largestModel` (0 when it served none, `undefined` when none was given). */
  largestModelShare: number | undefined;
}

/**
 * Cost efficiency as defined by the DALA reference: accuracy per thousand tokens per request.
 * @returns `accuracy / (meanTokens / 1000)`; `undefined` when `meanTokens` is not positive.
 */
export function costEfficiency(accuracy: number, meanTokens: number | undefined): number | undefined {
  if (meanTokens === undefined || !(meanTokens > 0)) return undefined;
  return accuracy / (meanTokens / 1000);
}

/**
 * Summarise served requests.
 * @param requests - At least one request.
 * @param options.largestModel - The model whose share is reported (the dearest one in the pool).
 * @throws MetricError when `requests` is empty.
 * @example
 * ```ts
 * const summary = summarizeRun(
 *   [
 *     { model: "small", correct: 1, costUsd: 0.001, inputTokens: 100, outputTokens: 20 },
 *     { model: "large", correct: 1, costUsd: 0.010, inputTokens: 100, outputTokens: 60 },
 *   ],
 *   { largestModel: "large" },
 * );
 * // accuracy 1, meanCostUsd 0.0055, meanTokens 140, costEfficiency 7.14, largestModelShare 0.5
 * ```
 */
export function summarizeRun(requests: readonly ServedRequest[], options: { largestModel?: string } = {}): RunSummary {
  const { largestModel } = options;
  if (requests.length === 0) throw new MetricError("summarizeRun: no requests to summarise");
  let correct = 0;
  let totalCostUsd = 0;
  let totalTokens: number | undefined = 0;
  const requestsByModel: Record<string, number> = {};
  const tokensByModel: Record<string, number> = {};
  for (const request of requests) {
    correct += request.correct;
    totalCostUsd += request.costUsd;
    requestsByModel[request.model] = (requestsByModel[request.model] ?? 0) + 1;
    if (totalTokens !== undefined && request.inputTokens !== undefined && request.outputTokens !== undefined) {
      const tokens = request.inputTokens + request.outputTokens;
      totalTokens += tokens;
      tokensByModel[request.model] = (tokensByModel[request.model] ?? 0) + tokens;
    } else {
      totalTokens = undefined;
    }
  }
  const accuracy = correct / requests.length;
  const meanTokens = totalTokens === undefined ? undefined : totalTokens / requests.length;
  return {
    requests: requests.length,
    accuracy,
    totalCostUsd,
    meanCostUsd: totalCostUsd / requests.length,
    totalTokens,
    meanTokens,
    costEfficiency: costEfficiency(accuracy, meanTokens),
    requestsByModel,
    tokensByModel: totalTokens === undefined ? {} : tokensByModel,
    largestModel,
    largestModelShare: largestModel === undefined ? undefined : (requestsByModel[largestModel] ?? 0) / requests.length,
  };
}

// ---------------------------------------------------------------------------------------------
// 2. Policies over recorded outcomes, and the baselines
// ---------------------------------------------------------------------------------------------

/** A policy's result on recorded outcomes: the summary of the prompts it could serve, and how many it could not. */
export interface PolicyEvaluation extends RunSummary {
  /** Display name, e.g. `gpt-4-1106-preview` or `oracle`. */
  name: string;
  /** Prompts skipped because the chosen model has no recorded outcome for them. */
  unavailable: number;
}

/** Which model a policy sends a prompt to: a map by prompt id, or a function. */
export type Decisions = ReadonlyMap<string, string> | ((promptId: string) => string | undefined);

/** Options shared by the policies. */
export interface PolicyOptions {
  /** Prompts to evaluate on; default every prompt of the index. */
  promptIds?: readonly string[];
  /** Model whose share is reported; default the dearest model of the index ({@link dearestModel}). */
  largestModel?: string;
}

function toServed(record: OutcomeRecord): ServedRequest {
  const served: ServedRequest = { model: record.model, correct: record.correct, costUsd: record.cost_usd };
  if (record.input_tokens !== undefined) served.inputTokens = record.input_tokens;
  if (record.output_tokens !== undefined) served.outputTokens = record.output_tokens;
  return served;
}

/**
 * The model with the highest mean recorded cost per prompt (over the prompts where it is available).
 * @throws MetricError when the index is empty.
 */
export function dearestModel(index: OutcomeIndex, promptIds: readonly string[] = index.promptIds): string {
  let best: { model: string; meanCost: number } | undefined;
  for (const model of index.models) {
    let total = 0;
    let count = 0;
    for (const promptId of promptIds) {
      const cell = index.outcome(promptId, model);
      if (cell === "unavailable") continue;
      total += cell.cost_usd;
      count++;
    }
    if (count === 0) continue;
    const meanCost = total / count;
    if (best === undefined || meanCost > best.meanCost) best = { model, meanCost };
  }
  if (best === undefined) throw new MetricError("dearestModel: no recorded outcomes");
  return best.model;
}

/**
 * Score per-prompt decisions against recorded outcomes. Prompts whose chosen model is unavailable, or
 * with no decision, are skipped and counted in `unavailable`.
 *
 * @throws MetricError when no prompt can be scored.
 * @example
 * ```ts
 * const index = await loadOutcomeIndex();
 * const cheapOnArc = evaluateDecisions(index, (id) => (id.startsWith("arc") ? "zero-one-ai/Yi-34B-Chat" : "gpt-4-1106-preview"), {
 *   name: "Yi on ARC, GPT-4 elsewhere",
 * });
 * console.log(cheapOnArc.accuracy, cheapOnArc.meanCostUsd);
 * ```
 */
export function evaluateDecisions(
  index: OutcomeIndex,
  decisions: Decisions,
  options: PolicyOptions & { name?: string } = {},
): PolicyEvaluation {
  const { promptIds = index.promptIds, name = "decisions" } = options;
  const choose = typeof decisions === "function" ? decisions : (promptId: string) => decisions.get(promptId);
  const served: ServedRequest[] = [];
  let unavailable = 0;
  for (const promptId of promptIds) {
    const model = choose(promptId);
    const cell = model === undefined ? "unavailable" : index.outcome(promptId, model);
    if (cell === "unavailable") unavailable++;
    else served.push(toServed(cell));
  }
  if (served.length === 0) throw new MetricError(`${name}: no prompt could be scored (all ${unavailable} unavailable)`);
  const largestModel = options.largestModel ?? dearestModel(index, promptIds);
  return { name, unavailable, ...summarizeRun(served, { largestModel }) };
}

/**
 * Every model alone, on the prompts where it is available (its `unavailable` count says how many it lacks).
 * @example
 * ```ts
 * for (const result of singleModelBaselines(index)) console.log(result.name, result.accuracy, result.meanCostUsd);
 * ```
 */
export function singleModelBaselines(index: OutcomeIndex, options: PolicyOptions = {}): PolicyEvaluation[] {
  const largestModel = options.largestModel ?? dearestModel(index, options.promptIds);
  return index.models.map((model) => evaluateDecisions(index, () => model, { ...options, largestModel, name: model }));
}

/** Per prompt: the oracle's pick among the available models (highest correctness, then cheapest, then by name). */
export function oracleChoice(index: OutcomeIndex, promptId: string): string | undefined {
  let best: OutcomeRecord | undefined;
  for (const record of index.outcomesOf(promptId).values()) {
    if (
      best === undefined ||
      record.correct > best.correct ||
      (record.correct === best.correct && record.cost_usd < best.cost_usd) ||
      (record.correct === best.correct && record.cost_usd === best.cost_usd && record.model < best.model)
    ) {
      best = record;
    }
  }
  return best?.model;
}

/**
 * The oracle: per prompt, the cheapest model that answered correctly; when none did, the cheapest
 * available model (counted wrong). The upper bound of any router over the same pool.
 * @example
 * ```ts
 * const best = oracle(index); // accuracy ≥ every single model, at a fraction of the dearest model's cost
 * ```
 */
export function oracle(index: OutcomeIndex, options: PolicyOptions = {}): PolicyEvaluation {
  return evaluateDecisions(index, (promptId) => oracleChoice(index, promptId), { ...options, name: "oracle" });
}

/** Result of a random mixture of two models. */
export interface RandomMixtureResult extends PolicyEvaluation {
  cheapModel: string;
  dearModel: string;
  /** Probability of sending a prompt to `dearModel`. */
  probabilityDear: number;
  /** The target mean cost per prompt. */
  targetMeanCostUsd: number;
  /** False when the target lies outside [cheap cost, dear cost] and the probability was clipped to 0 or 1. */
  reachable: boolean;
}

function meanOver(index: OutcomeIndex, promptIds: readonly string[], model: string) {
  const served: ServedRequest[] = [];
  for (const promptId of promptIds) {
    const cell = index.outcome(promptId, model);
    if (cell !== "unavailable") served.push(toServed(cell));
  }
  return summarizeRun(served);
}

function bothAvailable(index: OutcomeIndex, promptIds: readonly string[], first: string, second: string): string[] {
  return promptIds.filter(
    (promptId) => index.outcome(promptId, first) !== "unavailable" && index.outcome(promptId, second) !== "unavailable",
  );
}

/**
 * Random routing at matched cost, in closed form (no sampling): each prompt goes to `dearModel` with
 * probability p and to `cheapModel` otherwise, with p chosen so the expected mean cost equals the target:
 * `p = clip((target − c_cheap) / (c_dear − c_cheap), 0, 1)`; expected accuracy `(1 − p)·a_cheap + p·a_dear`.
 * Means are taken over the prompts where both models are available.
 *
 * @throws MetricError when the two models have the same mean cost or share no prompt.
 * @example
 * ```ts
 * const router = { meanCostUsd: 0.0015 };
 * const random = randomMixtureAtCost(index, {
 *   cheapModel: "zero-one-ai/Yi-34B-Chat",
 *   dearModel: "gpt-4-1106-preview",
 *   targetMeanCostUsd: router.meanCostUsd,
 * });
 * console.log(random.probabilityDear, random.accuracy);
 * ```
 */
export function randomMixtureAtCost(
  index: OutcomeIndex,
  options: PolicyOptions & { cheapModel: string; dearModel: string; targetMeanCostUsd: number },
): RandomMixtureResult {
  const { cheapModel, dearModel, targetMeanCostUsd, promptIds = index.promptIds } = options;
  const shared = bothAvailable(index, promptIds, cheapModel, dearModel);
  if (shared.length === 0) throw new MetricError(`randomMixtureAtCost: ${cheapModel} and ${dearModel} share no prompt`);
  const cheap = meanOver(index, shared, cheapModel);
  const dear = meanOver(index, shared, dearModel);
  if (cheap.meanCostUsd === dear.meanCostUsd) {
    throw new MetricError(`randomMixtureAtCost: ${cheapModel} and ${dearModel} have the same mean cost`);
  }
  const raw = (targetMeanCostUsd - cheap.meanCostUsd) / (dear.meanCostUsd - cheap.meanCostUsd);
  const probabilityDear = Math.min(1, Math.max(0, raw));
  const mix = (cheapValue: number, dearValue: number) =>
    (1 - probabilityDear) * cheapValue + probabilityDear * dearValue;
  const requests = shared.length;
  const accuracy = mix(cheap.accuracy, dear.accuracy);
  const meanTokens =
    cheap.meanTokens === undefined || dear.meanTokens === undefined
      ? undefined
      : mix(cheap.meanTokens, dear.meanTokens);
  const largestModel = options.largestModel ?? dearestModel(index, promptIds);
  const requestsByModel = { [cheapModel]: (1 - probabilityDear) * requests, [dearModel]: probabilityDear * requests };
  return {
    name: `random(${cheapModel}, ${dearModel}) at $${targetMeanCostUsd.toPrecision(3)}`,
    cheapModel,
    dearModel,
    probabilityDear,
    targetMeanCostUsd,
    reachable: raw >= 0 && raw <= 1,
    unavailable: promptIds.length - requests,
    requests,
    accuracy,
    meanCostUsd: mix(cheap.meanCostUsd, dear.meanCostUsd),
    totalCostUsd: mix(cheap.totalCostUsd, dear.totalCostUsd),
    totalTokens: meanTokens === undefined ? undefined : meanTokens * requests,
    meanTokens,
    costEfficiency: costEfficiency(accuracy, meanTokens),
    requestsByModel,
    tokensByModel: {},
    largestModel,
    largestModelShare: (requestsByModel[largestModel] ?? 0) / requests,
  };
}

/**
 * The best random mixture of any two models (or one model alone) whose expected mean cost is at most the
 * target: the upper envelope of {@link randomMixtureAtCost} over all pairs. The strongest "random at
 * matched cost" baseline. Models are compared on the prompts where the pair is available.
 * @throws MetricError when even the cheapest model costs more than the target.
 */
export function bestRandomMixtureAtCost(
  index: OutcomeIndex,
  options: PolicyOptions & { targetMeanCostUsd: number; models?: readonly string[] },
): PolicyEvaluation {
  const { targetMeanCostUsd, models = index.models, promptIds = index.promptIds } = options;
  const largestModel = options.largestModel ?? dearestModel(index, promptIds);
  let best: PolicyEvaluation | undefined;
  const consider = (candidate: PolicyEvaluation) => {
    if (candidate.meanCostUsd > targetMeanCostUsd * (1 + 1e-9)) return;
    if (best === undefined || candidate.accuracy > best.accuracy) best = candidate;
  };
  for (const model of models)
    consider(evaluateDecisions(index, () => model, { ...options, largestModel, name: model }));
  for (const first of models) {
    for (const second of models) {
      if (first >= second) continue;
      const shared = bothAvailable(index, promptIds, first, second);
      if (shared.length === 0) continue;
      const [cheapModel, dearModel] =
        meanOver(index, shared, first).meanCostUsd <= meanOver(index, shared, second).meanCostUsd
          ? [first, second]
          : [second, first];
      try {
        const mixture = randomMixtureAtCost(index, {
          ...options,
          largestModel,
          cheapModel,
          dearModel,
          targetMeanCostUsd,
        });
        if (mixture.reachable) consider(mixture);
      } catch (error) {
        if (!MetricError.isInstance(error)) throw error; // equal costs: nothing to mix
      }
    }
  }
  if (best === undefined) {
    throw new MetricError(`bestRandomMixtureAtCost: no model costs at most $${targetMeanCostUsd} per prompt`);
  }
  return best;
}

/** Result of the per-task static choice. */
export interface StaticChoiceResult extends PolicyEvaluation {
  /** Per task (`eval_name`), the models ranked on the training prompts, best first. */
  rankingByTask: Record<string, string[]>;
  /** The ranking used for tasks that have no training prompt. */
  overallRanking: string[];
  /** Evaluation prompts served by a lower-ranked model because the first choice was unavailable. */
  fallbacks: number;
  lambda: number;
}

function rankModels(index: OutcomeIndex, promptIds: readonly string[], lambda: number): string[] {
  const scored = index.models.map((model) => {
    let correct = 0;
    let cost = 0;
    let count = 0;
    for (const promptId of promptIds) {
      const cell = index.outcome(promptId, model);
      if (cell === "unavailable") continue;
      correct += cell.correct;
      cost += cell.cost_usd;
      count++;
    }
    const accuracy = count === 0 ? 0 : correct / count;
    const meanCost = count === 0 ? 0 : cost / count;
    return { model, count, score: accuracy - lambda * meanCost, meanCost };
  });
  scored.sort(
    (left, right) =>
      Number(right.count > 0) - Number(left.count > 0) ||
      right.score - left.score ||
      left.meanCost - right.meanCost ||
      (left.model < right.model ? -1 : 1),
  );
  return scored.map((entry) => entry.model);
}

/**
 * The per-task static choice: for each task (`eval_name`), the one model that maximises
 * `accuracy − λ · mean USD cost per prompt` on the training prompts of that task; every evaluation
 * prompt of the task goes to it (to the next in the ranking when it is unavailable for that prompt).
 *
 * @param options.trainPromptIds - Prompts the choice is made on (see {@link splitPromptIds}).
 * @param options.promptIds - Prompts it is evaluated on (default: all; pass the held-out part).
 * @param options.lambda - USD penalty in accuracy points per USD per prompt; 0 picks the most accurate model.
 * @example
 * ```ts
 * const { train, test } = splitPromptIds(index.promptIds, { trainFraction: 0.5, seed: 1 });
 * const perTask = staticPerTaskChoice(index, { trainPromptIds: train, promptIds: test, lambda: 100 });
 * console.log(perTask.rankingByTask, perTask.accuracy, perTask.meanCostUsd);
 * ```
 */
export function staticPerTaskChoice(
  index: OutcomeIndex,
  options: PolicyOptions & { trainPromptIds: readonly string[]; lambda?: number },
): StaticChoiceResult {
  const { trainPromptIds, lambda = 0, promptIds = index.promptIds } = options;
  const trainByTask = new Map<string, string[]>();
  for (const promptId of trainPromptIds) {
    const task = index.promptInfo(promptId)?.eval_name;
    if (task === undefined) continue;
    const list = trainByTask.get(task) ?? [];
    list.push(promptId);
    trainByTask.set(task, list);
  }
  const rankingByTask: Record<string, string[]> = {};
  for (const [task, ids] of trainByTask) rankingByTask[task] = rankModels(index, ids, lambda);
  const overallRanking = rankModels(index, trainPromptIds, lambda);

  let fallbacks = 0;
  const decide = (promptId: string) => {
    const task = index.promptInfo(promptId)?.eval_name;
    const ranking = (task !== undefined ? rankingByTask[task] : undefined) ?? overallRanking;
    const position = ranking.findIndex((model) => index.outcome(promptId, model) !== "unavailable");
    if (position > 0) fallbacks++;
    return position < 0 ? undefined : ranking[position];
  };
  const result = evaluateDecisions(index, decide, { ...options, promptIds, name: `per-task static (λ=${lambda})` });
  return { ...result, rankingByTask, overallRanking, fallbacks, lambda };
}

/**
 * Split prompt ids into a training and a held-out part, deterministically for a seed: the ids are
 * sorted, shuffled with a seeded PRNG (mulberry32, Fisher–Yates), and the first `round(n · trainFraction)`
 * go to `train`. Each part keeps the input order.
 * @example
 * ```ts
 * const { train, test } = splitPromptIds(index.promptIds, { trainFraction: 0.5, seed: 42 });
 * ```
 */
export function splitPromptIds(
  promptIds: readonly string[],
  options: { trainFraction?: number; seed?: number } = {},
): { train: string[]; test: string[] } {
  const { trainFraction = 0.5, seed = 0 } = options;
  if (!(trainFraction >= 0 && trainFraction <= 1)) {
    throw new MetricError(`splitPromptIds: trainFraction must be in [0, 1], got ${trainFraction}`);
  }
  const shuffled = [...new Set(promptIds)].sort();
  const random = mulberry32Float(seed);
  for (let position = shuffled.length - 1; position > 0; position--) {
    const other = Math.floor(random() * (position + 1));
    [shuffled[position], shuffled[other]] = [shuffled[other] as string, shuffled[position] as string];
  }
  const trainSet = new Set(shuffled.slice(0, Math.round(shuffled.length * trainFraction)));
  return {
    train: promptIds.filter((promptId) => trainSet.has(promptId)),
    test: promptIds.filter((promptId) => !trainSet.has(promptId)),
  };
}

// ---------------------------------------------------------------------------------------------
// 3. RouteLLM measures: PGR, CPT, APGR
// ---------------------------------------------------------------------------------------------

/** The weak and the strong model's accuracy on the same prompts: the gap a router should recover. */
export interface PerformanceGap {
  weakAccuracy: number;
  strongAccuracy: number;
}

/**
 * One operating point of a router that chooses between a weak and a strong model (the RouteLLM
 * metrics' input). Not the report's `OperatingPoint` (`results.ts`), which any policy has.
 */
export interface StrongSharePoint {
  /** Share of calls sent to the strong model, in [0, 1]. */
  strongShare: number;
  accuracy: number;
  /** Mean USD per prompt at this point, when known. */
  costUsd?: number;
}

/**
 * Performance gap recovered: `PGR = (accuracy − weak) / (strong − weak)`. 0 is the weak model, 1 the strong one.
 * @throws MetricError unless `strongAccuracy > weakAccuracy`.
 */
export function performanceGapRecovered(accuracy: number, gap: PerformanceGap): number {
  const { weakAccuracy, strongAccuracy } = gap;
  if (!(strongAccuracy > weakAccuracy)) {
    throw new MetricError(
      `PGR needs the strong model to beat the weak one (strong ${strongAccuracy}, weak ${weakAccuracy})`,
    );
  }
  return (accuracy - weakAccuracy) / (strongAccuracy - weakAccuracy);
}

/** A point of the PGR curve. */
export interface GapRecoveredPoint {
  strongShare: number;
  performanceGapRecovered: number;
}

/**
 * The PGR curve of a router: its operating points as (strong share, PGR), sorted by share.
 * Points with the same share collapse to the best one. When no point sits at share 0 (resp. 1) the
 * anchor (0, 0) — all calls to the weak model — (resp. (1, 1), all to the strong model) is added.
 * @throws MetricError when a share lies outside [0, 1] or the gap is not positive.
 */
export function gapRecoveredCurve(points: readonly StrongSharePoint[], gap: PerformanceGap): GapRecoveredPoint[] {
  const best = new Map<number, number>();
  for (const point of points) {
    if (!(point.strongShare >= 0 && point.strongShare <= 1)) {
      throw new MetricError(`strongShare must be in [0, 1], got ${point.strongShare}`);
    }
    const value = performanceGapRecovered(point.accuracy, gap);
    best.set(point.strongShare, Math.max(best.get(point.strongShare) ?? Number.NEGATIVE_INFINITY, value));
  }
  if (!best.has(0)) best.set(0, 0);
  if (!best.has(1)) best.set(1, 1);
  return [...best.entries()]
    .sort(([left], [right]) => left - right)
    .map(([strongShare, value]) => ({ strongShare, performanceGapRecovered: value }));
}

/**
 * CPT(x): the smallest share of calls to the strong model at which the router recovers at least the
 * fraction `target` of the gap (RouteLLM's "call-performance threshold"; `target` 0.5 is CPT(50%)).
 * The curve of {@link gapRecoveredCurve} is walked by increasing share and interpolated linearly on the
 * segment where PGR first reaches the target.
 *
 * @returns The share in [0, 1], or `undefined` when the curve never reaches the target.
 * @example
 * ```ts
 * const points = [{ strongShare: 0.2, accuracy: 0.7 }, { strongShare: 0.4, accuracy: 0.8 }];
 * callPerformanceThreshold(points, { weakAccuracy: 0.6, strongAccuracy: 0.9, target: 0.5 }); // 0.3
 * ```
 */
export function callPerformanceThreshold(
  points: readonly StrongSharePoint[],
  options: PerformanceGap & { target: number },
): number | undefined {
  const { target } = options;
  const curve = gapRecoveredCurve(points, options);
  for (let position = 0; position < curve.length; position++) {
    const point = curve[position] as GapRecoveredPoint;
    if (point.performanceGapRecovered < target) continue;
    const previous = curve[position - 1];
    if (previous === undefined) return point.strongShare;
    const fraction =
      (target - previous.performanceGapRecovered) / (point.performanceGapRecovered - previous.performanceGapRecovered);
    return previous.strongShare + fraction * (point.strongShare - previous.strongShare);
  }
  return undefined;
}

/**
 * APGR: the area under the PGR curve of {@link gapRecoveredCurve} over strong-call share in [0, 1],
 * by the trapezoid rule. 0.5 is what random mixing of the two models scores; 1 would be recovering the
 * whole gap at no strong call.
 * @example
 * ```ts
 * averagePerformanceGapRecovered([{ strongShare: 0.5, accuracy: 0.8 }], { weakAccuracy: 0.6, strongAccuracy: 0.8 }); // 0.75
 * ```
 */
export function averagePerformanceGapRecovered(points: readonly StrongSharePoint[], gap: PerformanceGap): number {
  const curve = gapRecoveredCurve(points, gap);
  let area = 0;
  for (let position = 1; position < curve.length; position++) {
    const left = curve[position - 1] as GapRecoveredPoint;
    const right = curve[position] as GapRecoveredPoint;
    area +=
      ((right.strongShare - left.strongShare) * (left.performanceGapRecovered + right.performanceGapRecovered)) / 2;
  }
  return area;
}

/** Operating points of a weak/strong router measured on recorded outcomes, with the gap they are judged against. */
export interface WeakStrongCurve extends PerformanceGap {
  points: StrongSharePoint[];
  /** Prompts where both models are available (the ones measured). */
  prompts: number;
  weakMeanCostUsd: number;
  strongMeanCostUsd: number;
}

function weakStrongBasis(index: OutcomeIndex, weakModel: string, strongModel: string, promptIds: readonly string[]) {
  const shared = bothAvailable(index, promptIds, weakModel, strongModel);
  if (shared.length === 0) throw new MetricError(`${weakModel} and ${strongModel} share no prompt`);
  const weak = meanOver(index, shared, weakModel);
  const strong = meanOver(index, shared, strongModel);
  return { shared, weak, strong };
}

/**
 * The operating point of one set of per-prompt decisions between a weak and a strong model.
 * Measured on the prompts where both are available; each must have a decision naming one of the two.
 * @throws MetricError on a missing decision or a decision naming another model.
 */
export function operatingPointFromDecisions(
  index: OutcomeIndex,
  decisions: Decisions,
  options: { weakModel: string; strongModel: string; promptIds?: readonly string[] },
): StrongSharePoint {
  const { weakModel, strongModel, promptIds = index.promptIds } = options;
  const { shared } = weakStrongBasis(index, weakModel, strongModel, promptIds);
  const choose = typeof decisions === "function" ? decisions : (promptId: string) => decisions.get(promptId);
  let strongCalls = 0;
  let correct = 0;
  let cost = 0;
  for (const promptId of shared) {
    const model = choose(promptId);
    if (model !== weakModel && model !== strongModel) {
      throw new MetricError(
        `prompt "${promptId}": decision ${String(model)} is neither ${weakModel} nor ${strongModel}`,
      );
    }
    if (model === strongModel) strongCalls++;
    const cell = index.outcome(promptId, model) as OutcomeRecord;
    correct += cell.correct;
    cost += cell.cost_usd;
  }
  return { strongShare: strongCalls / shared.length, accuracy: correct / shared.length, costUsd: cost / shared.length };
}

/**
 * The full threshold sweep of a scoring router: prompts with the highest scores go to the strong model.
 * One point per distinct score (ties move together), from all-weak (share 0) to all-strong (share 1).
 * Measured on the prompts where both models are available; a prompt without a score counts as −∞.
 *
 * @example
 * ```ts
 * const scores = new Map(index.promptIds.map((id) => [id, myRouter.strongProbability(id)]));
 * const curve = operatingPointsFromScores(index, scores, { weakModel: "mistralai/mixtral-8x7b-chat", strongModel: "gpt-4-1106-preview" });
 * const apgr = averagePerformanceGapRecovered(curve.points, curve);
 * const cpt50 = callPerformanceThreshold(curve.points, { ...curve, target: 0.5 });
 * ```
 */
export function operatingPointsFromScores(
  index: OutcomeIndex,
  scores: ReadonlyMap<string, number>,
  options: { weakModel: string; strongModel: string; promptIds?: readonly string[] },
): WeakStrongCurve {
  const { weakModel, strongModel, promptIds = index.promptIds } = options;
  const { shared, weak, strong } = weakStrongBasis(index, weakModel, strongModel, promptIds);
  const scored = shared
    .map((promptId) => ({
      score: scores.get(promptId) ?? Number.NEGATIVE_INFINITY,
      weak: index.outcome(promptId, weakModel) as OutcomeRecord,
      strong: index.outcome(promptId, strongModel) as OutcomeRecord,
    }))
    .sort((left, right) => (right.score > left.score ? 1 : right.score < left.score ? -1 : 0));
  const count = shared.length;
  let correct = weak.accuracy * count;
  let cost = weak.totalCostUsd;
  const points: StrongSharePoint[] = [{ strongShare: 0, accuracy: correct / count, costUsd: cost / count }];
  for (let position = 0; position < count; position++) {
    const entry = scored[position] as (typeof scored)[number];
    correct += entry.strong.correct - entry.weak.correct;
    cost += entry.strong.cost_usd - entry.weak.cost_usd;
    const next = scored[position + 1];
    if (next !== undefined && next.score === entry.score) continue;
    points.push({ strongShare: (position + 1) / count, accuracy: correct / count, costUsd: cost / count });
  }
  return {
    points,
    prompts: count,
    weakAccuracy: weak.accuracy,
    strongAccuracy: strong.accuracy,
    weakMeanCostUsd: weak.meanCostUsd,
    strongMeanCostUsd: strong.meanCostUsd,
  };
}

/**
 * Operating points from (mean cost, accuracy) points of any router, for routers that mix more than two
 * models: the cost is read as the equivalent share of strong calls,
 * `share = clip((cost − weakCost) / (strongCost − weakCost), 0, 1)` (cheaper than the weak model counts as 0,
 * dearer than the strong one as 1).
 * @throws MetricError unless `strongCostUsd > weakCostUsd`.
 */
export function operatingPointsFromCosts(
  points: ReadonlyArray<{ costUsd: number; accuracy: number }>,
  options: { weakCostUsd: number; strongCostUsd: number },
): StrongSharePoint[] {
  const { weakCostUsd, strongCostUsd } = options;
  if (!(strongCostUsd > weakCostUsd)) {
    throw new MetricError(`strongCostUsd (${strongCostUsd}) must exceed weakCostUsd (${weakCostUsd})`);
  }
  return points.map(({ costUsd, accuracy }) => ({
    strongShare: Math.min(1, Math.max(0, (costUsd - weakCostUsd) / (strongCostUsd - weakCostUsd))),
    accuracy,
    costUsd,
  }));
}

// ---------------------------------------------------------------------------------------------
// 4. Pareto frontier of (cost, accuracy)
// ---------------------------------------------------------------------------------------------

/** A (cost, accuracy) point: a model, a router setting, a budget. */
export interface CostAccuracyPoint {
  costUsd: number;
  accuracy: number;
  label?: string;
}

/**
 * The Pareto frontier: the points no other point beats on both axes (at most the cost and strictly more
 * accurate, or strictly cheaper and at least as accurate). Sorted by increasing cost; accuracy then
 * increases strictly. Of equal points the first given is kept.
 * @example
 * ```ts
 * paretoFrontier([
 *   { costUsd: 1, accuracy: 0.5 },
 *   { costUsd: 2, accuracy: 0.4 }, // dominated
 *   { costUsd: 3, accuracy: 0.9 },
 * ]); // the first and the last
 * ```
 */
export function paretoFrontier<Point extends CostAccuracyPoint>(points: readonly Point[]): Point[] {
  const sorted = points
    .map((point, position) => ({ point, position }))
    .sort(
      (left, right) =>
        left.point.costUsd - right.point.costUsd ||
        right.point.accuracy - left.point.accuracy ||
        left.position - right.position,
    );
  const frontier: Point[] = [];
  let bestAccuracy = Number.NEGATIVE_INFINITY;
  for (const { point } of sorted) {
    if (point.accuracy > bestAccuracy) {
      frontier.push(point);
      bestAccuracy = point.accuracy;
    }
  }
  return frontier;
}

/** Upper concave hull of frontier points (sorted by cost, accuracy increasing). */
function upperHull<Point extends CostAccuracyPoint>(frontier: readonly Point[]): Point[] {
  const hull: Point[] = [];
  for (const point of frontier) {
    for (;;) {
      const last = hull[hull.length - 1];
      const beforeLast = hull[hull.length - 2];
      if (last === undefined || beforeLast === undefined) break;
      const cross =
        (last.costUsd - beforeLast.costUsd) * (point.accuracy - beforeLast.accuracy) -
        (last.accuracy - beforeLast.accuracy) * (point.costUsd - beforeLast.costUsd);
      if (cross >= 0) hull.pop();
      else break;
    }
    hull.push(point);
  }
  return hull;
}

/** Options of {@link paretoArea}. */
export interface ParetoAreaOptions {
  /** Left end of the cost range; default the cheapest point's cost. */
  minCostUsd?: number;
  /** Right end of the cost range; default the dearest point's cost. */
  maxCostUsd?: number;
  /**
   * `step` (default): the accuracy reachable at budget c is that of the best point costing at most c.
   * `hull`: random mixing of two points is allowed, so it is the upper concave hull of the frontier
   * (RouterBench's AIQ uses this hull).
   */
  interpolation?: "step" | "hull";
}

/**
 * The normalised area under the Pareto frontier: the mean, over budgets c uniformly spread on
 * [minCost, maxCost], of the best accuracy reachable at cost ≤ c (0 below the cheapest point). It lies in
 * [0, 1] for accuracies in [0, 1]. Compare routers over the SAME cost range (pass it explicitly, e.g. from
 * the cheapest to the dearest single model). When the range is a single cost, returns the accuracy reachable there.
 *
 * @throws MetricError when `points` is empty or `maxCostUsd < minCostUsd`.
 * @example
 * ```ts
 * paretoArea([{ costUsd: 0, accuracy: 0.5 }, { costUsd: 1, accuracy: 1 }]); // 0.5 (step)
 * paretoArea([{ costUsd: 0, accuracy: 0.5 }, { costUsd: 1, accuracy: 1 }], { interpolation: "hull" }); // 0.75
 * ```
 */
export function paretoArea(points: readonly CostAccuracyPoint[], options: ParetoAreaOptions = {}): number {
  if (points.length === 0) throw new MetricError("paretoArea: no points");
  const costs = points.map((point) => point.costUsd);
  const { minCostUsd = Math.min(...costs), maxCostUsd = Math.max(...costs), interpolation = "step" } = options;
  if (!(maxCostUsd >= minCostUsd)) {
    throw new MetricError(`paretoArea: maxCostUsd (${maxCostUsd}) is below minCostUsd (${minCostUsd})`);
  }
  const frontier = paretoFrontier(points);
  const vertices = interpolation === "hull" ? upperHull(frontier) : frontier;
  const reachable = (cost: number): number => {
    let value = 0;
    for (let position = 0; position < vertices.length; position++) {
      const vertex = vertices[position] as CostAccuracyPoint;
      if (vertex.costUsd > cost) break;
      value = vertex.accuracy;
      const next = vertices[position + 1];
      if (interpolation === "hull" && next !== undefined && next.costUsd > cost) {
        value += ((cost - vertex.costUsd) / (next.costUsd - vertex.costUsd)) * (next.accuracy - vertex.accuracy);
      }
    }
    return value;
  };
  if (maxCostUsd === minCostUsd) return reachable(minCostUsd);

  // Between consecutive breakpoints the step function is constant and the hull linear; nothing is
  // reachable before the cheapest vertex, which is a breakpoint whenever it lies inside the range.
  const cheapestVertexCost = (vertices[0] as CostAccuracyPoint).costUsd;
  const breakpoints = [
    minCostUsd,
    ...vertices.map((vertex) => vertex.costUsd).filter((cost) => cost > minCostUsd && cost < maxCostUsd),
    maxCostUsd,
  ];
  let area = 0;
  for (let position = 1; position < breakpoints.length; position++) {
    const left = breakpoints[position - 1] as number;
    const right = breakpoints[position] as number;
    if (right <= cheapestVertexCost) continue;
    const atLeft = reachable(left);
    const atRight = interpolation === "hull" ? reachable(right) : atLeft;
    area += ((right - left) * (atLeft + atRight)) / 2;
  }
  return area / (maxCostUsd - minCostUsd);
}
