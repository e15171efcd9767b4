/**
 * Options of the strategy-auction router: one zod schema, shared by `AuctionRouter` and
 * `auctionRouterMiddleware`, parsed once at construction.
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { z } from "zod";
import type { ScopeIds } from "../budget/index.js";
import {
  budgetPriceTableSchema,
  createPriceResolver,
  DEFAULT_PRICES,
  mergePrices,
  modelPriceSchema,
  scopeIdsSchema,
  splitPriceTable,
} from "../budget/index.js";
import { type SharedTokenBudget, sharedTokenBudgetSchema } from "../budget/shared.js";
import type { ModelPrice } from "../budget/types.js";
import { DEFAULT_VOCABULARY_SIZE } from "../entropy.js";
import { parseConfig } from "../errors.js";
import type { LedgerReader, LedgerWriter } from "../ledger/types.js";
import type { StrategyMemory } from "../memory/types.js";
import { isChatModel, modelName } from "../models.js";
import { timeoutMsSchema } from "../timeouts.js";
import {
  type ConfidenceRule,
  DEFAULT_CONFIDENCE_RULE,
  embedderIdOf,
  type MemoryBidSettings,
} from "./memory-bids/index.js";

/**
 * What the router needs of a ledger: the writer, and `getAuction` when the backend can also read
 * (a record then carries the stored auction).
 */
export type RouterLedger = LedgerWriter & Partial<Pick<LedgerReader, "getAuction">>;

/**
 * Output cap of a plan (the bid), in tokens.
 *
 * @example
 * ```ts
 * new AuctionRouter({ pool }); // plans capped at DEFAULT_PLAN_MAX_TOKENS (128) tokens
 * new AuctionRouter({ pool, planMaxTokens: 256 }); // longer plans
 * ```
 */
export const DEFAULT_PLAN_MAX_TOKENS = 128;
/**
 * Alternatives per token requested from providers that return log-probabilities (OpenAI allows 0–20).
 *
 * @example
 * ```ts
 * DEFAULT_TOP_LOGPROBS; // 5: alternatives per plan token, from which planEntropy computes H
 * ```
 */
export const DEFAULT_TOP_LOGPROBS = 5;
/**
 * Contrastive (losing, winning) plan pairs a cheaper member retrieves before it re-bids (SALE's k).
 *
 * @example
 * ```ts
 * DEFAULT_REFINEMENT_PAIRS; // 8: (losing, winning) pairs retrieved per refinement, SALE's k
 * ```
 */
export const DEFAULT_REFINEMENT_PAIRS = 8;
/**
 * Output cap assumed for a winner that declares none, when its execution is reserved on a budget.
 *
 * @example
 * ```ts
 * DEFAULT_EXECUTION_MAX_TOKENS; // 4096: reserved for a winner built without maxTokens
 * ```
 */
export const DEFAULT_EXECUTION_MAX_TOKENS = 4096;
/**
 * Output cap of one jury call (one line per plan).
 *
 * @example
 * ```ts
 * DEFAULT_JURY_MAX_TOKENS; // 64: one short line per plan
 * ```
 */
export const DEFAULT_JURY_MAX_TOKENS = 64;
/**
 * Deadline of the winner's answer, in ms (5 minutes: a 4,096-token answer at 15 tokens a second).
 * A member that has not answered by then is abandoned — even one that ignores its abort signal —
 * its reservation settled at what the provider bills (`settleAbandoned`), and the fallback answers.
 *
 * @example
 * ```ts
 * DEFAULT_ANSWER_TIMEOUT_MS; // 300000
 * new AuctionRouter({ pool, answerTimeoutMs: 60_000 }); // give up on an answer after a minute
 * ```
 */
export const DEFAULT_ANSWER_TIMEOUT_MS = 300_000;

/**
 * Deadline of each plan, jury and refinement call, in ms (1 minute: a 128-token plan, or a jury line
 * per plan, takes seconds even on a slow local model). A member over it is dropped from the auction.
 *
 * @example
 * ```ts
 * DEFAULT_CALL_TIMEOUT_MS; // 60000
 * new AuctionRouter({ pool, timeoutMs: 10_000 }); // drop a member whose plan takes more than 10 s
 * ```
 */
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

/**
 * The weights of SALE's score. `C = cost · pricePerOutputToken(USD) · |plan|`,
 * `V = entropy · H + Σ_j jury[j] · γ_j` with H and γ_j in [0, 1].
 * This is the shape `src/router/weights.ts` fits and saves as JSON.
 */
export interface RouterWeights {
  /** w_c: weight of the plan's cost in USD. */
  cost: number;
  /** w_h: weight of the plan's normalised entropy. */
  entropy: number;
  /** w_j by juror (pool member name). A juror that is missing gets `1 / jury size`. */
  jury: Record<string, number>;
}

/**
 * Default weights. With `cost: 100`, a 100-token plan at $10 per million output tokens costs
 * C = 0.1, the same as half a Likert point of mean jury score (jury weights sum to 1 and γ is
 * score / 5); a plan at $0.6 per million costs C = 0.006. Entropy is a weak tie-breaker.
 *
 * @example
 * ```ts
 * DEFAULT_WEIGHTS; // { cost: 100, entropy: 0.1, jury: {} }
 * new AuctionRouter({ pool, weights: { ...DEFAULT_WEIGHTS, cost: 50 } }); // half as cost-sensitive
 * ```
 */
export const DEFAULT_WEIGHTS: Readonly<RouterWeights> = Object.freeze({ cost: 100, entropy: 0.1, jury: {} });

/**
 * λ of memory bids: the weight of a member's normalised expected cost against its predicted value
 * (`score = value − λ · cost / dearest cost`). 0 picks the member the memory predicts best; 1 trades
 * a whole unit of accuracy for the dearest member's cost.
 *
 * @example
 * ```ts
 * DEFAULT_LAMBDA; // 0.15
 * new AuctionRouter({ pool, memory, embeddings, lambda: 0.3 }); // cheaper answers, a little less accuracy
 * ```
 */
export const DEFAULT_LAMBDA = 0.15;

/**
 * What memory bids need of an embedder: LangChain's `Embeddings` (any; `embedDocuments` is what is
 * called — the request is embedded as a document, exactly as `learnOutcomes` embeds its evidence, so
 * a request and its stored twin are at similarity 1). Its `id` (a string), else its class name, is the
 * embedder id outcome entries carry.
 */
export type RouterEmbeddings = Pick<EmbeddingsInterface, "embedDocuments"> & Partial<EmbeddingsInterface>;

/**
 * How the router bids for a request:
 * - `"plans"`: the SALE plan auction (every member writes a plan, the jury scores them);
 * - `"memory"`: memory bids — each member bids the value the outcome memory predicts for it on this
 *   request minus λ × its normalised expected cost; no model call before the winner answers;
 * - `"auto"`: memory bids when the memory is confident for this request, else `memoryBids.unsure`
 *   (an escalation from the cheapest member, or a plan auction).
 */
export type RouterMode = "plans" | "memory" | "auto";

const isFunction = (value: unknown) => typeof value === "function";

function hasMethods(value: unknown, methods: readonly string[]): boolean {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return methods.every((method) => isFunction(record[method]));
}

/** One member of the pool: a chat model, its unique name and (optionally) its price. */
const poolMemberSchema = z
  .object({
    /** Unique name: the bidder id in the auction, the ledger and the memory. */
    name: z.string().min(1),
    /** Any LangChain chat model. */
    model: z.custom<BaseChatModel>(isChatModel, { message: "must be a LangChain chat model (BaseChatModel)" }),
    /** Price per million tokens; looked up in `prices` / `DEFAULT_PRICES` by the model's name when omitted. */
    price: modelPriceSchema.optional(),
  })
  .strict();

/** A pool member, as the user gives it. */
export type PoolMember = z.input<typeof poolMemberSchema>;

const weightsSchema = z
  .object({
    cost: z.number().nonnegative().finite(),
    entropy: z.number().finite(),
    jury: z.record(z.string(), z.number().finite()),
  })
  .strict();

const unitInterval = z.number().min(0).max(1);

/** Settings of memory bids (`mode: "memory" | "auto"`); every field optional. The gateway's `router.memoryBids` extends it. */
export const memoryBidsSchema = z
  .object({
    /** Neighbours read per member and request. Default `DEFAULT_MEMORY_BID_SETTINGS.neighbours`. */
    neighbours: z.number().int().min(1).max(1_000).optional(),
    /** Pseudo-observations of the prior (Beta smoothing α). */
    priorStrength: z.number().nonnegative().finite().optional(),
    /** Prior value by member name, in [0, 1]; members not named get the price-tier prior. */
    priors: z.record(z.string(), unitInterval).optional(),
    /** Probability ε that a uniformly drawn member answers instead (path `"explore"`). Default 0. */
    explorationRate: unitInterval.optional(),
    /** Output tokens assumed for a member's price-based cold cost estimate. */
    expectedOutputTokens: z.number().int().positive().optional(),
    /** `auto`'s confidence rule; defaults fitted (`DEFAULT_CONFIDENCE_RULE`). */
    confidence: z
      .object({ minEvidence: z.number().nonnegative().finite(), maxSpread: z.number().nonnegative().finite() })
      .partial()
      .strict()
      .optional(),
    /** What `auto` does when the memory is not confident: `"escalate"` (default) or `"plans"`. */
    unsure: z.enum(["escalate", "plans"]).optional(),
    /** Escalation: the cheapest member's answer stops the climb when its value is ≥ `stopAt`. Default 1 (never). */
    stopAt: unitInterval.optional(),
    /** Agreement cascades bid beside the members (`cascade(a + b → top)`). Default: true when the pool has ≥ 3 members. */
    cascades: z.boolean().optional(),
    /** The estimate's local scale: the nearest k_local of the neighbours. Default `DEFAULT_ESTIMATE_SHAPE` (96). */
    localNeighbours: z.number().int().min(1).optional(),
    /** α_l: pseudo-observations of the regional mean in the local value. Default `DEFAULT_ESTIMATE_SHAPE` (8). */
    localStrength: z.number().nonnegative().finite().optional(),
    /** p of the similarity kernel max(0, similarity)^p. Default `DEFAULT_ESTIMATE_SHAPE` (1). */
    similarityPower: z.number().positive().finite().optional(),
  })
  .strict();

/** The `memoryBids` option, as the user gives it. */
export type MemoryBidsOptions = z.input<typeof memoryBidsSchema>;

/** The fields of the router options, before the cross-field checks. */
export const auctionRouterFieldsSchema = z
  .object({
    pool: z.array(poolMemberSchema).min(1),
    /** Weights of C and V. Default {@link DEFAULT_WEIGHTS}. */
    weights: weightsSchema.optional(),
    /** Who scores plans: every member (`"all"`, default), nobody (`"none"`), or the named members. */
    jury: z.union([z.enum(["all", "none"]), z.array(z.string().min(1)).min(1)]).optional(),
    /** Strategy memory: plans are stored after every auction and cheaper members refine from it. */
    memory: z
      .custom<StrategyMemory>((value) => hasMethods(value, ["add", "contrastivePairs", "recordOutcome"]), {
        message: "must be a StrategyMemory",
      })
      .optional(),
    /**
     * How the router bids: `"plans"` (SALE plan auctions), `"memory"` (memory bids) or `"auto"`.
     * Default `"auto"` when `memory` and `embeddings` are given, else `"plans"`.
     */
    mode: z.enum(["plans", "memory", "auto"]).optional(),
    /**
     * Embeds the request for memory bids (once per request) and the outcome entries written: any
     * LangChain `Embeddings`, the same one the memory was built with. Required by `memory` and `auto`.
     */
    embeddings: z
      .custom<RouterEmbeddings>((value) => hasMethods(value, ["embedDocuments"]), {
        message: "must be a LangChain Embeddings (an object with embedDocuments)",
      })
      .optional(),
    /** λ, the weight of the normalised expected cost in memory bids (≥ 0). Default {@link DEFAULT_LAMBDA}. */
    lambda: z.number().nonnegative().finite().optional(),
    /** Settings of memory bids (neighbours, priors, exploration, auto's confidence rule, escalation). */
    memoryBids: memoryBidsSchema.optional(),
    /** Memory-guided refinement of cheaper members' bids. Default true (needs `memory`). */
    refinement: z.boolean().optional(),
    /** Contrastive pairs retrieved for a refinement. Default 8. */
    refinementPairs: z.number().int().min(1).max(64).optional(),
    /** Task kind stored with plans in the memory (e.g. `"coding"`). Default `"route"`. */
    taskKind: z.string().min(1).optional(),
    /** Ledger: the auction, its bids and every charge are recorded. */
    ledger: z
      .custom<RouterLedger>((value) => hasMethods(value, ["recordAuction", "recordCharges", "recordOutcome"]), {
        message: "must be a LedgerWriter (e.g. createSqliteLedger({ path }))",
      })
      .optional(),
    /** Shared budget: every internal call is reserved before and settled after. */
    budget: sharedTokenBudgetSchema.optional(),
    /** Budget scopes the router's calls are charged to; each call's own scopes win field by field. */
    budgetScopes: scopeIdsSchema.optional(),
    /** Seed of the tie rule and of the order plans are shown to jurors. Default 0. */
    seed: z.number().int().optional(),
    /**
     * Time limit of each plan, jury and refinement call, in ms (at most `MAX_TIMEOUT_MS`, 2^31 - 1);
     * a member over it is dropped, abandoned even when it ignores its abort signal. Default
     * {@link DEFAULT_CALL_TIMEOUT_MS} (1 minute).
     */
    timeoutMs: timeoutMsSchema.optional(),
    /**
     * Settle calls dropped by a timeout or a caller's abort at what the provider bills
     * (`settleAbandoned`: the late usage, the tokens streamed, else the whole reservation). Default
     * true; false releases them at zero (models that bill nothing, e.g. local ones).
     */
    billAbandonedCalls: z.boolean().optional(),
    /** Output cap of a plan, in tokens. Default 128. */
    planMaxTokens: z.number().int().positive().optional(),
    /** Output cap of one jury call. Default 64 (+ 8 per plan shown). */
    juryMaxTokens: z.number().int().positive().optional(),
    /** `top_logprobs` requested from providers that support it. Default 5. */
    topLogprobs: z.number().int().min(0).max(20).optional(),
    /** Vocabulary size for normalising exact / sampled-token entropies. Default 100,000. */
    vocabularySize: z.number().int().min(2).optional(),
    /** The pool member that answers when every bidder fails. Default: the cheapest member. */
    fallback: z.string().min(1).optional(),
    /**
     * Prices merged over `DEFAULT_PRICES`, for members without `price`. The budget's price table
     * fits as it is: its `"tool:<name>"` entries are checked and ignored (the router calls no tools).
     */
    prices: budgetPriceTableSchema.optional(),
    /** Output cap reserved for a winner that declares none (router only, with `budget`). Default 4096. */
    executionMaxTokens: z.number().int().positive().optional(),
    /** Auction id generator. Default `crypto.randomUUID`. */
    generateId: z.custom<() => string>(isFunction, { message: "must be a function" }).optional(),
    /** Clock, epoch ms. Default `Date.now`. */
    now: z.custom<() => number>(isFunction, { message: "must be a function" }).optional(),
  })
  .strict();

/** Cross-field checks of the router (and middleware) options: names, prices, jurors, fallback. */
export function checkPool(options: z.output<typeof auctionRouterFieldsSchema>, context: z.RefinementCtx): void {
  const names = new Set<string>();
  const priceOf = createPriceResolver(mergePrices(DEFAULT_PRICES, splitPriceTable(options.prices).models));
  options.pool.forEach((member, index) => {
    if (names.has(member.name)) {
      context.addIssue({
        code: "custom",
        path: ["pool", index, "name"],
        message: `duplicate pool member name "${member.name}"`,
      });
    }
    names.add(member.name);
    if (member.price === undefined && priceOf(modelName(member.model)) === undefined) {
      context.addIssue({
        code: "custom",
        path: ["pool", index, "price"],
        message: `no price for model "${modelName(member.model)}": give price: { inputPerMillion, outputPerMillion }`,
      });
    }
  });
  const checkName = (name: string, path: (string | number)[]) => {
    if (!names.has(name)) context.addIssue({ code: "custom", path, message: `"${name}" is not a pool member name` });
  };
  if (Array.isArray(options.jury)) {
    for (const [index, name] of options.jury.entries()) checkName(name, ["jury", index]);
  }
  if (options.fallback !== undefined) checkName(options.fallback, ["fallback"]);
  for (const name of Object.keys(options.weights?.jury ?? {})) checkName(name, ["weights", "jury", name]);
  for (const name of Object.keys(options.memoryBids?.priors ?? {})) checkName(name, ["memoryBids", "priors", name]);
  checkMode(options, context);
}

/** The bidding mode's needs: memory bids read a memory with `search` and `get`, and embed with `embeddings`. */
function checkMode(options: z.output<typeof auctionRouterFieldsSchema>, context: z.RefinementCtx): void {
  const { mode } = options;
  if (mode !== "memory" && mode !== "auto") return;
  if (options.memory === undefined) {
    context.addIssue({
      code: "custom",
      path: ["memory"],
      message: `mode "${mode}" bids from an outcome memory: give memory (e.g. createInMemoryStrategyMemory({ embeddings }) or createVectraStrategyMemory({ folder })), or use mode: "plans"`,
    });
  } else if (!hasMethods(options.memory, ["search", "get"])) {
    context.addIssue({
      code: "custom",
      path: ["memory"],
      message: `mode "${mode}" needs a StrategyMemory with search and get: give one of the shipped memories, or use mode: "plans"`,
    });
  }
  if (options.embeddings === undefined) {
    context.addIssue({
      code: "custom",
      path: ["embeddings"],
      message: `mode "${mode}" embeds each request: give embeddings (the LangChain Embeddings the memory was built with), or use mode: "plans"`,
    });
  }
}

/**
 * Zod schema of the router options, parsed once by the `AuctionRouter` constructor.
 *
 * @example
 * ```ts
 * const result = auctionRouterOptionsSchema.safeParse({ pool: [] });
 * result.success; // false
 * result.error?.issues[0]?.message; // "Too small: expected array to have >=1 items" (at "pool")
 * ```
 */
export const auctionRouterOptionsSchema = auctionRouterFieldsSchema
  .extend({
    /**
     * Deadline of the winner's answer (the whole answer, streamed or not), in ms; past it the member
     * is abandoned and the fallback answers. Default {@link DEFAULT_ANSWER_TIMEOUT_MS}.
     */
    answerTimeoutMs: timeoutMsSchema.optional(),
  })
  .superRefine(checkPool);

/** Options of `AuctionRouter` (see docs/router.md for the table). */
export type AuctionRouterOptions = z.input<typeof auctionRouterOptionsSchema>;

/** A pool member after validation: its price is resolved. */
export interface ResolvedMember {
  name: string;
  model: BaseChatModel;
  price: ModelPrice;
  /** Output price per token, USD. */
  pricePerOutputToken: number;
}

/**
 * Defaults of the `memoryBids` option (auto's confidence rule: `DEFAULT_CONFIDENCE_RULE`).
 *
 * @example
 * ```ts
 * DEFAULT_MEMORY_BIDS.neighbours; // 96 neighbours read per member and request
 * new AuctionRouter({ pool, memory, embeddings, memoryBids: { neighbours: 64 } });
 * ```
 */
export const DEFAULT_MEMORY_BIDS = Object.freeze({
  /**
   * Neighbours read per member and request: the estimate's regional scale (its local scale is the
   * nearest `DEFAULT_ESTIMATE_SHAPE.localNeighbours` of them). 96: tuned with the estimate's shape by
   * scripts/tune-memory-bids.ts (leave-one-out on the RouterBench training half, USE-Lite, members
   * only: Pareto area of the λ sweep 0.765 at 32, 0.787 at 64, 0.793 at 96 and at 128).
   */
  neighbours: 96,
  /** α: the prior weighs as much as 32 fully similar past outcomes (in the estimate's regional mean). */
  priorStrength: 32,
  /** ε: no exploration (a served router exploits; the online evaluation passes its own). */
  explorationRate: 0,
  /** Output tokens assumed by the price-based cold cost estimate. */
  expectedOutputTokens: 256,
  /** Escalate when the memory is not confident. */
  unsure: "escalate" as const,
  /** Never stop the climb on the cheapest member's value alone. */
  stopAt: 1,
});

/** The `memoryBids` option with defaults filled in. */
export interface ResolvedMemoryBids extends MemoryBidSettings {
  neighbours: number;
  priors: Readonly<Record<string, number>>;
  explorationRate: number;
  confidence: ConfidenceRule;
  unsure: "escalate" | "plans";
  stopAt: number;
  /** Whether agreement cascades bid (see `estimateCascades`). */
  cascades: boolean;
}

/** Options with defaults filled in: what the auction engine runs on. */
export interface RouterSettings {
  /** How the router bids (see {@link RouterMode}). */
  mode: RouterMode;
  /** The request embedder of memory bids (and of outcome entries); set by `memory`/`auto`, optional in `plans`. */
  embeddings: RouterEmbeddings | undefined;
  /** The id outcome entries carry (`metadata.embedder`), when `embeddings` is set. */
  embedderId: string | undefined;
  /** λ of memory bids. */
  lambda: number;
  memoryBids: ResolvedMemoryBids;
  pool: ResolvedMember[];
  weights: RouterWeights;
  jurors: string[];
  memory: StrategyMemory | undefined;
  refinement: boolean;
  refinementPairs: number;
  taskKind: string;
  ledger: RouterLedger | undefined;
  budget: SharedTokenBudget | undefined;
  budgetScopes: ScopeIds | undefined;
  seed: number;
  timeoutMs: number;
  /** Deadline of the winner's answer (router only). */
  answerTimeoutMs: number;
  billAbandonedCalls: boolean;
  planMaxTokens: number;
  juryMaxTokens: number;
  topLogprobs: number;
  vocabularySize: number;
  fallback: ResolvedMember;
  executionMaxTokens: number;
  generateId: () => string;
  now: () => number;
}

/** Members sorted cheapest first: output price, then input price, then name. */
export function byPrice(left: ResolvedMember, right: ResolvedMember): number {
  return (
    left.price.outputPerMillion - right.price.outputPerMillion ||
    left.price.inputPerMillion - right.price.inputPerMillion ||
    (left.name < right.name ? -1 : left.name > right.name ? 1 : 0)
  );
}

/** Fill in defaults and resolve prices of already-parsed options. */
export function resolveSettings(
  options: z.output<typeof auctionRouterFieldsSchema> & { answerTimeoutMs?: number | undefined },
): RouterSettings {
  const {
    weights = DEFAULT_WEIGHTS,
    jury = "all",
    memory,
    refinement = true,
    refinementPairs = DEFAULT_REFINEMENT_PAIRS,
    taskKind = "route",
    ledger,
    budget,
    budgetScopes,
    seed = 0,
    timeoutMs = DEFAULT_CALL_TIMEOUT_MS,
    answerTimeoutMs = DEFAULT_ANSWER_TIMEOUT_MS,
    billAbandonedCalls = true,
    planMaxTokens = DEFAULT_PLAN_MAX_TOKENS,
    juryMaxTokens = DEFAULT_JURY_MAX_TOKENS,
    topLogprobs = DEFAULT_TOP_LOGPROBS,
    vocabularySize = DEFAULT_VOCABULARY_SIZE,
    executionMaxTokens = DEFAULT_EXECUTION_MAX_TOKENS,
    generateId = () => crypto.randomUUID(),
    now = Date.now,
    embeddings,
    lambda = DEFAULT_LAMBDA,
    memoryBids = {},
  } = options;
  const mode: RouterMode = options.mode ?? (memory !== undefined && embeddings !== undefined ? "auto" : "plans");
  const priceOf = createPriceResolver(mergePrices(DEFAULT_PRICES, splitPriceTable(options.prices).models));
  const pool: ResolvedMember[] = options.pool.map((member) => {
    const price = member.price ?? (priceOf(modelName(member.model)) as ModelPrice);
    return { name: member.name, model: member.model, price, pricePerOutputToken: price.outputPerMillion / 1_000_000 };
  });
  const jurors = jury === "all" ? pool.map((member) => member.name) : jury === "none" ? [] : [...new Set(jury)];
  const cheapest = [...pool].sort(byPrice)[0] as ResolvedMember;
  const fallback =
    options.fallback === undefined ? cheapest : (pool.find((member) => member.name === options.fallback) ?? cheapest);
  return {
    mode,
    embeddings,
    embedderId: embeddings === undefined ? undefined : embedderIdOf(embeddings),
    lambda,
    memoryBids: {
      neighbours: memoryBids.neighbours ?? DEFAULT_MEMORY_BIDS.neighbours,
      priorStrength: memoryBids.priorStrength ?? DEFAULT_MEMORY_BIDS.priorStrength,
      priors: { ...memoryBids.priors },
      explorationRate: memoryBids.explorationRate ?? DEFAULT_MEMORY_BIDS.explorationRate,
      expectedOutputTokens: memoryBids.expectedOutputTokens ?? DEFAULT_MEMORY_BIDS.expectedOutputTokens,
      confidence: {
        minEvidence: memoryBids.confidence?.minEvidence ?? DEFAULT_CONFIDENCE_RULE.minEvidence,
        maxSpread: memoryBids.confidence?.maxSpread ?? DEFAULT_CONFIDENCE_RULE.maxSpread,
      },
      unsure: memoryBids.unsure ?? DEFAULT_MEMORY_BIDS.unsure,
      stopAt: memoryBids.stopAt ?? DEFAULT_MEMORY_BIDS.stopAt,
      cascades: memoryBids.cascades ?? pool.length >= 3,
      // The estimate's shape (defaults in estimateShape: DEFAULT_ESTIMATE_SHAPE).
      ...(memoryBids.localNeighbours === undefined ? {} : { localNeighbours: memoryBids.localNeighbours }),
      ...(memoryBids.localStrength === undefined ? {} : { localStrength: memoryBids.localStrength }),
      ...(memoryBids.similarityPower === undefined ? {} : { similarityPower: memoryBids.similarityPower }),
    },
    pool,
    weights: { cost: weights.cost, entropy: weights.entropy, jury: { ...weights.jury } },
    jurors,
    memory,
    refinement,
    refinementPairs,
    taskKind,
    ledger,
    budget,
    budgetScopes,
    seed,
    timeoutMs,
    answerTimeoutMs,
    billAbandonedCalls,
    planMaxTokens,
    juryMaxTokens,
    topLogprobs,
    vocabularySize,
    fallback,
    executionMaxTokens,
    generateId,
    now,
  };
}

/**
 * The budget scopes of one call, field by field, later sources winning: `configurable.thread_id`
 * (thread, as `tokenBudgetMiddleware` reads it), `runId` (run: a run id the caller set),
 * `context.tokenBudget.{runId, exampleId}` (the middleware's per-invocation context),
 * `configurable.budgetScopes`, then `explicit` (the router's `budgetScopes` call option).
 * The `budgetScopes` option of the router fills the fields none of these sets (see `StrategyAuctionEngine.run`).
 *
 * @returns the scopes, or undefined when no source names one.
 * @throws ConfigError when `configurable.budgetScopes` or `explicit` is malformed (unknown key, empty id).
 * @example
 * ```ts
 * scopesOfCall({ configurable: { thread_id: "t-1", budgetScopes: { run: "r-7" } } }); // { thread: "t-1", run: "r-7" }
 * ```
 */
export function scopesOfCall(
  config: {
    configurable?: Record<string, unknown> | undefined;
    runId?: unknown;
    context?: unknown;
  },
  explicit?: unknown,
): ScopeIds | undefined {
  const scopes: ScopeIds = {};
  const threadId = config.configurable?.thread_id;
  if ((typeof threadId === "string" && threadId.length > 0) || typeof threadId === "number") {
    scopes.thread = String(threadId);
  }
  if (typeof config.runId === "string" && config.runId.length > 0) scopes.run = config.runId;
  const tokenBudget = (config.context as { tokenBudget?: { runId?: unknown; exampleId?: unknown } } | undefined)
    ?.tokenBudget;
  if (typeof tokenBudget?.runId === "string" && tokenBudget.runId.length > 0) scopes.run = tokenBudget.runId;
  if (typeof tokenBudget?.exampleId === "string" && tokenBudget.exampleId.length > 0) {
    scopes.example = tokenBudget.exampleId;
  }
  const configured = config.configurable?.budgetScopes;
  if (configured !== undefined) {
    assignDefined(scopes, parseConfig("configurable.budgetScopes", scopeIdsSchema, configured));
  }
  if (explicit !== undefined) assignDefined(scopes, parseConfig("budgetScopes call option", scopeIdsSchema, explicit));
  return scopes.thread === undefined && scopes.run === undefined && scopes.example === undefined ? undefined : scopes;
}

/** `target[key] = value` for every scope `source` sets (an explicit `undefined` clears nothing). */
function assignDefined(target: ScopeIds, source: ScopeIds): void {
  for (const key of ["thread", "run", "example"] as const) {
    const value = source[key];
    if (value !== undefined) target[key] = value;
  }
}
