/**
 * The SQLite ledger of `gavel eval` / `gavel sweep` (`--ledger FILE`, default `<out>/ledger.db`), under
 * the rule of every path the CLI writes: never destroy what Gavel did not create.
 *
 * - no file: a new ledger is created;
 * - a Gavel ledger (SQLite, `application_id` "GVL1", the ledger's tables, `PRAGMA quick_check` ok):
 *   the run is appended beside the runs already in it (each run has its own `run` scope and auction-id
 *   prefix), or, with `--replace-ledger`, the file (and its `-wal`/`-shm`) is replaced;
 * - anything else — a text file, an empty file, another application's SQLite database, a ledger with a
 *   newer schema or one that fails its integrity check — is refused with an `OutputConflictError`
 *   (exit code 2) naming the file and the fix, and is never touched, whatever the flags.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync, rmSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import type { ExperimentLedger } from "../eval/experiment/run.js";
import { OutputConflictError } from "../eval/outputs.js";
import { closeLedgerOnSignals } from "../ledger/shutdown.js";
import { importPeer } from "../peers.js";

/** The flag that lets `gavel eval` replace an existing Gavel ledger (never any other file). */
export const REPLACE_LEDGER_FLAG = "--replace-ledger";

/** The first 16 bytes of every SQLite 3 database file. */
const SQLITE_HEADER = "SQLite format 3\0";

/** Tables every Gavel ledger has (schema version 1 on). */
const LEDGER_TABLES = ["auctions", "bids", "charges", "outcomes"] as const;

/** What is at a ledger path. */
export type LedgerFileState =
  | { kind: "missing" }
  | { kind: "ledger" }
  | { kind: "corrupt-ledger"; problem: string }
  | { kind: "foreign"; problem: string };

/**
 * Look at `path` without changing it: missing, a Gavel ledger (healthy or not), or a foreign file.
 *
 * @example
 * ```ts
 * const state = await inspectLedgerFile("reports/ledger.db");
 * if (state.kind === "foreign") console.error(state.problem);
 * ```
 */
export async function inspectLedgerFile(path: string): Promise<LedgerFileState> {
  if (!existsSync(path)) return { kind: "missing" };
  const stats = statSync(path);
  if (stats.isDirectory()) return { kind: "foreign", problem: "is a folder, not a ledger file" };
  if (stats.size === 0) return { kind: "foreign", problem: "is an empty file, not a Gavel ledger" };
  if (readHeader(path) !== SQLITE_HEADER) {
    return { kind: "foreign", problem: "is not a SQLite database (so not a Gavel ledger)" };
  }
  const { default: Database } = await importPeer(
    "better-sqlite3",
    "the ledger of gavel eval (--no-ledger skips it)",
    () => import("better-sqlite3"),
  );
  // Loaded here, not at the top: `gavel --help` never loads the SQLite adapter.
  const { LEDGER_APPLICATION_ID, LEDGER_SCHEMA_VERSION } = await import("../../adapters/sqlite/migrations.js");
  let database: InstanceType<typeof Database> | undefined;
  try {
    database = new Database(path, { readonly: true, fileMustExist: true });
    const applicationId = database.pragma("application_id", { simple: true }) as number;
    const version = database.pragma("user_version", { simple: true }) as number;
    const tables = new Set(
      (database.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map(
        (row) => row.name,
      ),
    );
    const missing = LEDGER_TABLES.filter((table) => !tables.has(table));
    if (applicationId !== LEDGER_APPLICATION_ID || missing.length > 0) {
      const what =
        applicationId !== LEDGER_APPLICATION_ID
          ? `application_id ${applicationId}, not Gavel's`
          : `no ${missing.join(", ")} table`;
      return { kind: "foreign", problem: `is a SQLite database without Gavel's ledger schema (${what})` };
    }
    if (version > LEDGER_SCHEMA_VERSION) {
      return {
        kind: "foreign",
        problem: `is a Gavel ledger of schema version ${version}, newer than this Gavel's ${LEDGER_SCHEMA_VERSION} (upgrade langchain-gavel)`,
      };
    }
    const check = database.pragma("quick_check") as Array<{ quick_check: string }>;
    const first = check[0]?.quick_check ?? "no answer";
    if (check.length !== 1 || first !== "ok") {
      return { kind: "corrupt-ledger", problem: `is a Gavel ledger that fails PRAGMA quick_check (${first})` };
    }
    return { kind: "ledger" };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    // A file whose schema pages are garbage is refused like any unreadable one; a Gavel ledger cannot be told apart.
    return { kind: "foreign", problem: `cannot be read as a SQLite database (${reason})` };
  } finally {
    database?.close();
  }
}

/**
 * Refuse (with an `OutputConflictError`) a ledger path the run may not write: a foreign file always, a
 * corrupt Gavel ledger unless it is being replaced. Returns what is there. Nothing is changed.
 *
 * @example
 * ```ts
 * await checkLedgerTarget("reports/ledger.db", { replace: false }); // { kind: "missing" } or { kind: "ledger" }
 * ```
 */
export async function checkLedgerTarget(path: string, options: { replace: boolean }): Promise<LedgerFileState> {
  const state = await inspectLedgerFile(path);
  if (state.kind === "foreign") {
    throw new OutputConflictError(path, state.problem, {
      fix: "give --ledger a new file or an existing Gavel ledger, or pass --no-ledger; Gavel never replaces a file it did not write",
    });
  }
  if (state.kind === "corrupt-ledger" && !options.replace) {
    throw new OutputConflictError(path, state.problem, {
      flag: REPLACE_LEDGER_FLAG,
      fix: `move it aside to keep what can be recovered, or pass ${REPLACE_LEDGER_FLAG} to start it afresh`,
    });
  }
  return state;
}

/**
 * The ledger of one evaluation run: created when missing, appended to when it is a Gavel ledger, replaced
 * only with `replace` (and only when it is a Gavel ledger). Until it is closed, SIGINT/SIGTERM close it
 * first (`closeLedgerOnSignals`: queued records land). Read it with `gavel ledger ... --db FILE`.
 *
 * @throws OutputConflictError when the file is not a Gavel ledger (it is left as it was).
 * @example
 * ```ts
 * const ledger = await openRunLedger("reports/ledger.db", { replace: false });
 * ```
 */
export async function openRunLedger(path: string, options: { replace: boolean }): Promise<ExperimentLedger> {
  const state = await checkLedgerTarget(path, options);
  const { createSqliteLedger } = await import("../../adapters/sqlite/ledger.js");
  if (state.kind !== "missing" && options.replace) {
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
  }
  mkdirSync(dirname(resolve(path)), { recursive: true });
  const ledger = createSqliteLedger({ path });
  // Ctrl-C or a polite kill while the run's records are still queued behind another writer's lock:
  // they land (the ledger's close flushes) before the process ends.
  const stopHandling = closeLedgerOnSignals(ledger);
  const close = ledger.close.bind(ledger);
  ledger.close = async () => {
    stopHandling();
    await close();
  };
  return ledger;
}

function readHeader(path: string): string {
  const descriptor = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(SQLITE_HEADER.length);
    const read = readSync(descriptor, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, read).toString("latin1");
  } finally {
    closeSync(descriptor);
  }
}
