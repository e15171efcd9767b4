/**
 * The SQLite auction ledger, on better-sqlite3.
 *
 * Read top to bottom: options → opening and configuring the database → prepared statements →
 * the write methods → the queries → row mapping.
 *
 * Durability: the file is in WAL mode. With the default `synchronous: "normal"` a transaction is
 * in the WAL file (in the operating system's page cache) when its promise resolves, so killing
 * the process — even with SIGKILL — loses nothing committed; a power loss or kernel crash may
 * roll back the last transactions (never corrupt the file). `synchronous: "full"` fsyncs on every
 * commit and survives power loss too, at the cost of one fsync per transaction.
 *
 * Locks: a write never waits for another connection's lock on the event loop. When the lock is free
 * it commits inside the call; when another connection holds it, the write waits in a bounded queue
 * retried off the request path (`write-queue.ts`), its promise resolves once it is queued, `flush()`
 * once it has landed, and a queued write that fails (or one dropped) is reported through
 * `onWriteFailure` and counted in `writeStats()`.
 */

import type Database from "better-sqlite3";
import { z } from "zod";
import { functionSchema, parseConfig } from "../../src/errors.js";
import { LedgerError, type LedgerOperation } from "../../src/ledger/errors.js";
import { timeOrderedId } from "../../src/ledger/ids.js";
import { foldOverhead } from "../../src/ledger/overhead.js";
import { warnLedgerFailure } from "../../src/ledger/report.js";
import { GLOBAL_SCOPE, type LedgerRows, ledgerRowMapper, recentLimit, toJson } from "../../src/ledger/rows.js";
import { hashTask } from "../../src/ledger/task-hash.js";
import type {
  AuctionInput,
  AuctionLedger,
  BudgetDefinitionInput,
  BudgetSnapshotInput,
  ChargeInput,
  LedgerWriteFailure,
  LedgerWriteStats,
  OutcomeInput,
  OverheadGrouping,
  SpendGrouping,
} from "../../src/ledger/types.js";
import { requirePeer } from "../../src/peers.js";
import { MAX_TIMEOUT_MS } from "../../src/timeouts.js";
import { databaseHandleSchema, requirePathOrDatabase, type SqliteDatabase } from "./database.js";
import { checkLedgerFile, LEDGER_SCHEMA_VERSION, migrateLedger } from "./migrations.js";
import {
  createWriteQueue,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_RECORDS,
  DEFAULT_QUEUE_WAIT_MS,
  type WriteJob,
  writeJob,
} from "./write-queue.js";

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

/**
 * How long opening (and migrating) a file, a query, and your own SQL on `ledger.database` wait for
 * another connection's lock, by default. Writes never wait on the event loop: a write that finds
 * the lock taken goes to the write queue.
 *
 * @example
 * ```ts
 * createSqliteLedger({ path: "gavel.db" }); // opening waits up to DEFAULT_BUSY_TIMEOUT_MS (5000 ms) for a lock
 * createSqliteLedger({ path: "gavel.db", busyTimeoutMs: 30_000 }); // many processes migrating one file
 * ```
 */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000;

export type { SqliteDatabase };
export { DEFAULT_CLOSE_TIMEOUT_MS, DEFAULT_MAX_QUEUED_RECORDS, DEFAULT_QUEUE_WAIT_MS };

const sqliteLedgerOptionsSchema = z
  .object({
    /** Database file; `":memory:"` for a private in-memory database. */
    path: z.string().min(1).optional(),
    /** An open better-sqlite3 handle to use instead of `path`. The ledger does not close it. */
    database: databaseHandleSchema().optional(),
    /** `"normal"`: committed writes survive a killed process. `"full"`: they survive power loss too. */
    synchronous: z.enum(["normal", "full"]).default("normal"),
    /** Open `path` read-only: the file must exist and be a ledger; nothing is created or migrated. */
    readonly: z.boolean().default(false),
    /** Opening, queries and your own SQL wait this long for a lock held by another connection (writes never do). */
    busyTimeoutMs: z.number().int().nonnegative().max(MAX_TIMEOUT_MS).default(DEFAULT_BUSY_TIMEOUT_MS),
    /** Records the write queue holds at most while another connection holds the lock. */
    maxQueuedRecords: z.number().int().positive().default(DEFAULT_MAX_QUEUED_RECORDS),
    /** A write that finds the queue full waits this long for room, then is dropped (reported, and rejected). */
    queueWaitMs: z.number().int().nonnegative().max(MAX_TIMEOUT_MS).default(DEFAULT_QUEUE_WAIT_MS),
    /** `close()` waits this long for the queue to land, then drops (and reports) what is left. */
    closeTimeoutMs: z.number().int().nonnegative().max(MAX_TIMEOUT_MS).default(DEFAULT_CLOSE_TIMEOUT_MS),
    /** Told of every write that did not land and nobody could be told by a rejection. Default: a process warning. */
    onWriteFailure: functionSchema<(failure: LedgerWriteFailure) => void>().optional(),
    /** Store the task text of auctions; when false only its SHA-256 is stored. */
    storeTaskText: z.boolean().default(true),
    /** Clock seam: epoch milliseconds for records given no time. */
    now: functionSchema<() => number>().default(() => Date.now),
    /** Id seam: ids of auctions and charges given none. Default: time-ordered UUIDv7 from `now`. */
    generateId: functionSchema<() => string>().optional(),
  })
  .strict()
  .superRefine((options, context) => {
    requirePathOrDatabase(options, context);
    if (options.database !== undefined && options.readonly) {
      context.addIssue({
        code: "custom",
        path: ["readonly"],
        message: "`readonly` applies to `path`; open the handle with `{ readonly: true }` yourself",
      });
    }
  });

/** Options of {@link createSqliteLedger}. */
export type SqliteLedgerOptions = z.input<typeof sqliteLedgerOptionsSchema>;

/**
 * A ledger on SQLite: both halves, `LedgerWriter` and `LedgerReader` (an {@link AuctionLedger});
 * also exposes its database handle (for backups, `PRAGMA integrity_check`, ad-hoc SQL), its write
 * queue's `flush()` and counters. Opened with `readonly: true` it is used as a `LedgerReader`: its writes reject.
 *
 * @example
 * ```ts
 * const ledger: SqliteLedger = createSqliteLedger({ path: "gavel.db" });
 * ledger.database.pragma("integrity_check", { simple: true }); // "ok"
 * ledger.schemaVersion; // 1
 * await ledger.flush(); // every write queued behind another connection's lock has landed
 * ledger.writeStats(); // { pending: 0, pendingRecords: 0, deferred: 0, failed: 0, dropped: 0 }
 * ```
 */
export interface SqliteLedger extends AuctionLedger {
  readonly database: Database.Database;
  /** The schema version of the file (`PRAGMA user_version`). */
  readonly schemaVersion: number;
  /** Resolves once every write queued so far has landed, or failed or been dropped (each reported). */
  flush(): Promise<void>;
  /** The write path's counters: queued now, deferred, failed, dropped. */
  writeStats(): LedgerWriteStats;
  /** Count and report a write a feature caught (see `LedgerWriter.reportWriteFailure`). */
  reportWriteFailure(failure: LedgerWriteFailure): void;
}

// ---------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------

/**
 * Open (creating and migrating when needed) a SQLite auction ledger.
 *
 * @param options - `path` (or `":memory:"`) or an open better-sqlite3 `database`, plus durability and seams.
 * @returns An {@link AuctionLedger} backed by the file; call `close()` when done.
 * @throws ConfigError when an option is invalid.
 * @throws LedgerError (`operation: "open"` / `"migrate"`) when the file cannot be opened, belongs to
 *   another application, has a newer schema, or (read-only) is not a ledger.
 *
 * @example
 * ```ts
 * import { createSqliteLedger } from "langchain-gavel/sqlite";
 *
 * const ledger = createSqliteLedger({ path: "gavel.db" });
 * const id = await ledger.recordAuction({ kind: "route", outcome, task: "What is 2 + 2?" });
 * await ledger.recordCharge({ kind: "settle", model: "gpt-4o-mini", inputTokens: 120, outputTokens: 40, usd: 0.00004, auctionId: id });
 * console.log(await ledger.spend({ by: "model" }));
 * await ledger.close();
 * ```
 *
 * @example
 * ```ts
 * // Bring your own handle (tests, shared connections); the ledger will not close it.
 * import Database from "better-sqlite3";
 * const ledger = createSqliteLedger({ database: new Database(":memory:"), now: () => 0 });
 * ```
 */
export function createSqliteLedger(options: SqliteLedgerOptions): SqliteLedger {
  const {
    path,
    database: handle,
    synchronous,
    readonly,
    busyTimeoutMs,
    maxQueuedRecords,
    queueWaitMs,
    closeTimeoutMs,
    onWriteFailure = warnLedgerFailure,
    storeTaskText,
    now,
    generateId = () => timeOrderedId(now()),
  } = parseConfig("createSqliteLedger options", sqliteLedgerOptionsSchema, options);
  const ownsDatabase = handle === undefined;
  const database = handle ?? openFile(path ?? ":memory:", readonly);
  try {
    const schemaVersion = prepareSchema(database, { synchronous, busyTimeoutMs });
    return buildLedger({
      database,
      ownsDatabase,
      schemaVersion,
      storeTaskText,
      now,
      generateId,
      queue: { busyTimeoutMs, maxQueuedRecords, queueWaitMs, closeTimeoutMs, onWriteFailure },
    });
  } catch (error) {
    if (ownsDatabase) database.close();
    if (LedgerError.isInstance(error)) throw error;
    throw new LedgerError("open", `could not set up ${database.name}`, { cause: error });
  }
}

function openFile(path: string, readonly: boolean): Database.Database {
  // better-sqlite3 is an optional peer, loaded on the first open (not on import).
  const BetterSqlite3 = requirePeer<typeof Database>("better-sqlite3", "langchain-gavel/sqlite");
  try {
    return new BetterSqlite3(path, { readonly, fileMustExist: readonly });
  } catch (error) {
    throw new LedgerError("open", `could not open ${path}${readonly ? " read-only" : ""}`, { cause: error });
  }
}

/** Set the connection's pragmas and bring the schema up to date. Returns the schema version. */
function prepareSchema(
  database: Database.Database,
  settings: { synchronous: "normal" | "full"; busyTimeoutMs: number },
): number {
  database.pragma(`busy_timeout = ${settings.busyTimeoutMs}`);
  database.pragma("foreign_keys = ON");
  if (database.readonly) {
    const version = checkLedgerFile(database);
    if (version === 0) {
      throw new LedgerError("open", `${database.name} is not a Gavel ledger (it has no ledger schema).`);
    }
    if (version !== LEDGER_SCHEMA_VERSION) {
      throw new LedgerError(
        "open",
        `${database.name} has ledger schema version ${version}, older than ${LEDGER_SCHEMA_VERSION}; open it writable once to migrate it.`,
      );
    }
    return version;
  }
  // journal_mode is persistent in the file; an in-memory database answers "memory" and stays so.
  database.pragma("journal_mode = WAL");
  database.pragma(`synchronous = ${settings.synchronous.toUpperCase()}`);
  migrateLedger(database);
  return LEDGER_SCHEMA_VERSION;
}

// ---------------------------------------------------------------------------
// Statements
// ---------------------------------------------------------------------------

const SPEND_KEY: Record<SpendGrouping, string> = {
  model: "model",
  agent: "agent",
  scope: "scope_kind || ':' || scope_id",
  // A tool call is charged as model "tool:<name>" (see src/budget/tool-prices.ts); model calls: NULL.
  tool: "CASE WHEN substr(model, 1, 5) = 'tool:' THEN substr(model, 6) END",
};

function spendSql(by: SpendGrouping): string {
  return `
    SELECT ${SPEND_KEY[by]} AS key, COUNT(*) AS calls,
           SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
           SUM(usd) AS usd, SUM(estimated) AS estimated_calls, MIN(at) AS first_at, MAX(at) AS last_at
    FROM charges
    WHERE kind = 'settle' AND at >= @since AND at < @until
    GROUP BY key
    ORDER BY usd DESC, key`;
}

/** The group key of an overhead row; `c` is the charge, `a` its auction (when recorded). */
const OVERHEAD_KEY: Record<OverheadGrouping, string> = {
  run: "COALESCE(CASE WHEN c.scope_kind = 'run' THEN c.scope_id END, CASE WHEN a.scope_kind = 'run' THEN a.scope_id END)",
  auction: "c.auction_id",
  model: "c.model",
};

const OVERHEAD_FILTER = `
    FROM charges c LEFT JOIN auctions a ON a.id = c.auction_id
    WHERE c.kind = 'settle' AND c.at >= @since AND c.at < @until AND (@kind IS NULL OR a.kind = @kind)`;

/** Settled charges summed by (group key, label); `foldOverhead` turns them into rows. */
function overheadPartsSql(by: OverheadGrouping): string {
  return `
    SELECT ${OVERHEAD_KEY[by]} AS key, c.label AS label, COUNT(*) AS calls,
           SUM(c.input_tokens + c.output_tokens) AS tokens, SUM(c.usd) AS usd,
           SUM(c.estimated) AS estimated_calls, MIN(c.at) AS first_at, MAX(c.at) AS last_at
    ${OVERHEAD_FILTER}
    GROUP BY key, label`;
}

/** Distinct linked auctions by group key. */
function overheadAuctionsSql(by: OverheadGrouping): string {
  return `SELECT ${OVERHEAD_KEY[by]} AS key, COUNT(DISTINCT c.auction_id) AS auctions ${OVERHEAD_FILTER} GROUP BY key`;
}

/** Every statement the ledger runs, prepared once. */
function prepareStatements(database: Database.Database) {
  return {
    insertAuction: database.prepare(`
      INSERT INTO auctions (id, created_at, kind, mechanism, scope_kind, scope_id, task, task_hash,
                            clearing_price, seed, reserve_price, winners, bid_count, metadata)
      VALUES (@id, @created_at, @kind, @mechanism, @scope_kind, @scope_id, @task, @task_hash,
              @clearing_price, @seed, @reserve_price, @winners, @bid_count, @metadata)`),
    insertBid: database.prepare(`
      INSERT INTO bids (auction_id, bidder, rank, amount, value, tokens, won, price, reason, detail, meta)
      VALUES (@auction_id, @bidder, @rank, @amount, @value, @tokens, @won, @price, @reason, @detail, @meta)`),
    insertCharge: database.prepare(`
      INSERT INTO charges (id, at, kind, model, agent, scope_kind, scope_id, input_tokens, output_tokens,
                           usd, estimated, auction_id, reservation_id, label, metadata)
      VALUES (@id, @at, @kind, @model, @agent, @scope_kind, @scope_id, @input_tokens, @output_tokens,
              @usd, @estimated, @auction_id, @reservation_id, @label, @metadata)`),
    upsertOutcome: database.prepare(`
      INSERT INTO outcomes (auction_id, recorded_at, correct, score, label, metadata)
      VALUES (@auction_id, @recorded_at, @correct, @score, @label, @metadata)
      ON CONFLICT (auction_id) DO UPDATE SET recorded_at = excluded.recorded_at, correct = excluded.correct,
        score = excluded.score, label = excluded.label, metadata = excluded.metadata`),
    upsertBudget: database.prepare(`
      INSERT INTO budgets (scope_kind, scope_id, max_tokens, max_usd, label, defined_at)
      VALUES (@scope_kind, @scope_id, @max_tokens, @max_usd, @label, @defined_at)
      ON CONFLICT (scope_kind, scope_id) DO UPDATE SET max_tokens = excluded.max_tokens,
        max_usd = excluded.max_usd, label = excluded.label, defined_at = excluded.defined_at`),
    insertSnapshot: database.prepare("INSERT INTO budget_snapshots (taken_at, label) VALUES (@taken_at, @label)"),
    insertSnapshotAccount: database.prepare(`
      INSERT INTO budget_snapshot_accounts (snapshot_id, scope_kind, scope_id, max_tokens, max_usd,
                                            spent_tokens, spent_usd, reserved_tokens, reserved_usd)
      VALUES (@snapshot_id, @scope_kind, @scope_id, @max_tokens, @max_usd,
              @spent_tokens, @spent_usd, @reserved_tokens, @reserved_usd)`),

    spend: {
      model: database.prepare<[TimeBounds], Rows["spend"]>(spendSql("model")),
      agent: database.prepare<[TimeBounds], Rows["spend"]>(spendSql("agent")),
      scope: database.prepare<[TimeBounds], Rows["spend"]>(spendSql("scope")),
      tool: database.prepare<[TimeBounds], Rows["spend"]>(spendSql("tool")),
    },
    overhead: {
      run: overheadStatements(database, "run"),
      auction: overheadStatements(database, "auction"),
      model: overheadStatements(database, "model"),
    },
    winRates: database.prepare<[TimeBounds & { kind: string | null }], Rows["winRate"]>(`
      SELECT b.bidder AS bidder, COUNT(*) AS auctions, SUM(b.won) AS wins,
             AVG(CASE WHEN b.won = 1 THEN b.price END) AS mean_price_paid, SUM(b.price) AS total_paid
      FROM bids b JOIN auctions a ON a.id = b.auction_id
      WHERE a.created_at >= @since AND a.created_at < @until AND (@kind IS NULL OR a.kind = @kind)
      GROUP BY b.bidder
      ORDER BY wins DESC, auctions DESC, bidder`),
    auction: database.prepare<[string], Rows["auction"]>("SELECT * FROM auctions WHERE id = ?"),
    bidsOf: database.prepare<[string], Rows["bid"]>("SELECT * FROM bids WHERE auction_id = ? ORDER BY rank, bidder"),
    chargesOf: database.prepare<[string], Rows["charge"]>(
      "SELECT * FROM charges WHERE auction_id = ? ORDER BY at, rowid",
    ),
    outcomeOf: database.prepare<[string], Rows["outcome"]>("SELECT * FROM outcomes WHERE auction_id = ?"),
    recent: database.prepare<[{ limit: number; kind: string | null }], Rows["recent"]>(`
      SELECT a.*,
             (SELECT COALESCE(SUM(c.usd), 0) FROM charges c WHERE c.auction_id = a.id AND c.kind = 'settle') AS spent_usd,
             (SELECT COALESCE(SUM(c.input_tokens + c.output_tokens), 0) FROM charges c
               WHERE c.auction_id = a.id AND c.kind = 'settle') AS spent_tokens
      FROM auctions a
      WHERE (@kind IS NULL OR a.kind = @kind)
      ORDER BY a.created_at DESC, a.rowid DESC
      LIMIT @limit`),
    budgets: database.prepare<[], Rows["budget"]>("SELECT * FROM budgets ORDER BY scope_kind, scope_id"),
    latestSnapshot: database.prepare<[], Rows["snapshot"]>(
      "SELECT * FROM budget_snapshots ORDER BY taken_at DESC, id DESC LIMIT 1",
    ),
    snapshotAccounts: database.prepare<[number], Rows["snapshotAccount"]>(
      "SELECT * FROM budget_snapshot_accounts WHERE snapshot_id = ? ORDER BY scope_kind, scope_id",
    ),
  };
}

function overheadStatements(database: Database.Database, by: OverheadGrouping) {
  return {
    parts: database.prepare<[TimeBounds & { kind: string | null }], Rows["overhead"]>(overheadPartsSql(by)),
    auctions: database.prepare<[TimeBounds & { kind: string | null }], { key: string | null; auctions: number }>(
      overheadAuctionsSql(by),
    ),
  };
}

// ---------------------------------------------------------------------------
// The ledger
// ---------------------------------------------------------------------------

interface LedgerParts {
  database: Database.Database;
  ownsDatabase: boolean;
  schemaVersion: number;
  storeTaskText: boolean;
  now: () => number;
  generateId: () => string;
  queue: {
    busyTimeoutMs: number;
    maxQueuedRecords: number;
    queueWaitMs: number;
    closeTimeoutMs: number;
    onWriteFailure: (failure: LedgerWriteFailure) => void;
  };
}

function buildLedger(parts: LedgerParts): SqliteLedger {
  const { database, ownsDatabase, schemaVersion, storeTaskText, now, generateId } = parts;
  const statements = prepareStatements(database);
  /** Set by `close()`: from then on every call rejects, also on an injected handle the ledger leaves open. */
  let closed = false;
  /** Set when `close()` starts: writes are refused while the queue lands what it holds. */
  let closing = false;
  const failures = { failed: 0, dropped: 0 };
  /** Failures already counted and reported, so that a feature handing one back does not count it twice. */
  const reported = new WeakSet<LedgerError>();

  function report(failure: LedgerWriteFailure): void {
    if (reported.has(failure.error)) return;
    reported.add(failure.error);
    failures[failure.kind] += 1;
    try {
      parts.queue.onWriteFailure(failure);
    } catch {
      // A failing callback must not break the write path; the counter still has it.
    }
  }

  const queue = createWriteQueue({ database, ...parts.queue, report });
  /** The close in progress (or done), so that a second `close()` waits for the first. */
  let closedAt: Promise<void> = Promise.resolve();

  /** Hand `job` to the queue: landed or queued when this resolves; refuse once the ledger is closing. */
  async function write(job: WriteJob): Promise<void> {
    if (closing) throw new LedgerError(job.operation, `${job.what}: the ledger is closed`);
    try {
      await queue.submit(job);
    } catch (error) {
      if (LedgerError.isInstance(error)) throw error;
      throw new LedgerError(job.operation, job.what, { cause: error });
    }
  }

  /** Run `work`, turning any failure into a `LedgerError` for `operation`; refuse once the ledger is closed. */
  function guard<T>(operation: LedgerOperation, what: string, work: () => T): T {
    if (closed) throw new LedgerError(operation, `${what}: the ledger is closed`);
    try {
      return work();
    } catch (error) {
      if (LedgerError.isInstance(error)) throw error;
      throw new LedgerError(operation, what, { cause: error });
    }
  }

  function insertAuction(input: AuctionInput, id: string, createdAt: number): void {
    const { outcome } = input;
    const taskHash = input.taskHash ?? (input.task === undefined ? undefined : hashTask(input.task));
    statements.insertAuction.run({
      id,
      created_at: createdAt,
      kind: input.kind,
      mechanism: outcome.mechanism,
      scope_kind: input.scope?.kind ?? null,
      scope_id: input.scope?.id ?? null,
      task: storeTaskText ? (input.task ?? null) : null,
      task_hash: taskHash ?? null,
      clearing_price: outcome.clearingPrice,
      seed: outcome.seed,
      reserve_price: outcome.reservePrice,
      winners: JSON.stringify(outcome.winners),
      bid_count: outcome.results.length,
      metadata: toJson(input.metadata),
    });
    for (const result of outcome.results) {
      statements.insertBid.run({
        auction_id: id,
        bidder: result.bidder,
        rank: result.rank,
        amount: result.amount,
        value: input.values?.[result.bidder] ?? null,
        tokens: result.tokens ?? null,
        won: result.won ? 1 : 0,
        price: result.price,
        reason: result.reason,
        detail: result.detail,
        meta: toJson(result.meta),
      });
    }
  }

  function insertCharge(input: ChargeInput, id: string, at: number): void {
    const scope = input.scope ?? GLOBAL_SCOPE;
    statements.insertCharge.run({
      id,
      at,
      kind: input.kind,
      model: input.model,
      agent: input.agent ?? null,
      scope_kind: scope.kind,
      scope_id: scope.id,
      input_tokens: input.inputTokens,
      output_tokens: input.outputTokens,
      usd: input.usd,
      estimated: input.estimated ? 1 : 0,
      auction_id: input.auctionId ?? null,
      reservation_id: input.reservationId ?? null,
      label: input.label ?? null,
      metadata: toJson(input.metadata),
    });
  }

  /**
   * The ids and times of `inputs`, filled in before the write so that its ids are known when it is
   * queued (beside the inputs, not copies of them: a copy per record slowed batches by about 5%).
   */
  function stamp<Input>(
    inputs: readonly Input[],
    idOf: (input: Input) => string | undefined,
    timeOf: (input: Input) => number | undefined,
  ): Stamped<Input> {
    const ids: string[] = [];
    const times: number[] = [];
    for (const input of inputs) {
      ids.push(idOf(input) ?? generateId());
      times.push(timeOf(input) ?? now());
    }
    return { inputs, ids, times };
  }

  const writeAuctions = database.transaction(({ inputs, ids, times }: Stamped<AuctionInput>) => {
    for (const [index, input] of inputs.entries()) insertAuction(input, ids[index] as string, times[index] as number);
  });
  const writeCharges = database.transaction(({ inputs, ids, times }: Stamped<ChargeInput>) => {
    for (const [index, input] of inputs.entries()) insertCharge(input, ids[index] as string, times[index] as number);
  });
  const writeOutcome = database.transaction((input: OutcomeInput) => {
    statements.upsertOutcome.run({
      auction_id: input.auctionId,
      recorded_at: input.recordedAt ?? now(),
      correct: input.correct === undefined ? null : input.correct ? 1 : 0,
      score: input.score ?? null,
      label: input.label ?? null,
      metadata: toJson(input.metadata),
    });
  });
  const writeBudget = database.transaction((input: BudgetDefinitionInput) => {
    statements.upsertBudget.run({
      scope_kind: input.scope.kind,
      scope_id: input.scope.id,
      max_tokens: input.limits.maxTokens ?? null,
      max_usd: input.limits.maxUsd ?? null,
      label: input.label ?? null,
      defined_at: input.definedAt ?? now(),
    });
  });
  const writeSnapshot = database.transaction((input: BudgetSnapshotInput) => {
    const { lastInsertRowid } = statements.insertSnapshot.run({
      taken_at: input.takenAt ?? now(),
      label: input.label ?? null,
    });
    for (const account of input.accounts) {
      statements.insertSnapshotAccount.run({
        snapshot_id: lastInsertRowid,
        scope_kind: account.scope,
        scope_id: account.scopeId,
        max_tokens: account.limits.maxTokens ?? null,
        max_usd: account.limits.maxUsd ?? null,
        spent_tokens: account.spentTokens,
        spent_usd: account.spentUsd,
        reserved_tokens: account.reservedTokens,
        reserved_usd: account.reservedUsd,
      });
    }
  });

  return {
    database,
    schemaVersion,

    async recordAuction(input) {
      const auction = guard("recordAuction", "could not record an auction", () =>
        stamp([input], auctionIdOf, auctionTimeOf),
      );
      const id = auction.ids[0] as string;
      await write(writeJob("recordAuction", `could not record auction ${id}`, 1, writeAuctions, auction));
      return id;
    },

    async recordAuctions(inputs) {
      const auctions = guard("recordAuctions", `could not record ${inputs.length} auctions`, () =>
        stamp(inputs, auctionIdOf, auctionTimeOf),
      );
      const what = `could not record ${inputs.length} auctions; none was written`;
      await write(writeJob("recordAuctions", what, inputs.length, writeAuctions, auctions));
      return auctions.ids;
    },

    async recordCharge(input) {
      const charge = guard("recordCharge", "could not record a charge", () => stamp([input], chargeIdOf, chargeTimeOf));
      const what = `could not record a ${input.kind} charge for ${input.model}`;
      await write(writeJob("recordCharge", what, 1, writeCharges, charge));
      return charge.ids[0] as string;
    },

    async recordCharges(inputs) {
      const charges = guard("recordCharges", `could not record ${inputs.length} charges`, () =>
        stamp(inputs, chargeIdOf, chargeTimeOf),
      );
      const what = `could not record ${inputs.length} charges; none was written`;
      await write(writeJob("recordCharges", what, inputs.length, writeCharges, charges));
      return charges.ids;
    },

    async recordOutcome(input) {
      const outcome = { ...input, recordedAt: input.recordedAt ?? now() };
      const what = `could not record the outcome of auction ${input.auctionId} (is it recorded?)`;
      await write(writeJob("recordOutcome", what, 1, writeOutcome, outcome));
    },

    async recordBudget(input) {
      const budget = { ...input, definedAt: input.definedAt ?? now() };
      const what = `could not record the budget of ${input.scope.kind}:${input.scope.id}`;
      await write(writeJob("recordBudget", what, 1, writeBudget, budget));
    },

    async recordBudgetSnapshot(input) {
      const snapshot = { ...input, takenAt: input.takenAt ?? now() };
      const what = `could not record a snapshot of ${input.accounts.length} budget accounts`;
      await write(writeJob("recordBudgetSnapshot", what, Math.max(1, input.accounts.length), writeSnapshot, snapshot));
    },

    flush() {
      return queue.flush();
    },

    writeStats() {
      return { ...queue.stats(), ...failures };
    },

    reportWriteFailure(failure) {
      report(failure);
    },

    async spend(query = {}) {
      const by = query.by ?? "model";
      return guard("query", `could not read spend by ${by}`, () =>
        statements.spend[by].all(timeBounds(query)).map((row) => records.spendRow(by, row)),
      );
    },

    async overhead(query = {}) {
      const by = query.by ?? "run";
      return guard("query", `could not read auction overhead by ${by}`, () => {
        const parameters = { ...timeBounds(query), kind: query.kind ?? null };
        const { parts, auctions } = statements.overhead[by];
        const counts = new Map(auctions.all(parameters).map((row) => [row.key, row.auctions]));
        return foldOverhead(by, parts.all(parameters).map(records.overheadPart), counts);
      });
    },

    async winRates(query = {}) {
      return guard("query", "could not read win rates", () =>
        statements.winRates.all({ ...timeBounds(query), kind: query.kind ?? null }).map(records.winRateRow),
      );
    },

    async getAuction(id) {
      return guard("query", `could not read auction ${id}`, () => {
        const row = statements.auction.get(id);
        if (row === undefined) return undefined;
        const outcome = statements.outcomeOf.get(id);
        return records.auctionRecord(row, statements.bidsOf.all(id), statements.chargesOf.all(id), outcome);
      });
    },

    async recentAuctions(query = {}) {
      const limit = recentLimit(query);
      return guard("query", "could not read recent auctions", () =>
        statements.recent
          .all({ limit, kind: query.kind ?? null })
          .map((row) => records.recentAuction(row, statements.outcomeOf.get(row.id))),
      );
    },

    async budgets() {
      return guard("query", "could not read budgets", () => statements.budgets.all().map(records.budgetRecord));
    },

    async latestBudgetSnapshot() {
      return guard("query", "could not read the latest budget snapshot", () => {
        const snapshot = statements.latestSnapshot.get();
        if (snapshot === undefined) return undefined;
        return records.snapshotRecord(snapshot, statements.snapshotAccounts.all(snapshot.id));
      });
    },

    async close() {
      if (closing) {
        await closedAt;
        return;
      }
      closing = true;
      closedAt = (async () => {
        await queue.close(parts.queue.closeTimeoutMs);
        closed = true;
        if (ownsDatabase && database.open) {
          try {
            database.close();
          } catch (error) {
            throw new LedgerError("close", `could not close ${database.name}`, { cause: error });
          }
        }
      })();
      await closedAt;
    },
  };
}

/** Inputs with the ids and times the ledger gave them (the inputs' own when they have them). */
interface Stamped<Input> {
  inputs: readonly Input[];
  ids: string[];
  times: number[];
}

const auctionIdOf = (input: AuctionInput) => input.id;
const auctionTimeOf = (input: AuctionInput) => input.createdAt;
const chargeIdOf = (input: ChargeInput) => input.id;
const chargeTimeOf = (input: ChargeInput) => input.at;

// ---------------------------------------------------------------------------
// Rows and their mapping to records
// ---------------------------------------------------------------------------

interface TimeBounds {
  since: number;
  until: number;
}

function timeBounds(range: { since?: number; until?: number }): TimeBounds {
  return { since: range.since ?? Number.MIN_SAFE_INTEGER, until: range.until ?? Number.MAX_SAFE_INTEGER };
}

function fromJson(text: string): unknown {
  return JSON.parse(text);
}

/** better-sqlite3's column types: numbers, booleans as 0/1, JSON as text. */
interface SqliteColumns {
  number: number;
  flag: number;
  json: string;
}

type Rows = LedgerRows<SqliteColumns>;

const records = ledgerRowMapper<SqliteColumns>({
  number: (value) => value,
  flag: (value) => value === 1,
  json: fromJson,
});
