/**
 * The better-sqlite3 handle that the SQLite ledger and budget store accept as `database` (instead of
 * a `path`), and the option check they share.
 */
import type Database from "better-sqlite3";
import { z } from "zod";

/** A better-sqlite3 connection (declared as an interface so the options type can name it). */
export interface SqliteDatabase extends Database.Database {}

/** Whether `value` looks like an open better-sqlite3 `Database` (it has `prepare`, `pragma` and `transaction`). */
export function isDatabaseHandle(value: unknown): value is SqliteDatabase {
  return (
    typeof value === "object" && value !== null && "prepare" in value && "pragma" in value && "transaction" in value
  );
}

/** The `database` option: an open better-sqlite3 handle. */
export function databaseHandleSchema() {
  return z.custom<SqliteDatabase>(isDatabaseHandle, "expected a better-sqlite3 Database");
}

/** Refuse options that name both or neither of `path` and `database`. */
export function requirePathOrDatabase(options: { path?: string; database?: unknown }, context: z.RefinementCtx): void {
  if ((options.path === undefined) === (options.database === undefined)) {
    context.addIssue({ code: "custom", path: ["path"], message: "pass exactly one of `path` and `database`" });
  }
}
