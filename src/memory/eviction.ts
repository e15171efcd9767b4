/**
 * The eviction rule of every strategy memory. Pure.
 *
 * Rule: when the memory holds more than `maxEntries` entries, whole auctions are evicted, least
 * recently used first, until it holds at most `maxEntries`.
 * - An auction is the set of entries sharing an `auctionId`; it is never split, so every
 *   contrastive pair keeps both of its plans (an auction larger than `maxEntries` is evicted whole).
 * - An auction was last used when any of its entries was last added or returned by `search` /
 *   `contrastivePairs`.
 * - Ties (same last use) go to the auction created first, then to the smaller `auctionId`.
 *
 * Why least recently used and not "lowest outcome": outcomes arrive late or never (recorded pools
 * fill them at once, live routing maybe never), while retrieval is the direct sign that an
 * auction is still useful to the router. Cost: O(n log n) per eviction, n = entries held.
 */
import { compareRecency } from "./recency-order.js";

/** What the rule needs to know of one entry. */
export interface EvictionCandidate {
  id: string;
  auctionId: string;
  createdAt: number;
  /** Epoch milliseconds of the last add or retrieval. */
  lastUsedAt: number;
}

interface AuctionGroup {
  auctionId: string;
  lastUsedAt: number;
  createdAt: number;
  ids: string[];
}

/** Ids to evict so that at most `maxEntries` remain; empty when the memory is within its bound. */
export function selectEvictions(candidates: Iterable<EvictionCandidate>, maxEntries: number): string[] {
  const groups = new Map<string, AuctionGroup>();
  let total = 0;
  for (const candidate of candidates) {
    total += 1;
    const group = groups.get(candidate.auctionId);
    if (group === undefined) {
      groups.set(candidate.auctionId, {
        auctionId: candidate.auctionId,
        lastUsedAt: candidate.lastUsedAt,
        createdAt: candidate.createdAt,
        ids: [candidate.id],
      });
    } else {
      group.lastUsedAt = Math.max(group.lastUsedAt, candidate.lastUsedAt);
      group.createdAt = Math.max(group.createdAt, candidate.createdAt);
      group.ids.push(candidate.id);
    }
  }
  if (total <= maxEntries) return [];
  const order = [...groups.values()].sort(compareRecency);
  const evicted: string[] = [];
  for (const group of order) {
    if (total <= maxEntries) break;
    evicted.push(...group.ids);
    total -= group.ids.length;
  }
  return evicted;
}
