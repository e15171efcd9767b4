/**
 * `tokenBudgetMiddleware`: token and USD limits for a LangChain v1 agent (`createAgent`).
 *
 * Every model call is paid for in two steps. Before the call the middleware works out an upper
 * bound — the prompt's tokens (system prompt, messages and tool schemas, counted with
 * js-tiktoken) plus the model's output cap — and checks that every limit can afford it: the
 * thread and run limits kept in agent state, and, when a shared `TokenBudget` is given, its
 * global / thread / run / example accounts (where the bound is reserved). After the call the
 * spend is settled at the real `usage_metadata` (or a tokenizer estimate marked `estimated`);
 * a call that fails is released, one aborted or timed out is charged at what the provider bills
 * (`settleAbandoned`, on what `ModelCallWatcher` saw of it: a late reply, the chunks streamed, a
 * request that never left). Any model is named, priced and capped: a configurable model
 * (`initChatModel`, a string model of `createAgent`) is resolved per call to the client it builds.
 *
 * Tool calls with a price (`"tool:<name>"` in `prices`) or a limit (`toolCallLimit`) are reserved
 * and settled the same way in `wrapToolCall` (see `toolCharges.ts`).
 *
 * When a limit cannot afford the next call the agent ends with an AIMessage saying which limit
 * was reached (`exitBehavior: "end"`), throws `BudgetExhaustedError` (`"error"`), or switches to the
 * cheapest affordable model of `downgradeModels` for the rest of the run (`"downgrade"`).
 *
 * Read top to bottom: options, state and context schemas; the factory and its hooks; the
 * helpers that count, check and describe.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, SystemMessage, type ToolMessage } from "@langchain/core/messages";
import { Command, ReducedValue, StateSchema } from "@langchain/langgraph";
import { createMiddleware } from "langchain";
import { z } from "zod";
import { type AbandonedBasis, type AbandonedSettlement, closeAbandoned } from "../budget/abandoned.js";
import {
  type BudgetLimits,
  budgetLimitsSchema,
  budgetPriceTableSchema,
  costUsd,
  countTextTokens,
  createPriceResolver,
  DEFAULT_PRICES,
  encodingForModel,
  type ModelPrice,
  mergePrices,
  type Reservation,
  type ScopeIds,
  type Settlement,
  splitPriceTable,
  toolChargeName,
  UnknownModelPriceError,
  UnknownToolPriceError,
  type Usage,
  usageFromMessage,
} from "../budget/index.js";
import { releaseQuietly, type SharedTokenBudget, settleQuietly, sharedTokenBudgetSchema } from "../budget/shared.js";
import { PromptTokenCounter, TOKENS_PER_MESSAGE } from "../budget/tokens.js";
import { type BudgetExhaustedDetails, BudgetExhaustedError, functionSchema, parseConfig } from "../errors.js";
import {
  type BudgetableModel,
  cappedCopy,
  countsOwnPrompt,
  declaredOutputCap,
  isChatModel,
  type ModelNameSource,
  modelIdentity,
  modelName,
  needsResolving,
  promptTokensOf,
  resolveModel,
} from "../models.js";
import { runWithDeadline, timeoutMsSchema } from "../timeouts.js";
import { ModelCallWatcher, withPrompt } from "./callWatcher.js";
import { ModelWithoutOutputCapError } from "./errors.js";
import {
  ALL_TOOLS,
  earlierSiblings,
  limitReason,
  type ToolCost,
  toolBudgetLine,
  toolCallLimitRefusal,
  toolCallLimitSchema,
  toolCostOf,
  toolDidNotRun,
  toolErrorMessage,
  toolRefusalMessage,
  withStateUpdate,
} from "./toolCharges.js";

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * Output tokens reserved for a model that declares no `maxTokens` (and the cap given to its copy).
 *
 * @example
 * ```ts
 * // A model built without maxTokens is called through a copy capped at 4096 output tokens:
 * tokenBudgetMiddleware({ runLimit: 20_000 }); // same as { runLimit: 20_000, maxOutputTokens: DEFAULT_MAX_OUTPUT_TOKENS }
 * ```
 */
export const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

/** What happens when a limit cannot afford the next model call. */
export type TokenBudgetExitBehavior = "end" | "error" | "downgrade";

/** One model call as it was charged: what `onCharge` receives. */
export interface TokenBudgetCharge {
  /** Name of the model that answered (after any downgrade), or `"tool:<name>"` for a tool call. */
  model: string;
  /** The tool, for a tool call's charge; `undefined` for a model call. */
  tool: string | undefined;
  /** Its provider (e.g. `"openai"`), when the model or its reply says. */
  provider: string | undefined;
  /** Usage charged: reported by the provider, or counted with js-tiktoken (`estimated: true`). */
  usage: Usage;
  /** `usage.inputTokens + usage.outputTokens`. */
  tokens: number;
  /** Cost at the middleware's price table; `undefined` when the model has no price. */
  usd: number | undefined;
  /** True when the provider reported no usage and the tokens were counted with the tokenizer. */
  estimated: boolean;
  /** The upper bound that was checked (and reserved on the shared budget) before the call. */
  reservedTokens: number;
  /** True when the real usage passed the bound (a provider ignoring `max_tokens`, or a low prompt count). */
  overrun: boolean;
  /** True when the output cap was really sent to the provider (declared by the model, or a capped copy was called). */
  outputCapEnforced: boolean;
  /** Name of the model the run was downgraded from, when this call used a downgrade model. */
  downgradedFrom: string | undefined;
  /** Thread, run and example the call was charged to. */
  scopes: ScopeIds;
  /** The shared budget's settlement, when a shared budget is configured. */
  settlement: Settlement | undefined;
  /**
   * The totals in agent state after this charge. For an abandoned call, the totals it found: its
   * model step failed, so agent state does not count it.
   */
  totals: TokenBudgetTotals;
  /**
   * Set when the model call was aborted or timed out and settled all the same (`billAbandonedCalls`):
   * the evidence its usage is: `"late-reply"` the provider's usage of a reply that came after the
   * caller left, `"streamed"` the prompt + the output tokens received (`estimated`), `"reservation"`
   * the whole reservation (`estimated`). `undefined` for a call that answered, and for a tool call.
   */
  abandoned: AbandonedBasis | undefined;
}

/** A limit: a token count (shorthand for `{ maxTokens }`), or `{ maxTokens?, maxUsd? }`. */
const limitSchema = z.union([z.number().int().nonnegative(), budgetLimitsSchema], {
  error: "expected a token count, or { maxTokens?: number, maxUsd?: number }",
});

/**
 * Zod schema of the options, parsed once by {@link tokenBudgetMiddleware}.
 *
 * @example
 * ```ts
 * tokenBudgetMiddlewareOptionsSchema.safeParse({ runLimit: 20_000, exitBehavior: "end" }).success; // true
 * tokenBudgetMiddlewareOptionsSchema.safeParse({ runLimit: { maxUsd: 0.5 } }).success; // true
 * tokenBudgetMiddlewareOptionsSchema.safeParse({ runLimit: -5 }).success; // false
 * tokenBudgetMiddlewareOptionsSchema.safeParse({ exitBehavior: "stop" }).success; // false
 * ```
 */
export const tokenBudgetMiddlewareOptionsSchema = z
  .object({
    /** Limit over the whole thread (kept in agent state: survives invocations with a checkpointer). */
    threadLimit: limitSchema.optional(),
    /** Limit over one invocation (reset when the agent starts). */
    runLimit: limitSchema.optional(),
    /** A budget shared with other agents and concurrent calls; reserved before each call, settled after. */
    budget: sharedTokenBudgetSchema.optional(),
    /**
     * Prices merged over `DEFAULT_PRICES` for `maxUsd` limits, charges and downgrade order; tool
     * prices beside them under `"tool:<name>"`: `{ "tool:web_search": { usdPerCall: 0.01, tokensPerCall?: 0 } }`.
     */
    prices: budgetPriceTableSchema.optional(),
    /** Per-tool call limits per thread and run: `{ web_search: { run: 3, thread: 10 }, "*": { run: 20 } }`. */
    toolCallLimit: toolCallLimitSchema.optional(),
    /**
     * Deadline of each model call, in ms (≤ 2^31 − 1). A call past it is abandoned (even when the
     * model ignores its signal) and fails with `DeadlineExceededError`. Default: none.
     */
    timeoutMs: timeoutMsSchema.optional(),
    /**
     * Charge a model call that was aborted or timed out at what the provider bills (a late reply's
     * usage; nothing when the request never left; a stream's prompt + output tokens received; else
     * the whole reservation) on the shared budget, instead of releasing it at zero. Default true;
     * set false for a local model that bills nothing.
     */
    billAbandonedCalls: z.boolean().optional(),
    /**
     * Throw `UnknownModelPriceError` for a model without a price. Default: true when a thread or
     * run limit has `maxUsd`. With `false` an unpriced model's calls count 0 USD (tokens still count).
     */
    requirePrices: z.boolean().optional(),
    /** Output tokens reserved for a model that declares no `maxTokens`. Default 4096. */
    maxOutputTokens: z.number().int().positive().optional(),
    /**
     * A model without `maxTokens`: `"cap"` (default) calls a copy of it built with
     * `maxTokens: maxOutputTokens`; `"reserve"` calls it as is and only reserves
     * `maxOutputTokens` (an overrun is possible and is flagged); `"error"` throws `ModelWithoutOutputCapError`.
     */
    uncappedModels: z.enum(["cap", "reserve", "error"]).optional(),
    /** When a limit cannot afford the next call: `"end"` (default), `"error"` or `"downgrade"`. */
    exitBehavior: z.enum(["end", "error", "downgrade"]).optional(),
    /** Cheaper models for `exitBehavior: "downgrade"`; each needs a price. */
    downgradeModels: z
      .array(z.custom<BaseChatModel>(isChatModel, { message: "must be a LangChain chat model (BaseChatModel)" }))
      .optional(),
    /** Append "Remaining token budget: N tokens (~$X)" to the system prompt of every call. Default false. */
    injectRemainingBudget: z.boolean().optional(),
    /**
     * Called after every charged call (the ledger's seam). Awaited; an error it throws fails the model
     * step. An aborted or timed-out call settled on the shared budget is reported too (`abandoned`
     * set), once; an error thrown then is a process warning, the call's own error propagates.
     */
    onCharge: functionSchema<(charge: TokenBudgetCharge) => void | Promise<void>>().optional(),
  })
  .strict()
  .superRefine((options, context) => {
    const downgradeModels = options.downgradeModels ?? [];
    if (options.exitBehavior === "downgrade" && downgradeModels.length === 0) {
      context.addIssue({
        code: "custom",
        path: ["downgradeModels"],
        message: 'exitBehavior "downgrade" needs at least one model in downgradeModels',
      });
    }
    const priceOf = createPriceResolver(mergePrices(DEFAULT_PRICES, splitPriceTable(options.prices).models));
    downgradeModels.forEach((model, index) => {
      const name = modelName(model);
      if (!priceOf(name)) {
        context.addIssue({
          code: "custom",
          path: ["downgradeModels", index],
          message: `no price for model "${name}": add it to prices, e.g. prices: { "${name}": { inputPerMillion: 0.1, outputPerMillion: 0.4 } }`,
        });
      }
    });
  });

/** Options of {@link tokenBudgetMiddleware}. */
export type TokenBudgetMiddlewareOptions = z.input<typeof tokenBudgetMiddlewareOptionsSchema>;

// ---------------------------------------------------------------------------
// State and context
// ---------------------------------------------------------------------------

/** The middleware's totals, kept in agent state under `tokenBudget`. */
export interface TokenBudgetTotals {
  /** Tokens charged in this thread (model calls and tool token equivalents): persists across invocations with a checkpointer. */
  threadTokens: number;
  /** USD charged in this thread, tool calls included (0 for models and tools without a price). */
  threadUsd: number;
  /** Tokens charged in the current invocation; reset when an invocation starts. */
  runTokens: number;
  /** USD charged in the current invocation, tool calls included. */
  runUsd: number;
  /** Name of the downgrade model used for the rest of the run, or null. */
  downgradedTo: string | null;
  /** Calls per tool in this thread (priced or limited tools only). Absent in totals saved before 0.4. */
  threadToolCalls?: Record<string, number>;
  /** Calls per tool in the current invocation (priced or limited tools only). */
  runToolCalls?: Record<string, number>;
  /** USD of tool calls in this thread (part of `threadUsd`). */
  threadToolUsd?: number;
  /** USD of tool calls in the current invocation (part of `runUsd`). */
  runToolUsd?: number;
}

const EMPTY_TOTALS: TokenBudgetTotals = Object.freeze({
  threadTokens: 0,
  threadUsd: 0,
  runTokens: 0,
  runUsd: 0,
  downgradedTo: null,
  threadToolCalls: {},
  runToolCalls: {},
  threadToolUsd: 0,
  runToolUsd: 0,
});

function isTotals(value: unknown): value is TokenBudgetTotals {
  if (typeof value !== "object" || value === null) return false;
  const totals = value as Record<string, unknown>;
  return ["threadTokens", "threadUsd", "runTokens", "runUsd"].every((key) => typeof totals[key] === "number");
}

/** One tool call's charge, added to the totals by the state's reducer. */
interface ToolChargeUpdate {
  addToolCall: { tool: string; tokens: number; usd: number };
}

function isToolChargeUpdate(value: unknown): value is ToolChargeUpdate {
  const add = (value as Partial<ToolChargeUpdate> | null)?.addToolCall;
  return typeof add === "object" && add !== null && typeof add.tool === "string";
}

const increment = (counts: Record<string, number> | undefined, tool: string) => ({
  ...counts,
  [tool]: (counts?.[tool] ?? 0) + 1,
});

/** `totals` after one more call of `tool` costing `tokens` and `usd`. */
function withToolCall(totals: TokenBudgetTotals, { tool, tokens, usd }: ToolChargeUpdate["addToolCall"]) {
  return {
    ...totals,
    threadTokens: totals.threadTokens + tokens,
    threadUsd: totals.threadUsd + usd,
    runTokens: totals.runTokens + tokens,
    runUsd: totals.runUsd + usd,
    threadToolCalls: increment(totals.threadToolCalls, tool),
    runToolCalls: increment(totals.runToolCalls, tool),
    threadToolUsd: (totals.threadToolUsd ?? 0) + usd,
    runToolUsd: (totals.runToolUsd ?? 0) + usd,
  };
}

/**
 * The state's reducer: new totals replace the old (model calls and the start of a run, one at a
 * time); a tool call's charge is added to them (the tool calls of one step run in parallel, and
 * each reports its own).
 */
function reduceTotals(
  current: TokenBudgetTotals | undefined,
  update: TokenBudgetTotals | ToolChargeUpdate,
): TokenBudgetTotals {
  if (isToolChargeUpdate(update)) return withToolCall(current ?? EMPTY_TOTALS, update.addToolCall);
  return update;
}

/**
 * Agent state of the middleware: one field, `tokenBudget` ({@link TokenBudgetTotals}), with a
 * reducer so that parallel tool calls each add their charge.
 *
 * One field, not six: LangChain re-derives and re-parses a middleware's state schema on every
 * model call (≈ 290 µs for six zod-4 object fields, measured here); one `z.custom` field costs a
 * type check.
 *
 * @example
 * ```ts
 * const agent = createAgent({ model, tools, middleware: [tokenBudgetMiddleware({ runLimit: 20_000 })] });
 * const { tokenBudget } = await agent.invoke(input); // { threadTokens, threadUsd, runTokens, runUsd, runToolCalls, ... }
 * tokenBudgetStateSchema.fields.tokenBudget; // a ReducedValue
 * ```
 */
export const tokenBudgetStateSchema = new StateSchema({
  tokenBudget: new ReducedValue(
    z
      .custom<TokenBudgetTotals>(isTotals, { message: "expected the token budget totals" })
      .default(() => ({ ...EMPTY_TOTALS })),
    {
      // Optional: LangChain requires a middleware's state input to be complete without it. (Typed
      // without `undefined`, which ReducedValue's signature does not take; the reducer never gets it.)
      inputSchema: z
        .custom<TokenBudgetTotals | ToolChargeUpdate>((value) => isTotals(value) || isToolChargeUpdate(value), {
          message: "expected the token budget totals or a tool call's charge",
        })
        .optional() as unknown as z.ZodType<TokenBudgetTotals | ToolChargeUpdate>,
      reducer: reduceTotals,
    },
  ),
});

/**
 * Per-invocation context: `agent.invoke(input, { context: { tokenBudget: { exampleId: "gsm8k-17" } } })`.
 * `exampleId` and `runId` name the shared budget's example and run scopes the calls are charged
 * to (without them those scopes do not apply; the caller closes them with `budget.closeScope`);
 * `threadLimit` / `runLimit` override the configured limits for this invocation.
 *
 * @example
 * ```ts
 * tokenBudgetContextSchema.parse({ tokenBudget: { exampleId: "gsm8k-17", runLimit: 5_000 } });
 * // { tokenBudget: { exampleId: "gsm8k-17", runLimit: 5000 } }
 * tokenBudgetContextSchema.safeParse({ tokenBudget: { example: "gsm8k-17" } }).success; // false: unknown key
 * ```
 */
export const tokenBudgetContextSchema = z.object({
  tokenBudget: z
    .object({
      exampleId: z.string().min(1).optional(),
      runId: z.string().min(1).optional(),
      threadLimit: limitSchema.optional(),
      runLimit: limitSchema.optional(),
    })
    .strict()
    .optional(),
});

type TokenBudgetState = { tokenBudget?: TokenBudgetTotals };
type TokenBudgetContext = NonNullable<z.output<typeof tokenBudgetContextSchema>["tokenBudget"]>;

/**
 * Key of `response_metadata` on the AIMessage the middleware writes when it stops the agent.
 *
 * @example
 * ```ts
 * const { messages } = await agent.invoke({ messages: [{ role: "user", content: "Plan a trip to Lisbon." }] });
 * const last = messages.at(-1) as AIMessage;
 * last.response_metadata[BUDGET_EXHAUSTED_METADATA_KEY]; // the BudgetExhaustedDetails when the budget stopped the run
 * budgetExhaustionOf(last); // the same, checked
 * ```
 */
export const BUDGET_EXHAUSTED_METADATA_KEY = "tokenBudgetExhausted";

const MIDDLEWARE_NAME = "TokenBudgetMiddleware";

/**
 * Label of a tool call's reservation on the shared budget (its ledger charges carry it); the
 * charge's model is `"tool:<name>"`, so `gavel ledger spend --by tool` groups them.
 *
 * @example
 * ```ts
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 5 } }, onEvent: (event) => {
 *   if (event.type === "settle" && event.reservation.label === TOOL_CALL_LABEL) console.log(event.reservation.model); // "tool:web_search"
 * } });
 * ```
 */
export const TOOL_CALL_LABEL = `${MIDDLEWARE_NAME}.tool`;

// ---------------------------------------------------------------------------
// The factory
// ---------------------------------------------------------------------------

/**
 * Creates a middleware that keeps an agent within token and USD budgets.
 *
 * Before each model call it checks that every limit can afford the call's upper bound (prompt
 * tokens + the model's output cap) — reserving it on the shared `budget`, if one is given — and
 * after the call it charges the real usage (`usage_metadata`, or a js-tiktoken estimate marked
 * `estimated`). A call that fails releases its reservation and the error is rethrown; one that
 * is aborted or passes `timeoutMs` is charged at what the provider bills (`billAbandonedCalls`).
 * Calls of a priced or limited tool are checked, reserved and charged the same way, and refused
 * with an error tool message the model reads. Thread and run totals live in agent state, in
 * `tokenBudget` ({@link TokenBudgetTotals}).
 *
 * @param options - Limits, shared budget, prices and behaviour; see {@link TokenBudgetMiddlewareOptions}.
 * @param options.threadLimit - Limit over the whole thread: a token count or `{ maxTokens?, maxUsd? }`.
 * @param options.runLimit - Limit over one invocation: a token count or `{ maxTokens?, maxUsd? }`.
 * @param options.budget - A `TokenBudget` shared by many agents (global / thread / run / example scopes).
 * @param options.exitBehavior - `"end"` (default), `"error"` or `"downgrade"`.
 * @param options.prices - Model prices, and tool prices under `"tool:<name>"` (`{ usdPerCall, tokensPerCall? }`).
 * @param options.toolCallLimit - Calls per tool per thread / run (`"*"`: all tools together).
 * @returns A middleware to pass to `createAgent({ middleware: [...] })`.
 * @throws ConfigError at construction when an option is invalid (a negative or non-numeric
 *   limit, an unknown key, a downgrade model without a price, `"downgrade"` without models).
 * @throws BudgetExhaustedError from `agent.invoke` when `exitBehavior` is `"error"` and a limit cannot
 *   afford the next call.
 * @throws UnknownModelPriceError from the first call of a model that has no price while a `maxUsd` limit is set
 *   (unless `requirePrices: false`).
 * @throws UnknownToolPriceError from a call of a tool that has no price, with `requirePrices: true`.
 *
 * @example
 * ```ts
 * import { createAgent, tool } from "langchain";
 * import { ChatOpenAI } from "@langchain/openai";
 * import { tokenBudgetMiddleware } from "langchain-gavel";
 *
 * const agent = createAgent({
 *   model: new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 512 }),
 *   tools: [search],
 *   middleware: [tokenBudgetMiddleware({ runLimit: 20_000, threadLimit: { maxUsd: 0.5 } })],
 * });
 * const result = await agent.invoke({ messages: [{ role: "user", content: "..." }] });
 * console.log(result.tokenBudget.runTokens, result.tokenBudget.threadUsd);
 * ```
 *
 * @example
 * ```ts
 * // One budget for many agents and concurrent runs; downgrade instead of stopping.
 * import { createTokenBudget, tokenBudgetMiddleware } from "langchain-gavel";
 *
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 5 }, example: { maxTokens: 2_048 } } });
 * const middleware = tokenBudgetMiddleware({
 *   budget,
 *   exitBehavior: "downgrade",
 *   downgradeModels: [new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 256 })],
 *   injectRemainingBudget: true,
 * });
 * await agent.invoke(input, { context: { tokenBudget: { exampleId: "gsm8k-17" } } });
 * ```
 *
 * @example
 * ```ts
 * // A string model, a paid search tool (at most 3 calls per run) and a USD limit over both.
 * const agent = createAgent({
 *   model: "openai:gpt-4o-mini",
 *   tools: [webSearch],
 *   middleware: [
 *     tokenBudgetMiddleware({
 *       runLimit: { maxUsd: 0.05 },
 *       prices: { "tool:web_search": { usdPerCall: 0.01 } },
 *       toolCallLimit: { web_search: { run: 3 } },
 *       injectRemainingBudget: true,
 *     }),
 *   ],
 * });
 * const { tokenBudget } = await agent.invoke(input);
 * tokenBudget.runToolCalls; // { web_search: 2 }
 * ```
 */
export function tokenBudgetMiddleware(options: TokenBudgetMiddlewareOptions = {}) {
  const {
    threadLimit,
    runLimit,
    budget,
    prices,
    maxOutputTokens = DEFAULT_MAX_OUTPUT_TOKENS,
    uncappedModels = "cap",
    exitBehavior = "end",
    downgradeModels = [],
    injectRemainingBudget = false,
    requirePrices,
    toolCallLimit,
    timeoutMs,
    billAbandonedCalls = true,
    onCharge,
  } = parseConfig("tokenBudgetMiddleware options", tokenBudgetMiddlewareOptionsSchema, options);

  const configuredLimits: ScopeLimits = { thread: toLimits(threadLimit), run: toLimits(runLimit) };
  const { models: modelPrices, tools: toolPrices } = splitPriceTable(prices);
  const models = new ModelCatalog(createPriceResolver(mergePrices(DEFAULT_PRICES, modelPrices)), maxOutputTokens);
  /** The hook on tool calls is added only when a tool has a price or a limit (see wrapToolCall below). */
  const tracksTools = Object.keys(toolPrices).length > 0 || Object.keys(toolCallLimit ?? {}).length > 0;
  /** ...or when every tool must have a price: an unpriced tool is refused there, priced or limited tools or not. */
  const wrapsTools = tracksTools || requirePrices === true;
  const isTracked = (tool: string) =>
    Object.hasOwn(toolPrices, tool) ||
    (toolCallLimit !== undefined && (Object.hasOwn(toolCallLimit, tool) || Object.hasOwn(toolCallLimit, ALL_TOOLS)));
  /** Prompt counts, remembered across calls: a long history costs one count per new message, not per call. */
  const counter = new PromptTokenCounter({ reportedOutputs: true, rememberIds: true });

  /** Limits, scope ids and totals that apply to one call. */
  function ledgerView(state: TokenBudgetState, context: TokenBudgetContext | undefined, threadId: unknown) {
    const limits: ScopeLimits = {
      thread: context?.threadLimit !== undefined ? toLimits(context.threadLimit) : configuredLimits.thread,
      run: context?.runLimit !== undefined ? toLimits(context.runLimit) : configuredLimits.run,
    };
    const scopes: ScopeIds = {};
    if (typeof threadId === "string" && threadId.length > 0) scopes.thread = threadId;
    if (context?.runId !== undefined) scopes.run = context.runId;
    if (context?.exampleId !== undefined) scopes.example = context.exampleId;
    return { limits, scopes, totals: state.tokenBudget ?? EMPTY_TOTALS };
  }

  /**
   * Admit one call of a priced or limited tool: its per-tool limits, then the thread and run
   * limits at its price, counting first the calls of the same step that come before it (they run
   * in parallel and see the same state). Returns the totals it is checked against, or the refusal.
   */
  function admitTool(
    cost: ToolCost,
    view: LedgerView,
    messages: readonly BaseMessage[],
    toolCallId: string | undefined,
  ): { totals: TokenBudgetTotals; refusal?: { reason: string; details: Record<string, unknown> } } {
    const check = (candidate: ToolCost, totals: TokenBudgetTotals) => {
      const counts = { thread: totals.threadToolCalls ?? {}, run: totals.runToolCalls ?? {} };
      const limit = toolCallLimitRefusal(candidate.tool, counts, toolCallLimit);
      if (limit) return { reason: limitReason(candidate.tool, limit), details: { tool: candidate.tool, ...limit } };
      const need = { name: toolChargeName(candidate.tool), tokens: candidate.tokens, usd: candidate.usd };
      const exhausted = stateRefusal({ ...view, totals }, need);
      if (exhausted)
        return { reason: toolBudgetReason(candidate, exhausted), details: { tool: candidate.tool, ...exhausted } };
      return undefined;
    };
    let totals = view.totals;
    for (const sibling of earlierSiblings(messages, toolCallId)) {
      if (!isTracked(sibling.name)) continue;
      const siblingCost = toolCostOf(sibling.name, toolPrices);
      if (!check(siblingCost, totals)) totals = withToolCall(totals, siblingCost);
    }
    const refusal = check(cost, totals);
    return refusal ? { totals, refusal } : { totals };
  }

  /** Check the state limits, then reserve on the shared budget. Returns the reservation or the refusal. */
  async function admit(plan: CallPlan, view: LedgerView): Promise<Admission> {
    if (plan.price === undefined && pricesRequired(view.limits)) throw new UnknownModelPriceError(plan.name);
    const refusal = stateRefusal(view, plan);
    if (refusal) return { refusal };
    if (!budget) return {};
    try {
      const reservation = await budget.reserve({
        model: plan.name,
        inputTokens: plan.inputTokens,
        maxOutputTokens: plan.outputCap,
        scopes: view.scopes,
        label: MIDDLEWARE_NAME,
      });
      return { reservation };
    } catch (error) {
      if (BudgetExhaustedError.isInstance(error)) return { refusal: detailsOf(error) };
      throw error;
    }
  }

  /** Whether an unpriced model (or tool) is an error under these limits: `requirePrices`, else any `maxUsd` limit. */
  function pricesRequired(limits: ScopeLimits): boolean {
    return requirePrices ?? (limits.thread?.maxUsd !== undefined || limits.run?.maxUsd !== undefined);
  }

  /** Downgrade models other than `current`, no dearer than it for this call, cheapest first. */
  function downgradePlans(current: CallPlan, plan: (model: BudgetableModel) => CallPlan): CallPlan[] {
    return downgradeModels
      .filter((model) => model !== current.source)
      .map(plan)
      .filter((candidate) => candidate.name !== current.name)
      .filter((candidate) => current.usd === undefined || (candidate.usd ?? 0) <= current.usd)
      .sort((left, right) => (left.usd ?? 0) - (right.usd ?? 0) || left.tokens - right.tokens);
  }

  /** The remaining-budget note: what is left (tool spend included), and each tracked tool's price and calls left. */
  async function budgetNote(view: LedgerView): Promise<string | undefined> {
    const lines = [remainingBudgetLine(await remainingBudget(view))];
    if (tracksTools) {
      const counts = { thread: view.totals.threadToolCalls ?? {}, run: view.totals.runToolCalls ?? {} };
      lines.push(toolBudgetLine(toolPrices, toolCallLimit, counts));
    }
    const text = lines.filter((line) => line !== undefined).join("\n");
    return text.length > 0 ? text : undefined;
  }

  async function remainingBudget(view: LedgerView): Promise<{ tokens?: number; usd?: number }> {
    const remaining = budget ? await budget.remaining(view.scopes) : {};
    let { tokens, usd } = remaining;
    for (const scope of ["thread", "run"] as const) {
      const limits = view.limits[scope];
      if (limits?.maxTokens !== undefined) {
        const left = Math.max(0, limits.maxTokens - spentIn(view.totals, scope).tokens);
        tokens = Math.min(tokens ?? left, left);
      }
      if (limits?.maxUsd !== undefined) {
        const left = Math.max(0, limits.maxUsd - spentIn(view.totals, scope).usd);
        usd = Math.min(usd ?? left, left);
      }
    }
    return { ...(tokens !== undefined && { tokens }), ...(usd !== undefined && { usd }) };
  }

  return createMiddleware({
    name: MIDDLEWARE_NAME,
    stateSchema: tokenBudgetStateSchema,
    contextSchema: tokenBudgetContextSchema,

    // Once per invocation: a new run starts with empty run totals and the agent's own model.
    beforeAgent: (state) => ({
      tokenBudget: {
        ...(state.tokenBudget ?? EMPTY_TOTALS),
        runTokens: 0,
        runUsd: 0,
        downgradedTo: null,
        runToolCalls: {},
        runToolUsd: 0,
      },
    }),

    // The gate is here and not in a beforeModel hook: only here are the model, the final system
    // prompt and the tools known (an upper bound needs them), and a beforeModel hook would add
    // a graph step to every model call (≈ 0.3 ms measured, more than the rest of the middleware).
    wrapModelCall: async (request, handler) => {
      const state = request.state;
      const view = ledgerView(state, request.runtime.context?.tokenBudget, request.runtime.configurable?.thread_id);
      const budgetLine = injectRemainingBudget ? await budgetNote(view) : undefined;
      const systemPrompt = withLine(request.systemPrompt, budgetLine);
      const prompt = {
        systemPrompt: request.systemPrompt,
        systemSuffix: systemPrompt.slice(request.systemPrompt.length),
      };
      // A model that counts its own prompt (the local llama.cpp model) is reserved at the larger of its
      // count and js-tiktoken's: tiktoken undercounts a small-vocabulary model several times over, and the
      // model's count of the messages leaves out tool schemas.
      const ownCounts = new Map<BudgetableModel, number>();
      const planFor = (model: BudgetableModel | undefined) => {
        const estimate = callPromptTokens(counter, prompt, request.messages, request.tools, models.nameOf(model));
        const own = model === undefined ? undefined : ownCounts.get(model);
        return models.plan(model, own === undefined ? estimate : Math.max(own, estimate), uncappedModels);
      };

      // A configurable model (initChatModel, a string model of createAgent) resolves to the client it
      // builds for this call's config: named, priced and capped as that client.
      const resolved = needsResolving(request.model)
        ? await resolveModel(request.model, request.runtime.configurable)
        : (request.model as BudgetableModel);
      const downgradedTo = view.totals.downgradedTo;
      const downgraded = downgradedTo
        ? downgradeModels.find((model) => models.nameOf(model) === downgradedTo)
        : undefined;
      /** Count the prompt of each self-counting model among `candidates` (once per call, only when planned). */
      const countOwn = async (candidates: ReadonlyArray<BudgetableModel | undefined>) => {
        for (const model of candidates) {
          if (model === undefined || ownCounts.has(model) || !countsOwnPrompt(model)) continue;
          const messages =
            systemPrompt === "" ? request.messages : [new SystemMessage(systemPrompt), ...request.messages];
          ownCounts.set(model, await promptTokensOf(model, messages));
        }
      };
      await countOwn([downgraded ?? resolved]);
      let plan = planFor(downgraded ?? resolved);
      let admission = await admit(plan, view);
      let downgradedFrom = downgraded && resolved ? models.nameOf(resolved) : undefined;
      if (admission.refusal && exitBehavior === "downgrade") {
        await countOwn(downgradeModels); // a local downgrade model is counted only when a downgrade is considered
        for (const candidate of downgradePlans(plan, planFor)) {
          const candidateAdmission = await admit(candidate, view);
          if (candidateAdmission.refusal) continue;
          downgradedFrom = downgradedFrom ?? plan.name;
          plan = candidate;
          admission = candidateAdmission;
          break;
        }
      }
      if (admission.refusal) return exhaustedMessage(admission.refusal, exitBehavior === "downgrade");

      const { reservation } = admission;
      const signal = request.runtime.signal;
      if (signal?.aborted) {
        // The caller left while the call was admitted (a shared store's reserve, say): nothing is sent.
        if (reservation && budget) await releaseQuietly(budget, reservation);
        throw abortErrorOf(signal);
      }
      let response: AIMessage;
      /** The call, when the deadline abandoned it while the provider may still be generating it. */
      let abandoned: Promise<AIMessage> | undefined;
      /** What the call leaves behind if it is aborted: sent or not, the chunks streamed, a late reply. */
      const watcher = reservation && budget && billAbandonedCalls ? new ModelCallWatcher(signal) : undefined;
      const model = plan.callModel !== undefined ? (plan.callModel as typeof request.model) : request.model;
      const call = () =>
        handler({
          ...request,
          model: watcher ? watcher.watch(model) : model,
          ...(systemPrompt !== request.systemPrompt && { systemPrompt }),
        }) as Promise<AIMessage>;
      try {
        response =
          timeoutMs === undefined
            ? await call()
            : await runWithDeadline(call, {
                timeoutMs,
                ...(signal !== undefined && { signal }),
                label: `Model "${plan.name}" call`,
                onAbandoned: (pending) => {
                  abandoned = pending;
                },
              });
      } catch (error) {
        if (reservation && budget) {
          if (abandoned !== undefined || signal?.aborted === true || isAbortError(error)) {
            const report = (settlement: AbandonedSettlement) =>
              reportAbandoned(onCharge, abandonedCharge(settlement, { plan, downgradedFrom, view }));
            await closeAborted(budget, reservation, { plan, watcher, abandoned, bill: billAbandonedCalls, report });
          } else {
            await releaseQuietly(budget, reservation); // failed before the provider generated anything
          }
        }
        throw error;
      }

      // A model known only by its LLM type is named (and priced) from its reply from now on.
      plan = models.learnFromReply(plan, response);
      const reported = usageFromMessage(response, [], plan.name);
      const usage: Usage = reported.estimated ? { ...reported, inputTokens: plan.inputTokens } : reported;
      const settlement = reservation && budget ? await settleQuietly(budget, reservation, usage) : undefined;
      const tokens = usage.inputTokens + usage.outputTokens;
      const usd = plan.price ? costUsd(plan.price, usage) : undefined;
      const totals: TokenBudgetTotals = {
        ...view.totals,
        threadTokens: view.totals.threadTokens + tokens,
        threadUsd: view.totals.threadUsd + (usd ?? 0),
        runTokens: view.totals.runTokens + tokens,
        runUsd: view.totals.runUsd + (usd ?? 0),
        ...(downgradedFrom !== undefined && { downgradedTo: plan.name }),
      };
      const charge: TokenBudgetCharge = {
        model: plan.name,
        tool: undefined,
        provider: plan.provider,
        usage,
        tokens,
        usd,
        estimated: usage.estimated === true,
        reservedTokens: plan.tokens,
        overrun: settlement?.overrun ?? (tokens > plan.tokens || (usd ?? 0) > (plan.usd ?? Number.POSITIVE_INFINITY)),
        outputCapEnforced: plan.capEnforced,
        downgradedFrom,
        scopes: view.scopes,
        settlement,
        totals,
        abandoned: undefined,
      };
      if (onCharge) await onCharge(charge);
      return new Command({ update: { tokenBudget: totals } });
    },

    // Tool calls, reserved then settled like model calls. Only when a tool has a price or a limit,
    // or with requirePrices: true: LangChain v1 treats an error that passes through any wrapToolCall
    // hook as fatal to the run, so an agent without priced or limited tools keeps LangChain's own
    // tool error handling. With requirePrices: true an unpriced tool is refused with
    // UnknownToolPriceError before it runs — fatal on purpose, like UnknownModelPriceError for a
    // model: a missing price is the operator's to fix, not the model's to work around.
    wrapToolCall: !wrapsTools
      ? undefined
      : async (request, handler): Promise<ToolMessage | Command> => {
          const { toolCall } = request;
          const cost = toolCostOf(toolCall.name, toolPrices);
          if (!cost.priced && requirePrices === true) throw new UnknownToolPriceError(toolCall.name);
          if (!isTracked(toolCall.name)) return handler(request); // free and unlimited: not counted
          const view = ledgerView(
            request.state,
            request.runtime.context?.tokenBudget,
            request.runtime.configurable?.thread_id,
          );
          const admission = admitTool(cost, view, request.state.messages, toolCall.id);
          if (admission.refusal)
            return toolRefusalMessage(toolCall, admission.refusal.reason, admission.refusal.details);
          let reservation: Reservation | undefined;
          if (budget && cost.priced) {
            try {
              reservation = await budget.reserve({
                model: toolChargeName(toolCall.name),
                inputTokens: cost.tokens,
                maxOutputTokens: 0,
                scopes: view.scopes,
                label: TOOL_CALL_LABEL,
              });
            } catch (error) {
              if (!BudgetExhaustedError.isInstance(error)) throw error;
              const details = detailsOf(error);
              return toolRefusalMessage(toolCall, toolBudgetReason(cost, details), { tool: toolCall.name, ...details });
            }
          }
          let result: ToolMessage | Command;
          try {
            result = await handler(request);
          } catch (error) {
            // Arguments that failed the tool's schema, or an interrupt: the tool did not run.
            if (toolDidNotRun(error)) {
              if (reservation && budget) await releaseQuietly(budget, reservation);
              throw error;
            }
            // The tool ran and failed: charged (a paid API bills the call), and the model is told, as
            // LangChain tells it when no middleware wraps the call.
            result = toolErrorMessage(error, toolCall);
          }
          const usage: Usage = { inputTokens: cost.tokens, outputTokens: 0 };
          const settlement = reservation && budget ? await settleQuietly(budget, reservation, usage) : undefined;
          const totals = withToolCall(admission.totals, cost);
          if (onCharge) {
            await onCharge({
              model: toolChargeName(toolCall.name),
              tool: toolCall.name,
              provider: undefined,
              usage: { ...usage, estimated: false },
              tokens: cost.tokens,
              usd: cost.priced ? cost.usd : undefined,
              estimated: false,
              reservedTokens: cost.tokens,
              overrun: false,
              outputCapEnforced: false,
              downgradedFrom: undefined,
              scopes: view.scopes,
              settlement,
              totals,
              abandoned: undefined,
            });
          }
          return withStateUpdate(result, {
            tokenBudget: { addToolCall: { tool: toolCall.name, tokens: cost.tokens, usd: cost.usd } },
          });
        },

    // With exitBehavior "error": once per invocation, after the refusal AIMessage (it has no tool
    // calls) ended the loop, throw the BudgetExhaustedError it describes. Thrown here and not from
    // wrapModelCall, whose errors LangChain wraps in a MiddlewareError.
    ...(exitBehavior === "error" && {
      afterAgent: (state: TokenBudgetState & { messages: BaseMessage[] }) => {
        const details = budgetExhaustionOf(state.messages.at(-1));
        if (details) throw new BudgetExhaustedError(details);
        return undefined;
      },
    }),
  });
}

/**
 * The budget details on a message the middleware wrote when it stopped the agent, or `undefined`.
 *
 * @example
 * ```ts
 * const result = await agent.invoke(input);
 * const details = budgetExhaustionOf(result.messages.at(-1));
 * if (details) console.log(`stopped by the ${details.scope} ${details.unit} limit`);
 * ```
 */
export function budgetExhaustionOf(message: BaseMessage | undefined): BudgetExhaustedDetails | undefined {
  if (!message || !AIMessage.isInstance(message)) return undefined;
  const details = message.response_metadata?.[BUDGET_EXHAUSTED_METADATA_KEY] as BudgetExhaustedDetails | undefined;
  return typeof details === "object" && details !== null && typeof details.limit === "number" ? details : undefined;
}

// ---------------------------------------------------------------------------
// Helpers: limits, totals, checks
// ---------------------------------------------------------------------------

interface ScopeLimits {
  thread: BudgetLimits | undefined;
  run: BudgetLimits | undefined;
}

interface LedgerView {
  limits: ScopeLimits;
  scopes: ScopeIds;
  totals: TokenBudgetTotals;
}

interface Admission {
  reservation?: Reservation;
  refusal?: BudgetExhaustedDetails;
}

function toLimits(limit: number | BudgetLimits | undefined): BudgetLimits | undefined {
  return typeof limit === "number" ? { maxTokens: limit } : limit;
}

/** Spent tokens and USD of a scope kept in agent state. */
function spentIn(totals: TokenBudgetTotals, scope: "thread" | "run"): { tokens: number; usd: number } {
  return scope === "thread"
    ? { tokens: totals.threadTokens, usd: totals.threadUsd }
    : { tokens: totals.runTokens, usd: totals.runUsd };
}

/**
 * True for the error of a client-side abort (`AbortError`, the OpenAI SDK's `APIUserAbortError`,
 * LangChain's `ModelAbortError`).
 */
function isAbortError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return name === "AbortError" || name === "APIUserAbortError" || name === "ModelAbortError";
}

/** The error an aborted signal stands for, as LangChain raises it: its reason when that is an Error. */
function abortErrorOf(signal: AbortSignal): Error {
  const { reason } = signal;
  if (reason instanceof Error) return reason;
  return new Error(typeof reason === "string" ? reason : "Aborted");
}

/**
 * Close the reservation of a model call that was aborted or timed out, on the best evidence of
 * what the provider bills (`closeAbandoned`; docs/budgets.md, "What is billed and what is
 * settled"): the usage of a reply that still comes; nothing when the request never left; the
 * prompt + the output tokens received, for a stream; else the whole reservation. Settled off the
 * request path when a reply may still come (the reservation holds its room until the model run
 * ends, at most the grace period); once, whatever ends it. A settlement is passed to `report`
 * (awaited on the request path, not after a late reply); a release is not.
 */
async function closeAborted(
  budget: SharedTokenBudget,
  reservation: Reservation,
  context: {
    plan: CallPlan;
    watcher: ModelCallWatcher | undefined;
    abandoned: Promise<AIMessage> | undefined;
    bill: boolean;
    report: (settlement: AbandonedSettlement) => Promise<void>;
  },
): Promise<void> {
  const { plan, watcher, abandoned, bill, report } = context;
  const { name, inputTokens } = plan;
  const late = firstUsage([
    watcher?.lateUsage(name, inputTokens),
    abandoned?.then((reply) => withPrompt(usageFromMessage(reply, [], name), inputTokens)),
  ]);
  const closing = closeAbandoned(budget, reservation, {
    bill,
    ...(late !== undefined && { late }),
    ...(watcher !== undefined && {
      sent: () => watcher.sent(),
      streamed: () => watcher.streamedUsage(name, inputTokens),
    }),
  }).then((settlement) => (settlement ? report(settlement) : undefined));
  if (late === undefined) await closing;
}

/** The charge of an abandoned model call, as `onCharge` receives it: at the usage it was settled at. */
function abandonedCharge(
  settlement: AbandonedSettlement,
  call: { plan: CallPlan; downgradedFrom: string | undefined; view: LedgerView },
): TokenBudgetCharge {
  const { plan, downgradedFrom, view } = call;
  const { usage, tokens, overrun, basis } = settlement;
  return {
    model: plan.name,
    tool: undefined,
    provider: plan.provider,
    usage,
    tokens,
    usd: plan.price ? costUsd(plan.price, usage) : undefined,
    estimated: usage.estimated === true,
    reservedTokens: plan.tokens,
    overrun,
    outputCapEnforced: plan.capEnforced,
    downgradedFrom,
    scopes: view.scopes,
    settlement,
    totals: view.totals,
    abandoned: basis,
  };
}

/**
 * Hand an abandoned call's charge to `onCharge`. Never throws: the call's own error (its abort or
 * `DeadlineExceededError`) is what the caller sees, and a late settlement has no caller left; an
 * error of `onCharge` becomes a process warning (`GAVEL_ABANDONED_CHARGE_FAILED`).
 */
async function reportAbandoned(
  onCharge: ((charge: TokenBudgetCharge) => void | Promise<void>) | undefined,
  charge: TokenBudgetCharge,
): Promise<void> {
  if (!onCharge) return;
  try {
    await onCharge(charge);
  } catch (error) {
    try {
      process.emitWarning(
        `onCharge failed for the abandoned call of model "${charge.model}" (${charge.tokens} tokens settled): ${error instanceof Error ? error.message : String(error)}`,
        { type: "GavelChargeWarning", code: "GAVEL_ABANDONED_CHARGE_FAILED" },
      );
    } catch {
      // A warning listener that throws must not turn the report into the failure it was meant to avoid.
    }
  }
}

/** The first of `candidates` to resolve to a usage; undefined once all resolved without one (or rejected). */
function firstUsage(candidates: Array<Promise<Usage | undefined> | undefined>): Promise<Usage | undefined> | undefined {
  const pending = candidates.filter((candidate) => candidate !== undefined);
  if (pending.length <= 1) return pending[0];
  return new Promise((resolve) => {
    let left = pending.length;
    const done = (usage: Usage | undefined) => {
      left -= 1;
      if (usage !== undefined || left === 0) resolve(usage);
    };
    for (const candidate of pending) candidate.then(done, () => done(undefined));
  });
}

/** Tolerance of USD comparisons: sums of float costs drift by far less than a nano-dollar. */
const USD_EPSILON = 1e-12;

/**
 * The first thread/run limit in state that cannot afford `need` (tokens before USD, thread
 * before run), as the details of the refusal.
 */
function stateRefusal(
  view: LedgerView,
  need: { name: string; tokens: number; usd: number | undefined },
): BudgetExhaustedDetails | undefined {
  for (const scope of ["thread", "run"] as const) {
    const limits = view.limits[scope];
    if (!limits) continue;
    const spent = spentIn(view.totals, scope);
    const scopeId = view.scopes[scope] ?? "";
    if (limits.maxTokens !== undefined && spent.tokens + need.tokens > limits.maxTokens) {
      return {
        scope,
        scopeId,
        unit: "tokens",
        limit: limits.maxTokens,
        spent: spent.tokens,
        reserved: 0,
        requested: need.tokens,
      };
    }
    if (limits.maxUsd !== undefined) {
      // An unpriced model reaches here only with requirePrices: false (admit throws otherwise): it costs 0 USD.
      const usd = need.usd ?? 0;
      if (spent.usd + usd > limits.maxUsd + USD_EPSILON) {
        return {
          scope,
          scopeId,
          unit: "usd",
          limit: limits.maxUsd,
          spent: spent.usd,
          reserved: 0,
          requested: usd,
        };
      }
    }
  }
  return undefined;
}

function detailsOf(error: BudgetExhaustedError): BudgetExhaustedDetails {
  const { scope, scopeId, unit, limit, spent, reserved, requested } = error;
  return { scope, scopeId, unit, limit, spent, reserved, requested };
}

// ---------------------------------------------------------------------------
// Helpers: messages
// ---------------------------------------------------------------------------

function formatAmount(amount: number, unit: "tokens" | "usd"): string {
  return unit === "usd" ? `$${Number(amount.toPrecision(6))}` : `${amount} tokens`;
}

/** The AIMessage that ends the agent: which limit, what was spent, what the next call needed. */
function exhaustedMessage(details: BudgetExhaustedDetails, downgradeTried: boolean): AIMessage {
  const { scope, scopeId, unit, limit, spent, reserved, requested } = details;
  const named = scope === "thread" || scope === "example" ? `${scope} "${scopeId}"` : scope;
  let text = `Token budget exhausted: the ${named} limit is ${formatAmount(limit, unit)} and ${formatAmount(spent, unit)} are spent`;
  if (reserved > 0) text += ` (${formatAmount(reserved, unit)} more held by calls in flight)`;
  if (requested > 0) text += `; the next model call needs up to ${formatAmount(requested, unit)}`;
  if (downgradeTried) text += ", and no downgrade model fits";
  text += ". Stopping before calling the model.";
  return new AIMessage({ content: text, response_metadata: { [BUDGET_EXHAUSTED_METADATA_KEY]: details } });
}

/** Why a tool call is refused by a limit in tokens or USD: the limit, the spend, and the call's price. */
function toolBudgetReason(cost: ToolCost, details: BudgetExhaustedDetails): string {
  const { scope, scopeId, unit, limit, spent, reserved } = details;
  const named = scope === "thread" || scope === "example" ? `${scope} "${scopeId}"` : scope;
  let text = `Budget exhausted: the ${named} limit is ${formatAmount(limit, unit)} and ${formatAmount(spent, unit)} are spent`;
  if (reserved > 0) text += ` (${formatAmount(reserved, unit)} more held by calls in flight)`;
  const price = unit === "usd" ? formatAmount(cost.usd, "usd") : formatAmount(cost.tokens, "tokens");
  return `${text}; a "${cost.tool}" call costs ${price}.`;
}

/** "Remaining token budget: N tokens (~$X)", or undefined when no limit applies. */
function remainingBudgetLine(remaining: { tokens?: number; usd?: number }): string | undefined {
  const usd = remaining.usd !== undefined ? `$${remaining.usd.toFixed(4)}` : undefined;
  if (remaining.tokens !== undefined)
    return `Remaining token budget: ${remaining.tokens} tokens${usd ? ` (~${usd})` : ""}`;
  return usd !== undefined ? `Remaining budget: ~${usd}` : undefined;
}

/** The system prompt with `line` appended as its own paragraph. */
function withLine(systemPrompt: string, line: string | undefined): string {
  if (line === undefined) return systemPrompt;
  return systemPrompt.length > 0 ? `${systemPrompt}\n\n${line}` : line;
}

// ---------------------------------------------------------------------------
// Helpers: models and prompt counts
// ---------------------------------------------------------------------------

/** What one call of one model would cost at most, and the model to call for it. */
interface CallPlan {
  /** The model the agent (or the downgrade) chose. */
  readonly source: BudgetableModel | undefined;
  /** The model to pass to the handler: `source`, or its capped copy; undefined keeps the request's. */
  readonly callModel: BudgetableModel | undefined;
  readonly name: string;
  readonly provider: string | undefined;
  readonly price: ModelPrice | undefined;
  readonly inputTokens: number;
  readonly outputCap: number;
  readonly capEnforced: boolean;
  /** Upper bound in tokens: `inputTokens + outputCap`. */
  readonly tokens: number;
  /** Upper bound in USD, or undefined when the model has no price. */
  readonly usd: number | undefined;
}

interface ModelFacts {
  name: string;
  provider: string | undefined;
  source: ModelNameSource;
  price: ModelPrice | undefined;
  declaredCap: number | undefined;
  /** Capped copy (built on first need); null when none can be built. */
  capped?: BudgetableModel | null;
}

/** Names, prices, caps and capped copies of the models seen, cached per model object. */
class ModelCatalog {
  readonly #facts = new WeakMap<object, ModelFacts>();
  readonly #priceOf: (model: string) => ModelPrice | undefined;
  readonly #maxOutputTokens: number;

  constructor(priceOf: (model: string) => ModelPrice | undefined, maxOutputTokens: number) {
    this.#priceOf = priceOf;
    this.#maxOutputTokens = maxOutputTokens;
  }

  nameOf(model: BudgetableModel | undefined): string {
    return model ? this.#factsOf(model).name : "unknown";
  }

  plan(model: BudgetableModel | undefined, inputTokens: number, uncappedModels: "cap" | "reserve" | "error"): CallPlan {
    const facts: ModelFacts = model
      ? this.#factsOf(model)
      : {
          name: "unknown",
          provider: undefined,
          source: "type" as const,
          price: undefined,
          declaredCap: undefined,
          capped: null,
        };
    let callModel = model;
    let outputCap = facts.declaredCap ?? this.#maxOutputTokens;
    let capEnforced = facts.declaredCap !== undefined;
    if (!capEnforced) {
      if (uncappedModels === "error") throw new ModelWithoutOutputCapError(facts.name);
      if (uncappedModels === "cap" && model) {
        if (facts.capped === undefined) facts.capped = cappedCopy(model, this.#maxOutputTokens) ?? null;
        if (facts.capped) {
          callModel = facts.capped;
          outputCap = this.#maxOutputTokens;
          capEnforced = true;
        }
      }
    }
    const usd = facts.price ? costUsd(facts.price, { inputTokens, outputTokens: outputCap }) : undefined;
    return {
      source: model,
      callModel,
      name: facts.name,
      provider: facts.provider,
      price: facts.price,
      inputTokens,
      outputCap,
      capEnforced,
      tokens: inputTokens + outputCap,
      usd,
    };
  }

  /**
   * `plan` named after `reply` when its model was known only by its LLM type: the reply's
   * `response_metadata.model_name` (or `model`) and `model_provider` are then remembered for the
   * model, so this charge and every later call are named and priced by them. `plan` otherwise.
   */
  learnFromReply(plan: CallPlan, reply: AIMessage): CallPlan {
    const model = plan.callModel ?? plan.source;
    const facts = model ? this.#factsOf(model) : undefined;
    if (facts?.source !== "type") return plan;
    const metadata = (reply.response_metadata ?? {}) as Record<string, unknown>;
    const name = [metadata.model_name, metadata.model].find((value) => typeof value === "string" && value.length > 0);
    if (typeof name !== "string") return plan;
    const provider = typeof metadata.model_provider === "string" ? metadata.model_provider : facts.provider;
    Object.assign(facts, { name, provider, source: "fields", price: this.#priceOf(name) });
    if (plan.source && plan.source !== model)
      Object.assign(this.#factsOf(plan.source), { name, provider, source: "fields", price: facts.price });
    return { ...plan, name, provider, price: facts.price };
  }

  #factsOf(model: BudgetableModel): ModelFacts {
    let facts = this.#facts.get(model);
    if (!facts) {
      const { name, provider, source } = modelIdentity(model);
      facts = { name, provider, source, price: this.#priceOf(name), declaredCap: declaredOutputCap(model) };
      this.#facts.set(model, facts);
    }
    return facts;
  }
}

/**
 * Prompt tokens of a call whose system message is `systemPrompt + systemSuffix`: system prompt +
 * messages (chat-format overhead included) + tool schemas. The stable part is counted (and
 * remembered) by `counter`; the suffix (the injected remaining budget, new on every call) on its own.
 */
function callPromptTokens(
  counter: PromptTokenCounter,
  { systemPrompt, systemSuffix }: { systemPrompt: string; systemSuffix: string },
  messages: readonly BaseMessage[],
  tools: readonly unknown[],
  model: string,
): number {
  const encoding = encodingForModel(model);
  let tokens = counter.messages(messages, encoding) + counter.tools(tools, encoding);
  if (systemPrompt.length > 0) tokens += counter.systemMessage(systemPrompt, encoding);
  if (systemSuffix.length > 0) {
    const suffix = countTextTokens(systemSuffix, encoding);
    tokens += systemPrompt.length > 0 ? suffix : TOKENS_PER_MESSAGE + counter.text("system", encoding) + suffix;
  }
  return tokens;
}
