/**
 * `SharedTokenBudget`: what a feature needs of a budget it shares with other agents and
 * concurrent calls (the middleware's and the router's `budget` option). Pure: no I/O.
 */
import { z } from "zod";
import type { TokenBudget } from "./budget.js";

/**
 * A budget shared by many agents and concurrent calls: a `TokenBudget`, or anything with the
 * same reserve / settle / release contract (for example one that also writes a ledger).
 *
 * @example
 * ```ts
 * import { createTokenBudget, type SharedTokenBudget } from "langchain-gavel";
 *
 * const budget: SharedTokenBudget = createTokenBudget({ limits: { global: { maxUsd: 5 } } });
 * ```
 */
export type SharedTokenBudget = Pick<TokenBudget, "reserve" | "settle" | "release" | "remaining">;

/** True when `value` has the four methods of a {@link SharedTokenBudget} (duck-typed). */
export function isSharedTokenBudget(value: unknown): value is SharedTokenBudget {
  if (typeof value !== "object" || value === null) return false;
  const budget = value as Record<string, unknown>;
  return ["reserve", "settle", "release", "remaining"].every((method) => typeof budget[method] === "function");
}

/** Zod schema of a `budget` option: a {@link SharedTokenBudget}. */
export const sharedTokenBudgetSchema = z.custom<SharedTokenBudget>(isSharedTokenBudget, {
  message: "must be a TokenBudget",
});
