/**
 * `SharedTokenBudget`: what a feature needs of a budget it shares with other agents, concurrent
 * calls and (with a store) other processes — the middleware's, the router's and the debate's
 * `budget` option. Pure: no I/O.
 */
import { z } from "zod";
import type { Reservation, ReserveRequest, ScopeIds, Settlement } from "./options.js";
import type { Usage } from "./types.js";

/**
 * A budget shared by many agents and concurrent calls: a `TokenBudget` (in process, synchronous),
 * a `StoredTokenBudget` (accounts in a SQLite or PostgreSQL store shared by many processes: every
 * method resolves a promise), or anything with the same reserve / settle / release contract.
 * Features `await` every call, so both kinds fit.
 *
 * @example
 * ```ts
 * import { createTokenBudget, type SharedTokenBudget } from "langchain-gavel";
 *
 * const local: SharedTokenBudget = createTokenBudget({ limits: { global: { maxUsd: 5 } } });
 * const shared: SharedTokenBudget = createTokenBudget({ limits: { global: { maxUsd: 5 } }, store });
 * ```
 */
export interface SharedTokenBudget {
  reserve(request: ReserveRequest): Reservation | Promise<Reservation>;
  settle(reservation: Reservation, usage: Usage): Settlement | Promise<Settlement>;
  release(reservation: Reservation): boolean | Promise<boolean>;
  remaining(scopes?: ScopeIds): { tokens?: number; usd?: number } | Promise<{ tokens?: number; usd?: number }>;
}

/** True when `value` has the four methods of a {@link SharedTokenBudget} (duck-typed). */
export function isSharedTokenBudget(value: unknown): value is SharedTokenBudget {
  if (typeof value !== "object" || value === null) return false;
  const budget = value as Record<string, unknown>;
  return ["reserve", "settle", "release", "remaining"].every((method) => typeof budget[method] === "function");
}

/** Zod schema of a `budget` option: a {@link SharedTokenBudget}. */
export const sharedTokenBudgetSchema = z.custom<SharedTokenBudget>(isSharedTokenBudget, {
  message: "must be a TokenBudget (createTokenBudget, with or without a store)",
});

/**
 * Release a reservation after its call failed, ignoring a failure to release (a shared store that
 * cannot be reached, say): the call's own error is the one to report, and a store-backed
 * reservation left open is released when its lease ends.
 *
 * @example
 * ```ts
 * try {
 *   reply = await model.invoke(messages);
 * } catch (error) {
 *   await releaseQuietly(budget, reservation);
 *   throw error;
 * }
 * ```
 */
export async function releaseQuietly(
  budget: Pick<SharedTokenBudget, "release">,
  reservation: Reservation,
): Promise<void> {
  try {
    await budget.release(reservation);
  } catch {
    // Left to the lease (store-backed) — nothing else can be done here.
  }
}

/**
 * Settle a reservation after its call answered, keeping the answer when the budget cannot settle
 * (a shared store that stays unreachable after its retries): the provider billed the call, so
 * throwing would only lose a paid answer. The store-backed reservation is then released when its
 * lease ends, and nothing is charged for it.
 *
 * @returns the settlement, or undefined when settling failed.
 * @example
 * ```ts
 * const reply = await model.invoke(messages);
 * const settlement = await settleQuietly(budget, reservation, usageFromMessage(reply, messages, "gpt-4o-mini"));
 * ```
 */
export async function settleQuietly(
  budget: Pick<SharedTokenBudget, "settle">,
  reservation: Reservation,
  usage: Usage,
): Promise<Settlement | undefined> {
  try {
    return await budget.settle(reservation, usage);
  } catch {
    return undefined; // left to the lease (store-backed)
  }
}
