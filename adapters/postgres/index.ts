/**
 * langchain-gavel/postgres — Gavel's shared state on PostgreSQL, for apps that run as several
 * processes or hosts: the budget store (one budget for every replica), the auction ledger and the
 * strategy memory. See docs/scaling.md.
 *
 * `pg` is an optional peer dependency of langchain-gavel: install it next to this entry point
 * (`npm install pg`). It is pure JavaScript: nothing is compiled on install.
 *
 * @example
 * ```ts
 * import { createPostgresBudgetStore } from "langchain-gavel/postgres";
 * import { createTokenBudget } from "langchain-gavel";
 *
 * const store = await createPostgresBudgetStore({ connectionString: process.env.DATABASE_URL });
 * const budget = createTokenBudget({ limits: { global: { maxUsd: 5 } }, store });
 * ```
 *
 * @packageDocumentation
 */

export {
  createPostgresBudgetStore,
  DEFAULT_BUDGET_STORE_RETRIES,
  type PostgresBudgetStore,
  type PostgresBudgetStoreOptions,
} from "./budget-store.js";
export {
  DEFAULT_CONNECT_TIMEOUT_MS,
  type PostgresConnectionOptions,
  postgresConnectionOptionsSchema,
} from "./connection.js";
export { PostgresConnectionError, PostgresSchemaVersionError } from "./errors.js";
export {
  createPostgresLedger,
  type PostgresLedger,
  type PostgresLedgerOptions,
} from "./ledger.js";
export {
  createPostgresStrategyMemory,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_TOMBSTONE_RETENTION_MS,
  type PostgresStrategyMemory,
  type PostgresStrategyMemoryOptions,
} from "./memory.js";
