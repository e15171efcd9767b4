/**
 * Schema of the PostgreSQL ledger, as the ordered steps `migratePostgres(connection, "ledger", ...)`
 * runs (`{schema}` is the quoted schema). `gavel_migrations` holds how many have run; migrations are
 * append-only: never edit a released step, add the next.
 *
 * The tables mirror the SQLite ledger's (`adapters/sqlite/migrations.ts`) column for column, with
 * PostgreSQL types that keep what SQLite keeps:
 *
 * - USD and every other amount (prices, bids, values, scores) are `numeric`: the JavaScript number is
 *   sent as its shortest round-trip decimal and stored exactly, so it reads back as the same number,
 *   and sums are exact decimal sums rounded once when read (SQLite's REAL sums round at every step).
 * - Times (epoch milliseconds), token counts and seeds are `bigint`.
 * - JSON (metadata, winners) is `json`: the text as written, key order kept.
 * - `seq` (an identity column) on auctions and charges keeps the order of insertion, as SQLite's
 *   rowid does: auctions recorded in the same millisecond list newest first, charges oldest first.
 * - Tables are prefixed `ledger_`, so the budget store and the memory can share the schema.
 */

/**
 * The ledger's tables, unquoted: what `connection.table(...)` is given.
 *
 * @example
 * ```ts
 * connection.table(LEDGER_TABLES.auctions); // `"gavel"."ledger_auctions"` in schema gavel
 * ```
 */
export const LEDGER_TABLES = {
  auctions: "ledger_auctions",
  bids: "ledger_bids",
  charges: "ledger_charges",
  outcomes: "ledger_outcomes",
  budgets: "ledger_budgets",
  snapshots: "ledger_budget_snapshots",
  snapshotAccounts: "ledger_budget_snapshot_accounts",
} as const;

/**
 * Every migration step of the PostgreSQL ledger, oldest first; the ledger's schema version is the
 * number of steps.
 *
 * @example
 * ```ts
 * import { migratePostgres } from "./migrations.js";
 *
 * const version = await migratePostgres(connection, "ledger", POSTGRES_LEDGER_MIGRATIONS); // 1
 * ```
 */
export const POSTGRES_LEDGER_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE {schema}.ledger_auctions (
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id             text PRIMARY KEY,
    created_at     bigint NOT NULL,
    kind           text NOT NULL,
    mechanism      text NOT NULL,
    scope_kind     text,
    scope_id       text,
    task           text,
    task_hash      text,
    clearing_price numeric NOT NULL,
    seed           bigint NOT NULL,
    reserve_price  numeric NOT NULL,
    winners        json NOT NULL,  -- array of bidder ids, best first
    bid_count      integer NOT NULL,
    metadata       json,
    CHECK ((scope_kind IS NULL) = (scope_id IS NULL))
  );
  CREATE INDEX ledger_auctions_by_created_at ON {schema}.ledger_auctions (created_at, seq);

  CREATE TABLE {schema}.ledger_bids (
    auction_id text NOT NULL REFERENCES {schema}.ledger_auctions (id) ON DELETE CASCADE,
    bidder     text NOT NULL,
    rank       integer NOT NULL,
    amount     numeric NOT NULL,
    value      numeric,
    tokens     bigint,
    won        boolean NOT NULL,
    price      numeric NOT NULL,
    reason     text NOT NULL,
    detail     text NOT NULL,
    meta       json,
    PRIMARY KEY (auction_id, bidder)
  );

  -- No foreign key on auction_id: a bid's plan is charged before its auction clears and is recorded.
  CREATE TABLE {schema}.ledger_charges (
    seq            bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    id             text PRIMARY KEY,
    at             bigint NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('reserve', 'settle', 'release', 'refuse')),
    model          text NOT NULL,
    agent          text,
    scope_kind     text NOT NULL,
    scope_id       text NOT NULL,
    input_tokens   bigint NOT NULL CHECK (input_tokens >= 0),
    output_tokens  bigint NOT NULL CHECK (output_tokens >= 0),
    usd            numeric NOT NULL CHECK (usd >= 0),
    estimated      boolean NOT NULL,
    auction_id     text,
    reservation_id text,
    label          text,
    metadata       json
  );
  CREATE INDEX ledger_charges_by_at ON {schema}.ledger_charges (at);
  CREATE INDEX ledger_charges_by_auction ON {schema}.ledger_charges (auction_id, at, seq) WHERE auction_id IS NOT NULL;

  CREATE TABLE {schema}.ledger_outcomes (
    auction_id  text PRIMARY KEY REFERENCES {schema}.ledger_auctions (id) ON DELETE CASCADE,
    recorded_at bigint NOT NULL,
    correct     boolean,
    score       numeric,
    label       text,
    metadata    json
  );

  CREATE TABLE {schema}.ledger_budgets (
    scope_kind text NOT NULL,
    scope_id   text NOT NULL,
    max_tokens bigint CHECK (max_tokens >= 0),
    max_usd    numeric CHECK (max_usd >= 0),
    label      text,
    defined_at bigint NOT NULL,
    PRIMARY KEY (scope_kind, scope_id)
  );

  CREATE TABLE {schema}.ledger_budget_snapshots (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    taken_at bigint NOT NULL,
    label    text
  );
  CREATE INDEX ledger_budget_snapshots_by_taken_at ON {schema}.ledger_budget_snapshots (taken_at, id);

  CREATE TABLE {schema}.ledger_budget_snapshot_accounts (
    snapshot_id     bigint NOT NULL REFERENCES {schema}.ledger_budget_snapshots (id) ON DELETE CASCADE,
    scope_kind      text NOT NULL,
    scope_id        text NOT NULL,
    max_tokens      bigint,
    max_usd         numeric,
    spent_tokens    bigint NOT NULL,
    spent_usd       numeric NOT NULL,
    reserved_tokens bigint NOT NULL,
    reserved_usd    numeric NOT NULL,
    PRIMARY KEY (snapshot_id, scope_kind, scope_id)
  );
  `,
];

/**
 * The schema version this code writes and reads.
 *
 * @example
 * ```ts
 * const ledger = await createPostgresLedger({ connectionString });
 * ledger.schemaVersion === POSTGRES_LEDGER_SCHEMA_VERSION; // true
 * ```
 */
export const POSTGRES_LEDGER_SCHEMA_VERSION = POSTGRES_LEDGER_MIGRATIONS.length;
