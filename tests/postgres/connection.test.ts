/**
 * Connecting to PostgreSQL: bad targets fail fast and name host, port and database (never the
 * password); schemas from a newer Gavel are refused; migrations run once under concurrency.
 */
import { createServer } from "node:net";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectPostgres } from "../../adapters/postgres/connection.js";
import { PostgresConnectionError, PostgresSchemaVersionError, redact } from "../../adapters/postgres/errors.js";
import { migratePostgres } from "../../adapters/postgres/migrations.js";
import { ConfigError } from "../../src/errors.js";
import { describePostgres, freshSchema } from "../helpers/postgres.js";

describe("connectPostgres without a server", () => {
  it("fails with host, port and database named when nothing listens, without the password", async () => {
    const port = await closedPort();
    const error = await connectPostgres("test store", {
      connectionString: `postgres://app:s3cret@127.0.0.1:${port}/ledgerdb`,
    }).catch((caught: unknown) => caught);
    expect(PostgresConnectionError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`127.0.0.1:${port}/ledgerdb`);
    expect((error as Error).message).not.toContain("s3cret");
  });

  it("gives up within connectTimeoutMs on a server that accepts and never answers", async () => {
    const silent = createServer(() => {}); // accepts the TCP connection, never speaks PostgreSQL
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    try {
      const started = Date.now();
      const error = await connectPostgres("test store", {
        connectionString: `postgres://app@127.0.0.1:${port}/gavel`,
        connectTimeoutMs: 300,
      }).catch((caught: unknown) => caught);
      expect(PostgresConnectionError.isInstance(error)).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      silent.close();
    }
  });

  it("names the missing field when neither connectionString nor pool is given", async () => {
    const error = await connectPostgres("test store", {}).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).fields).toEqual(["connectionString"]);
  });

  it("refuses a schema name that is not a plain identifier", async () => {
    const error = await connectPostgres("test store", {
      connectionString: "postgres://127.0.0.1/gavel",
      schema: 'x"; DROP TABLE y; --',
    }).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).fields).toEqual(["schema"]);
  });

  it("redacts passwords of URLs in messages", () => {
    expect(redact("at postgres://app:pa55@db:5432/x failed")).toBe("at postgres://app:***@db:5432/x failed");
    expect(redact("postgres://app:p@ss@db/x?password=y&sslmode=require")).toBe(
      "postgres://app:***@db/x?password=***&sslmode=require",
    );
  });
});

describePostgres("connectPostgres and migratePostgres on a server", (url) => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  beforeAll(async () => {
    schema = await freshSchema(url, "conn");
  });
  afterAll(async () => {
    await schema.drop();
  });

  it("names the database when it does not exist", async () => {
    const missing = `${url.replace(/\/[^/]*$/, "")}/no_such_database_here`;
    const error = await connectPostgres("test store", { connectionString: missing }).catch((caught: unknown) => caught);
    expect(PostgresConnectionError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain("/no_such_database_here");
  });

  it("runs each step once, also when many replicas migrate at the same time", async () => {
    const steps = ["CREATE TABLE {schema}.counter (n integer NOT NULL)", "INSERT INTO {schema}.counter VALUES (1)"];
    const connections = await Promise.all(
      Array.from({ length: 6 }, () => connectPostgres("test store", { connectionString: url, schema: schema.schema })),
    );
    try {
      const versions = await Promise.all(connections.map((connection) => migratePostgres(connection, "budget", steps)));
      expect(versions).toEqual([2, 2, 2, 2, 2, 2]);
      const { rows } = await (connections[0] as (typeof connections)[0]).pool.query(
        `SELECT count(*)::int AS n FROM "${schema.schema}".counter`,
      );
      expect(rows[0].n).toBe(1);
    } finally {
      await Promise.all(connections.map((connection) => connection.close()));
    }
  });

  it("refuses tables written by a newer Gavel, naming both versions", async () => {
    const connection = await connectPostgres("test store", { connectionString: url, schema: schema.schema });
    try {
      await migratePostgres(connection, "ledger", ["CREATE TABLE {schema}.l (x int)"]);
      await connection.pool.query(
        `UPDATE "${schema.schema}".gavel_migrations SET version = 9 WHERE component = 'ledger'`,
      );
      const error = await migratePostgres(connection, "ledger", ["CREATE TABLE {schema}.l (x int)"]).catch(
        (caught: unknown) => caught,
      );
      expect(PostgresSchemaVersionError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(/version 9.*up to version 1/);
    } finally {
      await connection.close();
    }
  });

  it("migrates as a role that owns its schema but may not create schemas (a managed database's app role)", async () => {
    const role = `gavel_app_${schema.schema.slice(-10)}`;
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`CREATE ROLE ${role} LOGIN`);
      await admin.query(`CREATE SCHEMA ${role} AUTHORIZATION ${role}`);
      const asRole = new URL(url);
      asRole.username = role;
      const connection = await connectPostgres("test store", { connectionString: asRole.toString(), schema: role });
      try {
        expect(await migratePostgres(connection, "budget", ["CREATE TABLE {schema}.t (x int)"])).toBe(1);
      } finally {
        await connection.close();
      }
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS ${role} CASCADE`);
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });

  it("leaves a pool the app gave open on close", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const connection = await connectPostgres("test store", { pool });
      await connection.close();
      const { rows } = await pool.query("SELECT 1 AS one");
      expect(rows[0].one).toBe(1);
    } finally {
      await pool.end();
    }
  });
});

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}
