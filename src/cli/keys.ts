/**
 * `gavel keys`: the virtual API keys of `gavel serve`, kept hashed in a SQLite file (the ledger's).
 *
 *   gavel keys create --db FILE --name NAME [--budget-usd 5] [--budget-tokens N] [--user-budget-usd 1]
 *                     [--user-budget-tokens N] [--window 30d] [--rpm 600] [--json]
 *   gavel keys list   --db FILE [--json]
 *   gavel keys revoke --db FILE ID|NAME [--json]
 *
 * `create` prints the key once — alone on stdout, so `KEY=$(gavel keys create ...)` captures it —
 * and on stderr what was created and that the key cannot be shown again (the file keeps only its
 * SHA-256). `list` and `revoke` print no secret. A running server sees created and revoked keys
 * without a restart.
 *
 * Exit codes (src/cli/exit-codes.ts): 0 done; 2 bad input, naming the flag (a bad `--window`, a
 * name that is taken or malformed, a missing `--db` file for `list`/`revoke`, a file that is not a
 * Gavel database, better-sqlite3 not installed); 1 when `revoke` finds no such key (as `gavel
 * ledger auction` does for an unknown auction). Output goes through injectable writers, so tests run
 * the real command in-process. The key store (and better-sqlite3) load only when a subcommand runs.
 */
import { existsSync } from "node:fs";
import { Command } from "commander";
import { z } from "zod";
import type { CreateKeyInput, KeyRecord, KeyStore } from "../../adapters/server/keys.js";
import { ConfigError, functionSchema, parseConfig } from "../errors.js";
import { importPeer } from "../peers.js";
import { parseNonNegative, parsePositiveInteger, plainTable } from "./common.js";
import { EXIT_BAD_INPUT, EXIT_RUN_FAILED, exitCodeOf, usageErrorsExitWithCode2 } from "./exit-codes.js";

/** Exit code of `revoke` when no key has the id or name. */
export const EXIT_KEY_NOT_FOUND = EXIT_RUN_FAILED;

/** Which flag each field of a key comes from, so an invalid field is reported by its flag. */
const FLAG_OF_FIELD: Record<string, string> = {
  name: "--name",
  budgetWindow: "--window",
  "budget.maxUsd": "--budget-usd",
  "budget.maxTokens": "--budget-tokens",
  "userBudget.maxUsd": "--user-budget-usd",
  "userBudget.maxTokens": "--user-budget-tokens",
  requestsPerMinute: "--rpm",
};

const keysCommandOptionsSchema = z
  .object({
    /** Where results go. Default: `process.stdout`. */
    stdout: functionSchema<(text: string) => void>().optional(),
    /** Where messages and warnings go. Default: `process.stderr`. */
    stderr: functionSchema<(text: string) => void>().optional(),
    /** Opens the key store in the file at `--db`. Default: `createKeyStore({ path })` (better-sqlite3). */
    openStore: functionSchema<(path: string) => KeyStore | Promise<KeyStore>>().optional(),
  })
  .strict();

/** Options of {@link keysCommand}: I/O seams for tests and embedding. */
export type KeysCommandOptions = z.input<typeof keysCommandOptionsSchema>;

interface CreateFlags {
  db: string;
  name: string;
  budgetUsd?: number;
  budgetTokens?: number;
  userBudgetUsd?: number;
  userBudgetTokens?: number;
  window?: string;
  rpm?: number;
  json?: boolean;
}

/**
 * The `keys` command of the `gavel` CLI, with its subcommands `create`, `list` and `revoke`.
 *
 * @param options - Optional writers and store opener (seams for tests).
 * @returns A commander `Command` to add to a program.
 * @throws ConfigError when an option is invalid.
 *
 * @example
 * ```ts
 * import { Command } from "commander";
 * const program = new Command("gavel").addCommand(keysCommand());
 * await program.parseAsync(["keys", "create", "--db", "gavel.db", "--name", "ci", "--budget-usd", "5", "--window", "30d"], { from: "user" });
 * ```
 */
export function keysCommand(options: KeysCommandOptions = {}): Command {
  const {
    stdout = (text: string) => process.stdout.write(text),
    stderr = (text: string) => process.stderr.write(text),
    openStore = async (path: string) => {
      // Loaded here, not at the top: `gavel --help` and the other commands never load better-sqlite3.
      await importPeer("better-sqlite3", "gavel keys", () => import("better-sqlite3"));
      const { createKeyStore } = await import("../../adapters/server/keys.js");
      return createKeyStore({ path });
    },
  } = parseConfig("keysCommand options", keysCommandOptionsSchema, options);
  const output = { writeOut: stdout, writeErr: stderr };
  const line = (write: (text: string) => void, text: string) => write(text.endsWith("\n") ? text : `${text}\n`);

  /** Open the store at `--db`, run `work`, close it; every failure ends the command with its exit code. */
  async function withStore<T>(command: Command, mustExist: boolean, work: (store: KeyStore) => Promise<T>): Promise<T> {
    const { db } = command.opts<{ db: string }>();
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(db)) {
      command.error(
        "error: option '--db <file>': keys are kept in a SQLite file (the ledger's file, or one of their own), not behind a URL",
        { exitCode: EXIT_BAD_INPUT, code: "gavel.keys.notAFile" },
      );
    }
    if (mustExist && db !== ":memory:" && !existsSync(db)) {
      command.error(`error: no key database at ${db} (option '--db <file>'); gavel keys create makes one`, {
        exitCode: EXIT_BAD_INPUT,
        code: "gavel.keys.missingDatabase",
      });
    }
    let store: KeyStore;
    try {
      store = await openStore(db);
    } catch (error) {
      const { exitCode, code } = exitCodeOf(error);
      // A file that is not a database, or one of another application: bad input, like a missing file.
      const badFile = exitCode === EXIT_RUN_FAILED ? EXIT_BAD_INPUT : exitCode;
      return command.error(`error: option '--db <file>': ${messageOf(error)}`, {
        exitCode: badFile,
        code: `gavel.keys.${code === "runFailed" ? "unreadableDatabase" : code}`,
      });
    }
    try {
      return await work(store);
    } catch (error) {
      return fail(command, error);
    } finally {
      await store.close();
    }
  }

  function fail(command: Command, error: unknown): never {
    if (ConfigError.isInstance(error)) {
      const flags = error.fields.map((field) => FLAG_OF_FIELD[field] ?? field);
      // One line per invalid field, as ConfigError words it, with the field named by its flag.
      const reasons = error.message
        .split("\n")
        .slice(1)
        .map((reason, index) => reason.replace(`- ${error.fields[index]}:`, `- ${flags[index]}:`));
      return command.error(`error: invalid ${[...new Set(flags)].join(", ")}:\n${reasons.join("\n")}`, {
        exitCode: EXIT_BAD_INPUT,
        code: "gavel.keys.invalidOption",
      });
    }
    const { name, operation, notFound } = (error ?? {}) as { name?: string; operation?: string; notFound?: boolean };
    if (name === "KeyStoreError" && notFound) {
      return command.error(`error: ${messageOf(error)}`, { exitCode: EXIT_KEY_NOT_FOUND, code: "gavel.keys.notFound" });
    }
    if (name === "KeyStoreError" && operation === "create") {
      return command.error(`error: option '--name <name>': ${messageOf(error)}`, {
        exitCode: EXIT_BAD_INPUT,
        code: "gavel.keys.nameTaken",
      });
    }
    const { exitCode, code } = exitCodeOf(error);
    return command.error(`error: ${messageOf(error)}`, { exitCode, code: `gavel.keys.${code}` });
  }

  const keys = new Command("keys")
    .description("Manage the virtual API keys of gavel serve (stored hashed in the ledger's SQLite file).")
    .configureOutput(output)
    .exitOverride(usageErrorsExitWithCode2);

  keys
    .command("create")
    .description("Create a key and print it once (it cannot be shown again).")
    .configureOutput(output)
    .requiredOption("--db <file>", DB_HELP)
    .requiredOption("--name <name>", "the key's name (letters, digits, . _ - @ :), unique among active keys")
    .option("--budget-usd <usd>", "what the key may spend, in USD (per --window)", parseNonNegative)
    .option("--budget-tokens <n>", "what the key may spend, in tokens (per --window)", parsePositiveInteger)
    .option("--user-budget-usd <usd>", "what each `user` of the key may spend, in USD (per --window)", parseNonNegative)
    .option("--user-budget-tokens <n>", "what each `user` may spend, in tokens (per --window)", parsePositiveInteger)
    .option(
      "--window <period>",
      'budget period, e.g. "1h", "1d", "30d", "1mo" (default: the server\'s; none: never resets)',
    )
    .option("--rpm <n>", "most requests per minute (default: the server's)", parsePositiveInteger)
    .option("--json", "print the key and its record as JSON")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, command: Command) => {
      const flags = command.opts<CreateFlags>();
      const input: CreateKeyInput = {
        name: flags.name,
        ...limitsOf("budget", flags.budgetUsd, flags.budgetTokens),
        ...limitsOf("userBudget", flags.userBudgetUsd, flags.userBudgetTokens),
        ...(flags.window !== undefined && { budgetWindow: flags.window }),
        ...(flags.rpm !== undefined && { requestsPerMinute: flags.rpm }),
      };
      const { key, record } = await withStore(command, false, (store) => store.create(input));
      if (flags.json) {
        line(stdout, JSON.stringify({ key, ...record }, null, 2));
      } else {
        line(stdout, key);
      }
      line(
        stderr,
        `Created key "${record.name}" (id ${record.id}${describeLimits(record)}).\n` +
          "This is the only time the key is shown: store it now. Gavel keeps only its SHA-256 and cannot show it again.",
      );
    });

  keys
    .command("list")
    .description("List the keys, active and revoked (no secrets).")
    .configureOutput(output)
    .requiredOption("--db <file>", DB_HELP)
    .option("--json", "print JSON")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (_options: unknown, command: Command) => {
      const { json } = command.opts<{ json?: boolean }>();
      const records = await withStore(command, true, (store) => store.list());
      if (json) line(stdout, JSON.stringify(records, null, 2));
      else line(stdout, records.length === 0 ? "No keys yet (gavel keys create makes one)." : keyTable(records));
    });

  keys
    .command("revoke")
    .description("Revoke a key by id or name; a running server refuses it from then on.")
    .configureOutput(output)
    .argument("<id-or-name>", "the key's id (key_...) or the name of an active key")
    .requiredOption("--db <file>", DB_HELP)
    .option("--json", "print the revoked key's record as JSON")
    .exitOverride(usageErrorsExitWithCode2)
    .action(async (idOrName: string, _options: unknown, command: Command) => {
      const { json } = command.opts<{ json?: boolean }>();
      const record = await withStore(command, true, (store) => store.revoke(idOrName));
      if (json) line(stdout, JSON.stringify(record, null, 2));
      else line(stdout, `Revoked key "${record.name}" (id ${record.id}) at ${record.revokedAt}.`);
    });

  return keys;
}

const DB_HELP = "the SQLite file of the keys: the ledger's file of gavel serve (keysDb), usually";

function limitsOf(field: "budget" | "userBudget", usd: number | undefined, tokens: number | undefined) {
  if (usd === undefined && tokens === undefined) return {};
  return { [field]: { ...(usd !== undefined && { maxUsd: usd }), ...(tokens !== undefined && { maxTokens: tokens }) } };
}

function limitText(limits: { maxUsd?: number; maxTokens?: number } | undefined): string {
  if (!limits) return "-";
  const parts = [];
  if (limits.maxUsd !== undefined) parts.push(`$${limits.maxUsd}`);
  if (limits.maxTokens !== undefined) parts.push(`${limits.maxTokens} tokens`);
  return parts.join(", ");
}

function describeLimits(record: KeyRecord): string {
  const per = record.budgetWindow === undefined ? "" : ` per ${record.budgetWindow}`;
  const parts = [
    record.budget && `budget ${limitText(record.budget)}${per}`,
    record.userBudget && `${limitText(record.userBudget)} per user${per}`,
    record.requestsPerMinute !== undefined && `${record.requestsPerMinute} requests/min`,
  ].filter(Boolean);
  return parts.length === 0 ? "" : `; ${parts.join("; ")}`;
}

function keyTable(records: readonly KeyRecord[]): string {
  const table = plainTable(["id", "name", "budget", "per user", "window", "rpm", "created", "status"]);
  for (const record of records) {
    table.push([
      record.id,
      record.name,
      limitText(record.budget),
      limitText(record.userBudget),
      record.budgetWindow ?? "-",
      record.requestsPerMinute === undefined ? "-" : String(record.requestsPerMinute),
      record.createdAt,
      record.revokedAt === undefined ? "active" : `revoked ${record.revokedAt}`,
    ]);
  }
  return table.toString();
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
