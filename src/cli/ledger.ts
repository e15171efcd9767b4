/**
 * `gavel ledger`: read the auction ledger from the command line.
 *
 *   gavel ledger spend   --db FILE|URL [--by model|agent|scope|tool] [--since ISO] [--until ISO] [--json]
 *   gavel ledger wins    --db FILE|URL [--kind KIND] [--since ISO] [--until ISO] [--json]
 *   gavel ledger auction ID --db FILE|URL [--json]
 *   gavel ledger recent  --db FILE|URL [--limit N] [--kind KIND] [--json]
 *   gavel ledger overhead --db FILE|URL [--by run|auction|model] [--kind KIND] [--since ISO] [--until ISO] [--json]
 *
 * `--db` is a SQLite file, or a `postgres://` (`postgresql://`) URL of a PostgreSQL ledger, whose
 * schema `--schema` names (default `public`). The ledger is opened read-only and never created or
 * migrated: a missing file, a server that cannot be reached or a schema without a ledger is an error
 * (exit code 2). A SQLite file is checked with `PRAGMA quick_check` on open: a corrupt one is refused
 * (exit code 2, one line naming the file and the fix) before any figure is printed. A URL's password is
 * never printed. Output goes through injectable writers, so tests run the real command in-process.
 */
import { existsSync } from "node:fs";
import Table from "cli-table3";
import { Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";
import { redact } from "../../adapters/postgres/errors.js";
import { parseConfig } from "../errors.js";
import { LedgerError } from "../ledger/errors.js";
import { overheadTotal } from "../ledger/overhead.js";
import type {
  AuctionRecord,
  LedgerReader,
  OverheadGrouping,
  OverheadRow,
  RecentAuction,
  SpendGrouping,
  SpendRow,
  WinRateRow,
} from "../ledger/types.js";
import { importPeer, MissingPeerDependencyError } from "../peers.js";
import { parsePositiveInteger, percent, plainTable } from "./common.js";

/** Exit code when the database is missing or is not a readable ledger. */
export const EXIT_NO_LEDGER = 2;
/** Exit code when the database fails its integrity check (`PRAGMA quick_check`): bad input, like a missing file. */
export const EXIT_CORRUPT_LEDGER = 2;
/** Exit code when the requested auction is not in the ledger. */
export const EXIT_NOT_FOUND = 1;

/** A zod field that accepts any function, typed as `T`. */
function functionField<T>() {
  return z.custom<T>((value) => typeof value === "function", "expected a function");
}

const ledgerCommandOptionsSchema = z
  .object({
    /** Where results go. Default: `process.stdout`. */
    stdout: functionField<(text: string) => void>().optional(),
    /** Where errors and warnings go. Default: `process.stderr`. */
    stderr: functionField<(text: string) => void>().optional(),
    /**
     * Opens the ledger at `--db` (an existing path, or a PostgreSQL URL with `schema`). Default: the
     * SQLite ledger, or the PostgreSQL one for a `postgres://` URL, read-only.
     */
    openLedger:
      functionField<
        (target: string, options: { schema?: string }) => LedgerReader | Promise<LedgerReader>
      >().optional(),
  })
  .strict();

/** Options of {@link ledgerCommand}: I/O seams for tests and embedding. */
export type LedgerCommandOptions = z.input<typeof ledgerCommandOptionsSchema>;

/**
 * The `ledger` command of the `gavel` CLI, with its subcommands `spend`, `wins`, `auction`, `recent` and `overhead`.
 *
 * @param options - Optional writers and ledger opener (seams for tests).
 * @returns A commander `Command` to add to a program.
 * @throws ConfigError when an option is invalid.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * const program = new Command("gavel").addCommand(ledgerCommand());
 * await program.parseAsync(["ledger", "spend", "--db", "gavel.db", "--by", "agent"], { from: "user" });
 * ```
 */
export function ledgerCommand(options: LedgerCommandOptions = {}): Command {
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = (text: string) => process.stderr.write(text),
    openLedger = async (target: string, { schema }: { schema?: string }) => {
      // Loaded here, not at the top: `gavel --help` and the other commands never load pg or better-sqlite3.
      if (isPostgresUrl(target)) {
        const { createPostgresLedger } = await import("../../adapters/postgres/ledger.js");
        return createPostgresLedger({ connectionString: target, schema, readonly: true, maxConnections: 2 });
      }
      const path = target;
      await importPeer("better-sqlite3", "gavel ledger", () => import("better-sqlite3"));
      const { createSqliteLedger } = await import("../../adapters/sqlite/ledger.js");
      return createSqliteLedger({ path, readonly: true });
    },
  } = parseConfig("ledgerCommand options", ledgerCommandOptionsSchema, options);

  const output = { writeOut: stdout, writeErr: stderr };
  const print = (text: string) => stdout(text.endsWith("\n") ? text : `${text}\n`);
  const printJson = (value: unknown) => print(JSON.stringify(value, null, 2));

  /**
   * Open the ledger at `--db`, run `work`, close it. Missing or unreadable files, unreachable servers
   * and schemas without a ledger end the command with exit code 2.
   */
  async function withLedger<T>(command: Command, work: (ledger: LedgerReader) => Promise<T>): Promise<T> {
    const { db: path, schema } = command.opts<{ db: string; schema?: string }>();
    const postgres = isPostgresUrl(path);
    if (schema !== undefined && !postgres) {
      command.error("error: --schema applies to a PostgreSQL ledger (--db postgres://...), not to a file", {
        exitCode: EXIT_NO_LEDGER,
        code: "gavel.ledger.schemaWithoutPostgres",
      });
    }
    if (!postgres && !existsSync(path)) {
      command.error(
        `error: no ledger database at ${path} (gavel ledger reads an existing file and never creates one)`,
        {
          exitCode: EXIT_NO_LEDGER,
          code: "gavel.ledger.missingDatabase",
        },
      );
    }
    let ledger: LedgerReader;
    try {
      ledger = await openLedger(path, schema === undefined ? {} : { schema });
    } catch (error) {
      if (MissingPeerDependencyError.isInstance(error)) throw error; // its message says what to install
      // A LedgerError wrapping a driver error: the driver's words ("file is not a database") say it best.
      // PostgreSQL's errors name host, port and database themselves, never the password.
      const reason =
        LedgerError.isInstance(error) && error.cause instanceof Error
          ? error.cause.message
          : error instanceof Error
            ? error.message
            : String(error);
      command.error(`error: cannot read ${displayed(path)} as a Gavel ledger: ${redact(reason)}`, {
        exitCode: EXIT_NO_LEDGER,
        code: "gavel.ledger.unreadableDatabase",
      });
    }
    try {
      // A SQLite ledger is checked before any figure is read: a corrupt file gives no figures at all.
      const problem = integrityProblem(ledger);
      if (problem !== undefined) refuseCorrupt(command, path, problem);
      return await work(ledger);
    } catch (error) {
      // Corruption quick_check did not see (or a file damaged while we read it): the same one line, no stack.
      const corruption = corruptionOf(error);
      if (corruption !== undefined) refuseCorrupt(command, path, corruption);
      throw error;
    } finally {
      await ledger.close();
    }
  }

  function refuseCorrupt(command: Command, path: string, problem: string): never {
    return command.error(
      `error: ${displayed(path)} is a corrupt ledger (${problem}); its figures cannot be trusted. Restore it from a backup, or copy out what is readable with: sqlite3 ${path} .recover | sqlite3 recovered.db`,
      { exitCode: EXIT_CORRUPT_LEDGER, code: "gavel.ledger.corruptDatabase" },
    );
  }

  const ledger = new Command("ledger")
    .description(
      "Query the auction ledger (a SQLite file or a PostgreSQL URL): spend, win rates, single auctions, recent auctions.",
    )
    .configureOutput(output);

  ledger
    .command("spend")
    .description("Settled spend (tokens, USD, calls) grouped by model, agent or scope.")
    .configureOutput(output)
    .requiredOption("--db <file|url>", DB_HELP)
    .option("--schema <name>", SCHEMA_HELP)
    .addOption(new Option("--by <grouping>", "group by").choices(["model", "agent", "scope", "tool"]).default("model"))
    .option("--since <iso>", "from this time, inclusive (ISO 8601)", parseTime)
    .option("--until <iso>", "up to this time, exclusive (ISO 8601)", parseTime)
    .option("--json", "print JSON")
    .action(async (_options: unknown, command: Command) => {
      const { by, since, until, json } = command.opts<{
        by: SpendGrouping;
        since?: number;
        until?: number;
        json?: boolean;
      }>();
      const rows = await withLedger(command, (opened) => opened.spend({ by, since, until }));
      if (json) printJson(rows);
      else print(rows.length === 0 ? "No settled charges in this range." : spendTable(by, rows));
    });

  ledger
    .command("wins")
    .description("Win rate and mean price paid of every bidder.")
    .configureOutput(output)
    .requiredOption("--db <file|url>", DB_HELP)
    .option("--schema <name>", SCHEMA_HELP)
    .option("--kind <kind>", "only auctions of this kind (route, debate, ...)")
    .option("--since <iso>", "auctions from this time, inclusive (ISO 8601)", parseTime)
    .option("--until <iso>", "auctions up to this time, exclusive (ISO 8601)", parseTime)
    .option("--json", "print JSON")
    .action(async (_options: unknown, command: Command) => {
      const { kind, since, until, json } = command.opts<{
        kind?: string;
        since?: number;
        until?: number;
        json?: boolean;
      }>();
      const rows = await withLedger(command, (opened) => opened.winRates({ kind, since, until }));
      if (json) printJson(rows);
      else print(rows.length === 0 ? "No auctions in this range." : winsTable(rows));
    });

  ledger
    .command("auction")
    .description("Everything recorded about one auction: bids, charges, outcome.")
    .configureOutput(output)
    .argument("<id>", "auction id")
    .requiredOption("--db <file|url>", DB_HELP)
    .option("--schema <name>", SCHEMA_HELP)
    .option("--json", "print JSON")
    .action(async (id: string, _options: unknown, command: Command) => {
      const { db, json } = command.opts<{ db: string; json?: boolean }>();
      const record = await withLedger(command, (opened) => opened.getAuction(id));
      if (record === undefined) {
        command.error(`error: no auction ${id} in ${displayed(db)}`, {
          exitCode: EXIT_NOT_FOUND,
          code: "gavel.ledger.auctionNotFound",
        });
      }
      if (json) printJson(record);
      else print(auctionReport(record));
    });

  ledger
    .command("recent")
    .description("The most recent auctions, newest first.")
    .configureOutput(output)
    .requiredOption("--db <file|url>", DB_HELP)
    .option("--schema <name>", SCHEMA_HELP)
    .option("--limit <n>", "how many", parsePositiveInteger, 20)
    .option("--kind <kind>", "only auctions of this kind (route, debate, ...)")
    .option("--json", "print JSON")
    .action(async (_options: unknown, command: Command) => {
      const { limit, kind, json } = command.opts<{ limit: number; kind?: string; json?: boolean }>();
      const rows = await withLedger(command, (opened) => opened.recentAuctions({ limit, kind }));
      if (json) printJson(rows);
      else print(rows.length === 0 ? "No auctions recorded." : recentTable(rows));
    });

  ledger
    .command("overhead")
    .description("Auction overhead (plans, jury, refinements, intents) against answer tokens and USD, per run.")
    .configureOutput(output)
    .requiredOption("--db <file|url>", DB_HELP)
    .option("--schema <name>", SCHEMA_HELP)
    .addOption(new Option("--by <grouping>", "group by").choices(["run", "auction", "model"]).default("run"))
    .option("--kind <kind>", "only charges of auctions of this kind (route, debate, ...)")
    .option("--since <iso>", "charges from this time, inclusive (ISO 8601)", parseTime)
    .option("--until <iso>", "charges up to this time, exclusive (ISO 8601)", parseTime)
    .option("--json", "print JSON")
    .action(async (_options: unknown, command: Command) => {
      const { by, kind, since, until, json } = command.opts<{
        by: OverheadGrouping;
        kind?: string;
        since?: number;
        until?: number;
        json?: boolean;
      }>();
      const rows = await withLedger(command, (opened) => opened.overhead({ by, kind, since, until }));
      if (json) printJson(rows);
      else print(rows.length === 0 ? "No settled charges in this range." : overheadTable(by, rows));
    });

  return ledger;
}

// ---------------------------------------------------------------------------
// Argument parsing
// ---------------------------------------------------------------------------

const DB_HELP =
  "ledger database: a SQLite file, or the postgres:// (postgresql://) URL of a PostgreSQL ledger, " +
  "e.g. postgres://user:password@host:5432/database (the password is never printed)";
const SCHEMA_HELP = 'with a postgres:// --db: the schema of the ledger\'s tables (default "public")';

/**
 * What `PRAGMA quick_check` finds wrong with a SQLite ledger (its first problem and how many more), or
 * `undefined` when it is sound or not a SQLite ledger (a PostgreSQL ledger is not checked here).
 */
function integrityProblem(ledger: LedgerReader): string | undefined {
  const database = (ledger as { database?: unknown }).database;
  if (typeof database !== "object" || database === null || !("pragma" in database)) return undefined;
  let rows: Array<{ quick_check?: unknown }>;
  try {
    rows = (database as { pragma: (source: string) => unknown }).pragma("quick_check") as typeof rows;
  } catch (error) {
    return corruptionOf(error) ?? `PRAGMA quick_check failed: ${oneLine(error)}`;
  }
  // One row per problem, or one row of several lines; "*** in database main ***" heads them.
  const problems = rows
    .flatMap((row) => String(row.quick_check).split("\n"))
    .map((line) => line.trim())
    .filter((line) => line !== "" && line !== "ok" && !line.startsWith("***"));
  if (problems.length === 0) return undefined;
  const more = problems.length > 1 ? ` and ${problems.length - 1} more problem(s)` : "";
  return `PRAGMA quick_check: ${problems[0]}${more}`;
}

/** The SQLite error of a corrupt or non-database file inside `error` (or its causes), as one line. */
function corruptionOf(error: unknown): string | undefined {
  for (let current = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === "string" && /^SQLITE_(CORRUPT|NOTADB)/.test(code)) return `SQLite: ${oneLine(current.message)}`;
  }
  return undefined;
}

function oneLine(value: unknown): string {
  const text = value instanceof Error ? value.message : String(value);
  return text.replace(/\s+/g, " ").trim();
}

/** True when `--db` is a PostgreSQL URL rather than a file. */
function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/** `user:password@` of URLs in a text as `user:***@`. */
/** `--db` as messages show it: a file as given, a URL without its password. */
function displayed(target: string): string {
  return isPostgresUrl(target) ? redact(target) : target;
}

function parseTime(text: string): number {
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new InvalidArgumentError("expected an ISO 8601 date or time, e.g. 2025-01-31 or 2025-01-31T12:00:00Z.");
  }
  return time;
}

// ---------------------------------------------------------------------------
// Rendering
// ---------------------------------------------------------------------------

function usd(value: number): string {
  return `$${value.toFixed(6)}`;
}

function time(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

function integer(value: number): string {
  return value.toLocaleString("en-US");
}

function spendTable(by: SpendGrouping, rows: SpendRow[]): string {
  const output = plainTable([by, "calls", "input tokens", "output tokens", "usd", "estimated"], [1, 2, 3, 4, 5]);
  for (const row of rows) {
    output.push([
      row.key ?? (by === "tool" ? "(model calls)" : "(no agent)"),
      integer(row.calls),
      integer(row.inputTokens),
      integer(row.outputTokens),
      usd(row.usd),
      percent(row.estimatedShare),
    ]);
  }
  const total = (pick: (row: SpendRow) => number) => rows.reduce((sum, row) => sum + pick(row), 0);
  const calls = total((row) => row.calls);
  output.push([
    "total",
    integer(calls),
    integer(total((row) => row.inputTokens)),
    integer(total((row) => row.outputTokens)),
    usd(total((row) => row.usd)),
    percent(calls === 0 ? 0 : total((row) => row.estimatedCalls) / calls),
  ]);
  return output.toString();
}

function overheadTable(by: OverheadGrouping, rows: OverheadRow[]): string {
  const head = [
    by,
    "auctions",
    "answer tokens",
    "overhead tokens",
    "other tokens",
    "overhead",
    "answer usd",
    "overhead usd",
  ];
  const output = plainTable(head, [1, 2, 3, 4, 5, 6, 7]);
  const line = (key: string, row: OverheadRow) => [
    key,
    integer(row.auctions),
    integer(row.answerTokens),
    integer(row.overheadTokens),
    integer(row.otherTokens),
    percent(row.overheadShare),
    usd(row.answerUsd),
    usd(row.overheadUsd),
  ];
  for (const row of rows) output.push(line(row.key ?? (by === "model" ? "-" : `(no ${by})`), row));
  output.push(line("total", overheadTotal(rows)));
  return output.toString();
}

function winsTable(rows: WinRateRow[]): string {
  const output = plainTable(["bidder", "auctions", "wins", "win rate", "mean price paid"], [1, 2, 3, 4]);
  for (const row of rows) {
    output.push([
      row.bidder,
      integer(row.auctions),
      integer(row.wins),
      percent(row.winRate),
      row.meanPricePaid === null ? "-" : row.meanPricePaid.toFixed(4),
    ]);
  }
  return output.toString();
}

function outcomeText(outcome: RecentAuction["outcome"]): string {
  if (outcome === undefined) return "-";
  const verdict = outcome.correct === undefined ? "" : outcome.correct ? "correct" : "wrong";
  const score = outcome.score === undefined ? "" : `score ${outcome.score}`;
  return [verdict, score].filter((part) => part !== "").join(", ") || "recorded";
}

function recentTable(rows: RecentAuction[]): string {
  const output = plainTable(
    ["id", "created", "kind", "mechanism", "winners", "bids", "price", "usd", "outcome"],
    [5, 6, 7],
  );
  for (const row of rows) {
    output.push([
      row.id,
      time(row.createdAt),
      row.kind,
      row.mechanism,
      row.winners.join(", ") || "-",
      integer(row.bidCount),
      row.clearingPrice.toFixed(4),
      usd(row.usd),
      outcomeText(row.outcome),
    ]);
  }
  return output.toString();
}

function auctionReport(record: AuctionRecord): string {
  const summary = new Table({ style: { head: [], border: [] } }); // a key–value table: no header row
  const fields: Array<[string, string]> = [
    ["id", record.id],
    ["created", time(record.createdAt)],
    ["kind", record.kind],
    ["mechanism", record.mechanism],
    ["scope", record.scope === undefined ? "-" : `${record.scope.kind}:${record.scope.id}`],
    ["task", record.task ?? (record.taskHash === undefined ? "-" : `sha256 ${record.taskHash}`)],
    ["winners", record.winners.join(", ") || "-"],
    ["clearing price", String(record.clearingPrice)],
    ["reserve price", String(record.reservePrice)],
    ["seed", String(record.seed)],
    ["outcome", outcomeText(record.outcome)],
  ];
  for (const [name, value] of fields) summary.push({ [name]: value });

  const bids = plainTable(["rank", "bidder", "amount", "value", "tokens", "won", "price", "reason"], [0, 2, 3, 4, 6]);
  for (const bid of record.bids) {
    bids.push([
      String(bid.rank),
      bid.bidder,
      String(bid.amount),
      bid.value === undefined ? "-" : String(bid.value),
      bid.tokens === undefined ? "-" : integer(bid.tokens),
      bid.won ? "yes" : "no",
      String(bid.price),
      bid.reason,
    ]);
  }

  const sections = [summary.toString(), `Bids (${record.bids.length})`, bids.toString()];
  if (record.charges.length > 0) {
    const charges = plainTable(["at", "kind", "model", "agent", "input", "output", "usd", "est."], [4, 5, 6]);
    for (const charge of record.charges) {
      charges.push([
        time(charge.at),
        charge.kind,
        charge.model,
        charge.agent ?? "-",
        integer(charge.inputTokens),
        integer(charge.outputTokens),
        usd(charge.usd),
        charge.estimated ? "yes" : "no",
      ]);
    }
    sections.push(`Charges (${record.charges.length})`, charges.toString());
  }
  return sections.join("\n");
}
