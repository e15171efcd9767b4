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

/** Default λ grid of the memory-bid auction: weight of the normalised cost against the estimated accuracy. */
export const DEFAULT_LAMBDAS: readonly number[] = Object.freeze([
  0, 0.02, 0.05, 0.075, 0.1, 0.125, 0.15, 0.175, 0.2, 0.225, 0.25, 0.3, 0.4, 0.5, 0.75, 1, 2,
]);
/** Default thresholds of the escalation policy (with `escalationRelative`: the share of the top rung's estimated accuracy a cheaper answer needs to be kept). */
export const DEFAULT_ESCALATION_THRESHOLDS: readonly number[] = Object.freeze([
  0, 0.8, 0.85, 0.875, 0.9, 0.91, 0.925, 0.95, 0.975, 1, 1.05, 1.5,
]);
/** Default λ grid of the per-task static choice, in accuracy per USD per prompt (see `staticPerTaskChoice`). */
export const DEFAULT_STATIC_LAMBDAS: readonly number[] = Object.freeze([0, 5, 10, 20, 50, 100, 200, 500, 1000, 5000]);
/** Default number of neighbours read from memory per prompt (chosen on the training part only, see docs). */
export const DEFAULT_NEIGHBOURS = 32;
/** Default weight of the prior, in pseudo-observations (Beta smoothing; chosen on the training part only). */
export const DEFAULT_PRIOR_STRENGTH = 32;
/** Default strong model of the RouteLLM measures. */
export const DEFAULT_STRONG_MODEL = "gpt-4-1106-preview";
/** Default weak model of the RouteLLM measures: the cheapest model within 0.15 of the strong model on RouterBench. */
export const DEFAULT_WEAK_MODEL = "mistralai/mixtral-8x7b-chat";
/** The routers a run can evaluate. */
export const RECORDED_ROUTER_NAMES = ["memory-auction", "escalation"] as const;
/** A router a run can evaluate. */
export type RecordedRouterName = (typeof RECORDED_ROUTER_NAMES)[number];

/** What a recorded call returns; the shape of a LangChain `AIMessage` that the runner reads. */
export interface RecordedCallReply {
  content: unknown;
  usage_metadata?: { input_tokens: number; output_tokens: number } | undefined;
  response_metadata?: Record<string, unknown>;
}

/** A chat model the runner can call (a LangChain `BaseChatModel`, e.g. from `createRecordedPool`). */
export interface ChatModelLike {
  invoke(input: string, options?: { metadata?: Record<string, unknown> }): Promise<RecordedCallReply>;
}

/** A progress event: which phase, how far. Meant for progress bars. */
export interface EvaluationProgress {
  phase: "load" | "embed" | "route" | "baselines";
  /** The policy being routed (`route` phase). */
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
 * | `maxPrompts` | all | evaluate a seeded sample of this many prompts (before the split) |
 * | `split` | `"auto"` | `"field"`: the records' `split` (`train` vs the rest); `"seeded"`: `splitPromptIds`; `"auto"`: the field when it partitions the data, else seeded |
 * | `trainFraction` | `0.5` | share of prompts in the training part (seeded split) |
 * | `seed` | `0` | split, sampling and auction tie seed |
 * | `routers` | both | which routers to run |
 * | `lambdas` | {@link DEFAULT_LAMBDAS} | λ grid of the memory-bid auction |
 * | `cascadeBidders` | `true` | agreement cascades (two cheap models, the strong one on disagreement) bid in the memory auction beside the models |
 * | `costScale` | `"task"` | the auction's cost is normalised by the dearest model's mean cost on the task, or over the whole pool (`"pool"`) |
 * | `cascadesPerTask` | `4` | agreement cascades kept per task (fitted on the training part) |
 * | `cascadeMemberCostShare` | `0.25` | a cascade member costs ≤ this share of the strong model on the task |
 * | `escalationThresholds` | {@link DEFAULT_ESCALATION_THRESHOLDS} | threshold grid of the escalation policy |
 * | `escalationModels` | one ladder per task, fitted on the training part | one escalation ladder for every task, cheapest first |
 * | `escalationRelative` | `true` | τ is compared with value ÷ the top rung's estimated value (share of the top model) rather than the value itself |
 * | `staticLambdas` | {@link DEFAULT_STATIC_LAMBDAS} | λ grid of the per-task static choice (accuracy per USD) |
 * | `k` | `32` | neighbours read from memory |
 * | `priorStrength` | `32` | pseudo-observations of the per-task prior |
 * | `sameTaskNeighbours` | `true` | read neighbours of the same `eval_name` only |
 * | `strongModel`, `weakModel` | GPT-4 / Mixtral | the RouteLLM pair and the target's reference |
 * | `targetAccuracyShare`, `targetCostShare` | `0.95`, `0.25` | the target: ≥ this share of the strong accuracy at ≤ this share of its cost |
 * | `embedTail` | `true` | embed the prompt's last block (the question) rather than its few-shot examples |
 * | `embedderId` | the embedder's class name | namespace of the embedding cache |
 * | `embeddingCacheDirectory` | none (no cache) | where embeddings are cached, keyed by text hash |
 * | `pool` | replay from the index | chat models by name (e.g. `createRecordedPool`), called for every routed call |
 * | `ledger` | none | a `LedgerWriter`: the routing auctions, call charges and outcomes of the recorded points (`ledgerPoints`) |
 * | `ledgerPoints` | `"all"` | which operating points go to the ledger: `"all"`, `"frontier"` (each router's Pareto-optimal points), `{ frontier: n }` (at most n of them per router, spread from the cheapest to the most accurate) or a list of `"policy:parameter"` (e.g. `"memory-auction:0.1"`, `"escalation:0.9"`) |
 * | `ledgerRunId` | `run-` + base-36 time | the run's id: the scope (`run`) of its auctions and charges and the prefix of its auction ids, so runs appended to one ledger stay apart |
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
    maxPrompts: z.number().int().positive().optional(),
    split: z.enum(["auto", "field", "seeded"]).default("auto"),
    trainFraction: z.number().gt(0).lt(1).default(0.5),
    seed: z.number().int().default(0),
    routers: z
      .array(z.enum(RECORDED_ROUTER_NAMES))
      .min(1)
      .default([...RECORDED_ROUTER_NAMES]),
    lambdas: z
      .array(z.number().nonnegative())
      .min(1)
      .default(() => [...DEFAULT_LAMBDAS]),
    cascadeBidders: z.boolean().default(true),
    costScale: z.enum(["task", "pool"]).default("task"),
    cascadesPerTask: z.number().int().positive().default(4),
    cascadeMemberCostShare: z.number().gt(0).max(1).default(0.25),
    escalationThresholds: z
      .array(z.number().nonnegative())
      .min(1)
      .default(() => [...DEFAULT_ESCALATION_THRESHOLDS]),
    escalationModels: z.array(z.string().min(1)).min(1).optional(),
    escalationRelative: z.boolean().default(true),
    staticLambdas: z
      .array(z.number().nonnegative())
      .min(1)
      .default(() => [...DEFAULT_STATIC_LAMBDAS]),
    k: z.number().int().positive().default(DEFAULT_NEIGHBOURS),
    priorStrength: z.number().nonnegative().default(DEFAULT_PRIOR_STRENGTH),
    sameTaskNeighbours: z.boolean().default(true),
    strongModel: z.string().min(1).default(DEFAULT_STRONG_MODEL),
    weakModel: z.string().min(1).default(DEFAULT_WEAK_MODEL),
    targetAccuracyShare: z.number().gt(0).max(1).default(0.95),
    targetCostShare: z.number().gt(0).max(1).default(0.25),
    embedTail: z.boolean().default(true),
    embedderId: z.string().min(1).optional(),
    embeddingCacheDirectory: z.string().min(1).optional(),
    pool: z
      .custom<Readonly<Record<string, ChatModelLike>>>(isObject, "expected chat models by name (createRecordedPool)")
      .optional(),
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
                'expected "policy:parameter", e.g. "memory-auction:0.1"',
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
    // A ledgerPoints list may name only points the run has a pass for (checked before any work).
    if (!Array.isArray(options.ledgerPoints)) return;
    const grids: Record<string, readonly number[]> = {
      "memory-auction": options.lambdas,
      escalation: options.escalationThresholds,
    };
    const known = options.routers.flatMap((router) =>
      (grids[router] ?? []).map((parameter) => pointKey(router, parameter)),
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

/** `"memory-auction:0.1"`: the key of an operating point in `ledgerPoints`. */
export function pointKey(policy: string, parameter: number): string {
  return `${policy}:${parameter}`;
}

/** `"memory-auction:λ=0.1"` or `"memory-auction:0.1"` → `"memory-auction:0.1"`. */
export function normalisedPointKey(text: string): string {
  const [policy = "", parameter = ""] = text.split(":");
  return pointKey(policy, Number(parameter.replace(/^[λτ]=/, "")));
}

/** Options of `runRecordedEvaluation` (input form; see {@link recordedEvaluationOptionsSchema} for the table). */
export type RecordedEvaluationOptions = z.input<typeof recordedEvaluationOptionsSchema>;
/** Options after validation, defaults filled in. */
export type ResolvedRecordedEvaluationOptions = z.output<typeof recordedEvaluationOptionsSchema>;
