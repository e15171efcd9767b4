/**
 * A `StrategyMemory` over an in-memory matrix (`MatrixStore`; float32, or int8 with `precision`), with optional persistence
 * hooks. `createInMemoryStrategyMemory` is this with no persistence; the on-disk default
 * (`adapters/vectra/memory.ts`) is this with a journal and a vectra snapshot behind it.
 *
 * Read top to bottom: options → the write path (embed, plan evictions, persist, apply) → the read
 * path (search, contrastive pairs) → close.
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { z } from "zod";
import { parseConfig } from "../errors.js";
import { parseNewEntries, parseOutcome, parsePairCount, parseSearchQuery } from "./entry-schema.js";
import { type MemoryOperation, StrategyMemoryError } from "./errors.js";
import { copyEntry, MatrixStore, type MemoryView, type StoredRecord } from "./matrix-store.js";
import type {
  ContrastivePair,
  ContrastivePairsOptions,
  NewStrategyEntry,
  StrategyMemory,
  StrategySearchHit,
  StrategySearchQuery,
} from "./types.js";
import type { MatrixKernel, MatrixPrecision } from "./vector-matrix.js";
import { checkDimensions, vectorsOfEntries } from "./vectors.js";
import { WriteQueue } from "./write-queue.js";

/**
 * Default bound of every strategy memory: 10,000 entries (~20 MB of 512-d vectors).
 *
 * @example
 * ```ts
 * createInMemoryStrategyMemory({ embeddings }); // keeps at most DEFAULT_MAX_ENTRIES (10,000) entries
 * createInMemoryStrategyMemory({ embeddings, maxEntries: 500 }); // a smaller bound
 * ```
 */
export const DEFAULT_MAX_ENTRIES = 10_000;

/**
 * One search per agent for one query vector, as a batch: `result[i]` holds what
 * `memory.search({ vector, k, filter: { agent: agents[i], hasOutcome: true } })` returns (same
 * entries, scores and order; the hits are marked used the same way), but synchronously, with the query scored once
 * (one contiguous scan of the matrix when the agents hold at least half its rows) and the stored
 * entries themselves instead of copies: read them, never change them. Throws what `search` throws
 * (`StrategyMemoryError`: closed, invalid_query, dimension_mismatch).
 */
export type AgentNeighbourSearch = (
  vector: ArrayLike<number>,
  agents: readonly string[],
  k: number,
) => StrategySearchHit[][];

/** The batch search of each memory built by {@link createMatrixStrategyMemory} (not of wrappers around it). */
const agentSearches = new WeakMap<StrategyMemory, AgentNeighbourSearch>();

/**
 * The batch agent search of `memory` when it is a matrix memory (`createInMemoryStrategyMemory`,
 * the vectra default), else `undefined`: search it once per agent with `memory.search`. Internal to
 * the package (the router's memory bids read their neighbours with it); an object that wraps a
 * matrix memory (even by spreading it) has none, so its own `search` is always the one called.
 *
 * @example
 * ```ts
 * const batch = agentNeighbourSearchOf(memory);
 * const hits = batch
 *   ? batch(vector, ["mini", "large"], 96)
 *   : await Promise.all(
 *       ["mini", "large"].map((agent) => memory.search({ vector, k: 96, filter: { agent, hasOutcome: true } })),
 *     );
 * ```
 */
export function agentNeighbourSearchOf(memory: StrategyMemory): AgentNeighbourSearch | undefined {
  return agentSearches.get(memory);
}

/** One write, handed to persistence before it is applied in memory. */
export interface MemoryChange {
  /** New or replaced entries, with normalised vectors. */
  added: StoredRecord[];
  /** Ids evicted by the bound (may include ids from `added`). */
  evicted: string[];
  outcomes: Array<{ id: string; outcome: number }>;
  /** Retrievals since the previous write (they only affect eviction order). */
  used: Array<{ id: string; at: number }>;
}

/** Where a matrix memory keeps its data beyond the process. */
export interface MemoryPersistence {
  /** Make `change` durable. Called inside the write queue, before the change is applied in memory. */
  write(change: MemoryChange): Promise<void>;
  /** Called after a change was applied (e.g. to compact). An error rejects the write's promise. */
  afterWrite?(view: MemoryView): Promise<void>;
  /** Called once by `close()`, after every write finished. */
  close?(view: MemoryView): Promise<void>;
}

/** Everything `createMatrixStrategyMemory` runs on (already validated by its caller). */
export interface MatrixMemorySettings {
  embeddings: EmbeddingsInterface;
  maxEntries: number;
  now: () => number;
  kernel: MatrixKernel;
  /** How the matrix stores and scores rows (default `"float32"`; see `VectorMatrix`). */
  precision?: MatrixPrecision;
  /** Records to start from (e.g. loaded from disk). */
  initial?: Iterable<StoredRecord>;
  persistence?: MemoryPersistence;
  /** Folder shown in error messages. */
  folder?: string;
}

function isEmbeddings(value: unknown): value is EmbeddingsInterface {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as EmbeddingsInterface).embedQuery === "function" &&
    typeof (value as EmbeddingsInterface).embedDocuments === "function"
  );
}

/** Schema of the embedder option, shared by every backend. */
export const embeddingsOption = z.custom<EmbeddingsInterface>(
  isEmbeddings,
  "expected a LangChain Embeddings (an object with embedQuery and embedDocuments)",
);

/** Schema of the clock option, shared by every backend. */
export const clockOption = z.custom<() => number>(
  (value) => typeof value === "function",
  "expected a function returning epoch milliseconds",
);

const inMemoryStrategyMemoryOptionsSchema = z
  .object({
    /** Embeds task texts (and text queries). Any LangChain `Embeddings`. */
    embeddings: embeddingsOption,
    /** Most entries kept; beyond it whole auctions are evicted, least recently used first. */
    maxEntries: z.number().int().positive().default(DEFAULT_MAX_ENTRIES),
    /** Clock seam, epoch milliseconds (last-use times for eviction). */
    now: clockOption.optional(),
    /** Scoring loop: WebAssembly SIMD when available (`"auto"`), or force `"wasm"` / `"js"`. */
    kernel: z.enum(["auto", "wasm", "js"]).default("auto"),
    /**
     * How vectors are stored and scored: `"float32"` (exact), or `"int8"` (a quarter of the bytes
     * per vector and ~4× faster scans; scores off by ~0.001, see docs/memory.md).
     */
    precision: z.enum(["float32", "int8"]).default("float32"),
  })
  .strict();

/**
 * Options of `createInMemoryStrategyMemory`.
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `embeddings` | — | any LangChain `Embeddings` |
 * | `maxEntries` | `10000` | bound; whole auctions are evicted, least recently used first |
 * | `now` | `Date.now` | clock seam |
 * | `kernel` | `"auto"` | `"wasm"` (SIMD), `"js"`, or `"auto"` |
 * | `precision` | `"float32"` | `"int8"`: a quarter of the bytes, ~4× faster scans, scores off by ~0.001 |
 */
export type InMemoryStrategyMemoryOptions = z.input<typeof inMemoryStrategyMemoryOptionsSchema>;

/**
 * A strategy memory held in process memory only (lost on exit): exact top-k over a float32
 * matrix, or over an int8 one with `precision: "int8"` (approximate scores, a quarter of the
 * bytes, for large memories searched on every request). For tests, short jobs, and as the engine
 * behind the on-disk default.
 *
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * const memory = createInMemoryStrategyMemory({ embeddings: new UniversalSentenceEncoderEmbeddings() });
 * await memory.add(entriesFromAuction({ auctionId: "a1", task, kind: "gsm8k", winner: "small", bids, createdAt: Date.now() }));
 * const pairs = await memory.contrastivePairs("a new task", { k: 8 });
 * // 100,000 outcome entries searched per request: int8 rows
 * const large = createInMemoryStrategyMemory({ embeddings, maxEntries: 100_000, precision: "int8" });
 * ```
 */
export function createInMemoryStrategyMemory(options: InMemoryStrategyMemoryOptions): StrategyMemory {
  const {
    embeddings,
    maxEntries,
    now = Date.now,
    kernel,
    precision,
  } = parseConfig("in-memory strategy memory options", inMemoryStrategyMemoryOptionsSchema, options);
  return createMatrixStrategyMemory({ embeddings, maxEntries, now, kernel, precision });
}

/**
 * The matrix memory behind the in-memory and on-disk backends, for building a backend with its
 * own persistence: `persistence.write(change)` must make a change durable before it is applied.
 * Settings are not validated here (validate them in your own factory).
 *
 * @example
 * ```ts
 * const memory = createMatrixStrategyMemory({
 *   embeddings,
 *   maxEntries: 10_000,
 *   now: Date.now,
 *   kernel: "auto",
 *   initial: await loadMyRecords(),
 *   persistence: { write: (change) => appendToMyLog(change) },
 * });
 * ```
 */
export function createMatrixStrategyMemory(settings: MatrixMemorySettings): StrategyMemory {
  const { embeddings, maxEntries, now, kernel, precision = "float32", initial = [], persistence, folder } = settings;
  const records = [...initial];
  const store = new MatrixStore({ kernel, precision, capacity: Math.max(records.length, 256) });
  for (const record of records) store.upsert(record);
  const queue = new WriteQueue();
  /** Retrievals not yet handed to persistence. */
  const pendingUse = new Map<string, number>();
  let state: "open" | "closing" | "closed" = "open";
  let closing: Promise<void> | undefined;
  /** Writes started before `close()` (some may still be embedding, outside the queue). */
  const inflight = new Set<Promise<unknown>>();

  function track<T>(promise: Promise<T>): Promise<T> {
    inflight.add(promise);
    const forget = () => inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  function fail(operation: MemoryOperation, reason: StrategyMemoryError["reason"], message: string, cause?: unknown) {
    return new StrategyMemoryError(
      { operation, reason, message, ...(folder === undefined ? {} : { folder }) },
      { cause },
    );
  }

  function ensureOpen(operation: MemoryOperation): void {
    if (state !== "open") throw fail(operation, "closed", "the memory is closed");
  }

  // -------------------------------------------------------------------------
  // Writes: embed outside the queue, then plan → persist → apply inside it.
  // -------------------------------------------------------------------------

  function normalised(vector: ArrayLike<number>): Float32Array {
    const copy = new Float32Array(vector.length);
    let squares = 0;
    for (let index = 0; index < copy.length; index += 1) {
      copy[index] = vector[index] as number;
      // The stored (float32) value is squared, as before: the same bits in every result.
      const value = copy[index] as number;
      squares += value * value;
    }
    if (squares > 0) {
      const scale = 1 / Math.sqrt(squares);
      for (let index = 0; index < copy.length; index += 1) copy[index] = (copy[index] as number) * scale;
    }
    return copy;
  }

  function takePendingUse(): Array<{ id: string; at: number }> {
    const used = [...pendingUse].map(([id, at]) => ({ id, at }));
    pendingUse.clear();
    return used;
  }

  function restorePendingUse(used: Array<{ id: string; at: number }>): void {
    for (const { id, at } of used) pendingUse.set(id, Math.max(pendingUse.get(id) ?? 0, at));
  }

  /** Persists then applies one change; on a persistence error nothing is applied. */
  async function commit(operation: MemoryOperation, change: Omit<MemoryChange, "used">): Promise<void> {
    const full: MemoryChange = { ...change, used: persistence === undefined ? [] : takePendingUse() };
    if (persistence !== undefined) {
      try {
        await persistence.write(full);
      } catch (error) {
        restorePendingUse(full.used);
        throw StrategyMemoryError.isInstance(error)
          ? error
          : fail(operation, "io", "could not write the change", error);
      }
    }
    for (const record of full.added) store.upsert(record);
    for (const id of full.evicted) store.remove(id);
    for (const { id, outcome } of full.outcomes) store.setOutcome(id, outcome);
    if (persistence?.afterWrite !== undefined) {
      try {
        await persistence.afterWrite(store);
      } catch (error) {
        throw StrategyMemoryError.isInstance(error)
          ? error
          : fail(operation, "io", "the change is stored but the follow-up write (compaction) failed", error);
      }
    }
  }

  async function add(entries: readonly NewStrategyEntry[]): Promise<void> {
    ensureOpen("add");
    return track(addEntries(entries));
  }

  async function addEntries(entries: readonly NewStrategyEntry[]): Promise<void> {
    const parsed = parseNewEntries(entries);
    // The last entry with a given id wins, as if they had been added one by one.
    const unique = [...new Map(parsed.map((item) => [item.entry.id, item])).values()];
    if (unique.length === 0) return;
    const vectors = await vectorsOfEntries(embeddings, unique, fail);
    checkDimensions("add", vectors, store.dimensions, fail);
    await queue.run(async () => {
      checkDimensions("add", vectors, store.dimensions, fail);
      const at = now();
      const added = unique.map(({ entry }, index) => ({
        entry,
        vector: normalised(vectors[index] ?? []),
        lastUsedAt: at,
      }));
      await commit("add", { added, evicted: store.evictionsFor(added, maxEntries), outcomes: [] });
    });
  }

  async function recordOutcome(id: string, outcome: number): Promise<boolean> {
    ensureOpen("recordOutcome");
    parseOutcome(id, outcome);
    return track(
      queue.run(async () => {
        if (!store.has(id)) return false;
        await commit("recordOutcome", { added: [], evicted: [], outcomes: [{ id, outcome }] });
        return true;
      }),
    );
  }

  // -------------------------------------------------------------------------
  // Reads: embed the query, score synchronously, mark what was returned as used (unless the
  // caller defers that to `markUsed`, as the router does until the pairs are really shown).
  // -------------------------------------------------------------------------

  async function embedQuery(operation: MemoryOperation, text: string): Promise<number[]> {
    try {
      return await embeddings.embedQuery(text);
    } catch (error) {
      throw fail(operation, "embedder", "the embedder failed", error);
    }
  }

  function markUsed(ids: Iterable<string>): void {
    const at = now();
    for (const id of ids) {
      store.touch(id, at);
      // Only persistence reads retrievals back (without it, nothing would ever drain this map).
      if (persistence !== undefined) pendingUse.set(id, at);
    }
  }

  async function search(query: StrategySearchQuery): Promise<StrategySearchHit[]> {
    ensureOpen("search");
    const { text, vector, k, filter } = parseSearchQuery(query);
    const queryVector = vector ?? (await embedQuery("search", text ?? ""));
    if (store.size === 0) return [];
    checkDimensions("search", [queryVector], store.dimensions, fail);
    const at = now();
    const hits = store.search(queryVector, k, filter, at);
    const copies: StrategySearchHit[] = [];
    for (const hit of hits) {
      if (persistence !== undefined) pendingUse.set(hit.entry.id, at);
      copies.push({ entry: copyEntry(hit.entry), score: hit.score });
    }
    return copies;
  }

  function searchByAgent(vector: ArrayLike<number>, agents: readonly string[], k: number): StrategySearchHit[][] {
    ensureOpen("search");
    // The public search's checks, once for the whole batch (the same errors for a bad vector or k).
    const parsed = parseSearchQuery({ vector, k, filter: { agent: agents[0] ?? "", hasOutcome: true } });
    if (store.size === 0) return agents.map(() => []);
    checkDimensions("search", [vector], store.dimensions, fail);
    const times: number[] = [];
    const found = store.searchByAgent(vector, agents, parsed.k, () => {
      const at = now();
      times.push(at);
      return at;
    });
    if (persistence !== undefined) {
      // The same retrievals as one `search` per agent: each agent's hits at that agent's time.
      found.forEach((hits, position) => {
        for (const hit of hits) pendingUse.set(hit.entry.id, times[position] as number);
      });
    }
    return found;
  }

  async function contrastivePairs(task: string, options: ContrastivePairsOptions = {}): Promise<ContrastivePair[]> {
    ensureOpen("contrastivePairs");
    const k = parsePairCount(options.k);
    const queryVector = await embedQuery("contrastivePairs", task);
    if (store.size === 0) return [];
    checkDimensions("contrastivePairs", [queryVector], store.dimensions, fail);
    const pairs = store.contrastivePairs(queryVector, {
      k,
      ...(options.agent === undefined ? {} : { agent: options.agent }),
      ...(options.kind === undefined ? {} : { kind: options.kind }),
    });
    if (options.markUsed !== false) markUsed(pairs.flatMap((pair) => [pair.losing.id, pair.winning.id]));
    return pairs.map((pair) => ({ ...pair, losing: copyEntry(pair.losing), winning: copyEntry(pair.winning) }));
  }

  // -------------------------------------------------------------------------
  // Close: drain the queue, hand over the last retrievals, let persistence finish.
  // -------------------------------------------------------------------------

  async function finish(): Promise<void> {
    try {
      await Promise.allSettled([...inflight]);
      await queue.idle();
      if (persistence !== undefined && pendingUse.size > 0) {
        await commit("close", { added: [], evicted: [], outcomes: [] });
      }
      await persistence?.close?.(store);
    } finally {
      state = "closed";
    }
  }

  const memory: StrategyMemory = {
    add,
    search,
    contrastivePairs,
    recordOutcome,
    async markUsed(ids: readonly string[]) {
      ensureOpen("markUsed");
      markUsed(ids);
    },
    async get(id: string) {
      ensureOpen("get");
      const entry = store.entry(id);
      return entry === undefined ? undefined : copyEntry(entry);
    },
    async size() {
      ensureOpen("size");
      return store.size;
    },
    close() {
      if (closing === undefined) {
        state = "closing";
        closing = finish();
      }
      return closing;
    },
  };
  agentSearches.set(memory, searchByAgent);
  return memory;
}
