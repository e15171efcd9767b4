/**
 * A strategy memory over any LangChain `VectorStore`: how a deployment that outgrows one machine
 * moves its memory to pgvector, Qdrant, Chroma, Pinecone... (or tests with `MemoryVectorStore`).
 *
 * The store holds the vectors and the entries (document text = task, entry fields = document
 * metadata). The `VectorStore` interface can add, search and (in most stores) delete, but cannot
 * list, count or update documents, so this adapter also keeps a small catalog in process memory
 * of the entries it added: their current outcome and last use. That catalog is what `size()`,
 * `get()` and the bound count, and it starts empty in every process — see "Limits" below.
 *
 * Limits (also in docs/memory.md):
 * - `size()`, `get()`, `recordOutcome()` and eviction cover entries added through this instance.
 *   Entries already in a persistent store are still found by `search`/`contrastivePairs` (from
 *   their document metadata) but not counted or evicted: give such a store its own retention
 *   (e.g. a scheduled `DELETE ... WHERE createdAt < ...`).
 * - Stores without `delete` (e.g. `MemoryVectorStore`): evicted documents stay in the store and
 *   are hidden by this instance only; outcome updates live in the catalog only.
 * - Scores are the store's own: set `scoreKind: "distance"` for stores that return a distance
 *   (lower is closer), so that results are ordered right.
 * - Stores that number documents themselves (libSQL's rowid) are deleted from by the ids their
 *   `addVectors` returned.
 */

import type { Document } from "@langchain/core/documents";
import { VectorStore } from "@langchain/core/vectorstores";
import { z } from "zod";
import { functionSchema, parseConfig } from "../../src/errors.js";
import { compareIds } from "../../src/market/bids.js";
import { countPairs, pairsFromAuctions, type RankedAuction } from "../../src/memory/contrastive-pairs.js";
import {
  matchesFilter,
  parseNewEntries,
  parseOutcome,
  parsePairCount,
  parseSearchQuery,
  strategyEntrySchema,
} from "../../src/memory/entry-schema.js";
import { type MemoryOperation, StrategyMemoryError } from "../../src/memory/errors.js";
import { selectEvictions } from "../../src/memory/eviction.js";
import { clockOption, DEFAULT_MAX_ENTRIES, embeddingsOption } from "../../src/memory/matrix-memory.js";
import { copyEntry } from "../../src/memory/matrix-store.js";
import type {
  ContrastivePair,
  ContrastivePairsOptions,
  NewStrategyEntry,
  StrategyEntry,
  StrategyFilter,
  StrategyMemory,
  StrategySearchHit,
  StrategySearchQuery,
} from "../../src/memory/types.js";
import { WriteQueue } from "../../src/memory/write-queue.js";

/** First number of documents asked of the store per query (grown ×4 when filters leave too few). */
export const DEFAULT_SEARCH_WINDOW = 64;
/** Largest number of documents asked of the store per query. */
export const DEFAULT_MAX_SEARCH_WINDOW = 4_096;
/** Metadata key that marks a document as a Gavel strategy entry (value: format version). */
export const ENTRY_MARKER_KEY = "gavelStrategyEntry";

/**
 * Translates Gavel's equality filter into a `MemoryVectorStore` filter (a predicate on documents).
 * `hasOutcome` is left out: the memory checks it after fetching (outcomes live in its catalog).
 *
 * @example
 * ```ts
 * createVectorStoreStrategyMemory({ store: new MemoryVectorStore(embeddings), toStoreFilter: predicateFilter });
 * ```
 */
export function predicateFilter(filter: StrategyFilter): (document: Document) => boolean {
  const { hasOutcome: _notAMetadataKey, ...equalities } = filter;
  return (document) =>
    Object.entries(equalities).every(([key, value]) => value === undefined || document.metadata[key] === value);
}

/**
 * Translates Gavel's equality filter into a plain `{ key: value }` object, the filter shape of
 * most metadata-filtering stores (pgvector, Pinecone, Qdrant's simple form, ...). `hasOutcome` is
 * left out, as in {@link predicateFilter}.
 *
 * @example
 * ```ts
 * equalityFilter({ agent: "small", kind: "gsm8k", role: undefined }); // { agent: "small", kind: "gsm8k" }
 * createVectorStoreStrategyMemory({ store: pgvectorStore, toStoreFilter: equalityFilter });
 * ```
 */
export function equalityFilter(filter: StrategyFilter): Record<string, string> {
  const { hasOutcome: _notAMetadataKey, ...equalities } = filter;
  return Object.fromEntries(Object.entries(equalities).filter(([, value]) => value !== undefined)) as Record<
    string,
    string
  >;
}

function isVectorStore(value: unknown): value is VectorStore {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as VectorStore).addVectors === "function" &&
    typeof (value as VectorStore).similaritySearchVectorWithScore === "function"
  );
}

const vectorStoreStrategyMemoryOptionsSchema = z
  .object({
    /** Any LangChain `VectorStore`. The memory never closes or clears it. */
    store: z.custom<VectorStore>(isVectorStore, "expected a LangChain VectorStore"),
    /** Embedder for tasks and queries. Default: the store's own `embeddings`. */
    embeddings: embeddingsOption.optional(),
    /** Most entries kept (of those this instance added); whole auctions are evicted, least recently used first. */
    maxEntries: z.number().int().positive().default(DEFAULT_MAX_ENTRIES),
    /** Turns `{ agent?, kind?, role? }` into the store's filter. Default: none (filtering happens after fetching). */
    toStoreFilter: functionSchema<(filter: StrategyFilter) => unknown>().optional(),
    /** What the store's scores are: cosine `"similarity"` (higher is closer) or a `"distance"` (lower is closer). */
    scoreKind: z.enum(["similarity", "distance"]).default("similarity"),
    /** Documents asked of the store per query at first. */
    searchWindow: z.number().int().positive().default(DEFAULT_SEARCH_WINDOW),
    /** Most documents asked of the store per query. */
    maxSearchWindow: z.number().int().positive().default(DEFAULT_MAX_SEARCH_WINDOW),
    /** Clock seam, epoch milliseconds. */
    now: clockOption.optional(),
  })
  .strict();

/**
 * Options of `createVectorStoreStrategyMemory`.
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `store` | — | any LangChain `VectorStore` |
 * | `embeddings` | `store.embeddings` | embedder for tasks and queries |
 * | `maxEntries` | `10000` | bound over the entries this instance added |
 * | `toStoreFilter` | none | `predicateFilter` (MemoryVectorStore), `equalityFilter` (most DB stores) or your own |
 * | `scoreKind` | `"similarity"` | `"distance"` for stores whose score is a distance |
 * | `searchWindow` / `maxSearchWindow` | `64` / `4096` | documents fetched per query, first / at most |
 * | `now` | `Date.now` | clock seam |
 */
export type VectorStoreStrategyMemoryOptions = z.input<typeof vectorStoreStrategyMemoryOptionsSchema>;

type DocumentMetadata = Record<string, string | number>;

function toDocument(entry: StrategyEntry): Document {
  const metadata: DocumentMetadata = {
    [ENTRY_MARKER_KEY]: 1,
    entryId: entry.id,
    auctionId: entry.auctionId,
    kind: entry.kind,
    agent: entry.agent,
    plan: entry.plan,
    role: entry.role,
    cost: entry.cost,
    createdAt: entry.createdAt,
  };
  if (entry.outcome !== undefined) metadata.outcome = entry.outcome;
  if (entry.metadata !== undefined) metadata.metadataJson = JSON.stringify(entry.metadata);
  return { pageContent: entry.task, metadata, id: entry.id };
}

/** The entry a document holds, or `undefined` for documents that are not Gavel entries. */
function fromDocument(document: Document): StrategyEntry | undefined {
  const { [ENTRY_MARKER_KEY]: marker, entryId, metadataJson, ...fields } = document.metadata as Record<string, unknown>;
  if (marker === undefined) return undefined;
  let metadata: unknown;
  try {
    metadata = typeof metadataJson === "string" ? JSON.parse(metadataJson) : undefined;
  } catch {
    return undefined;
  }
  const candidate: Record<string, unknown> = { ...fields, id: entryId, task: document.pageContent };
  if (metadata !== undefined) candidate.metadata = metadata;
  // Stores may add keys of their own (e.g. `loc`, `_distance`): keep only the entry's fields.
  const known = new Set(Object.keys(strategyEntrySchema.shape));
  for (const key of Object.keys(candidate)) if (!known.has(key)) delete candidate[key];
  const result = strategyEntrySchema.safeParse(candidate);
  return result.success ? result.data : undefined;
}

interface CatalogItem {
  entry: StrategyEntry;
  lastUsedAt: number;
  /** The id the store gave the document: the entry id, unless the store assigns its own (libSQL's rowid). */
  storeId: string;
}

/** The ids `addVectors` answered, when it answered one per document; otherwise the ids it was given. */
function storeIds(answered: unknown, given: string[]): string[] {
  return Array.isArray(answered) && answered.length === given.length ? answered.map(String) : given;
}

/**
 * A strategy memory over a LangChain `VectorStore`.
 *
 * @throws ConfigError when an option is invalid.
 * @example
 * ```ts
 * import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
 * const store = new MemoryVectorStore(new UniversalSentenceEncoderEmbeddings());
 * const memory = createVectorStoreStrategyMemory({ store, toStoreFilter: predicateFilter });
 * await memory.add(entries);
 * const hits = await memory.search({ text: "sum of two numbers", k: 4, filter: { kind: "gsm8k" } });
 * ```
 */
export function createVectorStoreStrategyMemory(options: VectorStoreStrategyMemoryOptions): StrategyMemory {
  const parsed = parseConfig("vector store strategy memory options", vectorStoreStrategyMemoryOptionsSchema, options);
  const { store, maxEntries, toStoreFilter, scoreKind, searchWindow, maxSearchWindow, now = Date.now } = parsed;
  const embeddings = parsed.embeddings ?? store.embeddings;
  /** Only stores that override `delete` can remove documents (the base class throws "Not implemented"). */
  const canDelete = store.delete !== VectorStore.prototype.delete;
  const catalog = new Map<string, CatalogItem>();
  const auctionMembers = new Map<string, Set<string>>();
  /** Evicted ids still in a store that cannot delete. */
  const hidden = new Set<string>();
  const queue = new WriteQueue();
  const inflight = new Set<Promise<unknown>>();
  let state: "open" | "closing" | "closed" = "open";
  let closing: Promise<void> | undefined;

  function fail(operation: MemoryOperation, reason: StrategyMemoryError["reason"], message: string, cause?: unknown) {
    return new StrategyMemoryError({ operation, reason, message }, { cause });
  }

  function ensureOpen(operation: MemoryOperation): void {
    if (state !== "open") throw fail(operation, "closed", "the memory is closed");
  }

  function track<T>(promise: Promise<T>): Promise<T> {
    inflight.add(promise);
    const forget = () => inflight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  async function call<T>(operation: MemoryOperation, what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw fail(
        operation,
        what === "embed" ? "embedder" : "io",
        `the ${what === "embed" ? "embedder" : "vector store"} failed`,
        error,
      );
    }
  }

  // ---------------------------------------------------------------------------
  // Catalog
  // ---------------------------------------------------------------------------

  function remember(entry: StrategyEntry, lastUsedAt: number, storeId: string): void {
    forget(entry.id);
    catalog.set(entry.id, { entry, lastUsedAt, storeId });
    let members = auctionMembers.get(entry.auctionId);
    if (members === undefined) {
      members = new Set();
      auctionMembers.set(entry.auctionId, members);
    }
    members.add(entry.id);
  }

  function forget(id: string): void {
    const item = catalog.get(id);
    if (item === undefined) return;
    catalog.delete(id);
    const members = auctionMembers.get(item.entry.auctionId);
    members?.delete(id);
    if (members?.size === 0) auctionMembers.delete(item.entry.auctionId);
  }

  /** Deletes (or hides) catalogued entries, by the ids the store gave their documents. */
  async function removeFromStore(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const documentIds = ids.map((id) => catalog.get(id)?.storeId ?? id);
    if (canDelete) await call("add", "delete", () => store.delete({ ids: documentIds }));
    else for (const id of ids) hidden.add(id);
  }

  // ---------------------------------------------------------------------------
  // Writes
  // ---------------------------------------------------------------------------

  async function addEntries(entries: readonly NewStrategyEntry[]): Promise<void> {
    const unique = [...new Map(parseNewEntries(entries).map((item) => [item.entry.id, item])).values()];
    if (unique.length === 0) return;
    const missing = [...new Set(unique.filter((item) => item.vector === undefined).map((item) => item.entry.task))];
    const embedded = missing.length === 0 ? [] : await call("add", "embed", () => embeddings.embedDocuments(missing));
    const byTask = new Map(missing.map((task, index) => [task, embedded[index] ?? []]));
    const vectors = unique.map((item) => Array.from(item.vector ?? byTask.get(item.entry.task) ?? []));
    await queue.run(async () => {
      const at = now();
      const ids = unique.map((item) => item.entry.id);
      const replaced = ids.filter((id) => catalog.has(id));
      const candidates = [...catalog.values()]
        .filter((item) => !ids.includes(item.entry.id))
        .map(({ entry, lastUsedAt }) => ({
          id: entry.id,
          auctionId: entry.auctionId,
          createdAt: entry.createdAt,
          lastUsedAt,
        }));
      for (const { entry } of unique) {
        candidates.push({ id: entry.id, auctionId: entry.auctionId, createdAt: entry.createdAt, lastUsedAt: at });
      }
      const evicted =
        catalog.size + unique.length - replaced.length > maxEntries ? selectEvictions(candidates, maxEntries) : [];
      if (canDelete) await removeFromStore(replaced);
      const answered = await call("add", "addVectors", () =>
        store.addVectors(
          vectors,
          unique.map((item) => toDocument(item.entry)),
          { ids },
        ),
      );
      const documentIds = storeIds(answered, ids);
      unique.forEach(({ entry }, index) => {
        hidden.delete(entry.id);
        remember(entry, at, documentIds[index] ?? entry.id);
      });
      await removeFromStore(evicted);
      for (const id of evicted) forget(id);
    });
  }

  async function rewriteOutcome(id: string, outcome: number): Promise<boolean> {
    const item = catalog.get(id);
    if (item === undefined) return false;
    const entry = { ...item.entry, outcome };
    if (canDelete) {
      const [vector] = await call("recordOutcome", "embed", () => embeddings.embedDocuments([entry.task]));
      await call("recordOutcome", "delete", () => store.delete({ ids: [item.storeId] }));
      const answered = await call("recordOutcome", "addVectors", () =>
        store.addVectors([vector ?? []], [toDocument(entry)], { ids: [id] }),
      );
      catalog.set(id, { ...item, entry, storeId: storeIds(answered, [id])[0] ?? id });
      return true;
    }
    catalog.set(id, { ...item, entry });
    return true;
  }

  // ---------------------------------------------------------------------------
  // Reads
  // ---------------------------------------------------------------------------

  /** Store results for `vector`, as entries (catalog version first), best first, deduplicated. */
  async function fetchRanked(
    operation: MemoryOperation,
    vector: number[],
    window: number,
    filter: StrategyFilter,
  ): Promise<{ hits: StrategySearchHit[]; exhausted: boolean }> {
    // Outcomes live in the catalog (the store keeps the one an entry was added with): `hasOutcome`
    // is checked after fetching, with the rest of the filter; the store's filter never sees it.
    const { hasOutcome: _checkedAfterFetching, ...equalities } = filter;
    const storeFilter =
      toStoreFilter === undefined || Object.values(equalities).every((value) => value === undefined)
        ? undefined
        : toStoreFilter(equalities);
    const results = await call(operation, "search", () =>
      store.similaritySearchVectorWithScore(vector, window, storeFilter as VectorStore["FilterType"] | undefined),
    );
    const seen = new Set<string>();
    const hits: StrategySearchHit[] = [];
    for (const [document, rawScore] of results) {
      const stored = fromDocument(document);
      if (stored === undefined || hidden.has(stored.id) || seen.has(stored.id)) continue;
      seen.add(stored.id);
      const entry = catalog.get(stored.id)?.entry ?? stored;
      if (!matchesFilter(entry, filter)) continue;
      hits.push({ entry, score: scoreKind === "similarity" ? rawScore : 1 - rawScore });
    }
    hits.sort((a, b) => b.score - a.score || compareIds(a.entry.id, b.entry.id));
    return { hits, exhausted: results.length < window };
  }

  function markUsed(ids: Iterable<string>): void {
    const at = now();
    for (const id of ids) {
      const item = catalog.get(id);
      if (item !== undefined) item.lastUsedAt = Math.max(item.lastUsedAt, at);
    }
  }

  async function search(query: StrategySearchQuery): Promise<StrategySearchHit[]> {
    ensureOpen("search");
    const { text, vector, k, filter } = parseSearchQuery(query);
    const queryVector =
      vector === undefined
        ? await call("search", "embed", () => embeddings.embedQuery(text ?? ""))
        : Array.from(vector);
    let window = Math.min(maxSearchWindow, Math.max(searchWindow, k));
    for (;;) {
      const { hits, exhausted } = await fetchRanked("search", queryVector, window, filter);
      if (hits.length >= k || exhausted || window >= maxSearchWindow) {
        const top = hits.slice(0, k);
        markUsed(top.map((hit) => hit.entry.id));
        return top.map((hit) => ({ entry: copyEntry(hit.entry), score: hit.score }));
      }
      window = Math.min(maxSearchWindow, window * 4);
    }
  }

  async function contrastivePairs(task: string, options: ContrastivePairsOptions = {}): Promise<ContrastivePair[]> {
    ensureOpen("contrastivePairs");
    const k = parsePairCount(options.k);
    const { agent, kind } = options;
    const queryVector = await call("contrastivePairs", "embed", () => embeddings.embedQuery(task));
    const filter: StrategyFilter = kind === undefined ? {} : { kind };
    let window = Math.min(maxSearchWindow, Math.max(searchWindow, k * 4));
    for (;;) {
      const { hits, exhausted } = await fetchRanked("contrastivePairs", queryVector, window, filter);
      const auctions = rankAuctions(hits, exhausted, kind);
      const pairCount = auctions.reduce((sum, auction) => sum + countPairs(auction.entries, agent), 0);
      if (pairCount >= k || exhausted || window >= maxSearchWindow) {
        const pairs = pairsFromAuctions(auctions, { k, ...(agent === undefined ? {} : { agent }) });
        if (options.markUsed !== false) markUsed(pairs.flatMap((pair) => [pair.losing.id, pair.winning.id]));
        return pairs.map((pair) => ({ ...pair, losing: copyEntry(pair.losing), winning: copyEntry(pair.winning) }));
      }
      window = Math.min(maxSearchWindow, window * 4);
    }
  }

  /**
   * Groups ranked hits into auctions (first appearance = best score). An auction this instance
   * added is completed from the catalog; another one is used only when the window cannot have cut
   * it (it is not the last group of a full window).
   */
  function rankAuctions(hits: StrategySearchHit[], exhausted: boolean, kind: string | undefined): RankedAuction[] {
    const order: string[] = [];
    const grouped = new Map<string, { score: number; entries: StrategyEntry[] }>();
    for (const { entry, score } of hits) {
      if (entry.role === "single") continue;
      const group = grouped.get(entry.auctionId);
      if (group === undefined) {
        order.push(entry.auctionId);
        grouped.set(entry.auctionId, { score, entries: [entry] });
      } else {
        group.entries.push(entry);
      }
    }
    const last = order.at(-1);
    return order.flatMap((auctionId) => {
      const group = grouped.get(auctionId);
      if (group === undefined) return [];
      const members = auctionMembers.get(auctionId);
      if (members !== undefined) {
        const entries = [...members].flatMap((id) => {
          const entry = catalog.get(id)?.entry;
          return entry !== undefined && entry.role !== "single" && (kind === undefined || entry.kind === kind)
            ? [entry]
            : [];
        });
        return [{ auctionId, score: group.score, entries }];
      }
      if (!exhausted && auctionId === last) return [];
      return [{ auctionId, score: group.score, entries: group.entries }];
    });
  }

  // ---------------------------------------------------------------------------
  // The memory
  // ---------------------------------------------------------------------------

  return {
    async add(entries) {
      ensureOpen("add");
      return track(addEntries(entries));
    },
    search,
    contrastivePairs,
    async markUsed(ids) {
      ensureOpen("markUsed");
      markUsed(ids);
    },
    async recordOutcome(id, outcome) {
      ensureOpen("recordOutcome");
      parseOutcome(id, outcome);
      return track(queue.run(() => rewriteOutcome(id, outcome)));
    },
    async get(id) {
      ensureOpen("get");
      const item = catalog.get(id);
      return item === undefined ? undefined : copyEntry(item.entry);
    },
    async size() {
      ensureOpen("size");
      return catalog.size;
    },
    close() {
      if (closing === undefined) {
        state = "closing";
        closing = (async () => {
          try {
            await Promise.allSettled([...inflight]);
            await queue.idle();
          } finally {
            state = "closed";
          }
        })();
      }
      return closing;
    },
  };
}
