/**
 * The state of a matrix-backed strategy memory: entries, their vectors in a `VectorMatrix`, when
 * each was last used, and which entries form each auction. Pure and synchronous: the memory
 * (`matrix-memory.ts`) wraps it with the embedder, the write queue and persistence.
 */
import { countPairs, pairsFromAuctions, type RankedAuction } from "./contrastive-pairs.js";
import { matchesFilter } from "./entry-schema.js";
import type { EvictionCandidate } from "./eviction.js";
import type { ContrastivePair, StrategyEntry, StrategyFilter, StrategySearchHit } from "./types.js";
import { type MatrixKernel, selectTop, VectorMatrix } from "./vector-matrix.js";

/** One stored entry with its normalised task vector and last use (epoch ms). */
export interface StoredRecord {
  entry: StrategyEntry;
  vector: Float32Array;
  lastUsedAt: number;
}

/** Read access to a memory's records, handed to persistence hooks. */
export interface MemoryView {
  readonly size: number;
  get(id: string): StoredRecord | undefined;
  records(): Iterable<StoredRecord>;
}

/** A deep enough copy that callers cannot change what is stored. */
export function copyEntry(entry: StrategyEntry): StrategyEntry {
  const copy: StrategyEntry = { ...entry };
  if (entry.metadata !== undefined) copy.metadata = structuredClone(entry.metadata);
  return copy;
}

function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Entries and vectors of one memory.
 *
 * @example
 * ```ts
 * const store = new MatrixStore({ kernel: "auto" });
 * store.upsert({ entry, vector: new Float32Array([1, 0]), lastUsedAt: Date.now() });
 * store.search([1, 0], 8, {}); // [{ entry, score: 1 }]
 * ```
 */
export class MatrixStore implements MemoryView {
  private readonly kernel: MatrixKernel;
  private readonly capacity: number | undefined;
  private matrix: VectorMatrix | undefined;
  /** Parallel to the matrix rows. */
  private readonly rowEntries: StrategyEntry[] = [];
  private readonly rowLastUsed: number[] = [];
  private readonly rowOf = new Map<string, number>();
  private readonly auctionMembers = new Map<string, Set<string>>();

  /** `capacity`: rows to reserve at first (e.g. the number of records about to be loaded). */
  constructor({ kernel = "auto", capacity }: { kernel?: MatrixKernel; capacity?: number } = {}) {
    this.kernel = kernel;
    this.capacity = capacity;
  }

  get size(): number {
    return this.rowEntries.length;
  }

  /** Vector length, fixed by the first stored vector; `undefined` while empty and never filled. */
  get dimensions(): number | undefined {
    return this.matrix?.dimensions;
  }

  /** Which scoring loop the matrix uses (`undefined` before the first vector). */
  get kernelInUse(): "wasm" | "js" | undefined {
    return this.matrix?.kernel;
  }

  has(id: string): boolean {
    return this.rowOf.has(id);
  }

  /** The stored entry itself (not a copy): callers must not change it. */
  entry(id: string): StrategyEntry | undefined {
    const row = this.rowOf.get(id);
    return row === undefined ? undefined : this.rowEntries[row];
  }

  get(id: string): StoredRecord | undefined {
    const row = this.rowOf.get(id);
    if (row === undefined || this.matrix === undefined) return undefined;
    const entry = this.rowEntries[row];
    if (entry === undefined) return undefined;
    return { entry, vector: this.matrix.vector(row), lastUsedAt: this.rowLastUsed[row] ?? 0 };
  }

  *records(): IterableIterator<StoredRecord> {
    for (const id of [...this.rowOf.keys()]) {
      const record = this.get(id);
      if (record !== undefined) yield record;
    }
  }

  *evictionCandidates(): IterableIterator<EvictionCandidate> {
    for (let row = 0; row < this.rowEntries.length; row += 1) {
      const entry = this.rowEntries[row];
      if (entry === undefined) continue;
      yield {
        id: entry.id,
        auctionId: entry.auctionId,
        createdAt: entry.createdAt,
        lastUsedAt: this.rowLastUsed[row] ?? 0,
      };
    }
  }

  /** Adds or replaces an entry. The vector's length must equal `dimensions` once that is set. */
  upsert(record: { entry: StrategyEntry; vector: ArrayLike<number>; lastUsedAt: number }): void {
    const { entry, vector, lastUsedAt } = record;
    if (this.matrix === undefined) {
      this.matrix = new VectorMatrix({
        dimensions: vector.length,
        kernel: this.kernel,
        ...(this.capacity === undefined ? {} : { initialCapacity: this.capacity }),
      });
    }
    const existing = this.rowOf.get(entry.id);
    if (existing === undefined) {
      const row = this.matrix.append(vector);
      this.rowEntries[row] = entry;
      this.rowLastUsed[row] = lastUsedAt;
      this.rowOf.set(entry.id, row);
    } else {
      this.matrix.set(existing, vector);
      const previous = this.rowEntries[existing];
      if (previous !== undefined) this.leaveAuction(previous);
      this.rowEntries[existing] = entry;
      this.rowLastUsed[existing] = lastUsedAt;
    }
    let members = this.auctionMembers.get(entry.auctionId);
    if (members === undefined) {
      members = new Set();
      this.auctionMembers.set(entry.auctionId, members);
    }
    members.add(entry.id);
  }

  /** Removes an entry; `false` when there was none. */
  remove(id: string): boolean {
    const row = this.rowOf.get(id);
    if (row === undefined || this.matrix === undefined) return false;
    const entry = this.rowEntries[row];
    if (entry !== undefined) this.leaveAuction(entry);
    this.rowOf.delete(id);
    const moved = this.matrix.remove(row);
    const last = this.rowEntries.length - 1;
    if (moved !== -1) {
      const movedEntry = this.rowEntries[last];
      if (movedEntry !== undefined) {
        this.rowEntries[row] = movedEntry;
        this.rowLastUsed[row] = this.rowLastUsed[last] ?? 0;
        this.rowOf.set(movedEntry.id, row);
      }
    }
    this.rowEntries.length = last;
    this.rowLastUsed.length = last;
    return true;
  }

  /** Sets an entry's outcome; `false` when there is no such entry. */
  setOutcome(id: string, outcome: number): boolean {
    const row = this.rowOf.get(id);
    const entry = row === undefined ? undefined : this.rowEntries[row];
    if (row === undefined || entry === undefined) return false;
    this.rowEntries[row] = { ...entry, outcome };
    return true;
  }

  /** Marks an entry used at `at` (never moves its last use back in time). */
  touch(id: string, at: number): void {
    const row = this.rowOf.get(id);
    if (row !== undefined) this.rowLastUsed[row] = Math.max(this.rowLastUsed[row] ?? 0, at);
  }

  /** Top-`k` entries by cosine similarity, best first, ties by id. Filtered rows are never scored. */
  search(query: ArrayLike<number>, k: number, filter: StrategyFilter): StrategySearchHit[] {
    if (this.matrix === undefined || this.size === 0) return [];
    const filtered = filter.agent !== undefined || filter.kind !== undefined || filter.role !== undefined;
    const rows = filtered ? this.rowsMatching((entry) => matchesFilter(entry, filter)) : undefined;
    const scores = this.matrix.scores(query, rows);
    const rowAt = (index: number) => (rows === undefined ? index : (rows[index] ?? 0));
    const top = selectTop(scores, k, (a, b) => compareIds(this.idAt(rowAt(a)), this.idAt(rowAt(b))));
    return top.flatMap((index) => {
      const entry = this.rowEntries[rowAt(index)];
      return entry === undefined ? [] : [{ entry, score: scores[index] ?? 0 }];
    });
  }

  /**
   * Contrastive pairs from the auctions most similar to `query`. Only winning/losing entries of
   * kind `kind` (when given) are scored; an auction's score is its best entry's. The top rows are
   * taken in growing windows until `k` pairs are found or every row was seen.
   */
  contrastivePairs(query: ArrayLike<number>, options: { k: number; agent?: string; kind?: string }): ContrastivePair[] {
    const { k, agent, kind } = options;
    if (this.matrix === undefined || this.size === 0) return [];
    // `rows` undefined: every row is a candidate and index i is row i (the faster full scan).
    const rows = this.rowsMatching((entry) => entry.role !== "single" && (kind === undefined || entry.kind === kind));
    const candidates = rows === undefined ? this.size : rows.length;
    if (candidates === 0) return [];
    const rowAt = (index: number) => (rows === undefined ? index : (rows[index] ?? 0));
    const scores = Float32Array.from(this.matrix.scores(query, rows));
    const tieBreak = (a: number, b: number) => compareIds(this.idAt(rowAt(a)), this.idAt(rowAt(b)));
    let window = Math.min(candidates, Math.max(32, k * 4));
    for (;;) {
      const auctions: RankedAuction[] = [];
      const seen = new Set<string>();
      let pairCount = 0;
      for (const index of selectTop(scores, window, tieBreak)) {
        const entry = this.rowEntries[rowAt(index)];
        if (entry === undefined || seen.has(entry.auctionId)) continue;
        seen.add(entry.auctionId);
        const members = this.auctionEntries(entry.auctionId).filter(
          (member) => member.role !== "single" && (kind === undefined || member.kind === kind),
        );
        auctions.push({ auctionId: entry.auctionId, score: scores[index] ?? 0, entries: members });
        pairCount += countPairs(members, agent);
        if (pairCount >= k) break;
      }
      if (pairCount >= k || window >= candidates) return pairsFromAuctions(auctions, { k, agent });
      window = Math.min(candidates, window * 4);
    }
  }

  private auctionEntries(auctionId: string): StrategyEntry[] {
    const members = this.auctionMembers.get(auctionId) ?? new Set<string>();
    return [...members].flatMap((id) => {
      const entry = this.entry(id);
      return entry === undefined ? [] : [entry];
    });
  }

  /** Rows whose entry passes `accept`, or `undefined` when every row does (score them all). */
  private rowsMatching(accept: (entry: StrategyEntry) => boolean): Int32Array | undefined {
    const rows: number[] = [];
    for (let row = 0; row < this.rowEntries.length; row += 1) {
      const entry = this.rowEntries[row];
      if (entry !== undefined && accept(entry)) rows.push(row);
    }
    return rows.length === this.rowEntries.length ? undefined : Int32Array.from(rows);
  }

  private idAt(row: number): string {
    return this.rowEntries[row]?.id ?? "";
  }

  private leaveAuction(entry: StrategyEntry): void {
    const members = this.auctionMembers.get(entry.auctionId);
    if (members === undefined) return;
    members.delete(entry.id);
    if (members.size === 0) this.auctionMembers.delete(entry.auctionId);
  }
}
