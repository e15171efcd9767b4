/**
 * `gavel keys` (src/cli/keys.ts) through the real command: create prints the key once (stdout) and
 * warns it cannot be shown again; list and revoke print no secret; the database file never holds
 * the key; a revoked key no longer verifies; bad input exits 2 naming the flag, an unknown key to
 * revoke exits 1. One run of the real binary checks the registration, the exit code of a bad flag
 * and that `gavel keys --help` loads no database driver.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createKeyStore } from "../../adapters/server/keys.js";
import { EXIT_BAD_INPUT } from "../../src/cli/exit-codes.js";
import { EXIT_KEY_NOT_FOUND, keysCommand } from "../../src/cli/keys.js";
import { runGavel } from "../helpers/cli.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-keys-cli-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
let files = 0;
const newDb = () => join(folder, `keys-${++files}.db`);
const gavel = (args: string[]) => runGavel((writers) => [keysCommand(writers)], args);
const KEY = /gvl-[A-Za-z0-9_-]{43}/g;

/** Every byte of the database and its WAL. */
function fileBytes(path: string): string {
  return [path, `${path}-wal`]
    .map((file) => {
      try {
        return readFileSync(file).toString("latin1");
      } catch {
        return "";
      }
    })
    .join("");
}

describe("gavel keys", () => {
  it("create prints the key once, list and revoke never, and the file never holds it", async () => {
    const db = newDb();
    const created = await gavel([
      "keys",
      "create",
      "--db",
      db,
      "--name",
      "notebook",
      "--budget-usd",
      "5",
      "--user-budget-usd",
      "1",
      "--window",
      "30d",
      "--rpm",
      "600",
    ]);
    expect(created.exitCode).toBe(0);
    const keys = created.stdout.match(KEY) ?? [];
    expect(keys).toHaveLength(1);
    const key = keys[0] as string;
    expect(created.stdout).toBe(`${key}\n`); // alone on stdout: KEY=$(gavel keys create ...)
    expect(created.stderr).toMatch(/only time the key is shown/);
    expect(created.stderr).toMatch(/cannot show it again/);
    expect(created.stderr).toContain('Created key "notebook"');
    expect(created.stderr).not.toContain(key);

    const second = await gavel(["keys", "create", "--db", db, "--name", "ci"]);
    const secondKey = second.stdout.trim();

    const listed = await gavel(["keys", "list", "--db", db]);
    expect(listed.exitCode).toBe(0);
    expect(listed.stdout).toMatch(/notebook.*\$5.*\$1.*30d.*600.*active/);
    expect(listed.stdout).toMatch(/ci .*active/);
    const json = await gavel(["keys", "list", "--db", db, "--json"]);
    const records = JSON.parse(json.stdout) as Array<{ id: string; name: string }>;
    expect(records.map((record) => record.name)).toEqual(["notebook", "ci"]);
    for (const output of [listed.stdout, listed.stderr, json.stdout, second.stderr]) {
      expect(output).not.toContain(key);
      expect(output).not.toContain(key.slice(4, 20));
    }

    // The key works in a server's verifier until revoked.
    const store = createKeyStore({ path: db });
    const verifier = store.verifier();
    expect((await verifier.verify(key))?.name).toBe("notebook");

    const revoked = await gavel(["keys", "revoke", "--db", db, "notebook"]);
    expect(revoked.exitCode).toBe(0);
    expect(revoked.stdout).toMatch(/^Revoked key "notebook" \(id key_[0-9a-f]{12}\)/);
    expect(revoked.stdout).not.toContain(key);
    verifier.refresh();
    expect(await verifier.verify(key)).toBeUndefined();
    expect((await verifier.verify(secondKey))?.name).toBe("ci");
    await store.close();

    const byId = await gavel(["keys", "revoke", "--db", db, (records[1] as { id: string }).id]);
    expect(byId.stdout).toContain('Revoked key "ci"');
    const after = await gavel(["keys", "list", "--db", db]);
    expect(after.stdout.match(/revoked 20/g)).toHaveLength(2);

    const bytes = fileBytes(db);
    expect(bytes).toContain("notebook"); // the right file, read whole
    for (const plain of [key, secondKey]) {
      expect(bytes).not.toContain(plain);
      expect(bytes).not.toContain(plain.slice(4, 20));
    }
  });

  it("--json prints the key once, with its record", async () => {
    const db = newDb();
    const { stdout, exitCode } = await gavel(["keys", "create", "--db", db, "--name", "ci", "--json"]);
    expect(exitCode).toBe(0);
    const printed = JSON.parse(stdout) as { key: string; id: string; name: string };
    expect(printed).toMatchObject({ name: "ci", id: expect.stringMatching(/^key_/) });
    expect(stdout.match(KEY)).toEqual([printed.key]);
  });

  it("bad input exits 2 naming the flag; an unknown key to revoke exits 1", async () => {
    const db = newDb();
    const badWindow = await gavel(["keys", "create", "--db", db, "--name", "ci", "--window", "30 days"]);
    expect(badWindow.exitCode).toBe(EXIT_BAD_INPUT);
    expect(badWindow.stderr).toMatch(/--window: must be a period like "1h", "1d" or "30d"/);
    expect(badWindow.stdout).toBe(""); // no key printed, none created
    expect((await gavel(["keys", "list", "--db", db])).stdout).toMatch(/No keys yet/);

    const badName = await gavel(["keys", "create", "--db", db, "--name", "two words"]);
    expect(badName.exitCode).toBe(EXIT_BAD_INPUT);
    expect(badName.stderr).toMatch(/--name: must be 1 to 64 letters/);

    await gavel(["keys", "create", "--db", db, "--name", "ci"]);
    const taken = await gavel(["keys", "create", "--db", db, "--name", "ci"]);
    expect(taken.exitCode).toBe(EXIT_BAD_INPUT);
    expect(taken.stderr).toMatch(/option '--name <name>': an active key is already named "ci"/);
    expect(taken.stdout).toBe("");

    const missing = await gavel(["keys", "list", "--db", join(folder, "none.db")]);
    expect(missing.exitCode).toBe(EXIT_BAD_INPUT);
    expect(missing.stderr).toMatch(/no key database at .*none\.db \(option '--db <file>'\)/);

    const url = await gavel(["keys", "create", "--db", "postgres://localhost/gavel", "--name", "ci"]);
    expect(url.exitCode).toBe(EXIT_BAD_INPUT);
    expect(url.stderr).toMatch(/--db <file>': keys are kept in a SQLite file/);

    const unknown = await gavel(["keys", "revoke", "--db", db, "key_000000000000"]);
    expect(unknown.exitCode).toBe(EXIT_KEY_NOT_FOUND);
    expect(unknown.stderr).toMatch(/no key has the id or active name "key_000000000000"/);
  });

  it("refuses a SQLite file of another application (exit 2) and leaves it untouched", async () => {
    const foreign = newDb();
    const database = new Database(foreign);
    database.pragma("application_id = 42");
    database.close();
    const { exitCode, stderr, stdout } = await gavel(["keys", "create", "--db", foreign, "--name", "ci"]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toMatch(/option '--db <file>': .*another application \(application_id 42\)/);
    expect(stdout).toBe("");
    const reopened = new Database(foreign);
    expect(reopened.prepare("SELECT COUNT(*) AS tables FROM sqlite_master").get()).toEqual({ tables: 0 });
    reopened.close();
  });
});

describe("gavel keys: the binary", () => {
  const root = join(import.meta.dirname, "..", "..");
  const run = promisify(execFile);

  it("is registered, loads no database driver for --help, and exits 2 on a bad flag", async () => {
    const loads = join(folder, "loads.txt");
    const help = await run(
      process.execPath,
      [
        "--import",
        join(root, "tests", "cli", "fixtures", "record-loads.mjs"),
        "--import",
        "tsx",
        join(root, "src", "cli", "main.ts"),
        "keys",
        "--help",
      ],
      { cwd: root, env: { ...process.env, GAVEL_LOADS_FILE: loads }, timeout: 60_000 },
    );
    expect(help.stdout).toMatch(/create .*\n.*list.*\n.*revoke/s);
    const loaded = readFileSync(loads, "utf8").split("\n");
    expect(loaded.some((url) => url.includes("/src/cli/keys.ts"))).toBe(true);
    expect(
      loaded.filter((url) => /better-sqlite3|\/adapters\/sqlite\/|\/adapters\/server\/keys\.ts/.test(url)),
    ).toEqual([]);

    const bad = await run(
      process.execPath,
      [
        "--import",
        "tsx",
        join(root, "src", "cli", "main.ts"),
        "keys",
        "create",
        "--db",
        newDb(),
        "--name",
        "x",
        "--rpm",
        "0",
      ],
      { cwd: root, timeout: 60_000 },
    ).then(
      () => ({ code: 0, stderr: "" }),
      (error: { code: number; stderr: string }) => error,
    );
    expect(bad.code).toBe(EXIT_BAD_INPUT);
    expect(bad.stderr).toMatch(/option '--rpm <n>' argument '0' is invalid/);
  }, 120_000);
});
