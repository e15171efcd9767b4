/**
 * The SQLite ledger under a lock held by another connection (issue 14, item 2). Before the write
 * queue, a write waited for the lock synchronously — the event loop froze for `busyTimeoutMs` — and
 * then rejected with SQLITE_BUSY. Now a write that finds the lock taken resolves once queued, the
 * queue lands it when the lock frees, and whatever does not land is counted and reported.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSqliteLedger, type SqliteLedger, type SqliteLedgerOptions } from "../../adapters/sqlite/ledger.js";
import { ConfigError } from "../../src/errors.js";
import { LedgerError } from "../../src/ledger/errors.js";
import { recordQuietly } from "../../src/ledger/report.js";
import type { ChargeInput, LedgerWriteFailure } from "../../src/ledger/types.js";
import { createSampleOutcome } from "../../src/testing.js";

const outcome = createSampleOutcome({
  bids: [
    { bidder: "a", amount: 2 },
    { bidder: "b", amount: 1 },
  ],
});

function charge(id: string): ChargeInput {
  return { id, kind: "settle", model: "m", inputTokens: 10, outputTokens: 5, usd: 0.001 };
}

/** Let timers run (the queue's retries, the ticker) without asserting anything about time. */
function turns(count: number): Promise<void> {
  return new Promise((resolve) => {
    let left = count;
    const step = () => (--left <= 0 ? resolve() : setTimeout(step, 5));
    setTimeout(step, 5);
  });
}

describe("SQLite ledger writes under another connection's lock", () => {
  let folder: string;
  let path: string;
  let holder: Database.Database;
  let failures: LedgerWriteFailure[];
  let ledger: SqliteLedger;

  function open(options: Partial<SqliteLedgerOptions> = {}): SqliteLedger {
    ledger = createSqliteLedger({ path, onWriteFailure: (failure) => failures.push(failure), ...options });
    return ledger;
  }

  /** What another connection (a fresh one) sees in the file. */
  function countIn(table: "auctions" | "charges" | "outcomes"): number {
    const reader = new Database(path, { readonly: true });
    try {
      return reader.prepare(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    } finally {
      reader.close();
    }
  }

  beforeEach(() => {
    folder = mkdtempSync(join(tmpdir(), "gavel-ledger-lock-"));
    path = join(folder, "ledger.db");
    failures = [];
    open(); // creates and migrates the file before anyone locks it
    holder = new Database(path);
  });

  afterEach(async () => {
    if (holder.inTransaction) holder.exec("ROLLBACK");
    holder.close();
    await ledger.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("resolves a write without waiting for the lock, keeps the event loop turning, and lands it when the lock frees", async () => {
    // A write that waited for the lock on the event loop would hold this test for a minute and
    // fail it on its timeout; the old ledger threw SQLITE_BUSY after that wait.
    await ledger.close();
    open({ busyTimeoutMs: 60_000 });
    let ticks = 0;
    const ticker = setInterval(() => {
      ticks += 1;
    }, 1);
    try {
      holder.exec("BEGIN EXCLUSIVE");
      const id = await ledger.recordAuction({ kind: "route", outcome, task: "held" });
      const chargeIds = await ledger.recordCharges([{ ...charge("c-1"), auctionId: id }, charge("c-2")]);
      // Resolved while the other connection still holds the lock: nothing waited for it.
      expect(holder.inTransaction).toBe(true);
      expect(chargeIds).toEqual(["c-1", "c-2"]);
      expect(ledger.writeStats()).toEqual({ pending: 2, pendingRecords: 3, deferred: 2, failed: 0, dropped: 0 });
      await turns(10); // the queue retries meanwhile, and timers keep firing
      expect(ticks).toBeGreaterThan(0);
      expect(countIn("auctions")).toBe(0);

      holder.exec("COMMIT");
      await ledger.flush();
      expect((await ledger.getAuction(id))?.charges.map((row) => row.id)).toEqual(["c-1"]);
      expect([countIn("auctions"), countIn("charges")]).toEqual([1, 2]);
      expect(ledger.writeStats()).toMatchObject({ pending: 0, pendingRecords: 0, deferred: 2, failed: 0, dropped: 0 });
      expect(failures).toEqual([]);
      // Reads and your own SQL still wait for a lock as configured.
      expect(ledger.database.pragma("busy_timeout", { simple: true })).toBe(60_000);
    } finally {
      clearInterval(ticker);
    }
  });

  it("writes at once when the lock is free: a read right after the write sees it, nothing is queued", async () => {
    const id = await ledger.recordAuction({ kind: "route", outcome });
    expect(countIn("auctions")).toBe(1);
    expect(await ledger.getAuction(id)).toBeDefined();
    expect(ledger.writeStats()).toEqual({ pending: 0, pendingRecords: 0, deferred: 0, failed: 0, dropped: 0 });
  });

  it("keeps the order of writes: what comes after a queued write waits behind it, also once the lock is free", async () => {
    holder.exec("BEGIN IMMEDIATE");
    const id = await ledger.recordAuction({ kind: "route", outcome });
    holder.exec("COMMIT");
    // The lock is free now, but the auction is still queued: the outcome (which needs it) goes behind it.
    await ledger.recordOutcome({ auctionId: id, correct: true });
    await ledger.recordCharge(charge("after"));
    expect(ledger.writeStats().pending).toBe(3);
    await ledger.flush();
    expect((await ledger.getAuction(id))?.outcome?.correct).toBe(true);
    expect(ledger.writeStats()).toMatchObject({ pending: 0, deferred: 3, failed: 0 });
    expect(failures).toEqual([]);
  });

  it("reports a queued write the database refuses, and lands the others of its batch", async () => {
    await ledger.recordAuction({ id: "taken", kind: "route", outcome });
    holder.exec("BEGIN IMMEDIATE");
    await expect(ledger.recordAuction({ id: "taken", kind: "route", outcome })).resolves.toBe("taken");
    await ledger.recordAuction({ id: "fresh", kind: "route", outcome });
    holder.exec("COMMIT");
    await ledger.flush();
    expect(await ledger.getAuction("fresh")).toBeDefined();
    expect(countIn("auctions")).toBe(2);
    expect(failures.map(({ kind, operation, records }) => ({ kind, operation, records }))).toEqual([
      { kind: "failed", operation: "recordAuction", records: 1 },
    ]);
    expect(failures[0]?.error.message).toMatch(/auction taken/);
    expect(failures[0]?.error.cause).toMatchObject({ code: expect.stringMatching(/^SQLITE_CONSTRAINT/) });
    expect(ledger.writeStats()).toMatchObject({ failed: 1, dropped: 0 });
  });

  it("bounds the queue: a write that finds it full is dropped after queueWaitMs, reported, counted and rejected", async () => {
    await ledger.close();
    open({ maxQueuedRecords: 2, queueWaitMs: 0 });
    holder.exec("BEGIN IMMEDIATE");
    await ledger.recordCharges([charge("c-1"), charge("c-2")]);
    const refused = ledger.recordCharge(charge("c-3"));
    await expect(refused).rejects.toSatisfy(
      (error: unknown) => LedgerError.isInstance(error) && /write queue stayed full/.test(error.message),
    );
    expect(failures.map(({ kind, operation, records }) => ({ kind, operation, records }))).toEqual([
      { kind: "dropped", operation: "recordCharge", records: 1 },
    ]);
    // A feature that catches the rejection and reports it does not count it twice.
    expect(await recordQuietly(ledger, "recordCharge", 1, () => refused)).toBe(false);
    expect(ledger.writeStats()).toMatchObject({ pending: 1, pendingRecords: 2, dropped: 1, failed: 0 });
    holder.exec("COMMIT");
    await ledger.flush();
    expect(countIn("charges")).toBe(2);
    expect(failures).toHaveLength(1);
  });

  it("lets a caller wait for room in a full queue and admits it once the queue drains", async () => {
    await ledger.close();
    open({ maxQueuedRecords: 1, queueWaitMs: 60_000 });
    holder.exec("BEGIN IMMEDIATE");
    await ledger.recordCharge(charge("first"));
    let admitted = false;
    const waiting = ledger.recordCharge(charge("second")).then((id) => {
      admitted = true;
      return id;
    });
    await turns(5);
    expect(admitted).toBe(false);
    holder.exec("COMMIT");
    await expect(waiting).resolves.toBe("second");
    await ledger.flush();
    expect(countIn("charges")).toBe(2);
    expect(ledger.writeStats()).toMatchObject({ deferred: 2, dropped: 0, failed: 0 });
  });

  it("close() lands what is queued once the lock frees, then closes", async () => {
    holder.exec("BEGIN IMMEDIATE");
    await ledger.recordAuction({ id: "queued", kind: "route", outcome });
    let closed = false;
    const closing = ledger.close().then(() => {
      closed = true;
    });
    await turns(5);
    expect(closed).toBe(false);
    // Closing: further writes are refused.
    await expect(ledger.recordCharge(charge("late"))).rejects.toThrow(/closed/);
    holder.exec("COMMIT");
    await closing;
    expect(countIn("auctions")).toBe(1);
    expect(failures).toEqual([]);
  });

  it("close() gives up after closeTimeoutMs on a lock that never frees, reporting what it drops", async () => {
    await ledger.close();
    open({ closeTimeoutMs: 20 });
    holder.exec("BEGIN IMMEDIATE");
    await ledger.recordCharges([charge("c-1"), charge("c-2")]);
    await ledger.close();
    expect(ledger.writeStats()).toMatchObject({ pending: 0, dropped: 1 });
    expect(failures.map(({ kind, operation, records }) => ({ kind, operation, records }))).toEqual([
      { kind: "dropped", operation: "recordCharges", records: 2 },
    ]);
    expect(failures[0]?.error.message).toMatch(/close\(\) gave up/);
    holder.exec("COMMIT");
    expect(countIn("charges")).toBe(0);
  });

  it("opens a second ledger on the file while the lock is held, without waiting for it (the schema is current)", async () => {
    holder.exec("BEGIN IMMEDIATE");
    // Before, opening ran the migrations' BEGIN IMMEDIATE: it waited busyTimeoutMs, then failed.
    const second = createSqliteLedger({ path, busyTimeoutMs: 60_000 });
    await second.recordCharge(charge("from-second"));
    expect(second.writeStats().pending).toBe(1);
    holder.exec("COMMIT");
    await second.close();
    expect(countIn("charges")).toBe(1);
  });

  it("close() giving up also turns away a caller still waiting for room, with close's reason", async () => {
    await ledger.close();
    open({ maxQueuedRecords: 1, queueWaitMs: 60_000, closeTimeoutMs: 20 });
    holder.exec("BEGIN IMMEDIATE");
    await ledger.recordCharge(charge("queued"));
    const waiting = ledger.recordCharge(charge("waiting"));
    await ledger.close();
    await expect(waiting).rejects.toThrow(/close\(\) gave up/);
    expect(failures.map(({ kind, operation }) => `${kind} ${operation}`)).toEqual([
      "dropped recordCharge",
      "dropped recordCharge",
    ]);
    expect(ledger.writeStats()).toMatchObject({ pending: 0, dropped: 2 });
  });

  it("counts a failure a feature reports, once", () => {
    const error = new LedgerError("recordCharges", "the network ledger is down");
    ledger.reportWriteFailure({ kind: "failed", operation: "recordCharges", records: 3, error });
    ledger.reportWriteFailure({ kind: "failed", operation: "recordCharges", records: 3, error });
    expect(ledger.writeStats()).toMatchObject({ failed: 1, dropped: 0 });
    expect(failures).toHaveLength(1);
  });

  it("reports through a process warning when no onWriteFailure is given", async () => {
    await ledger.close();
    ledger = createSqliteLedger({ path, queueWaitMs: 0, maxQueuedRecords: 1 });
    const warned = new Promise<Error>((resolve) => process.once("warning", resolve));
    holder.exec("BEGIN IMMEDIATE");
    await ledger.recordCharge(charge("c-1"));
    await expect(ledger.recordCharge(charge("c-2"))).rejects.toThrow(LedgerError);
    const warning = await warned;
    expect(warning.name).toBe("GavelLedgerWarning");
    expect((warning as Error & { code?: string }).code).toBe("GAVEL_LEDGER_DROPPED");
    holder.exec("COMMIT");
  });

  it.each([
    [{ maxQueuedRecords: 0 }, "maxQueuedRecords"],
    [{ queueWaitMs: -1 }, "queueWaitMs"],
    [{ closeTimeoutMs: 2 ** 31 }, "closeTimeoutMs"],
    [{ onWriteFailure: "log" }, "onWriteFailure"],
  ])("rejects %o naming %s", (options, field) => {
    const error = (() => {
      try {
        createSqliteLedger({ path: ":memory:", ...(options as object) });
      } catch (caught) {
        return caught;
      }
    })();
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).fields).toContain(field);
  });
});
