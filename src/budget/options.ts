/**
 * The budget's public types, option schemas and request checks, shared by the in-process
 * `TokenBudget` and the store-backed `StoredTokenBudget`. Pure: no I/O.
 */
import { z } from "zod";
import type { BudgetExhaustedError } from "../errors.js";
import { functionSchema, parseConfig } from "../errors.js";
import { UnknownModelPriceError } from "./errors.js";
import { costNanoUsd, createPriceResolver, DEFAULT_PRICES, mergePrices } from "./prices.js";
import { budgetPriceTableSchema, splitPriceTable, toolNameOf, UnknownToolPriceError } from "./tool-prices.js";
import type { BudgetLimits, BudgetScope, ModelPrice, ToolPrice, Usage } from "./types.js";

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/** The scope instances a call belongs to. The global scope is implicit (id `"*"`). */
export interface ScopeIds {
  thread?: string;
  run?: string;
  example?: string;
}

/** A scope other than the global one. */
export type NamedScope = Exclude<BudgetScope, "global">;

/**
 * Scope id of the one global account.
 *
 * @example
 * ```ts
 * const budget = createTokenBudget({ limits: { global: { maxTokens: 100_000 } } });
 * budget.snapshot().find((account) => account.scope === "global")?.scopeId === GLOBAL_SCOPE_ID; // true ("*")
 * ```
 */
export const GLOBAL_SCOPE_ID = "*";

/** What a call may spend at most: its prompt and the cap on its reply. */
export interface ReserveRequest {
  /** Model name, looked up in the price table (see `resolvePrice`). */
  model: string;
  /** Prompt tokens (e.g. `countMessageTokens(messages, model)`). */
  inputTokens: number;
  /** The call's `max_tokens`: the most it may generate. */
  maxOutputTokens: number;
  /** The thread / run / example the call is charged to, besides the global scope. */
  scopes?: ScopeIds;
  /** Free text carried into events (e.g. `"router.plan"`). */
  label?: string;
}

/** Room held for one call, until it is settled or released. Immutable. */
export interface Reservation {
  readonly id: string;
  readonly model: string;
  readonly scopes: Readonly<ScopeIds>;
  /** Tokens held: `inputTokens + maxOutputTokens`. */
  readonly tokens: number;
  /** USD held: the cost of `tokens` at the model's price (0 when the model has no price). */
  readonly usd: number;
  /**
   * The prompt tokens of `tokens` (the request's `inputTokens`), so an abandoned call can be
   * charged at what it holds (`settleAbandoned`). Absent on reservations rebuilt from a store.
   */
  readonly inputTokens?: number;
  /** The output cap of `tokens` (the request's `maxOutputTokens`). Absent like `inputTokens`. */
  readonly maxOutputTokens?: number;
  readonly label?: string;
}

/** The real spend of a settled call. */
export interface Settlement {
  reservationId: string;
  model: string;
  usage: Usage;
  /** `usage.inputTokens + usage.outputTokens`. */
  tokens: number;
  usd: number;
  /** True when the usage was counted with a tokenizer instead of reported by the provider. */
  estimated: boolean;
  /** True when the real usage passed the reservation (tokens or USD). */
  overrun: boolean;
  /**
   * True when a store-backed budget settled the call after its lease had expired (its reservation
   * was already released): the spend is charged all the same, since the provider billed it.
   */
  late?: boolean;
}

/** State of one account. USD figures are in USD. */
export interface AccountSnapshot {
  scope: BudgetScope;
  scopeId: string;
  limits: BudgetLimits;
  spentTokens: number;
  spentUsd: number;
  reservedTokens: number;
  reservedUsd: number;
}

/**
 * What the budget reports to its listener (the ledger's seam).
 *
 * - `TokenBudget` (in process) reports before the change takes effect: if the listener throws,
 *   the operation is abandoned and the error propagates (a `refuse` then throws the listener's error).
 * - `StoredTokenBudget` reports after the store committed the change (it cannot be taken back); a
 *   listener that throws on `reserve` makes the budget release the reservation again.
 * - `expire` (store-backed budgets only): a reservation whose lease ran out — its process died or
 *   hung — was released by this budget on its next reservation. `reservation` is rebuilt from the
 *   store (its `scopes` from the accounts it held).
 */
export type BudgetEvent =
  | { type: "reserve"; at: number; reservation: Reservation }
  | { type: "settle"; at: number; reservation: Reservation; settlement: Settlement }
  | { type: "release"; at: number; reservation: Reservation }
  | { type: "refuse"; at: number; request: ReserveRequest; error: BudgetExhaustedError }
  | { type: "expire"; at: number; reservation: Reservation; expiredAt: number };

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * The largest USD limit a budget takes: 9,007,199 USD, the most whose nano-USD (the budget keeps
 * amounts as integer nano-dollars) is still an exact integer. A larger limit (say `1e300`) would
 * make the remaining budget `Infinity`, so it is refused; omit `maxUsd` for no USD limit.
 *
 * @example
 * ```ts
 * MAX_USD_LIMIT; // 9007199
 * createTokenBudget({ limits: { global: { maxUsd: 1e300 } } }); // ConfigError at limits.global.maxUsd
 * ```
 */
export const MAX_USD_LIMIT = Math.floor(Number.MAX_SAFE_INTEGER / 1_000_000_000);

/**
 * Zod schema of one scope's limits; unknown keys (e.g. `maxToken`) are rejected, and so is a
 * `maxUsd` above {@link MAX_USD_LIMIT} or a `maxTokens` above `Number.MAX_SAFE_INTEGER`.
 *
 * @example
 * ```ts
 * budgetLimitsSchema.safeParse({ maxTokens: 20_000, maxUsd: 5 }).success; // true
 * budgetLimitsSchema.safeParse({ maxToken: 20_000 }).success; // false: unknown key
 * budgetLimitsSchema.safeParse({ maxUsd: 1e300 }).success; // false: above MAX_USD_LIMIT
 * ```
 */
export const budgetLimitsSchema = z
  .object({
    maxTokens: z.number().int().nonnegative().optional(),
    maxUsd: z
      .number()
      .nonnegative()
      .max(MAX_USD_LIMIT, {
        message:
          `must be at most ${MAX_USD_LIMIT} USD (MAX_USD_LIMIT: amounts are kept as exact integer nano-USD); ` +
          "omit maxUsd for no USD limit",
      })
      .optional(),
  })
  .strict();

/**
 * Zod schema of `TokenBudgetOptions`, parsed once by the constructor.
 *
 * @example
 * ```ts
 * tokenBudgetOptionsSchema.parse({ limits: { run: { maxTokens: 20_000 } } }); // { limits: { run: { maxTokens: 20000 } } }
 * tokenBudgetOptionsSchema.safeParse({ limits: { session: { maxTokens: 1_000 } } }).success; // false: no such scope
 * ```
 */
export const tokenBudgetOptionsSchema = z
  .object({
    limits: z
      .object({
        global: budgetLimitsSchema.optional(),
        thread: budgetLimitsSchema.optional(),
        run: budgetLimitsSchema.optional(),
        example: budgetLimitsSchema.optional(),
      })
      .strict(),
    prices: budgetPriceTableSchema.optional(), // model prices, and tool prices under "tool:<name>"
    requirePrices: z.boolean().optional(),
    onEvent: functionSchema<(event: BudgetEvent) => void>().optional(),
    now: functionSchema<() => number>().optional(),
    generateId: functionSchema<() => string>().optional(),
  })
  .strict();

/** Options of {@link TokenBudget}. */
export interface TokenBudgetOptions {
  /**
   * Limits per scope, e.g. `{ run: { maxTokens: 20_000 }, global: { maxUsd: 5 } }`.
   * A scope listed with `{}` is tracked (see `snapshot`) but never refuses.
   */
  limits: Partial<Record<BudgetScope, BudgetLimits>>;
  /**
   * Prices merged over `DEFAULT_PRICES`; these entries win. Tool prices sit beside model prices,
   * under `"tool:<name>"`: `{ "tool:web_search": { usdPerCall: 0.01, tokensPerCall?: 0 } }`.
   */
  prices?: Record<string, { inputPerMillion: number; outputPerMillion: number } | ToolPrice>;
  /**
   * Throw `UnknownModelPriceError` when reserving for a model without a price.
   * Default: true when any limit has `maxUsd`; otherwise unpriced models cost 0 USD.
   */
  requirePrices?: boolean;
  /** Called synchronously for every reserve, settle, release and refusal (the ledger's seam). */
  onEvent?: (event: BudgetEvent) => void;
  /** Clock for event timestamps, in ms. Default `Date.now`. */
  now?: () => number;
  /** Reservation id generator. Default: `reservation-1`, `reservation-2`, ... per budget. */
  generateId?: () => string;
}

/**
 * Zod schema of {@link ScopeIds}: `{ thread?, run?, example? }`, each a non-empty id; no other key.
 *
 * @example
 * ```ts
 * scopeIdsSchema.safeParse({ thread: "thread-7", run: "run-42" }).success; // true
 * scopeIdsSchema.safeParse({ run: "" }).success; // false: ids are non-empty
 * scopeIdsSchema.safeParse({ user: "ada" }).success; // false: unknown scope
 * ```
 */
export const scopeIdsSchema = z
  .object({
    thread: z.string().min(1).optional(),
    run: z.string().min(1).optional(),
    example: z.string().min(1).optional(),
  })
  .strict();

export const reserveRequestSchema = z.object({
  model: z.string().min(1),
  inputTokens: z.number().int().nonnegative(),
  maxOutputTokens: z.number().int().nonnegative(),
  scopes: scopeIdsSchema.optional(),
  label: z.string().optional(),
});

export const usageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  estimated: z.boolean().optional(),
});

// ---------------------------------------------------------------------------
// Amounts and checks
// ---------------------------------------------------------------------------

/** Nano-dollars per USD: amounts are kept as integer nano-USD (1e-9 USD), so sums are exact. */
export const NANO_PER_USD = 1_000_000_000;
export const SCOPE_ORDER: readonly BudgetScope[] = ["global", "thread", "run", "example"];
export const NAMED_SCOPES: readonly NamedScope[] = ["thread", "run", "example"];

export function accountKey(scope: BudgetScope, scopeId: string): string {
  return `${scope}\u0000${scopeId}`;
}

export function toNanoUsd(usd: number): number {
  return Math.round(usd * NANO_PER_USD);
}

export function copyScopes(scopes: ScopeIds | undefined): ScopeIds {
  const copy: ScopeIds = {};
  for (const scope of NAMED_SCOPES) {
    const scopeId = scopes?.[scope];
    if (scopeId !== undefined) copy[scope] = scopeId;
  }
  return copy;
}

export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** Fast check of a request; a request that fails it is re-parsed by zod for a precise error. */
export function isWellFormed(request: ReserveRequest): boolean {
  if (typeof request !== "object" || request === null) return false;
  if (typeof request.model !== "string" || request.model.length === 0) return false;
  if (!isCount(request.inputTokens) || !isCount(request.maxOutputTokens)) return false;
  if (request.label !== undefined && typeof request.label !== "string") return false;
  const { scopes } = request;
  if (scopes === undefined) return true;
  if (typeof scopes !== "object" || scopes === null) return false;
  for (const [key, value] of Object.entries(scopes)) {
    if (!(NAMED_SCOPES as readonly string[]).includes(key)) return false;
    if (value !== undefined && (typeof value !== "string" || value.length === 0)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// Pricing and settling, the same in every budget
// ---------------------------------------------------------------------------

/** How a budget prices its calls: the merged price table behind a cache, and whether a price is required. */
export interface BudgetPricing {
  /** The price the budget charges `model` at, or undefined when it has none. */
  priceOf(model: string): ModelPrice | undefined;
  /**
   * What `request` holds: its model's price, its tokens (prompt + output cap) and their nano-USD.
   *
   * @throws UnknownModelPriceError when prices are required and the model has none.
   */
  hold(request: ReserveRequest): { price: ModelPrice | undefined; tokens: number; nanoUsd: number };
}

/** The pricing of a budget with these options: prices are required by default when a limit is in USD. */
export function createBudgetPricing(
  options: Pick<TokenBudgetOptions, "limits" | "prices" | "requirePrices">,
): BudgetPricing {
  const hasUsdLimit = Object.values(options.limits).some((limits) => limits?.maxUsd !== undefined);
  const requirePrices = options.requirePrices ?? hasUsdLimit;
  const { models: modelPrices, tools: toolPrices } = splitPriceTable(options.prices);
  const resolve = createPriceResolver(mergePrices(DEFAULT_PRICES, modelPrices));
  const cache = new Map<string, ModelPrice | undefined>();
  const priceOf = (model: string) => {
    if (!cache.has(model)) cache.set(model, resolve(model));
    return cache.get(model);
  };
  return {
    priceOf,
    hold(request) {
      const tool = toolNameOf(request.model);
      if (tool !== undefined) return holdToolCall(tool, toolPrices, options.requirePrices === true, request);
      const price = priceOf(request.model);
      if (!price && requirePrices) throw new UnknownModelPriceError(request.model);
      const usage = { inputTokens: request.inputTokens, outputTokens: request.maxOutputTokens };
      return {
        price,
        tokens: request.inputTokens + request.maxOutputTokens,
        nanoUsd: price ? costNanoUsd(price, usage) : 0,
      };
    },
  };
}

/**
 * The settlement of `reservation` at `usage`, with the nano-USD it charges.
 *
 * @param held - the reservation's price and the nano-USD it holds.
 * @throws ConfigError when `usage` has negative or fractional counts.
 */
export function settlementOf(
  reservation: Reservation,
  usage: Usage,
  held: { price: ModelPrice | undefined; nanoUsd: number },
): { settlement: Settlement; nanoUsd: number } {
  if (!isCount(usage.inputTokens) || !isCount(usage.outputTokens)) parseConfig("settle usage", usageSchema, usage);
  const tokens = usage.inputTokens + usage.outputTokens;
  // A tool call ("tool:<name>") costs its price per call, which is what its reservation holds.
  const nanoUsd =
    toolNameOf(reservation.model) !== undefined ? held.nanoUsd : held.price ? costNanoUsd(held.price, usage) : 0;
  const estimated = usage.estimated === true;
  return {
    nanoUsd,
    settlement: {
      reservationId: reservation.id,
      model: reservation.model,
      usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, estimated },
      tokens,
      usd: nanoUsd / NANO_PER_USD,
      estimated,
      overrun: tokens > reservation.tokens || nanoUsd > held.nanoUsd,
    },
  };
}

// ---------------------------------------------------------------------------
// Tool calls (see tool-prices.ts)
// ---------------------------------------------------------------------------

/**
 * What a tool call (`request.model` is `"tool:<name>"`) holds: the tokens the request names (its
 * token equivalent) and the tool's USD per call; a tool without a price holds 0 USD and is an
 * error only when prices are required explicitly (`requirePrices: true`).
 */
function holdToolCall(
  tool: string,
  toolPrices: Record<string, ToolPrice>,
  requirePrices: boolean,
  request: ReserveRequest,
): { price: undefined; tokens: number; nanoUsd: number } {
  const price = Object.hasOwn(toolPrices, tool) ? toolPrices[tool] : undefined;
  if (!price && requirePrices) throw new UnknownToolPriceError(tool);
  return {
    price: undefined,
    tokens: request.inputTokens + request.maxOutputTokens,
    nanoUsd: price ? toNanoUsd(price.usdPerCall) : 0,
  };
}
