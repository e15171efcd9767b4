/**
 * The SQLite budget store: a `BudgetStore` (src/budget/store.ts) in one SQLite file, shared by every
 * process of one host that opens the same file.
 *
 * Read top to bottom: options → opening and the schema → statements → the operations.
 *
 * Atomicity: every operation is one `BEGIN IMMEDIATE` transaction (better-sqlite3's
 * `.immediate()`), which takes the file's write lock before it reads anything, so the read-check-
 * write of a reserve can never interleave with another process's: SQLite serialises the writers of a
 * file, and a writer waits up to `busyTimeoutMs` for the lock. Reads (`accounts`, `snapshot`) run in
 * one deferred transaction: a consistent snapshot that never blocks a writer (WAL).
 *
 * Durability is the ledger's: WAL with `synchronous = NORMAL` by default, so a committed reserve or
 * settle survives a killed process (it is in the WAL, in the page cache); a power loss may roll back
 * the last transactions. `synchronous: "full"` fsyncs every commit.
 *
 * The file: the store's tables are `gavel_budget_accounts` and `gavel_budget_reservations`, and its
 * schema version is in `gavel_budget_schema` (never in `PRAGMA user_version`, which belongs to the
 * ledger). So the budget store and the SQLite ledger can share one file, in either order: the ledger
 * checks only its own `user_version` and `application_id`, which the store leaves alone; the store
 * refuses files of another application (an `application_id` that is neither 0 nor the ledger's).
 *
 * Amounts are SQLite integers (64-bit) read back as JavaScript numbers: exact up to
 * `Number.MAX_SAFE_INTEGER` (2^53 − 1): 9 × 10^15 tokens, or about 9 million USD in nano-USD per
 * account.
 */
import type Database from "better-sqlite3";
import { z } from "zod";
import { BudgetStoreError, type BudgetStoreOperation } from "../../src/budget/errors.js";
import {
  type BudgetStore,
  type ExpiredReservation,
  refusalOf,
  type StoreAccountState,
  type StoreCloseResult,
  type StoreReservation,
  type StoreReservationState,
  type StoreReserveResult,
} from "../../src/budget/store.js";
import type { BudgetScope } from "../../src/budget/types.js";
import { parseConfig } from "../../src/errors.js";
import { requirePeer } from "../../src/peers.js";
import { databaseHandleSchema, requirePathOrDatabase } from "./database.js";
import { DEFAULT_BUSY_TIMEOUT_MS } from "./ledger.js";
import { LEDGER_APPLICATION_ID } from "./migrations.js";

// ---------------------------------------------------------------------------
// Options and errors
// ---------------------------------------------------------------------------

const sqliteBudgetStoreOptionsSchema = z
  .object({
    /** Database file, shared by the processes of the host; `":memory:"` for a private one (tests). */
    path: z.string().min(1).optional(),
    /** An open better-sqlite3 handle to use instead of `path`. The store does not close it. */
    database: databaseHandleSchema().optional(),
    /** `"normal"`: committed operations survive a killed process. `"full"`: they survive power loss too. */
    synchronous: z.enum(["normal", "full"]).default("normal"),
    /** Wait this long for another process's write lock before failing. */
    busyTimeoutMs: z.number().int().nonnegative().default(DEFAULT_BUSY_TIMEOUT_MS),
  })
  .strict()
  .superRefine(requirePathOrDatabase);

/**
 * Options of {@link createSqliteBudgetStore}.
 *
 * @example
 * ```ts
 * const options: SqliteBudgetStoreOptions = { path: "budget.db", synchronous: "full", busyTimeoutMs: 30_000 };
 * ```
 */
export type SqliteBudgetStoreOptions = z.input<typeof sqliteBudgetStoreOptionsSchema>;

/**
 * A {@link BudgetStore} in a SQLite file, with its database handle (for backups and ad-hoc SQL) and
 * the schema version of its tables.
 *
 * @example
 * ```ts
 * const store: SqliteBudgetStore = createSqliteBudgetStore({ path: "budget.db" });
 * store.schemaVersion; // 1
 * store.database.prepare("SELECT COUNT(*) AS n FROM gavel_budget_reservations WHERE state = 'open'").get();
 * ```
 */
export interface SqliteBudgetStore extends BudgetStore {
  readonly database: Database.Database;
  /** The version of the store's tables (`gavel_budget_schema`). */
  readonly schemaVersion: number;
}

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

/**
 * The store's schema steps, oldest first; step `n` brings the tables to version `n`. Append-only.
 * Every table name starts with `gavel_budget_`, so the file can also hold the ledger.
 */
const BUDGET_STORE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE gavel_budget_accounts (
    scope             TEXT NOT NULL,
    scope_id          TEXT NOT NULL,
    spent_tokens      INTEGER NOT NULL DEFAULT 0,
    spent_nano_usd    INTEGER NOT NULL DEFAULT 0,
    reserved_tokens   INTEGER NOT NULL DEFAULT 0,
    reserved_nano_usd INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, scope_id)
  ) WITHOUT ROWID;

  CREATE TABLE gavel_budget_reservations (
    id             TEXT PRIMARY KEY NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('open', 'settled', 'released', 'expired')),
    accounts       TEXT NOT NULL,    -- JSON [[scope, scopeId], ...] in the request's order
    tokens         INTEGER NOT NULL,
    nano_usd       INTEGER NOT NULL,
    model          TEXT NOT NULL,
    label          TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    closed_at      INTEGER,
    spent_tokens   INTEGER,
    spent_nano_usd INTEGER
  );
  -- Only open reservations are indexed: the expired ones a reserve looks for are few (crashed callers).
  CREATE INDEX gavel_budget_reservations_open ON gavel_budget_reservations (expires_at) WHERE state = 'open';
  `,
];

/** The version of the store's tables this code reads and writes. */
const BUDGET_STORE_SCHEMA_VERSION = BUDGET_STORE_MIGRATIONS.length;

/** The current version of the store's tables in `database` (0 when absent); refuses foreign and newer files. */
function checkBudgetFile(database: Database.Database): number {
  const applicationId = database.pragma("application_id", { simple: true }) as number;
  if (applicationId !== 0 && applicationId !== LEDGER_APPLICATION_ID) {
    throw new BudgetStoreError(
      "open",
      `${database.name} is a SQLite file of another application (application_id ${applicationId}); give the budget store a file of its own.`,
    );
  }
  const table = database
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gavel_budget_schema'")
    .get();
  if (!table) return 0;
  const row = database.prepare("SELECT version FROM gavel_budget_schema WHERE id = 1").get() as
    | { version: number }
    | undefined;
  const version = row?.version ?? 0;
  if (version > BUDGET_STORE_SCHEMA_VERSION) {
    throw new BudgetStoreError(
      "open",
      `${database.name} has budget-store tables at version ${version}, written by a newer langchain-gavel; this one knows up to version ${BUDGET_STORE_SCHEMA_VERSION}. Upgrade langchain-gavel.`,
    );
  }
  return version;
}

/** Bring the store's tables to the newest version in one `BEGIN IMMEDIATE` transaction (so racing processes migrate once). */
function migrateBudgetStore(database: Database.Database): void {
  const migrate = database.transaction(() => {
    const current = checkBudgetFile(database);
    if (current === BUDGET_STORE_SCHEMA_VERSION) return;
    for (const step of BUDGET_STORE_MIGRATIONS.slice(current)) database.exec(step);
    database.exec(
      "CREATE TABLE IF NOT EXISTS gavel_budget_schema (id INTEGER PRIMARY KEY CHECK (id = 1), version INTEGER NOT NULL)",
    );
    database
      .prepare(
        "INSERT INTO gavel_budget_schema (id, version) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET version = excluded.version",
      )
      .run(BUDGET_STORE_SCHEMA_VERSION);
  });
  try {
    migrate.immediate();
  } catch (error) {
    if (BudgetStoreError.isInstance(error)) throw error;
    throw new BudgetStoreError(
      "migrate",
      `could not bring the budget-store tables of ${database.name} to version ${BUDGET_STORE_SCHEMA_VERSION}`,
      { cause: error },
    );
  }
}

// ---------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------

/**
 * Open (creating and migrating when needed) a budget store in a SQLite file. Every process of the
 * host that opens the same file shares the same accounts; the limits hold across all of them.
 *
 * @param options - `path` (or `":memory:"`) or an open better-sqlite3 `database`; `synchronous`
 *   (`"normal"` default, `"full"`); `busyTimeoutMs`, how long an operation waits for another
 *   process's write lock (default 5,000 ms).
 * @returns A {@link SqliteBudgetStore}; `close()` it when done (it closes the file it opened).
 * @throws ConfigError when an option is invalid.
 * @throws BudgetStoreError (`"open"`, `"migrate"`) when the file cannot be opened, belongs to
 *   another application, or has budget-store tables from a newer Gavel.
 * @throws MissingPeerDependencyError when better-sqlite3 is not installed.
 *
 * @example
 * ```ts
 * import { createTokenBudget } from "langchain-gavel";
 * import { createSqliteBudgetStore } from "langchain-gavel/sqlite";
 *
 * // Every worker process of the host opens the same file: one budget for all of them.
 * const store = createSqliteBudgetStore({ path: "/var/lib/my-app/budget.db" });
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 20 } }, store, leaseMs: 120_000 });
 * ```
 *
 * @example
 * ```ts
 * // The ledger and the budget store in one file (their tables do not overlap).
 * const ledger = createSqliteLedger({ path: "gavel.db" });
 * const store = createSqliteBudgetStore({ path: "gavel.db" });
 * ```
 */
export function createSqliteBudgetStore(options: SqliteBudgetStoreOptions): SqliteBudgetStore {
  const {
    path,
    database: handle,
    synchronous,
    busyTimeoutMs,
  } = parseConfig("createSqliteBudgetStore options", sqliteBudgetStoreOptionsSchema, options);
  const ownsDatabase = handle === undefined;
  const database = handle ?? openFile(path ?? ":memory:");
  try {
    database.pragma(`busy_timeout = ${busyTimeoutMs}`);
    // journal_mode is persistent in the file; an in-memory database answers "memory" and stays so.
    database.pragma("journal_mode = WAL");
    database.pragma(`synchronous = ${synchronous.toUpperCase()}`);
    migrateBudgetStore(database);
    return buildStore(database, ownsDatabase);
  } catch (error) {
    if (ownsDatabase) database.close();
    if (BudgetStoreError.isInstance(error)) throw error;
    throw new BudgetStoreError("open", `could not set up the budget store in ${database.name}`, { cause: error });
  }
}

function openFile(path: string): Database.Database {
  // better-sqlite3 is an optional peer, loaded on the first open (not on import).
  const BetterSqlite3 = requirePeer<typeof Database>("better-sqlite3", "langchain-gavel/sqlite");
  try {
    return new BetterSqlite3(path);
  } catch (error) {
    throw new BudgetStoreError("open", `could not open ${path}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

interface AccountRow {
  scope: BudgetScope;
  scope_id: string;
  spent_tokens: number;
  spent_nano_usd: number;
  reserved_tokens: number;
  reserved_nano_usd: number;
}

interface ReservationRow {
  id: string;
  state: StoreReservationState;
  accounts: string;
  tokens: number;
  nano_usd: number;
  model: string;
  label: string | null;
  created_at: number;
  expires_at: number;
}

type AccountKey = readonly [BudgetScope, string];

const keyOf = (scope: BudgetScope, scopeId: string) => `${scope}:${scopeId}`;

function toAccountState(row: AccountRow): StoreAccountState {
  return {
    scope: row.scope,
    scopeId: row.scope_id,
    spentTokens: row.spent_tokens,
    spentNanoUsd: row.spent_nano_usd,
    reservedTokens: row.reserved_tokens,
    reservedNanoUsd: row.reserved_nano_usd,
  };
}

function toExpired(row: ReservationRow, accounts: readonly AccountKey[]): ExpiredReservation {
  return {
    id: row.id,
    model: row.model,
    ...(row.label !== null && { label: row.label }),
    tokens: row.tokens,
    nanoUsd: row.nano_usd,
    accounts: accounts.map(([scope, scopeId]) => ({ scope, scopeId })),
    createdAt: row.created_at,
    expiresAt: row.expires_at,
  };
}

/** Amounts cross the boundary as integers; a fraction or an unsafe integer would be stored inexactly. */
function checkAmount(operation: BudgetStoreOperation, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new BudgetStoreError(operation, `${name} must be a non-negative safe integer, got ${value}`);
  }
}

// ---------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------

function buildStore(database: Database.Database, ownsDatabase: boolean): SqliteBudgetStore {
  const statements = {
    ensureAccount: database.prepare(
      "INSERT INTO gavel_budget_accounts (scope, scope_id) VALUES (?, ?) ON CONFLICT (scope, scope_id) DO NOTHING",
    ),
    account: database.prepare<[string, string], AccountRow>(
      "SELECT * FROM gavel_budget_accounts WHERE scope = ? AND scope_id = ?",
    ),
    allAccounts: database.prepare<[], AccountRow>("SELECT * FROM gavel_budget_accounts ORDER BY scope, scope_id"),
    hold: database.prepare(
      `UPDATE gavel_budget_accounts SET reserved_tokens = reserved_tokens + @tokens, reserved_nano_usd = reserved_nano_usd + @nanoUsd
       WHERE scope = @scope AND scope_id = @scopeId`,
    ),
    charge: database.prepare(
      `UPDATE gavel_budget_accounts SET spent_tokens = spent_tokens + @tokens, spent_nano_usd = spent_nano_usd + @nanoUsd
       WHERE scope = @scope AND scope_id = @scopeId`,
    ),
    expiredOpen: database.prepare<[number], ReservationRow>(
      // Ordered by the partial index itself: an ORDER BY rowid would make SQLite scan the whole table.
      "SELECT * FROM gavel_budget_reservations WHERE state = 'open' AND expires_at <= ? ORDER BY expires_at",
    ),
    reservation: database.prepare<[string], ReservationRow>("SELECT * FROM gavel_budget_reservations WHERE id = ?"),
    insert: database.prepare(
      `INSERT INTO gavel_budget_reservations (id, state, accounts, tokens, nano_usd, model, label, created_at, expires_at)
       VALUES (@id, 'open', @accounts, @tokens, @nanoUsd, @model, @label, @createdAt, @expiresAt)`,
    ),
    close: database.prepare(
      `UPDATE gavel_budget_reservations SET state = @state, closed_at = @now, spent_tokens = @spentTokens, spent_nano_usd = @spentNanoUsd
       WHERE id = @id`,
    ),
  };

  const accountsOf = (row: ReservationRow) => JSON.parse(row.accounts) as AccountKey[];
  const move = (
    statement: Database.Statement,
    accounts: readonly AccountKey[],
    tokens: number,
    nanoUsd: number,
  ): void => {
    for (const [scope, scopeId] of accounts) statement.run({ scope, scopeId, tokens, nanoUsd });
  };

  /** Mark the expired open reservations that `touches` accepts as expired, freeing their holds. */
  const expireWhere = (now: number, touches: (accounts: readonly AccountKey[]) => boolean): ExpiredReservation[] => {
    const expired: ExpiredReservation[] = [];
    for (const row of statements.expiredOpen.all(now)) {
      const accounts = accountsOf(row);
      if (!touches(accounts)) continue;
      move(statements.hold, accounts, -row.tokens, -row.nano_usd);
      statements.close.run({ id: row.id, state: "expired", now, spentTokens: null, spentNanoUsd: null });
      expired.push(toExpired(row, accounts));
    }
    return expired;
  };

  const reserveTransaction = database.transaction((reservation: StoreReservation, now: number): StoreReserveResult => {
    const keys = new Set(reservation.accounts.map(({ scope, scopeId }) => keyOf(scope, scopeId)));
    const expired = expireWhere(now, (accounts) =>
      accounts.some(([scope, scopeId]) => keys.has(keyOf(scope, scopeId))),
    );
    if (statements.reservation.get(reservation.id)) return { expired }; // a retry: already held (or closed)
    for (const ref of reservation.accounts) {
      statements.ensureAccount.run(ref.scope, ref.scopeId);
      const refusal = refusalOf(
        ref,
        toAccountState(statements.account.get(ref.scope, ref.scopeId) as AccountRow),
        reservation,
      );
      if (refusal) return { refusal, expired };
    }
    const accounts: AccountKey[] = reservation.accounts.map(({ scope, scopeId }) => [scope, scopeId]);
    move(statements.hold, accounts, reservation.tokens, reservation.nanoUsd);
    statements.insert.run({
      id: reservation.id,
      accounts: JSON.stringify(accounts),
      tokens: reservation.tokens,
      nanoUsd: reservation.nanoUsd,
      model: reservation.model,
      label: reservation.label ?? null,
      createdAt: reservation.createdAt,
      expiresAt: reservation.expiresAt,
    });
    return { expired };
  });

  const closeTransaction = database.transaction(
    (id: string, spent: { tokens: number; nanoUsd: number } | undefined, now: number): StoreCloseResult => {
      const row = statements.reservation.get(id);
      if (!row) return { status: "unknown" };
      if (row.state === "settled" || row.state === "released") return { status: "closed", state: row.state };
      if (row.state === "expired" && !spent) return { status: "closed", state: "expired" };
      const accounts = accountsOf(row);
      if (row.state === "open") move(statements.hold, accounts, -row.tokens, -row.nano_usd);
      if (spent) move(statements.charge, accounts, spent.tokens, spent.nanoUsd);
      statements.close.run({
        id,
        state: spent ? "settled" : "released",
        now,
        spentTokens: spent?.tokens ?? null,
        spentNanoUsd: spent?.nanoUsd ?? null,
      });
      if (!spent) return { status: "released" };
      return { status: row.state === "expired" ? "late" : "settled" };
    },
  );

  const accountsTransaction = database.transaction((refs: ReadonlyArray<{ scope: BudgetScope; scopeId: string }>) =>
    refs.map(({ scope, scopeId }) => {
      const row = statements.account.get(scope, scopeId);
      return row
        ? toAccountState(row)
        : { scope, scopeId, spentTokens: 0, spentNanoUsd: 0, reservedTokens: 0, reservedNanoUsd: 0 };
    }),
  );

  const expireTransaction = database.transaction((now: number) => expireWhere(now, () => true));

  let closed = false;
  /** Run `work` on the open store, turning driver errors into BudgetStoreErrors that name the operation. */
  const run = async <T>(operation: BudgetStoreOperation, work: () => T): Promise<T> => {
    if (closed) throw new BudgetStoreError(operation, `the budget store on ${database.name} is closed`);
    try {
      return work();
    } catch (error) {
      if (BudgetStoreError.isInstance(error)) throw error;
      throw new BudgetStoreError(operation, `${operation} failed on ${database.name}`, { cause: error });
    }
  };

  return {
    database,
    schemaVersion: BUDGET_STORE_SCHEMA_VERSION,

    reserve(reservation, now) {
      return run("reserve", () => {
        checkAmount("reserve", "tokens", reservation.tokens);
        checkAmount("reserve", "nanoUsd", reservation.nanoUsd);
        return reserveTransaction.immediate(reservation, now);
      });
    },

    settle(id, spent, now) {
      return run("settle", () => {
        checkAmount("settle", "tokens", spent.tokens);
        checkAmount("settle", "nanoUsd", spent.nanoUsd);
        return closeTransaction.immediate(id, spent, now);
      });
    },

    release(id, now) {
      return run("release", () => closeTransaction.immediate(id, undefined, now));
    },

    accounts(refs) {
      return run("accounts", () => accountsTransaction.deferred(refs));
    },

    snapshot() {
      return run("snapshot", () => statements.allAccounts.all().map(toAccountState));
    },

    reservationState(id) {
      return run("reservationState", () => statements.reservation.get(id)?.state);
    },

    expire(now) {
      return run("expire", () => expireTransaction.immediate(now));
    },

    async close() {
      if (closed) return;
      closed = true;
      if (ownsDatabase) database.close();
    },
  };
}
