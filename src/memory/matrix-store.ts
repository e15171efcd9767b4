/**
 * The state of a matrix-backed strategy memory: entries, their vectors in a `VectorMatrix`, when
 * each was last used, which entries form each auction, and the auctions in eviction order. Pure
 * and synchronous: the memory (`matrix-memory.ts`) wraps it with the embedder, the write queue
 * and persistence.
 *
 * Two structures are kept up to date on every write so that reads and evictions stay cheap:
 * - the auctions in eviction order (`RecencyOrder`): choosing what to evict reads the front of
 *   that order, not every entry;
 * - within each auction, the entries whose vectors are identical (entries of one auction share
 *   its task, so usually all of them): the matrix stores ONE row per such group, and every entry
 *   of the group reads that row's score (identical vectors score identically). An auction of
 *   memory bids writes one entry per member with the request's vector: a recorded file's eleven
 *   members take one row, not eleven, and a scan reads that much less. Contrastive pairs score
 *   one entry per group too, which ranks auctions exactly as scoring every entry would;
 * - the row each group is scored by (its representative), in dense row lists
 *   (`RepresentativeRows`): one over every kind, one per kind. A query hands its list to the
 *   matrix as it is, instead of walking every entry to pick the representatives;
 * - the rows of each agent, in the same kind of list, and apart the rows of its entries with an
 *   outcome: a search filtered by agent (the router's memory bids run one per member, over entries
 *   with an outcome) scores that list without walking every entry. When the same
 *   query is searched again with no write in between (memory bids search once per member with one
 *   request vector), every row is scored once in one contiguous scan and the following searches
 *   read their rows' scores from it: one pass over the matrix instead of one scattered pass per agent.
 */
import { compareIds } from "../market/bids.js";
import { countPairs, pairsFromAuctions, type RankedAuction } from "./contrastive-pairs.js";
import { matchesFilter } from "./entry-schema.js";
import { type AuctionRecency, compareRecency, RecencyOrder } from "./recency-order.js";
import { RepresentativeRows } from "./representative-rows.js";
import type { ContrastivePair, StrategyEntry, StrategyFilter, StrategySearchHit } from "./types.js";
import { idPrefixKey, type MatrixKernel, type MatrixPrecision, selectTop, VectorMatrix } from "./vector-matrix.js";

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

/** A deep enough copy that callers cannot change what is stored (stored entries have exactly these fields: the entry schema is strict). */
export function copyEntry(entry: StrategyEntry): StrategyEntry {
  // A literal of fixed shape: several times faster than a spread on the search path.
  const copy: StrategyEntry = {
    id: entry.id,
    auctionId: entry.auctionId,
    task: entry.task,
    kind: entry.kind,
    agent: entry.agent,
    plan: entry.plan,
    role: entry.role,
    cost: entry.cost,
    createdAt: entry.createdAt,
  };
  if (entry.outcome !== undefined) copy.outcome = entry.outcome;
  if (entry.metadata !== undefined) copy.metadata = copyMetadata(entry.metadata);
  return copy;
}

/** A deep copy; a shallow one when every value is a primitive (outcome entries' metadata), which is as deep. */
function copyMetadata(metadata: Record<string, unknown>): Record<string, unknown> {
  const copy: Record<string, unknown> = {};
  for (const key in metadata) {
    const value = metadata[key];
    if (typeof value === "object" && value !== null) return structuredClone(metadata);
    copy[key] = value;
  }
  return copy;
}

/** One stored entry and where it is. Its last use is `rowLastUsedAt[row]`. */
interface Slot {
  entry: StrategyEntry;
  /**
   * Its row among the entries (rows move when another entry is removed): the index of the row
   * lists and of the arrays parallel to the rows. Its vector is the matrix row of its group.
   */
  row: number;
  /** The entries of the same auction with the same vector, this one included. */
  group: VectorGroup | undefined;
}

/**
 * Entries of one auction with identical vectors, and the entry each query shape scores them by:
 * the one with the smallest id among those the query accepts (the one the id tie-break would
 * rank first), `undefined` when it accepts none.
 */
interface VectorGroup {
  slots: Slot[];
  /** The matrix row of the group's vector (rows move when another group's row is removed). */
  vectorRow: number;
  /** Among entries of every kind (roles other than `"single"`). */
  representative: Slot | undefined;
  /** Among entries of one kind, by kind (kinds with no accepted entry are absent). */
  kindRepresentatives: Map<string, Slot>;
}

/** The entries of one auction, and the same entries grouped by identical vector. */
interface AuctionSlots {
  members: Slot[];
  vectorGroups: VectorGroup[];
}

/** An auction as eviction would find it after a pending write. */
interface PendingAuction {
  auctionId: string;
  lastUsedAt: number;
  createdAt: number;
  ids: string[];
}

/** Whether `a` and `b` hold the same numbers. */
function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let index = 0; index < a.length; index += 1) if (a[index] !== b[index]) return false;
  return true;
}

/** A copy of `array` of length `length` (zeros after the copied values). */
function grown<T extends Float64Array | Int32Array | Uint8Array>(array: T, length: number): T {
  const Constructor = array.constructor as new (length: number) => T;
  const copy = new Constructor(length);
  copy.set(array);
  return copy;
}

function removeItem<T>(items: T[], item: T): void {
  const index = items.indexOf(item);
  if (index !== -1) items.splice(index, 1);
}

/** Whether contrastive pairs use the entry (of kind `kind`, when given). */
function pairable(entry: StrategyEntry, kind: string | undefined): boolean {
  return entry.role !== "single" && (kind === undefined || entry.kind === kind);
}

/** The pairable slot (of kind `kind`, when given) with the smallest id. */
function smallestPairable(slots: readonly Slot[], kind: string | undefined): Slot | undefined {
  let best: Slot | undefined;
  for (const slot of slots) {
    if (pairable(slot.entry, kind) && (best === undefined || slot.entry.id < best.entry.id)) best = slot;
  }
  return best;
}

/** The row list of `key` in `lists`, created when missing. */
function rowsOf<Item>(lists: Map<string, RepresentativeRows<Item>>, key: string): RepresentativeRows<Item> {
  let rows = lists.get(key);
  if (rows === undefined) {
    rows = new RepresentativeRows<Item>();
    lists.set(key, rows);
  }
  return rows;
}

/**
 * Entries and vectors of one memory.
 *
 * @example
 * ```ts
 * const store = new MatrixStore({ kernel: "auto" }); // or { precision: "int8" }: a quarter of the bytes
 * store.upsert({ entry, vector: new Float32Array([1, 0]), lastUsedAt: Date.now() });
 * store.search([1, 0], 8, {}); // [{ entry, score: 1 }]
 * ```
 */
export class MatrixStore implements MemoryView {
  private readonly kernel: MatrixKernel;
  private readonly precision: MatrixPrecision;
  private readonly capacity: number | undefined;
  /** One row per vector group (see the module comment). */
  private matrix: VectorMatrix | undefined;
  /** Parallel to the matrix rows: the group each row is the vector of. */
  private readonly groupAtVectorRow: VectorGroup[] = [];
  /** The entries, by row. */
  private readonly rowSlots: Slot[] = [];
  /**
   * Parallel to the rows: each row's entry (its slot's `entry`), last use, and whether it is in
   * `touched`. A search reads and marks its hits here, in dense arrays, without reaching each
   * hit's slot (scattered in memory: ~100 hits per member of a memory bid auction).
   */
  private readonly rowEntries: StrategyEntry[] = [];
  private rowLastUsedAt = new Float64Array(256);
  private rowTouched = new Uint8Array(256);
  /** Parallel to the entry rows: the matrix row of each entry's vector. */
  private vectorRowOf = new Int32Array(256);
  /**
   * Parallel to the rows: `idPrefixKey` of each row's id. Searches break score ties by id;
   * when thousands of rows tie (entries with one vector: the same request text, again and again),
   * comparing these numbers first avoids reaching each tied entry's id through its slot, scattered
   * in memory (measured: ~0.4 µs per tie under a gateway's load, most of a search's time).
   */
  private idKeys = new Float64Array(256);
  private readonly slotOf = new Map<string, Slot>();
  private readonly auctions = new Map<string, AuctionSlots>();
  private readonly recency = new RecencyOrder();
  /** Representative rows of every vector group, entries of every kind. */
  private readonly everyKind = new RepresentativeRows<Slot>();
  /** Representative rows of every vector group, by kind. */
  private readonly byKind = new Map<string, RepresentativeRows<Slot>>();
  /** Rows of every entry, by agent. */
  private readonly byAgent = new Map<string, RepresentativeRows<Slot>>();
  /** Rows of the entries whose outcome is set, by agent (what memory bids read). */
  private readonly withOutcomeByAgent = new Map<string, RepresentativeRows<Slot>>();
  /**
   * Entries used since the eviction order was last read: a search marks every hit used, so their
   * auctions move in the order in one pass when it is next read (`applyTouches`).
   */
  private touched: Slot[] = [];
  /** Bumped by every write that changes rows or entries: cached scores are valid for one version. */
  private version = 0;
  /** The last query searched and the version it was searched at. */
  private lastQuery: Float64Array | undefined;
  private lastQueryVersion = -1;
  /** Rows the searches of `lastQuery` asked for so far (when they add up to a quarter, scan them all). */
  private rowsScoredForLastQuery = 0;
  /** Every row's score for `lastQuery`, once it was searched twice (a view of `rowScoreBuffer`). */
  private sharedScores: Float32Array | undefined;
  private rowScoreBuffer = new Float32Array(0);
  /** The scores of one search's rows, gathered from `sharedScores` (reused: read before the next search). */
  private gatherBuffer = new Float32Array(0);
  /** Entry rows' scores read from a scan of every matrix row (`entryScores`; reused the same way). */
  private entryScoreBuffer = new Float32Array(0);
  /** The matrix rows of a list of entry rows (`entryScores`; reused). */
  private vectorRowList = new Int32Array(0);

  /**
   * `capacity`: rows to reserve at first (e.g. the number of records about to be loaded);
   * `precision`: how the matrix stores rows (`VectorMatrix`; int8 scores are approximate).
   */
  constructor({
    kernel = "auto",
    capacity,
    precision = "float32",
  }: { kernel?: MatrixKernel; capacity?: number; precision?: MatrixPrecision } = {}) {
    this.kernel = kernel;
    this.capacity = capacity;
    this.precision = precision;
  }

  get size(): number {
    return this.rowSlots.length;
  }

  /** Rows of the matrix: one per group of identical vectors within an auction (see the module comment). */
  get vectorRows(): number {
    return this.matrix?.rows ?? 0;
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
    return this.slotOf.has(id);
  }

  /** The stored entry itself (not a copy): callers must not change it. */
  entry(id: string): StrategyEntry | undefined {
    return this.slotOf.get(id)?.entry;
  }

  get(id: string): StoredRecord | undefined {
    const slot = this.slotOf.get(id);
    if (slot === undefined || this.matrix === undefined) return undefined;
    return {
      entry: slot.entry,
      vector: this.matrix.vector(this.vectorRowOf[slot.row] as number),
      lastUsedAt: this.rowLastUsedAt[slot.row] as number,
    };
  }

  *records(): IterableIterator<StoredRecord> {
    for (const id of [...this.slotOf.keys()]) {
      const record = this.get(id);
      if (record !== undefined) yield record;
    }
  }

  /** Auctions in eviction order, first to evict first (see `eviction.ts` for the rule). */
  auctionsByRecency(): IterableIterator<AuctionRecency> {
    this.applyTouches();
    return this.recency.leastRecentFirst();
  }

  /** Adds or replaces an entry. The vector's length must equal `dimensions` once that is set. */
  upsert(record: { entry: StrategyEntry; vector: ArrayLike<number>; lastUsedAt: number }): void {
    const { entry, vector, lastUsedAt } = record;
    this.version += 1;
    if (this.matrix === undefined) {
      this.matrix = new VectorMatrix({
        dimensions: vector.length,
        kernel: this.kernel,
        precision: this.precision,
        ...(this.capacity === undefined ? {} : { initialCapacity: this.capacity }),
      });
    }
    if (vector.length !== this.matrix.dimensions) {
      throw new RangeError(`expected a ${this.matrix.dimensions}-d vector, got ${vector.length}-d`);
    }
    let slot = this.slotOf.get(entry.id);
    if (slot === undefined) {
      const row = this.rowSlots.length;
      slot = { entry, row, group: undefined };
      this.rowSlots[row] = slot;
      this.rowEntries[row] = entry;
      if (row >= this.idKeys.length) {
        const length = Math.max(row + 1, this.idKeys.length * 2);
        this.idKeys = grown(this.idKeys, length);
        this.vectorRowOf = grown(this.vectorRowOf, length);
        this.rowLastUsedAt = grown(this.rowLastUsedAt, length);
        this.rowTouched = grown(this.rowTouched, length);
      }
      this.rowLastUsedAt[row] = lastUsedAt;
      this.rowTouched[row] = 0;
      this.idKeys[row] = idPrefixKey(entry.id);
      this.slotOf.set(entry.id, slot);
      this.listAgentRow(slot);
    } else {
      const previousAuction = slot.entry.auctionId;
      this.leaveAuction(slot);
      this.dropAgentRow(slot);
      slot.entry = entry;
      this.rowEntries[slot.row] = entry;
      this.rowLastUsedAt[slot.row] = lastUsedAt;
      this.listAgentRow(slot);
      if (previousAuction !== entry.auctionId) this.refreshRecency(previousAuction);
    }
    this.joinAuction(slot, vector);
    this.refreshRecency(entry.auctionId);
  }

  /** Removes an entry; `false` when there was none. */
  remove(id: string): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined || this.matrix === undefined) return false;
    this.version += 1;
    this.leaveAuction(slot);
    this.refreshRecency(slot.entry.auctionId);
    this.dropAgentRow(slot);
    this.slotOf.delete(id);
    // The last entry moves into the freed row.
    const last = this.rowSlots.length - 1;
    if (slot.row !== last) {
      const movedSlot = this.rowSlots[last];
      if (movedSlot !== undefined) {
        this.rowSlots[slot.row] = movedSlot;
        this.rowEntries[slot.row] = movedSlot.entry;
        this.rowLastUsedAt[slot.row] = this.rowLastUsedAt[last] as number;
        this.rowTouched[slot.row] = this.rowTouched[last] as number;
        this.idKeys[slot.row] = this.idKeys[last] as number;
        this.vectorRowOf[slot.row] = this.vectorRowOf[last] as number;
        movedSlot.row = slot.row;
        this.everyKind.move(movedSlot, slot.row);
        this.byKind.get(movedSlot.entry.kind)?.move(movedSlot, slot.row);
        this.byAgent.get(movedSlot.entry.agent)?.move(movedSlot, slot.row);
        this.withOutcomeByAgent.get(movedSlot.entry.agent)?.move(movedSlot, slot.row);
      }
    }
    this.rowSlots.length = last;
    this.rowEntries.length = last;
    return true;
  }

  /** Sets an entry's outcome; `false` when there is no such entry. */
  setOutcome(id: string, outcome: number): boolean {
    const slot = this.slotOf.get(id);
    if (slot === undefined) return false;
    slot.entry = { ...slot.entry, outcome };
    this.rowEntries[slot.row] = slot.entry;
    rowsOf(this.withOutcomeByAgent, slot.entry.agent).add(slot, slot.row);
    return true;
  }

  /**
   * Marks an entry used at `at` (never moves its last use back in time). Its auction moves in the
   * eviction order when that order is next read, with every other auction touched meanwhile.
   */
  touch(id: string, at: number): void {
    const slot = this.slotOf.get(id);
    if (slot !== undefined) this.touchRow(slot.row, at);
  }

  private touchRow(row: number, at: number): void {
    if (at <= (this.rowLastUsedAt[row] as number)) return;
    this.rowLastUsedAt[row] = at;
    if (this.rowTouched[row] === 1) return;
    // A flag and a list, not a Set: a search touches ~100 entries per member.
    this.rowTouched[row] = 1;
    this.touched.push(this.rowSlots[row] as Slot);
    // Removed entries stay listed until the order is read: keep the list bounded by the entries.
    if (this.touched.length > 2 * this.size + 1024) {
      this.touched = this.touched.filter((listed) => this.slotOf.get(listed.entry.id) === listed);
    }
  }

  /**
   * Moves the auctions of the entries used since the order was last read, in one pass: each to
   * the latest last use of its entries still stored (as if each use had moved it at once; writes
   * since then recomputed their auctions' keys from the entries).
   */
  private applyTouches(): void {
    if (this.touched.length === 0) return;
    const latest = new Map<string, AuctionRecency>();
    for (const slot of this.touched) {
      // A removed entry's row may be another entry's now: its flag is cleared with the rest.
      this.rowTouched[slot.row] = 0;
      if (this.slotOf.get(slot.entry.id) !== slot) continue;
      const lastUsedAt = this.rowLastUsedAt[slot.row] as number;
      const auctionId = slot.entry.auctionId;
      const key = latest.get(auctionId) ?? this.recency.get(auctionId);
      if (key !== undefined && lastUsedAt > key.lastUsedAt) latest.set(auctionId, { ...key, lastUsedAt });
    }
    this.touched = [];
    this.recency.setMany([...latest.values()]);
  }

  /**
   * Ids to evict so that at most `maxEntries` remain once `added` is stored (ids of `added` may be
   * among them): exactly `selectEvictions` over the entries as they would be after the write,
   * reading the eviction order from its front instead of grouping and sorting every entry.
   */
  evictionsFor(added: ReadonlyArray<{ entry: StrategyEntry; lastUsedAt: number }>, maxEntries: number): string[] {
    const addedIds = new Set(added.map(({ entry }) => entry.id));
    let total = this.size;
    for (const id of addedIds) if (!this.slotOf.has(id)) total += 1;
    if (total <= maxEntries) return [];
    this.applyTouches();
    // Auctions the write changes: those it adds to, and those it takes replaced entries from.
    const changed = new Set<string>();
    for (const { entry } of added) {
      changed.add(entry.auctionId);
      const previous = this.slotOf.get(entry.id);
      if (previous !== undefined) changed.add(previous.entry.auctionId);
    }
    const pending: PendingAuction[] = [];
    for (const auctionId of changed) {
      const auction: PendingAuction = { auctionId, lastUsedAt: -Infinity, createdAt: -Infinity, ids: [] };
      const include = (entry: StrategyEntry, lastUsedAt: number) => {
        auction.ids.push(entry.id);
        auction.lastUsedAt = Math.max(auction.lastUsedAt, lastUsedAt);
        auction.createdAt = Math.max(auction.createdAt, entry.createdAt);
      };
      for (const slot of this.auctions.get(auctionId)?.members ?? []) {
        if (!addedIds.has(slot.entry.id)) include(slot.entry, this.rowLastUsedAt[slot.row] as number);
      }
      for (const { entry, lastUsedAt } of added) if (entry.auctionId === auctionId) include(entry, lastUsedAt);
      if (auction.ids.length > 0) pending.push(auction);
    }
    pending.sort(compareRecency);
    // Merge the stored order (without the changed auctions) with the changed auctions.
    const evicted: string[] = [];
    let next = 0;
    const takePendingBefore = (bound: AuctionRecency | undefined) => {
      while (total > maxEntries) {
        const auction = pending[next];
        if (auction === undefined || (bound !== undefined && compareRecency(auction, bound) > 0)) return;
        evicted.push(...auction.ids);
        total -= auction.ids.length;
        next += 1;
      }
    };
    for (const key of this.recency.leastRecentFirst()) {
      if (total <= maxEntries) break;
      if (changed.has(key.auctionId)) continue;
      takePendingBefore(key);
      if (total <= maxEntries) break;
      const members = this.auctions.get(key.auctionId)?.members ?? [];
      for (const slot of members) evicted.push(slot.entry.id);
      total -= members.length;
    }
    takePendingBefore(undefined);
    return evicted;
  }

  /**
   * Top-`k` entries by cosine similarity, best first, ties by id. A filter by agent reads that
   * agent's row list instead of walking every entry; only the filtered rows are scored, unless the
   * query repeats (see `scoresOfRepeatedQuery`). With `usedAt`, the hits are marked used at that
   * time (as `touch` does).
   */
  search(query: ArrayLike<number>, k: number, filter: StrategyFilter, usedAt?: number): StrategySearchHit[] {
    if (this.matrix === undefined || this.size === 0) return [];
    const filtered =
      filter.agent !== undefined ||
      filter.kind !== undefined ||
      filter.role !== undefined ||
      filter.hasOutcome !== undefined;
    const rows = filtered ? this.rowsMatchingFilter(filter) : undefined;
    if (rows !== undefined && rows.length === 0) return [];
    const shared = this.scoresOfRepeatedQuery(query, rows === undefined ? this.size : rows.length);
    let scores: Float32Array;
    if (shared === undefined) scores = this.entryScores(query, rows);
    else if (rows === undefined) scores = shared;
    else {
      if (this.gatherBuffer.length < rows.length) this.gatherBuffer = new Float32Array(Math.max(1024, rows.length * 2));
      scores = this.gatherBuffer.subarray(0, rows.length);
      for (let index = 0; index < rows.length; index += 1) scores[index] = shared[rows[index] as number] as number;
    }
    const rowAt = (index: number) => (rows === undefined ? index : (rows[index] ?? 0));
    const idKeys = this.idKeys;
    const top = selectTop(
      scores,
      k,
      (a, b) => compareIds(this.idAt(rowAt(a)), this.idAt(rowAt(b))),
      undefined,
      rows === undefined ? (index) => idKeys[index] as number : (index) => idKeys[rows[index] ?? 0] as number,
    );
    return this.hitsAt(top, rowAt, scores, usedAt);
  }

  /** The stored entries of the selected rows, best first, each touched at `usedAt` when given. */
  private hitsAt(
    top: readonly number[],
    rowAt: (index: number) => number,
    scores: ArrayLike<number>,
    usedAt: number | undefined,
  ): StrategySearchHit[] {
    const hits: StrategySearchHit[] = [];
    for (const index of top) {
      const row = rowAt(index);
      const entry = this.rowEntries[row];
      if (entry === undefined) continue;
      hits.push({ entry, score: scores[index] ?? 0 });
      if (usedAt !== undefined) this.touchRow(row, usedAt);
    }
    return hits;
  }

  /**
   * The top-`k` entries with an outcome of each agent of `agents` for one query: `result[i]` is
   * exactly what `search(query, k, { agent: agents[i], hasOutcome: true }, usedAt())` returns (the
   * same entries, scores and order, the hits marked used the same way), but the entries are the stored objects themselves,
   * not copies (callers must not change them), and the query is scored once: when the agents'
   * rows add up to at least half the matrix's rows, every matrix row is scored in one contiguous
   * scan and each agent's entries read their scores from it (a row's score does not depend on
   * which rows are scored with it); otherwise each agent's rows are scored on their own. `usedAt` is called once per
   * agent, in order, before its hits are marked used.
   */
  searchByAgent(
    query: ArrayLike<number>,
    agents: readonly string[],
    k: number,
    usedAt?: () => number,
  ): StrategySearchHit[][] {
    const matrix = this.matrix;
    if (matrix === undefined || this.size === 0) return agents.map(() => []);
    const lists = agents.map((agent) => this.withOutcomeByAgent.get(agent));
    let listed = 0;
    for (const list of lists) listed += list?.size ?? 0;
    const everyVector = listed * 2 >= matrix.rows ? matrix.scores(query) : undefined;
    const idKeys = this.idKeys;
    return agents.map((_, position) => {
      const list = lists[position];
      const at = usedAt?.();
      if (list === undefined || list.size === 0) return [];
      // Every row is this agent's: index i is row i (as `search` scores an unfiltered query).
      const rows = list.size === this.size ? undefined : list.rowList();
      const scores =
        everyVector === undefined ? this.entryScores(query, rows) : this.readEntryScores(everyVector, rows);
      const rowAt = rows === undefined ? (index: number) => index : (index: number) => rows[index] as number;
      const top = selectTop(
        scores,
        k,
        (a, b) => compareIds(this.idAt(rowAt(a)), this.idAt(rowAt(b))),
        undefined,
        (index) => idKeys[rowAt(index)] as number,
      );
      return this.hitsAt(top, rowAt, scores, at);
    });
  }

  /**
   * Contrastive pairs from the auctions most similar to `query`. Only winning/losing entries of
   * kind `kind` (when given) are scored; an auction's score is its best entry's. The top rows are
   * taken in growing windows until `k` pairs are found or every row was seen.
   *
   * Entries of one auction with identical vectors score identically, so only one of them is
   * scored: the one with the smallest id (the one the id tie-break would rank first). Auctions
   * come out in the same order, with the same scores, as when every row is scored.
   */
  contrastivePairs(query: ArrayLike<number>, options: { k: number; agent?: string; kind?: string }): ContrastivePair[] {
    const { k, agent, kind } = options;
    if (this.matrix === undefined || this.size === 0) return [];
    const representatives = kind === undefined ? this.everyKind : this.byKind.get(kind);
    const candidates = representatives?.size ?? 0;
    if (representatives === undefined || candidates === 0) return [];
    // Every row a representative: score the whole matrix, index i being row i (the faster scan).
    const everyRow = candidates === this.size;
    const scores = this.entryScores(query, everyRow ? undefined : representatives.rowList());
    const slotAt = (index: number) => (everyRow ? this.rowSlots[index] : representatives.itemAt(index));
    const tieBreak = (a: number, b: number) => compareIds(slotAt(a)?.entry.id ?? "", slotAt(b)?.entry.id ?? "");
    const idKeys = this.idKeys;
    const rowList = everyRow ? undefined : representatives.rowList();
    const tieKey =
      rowList === undefined
        ? (index: number) => idKeys[index] as number
        : (index: number) => idKeys[rowList[index] ?? 0] as number;
    let window = Math.min(candidates, Math.max(32, k * 4));
    for (;;) {
      const auctions: RankedAuction[] = [];
      const seen = new Set<string>();
      let pairCount = 0;
      for (const index of selectTop(scores, window, tieBreak, undefined, tieKey)) {
        const entry = slotAt(index)?.entry;
        if (entry === undefined || seen.has(entry.auctionId)) continue;
        seen.add(entry.auctionId);
        const members: StrategyEntry[] = [];
        for (const slot of this.auctions.get(entry.auctionId)?.members ?? []) {
          if (pairable(slot.entry, kind)) members.push(slot.entry);
        }
        auctions.push({ auctionId: entry.auctionId, score: scores[index] ?? 0, entries: members });
        pairCount += countPairs(members, agent);
        if (pairCount >= k) break;
      }
      if (pairCount >= k || window >= candidates) return pairsFromAuctions(auctions, { k, agent });
      window = Math.min(candidates, window * 4);
    }
  }

  /**
   * Every row's score for `query` when it is the query of the previous search (no write since)
   * and its searches have asked for at least a quarter of the rows, from one contiguous scan of the
   * whole matrix; `undefined` otherwise (score the rows searched). Measured at 100,000 int8 rows: a scan of one agent's scattered rows costs about
   * twice as much per row as the contiguous scan, so eleven agents' searches take one full scan
   * plus eleven gathers instead of eleven scattered scans. Scores are the same either way (a row's
   * score does not depend on which rows are scored with it).
   */
  private scoresOfRepeatedQuery(query: ArrayLike<number>, rowsSearched: number): Float32Array | undefined {
    const repeated =
      this.lastQueryVersion === this.version && this.lastQuery !== undefined && sameValues(this.lastQuery, query);
    if (!repeated) {
      if (this.lastQuery?.length !== query.length) this.lastQuery = new Float64Array(query.length);
      for (let index = 0; index < query.length; index += 1) this.lastQuery[index] = query[index] as number;
      this.lastQueryVersion = this.version;
      this.sharedScores = undefined;
      this.rowsScoredForLastQuery = rowsSearched;
      return undefined;
    }
    if (this.sharedScores === undefined) {
      // Narrow filters repeated a few times keep scoring their own rows: the full scan pays off
      // once the searches of this query have asked for a quarter of the rows.
      this.rowsScoredForLastQuery += rowsSearched;
      if (this.rowsScoredForLastQuery * 4 < this.size) return undefined;
      if (this.rowScoreBuffer.length < this.size) this.rowScoreBuffer = new Float32Array(Math.max(1024, this.size * 2));
      const rowScores = this.rowScoreBuffer.subarray(0, this.size);
      // A copy: the matrix's own score array is overwritten by its next scan.
      rowScores.set(this.entryScores(query));
      this.sharedScores = rowScores;
    }
    return this.sharedScores;
  }

  /**
   * The scores of the entry rows `rows` (of every entry row when `undefined`), index i scoring
   * `rows[i]` (row i): each entry reads its group's matrix row. A short list scores its matrix rows
   * only; a long one (at least half the matrix) reads them from one contiguous scan of the matrix,
   * which costs less per row than a scattered one. Valid until the next scan.
   */
  private entryScores(query: ArrayLike<number>, rows?: ArrayLike<number>): Float32Array {
    const matrix = this.matrix as VectorMatrix;
    if (rows === undefined || rows.length * 2 >= matrix.rows) return this.readEntryScores(matrix.scores(query), rows);
    if (this.vectorRowList.length < rows.length) this.vectorRowList = new Int32Array(Math.max(1024, rows.length * 2));
    const list = this.vectorRowList.subarray(0, rows.length);
    for (let index = 0; index < rows.length; index += 1)
      list[index] = this.vectorRowOf[rows[index] as number] as number;
    return matrix.scores(query, list);
  }

  /** The scores of the entry rows `rows` (every entry row when `undefined`) read from every matrix row's `vectorScores`. */
  private readEntryScores(vectorScores: Float32Array, rows?: ArrayLike<number>): Float32Array {
    const count = rows === undefined ? this.size : rows.length;
    if (this.entryScoreBuffer.length < count) this.entryScoreBuffer = new Float32Array(Math.max(1024, count * 2));
    const scores = this.entryScoreBuffer.subarray(0, count);
    const vectorRowOf = this.vectorRowOf;
    if (rows === undefined) {
      for (let row = 0; row < count; row += 1) scores[row] = vectorScores[vectorRowOf[row] as number] as number;
    } else {
      for (let index = 0; index < count; index += 1) {
        scores[index] = vectorScores[vectorRowOf[rows[index] as number] as number] as number;
      }
    }
    return scores;
  }

  /** Rows whose entry passes `filter`, or `undefined` when every row does (score them all). */
  private rowsMatchingFilter(filter: StrategyFilter): Int32Array | undefined {
    if (filter.agent === undefined) return this.rowsMatching((entry) => matchesFilter(entry, filter));
    const agentRows = (filter.hasOutcome === true ? this.withOutcomeByAgent : this.byAgent).get(filter.agent);
    if (agentRows === undefined) return new Int32Array(0);
    if (filter.kind === undefined && filter.role === undefined && filter.hasOutcome !== false) {
      return agentRows.size === this.rowSlots.length ? undefined : agentRows.rowList();
    }
    const rows: number[] = [];
    const list = agentRows.rowList();
    for (let index = 0; index < list.length; index += 1) {
      const entry = agentRows.itemAt(index)?.entry;
      if (entry !== undefined && matchesFilter(entry, filter)) rows.push(list[index] as number);
    }
    return rows.length === this.rowSlots.length ? undefined : Int32Array.from(rows);
  }

  /** Puts `slot` in its agent's row list, and in its agent's list of entries with an outcome when it has one. */
  private listAgentRow(slot: Slot): void {
    rowsOf(this.byAgent, slot.entry.agent).add(slot, slot.row);
    if (slot.entry.outcome !== undefined) rowsOf(this.withOutcomeByAgent, slot.entry.agent).add(slot, slot.row);
  }

  /** Takes `slot` out of its (current) agent's row lists, dropping a list when it empties. */
  private dropAgentRow(slot: Slot): void {
    for (const lists of [this.byAgent, this.withOutcomeByAgent]) {
      const rows = lists.get(slot.entry.agent);
      if (rows === undefined) continue;
      rows.delete(slot);
      if (rows.size === 0) lists.delete(slot.entry.agent);
    }
  }

  /** Rows whose entry passes `accept`, or `undefined` when every row does (score them all). */
  private rowsMatching(accept: (entry: StrategyEntry) => boolean): Int32Array | undefined {
    const rows: number[] = [];
    for (let row = 0; row < this.rowSlots.length; row += 1) {
      const slot = this.rowSlots[row];
      if (slot !== undefined && accept(slot.entry)) rows.push(row);
    }
    return rows.length === this.rowSlots.length ? undefined : Int32Array.from(rows);
  }

  private idAt(row: number): string {
    return this.rowSlots[row]?.entry.id ?? "";
  }

  /**
   * Adds `slot` to its entry's auction, in the group of identical vectors it belongs to: `vector`
   * is stored as a new matrix row, compared (as stored) with the auction's groups, and dropped
   * again when one of them holds the same.
   */
  private joinAuction(slot: Slot, vector: ArrayLike<number>): void {
    let auction = this.auctions.get(slot.entry.auctionId);
    if (auction === undefined) {
      auction = { members: [], vectorGroups: [] };
      this.auctions.set(slot.entry.auctionId, auction);
    }
    auction.members.push(slot);
    const matrix = this.matrix as VectorMatrix;
    const stored = matrix.append(vector);
    let group = auction.vectorGroups.find((candidate) => matrix.sameVector(candidate.vectorRow, stored));
    if (group === undefined) {
      group = { slots: [], vectorRow: stored, representative: undefined, kindRepresentatives: new Map() };
      auction.vectorGroups.push(group);
      this.groupAtVectorRow[stored] = group;
    } else {
      matrix.remove(stored); // the last row: no other row moves
    }
    group.slots.push(slot);
    slot.group = group;
    this.vectorRowOf[slot.row] = group.vectorRow;
    this.refreshRepresentatives(group, slot.entry.kind);
  }

  /** Removes an emptied group's matrix row; the last row moves into its place, and its group's entries follow it. */
  private removeVectorRow(vectorRow: number): void {
    const last = (this.matrix as VectorMatrix).remove(vectorRow);
    if (last !== -1) {
      const moved = this.groupAtVectorRow[last] as VectorGroup;
      moved.vectorRow = vectorRow;
      this.groupAtVectorRow[vectorRow] = moved;
      for (const slot of moved.slots) this.vectorRowOf[slot.row] = vectorRow;
    }
    this.groupAtVectorRow.length -= 1;
  }

  /** Takes `slot` out of its auction and its vector group (call it before `slot.entry` changes). */
  private leaveAuction(slot: Slot): void {
    const auction = this.auctions.get(slot.entry.auctionId);
    const group = slot.group;
    slot.group = undefined;
    if (group !== undefined) {
      removeItem(group.slots, slot);
      if (group.slots.length === 0) {
        if (auction !== undefined) removeItem(auction.vectorGroups, group);
        this.removeVectorRow(group.vectorRow);
      }
      this.refreshRepresentatives(group, slot.entry.kind);
    }
    if (auction === undefined) return;
    removeItem(auction.members, slot);
    if (auction.members.length === 0) this.auctions.delete(slot.entry.auctionId);
  }

  /**
   * Recomputes `group`'s representatives after an entry of kind `kind` joined or left it: the one
   * over every kind and the one of `kind` (no other kind's changed), and updates the row lists.
   */
  private refreshRepresentatives(group: VectorGroup, kind: string): void {
    const representative = smallestPairable(group.slots, undefined);
    this.everyKind.replace(group.representative, representative, representative?.row ?? 0);
    group.representative = representative;
    const previous = group.kindRepresentatives.get(kind);
    const next = smallestPairable(group.slots, kind);
    if (previous === next) return;
    let rows = this.byKind.get(kind);
    if (rows === undefined) {
      rows = new RepresentativeRows<Slot>();
      this.byKind.set(kind, rows);
    }
    rows.replace(previous, next, next?.row ?? 0);
    if (rows.size === 0) this.byKind.delete(kind);
    if (next === undefined) group.kindRepresentatives.delete(kind);
    else group.kindRepresentatives.set(kind, next);
  }

  /** Recomputes an auction's place in the eviction order from its current entries. */
  private refreshRecency(auctionId: string): void {
    const members = this.auctions.get(auctionId)?.members;
    if (members === undefined || members.length === 0) {
      this.recency.delete(auctionId);
      return;
    }
    let lastUsedAt = -Infinity;
    let createdAt = -Infinity;
    for (const slot of members) {
      lastUsedAt = Math.max(lastUsedAt, this.rowLastUsedAt[slot.row] as number);
      createdAt = Math.max(createdAt, slot.entry.createdAt);
    }
    this.recency.set({ auctionId, lastUsedAt, createdAt });
  }
}
