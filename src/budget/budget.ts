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
 * The public types and option schemas are in `options.ts` (shared with the store-backed
 * `StoredTokenBudget`, `stored.ts`). Read top to bottom: the class, `createTokenBudget`,
 * `withReservation`.
 */
import type { z } from "zod";
import { BudgetExhaustedError, parseConfig } from "../errors.js";
import { ReservationClosedError } from "./errors.js";
import {
  type AccountSnapshot,
  accountKey,
  type BudgetEvent,
  type BudgetPricing,
  copyScopes,
  createBudgetPricing,
  GLOBAL_SCOPE_ID,
  isWellFormed,
  NAMED_SCOPES,
  NANO_PER_USD,
  type NamedScope,
  type Reservation,
  type ReserveRequest,
  reserveRequestSchema,
  SCOPE_ORDER,
  type ScopeIds,
  type Settlement,
  settlementOf,
  type TokenBudgetOptions,
  tokenBudgetOptionsSchema,
  toNanoUsd,
} from "./options.js";
import { releaseQuietly } from "./shared.js";
import { StoredTokenBudget, type StoredTokenBudgetOptions } from "./stored.js";
import type { BudgetLimits, BudgetScope, ModelPrice, Usage } from "./types.js";

export {
  type AccountSnapshot,
  type BudgetEvent,
  budgetLimitsSchema,
  GLOBAL_SCOPE_ID,
  type NamedScope,
  type Reservation,
  type ReserveRequest,
  type ScopeIds,
  type Settlement,
  scopeIdsSchema,
  type TokenBudgetOptions,
  tokenBudgetOptionsSchema,
} from "./options.js";

// ---------------------------------------------------------------------------
// The budget
// ---------------------------------------------------------------------------

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
  readonly #pricing: BudgetPricing;
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
    this.#pricing = createBudgetPricing({ limits, prices, requirePrices });
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
      inputTokens: request.inputTokens,
      maxOutputTokens: request.maxOutputTokens,
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
    const { settlement, nanoUsd } = settlementOf(reservation, usage, open);
    const { tokens } = settlement;
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
    return this.#pricing.priceOf(model);
  }

  // -- internals ------------------------------------------------------------

  #prepare(request: ReserveRequest): PreparedRequest {
    if (!isWellFormed(request)) parseConfig("budget reserve request", reserveRequestSchema, request);
    return {
      request,
      ...this.#pricing.hold(request),
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
 * Create a budget: token and USD limits over scopes (global, thread, run, example), kept by
 * reserve-then-settle.
 *
 * - Without `store`: a {@link TokenBudget} that keeps its accounts in this process, synchronously.
 * - With `store` (a `BudgetStore`: SQLite for the processes of one host, PostgreSQL for replicas
 *   on many): a {@link StoredTokenBudget} whose accounts live in the store, shared by every
 *   process that uses it; its methods return promises. See docs/scaling.md.
 *
 * @param options - limits, prices and seams; see {@link TokenBudgetOptions} (and
 *   {@link StoredTokenBudgetOptions} for `store` and `leaseMs`).
 * @throws ConfigError naming the field when a limit is negative or not a number, a key is unknown
 *   (e.g. `maxToken`), or a price entry is invalid.
 * @example
 * ```ts
 * const budget = createTokenBudget({ limits: { run: { maxTokens: 20_000 }, global: { maxUsd: 5 } } });
 * budget.remaining({ run: "run-42" }); // { tokens: 20000, usd: 5 }
 *
 * // Shared by every replica: the same limits, kept in PostgreSQL.
 * const store = await createPostgresBudgetStore({ connectionString: process.env.DATABASE_URL }); // langchain-gavel/postgres
 * const shared = createTokenBudget({ limits: { global: { maxUsd: 5 } }, store });
 * await shared.remaining(); // { usd: 5 } (less what the other replicas spent)
 * ```
 */
export function createTokenBudget(options: StoredTokenBudgetOptions): StoredTokenBudget;
export function createTokenBudget(options: TokenBudgetOptions): TokenBudget;
export function createTokenBudget(
  options: TokenBudgetOptions | StoredTokenBudgetOptions,
): TokenBudget | StoredTokenBudget {
  if ("store" in options && options.store !== undefined) return new StoredTokenBudget(options);
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
  budget: TokenBudget | StoredTokenBudget,
  request: ReserveRequest,
  call: (reservation: Reservation) => Promise<T>,
  usageOf: (result: T) => Usage,
): Promise<{ result: T; settlement: Settlement }> {
  const reservation = await budget.reserve(request);
  let result: T;
  try {
    result = await call(reservation);
  } catch (error) {
    await releaseQuietly(budget, reservation);
    throw error;
  }
  try {
    return { result, settlement: await budget.settle(reservation, usageOf(result)) };
  } catch (error) {
    if (!budget.isOpen(reservation)) throw error;
    try {
      await budget.settle(reservation, {
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
