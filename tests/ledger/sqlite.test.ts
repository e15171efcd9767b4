import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteLedger, type SqliteLedger } from "../../adapters/sqlite/ledger.js";
import { LEDGER_APPLICATION_ID, LEDGER_SCHEMA_VERSION } from "../../adapters/sqlite/migrations.js";
import { ConfigError } from "../../src/errors.js";
import { LedgerError } from "../../src/ledger/errors.js";
import { timeOrderedId } from "../../src/ledger/ids.js";
import { hashTask } from "../../src/ledger/task-hash.js";
import { createSampleOutcome, describeAuctionLedgerConformance } from "../../src/testing.js";

function temporaryFolder(): string {
  return mkdtempSync(join(tmpdir(), "gavel-ledger-"));
}

const files = temporaryFolder();
afterAll(() => {
  rmSync(files, { recursive: true, force: true });
});

await describeAuctionLedgerConformance({
  name: "SQLite file (WAL)",
  create: ({ key }) => createSqliteLedger({ path: join(files, `${key}.db`) }),
  destroy: async (ledger, { key }) => {
    await ledger.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(join(files, `${key}.db${suffix}`), { force: true });
  },
});

await describeAuctionLedgerConformance({
  name: "SQLite :memory:",
  create: () => createSqliteLedger({ path: ":memory:" }),
});

await describeAuctionLedgerConformance<SqliteLedger>({
  name: "SQLite on an injected handle",
  create: () => createSqliteLedger({ database: new Database(":memory:") }),
  destroy: async (ledger) => {
    await ledger.close();
    ledger.database.close();
  },
});

const outcome = createSampleOutcome({
  bids: [
    { bidder: "a", amount: 2 },
    { bidder: "b", amount: 1 },
  ],
});

describe("createSqliteLedger", () => {
  let folder: string;
  beforeEach(() => {
    folder = temporaryFolder();
  });
  afterEach(() => {
    rmSync(folder, { recursive: true, force: true });
  });

  it("configures a file for WAL, NORMAL sync, foreign keys and schema version 1", async () => {
    const ledger = createSqliteLedger({ path: join(folder, "ledger.db") });
    const pragma = (name: string) => ledger.database.pragma(name, { simple: true });
    expect(pragma("journal_mode")).toBe("wal");
    expect(pragma("synchronous")).toBe(1);
    expect(pragma("foreign_keys")).toBe(1);
    expect(pragma("user_version")).toBe(LEDGER_SCHEMA_VERSION);
    expect(pragma("application_id")).toBe(LEDGER_APPLICATION_ID);
    expect(ledger.schemaVersion).toBe(1);
    await ledger.close();
  });

  it("uses FULL sync when asked", async () => {
    const ledger = createSqliteLedger({ path: join(folder, "ledger.db"), synchronous: "full" });
    expect(ledger.database.pragma("synchronous", { simple: true })).toBe(2);
    await ledger.close();
  });

  it("stamps records with the injected clock and ids with the injected generator", async () => {
    let tick = 1_000;
    let counter = 0;
    const ledger = createSqliteLedger({
      path: ":memory:",
      now: () => tick++,
      generateId: () => `id-${++counter}`,
    });
    const auctionId = await ledger.recordAuction({ kind: "demo", outcome });
    const chargeId = await ledger.recordCharge({
      kind: "settle",
      model: "m",
      inputTokens: 1,
      outputTokens: 1,
      usd: 0,
      auctionId,
    });
    await ledger.recordOutcome({ auctionId, correct: true });
    await ledger.recordBudget({ scope: { kind: "global", id: "*" }, limits: { maxTokens: 10 } });
    await ledger.recordBudgetSnapshot({ accounts: [] });
    expect([auctionId, chargeId]).toEqual(["id-1", "id-2"]);
    const record = await ledger.getAuction(auctionId);
    expect(record?.createdAt).toBe(1_000);
    expect(record?.charges[0]?.at).toBe(1_001);
    expect(record?.outcome?.recordedAt).toBe(1_002);
    expect((await ledger.budgets())[0]?.definedAt).toBe(1_003);
    expect((await ledger.latestBudgetSnapshot())?.takenAt).toBe(1_004);
    await ledger.close();
  });

  it("generates time-ordered UUIDv7 ids from the injected clock by default", async () => {
    const ledger = createSqliteLedger({ path: ":memory:", now: () => Date.parse("2025-06-01T00:00:00Z") });
    const id = await ledger.recordAuction({ kind: "demo", outcome });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(Date.parse("2025-06-01T00:00:00Z"));
    await ledger.close();
  });

  it("orders ids by time", () => {
    const ids = [1, 2, 255, 256, 70_000, 1_700_000_000_000, 2 ** 47].map(timeOrderedId);
    expect([...ids].sort()).toEqual(ids);
  });

  it("keeps only the task hash when storeTaskText is false", async () => {
    const ledger = createSqliteLedger({ path: ":memory:", storeTaskText: false });
    const id = await ledger.recordAuction({ kind: "route", outcome, task: "secret prompt" });
    const record = await ledger.getAuction(id);
    expect(record?.task).toBeUndefined();
    expect(record?.taskHash).toBe(hashTask("secret prompt"));
    await ledger.close();
  });

  it("keeps data across reopening and does not migrate twice", async () => {
    const path = join(folder, "ledger.db");
    const first = createSqliteLedger({ path });
    await first.recordAuction({ id: "kept", kind: "route", outcome });
    await first.close();
    const second = createSqliteLedger({ path });
    expect((await second.getAuction("kept"))?.bids).toHaveLength(2);
    await second.close();
  });

  it("lets a second connection read what the first committed, while the first is open", async () => {
    const path = join(folder, "ledger.db");
    const writer = createSqliteLedger({ path });
    const reader = createSqliteLedger({ path, readonly: true });
    await writer.recordAuction({ id: "shared", kind: "route", outcome });
    expect((await reader.getAuction("shared"))?.winners).toEqual(["a"]);
    await reader.close();
    await writer.close();
  });

  it("does not close an injected handle", async () => {
    const database = new Database(":memory:");
    const ledger = createSqliteLedger({ database });
    await ledger.close();
    expect(database.open).toBe(true);
    database.close();
  });

  it("rejects calls after close with a LedgerError", async () => {
    const ledger = createSqliteLedger({ path: ":memory:" });
    await ledger.close();
    await ledger.close(); // closing twice is harmless
    await expect(ledger.recentAuctions()).rejects.toSatisfy((error: unknown) => LedgerError.isInstance(error));
  });

  describe("read-only", () => {
    it("refuses a missing file instead of creating it", () => {
      const path = join(folder, "missing.db");
      expect(() => createSqliteLedger({ path, readonly: true })).toThrow(LedgerError);
      expect(() => new Database(path, { fileMustExist: true })).toThrow();
    });

    it("refuses a SQLite file that is not a ledger", () => {
      const path = join(folder, "other.db");
      const other = new Database(path);
      other.exec("CREATE TABLE notes (text TEXT)");
      other.close();
      expect(() => createSqliteLedger({ path, readonly: true })).toThrow(/not a Gavel ledger/);
    });

    it("reads but rejects writes", async () => {
      const path = join(folder, "ledger.db");
      const writer = createSqliteLedger({ path });
      await writer.recordAuction({ id: "x", kind: "route", outcome });
      await writer.close();
      const reader = createSqliteLedger({ path, readonly: true });
      expect(await reader.getAuction("x")).toBeDefined();
      await expect(reader.recordAuction({ kind: "route", outcome })).rejects.toSatisfy((error: unknown) =>
        LedgerError.isInstance(error),
      );
      await reader.close();
    });
  });

  describe("schema guards", () => {
    it("refuses a file with a newer schema version", () => {
      const path = join(folder, "future.db");
      const future = new Database(path);
      future.pragma(`user_version = ${LEDGER_SCHEMA_VERSION + 1}`);
      future.close();
      expect(() => createSqliteLedger({ path })).toThrow(/newer than this Gavel/);
    });

    it("refuses a file of another application", () => {
      const path = join(folder, "foreign.db");
      const foreign = new Database(path);
      foreign.pragma("application_id = 1234");
      foreign.close();
      expect(() => createSqliteLedger({ path })).toThrow(/another application/);
    });

    it("adds its tables beside existing ones in a plain SQLite file", async () => {
      const path = join(folder, "shared.db");
      const shared = new Database(path);
      shared.exec("CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('hello')");
      shared.close();
      const ledger = createSqliteLedger({ path });
      await ledger.recordAuction({ kind: "route", outcome });
      expect(ledger.database.prepare("SELECT text FROM notes").pluck().get()).toBe("hello");
      await ledger.close();
    });

    it.each([false, true])("reports a file that is not a database as a LedgerError (readonly: %s)", (readonly) => {
      writeFileSync(join(folder, "garbage.db"), "this is not a database, just text that is long enough".repeat(20));
      const error = (() => {
        try {
          createSqliteLedger({ path: join(folder, "garbage.db"), readonly });
        } catch (caught) {
          return caught;
        }
      })();
      expect(LedgerError.isInstance(error)).toBe(true);
      expect((error as LedgerError).operation).toBe("open");
      expect((error as LedgerError).cause).toBeInstanceOf(Error);
    });
  });

  describe("options", () => {
    it.each([
      [{}, "path"],
      [{ path: "a.db", database: new Database(":memory:") }, "path"],
      [{ path: "a.db", synchronous: "off" }, "synchronous"],
      [{ path: "a.db", busyTimeoutMs: -1 }, "busyTimeoutMs"],
      [{ path: "a.db", pth: "typo" }, ""],
      [{ database: new Database(":memory:"), readonly: true }, "readonly"],
      [{ path: "a.db", now: 5 }, "now"],
    ])("rejects %o naming %s", (options, field) => {
      const error = (() => {
        try {
          createSqliteLedger(options as never);
        } catch (caught) {
          return caught;
        }
      })();
      expect(ConfigError.isInstance(error)).toBe(true);
      expect((error as ConfigError).fields).toContain(field);
    });
  });
});
