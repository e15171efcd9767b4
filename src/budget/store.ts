/**
 * `BudgetStore`: where a budget keeps its accounts when several processes share it. Pure types and
 * the in-process reference store; the SQLite (`langchain-gavel/sqlite`) and PostgreSQL
 * (`langchain-gavel/postgres`) stores implement the same contract, and
 * `describeBudgetStoreConformance` (`langchain-gavel/testing`) checks it.
 *
 * The contract, which every store keeps under any number of concurrent callers in any number of
 * processes:
 * - `reserve` is atomic over all the accounts of a reservation: it holds the amount in every one of
 *   them, or in none (then it reports the first account that lacked room). It first releases every
 *   reservation of those accounts whose lease has expired, and reports each such release once.
 * - `settle` and `release` close a reservation exactly once, by id: a second call (a retry after a
 *   lost connection, say) changes nothing and reports the state the first call left. A reservation
 *   settled after its lease expired is still charged what it spent ("late"): the provider billed it.
 * - Amounts are integers: tokens, and USD in nano-dollars (1e-9 USD), so sums are exact.
 *
 * The limits travel with each request (the caller's budget owns its configuration); the store keeps
 * only what was spent and what is held.
 */
import type { BudgetScope } from "./types.js";

/** An account a reservation is charged to, with the limits the calling budget applies to it. */
export interface StoreAccountRef {
  scope: BudgetScope;
  /** `"*"` for the global scope; the thread / run / example id otherwise. */
  scopeId: string;
  /** Most tokens the account may spend and hold; absent: no token limit. */
  maxTokens?: number;
  /** Most nano-USD the account may spend and hold; absent: no USD limit. */
  maxNanoUsd?: number;
}

/** A reservation as the store holds it. */
export interface StoreReservation {
  /** Unique across every process that shares the store (the budget uses random UUIDs). */
  id: string;
  /** The accounts charged, in the budget's order (global, thread, run, example). */
  accounts: readonly StoreAccountRef[];
  tokens: number;
  nanoUsd: number;
  model: string;
  label?: string;
  /** When it was made, epoch ms. */
  createdAt: number;
  /** When its lease ends, epoch ms: after this, whoever next reserves on one of its accounts releases it. */
  expiresAt: number;
}

/** Why a reservation was refused: the first account (in the request's order) that lacked room. */
export interface StoreRefusal {
  scope: BudgetScope;
  scopeId: string;
  /** Tokens are checked before USD. */
  unit: "tokens" | "usd";
  /** The limit, spent and reserved amounts and the request, in the unit (tokens, or nano-USD). */
  limit: number;
  spent: number;
  reserved: number;
  requested: number;
}

/** A reservation released because its lease ran out (its process died or hung). */
export interface ExpiredReservation {
  id: string;
  model: string;
  label?: string;
  tokens: number;
  nanoUsd: number;
  accounts: ReadonlyArray<{ scope: BudgetScope; scopeId: string }>;
  createdAt: number;
  expiresAt: number;
}

/** What `reserve` did. */
export interface StoreReserveResult {
  /** Absent when the amount is held; else the account that refused (nothing was held anywhere). */
  refusal?: StoreRefusal;
  /** Expired reservations this call released (each is reported by exactly one call). */
  expired: ExpiredReservation[];
}

/**
 * What `settle` or `release` did:
 * - `"settled"` / `"released"`: this call closed the reservation;
 * - `"late"`: settled after its lease had expired and been released: the spend is charged, nothing
 *   was left to free (the spend may then pass a limit: the provider billed it anyway);
 * - `"closed"`: already closed before this call, which changed nothing (`state` says how);
 * - `"unknown"`: no reservation has this id.
 */
export type StoreCloseResult =
  | { status: "settled" | "released" | "late" }
  | { status: "closed"; state: "settled" | "released" | "expired" }
  | { status: "unknown" };

/** Spent and held amounts of one account (tokens, nano-USD). */
export interface StoreAccountState {
  scope: BudgetScope;
  scopeId: string;
  spentTokens: number;
  spentNanoUsd: number;
  reservedTokens: number;
  reservedNanoUsd: number;
}

/** The state of one reservation, for audits and tests. */
export type StoreReservationState = "open" | "settled" | "released" | "expired";

/**
 * Shared accounts of a budget. Implementations: {@link createMemoryBudgetStore} (one process),
 * `createSqliteBudgetStore` (`langchain-gavel/sqlite`: processes of one host), and
 * `createPostgresBudgetStore` (`langchain-gavel/postgres`: replicas on many hosts).
 *
 * @example
 * ```ts
 * import { createMemoryBudgetStore, createTokenBudget } from "langchain-gavel";
 *
 * const budget = createTokenBudget({ limits: { global: { maxTokens: 10_000 } }, store: createMemoryBudgetStore() });
 * const reservation = await budget.reserve({ model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 200 });
 * await budget.settle(reservation, { inputTokens: 100, outputTokens: 42 });
 * ```
 */
export interface BudgetStore {
  /** Hold `reservation.tokens` and `.nanoUsd` in every account of the reservation, or in none. */
  reserve(reservation: StoreReservation, now: number): Promise<StoreReserveResult>;
  /** Close the reservation at what it really spent (exactly once, by id). */
  settle(id: string, spent: { tokens: number; nanoUsd: number }, now: number): Promise<StoreCloseResult>;
  /** Close the reservation, charging nothing (exactly once, by id). */
  release(id: string, now: number): Promise<StoreCloseResult>;
  /** Spent and held amounts of these accounts, in the order asked (zeros for an account never used). */
  accounts(refs: ReadonlyArray<{ scope: BudgetScope; scopeId: string }>): Promise<StoreAccountState[]>;
  /** Every account the store holds. */
  snapshot(): Promise<StoreAccountState[]>;
  /** The state of a reservation, or undefined when the id is unknown. */
  reservationState(id: string): Promise<StoreReservationState | undefined>;
  /** Release every reservation whose lease ended before `now` (all accounts); returns them. */
  expire(now: number): Promise<ExpiredReservation[]>;
  /** Release the store's resources (a pool it opened, a file). Closing twice is harmless. */
  close(): Promise<void>;
}

// ---------------------------------------------------------------------------
// The in-process store
// ---------------------------------------------------------------------------

interface HeldReservation {
  readonly reservation: StoreReservation;
  state: StoreReservationState;
}

/**
 * A {@link BudgetStore} in this process's memory: the reference implementation of the contract,
 * and the store for tests. It shares nothing across processes; an app with one process needs no
 * store at all (`createTokenBudget` without `store` keeps the accounts itself, synchronously).
 *
 * @example
 * ```ts
 * import { createMemoryBudgetStore, createTokenBudget } from "langchain-gavel";
 *
 * const store = createMemoryBudgetStore();
 * const budget = createTokenBudget({ limits: { run: { maxTokens: 5_000 } }, store, leaseMs: 60_000 });
 * await budget.remaining({ run: "run-1" }); // { tokens: 5000 }
 * ```
 */
export function createMemoryBudgetStore(): BudgetStore {
  const accounts = new Map<string, StoreAccountState>();
  const reservations = new Map<string, HeldReservation>();
  /** The open ones only: a reserve looks for expired leases among these, not among every reservation ever made. */
  const open = new Map<string, HeldReservation>();
  let closed = false;

  const keyOf = (scope: BudgetScope, scopeId: string) => `${scope}\u0000${scopeId}`;
  const account = (scope: BudgetScope, scopeId: string): StoreAccountState => {
    const key = keyOf(scope, scopeId);
    let found = accounts.get(key);
    if (!found) {
      found = { scope, scopeId, spentTokens: 0, spentNanoUsd: 0, reservedTokens: 0, reservedNanoUsd: 0 };
      accounts.set(key, found);
    }
    return found;
  };
  const unhold = (reservation: StoreReservation) => {
    for (const { scope, scopeId } of reservation.accounts) {
      const held = account(scope, scopeId);
      held.reservedTokens -= reservation.tokens;
      held.reservedNanoUsd -= reservation.nanoUsd;
    }
  };
  const expireWhere = (now: number, touches: (reservation: StoreReservation) => boolean) => {
    const expired: ExpiredReservation[] = [];
    for (const held of open.values()) {
      if (held.reservation.expiresAt > now || !touches(held.reservation)) continue;
      held.state = "expired";
      open.delete(held.reservation.id);
      unhold(held.reservation);
      expired.push(toExpired(held.reservation));
    }
    return expired;
  };
  const assertOpen = () => {
    if (closed) throw new Error("the budget store is closed");
  };

  return {
    async reserve(reservation, now) {
      assertOpen();
      const keys = new Set(reservation.accounts.map(({ scope, scopeId }) => keyOf(scope, scopeId)));
      const expired = expireWhere(now, (other) =>
        other.accounts.some(({ scope, scopeId }) => keys.has(keyOf(scope, scopeId))),
      );
      if (reservations.has(reservation.id)) return { expired }; // a retry: already held
      for (const ref of reservation.accounts) {
        const refusal = refusalOf(ref, account(ref.scope, ref.scopeId), reservation);
        if (refusal) return { refusal, expired };
      }
      for (const { scope, scopeId } of reservation.accounts) {
        const held = account(scope, scopeId);
        held.reservedTokens += reservation.tokens;
        held.reservedNanoUsd += reservation.nanoUsd;
      }
      const held: HeldReservation = { reservation, state: "open" };
      reservations.set(reservation.id, held);
      open.set(reservation.id, held);
      return { expired };
    },

    async settle(id, spent) {
      assertOpen();
      const held = reservations.get(id);
      if (!held) return { status: "unknown" };
      if (held.state === "settled" || held.state === "released") return { status: "closed", state: held.state };
      const late = held.state === "expired";
      if (!late) unhold(held.reservation);
      for (const { scope, scopeId } of held.reservation.accounts) {
        const charged = account(scope, scopeId);
        charged.spentTokens += spent.tokens;
        charged.spentNanoUsd += spent.nanoUsd;
      }
      held.state = "settled";
      open.delete(id);
      return { status: late ? "late" : "settled" };
    },

    async release(id) {
      assertOpen();
      const held = reservations.get(id);
      if (!held) return { status: "unknown" };
      if (held.state !== "open") return { status: "closed", state: held.state };
      unhold(held.reservation);
      held.state = "released";
      open.delete(id);
      return { status: "released" };
    },

    async accounts(refs) {
      assertOpen();
      // Reading creates no account: the snapshot lists the accounts reservations touched, not those asked about.
      return refs.map(({ scope, scopeId }) => {
        const found = accounts.get(keyOf(scope, scopeId));
        return found
          ? { ...found }
          : { scope, scopeId, spentTokens: 0, spentNanoUsd: 0, reservedTokens: 0, reservedNanoUsd: 0 };
      });
    },

    async snapshot() {
      assertOpen();
      return [...accounts.values()].map((state) => ({ ...state }));
    },

    async reservationState(id) {
      assertOpen();
      return reservations.get(id)?.state;
    },

    async expire(now) {
      assertOpen();
      return expireWhere(now, () => true);
    },

    async close() {
      closed = true;
    },
  };
}

/**
 * The refusal `account` gives `reservation` through `ref`'s limits, or undefined when it has room
 * (tokens checked before USD). Shared by the stores that check limits in JavaScript.
 */
export function refusalOf(
  ref: StoreAccountRef,
  account: Pick<StoreAccountState, "spentTokens" | "spentNanoUsd" | "reservedTokens" | "reservedNanoUsd">,
  reservation: Pick<StoreReservation, "tokens" | "nanoUsd">,
): StoreRefusal | undefined {
  const { scope, scopeId, maxTokens, maxNanoUsd } = ref;
  if (maxTokens !== undefined && account.spentTokens + account.reservedTokens + reservation.tokens > maxTokens) {
    return {
      scope,
      scopeId,
      unit: "tokens",
      limit: maxTokens,
      spent: account.spentTokens,
      reserved: account.reservedTokens,
      requested: reservation.tokens,
    };
  }
  if (maxNanoUsd !== undefined && account.spentNanoUsd + account.reservedNanoUsd + reservation.nanoUsd > maxNanoUsd) {
    return {
      scope,
      scopeId,
      unit: "usd",
      limit: maxNanoUsd,
      spent: account.spentNanoUsd,
      reserved: account.reservedNanoUsd,
      requested: reservation.nanoUsd,
    };
  }
  return undefined;
}

function toExpired(reservation: StoreReservation): ExpiredReservation {
  return {
    id: reservation.id,
    model: reservation.model,
    ...(reservation.label !== undefined && { label: reservation.label }),
    tokens: reservation.tokens,
    nanoUsd: reservation.nanoUsd,
    accounts: reservation.accounts.map(({ scope, scopeId }) => ({ scope, scopeId })),
    createdAt: reservation.createdAt,
    expiresAt: reservation.expiresAt,
  };
}
