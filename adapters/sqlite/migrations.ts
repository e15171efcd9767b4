/**
 * Schema of the SQLite ledger, as an ordered list of migrations.
 *
 * The database's `PRAGMA user_version` holds the number of the last migration applied.
 * Opening a ledger applies the missing ones, in order, inside one `BEGIN IMMEDIATE`
 * transaction (so two processes opening the same new file do not both migrate it).
 * Migrations are append-only: never edit a released one, add the next.
 */
import type BetterSqlite3 from "better-sqlite3";
import { LedgerError } from "../../src/ledger/errors.js";

/** One schema step. */
export interface Migration {
  /** The `user_version` after this migration; 1, 2, 3, ... */
  version: number;
  description: string;
  sql: string;
}

/** Written to `PRAGMA application_id` so a Gavel ledger can be told apart from other SQLite files ("GVL1"). */
export const LEDGER_APPLICATION_ID = 0x47564c31;

/** Every migration, oldest first. */
export const LEDGER_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: "auctions, bids, charges, outcomes, budgets and budget snapshots",
    sql: `
      CREATE TABLE auctions (
        id             TEXT PRIMARY KEY NOT NULL,
        created_at     INTEGER NOT NULL,
        kind           TEXT NOT NULL,
        mechanism      TEXT NOT NULL,
        scope_kind     TEXT,
        scope_id       TEXT,
        task           TEXT,
        task_hash      TEXT,
        clearing_price REAL NOT NULL,
        seed           INTEGER NOT NULL,
        reserve_price  REAL NOT NULL,
        winners        TEXT NOT NULL,  -- JSON array of bidder ids, best first
        bid_count      INTEGER NOT NULL,
        metadata       TEXT,           -- JSON object
        CHECK ((scope_kind IS NULL) = (scope_id IS NULL))
      );
      CREATE INDEX auctions_by_created_at ON auctions (created_at);

      CREATE TABLE bids (
        id         INTEGER PRIMARY KEY,
        auction_id TEXT NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
        bidder     TEXT NOT NULL,
        rank       INTEGER NOT NULL,
        amount     REAL NOT NULL,
        value      REAL,
        tokens     INTEGER,
        won        INTEGER NOT NULL CHECK (won IN (0, 1)),
        price      REAL NOT NULL,
        reason     TEXT NOT NULL,
        detail     TEXT NOT NULL,
        meta       TEXT,               -- JSON object
        UNIQUE (auction_id, bidder)
      );

      -- No foreign key on auction_id: a bid's plan is charged before its auction clears and is recorded.
      CREATE TABLE charges (
        id             TEXT PRIMARY KEY NOT NULL,
        at             INTEGER NOT NULL,
        kind           TEXT NOT NULL CHECK (kind IN ('reserve', 'settle', 'release', 'refuse')),
        model          TEXT NOT NULL,
        agent          TEXT,
        scope_kind     TEXT NOT NULL,
        scope_id       TEXT NOT NULL,
        input_tokens   INTEGER NOT NULL CHECK (input_tokens >= 0),
        output_tokens  INTEGER NOT NULL CHECK (output_tokens >= 0),
        usd            REAL NOT NULL CHECK (usd >= 0),
        estimated      INTEGER NOT NULL CHECK (estimated IN (0, 1)),
        auction_id     TEXT,
        reservation_id TEXT,
        label          TEXT,
        metadata       TEXT            -- JSON object
      );
      CREATE INDEX charges_by_at ON charges (at);
      CREATE INDEX charges_by_auction ON charges (auction_id) WHERE auction_id IS NOT NULL;

      CREATE TABLE outcomes (
        auction_id  TEXT PRIMARY KEY NOT NULL REFERENCES auctions (id) ON DELETE CASCADE,
        recorded_at INTEGER NOT NULL,
        correct     INTEGER CHECK (correct IN (0, 1)),
        score       REAL,
        label       TEXT,
        metadata    TEXT               -- JSON object
      );

      CREATE TABLE budgets (
        scope_kind TEXT NOT NULL,
        scope_id   TEXT NOT NULL,
        max_tokens INTEGER CHECK (max_tokens >= 0),
        max_usd    REAL CHECK (max_usd >= 0),
        label      TEXT,
        defined_at INTEGER NOT NULL,
        PRIMARY KEY (scope_kind, scope_id)
      );

      CREATE TABLE budget_snapshots (
        id       INTEGER PRIMARY KEY,
        taken_at INTEGER NOT NULL,
        label    TEXT
      );

      CREATE TABLE budget_snapshot_accounts (
        snapshot_id     INTEGER NOT NULL REFERENCES budget_snapshots (id) ON DELETE CASCADE,
        scope_kind      TEXT NOT NULL,
        scope_id        TEXT NOT NULL,
        max_tokens      INTEGER,
        max_usd         REAL,
        spent_tokens    INTEGER NOT NULL,
        spent_usd       REAL NOT NULL,
        reserved_tokens INTEGER NOT NULL,
        reserved_usd    REAL NOT NULL,
        PRIMARY KEY (snapshot_id, scope_kind, scope_id)
      );
    `,
  },
];

/** The schema version this code writes and reads. */
export const LEDGER_SCHEMA_VERSION = LEDGER_MIGRATIONS.length;

/** Read `user_version` and `application_id`, refusing files that are not (or not yet) readable ledgers. */
export function checkLedgerFile(database: BetterSqlite3.Database): number {
  const version = database.pragma("user_version", { simple: true }) as number;
  const applicationId = database.pragma("application_id", { simple: true }) as number;
  if (applicationId !== 0 && applicationId !== LEDGER_APPLICATION_ID) {
    throw new LedgerError(
      "open",
      `${database.name} is a SQLite file of another application (application_id ${applicationId}).`,
    );
  }
  if (version > LEDGER_SCHEMA_VERSION) {
    throw new LedgerError(
      "open",
      `${database.name} has ledger schema version ${version}, newer than this Gavel's ${LEDGER_SCHEMA_VERSION}; upgrade langchain-gavel.`,
    );
  }
  return version;
}

/**
 * Apply the migrations the database lacks. Returns the versions applied. A file already at the
 * latest version is only read (no write lock taken), so opening a ledger another connection is
 * writing to does not wait for that connection's lock.
 */
export function migrateLedger(
  database: BetterSqlite3.Database,
  migrations: readonly Migration[] = LEDGER_MIGRATIONS,
): number[] {
  const known = checkLedgerFile(database);
  if (migrations.every((migration) => migration.version <= known)) return [];
  const apply = database.transaction(() => {
    const current = checkLedgerFile(database);
    const pending = migrations.filter((migration) => migration.version > current);
    for (const migration of pending) {
      database.exec(migration.sql);
      database.pragma(`user_version = ${migration.version}`);
    }
    if (pending.length > 0) database.pragma(`application_id = ${LEDGER_APPLICATION_ID}`);
    return pending.map((migration) => migration.version);
  });
  try {
    return apply.immediate();
  } catch (error) {
    if (LedgerError.isInstance(error)) throw error;
    throw new LedgerError("migrate", `could not bring ${database.name} to schema version ${LEDGER_SCHEMA_VERSION}`, {
      cause: error,
    });
  }
}
