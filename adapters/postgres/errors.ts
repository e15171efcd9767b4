/**
 * Errors of the PostgreSQL adapters: a server that cannot be reached, and a schema written by a
 * newer Gavel.
 */
import { describeError, GavelError } from "../../src/errors.js";

/**
 * No connection could be made to the server (unreachable host, closed port, wrong password, missing
 * database, timeout). `target` is `host:port/database`; the password is never part of the message.
 *
 * @example
 * ```ts
 * try {
 *   await createPostgresLedger({ connectionString: "postgres://app@db.internal:5432/gavel" });
 * } catch (error) {
 *   if (PostgresConnectionError.isInstance(error)) console.error(error.target); // "db.internal:5432/gavel"
 * }
 * ```
 */
export class PostgresConnectionError extends GavelError {
  override readonly name: string = "PostgresConnectionError";
  /** `host:port/database`. */
  readonly target: string;

  constructor(what: string, target: string, cause: unknown) {
    super(`${what} could not connect to PostgreSQL at ${target}: ${redact(describeError(cause))}`, { cause });
    this.target = target;
  }
}

/**
 * The tables of a Gavel store were written by a newer Gavel than this one: nothing is read or
 * changed. Upgrade langchain-gavel in this app, or point it at another schema.
 *
 * @example
 * ```ts
 * try {
 *   await createPostgresBudgetStore({ connectionString });
 * } catch (error) {
 *   if (PostgresSchemaVersionError.isInstance(error)) console.error(error.found, ">", error.supported);
 * }
 * ```
 */
export class PostgresSchemaVersionError extends GavelError {
  override readonly name: string = "PostgresSchemaVersionError";
  /** The store, e.g. `"ledger"`. */
  readonly component: string;
  /** The version the database holds. */
  readonly found: number;
  /** The newest version this Gavel knows. */
  readonly supported: number;

  constructor(component: string, schema: string, found: number, supported: number) {
    super(
      `The ${component} tables in PostgreSQL schema "${schema}" are at version ${found}, written by a newer ` +
        `langchain-gavel; this one knows up to version ${supported}. Upgrade langchain-gavel, or use another schema.`,
    );
    this.component = component;
    this.found = found;
    this.supported = supported;
  }
}

/**
 * A message with the passwords of its URLs hidden: `user:password@` becomes `user:***@` (up to the
 * last `@`, since a password may hold an unencoded one) and a `password=` parameter becomes
 * `password=***`. Hiding too much is safe; hiding too little is not.
 *
 * @example
 * ```ts
 * redact("no server at postgres://app:p@ss@db:5432/gavel?sslmode=require&password=x");
 * // "no server at postgres://app:***@db:5432/gavel?sslmode=require&password=***"
 * ```
 */
export function redact(text: string): string {
  return text
    .replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):\S*@/gi, "$1:***@")
    .replace(/([?&]password=)[^&\s]*/gi, "$1***");
}
