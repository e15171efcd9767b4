/**
 * Leave one dataset out: the local check of the out-of-domain target. Train on the other datasets of
 * a recorded file (the memory holds all their records), then stream the held-out dataset ONLINE
 * through the shipped `AuctionRouter` over a strong/weak pair (GPT-4-1106 and Mixtral-8x7B, the two
 * models of RouteLLM's held-out files), and read the share of strong-model calls each router needs for
 * 95% of the strong model's accuracy along its λ sweep, beside random routing's share.
 *
 * The datasets are split by `eval_name`: that is the experimenter's split, never the router's input.
 */

import { z } from "zod";
import { functionSchema, parseConfig } from "../../errors.js";
import { indexOutcomes, loadRecordedOutcomes, type OutcomeIndex } from "../data/outcomes.js";
import { DataError, MetricError } from "../errors.js";
import { singleModelBaselines } from "../report/metrics.js";
import type { EvalReport, LeaveOutRow, PolicyResult } from "../report/results.js";
import type { EmbeddingsLike } from "./embedding.js";
import {
  DEFAULT_CONFIDENCE_LAMBDA,
  DEFAULT_LAMBDAS,
  DEFAULT_NEIGHBOURS,
  DEFAULT_ONLINE_EXPLORATION,
  DEFAULT_PRIOR_STRENGTH,
  DEFAULT_STRONG_MODEL,
  DEFAULT_WEAK_MODEL,
  type EvaluationProgress,
  RECORDED_ROUTER_NAMES,
  routerPolicyName,
} from "./options.js";
import { runShippedPasses } from "./passes.js";
import { createPromptLookup } from "./recorded-model.js";
import { completePrompts, precomputeEmbeddings } from "./runner.js";
import { fitMemberPrices } from "./shipped.js";
import { randomShareOfStrongCalls, shareOfStrongCalls } from "./strong-share.js";

const isObject = (value: unknown) => typeof value === "object" && value !== null;

/**
 * Options of {@link runLeaveOneOut}. Unknown keys are rejected.
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `embedder` | — (required) | `"hashing"` or any LangChain `Embeddings` |
 * | `datasets` | every `eval_name` of the file | the datasets to hold out, one fold each |
 * | `outcomes` / `outcomesPath` | the shipped RouterBench file | the recorded outcomes |
 * | `strongModel`, `weakModel` | GPT-4-1106 / Mixtral-8x7B | the pool (and the reference pair) |
 * | `routers` | `memory`, `auto` | the router's modes |
 * | `lambdas` | the runner's default grid | λ sweep of each online stream |
 * | `targetAccuracyShare` | `0.95` | share of the strong accuracy the routers must reach |
 * | `confidenceLambda`, `onlineExploration`, `k`, `priorStrength`, `seed` | as `runRecordedEvaluation` | |
 */
export const leaveOneOutOptionsSchema = z
  .object({
    embedder: z.union([
      z.literal("hashing"),
      z.custom<EmbeddingsLike>(
        (value) => isObject(value) && typeof (value as { embedDocuments?: unknown }).embedDocuments === "function",
        'expected "hashing" or a LangChain Embeddings (an object with embedDocuments)',
      ),
    ]),
    title: z.string().min(1).default("Leave one dataset out: online out-of-domain streams"),
    datasets: z.array(z.string().min(1)).min(1).optional(),
    outcomes: z
      .custom<OutcomeIndex>(
        (value) => isObject(value) && typeof (value as { outcome?: unknown }).outcome === "function",
        "expected an OutcomeIndex",
      )
      .optional(),
    outcomesPath: z.string().min(1).optional(),
    strongModel: z.string().min(1).default(DEFAULT_STRONG_MODEL),
    weakModel: z.string().min(1).default(DEFAULT_WEAK_MODEL),
    routers: z
      .array(z.enum(RECORDED_ROUTER_NAMES))
      .min(1)
      .default([...RECORDED_ROUTER_NAMES]),
    lambdas: z
      .array(z.number().nonnegative())
      .min(1)
      .default(() => [...DEFAULT_LAMBDAS]),
    targetAccuracyShare: z.number().gt(0).max(1).default(0.95),
    confidenceLambda: z.number().nonnegative().default(DEFAULT_CONFIDENCE_LAMBDA),
    onlineExploration: z.number().min(0).max(1).default(DEFAULT_ONLINE_EXPLORATION),
    k: z.number().int().positive().default(DEFAULT_NEIGHBOURS),
    priorStrength: z.number().nonnegative().default(DEFAULT_PRIOR_STRENGTH),
    seed: z.number().int().default(0),
    embedderId: z.string().min(1).optional(),
    embeddingCacheDirectory: z.string().min(1).optional(),
    onProgress: functionSchema<(event: EvaluationProgress) => void>().optional(),
    now: z
      .custom<() => Date>((value) => typeof value === "function", "expected a function returning a Date")
      .optional(),
  })
  .strict();

/** Options of {@link runLeaveOneOut} (input form). */
export type LeaveOneOutOptions = z.input<typeof leaveOneOutOptionsSchema>;

/**
 * Run one online fold per held-out dataset and return a report whose `leaveOut` rows hold the table
 * (dataset, strong and weak accuracy, each router's share of strong calls for 95% of the strong
 * accuracy, random's share) and whose policies hold each fold's λ sweep.
 *
 * @throws ConfigError naming a bad option; DataError when a dataset is not in the file; MetricError when a fold is empty.
 * @example
 * ```ts
 * const report = await runLeaveOneOut({ embedder: "hashing", datasets: ["mbpp"] });
 * console.table(report.leaveOut);
 * ```
 */
export async function runLeaveOneOut(options: LeaveOneOutOptions): Promise<EvalReport> {
  const config = parseConfig("runLeaveOneOut options", leaveOneOutOptionsSchema, options);
  const { strongModel, weakModel, targetAccuracyShare: target } = config;
  const progress = config.onProgress ?? (() => undefined);
  const started = Date.now();
  progress({ phase: "load", done: 0, total: 1 });
  const index =
    config.outcomes ??
    indexOutcomes(await loadRecordedOutcomes(config.outcomesPath === undefined ? {} : { path: config.outcomesPath }));
  progress({ phase: "load", done: 1, total: 1 });
  const models = [strongModel, weakModel];
  for (const model of models) {
    if (!index.models.includes(model)) throw new MetricError(`model "${model}" is not in the recorded outcomes`);
  }
  const datasetOf = (promptId: string) => index.promptInfo(promptId)?.eval_name ?? "";
  const present = [...new Set(index.promptIds.map(datasetOf))].sort();
  const datasets = config.datasets ?? present;
  const unknown = datasets.filter((dataset) => !present.includes(dataset));
  if (unknown.length > 0) {
    throw new DataError({
      file: config.outcomesPath ?? "the recorded outcomes",
      fields: ["eval_name"],
      problem: `no dataset ${unknown.map((name) => `"${name}"`).join(", ")} to leave out; the file has ${present.join(", ")}`,
    });
  }
  const answered = completePrompts(index, index.promptIds, models);
  const { embeddings } = await precomputeEmbeddings(index, answered, {
    embedder: config.embedder,
    embedderId: config.embedderId,
    cacheDirectory: config.embeddingCacheDirectory,
    onProgress: (done, total) => progress({ phase: "embed", done, total }),
  });

  const lookup = createPromptLookup(index);
  const rows: LeaveOutRow[] = [];
  const policies: PolicyResult[] = [];
  const notes: string[] = [];
  for (const dataset of datasets) {
    const test = answered.filter((promptId) => datasetOf(promptId) === dataset);
    const train = answered.filter((promptId) => datasetOf(promptId) !== dataset);
    if (test.length === 0 || train.length === 0) {
      throw new MetricError(
        `leaving ${dataset} out leaves ${train.length} training and ${test.length} held-out prompts`,
      );
    }
    const prices = fitMemberPrices(lookup, train, models);
    const passes = await runShippedPasses({
      index,
      train,
      test,
      prices,
      lookup,
      embeddings,
      modes: config.routers,
      protocols: ["online"],
      lambdas: config.lambdas,
      confidenceLambda: config.confidenceLambda,
      onlineExploration: config.onlineExploration,
      neighbours: config.k,
      priorStrength: config.priorStrength,
      seed: config.seed,
      strongModel,
      bufferLedger: false,
      suffix: `-${dataset}`,
      onProgress: progress,
    });
    const singles = singleModelBaselines(index, { promptIds: test, largestModel: strongModel });
    const accuracyOf = (model: string) => singles.find((single) => single.name === model)?.accuracy ?? 0;
    const reference = { strongAccuracy: accuracyOf(strongModel), weakAccuracy: accuracyOf(weakModel), target };
    const shares: Record<string, number> = {};
    for (const mode of config.routers) {
      const policy = passes.policies.find(
        (candidate) => candidate.name === `${routerPolicyName(mode, "online")}-${dataset}`,
      );
      if (policy === undefined) continue;
      shares[routerPolicyName(mode, "online")] = shareOfStrongCalls(
        policy.points.map((point) => ({
          strongShare: (point.callsByModel[strongModel] ?? 0) / Math.max(1, point.prompts),
          accuracy: point.accuracy,
        })),
        reference,
      );
    }
    rows.push({
      dataset,
      prompts: test.length,
      strongAccuracy: reference.strongAccuracy,
      weakAccuracy: reference.weakAccuracy,
      target,
      shares,
      randomShare: randomShareOfStrongCalls(reference),
    });
    policies.push(...passes.policies);
    for (const single of singles) {
      policies.push({
        name: `single:${single.name}-${dataset}`,
        kind: "baseline",
        description: `${single.name} alone on the ${single.requests} ${dataset} prompts.`,
        points: [
          {
            label: single.name,
            accuracy: single.accuracy,
            costUsd: single.totalCostUsd,
            meanCostUsd: single.meanCostUsd,
            prompts: single.requests,
            calls: single.requests,
            largestModelShare: single.largestModelShare ?? 0,
            callsByModel: { ...single.requestsByModel },
          },
        ],
      });
    }
    const rule = passes.confidence;
    notes.push(
      `${dataset}: trained on ${train.length} prompts of ${present.filter((name) => name !== dataset).join(" and ")} (memory from all their records, prices Σ USD ÷ Σ tokens on them); ${test.length} ${dataset} prompts streamed online in a seeded order; auto's confidence rule fitted on the training prompts: minEvidence ${rule.minEvidence}, maxSpread ${rule.maxSpread}${rule.fitted ? "" : " (default: not fitted)"}.`,
    );
  }
  notes.push(
    `Pool: ${strongModel} and ${weakModel} only (the two models of the held-out out-of-domain files). Share of ${strongModel} calls for ${Math.round(target * 100)}% of its accuracy: interpolated along each router's λ sweep (calls to it ÷ prompts, escalations included), the sweep closed by ${strongModel} alone at share 1; random routing's share in closed form.`,
    `Wall time ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );
  return {
    title: config.title,
    createdAt: (config.now ?? (() => new Date()))().toISOString(),
    dataset: {
      name: datasets.join(", "),
      source:
        config.outcomesPath ??
        (config.outcomes === undefined ? "data/routerbench/outcomes.jsonl.gz (shipped)" : "(index given)"),
      trainPrompts: Math.round(
        answered.length - rows.reduce((total, row) => total + row.prompts, 0) / Math.max(1, rows.length),
      ),
      testPrompts: rows.reduce((total, row) => total + row.prompts, 0),
      models,
      split: `leave one dataset out (${datasets.join(", ")})`,
    },
    strongModel,
    weakModel,
    policies,
    leaveOut: rows,
    notes,
    config: {
      ...Object.fromEntries(
        Object.entries(config).filter(([key]) => !["embedder", "outcomes", "onProgress", "now"].includes(key)),
      ),
      embedder: embeddings.id,
    },
  };
}
