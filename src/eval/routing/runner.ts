/**
 * The recorded evaluation runner: split recorded outcomes into a training and a held-out part, warm
 * the outcome memory on the training part, route the held-out part online with the memory-bid
 * auction (λ sweep) and the escalation policy (threshold sweep), and compare them in the same run
 * with every single model, random routing at matched cost, the per-task static choice and the oracle.
 * Returns an `EvalReport`. See docs/routing-on-recorded-data.md.
 *
 * Read top to bottom: load and split, embed, fit, the caller, the router passes, the baselines,
 * the measures and targets, the report.
 */

import { countMessageTokens, countTextTokens } from "../../budget/tokens.js";
import { parseConfig } from "../../errors.js";
import { hashTask } from "../../ledger/task-hash.js";
import type { AuctionInput, ChargeInput } from "../../ledger/types.js";
import type { AuctionOutcome } from "../../market/types.js";
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
import { fitCascades, fitTaskLadders, routeCascadeAuctionOnline, withCascadeRecords } from "./cascade.js";
import { createHashingEmbeddings, embedWithCache, promptTail } from "./embedding.js";
import { fitTrainingProfile, type TrainingProfile } from "./estimator.js";
import {
  type AskModel,
  type CallResult,
  fitAgreementValues,
  type RoutedPrompt,
  routeEscalationOnline,
} from "./online.js";
import {
  normalisedPointKey,
  pointKey,
  type RecordedEvaluationOptions,
  type ResolvedRecordedEvaluationOptions,
  recordedEvaluationOptionsSchema,
} from "./options.js";
import { createOutcomeMemory } from "./outcome-memory.js";

export {
  type ChatModelLike,
  DEFAULT_ESCALATION_THRESHOLDS,
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
  const { outcomes, outcomesPath, trainOutcomesPath, maxPrompts, split, trainFraction, seed } = config;
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
// The caller: every routed call goes through it (a chat model pool, or a replay of the index)
// ---------------------------------------------------------------------------------------------

function createCaller(index: OutcomeIndex, config: ResolvedRecordedEvaluationOptions): AskModel {
  const { pool } = config;
  const cache = new Map<string, Promise<CallResult>>();
  const promptTokens = new Map<string, number>();
  const replay = async (promptId: string, model: string): Promise<CallResult> => {
    const cell = index.outcome(promptId, model);
    if (cell === "unavailable") throw new MetricError(`${model} is unavailable for prompt ${promptId}`);
    let inputTokens = cell.input_tokens ?? promptTokens.get(promptId);
    if (inputTokens === undefined) {
      inputTokens = countMessageTokens([{ role: "user", content: cell.prompt }], model);
      promptTokens.set(promptId, inputTokens);
    }
    const response = cell.response ?? "";
    return {
      model,
      correct: cell.correct,
      costUsd: cell.cost_usd,
      response,
      inputTokens,
      outputTokens: cell.output_tokens ?? countTextTokens(response, model),
      estimated: cell.input_tokens === undefined || cell.output_tokens === undefined,
    };
  };
  const viaPool = async (promptId: string, model: string): Promise<CallResult> => {
    const chatModel = pool?.[model];
    const cell = index.outcome(promptId, model);
    if (chatModel === undefined || cell === "unavailable") return replay(promptId, model);
    const reply = await chatModel.invoke(cell.prompt, { metadata: { prompt_id: promptId } });
    const metadata = reply.response_metadata ?? {};
    const content = typeof reply.content === "string" ? reply.content : JSON.stringify(reply.content);
    const result: CallResult = {
      model,
      correct: typeof metadata.correct === "number" ? metadata.correct : cell.correct,
      costUsd: typeof metadata.cost_usd === "number" ? metadata.cost_usd : cell.cost_usd,
      response: content,
      estimated: metadata.estimatedUsage === true,
    };
    if (reply.usage_metadata !== undefined) {
      result.inputTokens = reply.usage_metadata.input_tokens;
      result.outputTokens = reply.usage_metadata.output_tokens;
    }
    return result;
  };
  const call = pool === undefined ? replay : viaPool;
  return (promptId, model) => {
    const key = `${promptId}\u0000${model}`;
    let result = cache.get(key);
    if (result === undefined) {
      result = call(promptId, model);
      cache.set(key, result);
    }
    return result;
  };
}

// ---------------------------------------------------------------------------------------------
// Tallies and operating points
// ---------------------------------------------------------------------------------------------

function pointFromRouted(
  routed: readonly RoutedPrompt[],
  label: string,
  parameter: number,
  largestModel: string,
): OperatingPoint {
  let correct = 0;
  let costUsd = 0;
  let calls = 0;
  let largest = 0;
  let input = 0;
  let output = 0;
  let tokensKnown = true;
  let estimated = false;
  const callsByModel: Record<string, number> = {};
  for (const prompt of routed) {
    correct += prompt.final.correct;
    if (prompt.final.model === largestModel) largest++;
    for (const call of prompt.calls) {
      calls++;
      costUsd += call.costUsd;
      callsByModel[call.model] = (callsByModel[call.model] ?? 0) + 1;
      if (call.inputTokens === undefined || call.outputTokens === undefined) tokensKnown = false;
      else {
        input += call.inputTokens;
        output += call.outputTokens;
      }
      if (call.estimated === true) estimated = true;
    }
  }
  const prompts = routed.length;
  const accuracy = prompts === 0 ? 0 : correct / prompts;
  const point: OperatingPoint = {
    label,
    parameter,
    accuracy,
    costUsd,
    meanCostUsd: prompts === 0 ? 0 : costUsd / prompts,
    prompts,
    calls,
    largestModelShare: prompts === 0 ? 0 : largest / prompts,
    callsByModel,
  };
  if (tokensKnown && prompts > 0) {
    point.tokens = { input, output, estimated };
    const meanTokens = (input + output) / prompts;
    if (meanTokens > 0) point.costEfficiency = accuracy / (meanTokens / 1000);
  }
  return point;
}

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

function defaultLadder(profile: TrainingProfile, strongModel: string): string[] {
  const strongCost = profile.meanCostUsd(strongModel, "");
  const cheap = profile.models
    .filter((model) => model !== strongModel && profile.meanCostUsd(model, "") <= 0.1 * strongCost)
    .sort((left, right) => profile.accuracy(right, "") - profile.accuracy(left, "") || (left < right ? -1 : 1))
    .slice(0, 2)
    .sort((left, right) => profile.meanCostUsd(left, "") - profile.meanCostUsd(right, ""));
  return [...cheap, strongModel];
}

function embedderIdOf(config: ResolvedRecordedEvaluationOptions): string {
  if (config.embedderId !== undefined) return config.embedderId;
  if (config.embedder === "hashing") return createHashingEmbeddings().id;
  const named = (config.embedder as { id?: unknown }).id;
  return typeof named === "string" ? named : config.embedder.constructor.name;
}

/** Auctions or charges written to the ledger at a time (see the ledger write at the end of the run). */
const LEDGER_BATCH = 500;

/** What one (policy, parameter) pass would write to the ledger. */
interface LedgerPass {
  auctions: AuctionInput[];
  charges: ChargeInput[];
  outcomes: Array<{ auctionId: string; correct: boolean; label: string }>;
}

/** A run id unique to the millisecond, short (it prefixes every auction id): `run-` + base-36 epoch ms. */
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

/**
 * An auction as the ledger keeps it from a recorded run: every bid's bidder, rank, amount, price and
 * reason (and, in `values`, its value), without the estimator's `meta` and the `detail` sentence,
 * which the reason and the amounts already say — a third of the bytes.
 */
function compactOutcome(outcome: AuctionOutcome): AuctionOutcome {
  return { ...outcome, results: outcome.results.map(({ meta: _meta, ...bid }) => ({ ...bid, detail: "" })) };
}

function jsonConfig(
  config: ResolvedRecordedEvaluationOptions,
  embedderId: string,
  ladder: readonly string[],
  laddersByTask: Record<string, string[]>,
): Record<string, unknown> {
  const { outcomes, pool, ledger, onProgress, now, embedder, ...plain } = config;
  return {
    ...plain,
    embedder: embedderId,
    outcomes: outcomes === undefined ? undefined : "(index given)",
    pool: pool === undefined ? "replay of the index" : `chat models: ${Object.keys(pool).length}`,
    ledger: ledger !== undefined,
    escalationModels: config.escalationModels === undefined ? laddersByTask : [...ladder],
  };
}

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
 * for (const policy of report.policies) console.log(policy.name, policy.metrics?.apgr);
 * ```
 */
export async function runRecordedEvaluation(options: RecordedEvaluationOptions): Promise<EvalReport> {
  const config = parseConfig("runRecordedEvaluation options", recordedEvaluationOptionsSchema, options);
  const { strongModel, weakModel, k, priorStrength, sameTaskNeighbours, seed, ledger } = config;
  const progress = config.onProgress ?? (() => undefined);
  const started = Date.now();

  progress({ phase: "load", done: 0, total: 1 });
  const { index, train, test, split, source } = await loadAndSplit(config);
  progress({ phase: "load", done: 1, total: 1 });
  if (train.length === 0 || test.length === 0) {
    throw new MetricError(
      `the split left ${train.length} training and ${test.length} held-out prompts; both must be non-empty`,
    );
  }
  for (const model of [strongModel, weakModel]) {
    if (!index.models.includes(model)) throw new MetricError(`model "${model}" is not in the recorded outcomes`);
  }

  // Embed every prompt (its tail), through the cache.
  const embedder = config.embedder === "hashing" ? createHashingEmbeddings() : config.embedder;
  const embedderId = embedderIdOf(config);
  const allIds = [...train, ...test];
  const texts = allIds.map((id) => {
    const prompt = index.promptInfo(id)?.prompt ?? "";
    return config.embedTail ? promptTail(prompt) : prompt;
  });
  const embedStarted = Date.now();
  const embedded = await embedWithCache({
    embedder,
    texts,
    embedderId,
    ...(config.embeddingCacheDirectory === undefined ? {} : { cacheDirectory: config.embeddingCacheDirectory }),
    onProgress: (done, total) => progress({ phase: "embed", done, total }),
  });
  const embedSeconds = (Date.now() - embedStarted) / 1000;
  const vectors = new Map(allIds.map((id, position) => [id, embedded[position] as number[]]));
  const dimensions = embedded[0]?.length ?? 0;

  // Fit on the training part: priors, costs, the warm memory (every recorded outcome of every training prompt).
  const profile = fitTrainingProfile(index, train);
  const warm = createOutcomeMemory({ dimensions });
  for (const promptId of train) {
    const outcomes = new Map(
      [...index.outcomesOf(promptId)].map(([model, record]) => [model, record.correct] as const),
    );
    warm.add(
      { promptId, evalName: index.promptInfo(promptId)?.eval_name ?? "", outcomes },
      vectors.get(promptId) as number[],
    );
  }
  const ask = createCaller(index, config);
  const ladder = config.escalationModels ?? defaultLadder(profile, strongModel);
  const ladderOf =
    config.escalationModels === undefined
      ? fitTaskLadders(index, train, {
          strongModel,
          memberCostShare: config.cascadeMemberCostShare,
          fallbackLadder: ladder,
        })
      : () => ladder;
  const tasks = [...new Set(index.promptIds.map((id) => index.promptInfo(id)?.eval_name ?? ""))].sort();
  const laddersByTask = Object.fromEntries(tasks.map((task) => [task, [...ladderOf(task)]]));
  for (const model of ladder) {
    if (!index.models.includes(model))
      throw new MetricError(`escalation model "${model}" is not in the recorded outcomes`);
  }

  // The router passes.
  const policies: PolicyResult[] = [];
  // The ledger: what each (policy, parameter) pass would record, kept apart so only the requested
  // points are written (`ledgerPoints`), compactly (a bid's value, never its estimator details).
  const ledgerRunId = config.ledgerRunId ?? defaultLedgerRunId(config.now?.() ?? new Date());
  const runScope = { kind: "run", id: ledgerRunId } as const;
  const ledgerPasses = new Map<string, LedgerPass>();
  const record = (policy: string, parameter: number) => {
    const pass: LedgerPass = { auctions: [], charges: [], outcomes: [] };
    ledgerPasses.set(pointKey(policy, parameter), pass);
    return (routed: RoutedPrompt) => {
      if (ledger === undefined) return;
      const auctionId = `${ledgerRunId}:${policy}:${parameter}:${routed.promptId}`;
      const metadata = { policy, parameter, promptId: routed.promptId };
      if (routed.auction !== undefined) {
        const task = index.promptInfo(routed.promptId)?.prompt ?? "";
        pass.auctions.push({
          id: auctionId,
          kind: "route",
          outcome: compactOutcome(routed.auction),
          scope: runScope,
          taskHash: hashTask(task),
          values: Object.fromEntries(routed.auction.results.map((bid) => [bid.bidder, Number(bid.meta?.value ?? 0)])),
          metadata,
        });
        pass.outcomes.push({ auctionId, correct: routed.final.correct >= 1, label: routed.promptId });
      }
      for (const call of routed.calls) {
        const charge: ChargeInput = {
          kind: "settle",
          model: call.model,
          scope: runScope,
          inputTokens: call.inputTokens ?? 0,
          outputTokens: call.outputTokens ?? 0,
          usd: call.costUsd,
          estimated: call.estimated ?? true,
          label: call === routed.final ? "answer" : "escalation",
          metadata,
        };
        if (routed.auction !== undefined) charge.auctionId = auctionId;
        pass.charges.push(charge);
      }
    };
  };
  const context = (policy: string, parameter: number, memory = warm, routerProfile = profile) => {
    let done = 0;
    const onLedger = record(policy, parameter);
    return {
      index,
      promptIds: test,
      vectors,
      memory: memory.fork(),
      profile: routerProfile,
      ask,
      k,
      priorStrength,
      sameTaskNeighbours,
      seed,
      costScale: config.costScale,
      onRouted: (routed: RoutedPrompt) => {
        onLedger(routed);
        done++;
        if (done % 50 === 0 || done === test.length)
          progress({ phase: "route", policy, parameter, done, total: test.length });
      },
    };
  };

  if (config.routers.includes("memory-auction")) {
    // Agreement cascades bid beside the models (fitted on the training part; none when `cascadeBidders` is off).
    const cascades = config.cascadeBidders
      ? fitCascades(index, train, {
          strongModel,
          perTask: config.cascadesPerTask,
          memberCostShare: config.cascadeMemberCostShare,
        })
      : [];
    const cascadeView = withCascadeRecords(index, train, cascades);
    const cascadeMemory = createOutcomeMemory({ dimensions });
    for (const promptId of train) {
      cascadeMemory.add(
        { promptId, evalName: index.promptInfo(promptId)?.eval_name ?? "", outcomes: cascadeView.outcomesOf(promptId) },
        vectors.get(promptId) as number[],
      );
    }
    const points: OperatingPoint[] = [];
    for (const lambda of config.lambdas) {
      const routed = await routeCascadeAuctionOnline(
        context("memory-auction", lambda, cascadeMemory, cascadeView.profile),
        { lambda, cascades },
      );
      points.push(pointFromRouted(routed, `λ=${lambda}`, lambda, strongModel));
    }
    const bidders =
      cascades.length === 0
        ? "each available model bids"
        : `each available model and each of ${cascades.length} agreement cascades fitted on the training part (two cheap models; ${strongModel} when their answers disagree; every call charged) bids`;
    policies.push({
      name: "memory-auction",
      kind: "router",
      description: `Memory-bid auction: ${bidders} its kNN-estimated accuracy (k=${k}, prior strength ${priorStrength}) minus λ × its normalised mean cost; first price, seeded ties; no planning tokens.`,
      points,
    });
  }
  if (config.routers.includes("escalation")) {
    const agreementValue = fitAgreementValues(index, train, ladderOf);
    const points: OperatingPoint[] = [];
    for (const threshold of config.escalationThresholds) {
      const routed = await routeEscalationOnline(context("escalation", threshold), {
        ladder: ladderOf,
        threshold,
        agreementValue,
        relativeThreshold: config.escalationRelative,
      });
      points.push(pointFromRouted(routed, `τ=${threshold}`, threshold, strongModel));
    }
    policies.push({
      name: "escalation",
      kind: "router",
      description: `Escalation over ${Object.entries(laddersByTask)
        .map(([task, models]) => `${task}: ${models.join(" → ")}`)
        .join(
          "; ",
        )}: stop when the estimated value${config.escalationRelative ? " ÷ the top rung's" : ""} reaches τ (and, on multiple choice, the two last answers agree); every call charged.`,
      points,
    });
  }

  let ledgerCounts: { points: number; auctions: number; charges: number } | undefined;
  if (ledger !== undefined) {
    const recorded = recordedPointKeys(config.ledgerPoints, policies);
    const passes = [...ledgerPasses].filter(([key]) => recorded.has(key)).map(([, pass]) => pass);
    const auctions = passes.flatMap((pass) => pass.auctions);
    const charges = passes.flatMap((pass) => pass.charges);
    // In batches, each landed before the next: behind another writer's lock, a ledger with a write
    // queue holds a bounded number of records, and one batch of the whole run would overflow it.
    for (let start = 0; start < auctions.length; start += LEDGER_BATCH) {
      await ledger.recordAuctions(auctions.slice(start, start + LEDGER_BATCH));
      await ledger.flush?.();
    }
    for (let start = 0; start < charges.length; start += LEDGER_BATCH) {
      await ledger.recordCharges(charges.slice(start, start + LEDGER_BATCH));
      await ledger.flush?.();
    }
    for (const pass of passes) for (const outcome of pass.outcomes) await ledger.recordOutcome(outcome);
    ledgerCounts = { points: passes.length, auctions: auctions.length, charges: charges.length };
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
  policies.push({
    name: "static-per-task",
    kind: "baseline",
    description:
      "Per task, the one model maximising training accuracy − λ × mean USD per prompt (λ sweep, fitted on the training part).",
    points: config.staticLambdas.map((lambda) =>
      pointFromMetric(
        staticPerTaskChoice(index, { ...policyOptions, trainPromptIds: train, lambda }),
        `λ=${lambda}`,
        lambda,
      ),
    ),
  });
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

  // Targets.
  const targets: NonNullable<EvalReport["targets"]> = [];
  const accuracyBar = config.targetAccuracyShare * strong.accuracy;
  const costBar = config.targetCostShare * strong.meanCostUsd;
  for (const policy of policies.filter((candidate) => candidate.kind === "router")) {
    const meeting = policy.points
      .filter((point) => point.accuracy >= accuracyBar && point.meanCostUsd <= costBar)
      .sort((left, right) => right.accuracy - left.accuracy);
    const best = meeting[0];
    const closest = [...policy.points]
      .filter((point) => point.meanCostUsd <= costBar)
      .sort((left, right) => right.accuracy - left.accuracy)[0];
    targets.push({
      description: `${policy.name}: an operating point with ≥ ${Math.round(config.targetAccuracyShare * 100)}% of ${strongModel}'s accuracy at ≤ ${Math.round(config.targetCostShare * 100)}% of its cost`,
      met: best !== undefined,
      detail:
        best !== undefined
          ? `${best.label}: accuracy ${best.accuracy.toFixed(3)} (${((100 * best.accuracy) / strong.accuracy).toFixed(1)}% of ${strong.accuracy.toFixed(3)}) at $${best.meanCostUsd.toPrecision(3)}/prompt (${((100 * best.meanCostUsd) / strong.meanCostUsd).toFixed(1)}% of $${strong.meanCostUsd.toPrecision(3)})`
          : `best point within the cost bar: ${closest === undefined ? "none" : `${closest.label}, accuracy ${closest.accuracy.toFixed(3)} (${((100 * closest.accuracy) / strong.accuracy).toFixed(1)}%) at ${((100 * closest.meanCostUsd) / strong.meanCostUsd).toFixed(1)}% of the cost`}; needed accuracy ≥ ${accuracyBar.toFixed(3)}`,
    });
    const frontier = paretoFrontier(
      policy.points.map((point) => ({ costUsd: point.meanCostUsd, accuracy: point.accuracy, label: point.label })),
    );
    const margins = frontier.flatMap((point) => {
      const random = randomAt(point.costUsd);
      return random === undefined ? [] : [{ label: point.label ?? "", margin: point.accuracy - random.accuracy }];
    });
    const worst = margins.sort((left, right) => left.margin - right.margin)[0];
    targets.push({
      description: `${policy.name}: no Pareto-frontier point below the best random mixture at the same cost`,
      met: worst === undefined || worst.margin >= -1e-9,
      detail:
        worst === undefined
          ? "no frontier point costs as much as the cheapest model"
          : `smallest margin ${worst.margin >= 0 ? "+" : ""}${worst.margin.toFixed(3)} at ${worst.label} (${margins.length} frontier points compared)`,
    });
  }

  notes.push(
    `Weak model ${weakModel} (accuracy ${weak.accuracy.toFixed(3)}, $${weak.meanCostUsd.toPrecision(3)}/prompt) and strong model ${strongModel} (accuracy ${strong.accuracy.toFixed(3)}, $${strong.meanCostUsd.toPrecision(3)}/prompt) on the held-out part.`,
    `Embedder ${embedderId} (${dimensions}-d) on ${config.embedTail ? "the prompt tail (the question, few-shot examples dropped)" : "the whole prompt"}; embedding took ${embedSeconds.toFixed(1)} s${config.embeddingCacheDirectory === undefined ? " (no cache)" : ` (cache ${config.embeddingCacheDirectory})`}.`,
    `Online protocol: the held-out prompts are routed in order; after each one the router remembers it with the outcome of the model(s) it called only. Each λ / τ pass starts from the same warm training memory (${train.length} prompts, every recorded outcome).`,
    `APGR/CPT: router points mapped to an equivalent strong-call share by cost (operatingPointsFromCosts); Pareto area over [$${cheapestCost.toPrecision(3)}, $${strong.meanCostUsd.toPrecision(3)}] per prompt (step).`,
    `Wall time ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );
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
      `Ledger: run ${ledgerRunId} recorded ${ledgerCounts.points} of ${ledgerPasses.size} operating points (${which}): ${ledgerCounts.auctions} routing auctions, ${ledgerCounts.charges} charges.`,
    );
  }

  return {
    title: config.title,
    createdAt: (config.now ?? (() => new Date()))().toISOString(),
    dataset: {
      name: [...new Set(index.promptIds.map((id) => index.promptInfo(id)?.eval_name))].join(", "),
      source,
      trainPrompts: train.length,
      testPrompts: test.length,
      models: [...index.models],
      split,
    },
    strongModel,
    weakModel,
    policies,
    targets,
    config: jsonConfig(config, embedderId, ladder, laddersByTask),
    notes,
  };
}
