/**
 * The PostgreSQL strategy memory's tables, every SQL statement it runs, and the row codec.
 *
 * Tables (in the connection's schema):
 * - `gavel_memory_state`: one row. `version` counts committed changes (the change sequence the
 *   replicas catch up by); `dimensions` is the vector length of the stored rows (set by the first
 *   add); `entry_count` is the number of entries (the bound is checked against it); tombstones up
 *   to `pruned_through` were deleted (a replica behind it reloads everything). Every write locks
 *   this row first (`FOR UPDATE`), so writes are serialised and versions commit in order.
 * - `gavel_memory_entries`: one row per entry, its normalised vector as little-endian float32
 *   `bytea`, its last use, and the version of its last change (add, replace, outcome).
 * - `gavel_memory_auctions`: one row per auction with its eviction key (latest use, latest
 *   creation) and entry count, indexed in eviction order: evicting reads the front of that index.
 * - `gavel_memory_tombstones`: ids evicted, with the version of the eviction; an id is never in
 *   both entries and tombstones (re-adding an id deletes its tombstone).
 */
import type { PoolClient } from "pg";
import { StrategyMemoryError } from "../../src/memory/errors.js";
import type { StoredRecord } from "../../src/memory/matrix-store.js";
import { STRATEGY_ROLES, type StrategyEntry, type StrategyRole } from "../../src/memory/types.js";
import type { PostgresConnection } from "./connection.js";

/**
 * The memory's migrations, oldest first (`{schema}` is the quoted schema). Append-only.
 *
 * @example
 * ```ts
 * await migratePostgres(connection, "memory", MEMORY_MIGRATIONS); // 1
 * ```
 */
export const MEMORY_MIGRATIONS: readonly string[] = [
  `CREATE TABLE {schema}.gavel_memory_state (
     singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
     version bigint NOT NULL DEFAULT 0,
     dimensions integer,
     entry_count bigint NOT NULL DEFAULT 0,
     pruned_through bigint NOT NULL DEFAULT 0
   );
   INSERT INTO {schema}.gavel_memory_state DEFAULT VALUES;
   CREATE TABLE {schema}.gavel_memory_entries (
     id text PRIMARY KEY,
     auction_id text NOT NULL,
     task text NOT NULL,
     kind text NOT NULL,
     agent text NOT NULL,
     plan text NOT NULL,
     role text NOT NULL CHECK (role IN ('winning', 'losing', 'single')),
     outcome double precision,
     cost double precision NOT NULL,
     created_at double precision NOT NULL,
     metadata json,
     vector bytea NOT NULL,
     last_used_at double precision NOT NULL,
     version bigint NOT NULL
   );
   CREATE INDEX gavel_memory_entries_version ON {schema}.gavel_memory_entries (version);
   CREATE INDEX gavel_memory_entries_auction ON {schema}.gavel_memory_entries (auction_id);
   CREATE TABLE {schema}.gavel_memory_auctions (
     auction_id text PRIMARY KEY,
     last_used_at double precision NOT NULL,
     created_at double precision NOT NULL,
     entry_count integer NOT NULL
   );
   CREATE INDEX gavel_memory_auctions_recency
     ON {schema}.gavel_memory_auctions (last_used_at, created_at, auction_id COLLATE "C");
   CREATE TABLE {schema}.gavel_memory_tombstones (
     id text PRIMARY KEY,
     version bigint NOT NULL,
     deleted_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX gavel_memory_tombstones_version ON {schema}.gavel_memory_tombstones (version);`,
];

/** Rows per multi-row INSERT (each row carries a vector: 512-d is 2 KB, 4 KB as hex text). */
const INSERT_BATCH = 1_000;
/** Auctions read per step of an eviction. */
const EVICTION_BATCH = 256;

/** What the state row says. */
export interface MemoryState {
  version: number;
  dimensions: number | undefined;
  entryCount: number;
  prunedThrough: number;
}

/** One entry to write, its vector normalised, with the time it counts as used. */
export interface RowToWrite {
  entry: StrategyEntry;
  vector: Float32Array;
  lastUsedAt: number;
}

/** The statements of one schema (table names resolved once). */
export interface MemoryStatements {
  lockState(client: PoolClient): Promise<MemoryState>;
  readState(client: PoolClient): Promise<MemoryState>;
  /** Sets the state's version, count and (when first known) dimensions, and wakes the other replicas. */
  commitState(client: PoolClient, state: MemoryState, channel: string): Promise<void>;
  /** Last uses, applied to entries and their auctions (never moved back in time). */
  writeUses(client: PoolClient, uses: ReadonlyArray<{ id: string; at: number }>): Promise<void>;
  /** Upserts rows at `version`; returns how many ids were new and the auctions the write changed. */
  writeRows(
    client: PoolClient,
    rows: readonly RowToWrite[],
    version: number,
  ): Promise<{ inserted: number; auctions: Set<string> }>;
  /** Recomputes the eviction keys of `auctions` from their entries. */
  refreshAuctions(client: PoolClient, auctions: Iterable<string>): Promise<void>;
  /** Evicts whole auctions, least recently used first, until at most `maxEntries` remain; returns the ids. */
  evict(client: PoolClient, count: number, maxEntries: number, version: number): Promise<string[]>;
  /** Deletes tombstones older than `retentionMs`; returns the highest version deleted (0 when none). */
  pruneTombstones(client: PoolClient, retentionMs: number): Promise<number>;
  /** Sets an entry's outcome at `version`; false when there is no such entry. */
  writeOutcome(client: PoolClient, id: string, outcome: number, version: number): Promise<boolean>;
  /** Ids evicted after `after`, up to `through`. */
  tombstonesSince(client: PoolClient, after: number, through: number): Promise<string[]>;
  /** Streams the rows changed after `after` (every row when `after` is undefined), up to `through`, in pages. */
  rowsSince(
    client: PoolClient,
    after: number | undefined,
    through: number,
    page: (records: StoredRecord[]) => void,
  ): Promise<void>;
}

interface StateRow {
  version: string;
  dimensions: number | null;
  entry_count: string;
  pruned_through: string;
}

interface EntryRow {
  id: string;
  auction_id: string;
  task: string;
  kind: string;
  agent: string;
  plan: string;
  role: string;
  outcome: number | null;
  cost: number;
  created_at: number;
  metadata: unknown;
  vector: Buffer;
  last_used_at: number;
}

const ENTRY_COLUMNS =
  "id, auction_id, task, kind, agent, plan, role, outcome, cost, created_at, metadata, vector, last_used_at";
const ROWS_PER_FETCH = 2_000;

function toState(row: StateRow | undefined): MemoryState {
  if (row === undefined) {
    throw new StrategyMemoryError({
      operation: "open",
      reason: "corrupt",
      message: "the gavel_memory_state row is missing",
    });
  }
  return {
    version: Number(row.version),
    dimensions: row.dimensions ?? undefined,
    entryCount: Number(row.entry_count),
    prunedThrough: Number(row.pruned_through),
  };
}

/**
 * The SQL of one memory schema.
 *
 * @example
 * ```ts
 * const sql = memoryStatements(connection);
 * await connection.transaction(async (client) => sql.lockState(client));
 * ```
 */
export function memoryStatements(connection: PostgresConnection): MemoryStatements {
  const state = connection.table("gavel_memory_state");
  const entries = connection.table("gavel_memory_entries");
  const auctions = connection.table("gavel_memory_auctions");
  const tombstones = connection.table("gavel_memory_tombstones");
  const stateColumns = "version, dimensions, entry_count, pruned_through";

  return {
    async lockState(client) {
      const { rows } = await client.query<StateRow>(`SELECT ${stateColumns} FROM ${state} FOR UPDATE`);
      return toState(rows[0]);
    },

    async readState(client) {
      const { rows } = await client.query<StateRow>(`SELECT ${stateColumns} FROM ${state}`);
      return toState(rows[0]);
    },

    async commitState(client, next, channel) {
      await client.query(
        `UPDATE ${state} SET version = $1, entry_count = $2, dimensions = coalesce(dimensions, $3),
           pruned_through = greatest(pruned_through, $4)`,
        [next.version, next.entryCount, next.dimensions ?? null, next.prunedThrough],
      );
      await client.query("SELECT pg_notify($1, $2)", [channel, String(next.version)]);
    },

    async writeUses(client, uses) {
      if (uses.length === 0) return;
      await client.query(
        `WITH used AS (
           UPDATE ${entries} AS e SET last_used_at = u.at
           FROM unnest($1::text[], $2::float8[]) AS u(id, at)
           WHERE e.id = u.id AND e.last_used_at < u.at
           RETURNING e.auction_id, u.at
         )
         UPDATE ${auctions} AS a SET last_used_at = greatest(a.last_used_at, x.at)
         FROM (SELECT auction_id, max(at) AS at FROM used GROUP BY auction_id) AS x
         WHERE a.auction_id = x.auction_id`,
        [uses.map((use) => use.id), uses.map((use) => use.at)],
      );
    },

    async writeRows(client, rows, version) {
      const ids = rows.map((row) => row.entry.id);
      const { rows: previous } = await client.query<{ id: string; auction_id: string }>(
        `SELECT id, auction_id FROM ${entries} WHERE id = ANY($1::text[])`,
        [ids],
      );
      const changed = new Set(previous.map((row) => row.auction_id));
      for (const row of rows) changed.add(row.entry.auctionId);
      for (let start = 0; start < rows.length; start += INSERT_BATCH) {
        const batch = rows.slice(start, start + INSERT_BATCH);
        const column = <T>(pick: (row: RowToWrite) => T) => batch.map(pick);
        await client.query(
          `INSERT INTO ${entries} (${ENTRY_COLUMNS}, version)
           SELECT u.*, $14::bigint FROM unnest(
             $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
             $8::float8[], $9::float8[], $10::float8[], $11::json[], $12::bytea[], $13::float8[]
           ) AS u(${ENTRY_COLUMNS})
           ON CONFLICT (id) DO UPDATE SET
             auction_id = EXCLUDED.auction_id, task = EXCLUDED.task, kind = EXCLUDED.kind,
             agent = EXCLUDED.agent, plan = EXCLUDED.plan, role = EXCLUDED.role,
             outcome = EXCLUDED.outcome, cost = EXCLUDED.cost, created_at = EXCLUDED.created_at,
             metadata = EXCLUDED.metadata, vector = EXCLUDED.vector,
             last_used_at = EXCLUDED.last_used_at, version = EXCLUDED.version`,
          [
            column((row) => row.entry.id),
            column((row) => row.entry.auctionId),
            column((row) => row.entry.task),
            column((row) => row.entry.kind),
            column((row) => row.entry.agent),
            column((row) => row.entry.plan),
            column((row) => row.entry.role),
            column((row) => row.entry.outcome ?? null),
            column((row) => row.entry.cost),
            column((row) => row.entry.createdAt),
            column((row) => (row.entry.metadata === undefined ? null : JSON.stringify(row.entry.metadata))),
            column((row) => encodeVector(row.vector)),
            column((row) => row.lastUsedAt),
            version,
          ],
        );
      }
      await client.query(`DELETE FROM ${tombstones} WHERE id = ANY($1::text[])`, [ids]);
      return { inserted: ids.length - previous.length, auctions: changed };
    },

    async refreshAuctions(client, changed) {
      const ids = [...changed];
      if (ids.length === 0) return;
      await client.query(`DELETE FROM ${auctions} WHERE auction_id = ANY($1::text[])`, [ids]);
      await client.query(
        `INSERT INTO ${auctions} (auction_id, last_used_at, created_at, entry_count)
         SELECT auction_id, max(last_used_at), max(created_at), count(*)
         FROM ${entries} WHERE auction_id = ANY($1::text[]) GROUP BY auction_id`,
        [ids],
      );
    },

    async evict(client, count, maxEntries, version) {
      const evicted: string[] = [];
      let remaining = count;
      while (remaining > maxEntries) {
        const { rows: front } = await client.query<{ auction_id: string; entry_count: number }>(
          `SELECT auction_id, entry_count FROM ${auctions}
           ORDER BY last_used_at, created_at, auction_id COLLATE "C" LIMIT ${EVICTION_BATCH}`,
        );
        if (front.length === 0) break;
        const chosen: string[] = [];
        let planned = remaining;
        for (const auction of front) {
          if (planned <= maxEntries) break;
          chosen.push(auction.auction_id);
          planned -= auction.entry_count;
        }
        const { rows: deleted } = await client.query<{ id: string }>(
          `DELETE FROM ${entries} WHERE auction_id = ANY($1::text[]) RETURNING id`,
          [chosen],
        );
        await client.query(`DELETE FROM ${auctions} WHERE auction_id = ANY($1::text[])`, [chosen]);
        const ids = deleted.map((row) => row.id);
        await client.query(
          `INSERT INTO ${tombstones} (id, version) SELECT unnest($1::text[]), $2::bigint
           ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, deleted_at = now()`,
          [ids, version],
        );
        evicted.push(...ids);
        remaining -= ids.length;
      }
      return evicted;
    },

    async pruneTombstones(client, retentionMs) {
      const { rows } = await client.query<{ through: string | null }>(
        `WITH pruned AS (
           DELETE FROM ${tombstones} WHERE deleted_at < now() - $1::float8 * interval '1 millisecond'
           RETURNING version
         ) SELECT max(version) AS through FROM pruned`,
        [retentionMs],
      );
      return Number(rows[0]?.through ?? 0);
    },

    async writeOutcome(client, id, outcome, version) {
      const { rowCount } = await client.query(`UPDATE ${entries} SET outcome = $2, version = $3 WHERE id = $1`, [
        id,
        outcome,
        version,
      ]);
      return (rowCount ?? 0) > 0;
    },

    async tombstonesSince(client, after, through) {
      const { rows } = await client.query<{ id: string }>(
        `SELECT id FROM ${tombstones} WHERE version > $1 AND version <= $2`,
        [after, through],
      );
      return rows.map((row) => row.id);
    },

    async rowsSince(client, after, through, page) {
      // A cursor inside the caller's (repeatable read) transaction: pages of rows, one snapshot.
      const where =
        after === undefined
          ? `version <= ${Math.trunc(through)}`
          : `version > ${Math.trunc(after)} AND version <= ${Math.trunc(through)}`;
      await client.query(
        `DECLARE gavel_memory_rows NO SCROLL CURSOR FOR SELECT ${ENTRY_COLUMNS} FROM ${entries} WHERE ${where}`,
      );
      for (;;) {
        const { rows } = await client.query<EntryRow>(`FETCH ${ROWS_PER_FETCH} FROM gavel_memory_rows`);
        if (rows.length > 0) page(rows.map(toRecord));
        if (rows.length < ROWS_PER_FETCH) break;
      }
      await client.query("CLOSE gavel_memory_rows");
    },
  };
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A vector as little-endian float32 bytes (what the `vector` column holds).
 *
 * @example
 * ```ts
 * encodeVector(new Float32Array([1, 0])).length; // 8
 * ```
 */
export function encodeVector(vector: Float32Array): Buffer {
  if (LITTLE_ENDIAN) return Buffer.from(new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength));
  const bytes = Buffer.allocUnsafe(vector.length * 4);
  for (let index = 0; index < vector.length; index += 1) bytes.writeFloatLE(vector[index] ?? 0, index * 4);
  return bytes;
}

/**
 * Little-endian float32 bytes as a vector.
 *
 * @example
 * ```ts
 * decodeVector(encodeVector(new Float32Array([0.6, 0.8]))); // Float32Array [0.6, 0.8]
 * ```
 */
export function decodeVector(bytes: Uint8Array): Float32Array {
  const vector = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(vector.buffer).set(bytes);
    return vector;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let index = 0; index < vector.length; index += 1) vector[index] = view.getFloat32(index * 4, true);
  return vector;
}

function corrupt(id: string, message: string): StrategyMemoryError {
  return new StrategyMemoryError({ operation: "search", reason: "corrupt", message: `entry ${id}: ${message}` });
}

function isRole(value: string): value is StrategyRole {
  return (STRATEGY_ROLES as readonly string[]).includes(value);
}

/** A row of `gavel_memory_entries` as the record the matrix index holds. */
function toRecord(row: EntryRow): StoredRecord {
  if (!isRole(row.role)) throw corrupt(row.id, `unknown role ${JSON.stringify(row.role)}`);
  if (row.vector.length === 0 || row.vector.length % 4 !== 0) throw corrupt(row.id, "the vector is not float32 bytes");
  const entry: StrategyEntry = {
    id: row.id,
    auctionId: row.auction_id,
    task: row.task,
    kind: row.kind,
    agent: row.agent,
    plan: row.plan,
    role: row.role,
    cost: row.cost,
    createdAt: row.created_at,
  };
  if (row.outcome !== null) entry.outcome = row.outcome;
  if (row.metadata !== null) {
    if (typeof row.metadata !== "object" || Array.isArray(row.metadata))
      throw corrupt(row.id, "metadata is not an object");
    entry.metadata = row.metadata as Record<string, unknown>;
  }
  return { entry, vector: decodeVector(row.vector), lastUsedAt: row.last_used_at };
}
