/**
 * The PostgreSQL auction ledger, on the `pg` client: the same two halves as the SQLite ledger
 * (`adapters/sqlite/ledger.ts`), for apps that run as several processes or hosts writing into one
 * ledger.
 *
 * Read top to bottom: options → opening (connect, migrate or check) → the write methods → the
 * queries → row mapping. The SQL is in `ledger-sql.ts`, the tables in `ledger-migrations.ts`.
 *
 * - Every `record*` call is one SQL statement, so one round trip and one transaction: committed when
 *   its promise resolves, nothing of it stored when it rejects. An auction goes in with its bids, a
 *   batch with all its auctions and bids, a snapshot with its accounts.
 * - Ids are primary keys: an id recorded twice is refused, by whichever replica comes second.
 * - Reads that take several statements (an auction with its bids, charges and outcome; a snapshot
 *   with its accounts; the overhead's two sums) run in one read-only REPEATABLE READ transaction,
 *   so they see one moment of the ledger while replicas write.
 * - Numbers come back as JavaScript numbers: `numeric` amounts as the same double that was written
 *   (sums exact, rounded once), `bigint` times and token counts as integers.
 */

import type { Pool, PoolClient } from "pg";
import { z } from "zod";
import { functionSchema, GavelError, parseConfig } from "../../src/errors.js";
import { LedgerError, type LedgerOperation } from "../../src/ledger/errors.js";
import { timeOrderedId } from "../../src/ledger/ids.js";
import { foldOverhead } from "../../src/ledger/overhead.js";
import { GLOBAL_SCOPE, type LedgerRows, ledgerRowMapper, recentLimit, toJson } from "../../src/ledger/rows.js";
import { hashTask } from "../../src/ledger/task-hash.js";
import type {
  AuctionInput,
  AuctionLedger,
  BudgetSnapshotInput,
  ChargeInput,
  JsonObject,
} from "../../src/ledger/types.js";
import { connectPostgres, type PostgresConnection, postgresConnectionOptionsSchema } from "./connection.js";
import { PostgresSchemaVersionError } from "./errors.js";
import { POSTGRES_LEDGER_MIGRATIONS, POSTGRES_LEDGER_SCHEMA_VERSION } from "./ledger-migrations.js";
import { type LedgerStatements, ledgerStatements } from "./ledger-sql.js";
import { migratePostgres } from "./migrations.js";

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/** What connects, in messages. */
const WHAT = "PostgreSQL ledger";

const postgresLedgerOptionsSchema = postgresConnectionOptionsSchema
  .extend({
    /** Read only: no migration; the ledger's tables must exist at the current version; writes reject. */
    readonly: z.boolean().default(false),
    /** Store the task text of auctions; when false only its SHA-256 is stored. */
    storeTaskText: z.boolean().default(true),
    /** Clock seam: epoch milliseconds for records given no time. */
    now: functionSchema<() => number>().default(() => Date.now),
    /** Id seam: ids of auctions and charges given none. Default: time-ordered UUIDv7 from `now`. */
    generateId: functionSchema<() => string>().optional(),
  })
  .strict();

/**
 * Options of {@link createPostgresLedger}: where to connect (`connectionString` or `pool`, `schema`,
 * `connectTimeoutMs`, `maxConnections`, as every PostgreSQL store of Gavel takes them), plus
 * `readonly`, `storeTaskText` and the `now` / `generateId` seams.
 *
 * @example
 * ```ts
 * const options: PostgresLedgerOptions = {
 *   connectionString: "postgres://gavel@db.internal:5432/gavel",
 *   schema: "gavel",
 *   storeTaskText: false, // keep only the SHA-256 of prompts
 * };
 * const ledger = await createPostgresLedger(options);
 * ```
 */
export type PostgresLedgerOptions = z.input<typeof postgresLedgerOptionsSchema>;

/**
 * A ledger on PostgreSQL: both halves, `LedgerWriter` and `LedgerReader` (an {@link AuctionLedger}),
 * plus the pool and schema it uses (for ad-hoc SQL on the `ledger_*` tables) and the schema version.
 * Opened with `readonly: true` it is used as a `LedgerReader`: its writes reject.
 *
 * @example
 * ```ts
 * const ledger: PostgresLedger = await createPostgresLedger({ connectionString, schema: "gavel" });
 * const { rows } = await ledger.pool.query(`SELECT count(*) FROM "gavel".ledger_auctions`);
 * ledger.schemaVersion; // 1
 * ```
 */
export interface PostgresLedger extends AuctionLedger {
  /** The pool the ledger queries through: its own, or the one given as `pool`. */
  readonly pool: Pool;
  /** The schema of the ledger's tables, unquoted. */
  readonly schema: string;
  /** The version of the ledger's tables (the number of migration steps applied). */
  readonly schemaVersion: number;
}

// ---------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------

/**
 * Connect to PostgreSQL and open an auction ledger in `schema`, creating and migrating its tables
 * when needed (many replicas may open the same schema at once: one migrates, the others wait).
 *
 * @param options - `connectionString` or `pool`, `schema` (default `"public"`), `readonly`, and seams.
 * @returns An {@link AuctionLedger} on the server; call `close()` when done (it ends the pool it
 *   opened, never a `pool` it was given).
 * @throws ConfigError when an option is invalid, or neither `connectionString` nor `pool` is given.
 * @throws PostgresConnectionError naming host, port and database (never the password) when no
 *   connection can be made within `connectTimeoutMs`.
 * @throws PostgresSchemaVersionError when the tables were written by a newer Gavel.
 * @throws LedgerError (`operation: "open"` / `"migrate"`) when the tables cannot be created, or
 *   (read-only) the schema holds no ledger or an older one.
 * @throws MissingPeerDependencyError when `pg` is not installed.
 *
 * @example
 * ```ts
 * import { createPostgresLedger } from "langchain-gavel/postgres";
 *
 * const ledger = await createPostgresLedger({ connectionString: process.env.DATABASE_URL, schema: "gavel" });
 * const id = await ledger.recordAuction({ kind: "route", outcome, task: "What is 2 + 2?" });
 * await ledger.recordCharge({ kind: "settle", model: "gpt-4o-mini", inputTokens: 120, outputTokens: 40, usd: 0.00004, auctionId: id });
 * console.log(await ledger.spend({ by: "model" }));
 * await ledger.close();
 * ```
 *
 * @example
 * ```ts
 * // The app's pool (shared with its own tables); the ledger leaves it open on close().
 * import pg from "pg";
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL });
 * const ledger = await createPostgresLedger({ pool, schema: "gavel" });
 * ```
 *
 * @example
 * ```ts
 * // A reader for dashboards and `gavel ledger`: nothing is created or migrated, writes reject.
 * const reader = await createPostgresLedger({ connectionString, schema: "gavel", readonly: true });
 * console.log(await reader.recentAuctions({ limit: 10 }));
 * ```
 */
export async function createPostgresLedger(options: PostgresLedgerOptions): Promise<PostgresLedger> {
  const {
    readonly,
    storeTaskText,
    now,
    generateId = () => timeOrderedId(now()),
    ...target
  } = parseConfig("createPostgresLedger options", postgresLedgerOptionsSchema, options);
  const connection = await connectPostgres(WHAT, target);
  try {
    const schemaVersion = readonly ? await checkLedgerTables(connection) : await migrateLedger(connection);
    return buildLedger({ connection, readonly, schemaVersion, storeTaskText, now, generateId });
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
}

/** Where the ledger is, for messages: `schema "gavel" at host:5432/database`. */
function placeOf(connection: PostgresConnection): string {
  return `schema "${connection.schema}" at ${connection.describe}`;
}

async function migrateLedger(connection: PostgresConnection): Promise<number> {
  try {
    return await migratePostgres(connection, "ledger", POSTGRES_LEDGER_MIGRATIONS);
  } catch (error) {
    if (GavelError.isInstance(error)) throw error;
    throw new LedgerError(
      "migrate",
      `could not bring the ledger tables in ${placeOf(connection)} to version ${POSTGRES_LEDGER_SCHEMA_VERSION}`,
      { cause: error },
    );
  }
}

/** Read-only: the schema must hold the ledger's tables at this Gavel's version. Returns the version. */
async function checkLedgerTables(connection: PostgresConnection): Promise<number> {
  const migrations = connection.table("gavel_migrations");
  let version: number | undefined;
  try {
    const present = await connection.pool.query<{ found: string | null }>("SELECT to_regclass($1)::text AS found", [
      migrations,
    ]);
    if (present.rows[0]?.found) {
      const { rows } = await connection.pool.query<{ version: number }>(
        `SELECT version FROM ${migrations} WHERE component = 'ledger'`,
      );
      version = rows[0]?.version;
    }
  } catch (error) {
    throw new LedgerError("open", `could not read the ledger's version in ${placeOf(connection)}`, { cause: error });
  }
  if (version === undefined || version === 0) {
    throw new LedgerError(
      "open",
      `${placeOf(connection)} holds no Gavel ledger (no ledger tables). Open it writable once (which creates the tables), or check the connection string and the schema.`,
    );
  }
  if (version > POSTGRES_LEDGER_SCHEMA_VERSION) {
    throw new PostgresSchemaVersionError("ledger", connection.schema, version, POSTGRES_LEDGER_SCHEMA_VERSION);
  }
  if (version < POSTGRES_LEDGER_SCHEMA_VERSION) {
    throw new LedgerError(
      "open",
      `the ledger in ${placeOf(connection)} is at version ${version}, older than ${POSTGRES_LEDGER_SCHEMA_VERSION}; open it writable once to migrate it.`,
    );
  }
  return version;
}

// ---------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------

interface LedgerParts {
  connection: PostgresConnection;
  readonly: boolean;
  schemaVersion: number;
  storeTaskText: boolean;
  now: () => number;
  generateId: () => string;
}

function buildLedger(parts: LedgerParts): PostgresLedger {
  const { connection, readonly, schemaVersion, storeTaskText, now, generateId } = parts;
  const sql: LedgerStatements = ledgerStatements(connection.table);
  const { pool } = connection;
  /** Set by `close()`: from then on every call rejects, also on a pool the app keeps open. */
  let closed = false;

  /** Run `work`, turning any failure into a `LedgerError` for `operation`; refuse once the ledger is closed. */
  async function guard<T>(operation: LedgerOperation, what: string, work: () => Promise<T>): Promise<T> {
    if (closed) throw new LedgerError(operation, `${what}: the ledger is closed`);
    try {
      return await work();
    } catch (error) {
      if (LedgerError.isInstance(error)) throw error;
      throw new LedgerError(operation, what, { cause: error });
    }
  }

  /** {@link guard} for a write, refused up front when the ledger is read-only. */
  function write<T>(operation: LedgerOperation, what: string, work: () => Promise<T>): Promise<T> {
    if (readonly && !closed) {
      return Promise.reject(new LedgerError(operation, `${what}: the ledger is open read-only`));
    }
    return guard(operation, what, work);
  }

  /** Run `work` in one read-only transaction that sees one moment of the ledger. */
  async function snapshot<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await connection.connect();
    let broken: Error | undefined;
    try {
      await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch((rollbackError: Error) => {
        broken = rollbackError; // the connection is unusable: the pool drops it
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async function insertAuctions(inputs: readonly AuctionInput[]): Promise<string[]> {
    const ids = inputs.map((input) => input.id ?? generateId());
    const auctions = columns(14);
    const bids = columns(11);
    inputs.forEach((input, index) => {
      const { outcome } = input;
      const id = ids[index] as string;
      const taskHash = input.taskHash ?? (input.task === undefined ? undefined : hashTask(input.task));
      push(auctions, [
        id,
        orNull(input.createdAt ?? now()),
        input.kind,
        outcome.mechanism,
        input.scope?.kind ?? null,
        input.scope?.id ?? null,
        storeTaskText ? (input.task ?? null) : null,
        taskHash ?? null,
        orNull(outcome.clearingPrice),
        orNull(outcome.seed),
        orNull(outcome.reservePrice),
        JSON.stringify(outcome.winners),
        outcome.results.length,
        toJson(input.metadata),
      ]);
      for (const result of outcome.results) {
        push(bids, [
          id,
          result.bidder,
          result.rank,
          orNull(result.amount),
          orNull(input.values?.[result.bidder] ?? null),
          orNull(result.tokens ?? null),
          result.won,
          orNull(result.price),
          result.reason,
          result.detail,
          toJson(result.meta),
        ]);
      }
    });
    if (ids.length === 0) return ids;
    await pool.query(sql.insertAuctions, [...auctions, ...bids]);
    return ids;
  }

  async function insertCharges(inputs: readonly ChargeInput[]): Promise<string[]> {
    const ids = inputs.map((input) => input.id ?? generateId());
    const charges = columns(15);
    inputs.forEach((input, index) => {
      const scope = input.scope ?? GLOBAL_SCOPE;
      push(charges, [
        ids[index] as string,
        orNull(input.at ?? now()),
        input.kind,
        input.model,
        input.agent ?? null,
        scope.kind,
        scope.id,
        orNull(input.inputTokens),
        orNull(input.outputTokens),
        orNull(input.usd),
        input.estimated === true,
        input.auctionId ?? null,
        input.reservationId ?? null,
        input.label ?? null,
        toJson(input.metadata),
      ]);
    });
    if (ids.length > 0) await pool.query(sql.insertCharges, charges);
    return ids;
  }

  async function insertSnapshot(input: BudgetSnapshotInput): Promise<void> {
    const accounts = columns(8);
    for (const account of input.accounts) {
      push(accounts, [
        account.scope,
        account.scopeId,
        orNull(account.limits.maxTokens ?? null),
        orNull(account.limits.maxUsd ?? null),
        orNull(account.spentTokens),
        orNull(account.spentUsd),
        orNull(account.reservedTokens),
        orNull(account.reservedUsd),
      ]);
    }
    await pool.query(sql.insertSnapshot, [orNull(input.takenAt ?? now()), input.label ?? null, ...accounts]);
  }

  return {
    pool,
    schema: connection.schema,
    schemaVersion,

    async recordAuction(input) {
      return write("recordAuction", `could not record auction ${input.id ?? "(new)"}`, async () => {
        const [id] = await insertAuctions([input]);
        return id as string;
      });
    },

    async recordAuctions(inputs) {
      return write("recordAuctions", `could not record ${inputs.length} auctions; none was written`, () =>
        insertAuctions(inputs),
      );
    },

    async recordCharge(input) {
      return write("recordCharge", `could not record a ${input.kind} charge for ${input.model}`, async () => {
        const [id] = await insertCharges([input]);
        return id as string;
      });
    },

    async recordCharges(inputs) {
      return write("recordCharges", `could not record ${inputs.length} charges; none was written`, () =>
        insertCharges(inputs),
      );
    },

    async recordOutcome(input) {
      await write(
        "recordOutcome",
        `could not record the outcome of auction ${input.auctionId} (is it recorded?)`,
        async () => {
          const metadata = toJson(input.metadata);
          await pool.query(sql.upsertOutcome, [
            input.auctionId,
            orNull(input.recordedAt ?? now()),
            input.correct ?? null,
            orNull(input.score ?? null),
            input.label ?? null,
            metadata,
          ]);
        },
      );
    },

    async recordBudget(input) {
      await write("recordBudget", `could not record the budget of ${input.scope.kind}:${input.scope.id}`, async () => {
        await pool.query(sql.upsertBudget, [
          input.scope.kind,
          input.scope.id,
          orNull(input.limits.maxTokens ?? null),
          orNull(input.limits.maxUsd ?? null),
          input.label ?? null,
          orNull(input.definedAt ?? now()),
        ]);
      });
    },

    async recordBudgetSnapshot(input) {
      await write(
        "recordBudgetSnapshot",
        `could not record a snapshot of ${input.accounts.length} budget accounts`,
        () => insertSnapshot(input),
      );
    },

    async spend(query = {}) {
      const by = query.by ?? "model";
      return guard("query", `could not read spend by ${by}`, async () => {
        const { rows } = await pool.query<Rows["spend"]>(sql.spend[by], timeBounds(query));
        return rows.map((row) => records.spendRow(by, row));
      });
    },

    async overhead(query = {}) {
      const by = query.by ?? "run";
      return guard("query", `could not read auction overhead by ${by}`, () =>
        snapshot(async (client) => {
          const parameters = [...timeBounds(query), query.kind ?? null];
          const statements = sql.overhead[by];
          const auctions = await client.query<{ key: string | null; auctions: string }>(
            statements.auctions,
            parameters,
          );
          const counts = new Map(auctions.rows.map((row) => [row.key, Number(row.auctions)]));
          const parts = await client.query<Rows["overhead"]>(statements.parts, parameters);
          return foldOverhead(by, parts.rows.map(records.overheadPart), counts);
        }),
      );
    },

    async winRates(query = {}) {
      return guard("query", "could not read win rates", async () => {
        const { rows } = await pool.query<WinRateSqlRow>(sql.winRates, [...timeBounds(query), query.kind ?? null]);
        return rows.map((row) => records.winRateRow({ ...row, mean_price_paid: meanPricePaid(row) }));
      });
    },

    async getAuction(id) {
      return guard("query", `could not read auction ${id}`, () =>
        snapshot(async (client) => {
          const [row] = (await client.query<Rows["auction"]>(sql.auction, [id])).rows;
          if (row === undefined) return undefined;
          const bids = (await client.query<Rows["bid"]>(sql.bidsOf, [id])).rows;
          const charges = (await client.query<Rows["charge"]>(sql.chargesOf, [id])).rows;
          const [outcome] = (await client.query<Rows["outcome"]>(sql.outcomeOf, [id])).rows;
          return records.auctionRecord(row, bids, charges, outcome);
        }),
      );
    },

    async recentAuctions(query = {}) {
      const limit = recentLimit(query);
      return guard("query", "could not read recent auctions", async () => {
        const { rows } = await pool.query<RecentSqlRow>(sql.recent, [query.kind ?? null, limit]);
        return rows.map((row) =>
          records.recentAuction(
            row,
            row.outcome_auction_id === null
              ? undefined
              : {
                  auction_id: row.outcome_auction_id,
                  recorded_at: row.outcome_recorded_at as string,
                  correct: row.outcome_correct,
                  score: row.outcome_score,
                  label: row.outcome_label,
                  metadata: row.outcome_metadata,
                },
          ),
        );
      });
    },

    async budgets() {
      return guard("query", "could not read budgets", async () => {
        const { rows } = await pool.query<Rows["budget"]>(sql.budgets);
        return rows.map(records.budgetRecord);
      });
    },

    async latestBudgetSnapshot() {
      return guard("query", "could not read the latest budget snapshot", () =>
        snapshot(async (client) => {
          const [latest] = (await client.query<Rows["snapshot"]>(sql.latestSnapshot)).rows;
          if (latest === undefined) return undefined;
          const accounts = (await client.query<Rows["snapshotAccount"]>(sql.snapshotAccounts, [latest.id])).rows;
          return records.snapshotRecord(latest, accounts);
        }),
      );
    },

    async close() {
      if (closed) return;
      closed = true;
      try {
        await connection.close();
      } catch (error) {
        throw new LedgerError("close", `could not close the pool to ${connection.describe}`, { cause: error });
      }
    },
  };
}

// ---------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------

/** One array per column, for an `unnest(...)` insert. */
type Columns = unknown[][];

function columns(count: number): Columns {
  return Array.from({ length: count }, () => []);
}

function push(target: Columns, row: readonly unknown[]): void {
  row.forEach((value, index) => {
    target[index]?.push(value);
  });
}

/**
 * A number as a parameter: `NaN` becomes NULL, as SQLite stores it (so a required column refuses it
 * and an optional one reads back as absent); anything else is sent as its shortest round-trip decimal.
 */
function orNull(value: number | null): number | null {
  return value === null || Number.isNaN(value) ? null : value;
}

/** `since` (inclusive) and `until` (exclusive) as bigint bounds: `at >= 1.5` is `at >= 2` on integers. */
function timeBounds(range: { since?: number; until?: number }): [number, number] {
  const bound = (value: number | undefined, open: number) =>
    value === undefined ? open : Math.min(Number.MAX_SAFE_INTEGER, Math.max(Number.MIN_SAFE_INTEGER, Math.ceil(value)));
  return [bound(range.since, Number.MIN_SAFE_INTEGER), bound(range.until, Number.MAX_SAFE_INTEGER)];
}

// ---------------------------------------------------------------------------
// Rows and their mapping to records
// ---------------------------------------------------------------------------

/** `bigint` and `numeric` columns and aggregates arrive as text; `json` ones parsed. */
type Decimal = string;

/** `pg`'s column types: numbers as text (or a number the adapter computed), booleans, parsed JSON. */
interface PostgresColumns {
  number: Decimal | number;
  flag: boolean;
  json: unknown;
}

type Rows = LedgerRows<PostgresColumns>;

const records = ledgerRowMapper<PostgresColumns>({
  number: Number,
  flag: (value) => value,
  json: (value) => value,
});

/** A bidder's win counts; the mean price it paid is computed from `won_paid` by {@link meanPricePaid}. */
interface WinRateSqlRow extends Omit<Rows["winRate"], "mean_price_paid"> {
  won_paid: Decimal | null;
}

/** SQLite's AVG: the sum over the won auctions divided by their count, in doubles. */
function meanPricePaid(row: WinRateSqlRow): number | null {
  const wins = Number(row.wins);
  return wins === 0 || row.won_paid === null ? null : Number(row.won_paid) / wins;
}

/** An auction with its settled spend and, joined, its outcome (`outcome_*`, all `NULL` when none). */
type RecentSqlRow = Rows["recent"] & {
  outcome_auction_id: string | null;
  outcome_recorded_at: Decimal | null;
  outcome_correct: boolean | null;
  outcome_score: Decimal | null;
  outcome_label: string | null;
  outcome_metadata: JsonObject | null;
};
