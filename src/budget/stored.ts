/**
 * `StoredTokenBudget`: the same budget as `TokenBudget` — limits over scopes, reserve-then-settle,
 * prices, events — with its accounts in a `BudgetStore` that many processes share (SQLite on one
 * host, PostgreSQL across hosts). Its methods return promises: each is a round trip to the store.
 *
 * What it adds to the in-process budget, and why:
 * - **Atomic in the store.** The check ("does every account have room?") and the hold happen in
 *   one store operation, so replicas reserving at the same moment cannot both take the last room.
 * - **Leases.** A reservation holds its amount until `leaseMs` after it was made. A replica killed
 *   mid-call never settles or releases; the next reservation on one of its accounts (by any
 *   replica) releases it and this budget reports an `expire` event, which the ledger records.
 * - **Exactly once, by id.** Reservation ids are random UUIDs; the store closes a reservation once,
 *   so a settle retried after a lost connection cannot charge twice. A call that finishes after its
 *   lease expired is still charged what it spent (`settlement.late`): the provider billed it.
 *
 * Pure: the store does the I/O; the clock, the ids and the listener are injected.
 */
import { z } from "zod";
import { BudgetExhaustedError, parseConfig } from "../errors.js";
import { timeoutMsSchema } from "../timeouts.js";
import { ReservationClosedError } from "./errors.js";
import {
  type AccountSnapshot,
  type BudgetEvent,
  type BudgetPricing,
  copyScopes,
  createBudgetPricing,
  GLOBAL_SCOPE_ID,
  isWellFormed,
  MAX_USD_LIMIT,
  NAMED_SCOPES,
  NANO_PER_USD,
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
import type {
  BudgetStore,
  ExpiredReservation,
  StoreAccountRef,
  StoreAccountState,
  StoreCloseResult,
  StoreRefusal,
} from "./store.js";
import type { BudgetLimits, BudgetScope, ModelPrice, Usage } from "./types.js";

/**
 * Default lease of a reservation: 10 minutes, longer than any single model call should take.
 *
 * @example
 * ```ts
 * createTokenBudget({ limits, store }); // reservations held at most DEFAULT_LEASE_MS (600,000 ms) by a dead process
 * createTokenBudget({ limits, store, leaseMs: 120_000 }); // calls that never take 2 minutes
 * ```
 */
export const DEFAULT_LEASE_MS = 10 * 60_000;

/**
 * The most USD a limit of a store-backed budget may have (about $9 million): nano-USD sums stay
 * exact integers. The same bound as every budget's, `MAX_USD_LIMIT`.
 *
 * @example
 * ```ts
 * createTokenBudget({ limits: { global: { maxUsd: 1e300 } }, store }); // ConfigError at limits.global.maxUsd
 * ```
 */
export const MAX_STORED_USD = MAX_USD_LIMIT;

/**
 * Options of {@link StoredTokenBudget}: those of `TokenBudget`, plus the store and the lease.
 *
 * @example
 * ```ts
 * const options: StoredTokenBudgetOptions = {
 *   limits: { thread: { maxUsd: 5 } },
 *   store: await createPostgresBudgetStore({ connectionString: process.env.DATABASE_URL }),
 *   leaseMs: 120_000,
 * };
 * const budget = createTokenBudget(options); // a StoredTokenBudget
 * ```
 */
export interface StoredTokenBudgetOptions extends TokenBudgetOptions {
  /** Where the accounts live: `createSqliteBudgetStore`, `createPostgresBudgetStore`, `createMemoryBudgetStore`. */
  store: BudgetStore;
  /**
   * How long a reservation holds its amount when its process never settles or releases it (killed,
   * hung), in ms. Longer than your slowest call; money held by a dead replica returns after it.
   * Default 600,000 (10 minutes).
   */
  leaseMs?: number;
  /**
   * Reservation id generator; ids must be unique across every process sharing the store.
   * Default `crypto.randomUUID`.
   */
  generateId?: () => string;
}

const storedTokenBudgetOptionsSchema = tokenBudgetOptionsSchema.extend({
  store: z.custom<BudgetStore>(
    (value) =>
      typeof value === "object" &&
      value !== null &&
      ["reserve", "settle", "release", "accounts", "snapshot", "reservationState", "expire", "close"].every(
        (method) => typeof (value as Record<string, unknown>)[method] === "function",
      ),
    { message: "must be a BudgetStore (createSqliteBudgetStore, createPostgresBudgetStore, ...)" },
  ),
  leaseMs: timeoutMsSchema.optional(),
}); // USD limits are bounded by every budget's schema (MAX_USD_LIMIT = MAX_STORED_USD)

/** A request a store can keep: text without NUL characters (PostgreSQL text cannot hold them). */
const noNul = (field: z.ZodString) =>
  field.refine((text) => !text.includes("\u0000"), "must not contain NUL (\\u0000) characters");
const storedRequestSchema = reserveRequestSchema.extend({
  model: noNul(z.string().min(1)),
  label: noNul(z.string()).optional(),
  scopes: z
    .object({
      thread: noNul(z.string().min(1)).optional(),
      run: noNul(z.string().min(1)).optional(),
      example: noNul(z.string().min(1)).optional(),
    })
    .strict()
    .optional(),
});

/** True when a text of the request holds a NUL character. */
function hasNul(request: ReserveRequest): boolean {
  const texts = [request.model, request.label, request.scopes?.thread, request.scopes?.run, request.scopes?.example];
  return texts.some((text) => typeof text === "string" && text.includes("\u0000"));
}

/** What the budget remembers about a reservation it issued and that is still open. */
interface OpenReservation {
  readonly price: ModelPrice | undefined;
  readonly nanoUsd: number;
}

/** Attempts of a settle or release whose store call failed (a lost connection): ids make retries safe. */
const CLOSE_ATTEMPTS = 3;
const RETRY_DELAY_MS = 100;

/**
 * A budget whose accounts live in a {@link BudgetStore}, shared by every process that uses the
 * same store. Same limits, prices, scopes and events as `TokenBudget`; every method that touches
 * the accounts returns a promise. Create it with `createTokenBudget({ ..., store })`.
 *
 * @example
 * ```ts
 * import { createTokenBudget } from "langchain-gavel";
 * import { createPostgresBudgetStore } from "langchain-gavel/postgres";
 *
 * const store = await createPostgresBudgetStore({ connectionString: process.env.DATABASE_URL });
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 5 } }, store, leaseMs: 120_000 });
 * const reservation = await budget.reserve({ model: "gpt-4o-mini", inputTokens: 900, maxOutputTokens: 512 });
 * try {
 *   const reply = await model.invoke(messages);
 *   await budget.settle(reservation, usageFromMessage(reply, messages, "gpt-4o-mini"));
 * } catch (error) {
 *   await budget.release(reservation);
 *   throw error;
 * }
 * ```
 */
export class StoredTokenBudget {
  /** The store the accounts live in (not closed by the budget: close it yourself when done). */
  readonly store: BudgetStore;
  readonly #limits: Partial<Record<BudgetScope, BudgetLimits>>;
  readonly #pricing: BudgetPricing;
  readonly #onEvent: ((event: BudgetEvent) => void) | undefined;
  readonly #now: () => number;
  readonly #generateId: () => string;
  readonly #leaseMs: number;
  readonly #open = new Map<Reservation, OpenReservation>();
  readonly #closed = new WeakMap<Reservation, "settled" | "released">();

  /**
   * @param options - limits, prices, seams, the store and the lease; see {@link StoredTokenBudgetOptions}.
   * @throws ConfigError naming the field when an option is invalid (a USD limit above {@link MAX_STORED_USD} too).
   */
  constructor(options: StoredTokenBudgetOptions) {
    const {
      limits,
      prices,
      requirePrices,
      onEvent,
      now = Date.now,
      generateId = () => globalThis.crypto.randomUUID(),
      store,
      leaseMs = DEFAULT_LEASE_MS,
    } = parseConfig("store-backed TokenBudget options", storedTokenBudgetOptionsSchema, options);
    this.store = store;
    this.#limits = limits;
    this.#pricing = createBudgetPricing({ limits, prices, requirePrices });
    this.#onEvent = onEvent;
    this.#now = now;
    this.#generateId = generateId;
    this.#leaseMs = leaseMs;
  }

  /**
   * Hold room for a call in every account it is charged to, or in none: one atomic operation of the
   * store. Releases (and reports as `expire` events) the expired reservations of those accounts.
   *
   * @throws BudgetExhaustedError when an account lacks room (the first, in global, thread, run,
   *   example order; tokens before USD).
   * @throws UnknownModelPriceError when prices are required and the model has none.
   * @throws ConfigError when the request is malformed.
   * @throws the store's error when it cannot be reached (the reservation, if the store made it
   *   before the connection was lost, is released when its lease ends).
   */
  async reserve(request: ReserveRequest): Promise<Reservation> {
    if (!isWellFormed(request) || hasNul(request)) parseConfig("budget reserve request", storedRequestSchema, request);
    const { price, tokens, nanoUsd } = this.#pricing.hold(request);
    const at = this.#now();
    const id = this.#generateId();
    const result = await this.store.reserve(
      {
        id,
        accounts: this.#accountRefs(request.scopes),
        tokens,
        nanoUsd,
        model: request.model,
        ...(request.label !== undefined && { label: request.label }),
        createdAt: at,
        expiresAt: at + this.#leaseMs,
      },
      at,
    );
    if (result.refusal) {
      for (const expired of result.expired) this.#emitExpired(expired);
      const error = toExhausted(result.refusal, this.#limits);
      this.#onEvent?.({ type: "refuse", at, request, error });
      throw error;
    }
    const reservation: Reservation = Object.freeze({
      id,
      model: request.model,
      scopes: Object.freeze(copyScopes(request.scopes)),
      tokens,
      usd: nanoUsd / NANO_PER_USD,
      inputTokens: request.inputTokens,
      maxOutputTokens: request.maxOutputTokens,
      ...(request.label !== undefined && { label: request.label }),
    });
    this.#open.set(reservation, { price, nanoUsd });
    try {
      for (const expired of result.expired) this.#emitExpired(expired);
      this.#onEvent?.({ type: "reserve", at, reservation });
    } catch (error) {
      await this.release(reservation).catch(() => {});
      throw error;
    }
    return reservation;
  }

  /** Like {@link reserve}, but resolves `undefined` instead of throwing `BudgetExhaustedError`. */
  async tryReserve(request: ReserveRequest): Promise<Reservation | undefined> {
    try {
      return await this.reserve(request);
    } catch (error) {
      if (BudgetExhaustedError.isInstance(error)) return undefined;
      throw error;
    }
  }

  /**
   * Turn a reservation into spend at the real `usage`, exactly once (the store closes it by id; a
   * store call that fails is retried, and a retry of a settle that had committed changes nothing).
   *
   * @throws ReservationClosedError when the reservation is already settled or released, or another
   *   budget issued it.
   * @throws ConfigError when `usage` has negative or fractional counts (the reservation stays open).
   * @throws the store's error when every attempt failed (the reservation stays open here; in the
   *   store it is released when its lease ends, and nothing is charged — unless an attempt whose
   *   reply was lost had committed).
   */
  async settle(reservation: Reservation, usage: Usage): Promise<Settlement> {
    const open = this.#open.get(reservation);
    if (!open) throw new ReservationClosedError(reservation.id, this.#closed.get(reservation) ?? "foreign");
    const { settlement, nanoUsd } = settlementOf(reservation, usage, open);
    const at = this.#now();
    const result = await withRetries(() =>
      this.store.settle(reservation.id, { tokens: settlement.tokens, nanoUsd }, at),
    );
    if (result.status === "unknown" || (result.status === "closed" && result.state !== "settled")) {
      this.#close(reservation, "released");
      throw new ReservationClosedError(reservation.id, result.status === "unknown" ? "foreign" : "released");
    }
    if (result.status === "late") settlement.late = true;
    this.#close(reservation, "settled");
    this.#onEvent?.({ type: "settle", at, reservation, settlement });
    return settlement;
  }

  /**
   * The call failed: close the reservation, charging nothing. Releasing a reservation that is
   * already closed does nothing and resolves false.
   *
   * @returns true when this call released the reservation.
   * @throws ReservationClosedError when another budget issued the reservation.
   */
  async release(reservation: Reservation): Promise<boolean> {
    if (!this.#open.has(reservation)) {
      if (this.#closed.has(reservation)) return false;
      throw new ReservationClosedError(reservation.id, "foreign");
    }
    const at = this.#now();
    const result = await withRetries(() => this.store.release(reservation.id, at));
    this.#close(reservation, "released");
    if (result.status !== "released") return false;
    this.#onEvent?.({ type: "release", at, reservation });
    return true;
  }

  /** True while `reservation` is neither settled nor released by this budget. */
  isOpen(reservation: Reservation): boolean {
    return this.#open.has(reservation);
  }

  /**
   * Room left for a call charged to `scopes` (global always applies), over every process sharing
   * the store: the minimum over those accounts of `limit − spent − reserved`, never below 0.
   */
  async remaining(scopes?: ScopeIds): Promise<{ tokens?: number; usd?: number }> {
    const refs = this.#accountRefs(scopes);
    const states = await this.store.accounts(refs);
    let tokens: number | undefined;
    let nanoUsd: number | undefined;
    refs.forEach((ref, index) => {
      const state = states[index] as StoreAccountState;
      if (ref.maxTokens !== undefined) {
        const left = Math.max(0, ref.maxTokens - state.spentTokens - state.reservedTokens);
        tokens = Math.min(tokens ?? left, left);
      }
      if (ref.maxNanoUsd !== undefined) {
        const left = Math.max(0, ref.maxNanoUsd - state.spentNanoUsd - state.reservedNanoUsd);
        nanoUsd = Math.min(nanoUsd ?? left, left);
      }
    });
    return {
      ...(tokens !== undefined && { tokens }),
      ...(nanoUsd !== undefined && { usd: nanoUsd / NANO_PER_USD }),
    };
  }

  /** True when {@link reserve} would succeed now: a hint, since another process may take the room first. */
  async canAfford(request: ReserveRequest): Promise<boolean> {
    if (!isWellFormed(request)) parseConfig("budget reserve request", reserveRequestSchema, request);
    const remaining = await this.remaining(request.scopes);
    const { tokens, nanoUsd } = this.#pricing.hold(request);
    return (remaining.tokens ?? Infinity) >= tokens && (remaining.usd ?? Infinity) >= nanoUsd / NANO_PER_USD;
  }

  /** Every account of the store that this budget's limits cover, global first. */
  async snapshot(): Promise<AccountSnapshot[]> {
    const states = await this.store.snapshot();
    return states
      .filter(({ scope }) => this.#limits[scope] !== undefined)
      .sort((left, right) => SCOPE_ORDER.indexOf(left.scope) - SCOPE_ORDER.indexOf(right.scope))
      .map((state) => ({
        scope: state.scope,
        scopeId: state.scopeId,
        limits: { ...this.#limits[state.scope] },
        spentTokens: state.spentTokens,
        spentUsd: state.spentNanoUsd / NANO_PER_USD,
        reservedTokens: state.reservedTokens,
        reservedUsd: state.reservedNanoUsd / NANO_PER_USD,
      }));
  }

  /** Number of reservations this budget issued that are still open. */
  get outstanding(): number {
    return this.#open.size;
  }

  /** The price the budget charges `model` at, or undefined when it has none. */
  priceOf(model: string): ModelPrice | undefined {
    return this.#pricing.priceOf(model);
  }

  // -- internals ------------------------------------------------------------

  /** The accounts a call in `scopes` is charged to, in scope order, with their limits. */
  #accountRefs(scopes: ScopeIds | undefined): StoreAccountRef[] {
    const refs: StoreAccountRef[] = [];
    const add = (scope: BudgetScope, scopeId: string) => {
      const limits = this.#limits[scope] ?? {};
      refs.push({
        scope,
        scopeId,
        ...(limits.maxTokens !== undefined && { maxTokens: limits.maxTokens }),
        ...(limits.maxUsd !== undefined && { maxNanoUsd: toNanoUsd(limits.maxUsd) }),
      });
    };
    if (this.#limits.global) add("global", GLOBAL_SCOPE_ID);
    for (const scope of NAMED_SCOPES) {
      const scopeId = scopes?.[scope];
      if (scopeId !== undefined && this.#limits[scope]) add(scope, scopeId);
    }
    return refs;
  }

  #emitExpired(expired: ExpiredReservation): void {
    const scopes: ScopeIds = {};
    for (const { scope, scopeId } of expired.accounts) if (scope !== "global") scopes[scope] = scopeId;
    const reservation: Reservation = Object.freeze({
      id: expired.id,
      model: expired.model,
      scopes: Object.freeze(scopes),
      tokens: expired.tokens,
      usd: expired.nanoUsd / NANO_PER_USD,
      ...(expired.label !== undefined && { label: expired.label }),
    });
    this.#onEvent?.({ type: "expire", at: this.#now(), reservation, expiredAt: expired.expiresAt });
  }

  #close(reservation: Reservation, state: "settled" | "released"): void {
    this.#open.delete(reservation);
    this.#closed.set(reservation, state);
  }
}

/** The refusal of a store as the error `TokenBudget` throws, in USD for USD limits. */
function toExhausted(refusal: StoreRefusal, limits: Partial<Record<BudgetScope, BudgetLimits>>): BudgetExhaustedError {
  const { scope, scopeId, unit } = refusal;
  if (unit === "tokens") return new BudgetExhaustedError({ ...refusal, unit });
  return new BudgetExhaustedError({
    scope,
    scopeId,
    unit,
    limit: limits[scope]?.maxUsd ?? refusal.limit / NANO_PER_USD,
    spent: refusal.spent / NANO_PER_USD,
    reserved: refusal.reserved / NANO_PER_USD,
    requested: refusal.requested / NANO_PER_USD,
  });
}

/** Run a store's close call, retrying a thrown error (a lost connection) with a short back-off. */
async function withRetries(call: () => Promise<StoreCloseResult>): Promise<StoreCloseResult> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      if (attempt >= CLOSE_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, RETRY_DELAY_MS * 4 ** (attempt - 1)));
    }
  }
}
