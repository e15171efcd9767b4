/**
 * The one configuration of a recorded evaluation run (`runRecordedEvaluation`): its zod schema,
 * the defaults, and the seams it accepts (embedder, model pool, ledger, progress callback, clock).
 *
 * The option names are stable: the CLI maps YAML keys onto them one to one.
 */

import { z } from "zod";
import { functionSchema } from "../../errors.js";
import type { LedgerWriter } from "../../ledger/types.js";
import type { OutcomeIndex } from "../data/outcomes.js";
import type { EmbeddingsLike } from "./embedding.js";

/**
 * Default λ grid of the shipped router's memory bids (the weight of a member's normalised expected
 * cost against its predicted value): a 1-2-5 series from 0.01 to 20, plus 0 and the points 0.15 (the
 * router's default) and 0.3. It spans the pool's whole cost range, as the per-task static choice's grid
 * does: from λ = 0 (GPT-4 on 83% of the RouterBench prompts) to λ = 20 (the cheapest member nearly
 * everywhere). The Pareto area integrates over that range (from the cheapest single model's cost to the
 * strongest's), so a grid that stops short of either end scores the router zero where it could have
 * answered. Each point costs one pass over the held-out prompts per mode and protocol (56 passes)
 * (docs/routing-on-recorded-data.md).
 */
export const DEFAULT_LAMBDAS: readonly number[] = Object.freeze([
  0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2, 5, 10, 20,
]);
/** Default λ grid of the per-task static choice, in accuracy per USD per prompt (see `staticPerTaskChoice`). */
export const DEFAULT_STATIC_LAMBDAS: readonly number[] = Object.freeze([0, 5, 10, 20, 50, 100, 200, 500, 1000, 5000]);
/** Default number of neighbours read from memory per member and prompt (the router's default, `DEFAULT_MEMORY_BIDS.neighbours`). */
export const DEFAULT_NEIGHBOURS = 96;
/** Default weight of the prior, in pseudo-observations (Beta smoothing; the router's default). */
export const DEFAULT_PRIOR_STRENGTH = 32;
/** Default exploration rate of the online protocol (the router's `memoryBids.explorationRate`; batch uses 0). */
export const DEFAULT_ONLINE_EXPLORATION = 0.05;
/** λ at which `auto`'s confidence rule is fitted on the training part (the router's default λ). */
export const DEFAULT_CONFIDENCE_LAMBDA = 0.15;
/** Default strong model of the RouteLLM measures. */
export const DEFAULT_STRONG_MODEL = "gpt-4-1106-preview";
/** Default weak model of the RouteLLM measures: the cheapest model within 0.15 of the strong model on RouterBench. */
export const DEFAULT_WEAK_MODEL = "mistralai/mixtral-8x7b-chat";
/** The bidding modes of the shipped router a run evaluates (plans mode needs models that write plans). */
export const RECORDED_ROUTER_NAMES = ["memory", "auto"] as const;
/** A bidding mode a run can evaluate. */
export type RecordedRouterName = (typeof RECORDED_ROUTER_NAMES)[number];
/** The protocols: `batch` (training memory, frozen) and `online` (seeded order, learning from bandit feedback). */
export const RECORDED_PROTOCOLS = ["batch", "online"] as const;
/** A protocol of a run. */
export type RecordedProtocol = (typeof RECORDED_PROTOCOLS)[number];
/** Datasets of the shipped file a leave-one-dataset-out run can hold out. */
export const LEAVE_OUT_DATASETS = ["arc-challenge", "winogrande", "mbpp"] as const;

/** A progress event: which phase, how far. Meant for progress bars. */
export interface EvaluationProgress {
  phase: "load" | "embed" | "fit" | "route" | "baselines";
  /** The policy being routed (`route` phase) or fitted (`fit` phase). */
  policy?: string;
  /** The swept parameter of the pass (`route` phase). */
  parameter?: number;
  done: number;
  total: number;
}

const isFunction = (value: unknown) => typeof value === "function";
const isObject = (value: unknown) => typeof value === "object" && value !== null;

/**
 * Schema of the options of `runRecordedEvaluation`. Unknown keys are rejected.
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `embedder` | — (required) | `"hashing"` (built-in, deterministic, weak) or any LangChain `Embeddings` (the CLI passes USE-Lite) |
 * | `title` | `"Routing on recorded outcomes"` | report title |
 * | `outcomes` | — | an `OutcomeIndex` to evaluate (wins over `outcomesPath`) |
 * | `outcomesPath` | the shipped RouterBench file | canonical outcomes `.jsonl[.gz]` |
 * | `trainOutcomesPath` | — | train on this file, evaluate on all of `outcomesPath` |
 * | `noTraining` | `false` | `--train none`: no training part; every prompt is evaluated, the routers start from an empty memory |
 * | `maxPrompts` | all | evaluate a seeded sample of this many prompts (before the split) |
 * | `split` | `"auto"` | `"field"`: the records' `split` (`train` vs the rest); `"seeded"`: `splitPromptIds`; `"auto"`: the field when it partitions the data, else seeded |
 * | `trainFraction` | `0.5` | share of prompts in the training part (seeded split) |
 * | `seed` | `0` | split, sampling, online order and auction tie seed |
 * | `routers` | both | bidding modes of the shipped `AuctionRouter` to evaluate: `memory`, `auto` |
 * | `protocols` | both | `batch` (training memory, frozen during the test pass) and `online` (seeded order, learning from the members called) |
 * | `lambdas` | {@link DEFAULT_LAMBDAS} | the router's λ grid |
 * | `confidenceLambda` | {@link DEFAULT_CONFIDENCE_LAMBDA} | λ at which `auto`'s confidence rule is fitted (training part only) |
 * | `onlineExploration` | {@link DEFAULT_ONLINE_EXPLORATION} | the router's `memoryBids.explorationRate` in the online protocol |
 * | `staticLambdas` | {@link DEFAULT_STATIC_LAMBDAS} | λ grid of the per-task static choice (accuracy per USD) |
 * | `k` | `96` | the router's `memoryBids.neighbours` |
 * | `priorStrength` | `32` | the router's `memoryBids.priorStrength` |
 * | `strongModel`, `weakModel` | GPT-4 / Mixtral | the RouteLLM pair and the targets' reference |
 * | `targetAccuracyShare`, `targetCostShare` | `0.95`, `0.15` | a target: ≥ this share of the strong accuracy at ≤ this share of its cost |
 * | `parityCostShare` | `0.5` | a target: ≥ the strong accuracy at ≤ this share of its cost |
 * | `embedderId` | the embedder's `id`, else its class name | namespace of the embedding cache and the router's embedder id |
 * | `embeddingCacheDirectory` | none (no cache) | where embeddings are cached, keyed by text hash |
 * | `ledger` | none | a `LedgerWriter`: the router's own auctions, charges and outcomes for the recorded points (`ledgerPoints`) |
 * | `ledgerPoints` | `"all"` | which operating points go to the ledger: `"all"`, `"frontier"` (each router's Pareto-optimal points), `{ frontier: n }` (at most n of them per router, spread from the cheapest to the most accurate) or a list of `"policy:parameter"` (e.g. `"memory-batch:0.1"`) |
 * | `ledgerRunId` | `run-` + base-36 time | the run's id (kept in the report; the router names its own auctions) |
 * | `onProgress` | none | progress callback |
 * | `now` | `() => new Date()` | clock of `createdAt` |
 */
export const recordedEvaluationOptionsSchema = z
  .object({
    embedder: z.union([
      z.literal("hashing"),
      z.custom<EmbeddingsLike>(
        (value) => isObject(value) && isFunction((value as { embedDocuments?: unknown }).embedDocuments),
        'expected "hashing" or a LangChain Embeddings (an object with embedDocuments)',
      ),
    ]),
    title: z.string().min(1).default("Routing on recorded outcomes"),
    outcomes: z
      .custom<OutcomeIndex>(
        (value) => isObject(value) && isFunction((value as { outcome?: unknown }).outcome),
        "expected an OutcomeIndex (from loadOutcomeIndex or indexOutcomes)",
      )
      .optional(),
    outcomesPath: z.string().min(1).optional(),
    trainOutcomesPath: z.string().min(1).optional(),
    noTraining: z.boolean().default(false),
    maxPrompts: z.number().int().positive().optional(),
    split: z.enum(["auto", "field", "seeded"]).default("auto"),
    trainFraction: z.number().gt(0).lt(1).default(0.5),
    seed: z.number().int().default(0),
    routers: z
      .array(z.enum(RECORDED_ROUTER_NAMES))
      .min(1)
      .default([...RECORDED_ROUTER_NAMES]),
    protocols: z
      .array(z.enum(RECORDED_PROTOCOLS))
      .min(1)
      .default([...RECORDED_PROTOCOLS]),
    lambdas: z
      .array(z.number().nonnegative())
      .min(1)
      .default(() => [...DEFAULT_LAMBDAS]),
    confidenceLambda: z.number().nonnegative().default(DEFAULT_CONFIDENCE_LAMBDA),
    onlineExploration: z.number().min(0).max(1).default(DEFAULT_ONLINE_EXPLORATION),
    staticLambdas: z
      .array(z.number().nonnegative())
      .min(1)
      .default(() => [...DEFAULT_STATIC_LAMBDAS]),
    k: z.number().int().positive().default(DEFAULT_NEIGHBOURS),
    priorStrength: z.number().nonnegative().default(DEFAULT_PRIOR_STRENGTH),
    strongModel: z.string().min(1).default(DEFAULT_STRONG_MODEL),
    weakModel: z.string().min(1).default(DEFAULT_WEAK_MODEL),
    targetAccuracyShare: z.number().gt(0).max(1).default(0.95),
    targetCostShare: z.number().gt(0).max(1).default(0.15),
    parityCostShare: z.number().gt(0).max(1).default(0.5),
    embedderId: z.string().min(1).optional(),
    embeddingCacheDirectory: z.string().min(1).optional(),
    ledger: z
      .custom<LedgerWriter>(
        (value) => isObject(value) && isFunction((value as { recordAuctions?: unknown }).recordAuctions),
        "expected a LedgerWriter (createSqliteLedger)",
      )
      .optional(),
    ledgerPoints: z
      .union([
        z.enum(["all", "frontier"]),
        z.object({ frontier: z.number().int().positive() }).strict(),
        z
          .array(
            z
              .string()
              .regex(
                /^[a-z][a-z0-9-]*:(?:[λτ]=)?\d+(?:\.\d+)?$/,
                'expected "policy:parameter", e.g. "memory-batch:0.1"',
              ),
          )
          .min(1),
      ])
      .default("all"),
    ledgerRunId: z
      .string()
      .regex(/^[A-Za-z0-9._@-]{1,64}$/, "expected 1-64 letters, digits, '.', '_', '@' or '-'")
      .optional(),
    onProgress: functionSchema<(event: EvaluationProgress) => void>().optional(),
    now: z.custom<() => Date>(isFunction, "expected a function returning a Date").optional(),
  })
  .strict()
  .superRefine((options, context) => {
    if (options.noTraining && options.trainOutcomesPath !== undefined) {
      context.addIssue({
        code: "custom",
        path: ["noTraining"],
        message: "noTraining (--train none) and trainOutcomesPath (--train FILE) exclude each other: give one",
      });
    }
    // A ledgerPoints list may name only points the run has a pass for (checked before any work).
    if (!Array.isArray(options.ledgerPoints)) return;
    const known = routerPolicyNames(options.routers, options.protocols).flatMap((policy) =>
      options.lambdas.map((lambda) => pointKey(policy, lambda)),
    );
    const unknown = options.ledgerPoints.filter((text) => !known.includes(normalisedPointKey(text)));
    if (unknown.length > 0) {
      context.addIssue({
        code: "custom",
        path: ["ledgerPoints"],
        message: `no operating point ${unknown.map((text) => `"${text}"`).join(", ")} in this run; it has ${known.join(", ")}`,
      });
    }
  });

/** `"memory-batch"`: the report's name of a (mode, protocol) policy. */
export function routerPolicyName(mode: RecordedRouterName, protocol: RecordedProtocol): string {
  return `${mode}-${protocol}`;
}

/** Every (mode, protocol) policy name of a run, modes outer. */
export function routerPolicyNames(
  routers: readonly RecordedRouterName[],
  protocols: readonly RecordedProtocol[],
): string[] {
  return routers.flatMap((mode) => protocols.map((protocol) => routerPolicyName(mode, protocol)));
}

/** `"memory-batch:0.1"`: the key of an operating point in `ledgerPoints`. */
export function pointKey(policy: string, parameter: number): string {
  return `${policy}:${parameter}`;
}

/** `"memory-batch:λ=0.1"` or `"memory-batch:0.1"` → `"memory-batch:0.1"`. */
export function normalisedPointKey(text: string): string {
  const [policy = "", parameter = ""] = text.split(":");
  return pointKey(policy, Number(parameter.replace(/^[λτ]=/, "")));
}

/** Options of `runRecordedEvaluation` (input form; see {@link recordedEvaluationOptionsSchema} for the table). */
export type RecordedEvaluationOptions = z.input<typeof recordedEvaluationOptionsSchema>;
/** Options after validation, defaults filled in. */
export type ResolvedRecordedEvaluationOptions = z.output<typeof recordedEvaluationOptionsSchema>;
