/**
 * `TokenBudget`: token and USD limits over scopes (global, thread, run,
 * example), kept by reserve-then-settle. Pure: no I/O; the clock, the id
 * generator and the event listener (the ledger's seam) are injected.
 *
 * How it stays within its limits, also under many concurrent calls:
 * `reserve` is synchronous, so in Node's single-threaded event loop no other
 * reservation can run between its check ("does every account have room?") and
 * its commit ("hold the room"). A call reserves its upper bound (prompt tokens
 * + `max_tokens`) before it starts and settles to its real usage after, so
 * settled spend plus outstanding reservations never pass a limit — unless a
 * provider reports more than was reserved (an overrun), which is recorded and
 * makes the budget refuse further calls.
 *
 * USD amounts are kept internally in integer nano-dollars (1e-9 USD), so sums
 * and differences are exact; they are reported in USD.
 *
 * Read top to bottom: public types, the options schema, the class, `withReservation`.
 */
import { z } from "zod";
import { BudgetExhaustedError, functionSchema, parseConfig } from "../errors.js";
import { ReservationClosedError, UnknownModelPriceError } from "./errors.js";
import { costNanoUsd, createPriceResolver, DEFAULT_PRICES, mergePrices, priceTableSchema } from "./prices.js";
import type { BudgetLimits, BudgetScope, ModelPrice, Usage } from "./types.js";

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
 * What the budget reports to its listener (the ledger's seam), before the
 * change takes effect: if the listener throws, the operation is abandoned and
 * the error propagates (a `refuse` then throws the listener's error).
 */
export type BudgetEvent =
  | { type: "reserve"; at: number; reservation: Reservation }
  | { type: "settle"; at: number; reservation: Reservation; settlement: Settlement }
  | { type: "release"; at: number; reservation: Reservation }
  | { type: "refuse"; at: number; request: ReserveRequest; error: BudgetExhaustedError };

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * Zod schema of one scope's limits; unknown keys (e.g. `maxToken`) are rejected.
 *
 * @example
 * ```ts
 * budgetLimitsSchema.safeParse({ maxTokens: 20_000, maxUsd: 5 }).success; // true
 * budgetLimitsSchema.safeParse({ maxToken: 20_000 }).success; // false: unknown key
 * ```
 */
export const budgetLimitsSchema = z
  .object({
    maxTokens: z.number().int().nonnegative().optional(),
    maxUsd: z.number().nonnegative().optional(),
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
    prices: priceTableSchema.optional(),
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
  /** Prices merged over `DEFAULT_PRICES`; these entries win. */
  prices?: Record<string, { inputPerMillion: number; outputPerMillion: number }>;
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

const reserveRequestSchema = z.object({
  model: z.string().min(1),
  inputTokens: z.number().int().nonnegative(),
  maxOutputTokens: z.number().int().nonnegative(),
  scopes: scopeIdsSchema.optional(),
  label: z.string().optional(),
});

const usageSchema = z.object({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
  estimated: z.boolean().optional(),
});

// ---------------------------------------------------------------------------
// The budget
// ---------------------------------------------------------------------------

const NANO_PER_USD = 1_000_000_000;
const SCOPE_ORDER: readonly BudgetScope[] = ["global", "thread", "run", "example"];
const NAMED_SCOPES: readonly NamedScope[] = ["thread", "run", "example"];

/** One account: a scope instance with limits, what it spent and what it holds. */
interface Account {
  readonly scope: BudgetScope;
  readonly scopeId: string;
  readonly limits: BudgetLimits;
  spentTokens: number;
  spentNanoUsd: number;
  reservedTokens: number;
  reservedNanoUsd: number;
}

/** An account a request would be charged to; `account` is undefined until its first reservation. */
interface AccountTarget {
  readonly key: string;
  readonly scope: BudgetScope;
  readonly scopeId: string;
  readonly limits: BudgetLimits;
  readonly account: Account | undefined;
}

/** What the budget remembers about an open reservation. */
interface OpenReservation {
  readonly accounts: Account[];
  readonly price: ModelPrice | undefined;
  readonly nanoUsd: number;
}

/** A validated request with its amounts and accounts worked out. */
interface PreparedRequest {
  readonly request: ReserveRequest;
  readonly price: ModelPrice | undefined;
  readonly tokens: number;
  readonly nanoUsd: number;
  readonly targets: AccountTarget[];
}

/**
 * Token and USD limits over scopes, kept by reserve-then-settle.
 *
 * Every call reserves its upper bound first (`reserve`, synchronous and
 * atomic over all its accounts), then settles to its real usage (`settle`) or,
 * if it failed, releases the reservation (`release`, nothing charged).
 * Accounts per thread/run/example id are created at first use; drop finished
 * ones with `closeScope`.
 *
 * @example
 * ```ts
 * import { countMessageTokens, createTokenBudget, usageFromMessage } from "langchain-gavel";
 *
 * const budget = createTokenBudget({ limits: { run: { maxTokens: 20_000 }, global: { maxUsd: 5 } } });
 * const reservation = budget.reserve({
 *   model: "gpt-4o-mini",
 *   inputTokens: countMessageTokens(messages, "gpt-4o-mini"),
 *   maxOutputTokens: 512,
 *   scopes: { run: "run-42" },
 * }); // throws BudgetExhaustedError when any account lacks room
 * try {
 *   const reply = await model.invoke(messages); // model = new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 512 })
 *   budget.settle(reservation, usageFromMessage(reply, messages, "gpt-4o-mini"));
 * } catch (error) {
 *   budget.release(reservation); // the call failed: nothing charged
 *   throw error;
 * }
 * budget.remaining({ run: "run-42" }); // { tokens: ..., usd: ... }
 * ```
 */
export class TokenBudget {
  readonly #limits: Partial<Record<BudgetScope, BudgetLimits>>;
  readonly #requirePrices: boolean;
  readonly #resolvePrice: (model: string) => ModelPrice | undefined;
  readonly #priceCache = new Map<string, ModelPrice | undefined>();
  readonly #onEvent: ((event: BudgetEvent) => void) | undefined;
  readonly #now: () => number;
  readonly #generateId: () => string;
  readonly #accounts = new Map<string, Account>();
  readonly #open = new Map<Reservation, OpenReservation>();
  readonly #closed = new WeakMap<Reservation, "settled" | "released">();
  #issued = 0;

  /**
   * @param options limits, prices and seams; see {@link TokenBudgetOptions}.
   * @throws ConfigError naming the field when a limit is negative or not a
   *   number, a key is unknown (e.g. `maxToken`), or a price entry is invalid.
   */
  constructor(options: TokenBudgetOptions) {
    const {
      limits,
      prices,
      requirePrices,
      onEvent,
      now = Date.now,
      generateId,
    } = parseConfig(
      "TokenBudget options",
      tokenBudgetOptionsSchema,
      options satisfies z.input<typeof tokenBudgetOptionsSchema>, // the documented type matches the schema
    );
    this.#limits = limits;
    const hasUsdLimit = Object.values(limits).some((scopeLimits) => scopeLimits?.maxUsd !== undefined);
    this.#requirePrices = requirePrices ?? hasUsdLimit;
    this.#resolvePrice = createPriceResolver(mergePrices(DEFAULT_PRICES, prices));
    this.#onEvent = onEvent;
    this.#now = now;
    this.#generateId = generateId ?? (() => `reservation-${this.#issued}`);
    if (limits.global) this.#createAccount(this.#target("global", GLOBAL_SCOPE_ID));
  }

  /**
   * Hold room for a call in every account it is charged to (global, and each
   * scope named in `request.scopes` that has limits), or in none.
   *
   * @throws BudgetExhaustedError when an account lacks room (checked global, thread,
   *   run, example; tokens before USD; the first that fails is reported).
   * @throws UnknownModelPriceError when prices are required and the model has none.
   * @throws ConfigError when the request is malformed (negative or
   *   fractional token counts, unknown scope key, empty model name).
   */
  reserve(request: ReserveRequest): Reservation {
    const prepared = this.#prepare(request);
    const refusal = this.#refusal(prepared);
    if (refusal) {
      this.#emit({ type: "refuse", at: this.#now(), request, error: refusal });
      throw refusal;
    }
    this.#issued += 1;
    const reservation: Reservation = Object.freeze({
      id: this.#generateId(),
      model: request.model,
      scopes: Object.freeze(copyScopes(request.scopes)),
      tokens: prepared.tokens,
      usd: prepared.nanoUsd / NANO_PER_USD,
      ...(request.label !== undefined && { label: request.label }),
    });
    this.#emit({ type: "reserve", at: this.#now(), reservation });
    const accounts = prepared.targets.map((target) => target.account ?? this.#createAccount(target));
    for (const account of accounts) {
      account.reservedTokens += prepared.tokens;
      account.reservedNanoUsd += prepared.nanoUsd;
    }
    this.#open.set(reservation, { accounts, price: prepared.price, nanoUsd: prepared.nanoUsd });
    return reservation;
  }

  /** Like {@link reserve}, but returns `undefined` instead of throwing `BudgetExhaustedError`. */
  tryReserve(request: ReserveRequest): Reservation | undefined {
    try {
      return this.reserve(request);
    } catch (error) {
      if (BudgetExhaustedError.isInstance(error)) return undefined;
      throw error;
    }
  }

  /** True when {@link reserve} would succeed now. Changes nothing and emits no event. */
  canAfford(request: ReserveRequest): boolean {
    return this.#refusal(this.#prepare(request)) === undefined;
  }

  /**
   * Turn a reservation into spend at the real `usage`. When the usage passes
   * the reservation the true amount is still recorded and `overrun` is true;
   * an account over its limit then refuses every further reservation.
   *
   * @throws ReservationClosedError when the reservation is already settled or
   *   released, or another budget issued it (nothing is charged twice).
   * @throws ConfigError when `usage` has negative or fractional counts (the reservation stays open).
   */
  settle(reservation: Reservation, usage: Usage): Settlement {
    const open = this.#open.get(reservation);
    if (!open) throw new ReservationClosedError(reservation.id, this.#closed.get(reservation) ?? "foreign");
    if (!isCount(usage.inputTokens) || !isCount(usage.outputTokens)) parseConfig("settle usage", usageSchema, usage);
    const tokens = usage.inputTokens + usage.outputTokens;
    const nanoUsd = open.price ? costNanoUsd(open.price, usage) : 0;
    const estimated = usage.estimated === true;
    const settlement: Settlement = {
      reservationId: reservation.id,
      model: reservation.model,
      usage: { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, estimated },
      tokens,
      usd: nanoUsd / NANO_PER_USD,
      estimated,
      overrun: tokens > reservation.tokens || nanoUsd > open.nanoUsd,
    };
    this.#emit({ type: "settle", at: this.#now(), reservation, settlement });
    for (const account of open.accounts) {
      account.reservedTokens -= reservation.tokens;
      account.reservedNanoUsd -= open.nanoUsd;
      account.spentTokens += tokens;
      account.spentNanoUsd += nanoUsd;
    }
    this.#close(reservation, "settled");
    return settlement;
  }

  /**
   * The call failed: drop the reservation and charge nothing. (A provider may
   * still bill a call that failed mid-way; the budget cannot know it.)
   * Releasing a reservation that is already settled or released does nothing
   * and returns false.
   *
   * @returns true when this call released the reservation.
   * @throws ReservationClosedError when another budget issued the reservation.
   */
  release(reservation: Reservation): boolean {
    const open = this.#open.get(reservation);
    if (!open) {
      if (this.#closed.has(reservation)) return false;
      throw new ReservationClosedError(reservation.id, "foreign");
    }
    this.#emit({ type: "release", at: this.#now(), reservation });
    for (const account of open.accounts) {
      account.reservedTokens -= reservation.tokens;
      account.reservedNanoUsd -= open.nanoUsd;
    }
    this.#close(reservation, "released");
    return true;
  }

  /** True while `reservation` is neither settled nor released. */
  isOpen(reservation: Reservation): boolean {
    return this.#open.has(reservation);
  }

  /**
   * Room left for a call charged to `scopes` (global always applies): the
   * minimum over those accounts of `limit − spent − reserved`, never below 0.
   * `tokens` / `usd` are absent when no such account limits that unit.
   */
  remaining(scopes?: ScopeIds): { tokens?: number; usd?: number } {
    let tokens: number | undefined;
    let nanoUsd: number | undefined;
    for (const { limits, account } of this.#targets(scopes)) {
      const spent = account ?? emptyAccount();
      if (limits.maxTokens !== undefined) {
        const left = Math.max(0, limits.maxTokens - spent.spentTokens - spent.reservedTokens);
        tokens = Math.min(tokens ?? left, left);
      }
      if (limits.maxUsd !== undefined) {
        const left = Math.max(0, toNanoUsd(limits.maxUsd) - spent.spentNanoUsd - spent.reservedNanoUsd);
        nanoUsd = Math.min(nanoUsd ?? left, left);
      }
    }
    return {
      ...(tokens !== undefined && { tokens }),
      ...(nanoUsd !== undefined && { usd: nanoUsd / NANO_PER_USD }),
    };
  }

  /** Every account, global first, then threads, runs and examples in order of creation. */
  snapshot(): AccountSnapshot[] {
    return [...this.#accounts.values()]
      .sort((left, right) => SCOPE_ORDER.indexOf(left.scope) - SCOPE_ORDER.indexOf(right.scope))
      .map(toSnapshot);
  }

  /**
   * Forget the account of a finished thread/run/example so a long-lived
   * process does not grow without bound. Returns its last snapshot (undefined
   * if it had none). Reservations still open on it keep their charge to the
   * other accounts; a later call with the same id starts a fresh account.
   */
  closeScope(scope: NamedScope, scopeId: string): AccountSnapshot | undefined {
    const key = accountKey(scope, scopeId);
    const account = this.#accounts.get(key);
    if (!account) return undefined;
    this.#accounts.delete(key);
    return toSnapshot(account);
  }

  /** Number of open reservations (neither settled nor released). */
  get outstanding(): number {
    return this.#open.size;
  }

  /** The price the budget charges `model` at, or undefined when it has none. */
  priceOf(model: string): ModelPrice | undefined {
    if (!this.#priceCache.has(model)) this.#priceCache.set(model, this.#resolvePrice(model));
    return this.#priceCache.get(model);
  }

  // -- internals ------------------------------------------------------------

  #prepare(request: ReserveRequest): PreparedRequest {
    if (!isWellFormed(request)) parseConfig("budget reserve request", reserveRequestSchema, request);
    const price = this.priceOf(request.model);
    if (!price && this.#requirePrices) throw new UnknownModelPriceError(request.model);
    const nanoUsd = price
      ? costNanoUsd(price, { inputTokens: request.inputTokens, outputTokens: request.maxOutputTokens })
      : 0;
    return {
      request,
      price,
      tokens: request.inputTokens + request.maxOutputTokens,
      nanoUsd,
      targets: this.#targets(request.scopes),
    };
  }

  /** The first account that cannot hold the request, as the error to throw. */
  #refusal({ tokens, nanoUsd, targets }: PreparedRequest): BudgetExhaustedError | undefined {
    for (const { scope, scopeId, limits, account } of targets) {
      const held = account ?? emptyAccount();
      if (limits.maxTokens !== undefined && held.spentTokens + held.reservedTokens + tokens > limits.maxTokens) {
        return new BudgetExhaustedError({
          scope,
          scopeId,
          unit: "tokens",
          limit: limits.maxTokens,
          spent: held.spentTokens,
          reserved: held.reservedTokens,
          requested: tokens,
        });
      }
      if (
        limits.maxUsd !== undefined &&
        held.spentNanoUsd + held.reservedNanoUsd + nanoUsd > toNanoUsd(limits.maxUsd)
      ) {
        return new BudgetExhaustedError({
          scope,
          scopeId,
          unit: "usd",
          limit: limits.maxUsd,
          spent: held.spentNanoUsd / NANO_PER_USD,
          reserved: held.reservedNanoUsd / NANO_PER_USD,
          requested: nanoUsd / NANO_PER_USD,
        });
      }
    }
    return undefined;
  }

  /** The accounts a call in `scopes` is charged to, in `SCOPE_ORDER`. */
  #targets(scopes: ScopeIds | undefined): AccountTarget[] {
    const targets: AccountTarget[] = [];
    if (this.#limits.global) targets.push(this.#target("global", GLOBAL_SCOPE_ID));
    for (const scope of NAMED_SCOPES) {
      const scopeId = scopes?.[scope];
      if (scopeId !== undefined && this.#limits[scope]) targets.push(this.#target(scope, scopeId));
    }
    return targets;
  }

  #target(scope: BudgetScope, scopeId: string): AccountTarget {
    const key = accountKey(scope, scopeId);
    return { key, scope, scopeId, limits: this.#limits[scope] ?? {}, account: this.#accounts.get(key) };
  }

  #createAccount({ key, scope, scopeId, limits }: AccountTarget): Account {
    const account: Account = {
      scope,
      scopeId,
      limits,
      spentTokens: 0,
      spentNanoUsd: 0,
      reservedTokens: 0,
      reservedNanoUsd: 0,
    };
    this.#accounts.set(key, account);
    return account;
  }

  #close(reservation: Reservation, state: "settled" | "released"): void {
    this.#open.delete(reservation);
    this.#closed.set(reservation, state);
  }

  #emit(event: BudgetEvent): void {
    this.#onEvent?.(event);
  }
}

/**
 * Create a {@link TokenBudget}: token and USD limits over scopes (global, thread, run, example),
 * kept by reserve-then-settle.
 *
 * @param options - limits, prices and seams; see {@link TokenBudgetOptions}.
 * @throws ConfigError naming the field when a limit is negative or not a number, a key is unknown
 *   (e.g. `maxToken`), or a price entry is invalid.
 * @example
 * ```ts
 * const budget = createTokenBudget({ limits: { run: { maxTokens: 20_000 }, global: { maxUsd: 5 } } });
 * budget.remaining({ run: "run-42" }); // { tokens: 20000, usd: 5 }
 * ```
 */
export function createTokenBudget(options: TokenBudgetOptions): TokenBudget {
  return new TokenBudget(options);
}

// ---------------------------------------------------------------------------
// withReservation
// ---------------------------------------------------------------------------

/**
 * Run `call` under a reservation: reserve → call → settle at `usageOf(result)`;
 * if `call` throws, release (nothing charged) and rethrow. If the call
 * succeeded but its usage cannot be read (`usageOf` throws or returns invalid
 * counts), the full reservation is charged, marked estimated, and the error is rethrown.
 *
 * @throws BudgetExhaustedError before calling when the budget lacks room.
 *
 * @example
 * ```ts
 * const { result, settlement } = await withReservation(
 *   budget,
 *   { model: "gpt-4o-mini", inputTokens: countMessageTokens(messages, "gpt-4o-mini"), maxOutputTokens: 256 },
 *   () => model.invoke(messages), // a model built with maxTokens: 256
 *   (reply) => usageFromMessage(reply, messages, "gpt-4o-mini"),
 * );
 * ```
 */
export async function withReservation<T>(
  budget: TokenBudget,
  request: ReserveRequest,
  call: (reservation: Reservation) => Promise<T>,
  usageOf: (result: T) => Usage,
): Promise<{ result: T; settlement: Settlement }> {
  const reservation = budget.reserve(request);
  let result: T;
  try {
    result = await call(reservation);
  } catch (error) {
    budget.release(reservation);
    throw error;
  }
  try {
    return { result, settlement: budget.settle(reservation, usageOf(result)) };
  } catch (error) {
    if (!budget.isOpen(reservation)) throw error;
    try {
      budget.settle(reservation, {
        inputTokens: request.inputTokens,
        outputTokens: request.maxOutputTokens,
        estimated: true,
      });
    } catch (fallbackError) {
      throw new AggregateError([error, fallbackError], "reading the usage failed, and so did charging the reservation");
    }
    throw error;
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function accountKey(scope: BudgetScope, scopeId: string): string {
  return `${scope}\u0000${scopeId}`;
}

function toNanoUsd(usd: number): number {
  return Math.round(usd * NANO_PER_USD);
}

function emptyAccount(): Pick<Account, "spentTokens" | "spentNanoUsd" | "reservedTokens" | "reservedNanoUsd"> {
  return { spentTokens: 0, spentNanoUsd: 0, reservedTokens: 0, reservedNanoUsd: 0 };
}

function toSnapshot(account: Account): AccountSnapshot {
  return {
    scope: account.scope,
    scopeId: account.scopeId,
    limits: { ...account.limits },
    spentTokens: account.spentTokens,
    spentUsd: account.spentNanoUsd / NANO_PER_USD,
    reservedTokens: account.reservedTokens,
    reservedUsd: account.reservedNanoUsd / NANO_PER_USD,
  };
}

function copyScopes(scopes: ScopeIds | undefined): ScopeIds {
  const copy: ScopeIds = {};
  for (const scope of NAMED_SCOPES) {
    const scopeId = scopes?.[scope];
    if (scopeId !== undefined) copy[scope] = scopeId;
  }
  return copy;
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** Fast check of a request; a request that fails it is re-parsed by zod for a precise error. */
function isWellFormed(request: ReserveRequest): boolean {
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
