/**
 * The PostgreSQL budget store: a `BudgetStore` (src/budget/store.ts) that every replica of an app,
 * on any number of hosts, shares through one database.
 *
 * Read top to bottom: options → the schema (tables and the PL/pgSQL functions of the operations) →
 * opening → the operations → row conversion.
 *
 * One round trip per operation. `reserve`, `settle`, `release` and `expire` each call one PL/pgSQL
 * function, created by the migration, in one statement: the function runs in the statement's own
 * transaction, so it commits or rolls back whole, and the client waits for one answer.
 *
 * Why READ COMMITTED and row locks are enough (no SERIALIZABLE, no retries on serialization
 * failures). Every function first locks, `FOR UPDATE`, the account rows it will read or change —
 * sorted by key, so two calls always lock in the same order and never deadlock — and only then
 * reads them. A `reserve` locks its own accounts plus the accounts of the expired reservations it
 * will release; a `settle` / `release` locks the accounts of its reservation before it looks at the
 * reservation's state; `expire` locks the accounts of every expired reservation. So:
 * - whoever holds an account's lock is the only one changing it, its reserved and spent amounts
 *   and the state of any reservation on it (a reservation's state only changes under the locks of
 *   all its accounts);
 * - in READ COMMITTED each statement of a (volatile) PL/pgSQL function takes a fresh snapshot, so
 *   the statements after the lock see every transaction that committed before the lock was granted:
 *   the check of a reserve reads the latest spent and reserved amounts, and nothing can change them
 *   before the function commits. The check-then-hold is therefore atomic across all the accounts of
 *   the reservation, in any number of processes.
 *
 * Connections lost mid-call. A call is one statement in its own transaction: a connection that dies
 * before the commit leaves nothing; one that dies after leaves the whole operation done. Because
 * every operation is idempotent by reservation id (a reserve already held is not held again; a
 * settle or release of a closed reservation changes nothing), the store retries an operation once on
 * a lost connection (`retries`), and a caller may retry it too: nothing is ever charged twice. A
 * reservation whose caller never comes back is released by the first reserve on one of its accounts
 * after its lease (`expiresAt`).
 *
 * Amounts are `bigint` columns; `pg` returns them as strings, converted here to numbers, exact up to
 * `Number.MAX_SAFE_INTEGER` (2^53 − 1): 9 × 10^15 tokens, or about 9 million USD in nano-USD, per
 * account. A larger total is reported as an error, never rounded.
 */
import type { Pool, QueryConfig } from "pg";
import { z } from "zod";
import { BudgetStoreError, type BudgetStoreOperation } from "../../src/budget/errors.js";
import type {
  BudgetStore,
  ExpiredReservation,
  StoreAccountState,
  StoreCloseResult,
  StoreRefusal,
  StoreReservationState,
  StoreReserveResult,
} from "../../src/budget/store.js";
import type { BudgetScope } from "../../src/budget/types.js";
import { parseConfig } from "../../src/errors.js";
import { connectPostgres, type PostgresConnection, postgresConnectionOptionsSchema } from "./connection.js";
import { migratePostgres } from "./migrations.js";

// ---------------------------------------------------------------------------
// Options and errors
// ---------------------------------------------------------------------------

/**
 * How many times an operation is retried, by default, after its connection was lost.
 *
 * @example
 * ```ts
 * await createPostgresBudgetStore({ connectionString, retries: DEFAULT_BUDGET_STORE_RETRIES + 2 });
 * ```
 */
export const DEFAULT_BUDGET_STORE_RETRIES = 1;

const postgresBudgetStoreOptionsSchema = postgresConnectionOptionsSchema
  .extend({
    /**
     * Retries of an operation whose connection was lost (or, never expected, that was chosen as a
     * deadlock victim). Safe: every operation is idempotent by reservation id.
     */
    retries: z.number().int().min(0).max(10).default(DEFAULT_BUDGET_STORE_RETRIES),
  })
  .strict();

/**
 * Options of {@link createPostgresBudgetStore}: the connection (`connectionString` or `pool`,
 * `schema`, `connectTimeoutMs`, `maxConnections`) and `retries`.
 *
 * @example
 * ```ts
 * const options: PostgresBudgetStoreOptions = { connectionString: process.env.DATABASE_URL, schema: "gavel", maxConnections: 4 };
 * ```
 */
export type PostgresBudgetStoreOptions = z.input<typeof postgresBudgetStoreOptionsSchema>;

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

/** Frees, in every account, the holds of the open reservations expired at `p_now` that `condition` selects; their JSON into `v_expired`. */
const releaseExpired = (condition: string) => `
  WITH expired AS (
    UPDATE {schema}.gavel_budget_reservations r SET state = 'expired', closed_at = p_now
    WHERE r.state = 'open' AND r.expires_at <= p_now AND ${condition}
    RETURNING r.*
  ), freed AS (
    SELECT k AS key, sum(e.tokens) AS tokens, sum(e.nano_usd) AS nano_usd
    FROM expired e, unnest(e.account_keys) AS k GROUP BY k
  ), unheld AS (
    UPDATE {schema}.gavel_budget_accounts a
    SET reserved_tokens = a.reserved_tokens - f.tokens, reserved_nano_usd = a.reserved_nano_usd - f.nano_usd
    FROM freed f WHERE a.key = f.key
  )
  SELECT coalesce(jsonb_agg(jsonb_build_object(
           'id', e.id, 'model', e.model, 'label', e.label, 'tokens', e.tokens, 'nanoUsd', e.nano_usd,
           'scopes', e.scopes, 'scopeIds', e.scope_ids, 'createdAt', e.created_at, 'expiresAt', e.expires_at)
         ORDER BY e.created_at, e.id), '[]'::jsonb)
  INTO v_expired FROM expired e;`;

/** Locks, in key order, the accounts whose keys are in `v_lock_keys` (the one lock order of every function). */
const LOCK_ACCOUNTS = `
  PERFORM 1 FROM {schema}.gavel_budget_accounts WHERE key = ANY (v_lock_keys) ORDER BY key FOR UPDATE;`;

/**
 * The budget store's migration steps (`migratePostgres(connection, "budget", ...)`), oldest first.
 * Append-only: never edit a released step, add the next.
 *
 * @example
 * ```ts
 * await migratePostgres(connection, "budget", POSTGRES_BUDGET_STORE_MIGRATIONS); // what createPostgresBudgetStore runs
 * ```
 */
export const POSTGRES_BUDGET_STORE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE {schema}.gavel_budget_accounts (
    key               text PRIMARY KEY,  -- scope || ':' || scope_id
    scope             text NOT NULL,
    scope_id          text NOT NULL,
    spent_tokens      bigint NOT NULL DEFAULT 0,
    spent_nano_usd    bigint NOT NULL DEFAULT 0,
    reserved_tokens   bigint NOT NULL DEFAULT 0,
    reserved_nano_usd bigint NOT NULL DEFAULT 0
  ) WITH (fillfactor = 50);  -- room on the page keeps the hot accounts' updates HOT

  CREATE TABLE {schema}.gavel_budget_reservations (
    id             text PRIMARY KEY,
    state          text NOT NULL CHECK (state IN ('open', 'settled', 'released', 'expired')),
    scopes         text[] NOT NULL,  -- the accounts, in the request's order
    scope_ids      text[] NOT NULL,
    account_keys   text[] NOT NULL,
    tokens         bigint NOT NULL,
    nano_usd       bigint NOT NULL,
    model          text NOT NULL,
    label          text,
    created_at     bigint NOT NULL,  -- epoch ms
    expires_at     bigint NOT NULL,
    closed_at      bigint,
    spent_tokens   bigint,
    spent_nano_usd bigint
  );
  -- Only open reservations are indexed: the expired ones a reserve looks for are few (crashed callers).
  CREATE INDEX gavel_budget_reservations_open ON {schema}.gavel_budget_reservations (expires_at) WHERE state = 'open';

  CREATE FUNCTION {schema}.gavel_budget_reserve(
    p_id text, p_scopes text[], p_scope_ids text[], p_max_tokens bigint[], p_max_nano_usd bigint[],
    p_tokens bigint, p_nano_usd bigint, p_model text, p_label text,
    p_created_at bigint, p_expires_at bigint, p_now bigint
  ) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $function$
  DECLARE
    v_keys text[];
    v_lock_keys text[];
    v_expired jsonb;
    v_refusal jsonb;
  BEGIN
    SELECT coalesce(array_agg(s || ':' || d), '{}') INTO v_keys FROM unnest(p_scopes, p_scope_ids) AS q(s, d);
    -- The accounts of the expired reservations this call releases are locked too (read before the
    -- locks; one that expires in between is left to the next call).
    SELECT coalesce(array_agg(DISTINCT k), '{}') INTO v_lock_keys
    FROM {schema}.gavel_budget_reservations r, unnest(r.account_keys) AS k
    WHERE r.state = 'open' AND r.expires_at <= p_now AND r.account_keys && v_keys;
    v_lock_keys := v_lock_keys || v_keys;
    INSERT INTO {schema}.gavel_budget_accounts (key, scope, scope_id)
    SELECT DISTINCT ON (s || ':' || d) s || ':' || d, s, d FROM unnest(p_scopes, p_scope_ids) AS q(s, d)
    ORDER BY s || ':' || d
    ON CONFLICT (key) DO NOTHING;
    ${LOCK_ACCOUNTS}
    ${releaseExpired("r.account_keys && v_keys AND r.account_keys <@ v_lock_keys")}
    IF EXISTS (SELECT 1 FROM {schema}.gavel_budget_reservations WHERE id = p_id) THEN
      RETURN jsonb_build_object('expired', v_expired);  -- a retry: held already (or closed)
    END IF;
    -- The first account, in the request's order, without room; tokens before USD.
    SELECT CASE
             WHEN q.max_tokens IS NOT NULL AND a.spent_tokens + a.reserved_tokens + p_tokens > q.max_tokens THEN
               jsonb_build_object('scope', q.s, 'scopeId', q.d, 'unit', 'tokens', 'limit', q.max_tokens,
                                  'spent', a.spent_tokens, 'reserved', a.reserved_tokens, 'requested', p_tokens)
             ELSE
               jsonb_build_object('scope', q.s, 'scopeId', q.d, 'unit', 'usd', 'limit', q.max_nano_usd,
                                  'spent', a.spent_nano_usd, 'reserved', a.reserved_nano_usd, 'requested', p_nano_usd)
           END
    INTO v_refusal
    FROM unnest(p_scopes, p_scope_ids, p_max_tokens, p_max_nano_usd) WITH ORDINALITY AS q(s, d, max_tokens, max_nano_usd, n)
    JOIN {schema}.gavel_budget_accounts a ON a.key = q.s || ':' || q.d
    WHERE (q.max_tokens IS NOT NULL AND a.spent_tokens + a.reserved_tokens + p_tokens > q.max_tokens)
       OR (q.max_nano_usd IS NOT NULL AND a.spent_nano_usd + a.reserved_nano_usd + p_nano_usd > q.max_nano_usd)
    ORDER BY q.n LIMIT 1;
    IF v_refusal IS NOT NULL THEN
      RETURN jsonb_build_object('expired', v_expired, 'refusal', v_refusal);
    END IF;
    INSERT INTO {schema}.gavel_budget_reservations
      (id, state, scopes, scope_ids, account_keys, tokens, nano_usd, model, label, created_at, expires_at)
    VALUES (p_id, 'open', p_scopes, p_scope_ids, v_keys, p_tokens, p_nano_usd, p_model, p_label, p_created_at, p_expires_at);
    UPDATE {schema}.gavel_budget_accounts
    SET reserved_tokens = reserved_tokens + p_tokens, reserved_nano_usd = reserved_nano_usd + p_nano_usd
    WHERE key = ANY (v_keys);
    RETURN jsonb_build_object('expired', v_expired);
  END
  $function$;

  -- Settle (p_settle) or release a reservation, once. Answers 'settled', 'late', 'released',
  -- 'unknown', or 'closed:<state>' when it was closed before.
  CREATE FUNCTION {schema}.gavel_budget_close(
    p_id text, p_settle boolean, p_tokens bigint, p_nano_usd bigint, p_now bigint
  ) RETURNS text LANGUAGE plpgsql VOLATILE AS $function$
  DECLARE
    v_lock_keys text[];
    v_state text;
    v_tokens bigint;
    v_nano_usd bigint;
  BEGIN
    SELECT account_keys, state INTO v_lock_keys, v_state FROM {schema}.gavel_budget_reservations WHERE id = p_id;
    IF NOT FOUND THEN RETURN 'unknown'; END IF;
    IF v_state IN ('settled', 'released') OR (v_state = 'expired' AND NOT p_settle) THEN
      RETURN 'closed:' || v_state;  -- final states: no lock needed
    END IF;
    ${LOCK_ACCOUNTS}
    -- Read again under the locks: another call may have closed or expired it meanwhile.
    SELECT state, tokens, nano_usd INTO v_state, v_tokens, v_nano_usd FROM {schema}.gavel_budget_reservations WHERE id = p_id;
    IF v_state IN ('settled', 'released') OR (v_state = 'expired' AND NOT p_settle) THEN
      RETURN 'closed:' || v_state;
    END IF;
    UPDATE {schema}.gavel_budget_accounts
    SET reserved_tokens = reserved_tokens - CASE WHEN v_state = 'open' THEN v_tokens ELSE 0 END,
        reserved_nano_usd = reserved_nano_usd - CASE WHEN v_state = 'open' THEN v_nano_usd ELSE 0 END,
        spent_tokens = spent_tokens + CASE WHEN p_settle THEN p_tokens ELSE 0 END,
        spent_nano_usd = spent_nano_usd + CASE WHEN p_settle THEN p_nano_usd ELSE 0 END
    WHERE key = ANY (v_lock_keys);
    UPDATE {schema}.gavel_budget_reservations
    SET state = CASE WHEN p_settle THEN 'settled' ELSE 'released' END, closed_at = p_now,
        spent_tokens = CASE WHEN p_settle THEN p_tokens END, spent_nano_usd = CASE WHEN p_settle THEN p_nano_usd END
    WHERE id = p_id;
    RETURN CASE WHEN NOT p_settle THEN 'released' WHEN v_state = 'expired' THEN 'late' ELSE 'settled' END;
  END
  $function$;

  -- A batch of reserves ('r'), settles ('s') and releases ('x') of one process, applied in order in
  -- one transaction (one commit for the batch): the union of their accounts is locked first, in key
  -- order, then each operation runs as gavel_budget_reserve / gavel_budget_close would alone.
  -- p_scopes / p_scope_ids: the reserves' accounts; p_close_ids: the reservations settled or released;
  -- p_now: the latest time of the batch. Answers one result per operation, in order.
  CREATE FUNCTION {schema}.gavel_budget_apply(
    p_ops jsonb, p_scopes text[], p_scope_ids text[], p_close_ids text[], p_now bigint
  ) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $function$
  DECLARE
    v_keys text[];
    v_lock_keys text[];
    v_op jsonb;
    v_results jsonb := '[]'::jsonb;
  BEGIN
    SELECT coalesce(array_agg(s || ':' || d), '{}') INTO v_keys FROM unnest(p_scopes, p_scope_ids) AS q(s, d);
    SELECT coalesce(array_agg(DISTINCT k), '{}') INTO v_lock_keys FROM (
      SELECT unnest(v_keys) AS k
      UNION SELECT unnest(r.account_keys) FROM {schema}.gavel_budget_reservations r WHERE r.id = ANY (p_close_ids)
      UNION SELECT unnest(r.account_keys) FROM {schema}.gavel_budget_reservations r
            WHERE r.state = 'open' AND r.expires_at <= p_now AND r.account_keys && v_keys
    ) AS touched;
    INSERT INTO {schema}.gavel_budget_accounts (key, scope, scope_id)
    SELECT DISTINCT ON (s || ':' || d) s || ':' || d, s, d FROM unnest(p_scopes, p_scope_ids) AS q(s, d)
    ORDER BY s || ':' || d
    ON CONFLICT (key) DO NOTHING;
    ${LOCK_ACCOUNTS}
    FOR v_op IN SELECT op FROM jsonb_array_elements(p_ops) WITH ORDINALITY AS o(op, n) ORDER BY n LOOP
      IF v_op->>'k' = 'r' THEN
        v_results := v_results || jsonb_build_array({schema}.gavel_budget_reserve(
          v_op->>'id',
          ARRAY(SELECT x FROM jsonb_array_elements_text(v_op->'scopes') WITH ORDINALITY AS t(x, n) ORDER BY n),
          ARRAY(SELECT x FROM jsonb_array_elements_text(v_op->'scopeIds') WITH ORDINALITY AS t(x, n) ORDER BY n),
          ARRAY(SELECT x::bigint FROM jsonb_array_elements_text(v_op->'maxTokens') WITH ORDINALITY AS t(x, n) ORDER BY n),
          ARRAY(SELECT x::bigint FROM jsonb_array_elements_text(v_op->'maxNanoUsd') WITH ORDINALITY AS t(x, n) ORDER BY n),
          (v_op->>'tokens')::bigint, (v_op->>'nanoUsd')::bigint, v_op->>'model', v_op->>'label',
          (v_op->>'createdAt')::bigint, (v_op->>'expiresAt')::bigint, (v_op->>'now')::bigint));
      ELSE
        v_results := v_results || jsonb_build_array({schema}.gavel_budget_close(
          v_op->>'id', v_op->>'k' = 's', (v_op->>'tokens')::bigint, (v_op->>'nanoUsd')::bigint, (v_op->>'now')::bigint));
      END IF;
    END LOOP;
    RETURN v_results;
  END
  $function$;

  -- Release every reservation expired at p_now, whatever its accounts.
  CREATE FUNCTION {schema}.gavel_budget_expire(p_now bigint) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $function$
  DECLARE
    v_lock_keys text[];
    v_expired jsonb;
  BEGIN
    SELECT coalesce(array_agg(DISTINCT k), '{}') INTO v_lock_keys
    FROM {schema}.gavel_budget_reservations r, unnest(r.account_keys) AS k
    WHERE r.state = 'open' AND r.expires_at <= p_now;
    IF cardinality(v_lock_keys) = 0 THEN RETURN '[]'::jsonb; END IF;
    ${LOCK_ACCOUNTS}
    ${releaseExpired("r.account_keys <@ v_lock_keys")}
    RETURN v_expired;
  END
  $function$;
  `,
];

// ---------------------------------------------------------------------------
// Opening
// ---------------------------------------------------------------------------

/**
 * A {@link BudgetStore} on PostgreSQL, with the pool it uses and the schema of its tables.
 *
 * @example
 * ```ts
 * const store: PostgresBudgetStore = await createPostgresBudgetStore({ connectionString, schema: "gavel" });
 * store.schema; // "gavel"
 * await store.pool.query("SELECT count(*) FROM gavel.gavel_budget_reservations WHERE state = 'open'");
 * ```
 */
export interface PostgresBudgetStore extends BudgetStore {
  /** The pool: the app's own when it gave one, else the one the store opened (ended by `close()`). */
  readonly pool: Pool;
  /** The schema of the store's tables and functions. */
  readonly schema: string;
}

/**
 * Connect to PostgreSQL, create or migrate the store's tables and functions in `schema`, and return
 * the store. Every replica that connects to the same database and schema shares the same accounts;
 * the limits hold across all of them.
 *
 * @param options - `connectionString` or `pool`; `schema` (default `"public"`), `connectTimeoutMs`,
 *   `maxConnections` (of a pool the store opens; default 10), `retries` after a lost connection
 *   (default 1).
 * @returns The store, ready; `close()` ends the pool it opened (a given pool is left open).
 * @throws ConfigError naming the field when an option is invalid.
 * @throws PostgresConnectionError (host, port and database named, never the password) when the
 *   server cannot be reached within `connectTimeoutMs`.
 * @throws PostgresSchemaVersionError when the schema holds budget tables of a newer Gavel.
 * @throws MissingPeerDependencyError when `pg` is not installed.
 *
 * @example
 * ```ts
 * import { createTokenBudget } from "langchain-gavel";
 * import { createPostgresBudgetStore } from "langchain-gavel/postgres";
 *
 * const store = await createPostgresBudgetStore({ connectionString: process.env.DATABASE_URL, schema: "gavel" });
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 50 }, run: { maxUsd: 0.5 } }, store, leaseMs: 120_000 });
 * // ... on shutdown
 * await store.close();
 * ```
 *
 * @example
 * ```ts
 * // The app's pool, shared with its own queries; the store leaves it open.
 * import pg from "pg";
 * const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 20 });
 * const store = await createPostgresBudgetStore({ pool });
 * ```
 */
export async function createPostgresBudgetStore(options: PostgresBudgetStoreOptions): Promise<PostgresBudgetStore> {
  const { retries, ...connectionOptions } = parseConfig(
    "PostgreSQL budget store options",
    postgresBudgetStoreOptionsSchema,
    options,
  );
  const connection = await connectPostgres("PostgreSQL budget store", connectionOptions);
  try {
    await migratePostgres(connection, "budget", POSTGRES_BUDGET_STORE_MIGRATIONS);
  } catch (error) {
    await connection.close().catch(() => {});
    throw error;
  }
  return buildStore(connection, retries);
}

// ---------------------------------------------------------------------------
// The operations
// ---------------------------------------------------------------------------

/** SQLSTATEs after which an idempotent operation is retried: lost connections, server shutdown, deadlock victim. */
const RETRYABLE_CODES = new Set(["57P01", "57P02", "57P03", "40P01", "40001"]);

function isRetryable(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === "string") return RETRYABLE_CODES.has(code) || code.startsWith("08");
  // A socket that died mid-query: pg rejects with "Connection terminated ..." and no SQLSTATE.
  return (
    typeof message === "string" &&
    /connection terminated|ECONNRESET|EPIPE|Client has encountered a connection error/i.test(message)
  );
}

function buildStore(connection: PostgresConnection, retries: number): PostgresBudgetStore {
  const { pool, schema, quotedSchema } = connection;
  const accountsTable = connection.table("gavel_budget_accounts");
  const reservationsTable = connection.table("gavel_budget_reservations");
  // Named statements are parsed and planned once per connection; the schema is part of the name, so
  // stores of two schemas can share a pool.
  const statement = (name: string, text: string, values: unknown[]): QueryConfig => ({
    name: `gavel_budget_${name}:${schema}`,
    text,
    values,
  });
  const sql = {
    reserve: `SELECT ${quotedSchema}.gavel_budget_reserve($1, $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6, $7, $8, $9, $10, $11, $12) AS result`,
    close: `SELECT ${quotedSchema}.gavel_budget_close($1, $2, $3, $4, $5) AS result`,
    apply: `SELECT ${quotedSchema}.gavel_budget_apply($1::jsonb, $2::text[], $3::text[], $4::text[], $5) AS result`,
    expire: `SELECT ${quotedSchema}.gavel_budget_expire($1) AS result`,
    accounts: `
      SELECT q.s AS scope, q.d AS scope_id,
             coalesce(a.spent_tokens, 0) AS spent_tokens, coalesce(a.spent_nano_usd, 0) AS spent_nano_usd,
             coalesce(a.reserved_tokens, 0) AS reserved_tokens, coalesce(a.reserved_nano_usd, 0) AS reserved_nano_usd
      FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS q(s, d, n)
      LEFT JOIN ${accountsTable} a ON a.key = q.s || ':' || q.d
      ORDER BY q.n`,
    snapshot: `SELECT scope, scope_id, spent_tokens, spent_nano_usd, reserved_tokens, reserved_nano_usd FROM ${accountsTable} ORDER BY key`,
    state: `SELECT state FROM ${reservationsTable} WHERE id = $1`,
  };

  let closed = false;
  /** Run one query, retried after a lost connection; driver errors become BudgetStoreErrors. */
  const query = async <Row extends object>(operation: BudgetStoreOperation, config: QueryConfig) => {
    for (let attempt = 0; ; attempt += 1) {
      if (closed) throw new BudgetStoreError(operation, `the budget store on ${connection.describe} is closed`);
      try {
        return (await pool.query<Row>(config)).rows;
      } catch (error) {
        if (attempt < retries && isRetryable(error)) continue;
        throw new BudgetStoreError(
          operation,
          `${operation} failed on the PostgreSQL budget store (${connection.describe}, schema "${schema}")`,
          { cause: error },
        );
      }
    }
  };

  // Writes are batched: while one call is on its way, the reserves, settles and releases that arrive
  // wait and then go together, as one call of gavel_budget_apply in one transaction. Under load this
  // turns N commits on the hot (global) account into one; alone, a call goes at once, by itself.
  const queue: PendingWrite[] = [];
  let writing = false;
  const write = <T extends WriteOperation>(operation: T) =>
    new Promise<WriteAnswer<T>>((resolve, reject) => {
      queue.push({ operation, resolve: resolve as (answer: ReserveJson | string) => void, reject });
      flush();
    });
  const flush = () => {
    if (writing || queue.length === 0) return;
    writing = true;
    const batch = queue.splice(0, MAX_BATCH);
    applyBatch(batch)
      .catch(() => {}) // each write got its own rejection
      .finally(() => {
        writing = false;
        flush();
      });
  };
  const applyBatch = async (batch: PendingWrite[]) => {
    const first = batch[0] as PendingWrite;
    const operationName = (write: WriteOperation): BudgetStoreOperation =>
      write.k === "r" ? "reserve" : write.k === "s" ? "settle" : "release";
    try {
      if (batch.length === 1) {
        const op = first.operation;
        const config =
          op.k === "r"
            ? statement("reserve", sql.reserve, [
                op.id,
                op.scopes,
                op.scopeIds,
                op.maxTokens,
                op.maxNanoUsd,
                op.tokens,
                op.nanoUsd,
                op.model,
                op.label,
                op.createdAt,
                op.expiresAt,
                op.now,
              ])
            : statement("close", sql.close, [op.id, op.k === "s", op.tokens, op.nanoUsd, op.now]);
        const [row] = await query<{ result: ReserveJson | string }>(operationName(op), config);
        first.resolve(row?.result ?? (op.k === "r" ? { expired: [] } : "unknown"));
        return;
      }
      const operations = batch.map((pending) => pending.operation);
      const reserves = operations.filter((op): op is ReserveOperation => op.k === "r");
      const [row] = await query<{ result: Array<ReserveJson | string> }>(
        operationName(first.operation),
        statement("apply", sql.apply, [
          JSON.stringify(operations),
          reserves.flatMap((op) => op.scopes),
          reserves.flatMap((op) => op.scopeIds),
          operations.filter((op) => op.k !== "r").map((op) => op.id),
          Math.max(...operations.map((op) => op.now)),
        ]),
      );
      const results = row?.result ?? [];
      batch.forEach((pending, index) => {
        const result = results[index];
        if (result === undefined) {
          pending.reject(
            new BudgetStoreError(operationName(pending.operation), "the batch answered fewer results than writes"),
          );
        } else pending.resolve(result);
      });
    } catch (error) {
      for (const pending of batch) {
        pending.reject(
          BudgetStoreError.isInstance(error) && pending !== first
            ? new BudgetStoreError(operationName(pending.operation), error.message, { cause: error.cause })
            : error,
        );
      }
      throw error;
    }
  };

  const close = async (id: string, spent: { tokens: number; nanoUsd: number } | undefined, now: number) => {
    const operation = spent ? "settle" : "release";
    if (spent) {
      checkAmount(operation, "tokens", spent.tokens);
      checkAmount(operation, "nanoUsd", spent.nanoUsd);
    }
    if (closed) throw new BudgetStoreError(operation, `the budget store on ${connection.describe} is closed`);
    const answer = await write({
      k: spent ? "s" : "x",
      id,
      tokens: spent?.tokens ?? 0,
      nanoUsd: spent?.nanoUsd ?? 0,
      now,
    });
    return toCloseResult(answer);
  };

  return {
    pool,
    schema,

    async reserve(reservation, now) {
      checkAmount("reserve", "tokens", reservation.tokens);
      checkAmount("reserve", "nanoUsd", reservation.nanoUsd);
      if (closed) throw new BudgetStoreError("reserve", `the budget store on ${connection.describe} is closed`);
      const { accounts } = reservation;
      const answer = await write({
        k: "r",
        id: reservation.id,
        scopes: accounts.map((account) => account.scope),
        scopeIds: accounts.map((account) => account.scopeId),
        maxTokens: accounts.map((account) => account.maxTokens ?? null),
        maxNanoUsd: accounts.map((account) => account.maxNanoUsd ?? null),
        tokens: reservation.tokens,
        nanoUsd: reservation.nanoUsd,
        model: reservation.model,
        label: reservation.label ?? null,
        createdAt: reservation.createdAt,
        expiresAt: reservation.expiresAt,
        now,
      });
      return toReserveResult(answer);
    },

    settle: (id, spent, now) => close(id, spent, now),
    release: (id, now) => close(id, undefined, now),

    async accounts(refs) {
      if (refs.length === 0) return [];
      const rows = await query<AccountRow>(
        "accounts",
        statement("accounts", sql.accounts, [refs.map((ref) => ref.scope), refs.map((ref) => ref.scopeId)]),
      );
      return rows.map((row) => toAccountState(row, "accounts"));
    },

    async snapshot() {
      const rows = await query<AccountRow>("snapshot", statement("snapshot", sql.snapshot, []));
      return rows.map((row) => toAccountState(row, "snapshot"));
    },

    async reservationState(id) {
      const [row] = await query<{ state: StoreReservationState }>(
        "reservationState",
        statement("state", sql.state, [id]),
      );
      return row?.state;
    },

    async expire(now) {
      const [row] = await query<{ result: ExpiredJson[] }>("expire", statement("expire", sql.expire, [now]));
      return (row?.result ?? []).map(toExpired);
    },

    async close() {
      if (closed) return;
      closed = true;
      await connection.close();
    },
  };
}

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

/** Most writes sent in one batch. */
const MAX_BATCH = 64;

/** A reserve as gavel_budget_reserve takes it (also one element of a batch, as JSON). */
interface ReserveOperation {
  k: "r";
  id: string;
  scopes: BudgetScope[];
  scopeIds: string[];
  maxTokens: Array<number | null>;
  maxNanoUsd: Array<number | null>;
  tokens: number;
  nanoUsd: number;
  model: string;
  label: string | null;
  createdAt: number;
  expiresAt: number;
  now: number;
}

/** A settle (`"s"`) or release (`"x"`) as gavel_budget_close takes it. */
interface CloseOperation {
  k: "s" | "x";
  id: string;
  tokens: number;
  nanoUsd: number;
  now: number;
}

type WriteOperation = ReserveOperation | CloseOperation;
type WriteAnswer<T extends WriteOperation> = T extends ReserveOperation ? ReserveJson : string;

interface PendingWrite {
  operation: WriteOperation;
  resolve(answer: ReserveJson | string): void;
  reject(error: unknown): void;
}

interface AccountRow {
  scope: BudgetScope;
  scope_id: string;
  spent_tokens: string | number;
  spent_nano_usd: string | number;
  reserved_tokens: string | number;
  reserved_nano_usd: string | number;
}

interface ExpiredJson {
  id: string;
  model: string;
  label: string | null;
  tokens: number;
  nanoUsd: number;
  scopes: BudgetScope[];
  scopeIds: string[];
  createdAt: number;
  expiresAt: number;
}

interface ReserveJson {
  expired: ExpiredJson[];
  refusal?: StoreRefusal;
}

/** A `bigint` as pg returns it (a string) to a number, refusing what a number cannot hold exactly. */
function toSafeNumber(value: string | number, operation: BudgetStoreOperation): number {
  const number = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(number)) {
    throw new BudgetStoreError(
      operation,
      `an amount of the budget store (${value}) is beyond Number.MAX_SAFE_INTEGER; it cannot be read exactly`,
    );
  }
  return number;
}

function toAccountState(row: AccountRow, operation: BudgetStoreOperation): StoreAccountState {
  return {
    scope: row.scope,
    scopeId: row.scope_id,
    spentTokens: toSafeNumber(row.spent_tokens, operation),
    spentNanoUsd: toSafeNumber(row.spent_nano_usd, operation),
    reservedTokens: toSafeNumber(row.reserved_tokens, operation),
    reservedNanoUsd: toSafeNumber(row.reserved_nano_usd, operation),
  };
}

function toExpired(json: ExpiredJson): ExpiredReservation {
  return {
    id: json.id,
    model: json.model,
    ...(json.label !== null && { label: json.label }),
    tokens: json.tokens,
    nanoUsd: json.nanoUsd,
    accounts: json.scopes.map((scope, index) => ({ scope, scopeId: json.scopeIds[index] ?? "" })),
    createdAt: json.createdAt,
    expiresAt: json.expiresAt,
  };
}

function toReserveResult(json: ReserveJson): StoreReserveResult {
  const expired = json.expired.map(toExpired);
  return json.refusal ? { refusal: json.refusal, expired } : { expired };
}

function toCloseResult(answer: string): StoreCloseResult {
  switch (answer) {
    case "settled":
    case "released":
    case "late":
    case "unknown":
      return { status: answer };
    case "closed:settled":
    case "closed:released":
    case "closed:expired":
      return { status: "closed", state: answer.slice("closed:".length) as "settled" | "released" | "expired" };
    default:
      throw new Error(`the budget store's close function answered "${answer}"`);
  }
}

/** Amounts cross the boundary as integers; a fraction or an unsafe integer would be stored inexactly. */
function checkAmount(operation: BudgetStoreOperation, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new BudgetStoreError(operation, `${name} must be a non-negative safe integer, got ${value}`);
  }
}
