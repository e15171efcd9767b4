/**
 * Virtual keys of `gavel serve` (adapters/server/keys.ts): stored hashed (the file never holds the
 * key), verified by digest (right key in; wrong, revoked, off-by-one-character and empty keys out),
 * shared through the file with another store instance (another process) without a restart, sharing
 * the ledger's file and refusing a foreign one, and keys from the config (`keyEnv`, `sha256`).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import {
  configKeySchema,
  createKeyStore,
  createKeyVerifier,
  KEY_PREFIX,
  KeyStoreError,
  keyDigest,
} from "../../adapters/server/keys.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { ConfigError } from "../../src/errors.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-keys-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(folder, `keys-${++files}.db`);

/** Every byte of the database, its WAL included (a fresh write may still be only in the WAL). */
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

/** `key` with its last character changed. */
function lastCharacterChanged(key: string): string {
  return `${key.slice(0, -1)}${key.endsWith("A") ? "B" : "A"}`;
}

describe("key store: keys are stored hashed", () => {
  it("creates a gvl- key of 256 random bits and keeps only its SHA-256", async () => {
    const path = newFile();
    const store = createKeyStore({ path });
    const { key, record } = await store.create({ name: "ci", budget: { maxUsd: 5 }, userBudget: { maxUsd: 1 } });
    expect(key).toMatch(/^gvl-[A-Za-z0-9_-]{43}$/);
    expect(key.startsWith(KEY_PREFIX)).toBe(true);
    expect(record).toEqual({
      id: expect.stringMatching(/^key_[0-9a-f]{12}$/),
      name: "ci",
      budget: { maxUsd: 5 },
      userBudget: { maxUsd: 1 },
      createdAt: expect.any(String),
    });
    expect(JSON.stringify(record)).not.toContain(key);

    const rows = store.database.prepare("SELECT * FROM gavel_server_keys").all() as Array<Record<string, unknown>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]?.sha256).toBe(keyDigest(key));
    expect(Object.values(rows[0] ?? {}).some((value) => String(value).includes(key.slice(4)))).toBe(false);
    await store.close();

    // Read the file itself: neither the key nor its random part is anywhere in it.
    const bytes = fileBytes(path);
    expect(bytes).toContain(keyDigest(key)); // the digest is there (the test reads the right file)
    expect(bytes).not.toContain(key.slice(4));
    expect(bytes).not.toContain(key.slice(4, 24));
  });

  it("two keys never collide, and list shows no secret", async () => {
    const store = createKeyStore({ path: ":memory:" });
    const first = await store.create({ name: "a" });
    const second = await store.create({ name: "b", budgetWindow: "30d", requestsPerMinute: 600 });
    expect(first.key).not.toBe(second.key);
    const listed = await store.list();
    expect(listed.map((record) => record.name)).toEqual(["a", "b"]);
    expect(listed[1]).toMatchObject({ budgetWindow: "30d", requestsPerMinute: 600 });
    const text = JSON.stringify(listed);
    for (const { key } of [first, second]) {
      expect(text).not.toContain(key);
      expect(text).not.toContain(keyDigest(key));
    }
    await store.close();
  });

  it("refuses a second active key with the same name, and bad input naming the field", async () => {
    const store = createKeyStore({ path: ":memory:" });
    await store.create({ name: "ci" });
    const taken = await store.create({ name: "ci" }).catch((error: unknown) => error);
    expect(KeyStoreError.isInstance(taken)).toBe(true);
    expect((taken as Error).message).toMatch(/already named "ci"/);

    const bad = await store.create({ name: "ci 2", budgetWindow: "30 days" }).catch((error: unknown) => error);
    expect(ConfigError.isInstance(bad)).toBe(true);
    expect((bad as ConfigError).fields.sort()).toEqual(["budgetWindow", "name"]);

    await store.revoke("ci");
    await expect(store.create({ name: "ci" })).resolves.toMatchObject({ record: { name: "ci" } }); // name free again
    await store.close();
  });
});

describe("key store: verify", () => {
  it("accepts the right key, rejects a wrong, an off-by-one, an empty and a revoked one", async () => {
    const store = createKeyStore({ path: ":memory:" });
    const { key, record } = await store.create({ name: "ci", budget: { maxTokens: 1_000 }, budgetWindow: "1d" });
    const other = await store.create({ name: "other" });
    const verifier = store.verifier();

    expect(await verifier.verify(key)).toEqual({
      id: record.id,
      name: "ci",
      budget: { maxTokens: 1_000 },
      budgetWindow: "1d",
    });
    expect(await verifier.verify(`gvl-${"A".repeat(43)}`)).toBeUndefined();
    expect(await verifier.verify(lastCharacterChanged(key))).toBeUndefined();
    expect(await verifier.verify(key.slice(0, -1))).toBeUndefined();
    expect(await verifier.verify(`${key} `)).toBeUndefined();
    expect(await verifier.verify("")).toBeUndefined();
    expect(await verifier.verify(keyDigest(key))).toBeUndefined(); // the digest is not the key
    expect(await verifier.verify("x".repeat(100_000))).toBeUndefined();

    const revoked = await store.revoke(record.id);
    expect(revoked.revokedAt).toEqual(expect.any(String));
    expect(await verifier.verify(key)).toBeUndefined(); // revoked through this store: at once
    expect((await verifier.verify(other.key))?.name).toBe("other");
    await store.close();
  });

  it("revoke takes an id or an active name; an unknown one is notFound; revoking twice changes nothing", async () => {
    const store = createKeyStore({ path: ":memory:" });
    const { record } = await store.create({ name: "ci" });
    const first = await store.revoke("ci");
    const again = await store.revoke(record.id);
    expect(again.revokedAt).toBe(first.revokedAt);
    const missing = await store.revoke("ci").catch((error: unknown) => error); // no longer an active name
    expect(KeyStoreError.isInstance(missing) && missing.notFound).toBe(true);
    await store.close();
  });

  it("a key created by another process (another store on the file) verifies without a restart", async () => {
    const path = newFile();
    let clock = 1_000_000;
    const server = createKeyStore({ path, now: () => clock });
    const verifier = server.verifier([], { refreshMs: 5_000 });
    expect(verifier.size).toBe(0);

    const cli = createKeyStore({ path }); // `gavel keys create` in another process
    const { key } = await cli.create({ name: "late" });
    expect((await verifier.verify(key))?.name).toBe("late"); // unknown → the file is checked at once

    // Revoked by the other process: seen once the refresh period has passed.
    await cli.revoke("late");
    clock += 5_000;
    expect(await verifier.verify(key)).toBeUndefined();
    await cli.close();
    await server.close();
  });

  it("a verifier checks the file only when its generation moved (unknown keys do not reload it)", async () => {
    const store = createKeyStore({ path: ":memory:" });
    await store.create({ name: "ci" });
    const verifier = store.verifier([], { refreshMs: 60_000 });
    const reads = { active: 0 };
    const activeDigests = store.activeDigests.bind(store);
    store.activeDigests = () => {
      reads.active += 1;
      return activeDigests();
    };
    for (let index = 0; index < 20; index += 1) await verifier.verify(`gvl-wrong-${index}`);
    expect(reads.active).toBe(0);
    await store.close();
  });
});

describe("key store: the file", () => {
  it("shares the ledger's file, whichever opens it first", async () => {
    for (const ledgerFirst of [true, false]) {
      const path = newFile();
      const open = () => createSqliteLedger({ path });
      const ledger = ledgerFirst ? open() : undefined;
      const store = createKeyStore({ path });
      const later = ledger ?? open();
      const { key } = await store.create({ name: "ci" });
      expect(later.schemaVersion).toBe(1);
      await later.recordCharge({
        kind: "settle",
        model: "gpt-4o-mini",
        inputTokens: 10,
        outputTokens: 5,
        usd: 0.001,
      });
      expect((await store.verifier().verify(key))?.name).toBe("ci");
      await later.close();
      await store.close();
    }
  });

  it("borrows the ledger's handle without changing its settings or closing it", async () => {
    const ledger = createSqliteLedger({ path: newFile(), busyTimeoutMs: 12_345 });
    const store = createKeyStore({ database: ledger.database });
    const { key } = await store.create({ name: "ci" });
    expect((await store.verifier().verify(key))?.name).toBe("ci");
    expect(ledger.database.pragma("busy_timeout", { simple: true })).toBe(12_345);
    await store.close();
    expect(ledger.database.open).toBe(true);
    expect(ledger.database.prepare("SELECT COUNT(*) AS keys FROM gavel_server_keys").get()).toEqual({ keys: 1 });
    await ledger.close();
  });

  it("refuses a SQLite file of another application, and a file that is not a database", async () => {
    const foreign = newFile();
    const database = new Database(foreign);
    database.pragma("application_id = 1234");
    database.exec("CREATE TABLE notes (text TEXT)");
    database.close();
    const error = (() => {
      try {
        createKeyStore({ path: foreign });
      } catch (caught) {
        return caught;
      }
    })();
    expect(KeyStoreError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/another application \(application_id 1234\)/);
    const untouched = new Database(foreign);
    expect(untouched.prepare("SELECT name FROM sqlite_master WHERE name LIKE 'gavel%'").all()).toEqual([]);
    untouched.close();

    const text = newFile();
    writeFileSync(text, "this is a text file, not a database, and long enough to have a header...........");
    expect(() => createKeyStore({ path: text })).toThrow(/not a database/);
  });

  it("refuses key tables written by a newer Gavel", () => {
    const path = newFile();
    const store = createKeyStore({ path });
    store.database.prepare("UPDATE gavel_server_keys_schema SET version = 99").run();
    void store.close();
    expect(() => createKeyStore({ path })).toThrow(/version 99, written by a newer langchain-gavel/);
  });
});

describe("keys of the config", () => {
  const plain = `${KEY_PREFIX}config-key-for-tests-000000000000000000000`;

  it("verifies a key held in an environment variable, or given by its SHA-256", async () => {
    const verifier = createKeyVerifier({
      keys: [
        { name: "env", keyEnv: "GAVEL_TEST_KEY", budget: { maxUsd: 2 }, window: "1d" },
        { name: "digest", sha256: keyDigest("another-key-of-the-operator").toUpperCase(), requestsPerMinute: 30 },
      ],
      env: { GAVEL_TEST_KEY: plain },
    });
    expect(await verifier.verify(plain)).toEqual({
      id: "cfg_env",
      name: "env",
      budget: { maxUsd: 2 },
      budgetWindow: "1d",
    });
    expect(await verifier.verify("another-key-of-the-operator")).toEqual({
      id: "cfg_digest",
      name: "digest",
      requestsPerMinute: 30,
    });
    expect(await verifier.verify(lastCharacterChanged(plain))).toBeUndefined();
    expect(await verifier.verify("GAVEL_TEST_KEY")).toBeUndefined();
  });

  it("config keys and stored keys verify side by side", async () => {
    const store = createKeyStore({ path: ":memory:" });
    const { key } = await store.create({ name: "stored" });
    const verifier = store.verifier([{ name: "config", keyEnv: "K" }], { env: { K: plain } });
    expect((await verifier.verify(key))?.name).toBe("stored");
    expect((await verifier.verify(plain))?.name).toBe("config");
    expect(verifier.size).toBe(2);
    await store.close();
  });

  it("refuses a plain key in the config, a missing variable, both or neither source, naming the field", () => {
    const inline = configKeySchema.safeParse({ name: "ci", key: plain });
    expect(inline.success).toBe(false);
    expect(inline.error?.issues[0]?.message).toMatch(/never put a plain key in the config/);
    expect(JSON.stringify(inline.error?.issues)).not.toContain(plain);

    const missing = (() => {
      try {
        createKeyVerifier({ keys: [{ name: "ci", keyEnv: "GAVEL_NOT_SET" }], env: {} });
      } catch (error) {
        return error;
      }
    })();
    expect(ConfigError.isInstance(missing)).toBe(true);
    expect((missing as ConfigError).fields).toEqual(["keys.0.keyEnv"]);
    expect((missing as Error).message).toMatch(/GAVEL_NOT_SET is not set/);

    expect(() => createKeyVerifier({ keys: [{ name: "ci" }] })).toThrow(/keys\.0\.keyEnv: give exactly one of/);
    expect(() =>
      createKeyVerifier({ keys: [{ name: "ci", keyEnv: "K", sha256: keyDigest("x") }], env: { K: "y" } }),
    ).toThrow(/keys\.0\.keyEnv/);
    expect(() => createKeyVerifier({ keys: [{ name: "ci", sha256: "abc" }] })).toThrow(
      /keys\.0\.sha256: must be the 64/,
    );
    expect(() =>
      createKeyVerifier({
        keys: [
          { name: "ci", sha256: keyDigest("a") },
          { name: "ci", sha256: keyDigest("b") },
        ],
      }),
    ).toThrow(/keys\.1\.name: a key is already named "ci"/);
  });
});
