/**
 * One connection pool to PostgreSQL (the `pg` client) and the schema Gavel's tables live in, shared
 * by the PostgreSQL budget store, ledger and memory.
 *
 * - A connection string is checked when the store is created: a server that cannot be reached, a
 *   wrong password or a missing database fails then, within `connectTimeoutMs`, with the host, port
 *   and database named and the password never shown.
 * - A pool the app already has (`pool`) is used as it is and left open by `close()`.
 * - Every store migrates its own tables (see `migrations.ts`) in `schema` (default `public`).
 */
import type { Pool, PoolClient, PoolConfig } from "pg";
import { z } from "zod";
import { parseConfig } from "../../src/errors.js";
import { importPeer } from "../../src/peers.js";
import { PostgresConnectionError } from "./errors.js";

/** The entry point named in errors about a missing `pg`. */
export const POSTGRES_FEATURE = "langchain-gavel/postgres";

/**
 * Default time to wait for a connection, in ms: a server that does not answer fails the store's
 * creation after 5 s instead of hanging.
 *
 * @example
 * ```ts
 * await createPostgresLedger({ connectionString, connectTimeoutMs: DEFAULT_CONNECT_TIMEOUT_MS * 2 }); // a slow network
 * ```
 */
export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;

/**
 * How every PostgreSQL store of Gavel connects. Give `connectionString` or `pool`.
 *
 * @example
 * ```ts
 * const connection: PostgresConnectionOptions = { connectionString: process.env.DATABASE_URL, schema: "gavel" };
 * const store = await createPostgresBudgetStore(connection);
 * const ledger = await createPostgresLedger(connection); // the same database and schema
 * ```
 */
export interface PostgresConnectionOptions {
  /** `postgres://user:password@host:port/database` (the `pg` client's format, `?sslmode=...` included). */
  connectionString?: string;
  /** A `pg.Pool` the app already has. Gavel uses it and does not end it on `close()`. */
  pool?: Pool;
  /** Schema of Gavel's tables, created when missing. Default `"public"`. */
  schema?: string;
  /** How long to wait for a connection before failing, in ms. Default 5,000. */
  connectTimeoutMs?: number;
  /** Most connections of the pool Gavel opens from `connectionString`. Default 10. */
  maxConnections?: number;
  /**
   * Longest a statement of the pool Gavel opens may run before the server cancels it, in ms (a
   * store never waits forever behind a stuck lock). Default 60,000.
   */
  statementTimeoutMs?: number;
}

/**
 * Zod schema of {@link PostgresConnectionOptions}; every store's options extend it.
 *
 * @example
 * ```ts
 * postgresConnectionOptionsSchema.safeParse({ schema: "gavel" }).success; // true
 * postgresConnectionOptionsSchema.safeParse({ schema: 'x"; drop' }).success; // false: not an identifier
 * ```
 */
export const postgresConnectionOptionsSchema = z.object({
  connectionString: z.string().min(1).optional(),
  pool: z.custom<Pool>((value) => typeof (value as Pool | undefined)?.connect === "function").optional(),
  schema: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, "must be a plain identifier (letters, digits, _)")
    .optional(),
  connectTimeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
  maxConnections: z.number().int().positive().max(1_000).optional(),
  statementTimeoutMs: z.number().int().positive().max(2_147_483_647).optional(),
});

/** The options with one of `connectionString` and `pool` required. */
const connectionTargetSchema = postgresConnectionOptionsSchema.refine(
  (options) => options.connectionString !== undefined || options.pool !== undefined,
  {
    message: "give connectionString (postgres://user:password@host:port/database) or pool (a pg.Pool)",
    path: ["connectionString"],
  },
);

/** A pool and the schema, as the stores use them. */
export interface PostgresConnection {
  readonly pool: Pool;
  /** The schema, unquoted. */
  readonly schema: string;
  /** The schema, quoted for SQL. */
  readonly quotedSchema: string;
  /** `"schema"."name"`: a table of this schema, quoted for SQL. */
  table(name: string): string;
  /** A client of the pool, released by the caller. */
  connect(): Promise<PoolClient>;
  /** Run `work` in one transaction on one client (BEGIN, COMMIT; ROLLBACK when it throws). */
  transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T>;
  /** End the pool when Gavel opened it; a pool the app gave is left open. */
  close(): Promise<void>;
  /** Where the connection goes, without the password: `host:port/database`. */
  readonly describe: string;
}

/**
 * Open a pool (or take the app's), check that a connection works, and return it with the schema.
 *
 * @param what - what connects, for messages, e.g. `"PostgreSQL budget store"`.
 * @throws ConfigError naming the field when the options are malformed or neither `connectionString`
 *   nor `pool` is given.
 * @throws PostgresConnectionError naming host, port and database when no connection can be made.
 * @throws MissingPeerDependencyError when `pg` is not installed.
 */
export async function connectPostgres(what: string, options: PostgresConnectionOptions): Promise<PostgresConnection> {
  const {
    connectionString,
    pool: givenPool,
    schema = "public",
    connectTimeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
    maxConnections = 10,
    statementTimeoutMs = 60_000,
  } = parseConfig(`${what} options`, connectionTargetSchema, options);
  const pg = await importPeer("pg", POSTGRES_FEATURE, () => import("pg"));
  const config: PoolConfig = {
    connectionString,
    connectionTimeoutMillis: connectTimeoutMs,
    max: maxConnections,
    application_name: "langchain-gavel",
    statement_timeout: statementTimeoutMs,
    // Notice a server or network that went away without closing the connection (a half-open TCP).
    keepAlive: true,
  };
  const pool = givenPool ?? new pg.default.Pool(config);
  const describe = describeTarget(connectionString, givenPool);
  // An idle client that loses its server emits "error" on the pool; without a listener that would
  // crash the process. The next query gets a fresh client (or fails with its own error).
  if (!givenPool) pool.on("error", () => {});
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    if (!givenPool) await pool.end().catch(() => {});
    throw new PostgresConnectionError(what, describe, error);
  }
  const quotedSchema = quoteIdentifier(schema);
  return {
    pool,
    schema,
    quotedSchema,
    describe,
    table: (name) => `${quotedSchema}.${quoteIdentifier(name)}`,
    connect: () => pool.connect(),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query("BEGIN");
        const result = await work(client);
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => {});
        throw error;
      } finally {
        client.release();
      }
    },
    async close() {
      if (!givenPool) await pool.end();
    },
  };
}

/** `"name"`, with embedded quotes doubled. */
export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** `host:port/database` of a connection string (or of a given pool's options), never the password. */
function describeTarget(connectionString: string | undefined, pool: Pool | undefined): string {
  if (connectionString) {
    try {
      const url = new URL(connectionString);
      const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || "(default database)";
      return `${url.hostname || "localhost"}:${url.port || "5432"}/${database}`;
    } catch {
      return "(unparseable connection string)";
    }
  }
  const options = (pool as { options?: PoolConfig } | undefined)?.options ?? {};
  return `${options.host ?? "localhost"}:${options.port ?? 5432}/${options.database ?? "(default database)"}`;
}
