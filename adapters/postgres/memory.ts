/**
 * The strategy memory on PostgreSQL, shared by every replica of an app: entries, outcomes and the
 * eviction order live in tables (`memory-sql.ts`); each replica searches its own in-process copy,
 * the matrix index of `src/memory/` (`MatrixStore`), kept in sync with the database.
 *
 * Sync, in three parts:
 * - every write (add, outcome, eviction) is one transaction that locks the state row, so writes
 *   from all replicas are serialised and each commits one new `version`; changed rows carry it,
 *   evicted ids leave a tombstone with it, and the transaction ends with `NOTIFY` on the memory's
 *   channel;
 * - a replica catches up by version: the rows and tombstones newer than the last version it
 *   applied, read in one repeatable-read snapshot (the first catch-up, or one that fell behind
 *   the tombstones kept, reloads everything);
 * - a kept `LISTEN` connection tells the replica when another one commits and starts a
 *   catch-up at once; a read waits for a pending catch-up. While that connection is down the
 *   replica polls every `pollIntervalMs` and reconnects in the background.
 *
 * The bound holds across replicas: eviction happens in the write's transaction, in the database,
 * whole auctions least recently used first. Retrievals (`search`, `contrastivePairs`, `markUsed`)
 * are counted in process and written with the replica's next write, on the poll tick, and on close.
 *
 * Read top to bottom: options → open → sync → writes → reads → close.
 */
import { createHash } from "node:crypto";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { PoolClient } from "pg";
import { z } from "zod";
import { ConfigError, parseConfig } from "../../src/errors.js";
import { parseNewEntries, parseOutcome, parsePairCount, parseSearchQuery } from "../../src/memory/entry-schema.js";
import { type MemoryFailure, type MemoryOperation, StrategyMemoryError } from "../../src/memory/errors.js";
import { clockOption, DEFAULT_MAX_ENTRIES, embeddingsOption } from "../../src/memory/matrix-memory.js";
import { copyEntry, MatrixStore, type StoredRecord } from "../../src/memory/matrix-store.js";
import type {
  ContrastivePair,
  ContrastivePairsOptions,
  NewStrategyEntry,
  StrategyMemory,
  StrategySearchHit,
  StrategySearchQuery,
} from "../../src/memory/types.js";
import { checkDimensions, vectorsOfEntries } from "../../src/memory/vectors.js";
import { WriteQueue } from "../../src/memory/write-queue.js";
import { connectPostgres, type PostgresConnection, postgresConnectionOptionsSchema } from "./connection.js";
import { PostgresConnectionError, PostgresSchemaVersionError } from "./errors.js";
import { listenForChanges } from "./memory-listener.js";
import { MEMORY_MIGRATIONS, type MemoryState, memoryStatements, type RowToWrite } from "./memory-sql.js";
import { migratePostgres } from "./migrations.js";

/**
 * How often a replica whose LISTEN connection is down polls the database for changes, in ms.
 * Also how often counted retrievals are written when the replica writes nothing else.
 *
 * @example
 * ```ts
 * await createPostgresStrategyMemory({ connectionString, embeddings }); // polls every 1,000 ms only while LISTEN is down
 * await createPostgresStrategyMemory({ connectionString, embeddings, pollIntervalMs: 250 });
 * ```
 */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;

/**
 * How long an eviction's tombstone is kept, in ms (1 hour). A replica that has not caught up for
 * longer reloads the whole memory instead of applying tombstones.
 *
 * @example
 * ```ts
 * await createPostgresStrategyMemory({ connectionString, embeddings, tombstoneRetentionMs: 24 * 3_600_000 });
 * ```
 */
export const DEFAULT_TOMBSTONE_RETENTION_MS = 3_600_000;

/** First wait before reconnecting a dropped LISTEN connection, at most (it doubles up to 30 s). */
const MAX_FIRST_RECONNECT_DELAY_MS = 1_000;

const postgresStrategyMemoryOptionsSchema = postgresConnectionOptionsSchema
  .extend({
    /** Embeds task texts and text queries. Every replica of one schema must use the same embedder. */
    embeddings: embeddingsOption,
    /** Most entries kept, across every replica; beyond it whole auctions are evicted, least recently used first. */
    maxEntries: z.number().int().positive().default(DEFAULT_MAX_ENTRIES),
    /** Clock seam, epoch milliseconds (last-use times for eviction). */
    now: clockOption.optional(),
    /** Scoring loop of the in-process index. */
    kernel: z.enum(["auto", "wasm", "js"]).default("auto"),
    /**
     * How the in-process index holds its rows: `float32`, or `int8` (a quarter of the memory, about
     * twice as fast to scan; scores approximate, see `createInMemoryStrategyMemory`). The database
     * keeps the vectors as given either way.
     */
    precision: z.enum(["float32", "int8"]).default("float32"),
    /** Poll interval while the LISTEN connection is down, and the reconnection delay. */
    pollIntervalMs: z.number().int().positive().max(2_147_483_647).default(DEFAULT_POLL_INTERVAL_MS),
    /** How long eviction tombstones are kept. */
    tombstoneRetentionMs: z.number().int().positive().default(DEFAULT_TOMBSTONE_RETENTION_MS),
  })
  .strict();

/**
 * Options of `createPostgresStrategyMemory`: the connection options of every PostgreSQL store of
 * Gavel (`connectionString` or `pool`, `schema`, `connectTimeoutMs`, `maxConnections`), plus:
 *
 * | field | default | meaning |
 * |---|---|---|
 * | `embeddings` | — | any LangChain `Embeddings`; the same one on every replica of a schema |
 * | `maxEntries` | `10000` | bound over the whole schema; whole auctions are evicted, least recently used first |
 * | `now` | `Date.now` | clock seam |
 * | `kernel` | `"auto"` | in-process scoring loop: `"wasm"` (SIMD), `"js"`, or `"auto"` |
 * | `precision` | `"float32"` | rows of the in-process index: `"float32"` or `"int8"` (approximate scores, a quarter of the memory) |
 * | `pollIntervalMs` | `1000` | polling while the LISTEN connection is down; retrievals written at least this often |
 * | `tombstoneRetentionMs` | `3600000` | eviction tombstones kept; a replica further behind reloads everything |
 *
 * @example
 * ```ts
 * const options: PostgresStrategyMemoryOptions = {
 *   connectionString: "postgres://app@db.internal:5432/gavel",
 *   schema: "gavel",
 *   embeddings,
 *   maxEntries: 50_000,
 * };
 * ```
 */
export type PostgresStrategyMemoryOptions = z.input<typeof postgresStrategyMemoryOptionsSchema>;

/**
 * A strategy memory on PostgreSQL, with a way to catch up on demand.
 *
 * @example
 * ```ts
 * const memory: PostgresStrategyMemory = await createPostgresStrategyMemory({ connectionString, embeddings });
 * await memory.sync(); // every change committed by any replica before this call is now searchable here
 * memory.version; // the change version this replica has applied
 * ```
 */
export interface PostgresStrategyMemory extends StrategyMemory {
  /**
   * Catch up with the database now (reads do so on their own when another replica has written):
   * after it resolves, this replica has applied every change committed before the call.
   */
  sync(): Promise<void>;
  /** The last change version this replica applied (0 before any). */
  readonly version: number;
}

/** Channel names are identifiers of at most 63 bytes. */
function channelFor(schema: string): string {
  const name = `gavel_memory_${schema}`;
  if (Buffer.byteLength(name) <= 63) return name;
  return `gavel_memory_${createHash("sha256").update(schema).digest("hex").slice(0, 32)}`;
}

/**
 * Opens the strategy memory in a PostgreSQL schema (creating its tables when missing) and loads
 * this replica's index from it. Any number of replicas (processes, hosts) may open the same schema:
 * an entry or outcome written by one is used by the others' searches within a second (a `NOTIFY`
 * wakes them; they poll while their `LISTEN` connection is down).
 *
 * Holds one connection of the pool for `LISTEN` while open, and every entry's vector in process
 * memory (about 2 KB per 512-d entry: 20 MB at 10,000 entries).
 *
 * @throws ConfigError when an option is invalid.
 * @throws PostgresConnectionError when the server cannot be reached.
 * @throws PostgresSchemaVersionError when the tables were written by a newer Gavel.
 * @throws StrategyMemoryError (`reason: "io"` or `"corrupt"`) when the tables cannot be read.
 * @example
 * ```ts
 * import { createPostgresStrategyMemory } from "langchain-gavel/postgres";
 * import { entriesFromAuction } from "langchain-gavel";
 *
 * const memory = await createPostgresStrategyMemory({
 *   connectionString: process.env.DATABASE_URL,
 *   schema: "gavel",
 *   embeddings, // the same embedder on every replica
 * });
 * await memory.add(entriesFromAuction({ auctionId: "a1", task, kind: "gsm8k", winner: "small", bids, createdAt: Date.now() }));
 * const pairs = await memory.contrastivePairs("Sum the odd numbers below 50", { k: 8 });
 * await memory.close();
 * ```
 */
export async function createPostgresStrategyMemory(
  options: PostgresStrategyMemoryOptions,
): Promise<PostgresStrategyMemory> {
  const parsed = parseConfig("PostgreSQL strategy memory options", postgresStrategyMemoryOptionsSchema, options);
  const { embeddings, maxEntries, now = Date.now, kernel, precision, pollIntervalMs, tombstoneRetentionMs } = parsed;
  const { connectionString, pool, schema, connectTimeoutMs, maxConnections } = parsed;
  const connection = await connectPostgres("PostgreSQL strategy memory", {
    connectionString,
    pool,
    schema,
    connectTimeoutMs,
    maxConnections,
  });
  try {
    await migratePostgres(connection, "memory", MEMORY_MIGRATIONS);
    return await openReplica({
      connection,
      embeddings,
      maxEntries,
      now,
      kernel,
      precision,
      pollIntervalMs,
      tombstoneRetentionMs,
    });
  } catch (error) {
    await connection.close().catch(() => {});
    if (
      StrategyMemoryError.isInstance(error) ||
      ConfigError.isInstance(error) ||
      PostgresConnectionError.isInstance(error) ||
      PostgresSchemaVersionError.isInstance(error)
    ) {
      throw error;
    }
    throw new StrategyMemoryError(
      {
        operation: "open",
        reason: "io",
        message: "cannot open the memory tables",
        folder: `${connection.describe} (schema ${connection.schema})`,
      },
      { cause: error },
    );
  }
}

interface ReplicaSettings {
  connection: PostgresConnection;
  embeddings: EmbeddingsInterface;
  maxEntries: number;
  now: () => number;
  kernel: "auto" | "wasm" | "js";
  precision: "float32" | "int8";
  pollIntervalMs: number;
  tombstoneRetentionMs: number;
}

async function openReplica(settings: ReplicaSettings): Promise<PostgresStrategyMemory> {
  const { connection, embeddings, maxEntries, now, kernel, precision, pollIntervalMs, tombstoneRetentionMs } = settings;
  const sql = memoryStatements(connection);
  const channel = channelFor(connection.schema);
  const where = `${connection.describe} (schema ${connection.schema})`;
  /** Every change of this replica's index, and every write, in one order. */
  const queue = new WriteQueue();
  let store = new MatrixStore({ kernel, precision });
  /** The last version applied to `store`. */
  let cursor = 0;
  /** Vector length of the stored rows, as the database last said. */
  let knownDimensions: number | undefined;
  /** A version this replica knows was committed (`Infinity`: ask the database); stale while above `cursor`. */
  let wanted = 0;
  /** The catch-up queued and not started yet. */
  let queuedSync: Promise<void> | undefined;
  /** The last catch-up queued, until it settles (started or not). */
  let syncing: Promise<void> | undefined;
  /** Retrievals not yet written to the database. */
  const pendingUse = new Map<string, number>();
  let state: "open" | "closing" | "closed" = "open";
  let closing: Promise<void> | undefined;
  const inflight = new Set<Promise<unknown>>();
  /** The first catch-up is done (a LISTEN reconnection after it triggers another). */
  let loaded = false;

  function fail(operation: MemoryOperation, reason: MemoryFailure, message: string, cause?: unknown) {
    return new StrategyMemoryError({ operation, reason, message, folder: where }, { cause });
  }

  /** A database error as the memory's error (a `StrategyMemoryError` passes as it is). */
  function wrap(operation: MemoryOperation, message: string, error: unknown): StrategyMemoryError {
    return StrategyMemoryError.isInstance(error) ? error : fail(operation, "io", message, error);
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

  // -------------------------------------------------------------------------
  // Sync: catch up by version, in one repeatable-read snapshot.
  // -------------------------------------------------------------------------

  async function catchUp(): Promise<void> {
    const client = await connection.connect();
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const current = await sql.readState(client);
      knownDimensions = current.dimensions ?? knownDimensions;
      if (current.version > cursor) {
        if (cursor === 0 || cursor < current.prunedThrough) {
          // First load, or too far behind for the tombstones kept: rebuild from every row.
          const fresh = new MatrixStore({ kernel, precision, capacity: Math.max(current.entryCount, 256) });
          await sql.rowsSince(client, undefined, current.version, (records) => applyRows(fresh, records));
          store = fresh;
        } else {
          for (const id of await sql.tombstonesSince(client, cursor, current.version)) store.remove(id);
          await sql.rowsSince(client, cursor, current.version, (records) => applyRows(store, records));
        }
        cursor = current.version;
      }
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  function applyRows(target: MatrixStore, records: readonly StoredRecord[]): void {
    for (const record of records) {
      const lastUsedAt = Math.max(record.lastUsedAt, pendingUse.get(record.entry.id) ?? Number.NEGATIVE_INFINITY);
      if (target.dimensions !== undefined && record.vector.length !== target.dimensions) {
        throw fail(
          "search",
          "corrupt",
          `entry ${record.entry.id} has a ${record.vector.length}-d vector in a memory of ${target.dimensions}-d vectors`,
        );
      }
      target.upsert({ ...record, lastUsedAt });
    }
  }

  /**
   * Queues a catch-up to at least version `atLeast` (`Infinity`: whatever the database has now),
   * unless one is queued and not started yet; resolves when it is done.
   */
  function requestSync(atLeast = Number.POSITIVE_INFINITY): Promise<void> {
    wanted = Math.max(wanted, atLeast);
    if (queuedSync === undefined) {
      const run = queue.run(async () => {
        queuedSync = undefined;
        const goal = wanted;
        if (goal <= cursor || state === "closed") return;
        wanted = 0; // a notification arriving from here on queues the next catch-up
        try {
          await catchUp();
        } catch (error) {
          wanted = Math.max(wanted, goal);
          throw error;
        }
      });
      queuedSync = run;
      syncing = run;
      const settle = () => {
        if (syncing === run) syncing = undefined;
      };
      run.then(settle, settle);
    }
    return queuedSync;
  }

  /** Before a read: wait for a catch-up under way, or start one when another replica has written. */
  async function freshen(operation: MemoryOperation): Promise<void> {
    try {
      if (wanted > cursor) await requestSync();
      else if (syncing !== undefined) await syncing;
    } catch (error) {
      throw wrap(operation, "could not catch up with the database", error);
    }
  }

  // -------------------------------------------------------------------------
  // Writes: one transaction each, under the state row's lock; applied to the index after commit.
  // -------------------------------------------------------------------------

  function takePendingUse(): Array<{ id: string; at: number }> {
    const used = [...pendingUse].map(([id, at]) => ({ id, at }));
    pendingUse.clear();
    return used;
  }

  function restorePendingUse(used: ReadonlyArray<{ id: string; at: number }>): void {
    for (const { id, at } of used) pendingUse.set(id, Math.max(pendingUse.get(id) ?? 0, at));
  }

  /**
   * Runs `work` in a transaction holding the state lock, with the counted retrievals written first.
   * `work` returns the next state when it changed something (the version is then committed and the
   * other replicas notified), or `undefined`.
   */
  async function write<T>(
    operation: MemoryOperation,
    work: (client: PoolClient, locked: MemoryState) => Promise<{ next: MemoryState | undefined; result: T }>,
  ): Promise<{ next: MemoryState | undefined; result: T }> {
    const used = takePendingUse();
    try {
      return await connection.transaction(async (client) => {
        const locked = await sql.lockState(client);
        wanted = Math.max(wanted, locked.version); // another replica wrote: the next read catches up
        await sql.writeUses(client, used);
        const outcome = await work(client, locked);
        if (outcome.next !== undefined) await sql.commitState(client, outcome.next, channel);
        return outcome;
      });
    } catch (error) {
      restorePendingUse(used);
      throw wrap(operation, "could not write the change", error);
    }
  }

  /** After a commit at `version`: the cursor moves with it when nothing else came in between. */
  function advance(version: number): void {
    if (version === cursor + 1) cursor = version;
    else wanted = Math.max(wanted, version);
  }

  async function addEntries(entries: readonly NewStrategyEntry[]): Promise<void> {
    const parsed = parseNewEntries(entries);
    // The last entry with a given id wins, as if they had been added one by one.
    const unique = [...new Map(parsed.map((item) => [item.entry.id, item])).values()];
    if (unique.length === 0) return;
    const vectors = await vectorsOfEntries(embeddings, unique, fail);
    checkDimensions("add", vectors, store.dimensions ?? knownDimensions, fail);
    await queue.run(async () => {
      const at = now();
      const rows: RowToWrite[] = unique.map(({ entry }, index) => ({
        entry,
        vector: normalised(vectors[index] ?? []),
        lastUsedAt: at,
      }));
      const dimensions = rows[0]?.vector.length ?? 0;
      const { next, result: evicted } = await write("add", async (client, locked) => {
        checkDimensions("add", vectors, locked.dimensions, fail);
        const version = locked.version + 1;
        const { inserted, auctions } = await sql.writeRows(client, rows, version);
        await sql.refreshAuctions(client, auctions);
        const count = locked.entryCount + inserted;
        const evictedIds = await sql.evict(client, count, maxEntries, version);
        const prunedThrough = evictedIds.length > 0 ? await sql.pruneTombstones(client, tombstoneRetentionMs) : 0;
        return {
          next: { version, dimensions, entryCount: count - evictedIds.length, prunedThrough },
          result: evictedIds,
        };
      });
      knownDimensions ??= dimensions;
      for (const row of rows) store.upsert(row);
      for (const id of evicted) store.remove(id);
      if (next !== undefined) advance(next.version);
    });
  }

  async function writeOutcome(id: string, outcome: number): Promise<boolean> {
    return queue.run(async () => {
      const { next, result: found } = await write("recordOutcome", async (client, locked) => {
        const version = locked.version + 1;
        const changed = await sql.writeOutcome(client, id, outcome, version);
        return { next: changed ? { ...locked, version } : undefined, result: changed };
      });
      if (found) store.setOutcome(id, outcome);
      if (next !== undefined) advance(next.version);
      return found;
    });
  }

  /** Writes the counted retrievals (no new version: other replicas' indexes do not hold last uses). */
  async function flushUses(operation: MemoryOperation): Promise<void> {
    if (pendingUse.size === 0) return;
    await queue.run(async () => {
      if (pendingUse.size === 0) return;
      await write(operation, async () => ({ next: undefined, result: undefined }));
    });
  }

  // -------------------------------------------------------------------------
  // Reads: catch up when stale, score in process, count what was returned as used.
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
      pendingUse.set(id, Math.max(pendingUse.get(id) ?? 0, at));
    }
  }

  async function search(query: StrategySearchQuery): Promise<StrategySearchHit[]> {
    ensureOpen("search");
    const { text, vector, k, filter } = parseSearchQuery(query);
    const queryVector = vector ?? (await embedQuery("search", text ?? ""));
    await freshen("search");
    if (store.size === 0) return [];
    checkDimensions("search", [queryVector], store.dimensions, fail);
    const hits = store.search(queryVector, k, filter);
    markUsed(hits.map((hit) => hit.entry.id));
    return hits.map((hit) => ({ entry: copyEntry(hit.entry), score: hit.score }));
  }

  async function contrastivePairs(task: string, options: ContrastivePairsOptions = {}): Promise<ContrastivePair[]> {
    ensureOpen("contrastivePairs");
    const k = parsePairCount(options.k);
    const queryVector = await embedQuery("contrastivePairs", task);
    await freshen("contrastivePairs");
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
  // Open: LISTEN first (nothing committed after the first catch-up is missed), then load.
  // -------------------------------------------------------------------------

  const listener = await listenForChanges({
    connection,
    channel,
    onNotify(payload) {
      if (state !== "open") return;
      const version = Number(payload);
      if (Number.isFinite(version) && version <= cursor) return; // already applied (e.g. our own write)
      // A failed catch-up leaves the replica stale: the next read retries.
      requestSync(Number.isFinite(version) ? version : Number.POSITIVE_INFINITY).catch(() => {});
    },
    onListening() {
      // Back after a drop: what was committed meanwhile was not announced to this replica.
      if (loaded && state === "open") requestSync().catch(() => {});
    },
    reconnectDelayMs: Math.min(pollIntervalMs, MAX_FIRST_RECONNECT_DELAY_MS),
  });
  try {
    await queue.run(catchUp);
  } catch (error) {
    await listener.close();
    throw wrap("open", "could not load the memory", error);
  }
  loaded = true;

  const ticker = setInterval(() => {
    if (state !== "open") return;
    if (!listener.listening) requestSync().catch(() => {});
    flushUses("markUsed").catch(() => {}); // kept in pendingUse on failure: written with the next write
  }, pollIntervalMs);
  ticker.unref();

  // -------------------------------------------------------------------------
  // Close: finish writes, write the last retrievals, release the connections.
  // -------------------------------------------------------------------------

  async function finish(): Promise<void> {
    clearInterval(ticker);
    try {
      await Promise.allSettled([...inflight]);
      await queue.idle();
      await flushUses("close");
    } finally {
      state = "closed";
      await listener.close();
      await connection.close();
    }
  }

  return {
    async add(entries) {
      ensureOpen("add");
      return track(addEntries(entries));
    },
    search,
    contrastivePairs,
    async recordOutcome(id, outcome) {
      ensureOpen("recordOutcome");
      parseOutcome(id, outcome);
      return track(writeOutcome(id, outcome));
    },
    async markUsed(ids) {
      ensureOpen("markUsed");
      markUsed(ids);
    },
    async get(id) {
      ensureOpen("get");
      await freshen("get");
      const entry = store.entry(id);
      return entry === undefined ? undefined : copyEntry(entry);
    },
    async size() {
      ensureOpen("size");
      await freshen("size");
      return store.size;
    },
    async sync() {
      ensureOpen("search");
      try {
        await requestSync();
      } catch (error) {
        throw wrap("search", "could not catch up with the database", error);
      }
    },
    get version() {
      return cursor;
    },
    close() {
      if (closing === undefined) {
        state = "closing";
        closing = finish();
      }
      return closing;
    },
  };
}

function normalised(vector: ArrayLike<number>): Float32Array {
  const copy = Float32Array.from(vector);
  let squares = 0;
  for (const value of copy) squares += value * value;
  if (squares > 0) {
    const scale = 1 / Math.sqrt(squares);
    for (let index = 0; index < copy.length; index += 1) copy[index] = (copy[index] ?? 0) * scale;
  }
  return copy;
}
