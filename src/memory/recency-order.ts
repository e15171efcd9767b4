/**
 * Auctions kept in eviction order, updated incrementally. Pure.
 *
 * The order is the eviction rule's (`eviction.ts`): least recently used first; ties go to the
 * auction created first, then to the smaller `auctionId`. An auction's key is set whenever one of
 * its entries is added, replaced, removed or retrieved, so finding what to evict reads only the
 * front of the order instead of grouping and sorting every stored entry on each write.
 *
 * Structure: a `Map` from auction id to its key, plus an array of keys sorted in eviction order.
 * Moving an auction is a binary search and one splice; the common move, to the end (the auction
 * just used is the most recent), is a pop and a push.
 */
import { compareIds } from "../market/bids.js";

/** An auction's place in the eviction order. */
export interface AuctionRecency {
  readonly auctionId: string;
  /** Latest last use of its entries (epoch ms). */
  readonly lastUsedAt: number;
  /** Latest creation time of its entries (epoch ms). */
  readonly createdAt: number;
}

/** Negative when `a` is evicted before `b`: least recently used, then created first, then smaller id. */
export function compareRecency(a: AuctionRecency, b: AuctionRecency): number {
  return a.lastUsedAt - b.lastUsedAt || a.createdAt - b.createdAt || compareIds(a.auctionId, b.auctionId);
}

/**
 * Auctions in eviction order.
 *
 * @example
 * ```ts
 * const order = new RecencyOrder();
 * order.set({ auctionId: "a1", lastUsedAt: 5, createdAt: 1 });
 * order.set({ auctionId: "a2", lastUsedAt: 3, createdAt: 2 });
 * [...order.leastRecentFirst()].map((item) => item.auctionId); // ["a2", "a1"]
 * ```
 */
export class RecencyOrder {
  private readonly byAuction = new Map<string, AuctionRecency>();
  /** Every key of `byAuction`, sorted by `compareRecency`. */
  private readonly sorted: AuctionRecency[] = [];

  /** Number of auctions held. */
  get size(): number {
    return this.byAuction.size;
  }

  get(auctionId: string): AuctionRecency | undefined {
    return this.byAuction.get(auctionId);
  }

  /** Places the auction (or moves it when its key changed). */
  set(key: AuctionRecency): void {
    const previous = this.byAuction.get(key.auctionId);
    if (previous !== undefined) {
      if (previous.lastUsedAt === key.lastUsedAt && previous.createdAt === key.createdAt) return;
      this.removeFromSorted(previous);
    }
    const stored: AuctionRecency = { auctionId: key.auctionId, lastUsedAt: key.lastUsedAt, createdAt: key.createdAt };
    this.byAuction.set(key.auctionId, stored);
    const last = this.sorted.at(-1);
    if (last === undefined || compareRecency(last, stored) < 0) this.sorted.push(stored);
    else this.sorted.splice(this.lowerBound(stored), 0, stored);
  }

  /**
   * Places several auctions at once: the same order as `set` on each, in one pass over the part of
   * the order that changes (O(m log n + the keys after the first moved or placed one)) instead of
   * one splice per moved auction. For reads that mark many auctions used: those move to the end,
   * where the recently used already are, so only the tail of the order is rewritten.
   */
  setMany(keys: readonly AuctionRecency[]): void {
    if (keys.length < 8) {
      for (const key of keys) this.set(key);
      return;
    }
    const moved: AuctionRecency[] = [];
    const placed = new Map<string, AuctionRecency>();
    for (const key of keys) {
      const previous = placed.get(key.auctionId) ?? this.byAuction.get(key.auctionId);
      if (previous !== undefined && previous.lastUsedAt === key.lastUsedAt && previous.createdAt === key.createdAt) {
        continue;
      }
      const held = this.byAuction.get(key.auctionId);
      if (held !== undefined && !placed.has(key.auctionId)) moved.push(held);
      placed.set(key.auctionId, { auctionId: key.auctionId, lastUsedAt: key.lastUsedAt, createdAt: key.createdAt });
    }
    if (placed.size === 0) return;
    const incoming = [...placed.values()].sort(compareRecency);
    const sorted = this.sorted;
    // Take the moved keys out: find each, then close the gaps from the first one on.
    if (moved.length > 0) {
      const gaps = moved.map((key) => {
        const index = this.lowerBound(key);
        if (sorted[index] !== key) throw new Error(`recency order out of sync at auction "${key.auctionId}"`);
        return index;
      });
      gaps.sort((a, b) => a - b);
      let write = gaps[0] as number;
      let gap = 0;
      for (let read = write; read < sorted.length; read += 1) {
        if (gap < gaps.length && gaps[gap] === read) {
          gap += 1;
          continue;
        }
        sorted[write] = sorted[read] as AuctionRecency;
        write += 1;
      }
      sorted.length = write;
    }
    // Merge the incoming keys into the order from where the first of them goes.
    const start = this.lowerBound(incoming[0] as AuctionRecency);
    const tail = sorted.slice(start);
    sorted.length = start;
    let next = 0;
    for (const key of tail) {
      while (next < incoming.length && compareRecency(incoming[next] as AuctionRecency, key) < 0) {
        sorted.push(incoming[next] as AuctionRecency);
        next += 1;
      }
      sorted.push(key);
    }
    while (next < incoming.length) sorted.push(incoming[next++] as AuctionRecency);
    for (const key of incoming) this.byAuction.set(key.auctionId, key);
  }

  /** Forgets the auction; `false` when it was not held. */
  delete(auctionId: string): boolean {
    const previous = this.byAuction.get(auctionId);
    if (previous === undefined) return false;
    this.byAuction.delete(auctionId);
    this.removeFromSorted(previous);
    return true;
  }

  /** Auctions in eviction order, first to evict first. Do not change the order while iterating. */
  *leastRecentFirst(): IterableIterator<AuctionRecency> {
    for (const key of this.sorted) yield key;
  }

  /** Index of the first key not before `key`. */
  private lowerBound(key: AuctionRecency): number {
    let low = 0;
    let high = this.sorted.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (compareRecency(this.sorted[middle] as AuctionRecency, key) < 0) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  private removeFromSorted(key: AuctionRecency): void {
    const index = this.lowerBound(key);
    if (this.sorted[index] !== key) throw new Error(`recency order out of sync at auction "${key.auctionId}"`);
    if (index === this.sorted.length - 1) this.sorted.pop();
    else this.sorted.splice(index, 1);
  }
}
