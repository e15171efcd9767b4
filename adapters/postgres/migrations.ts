/**
 * Versioned schemas for the PostgreSQL stores. Each store (budget, ledger, memory) owns an ordered
 * list of migration steps; `gavel_migrations` holds, per store, how many have run.
 *
 * Migrating is safe from many replicas at once: it runs in one transaction under a transaction-level
 * advisory lock, so the first replica migrates and the others wait, then find nothing to do. A
 * database at a newer version than this Gavel knows is refused before anything is read or changed.
 */

import type { PostgresConnection } from "./connection.js";
import { PostgresSchemaVersionError } from "./errors.js";

/** The stores that keep tables in PostgreSQL. */
export type PostgresComponent = "budget" | "ledger" | "memory";

/**
 * Bring `component`'s tables to the newest version: run the steps not yet applied, in order, in one
 * transaction. Each step is SQL in which `{schema}` stands for the quoted schema name.
 *
 * @returns the version the tables are at now (`steps.length`).
 * @throws PostgresSchemaVersionError when the database is at a newer version than `steps.length`.
 */
export async function migratePostgres(
  connection: PostgresConnection,
  component: PostgresComponent,
  steps: readonly string[],
): Promise<number> {
  const schema = connection.quotedSchema;
  const migrations = connection.table("gavel_migrations");
  return connection.transaction(async (client) => {
    // One lock for every schema and store: migrations are rare and short.
    await client.query("SELECT pg_advisory_xact_lock(hashtext('langchain-gavel.migrate'))");
    // CREATE SCHEMA IF NOT EXISTS needs the database's CREATE privilege even when the schema exists,
    // which an app's role on a managed database often lacks: look first.
    const existing = await client.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [connection.schema]);
    if (existing.rowCount === 0) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${migrations} (
         component text PRIMARY KEY,
         version integer NOT NULL,
         migrated_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: number }>(`SELECT version FROM ${migrations} WHERE component = $1`, [
      component,
    ]);
    const found = rows[0]?.version ?? 0;
    if (found > steps.length) {
      throw new PostgresSchemaVersionError(component, connection.schema, found, steps.length);
    }
    for (const step of steps.slice(found)) await client.query(step.replaceAll("{schema}", schema));
    if (found < steps.length) {
      await client.query(
        `INSERT INTO ${migrations} (component, version) VALUES ($1, $2)
         ON CONFLICT (component) DO UPDATE SET version = EXCLUDED.version, migrated_at = now()`,
        [component, steps.length],
      );
    }
    return steps.length;
  });
}
