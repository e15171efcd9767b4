/**
 * The strategy memory: where every auction's plans are kept so that later auctions can learn
 * from them (SALE's memory bank M). Pure types: no I/O, no LangChain.
 *
 * Backends: `createInMemoryStrategyMemory` (`src/memory/`), `createVectraStrategyMemory`
 * (`adapters/vectra/memory.ts`, the on-disk default) and `createVectorStoreStrategyMemory`
 * (`adapters/vectorstore/memory.ts`, any LangChain `VectorStore`). All of them pass the same
 * conformance suite (`describeStrategyMemoryConformance` in `langchain-gavel/testing`).
 */

/** What part a plan played in its auction. */
export type StrategyRole = "winning" | "losing" | "single";

/**
 * Every role, in a fixed order.
 *
 * @example
 * ```ts
 * STRATEGY_ROLES; // ["winning", "losing", "single"]
 * STRATEGY_ROLES.includes(entry.role); // true for every stored entry
 * ```
 */
export const STRATEGY_ROLES = ["winning", "losing", "single"] as const satisfies readonly StrategyRole[];

/** One stored plan (or, for recorded pools, one stored answer with an empty plan). */
export interface StrategyEntry {
  /** Unique id of the entry. Adding an entry whose id is already stored replaces it. */
  id: string;
  /** The auction it took part in. Entries of one auction form contrastive pairs and are evicted together. */
  auctionId: string;
  /** The task text. Its embedding is the entry's vector: retrieval is by task similarity. */
  task: string;
  /** Task kind or eval name, e.g. `"gsm8k"` or `"coding"`. */
  kind: string;
  /** Agent or model that wrote the plan. */
  agent: string;
  /** The plan (the bid). May be empty, e.g. for recorded pools that have answers but no plans. */
  plan: string;
  /** `"winning"` / `"losing"` in an auction; `"single"` when there was no competition. */
  role: StrategyRole;
  /** Outcome when known: 1 correct / 0 wrong, or any score. Set later with `recordOutcome`. */
  outcome?: number;
  /** What the plan (or answer) cost, in the caller's unit (USD or tokens). */
  cost: number;
  /** When the entry was made, epoch milliseconds. */
  createdAt: number;
  /** Extra JSON-serialisable data, stored as it is. */
  metadata?: Record<string, unknown>;
}

/** An entry to add: optionally with its vector, which skips the embedder. */
export type NewStrategyEntry = StrategyEntry & {
  /** The task's embedding, when the caller already has it. Its length must match the memory's dimension. */
  vector?: ArrayLike<number>;
};

/** Filters applied before similarity scoring. Every given field must match. */
export interface StrategyFilter {
  agent?: string;
  kind?: string;
  role?: StrategyRole;
  /**
   * `true`: only entries whose outcome is set; `false`: only entries without one. Memory bids read
   * only entries with an outcome, so answers still waiting for feedback never take a neighbour's place.
   */
  hasOutcome?: boolean;
}

/** A similarity search: by `text` (embedded with the memory's embedder) or by `vector`. */
export interface StrategySearchQuery {
  /** Text to embed and compare with stored task embeddings. Give `text` or `vector`, not both. */
  text?: string;
  /** A ready query vector. */
  vector?: ArrayLike<number>;
  /** Most results to return. Default 8. */
  k?: number;
  filter?: StrategyFilter;
}

/** One search result. */
export interface StrategySearchHit {
  entry: StrategyEntry;
  /** Cosine similarity of the query and the entry's task, higher is closer. */
  score: number;
}

/** Options of `contrastivePairs`. */
export interface ContrastivePairsOptions {
  /** Most pairs to return. Default 8 (SALE's k). */
  k?: number;
  /** Only pairs whose losing plan was written by this agent (what it lost, against what won). */
  agent?: string;
  /** Only auctions of this task kind. */
  kind?: string;
  /**
   * Count the returned entries as used (eviction order). Default true. Pass false to look pairs up
   * without touching the eviction order, and call {@link StrategyMemory.markUsed} once the pairs
   * were really used (the router shows them to a re-bidding member only after its first round).
   * A backend without `markUsed` may ignore this option.
   */
  markUsed?: boolean;
}

/** A losing plan and the plan that beat it, from one past auction. */
export interface ContrastivePair {
  auctionId: string;
  /** Similarity of the new task to this auction's task. */
  score: number;
  losing: StrategyEntry;
  winning: StrategyEntry;
}

/**
 * A bounded store of past auction plans, searchable by task similarity.
 *
 * Every implementation: serialises its writes (many concurrent `add` calls in one process are
 * safe), bounds itself to `maxEntries` by evicting whole auctions, least recently used first
 * (adding, being returned by `search`/`contrastivePairs`, or `markUsed` counts as use), and throws
 * `StrategyMemoryError` after `close()`.
 */
export interface StrategyMemory {
  /** Store entries (embedding their task texts unless a `vector` is given), then evict down to the bound. */
  add(entries: readonly NewStrategyEntry[]): Promise<void>;
  /** Top-k entries by similarity to the query, best first; ties broken by id. Filters apply before scoring. */
  search(query: StrategySearchQuery): Promise<StrategySearchHit[]>;
  /**
   * Up to `k` (losing, winning) pairs from the past auctions most similar to `task`, most similar
   * auction first. Both plans of a pair share an auction id; pairs with an empty plan are skipped.
   */
  contrastivePairs(task: string, options?: ContrastivePairsOptions): Promise<ContrastivePair[]>;
  /**
   * Count these entries as used now (they move to the back of the eviction order); unknown ids
   * are ignored. Optional: a backend that has it honours `contrastivePairs(…, { markUsed: false })`.
   */
  markUsed?(ids: readonly string[]): Promise<void>;
  /** Set the outcome of a stored entry. Resolves `false` when no entry has this id (e.g. it was evicted). */
  recordOutcome(id: string, outcome: number): Promise<boolean>;
  /** The stored entry with this id, if any. */
  get(id: string): Promise<StrategyEntry | undefined>;
  /** How many entries are stored. */
  size(): Promise<number>;
  /** Finish pending writes and release resources. Further calls throw; a second `close` is a no-op. */
  close(): Promise<void>;
}
