/**
 * Building SALE's contrastive pairs from ranked past auctions. Pure.
 */
import { compareIds } from "../market/bids.js";
import type { ContrastivePair, StrategyEntry } from "./types.js";

/** One past auction with its similarity to the new task (the best score of its entries). */
export interface RankedAuction {
  auctionId: string;
  score: number;
  entries: readonly StrategyEntry[];
}

function byId(a: StrategyEntry, b: StrategyEntry): number {
  return compareIds(a.id, b.id);
}

/**
 * Up to `k` (losing, winning) pairs, taking auctions in the given order (most similar first).
 * Within an auction every losing plan is paired with every winning plan, losers and winners each
 * in id order. Entries with an empty plan are skipped; with `agent`, only losing plans by that
 * agent are used.
 *
 * @example
 * ```ts
 * const entry = (id: string, agent: string, role: StrategyRole) =>
 *   ({ id, auctionId: "a1", task: "What is 17 × 3?", kind: "gsm8k", agent, plan: `${agent}'s plan`, role, cost: 0, createdAt: 0 });
 * const entries = [entry("e1", "small", "losing"), entry("e2", "large", "winning"), entry("e3", "mid", "losing")];
 * pairsFromAuctions([{ auctionId: "a1", score: 0.9, entries }], { k: 8 }).map((pair) => [pair.losing.agent, pair.winning.agent]);
 * // [["small", "large"], ["mid", "large"]]
 * ```
 */
export function pairsFromAuctions(
  auctions: Iterable<RankedAuction>,
  { k, agent }: { k: number; agent?: string | undefined },
): ContrastivePair[] {
  const pairs: ContrastivePair[] = [];
  for (const auction of auctions) {
    const usable = auction.entries.filter((entry) => entry.plan.trim().length > 0);
    const winners = usable.filter((entry) => entry.role === "winning").sort(byId);
    const losers = usable
      .filter((entry) => entry.role === "losing" && (agent === undefined || entry.agent === agent))
      .sort(byId);
    for (const losing of losers) {
      for (const winning of winners) {
        if (pairs.length >= k) return pairs;
        pairs.push({ auctionId: auction.auctionId, score: auction.score, losing, winning });
      }
    }
  }
  return pairs;
}

/** Number of pairs `pairsFromAuctions` would build from one auction. */
export function countPairs(entries: readonly StrategyEntry[], agent: string | undefined): number {
  let winners = 0;
  let losers = 0;
  for (const entry of entries) {
    if (entry.plan.trim().length === 0) continue;
    if (entry.role === "winning") winners += 1;
    else if (entry.role === "losing" && (agent === undefined || entry.agent === agent)) losers += 1;
  }
  return winners * losers;
}
