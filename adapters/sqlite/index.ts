/**
 * langchain-gavel/sqlite — the auction ledger in one SQLite file (better-sqlite3, WAL mode), and a
 * budget store that the processes of one host share through one file (`createSqliteBudgetStore`).
 *
 * better-sqlite3 is an optional peer dependency of langchain-gavel: install it next to this entry
 * point (`npm install better-sqlite3`). It is a native module, compiled on install where no prebuilt
 * binary matches (a C++ toolchain is needed then).
 *
 * @example
 * ```ts
 * import { createSqliteLedger } from "langchain-gavel/sqlite";
 *
 * const ledger = createSqliteLedger({ path: "gavel.db" });
 * ```
 *
 * @packageDocumentation
 */

export {
  createSqliteBudgetStore,
  type SqliteBudgetStore,
  type SqliteBudgetStoreOptions,
} from "./budget-store.js";
export {
  createSqliteLedger,
  DEFAULT_BUSY_TIMEOUT_MS,
  DEFAULT_CLOSE_TIMEOUT_MS,
  DEFAULT_MAX_QUEUED_RECORDS,
  DEFAULT_QUEUE_WAIT_MS,
  type SqliteDatabase,
  type SqliteLedger,
  type SqliteLedgerOptions,
} from "./ledger.js";
