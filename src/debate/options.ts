/**
 * The one configuration of an auction-gated debate: its schema, the public input type derived
 * from it, and the resolved settings the graph runs on. Parsed once, in `createAuctionDebate`.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { z } from "zod";
import { type ScopeIds, scopeIdsSchema } from "../budget/options.js";
import { type SharedTokenBudget, sharedTokenBudgetSchema } from "../budget/shared.js";
import { parseConfig } from "../errors.js";
import type { LedgerWriter } from "../ledger/types.js";
import { MECHANISM_NAMES } from "../market/options.js";
import type { MechanismName } from "../market/types.js";
import { isChatModel } from "../models.js";
import { timeoutMsSchema } from "../timeouts.js";

/**
 * How agents take the floor.
 *
 * @example
 * ```ts
 * DEBATE_MODES; // ["intent", "full_draft", "full"]
 * createAuctionDebate({ agents, mode: "full_draft" }); // DALA's original
 * ```
 */
export const DEBATE_MODES = ["intent", "full_draft", "full"] as const;
/**
 * How an agent's bid value is estimated.
 *
 * @example
 * ```ts
 * UTILITY_ESTIMATORS; // ["heuristic", "logprob", "entropy", "self"]
 * createAuctionDebate({ agents, utility: "logprob" });
 * ```
 */
export const UTILITY_ESTIMATORS = ["heuristic", "logprob", "entropy", "self"] as const;
/**
 * How the final answer is chosen from the agents' answers.
 *
 * @example
 * ```ts
 * AGGREGATIONS; // ["majority", "weighted"]
 * createAuctionDebate({ agents, aggregation: "weighted" }); // votes weigh aggressiveness × reliability
 * ```
 */
export const AGGREGATIONS = ["majority", "weighted"] as const;

/** `intent` (bid with a short intent, only winners write), `full_draft` (DALA's original) or `full` (everyone speaks). */
export type DebateMode = (typeof DEBATE_MODES)[number];
/** See {@link UTILITY_ESTIMATORS}. */
export type UtilityEstimatorName = (typeof UTILITY_ESTIMATORS)[number];
/** See {@link AGGREGATIONS}. */
export type AggregationName = (typeof AGGREGATIONS)[number];

/**
 * Default token budget per example (one graph invocation).
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents }); // DEFAULT_DEBATE_BUDGET (2048) tokens per example
 * await debate.invoke({ question: "What is 17 × 3?", budget: 4096 }); // more for this one
 * ```
 */
export const DEFAULT_DEBATE_BUDGET = 2048;
/**
 * Default most rounds.
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents }); // at most DEFAULT_MAX_ROUNDS (4) rounds
 * createAuctionDebate({ agents, maxRounds: 8 });
 * ```
 */
export const DEFAULT_MAX_ROUNDS = 4;
/**
 * Default output cap of an intent (the short bid), in tokens.
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents }); // intents capped at DEFAULT_INTENT_MAX_TOKENS (48) tokens
 * createAuctionDebate({ agents, intentMaxTokens: 64 });
 * ```
 */
export const DEFAULT_INTENT_MAX_TOKENS = 48;
/**
 * Default output cap of a full message, in tokens.
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents }); // messages capped at DEFAULT_MESSAGE_MAX_TOKENS (192) tokens
 * createAuctionDebate({ agents, messageMaxTokens: 384 });
 * ```
 */
export const DEFAULT_MESSAGE_MAX_TOKENS = 192;
/**
 * Default speakers per round.
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents }); // DEFAULT_DEBATE_TOP_K (1) speaker per round
 * createAuctionDebate({ agents, topK: 2 });
 * ```
 */
export const DEFAULT_DEBATE_TOP_K = 1;
/**
 * `top_logprobs` requested from providers that support it (ChatOpenAI).
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents, utility: "entropy" }); // asks for DEFAULT_DEBATE_TOP_LOGPROBS (5) alternatives per token
 * createAuctionDebate({ agents, utility: "entropy", topLogprobs: 10 });
 * ```
 */
export const DEFAULT_DEBATE_TOP_LOGPROBS = 5;

/**
 * Default deadline of one agent call (intent, draft or message), in ms: 5 minutes, the router's
 * `DEFAULT_ANSWER_TIMEOUT_MS`. A debate call writes at most `messageMaxTokens` (192) tokens, so a
 * healthy one, even a local model on a CPU reading a long transcript, finishes far inside it; the
 * same bound as the router's answer keeps one rule for "a model call that never ends" while a
 * hung agent (or one that ignores its abort signal) no longer holds the whole graph.
 *
 * @example
 * ```ts
 * createAuctionDebate({ agents }); // every call abandoned after DEFAULT_DEBATE_TIMEOUT_MS (300000)
 * createAuctionDebate({ agents, timeoutMs: 30_000 }); // a hosted API that answers in seconds
 * ```
 */
export const DEFAULT_DEBATE_TIMEOUT_MS = 300_000;

const isFunction = (value: unknown) => typeof value === "function";

const agentSchema = z
  .object({
    name: z
      .string()
      .min(1)
      .regex(/^[^\s:]+$/, "no spaces or colons (it is the bidder id)"),
    model: z.custom<BaseChatModel>(isChatModel, { message: "must be a LangChain chat model (BaseChatModel)" }),
    role: z.string().min(1).optional(),
    reliability: z.number().nonnegative().optional(),
  })
  .strict();

/**
 * Zod schema of {@link AuctionDebateOptions}. Unknown keys are rejected.
 *
 * @example
 * ```ts
 * const result = auctionDebateOptionsSchema.safeParse({ agents: [], mode: "intent" });
 * result.success; // false
 * result.error?.issues[0]?.message; // "Too small: expected array to have >=1 items" (at "agents")
 * ```
 */
export const auctionDebateOptionsSchema = z
  .object({
    agents: z
      .array(agentSchema)
      .min(1)
      .refine((agents) => new Set(agents.map((agent) => agent.name)).size === agents.length, {
        message: "agent names must be unique",
      }),
    mechanism: z.enum(MECHANISM_NAMES).default("second_price"),
    budget: z.number().int().positive().default(DEFAULT_DEBATE_BUDGET),
    maxRounds: z.number().int().min(1).max(20).default(DEFAULT_MAX_ROUNDS),
    topK: z.number().int().positive().default(DEFAULT_DEBATE_TOP_K),
    reservePrice: z.number().nonnegative().default(0),
    temperature: z.number().positive().default(1),
    mode: z.enum(DEBATE_MODES).default("intent"),
    utility: z.enum(UTILITY_ESTIMATORS).default("heuristic"),
    aggressiveness: z.union([z.number().nonnegative(), z.record(z.string(), z.number().nonnegative())]).default(1),
    aggregation: z.enum(AGGREGATIONS).default("majority"),
    parseAnswer: z
      .custom<(text: string) => string | undefined>(isFunction, { message: "must be a function" })
      .optional(),
    seed: z.number().int().default(0),
    intentMaxTokens: z.number().int().positive().default(DEFAULT_INTENT_MAX_TOKENS),
    messageMaxTokens: z.number().int().positive().default(DEFAULT_MESSAGE_MAX_TOKENS),
    topLogprobs: z.number().int().min(0).max(20).default(DEFAULT_DEBATE_TOP_LOGPROBS),
    timeoutMs: timeoutMsSchema.default(DEFAULT_DEBATE_TIMEOUT_MS),
    billAbandonedCalls: z.boolean().default(true),
    ledger: z
      .custom<LedgerWriter>((value) => typeof (value as LedgerWriter | null)?.recordAuction === "function", {
        message: "must be a LedgerWriter (e.g. createSqliteLedger({ path }))",
      })
      .optional(),
    sharedBudget: sharedTokenBudgetSchema.optional(),
    sharedBudgetScopes: scopeIdsSchema.optional(),
    generateId: z.custom<() => string>(isFunction, { message: "must be a function" }).optional(),
    name: z.string().min(1).default("auction_debate"),
  })
  .strict()
  .superRefine((options, context) => {
    if (typeof options.aggressiveness === "object") {
      const names = new Set(options.agents.map((agent) => agent.name));
      for (const name of Object.keys(options.aggressiveness)) {
        if (!names.has(name)) {
          context.addIssue({ code: "custom", path: ["aggressiveness", name], message: `no agent is named "${name}"` });
        }
      }
    }
  });

/**
 * Options of `createAuctionDebate` (input form: only `agents` is required).
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `agents` | — | `[{ name, model, role?, reliability? }]`; `name` is the bidder id |
 * | `mechanism` | `"second_price"` | `first_price`, `second_price`, `softmax` or `budgeted_vcg` |
 * | `budget` | `2048` | tokens per example (prompt + completion of every call) |
 * | `maxRounds` | `4` | most rounds (1–20) |
 * | `topK` | `1` | most speakers per round |
 * | `reservePrice` | `0` | bids below it never win |
 * | `temperature` | `1` | softmax temperature |
 * | `mode` | `"intent"` | `intent`, `full_draft` (DALA's original) or `full` (everyone speaks) |
 * | `utility` | `"heuristic"` | `heuristic`, `logprob`, `entropy` or `self` |
 * | `aggressiveness` | `1` | α: one number for all, or by agent name (missing names: 1) |
 * | `aggregation` | `"majority"` | `majority` or `weighted` (α × reliability) |
 * | `parseAnswer` | `Answer:` line | text → answer, `undefined` when none |
 * | `seed` | `0` | ties (auctions and votes) and softmax sampling |
 * | `intentMaxTokens` | `48` | output cap of an intent |
 * | `messageMaxTokens` | `192` | output cap of a message or draft |
 * | `topLogprobs` | `5` | `top_logprobs` asked from ChatOpenAI-like clients (logprob/entropy) |
 * | `timeoutMs` | `300000` | deadline of each agent call, ms (≤ `MAX_TIMEOUT_MS`); past it the agent is dropped from the round (`reason: "timeout"`), even when its model ignores the abort signal |
 * | `billAbandonedCalls` | `true` | charge a call abandoned by the deadline or an abort at what the provider bills (its whole reservation; on `sharedBudget` its late usage when it comes); `false`: release it at zero (models that bill nothing) |
 * | `ledger` | — | a `LedgerWriter`: every auction and charge is recorded |
 * | `sharedBudget` | — | a budget shared with the rest of the app (`createTokenBudget`, with or without a `store`): every call is also reserved and settled there, and a refusal drops the call like the example's own budget does |
 * | `sharedBudgetScopes` | — | the thread / run / example ids the shared budget charges the debate's calls to |
 * | `generateId` | `crypto.randomUUID` | ids of auctions and examples |
 * | `name` | `"auction_debate"` | the compiled graph's name |
 */
export type AuctionDebateOptions = z.input<typeof auctionDebateOptionsSchema>;

/** One agent of the debate, as configured. */
export type DebateAgent = z.output<typeof agentSchema>;

/** Validated settings, every default filled in. */
export interface DebateSettings {
  readonly agents: readonly DebateAgent[];
  readonly mechanism: MechanismName;
  readonly budget: number;
  readonly maxRounds: number;
  readonly topK: number;
  readonly reservePrice: number;
  readonly temperature: number;
  readonly mode: DebateMode;
  readonly utility: UtilityEstimatorName;
  /** α by agent name (every agent present). */
  readonly aggressiveness: Readonly<Record<string, number>>;
  readonly aggregation: AggregationName;
  readonly parseAnswer: (text: string) => string | undefined;
  readonly seed: number;
  readonly intentMaxTokens: number;
  readonly messageMaxTokens: number;
  readonly topLogprobs: number;
  readonly timeoutMs: number;
  readonly billAbandonedCalls: boolean;
  readonly ledger: LedgerWriter | undefined;
  readonly sharedBudget: SharedTokenBudget | undefined;
  readonly sharedBudgetScopes: ScopeIds | undefined;
  readonly generateId: () => string;
  readonly name: string;
}

/**
 * The default answer parser: the text after the last `Answer:` (case-insensitive), up to the end
 * of its line, trimmed, without a trailing period; `undefined` when there is none.
 *
 * @example
 * parseAnswerLine("I checked it twice.\nAnswer: 42."); // "42"
 */
export function parseAnswerLine(text: string): string | undefined {
  const matches = [...text.matchAll(/answer\s*:\s*([^\n]+)/gi)];
  const last = matches[matches.length - 1]?.[1]?.trim().replace(/\.$/, "").trim();
  return last === undefined || last.length === 0 ? undefined : last;
}

/**
 * Validates the options once and fills the defaults.
 *
 * @throws ConfigError naming each bad field.
 */
export function parseDebateOptions(options: AuctionDebateOptions): DebateSettings {
  const parsed = parseConfig("auction debate options", auctionDebateOptionsSchema, options);
  const alpha = parsed.aggressiveness;
  const aggressiveness: Record<string, number> = {};
  for (const agent of parsed.agents) {
    aggressiveness[agent.name] = typeof alpha === "number" ? alpha : (alpha[agent.name] ?? 1);
  }
  return Object.freeze({
    ...parsed,
    aggressiveness: Object.freeze(aggressiveness),
    parseAnswer: parsed.parseAnswer ?? parseAnswerLine,
    ledger: parsed.ledger,
    sharedBudget: parsed.sharedBudget,
    sharedBudgetScopes: parsed.sharedBudgetScopes,
    generateId: parsed.generateId ?? (() => globalThis.crypto.randomUUID()),
  });
}
