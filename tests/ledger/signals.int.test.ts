/**
 * Flushing on signals (issue 14, item 2), opt-in: `closeLedgerOnSignals`. A child process queues
 * auctions behind a write lock this test holds, gets SIGTERM, and — once the lock frees — lands
 * them, closes the file and exits by the signal, as it would have without the helper. The unit
 * half drives the helper through a stand-in process.
 */
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { closeLedgerOnSignals, type SignalTarget } from "../../src/ledger/shutdown.js";

const root = join(import.meta.dirname, "..", "..");
const writer = join(import.meta.dirname, "fixtures", "signal-writer.ts");

/** A stand-in for `process`: signals are emitted by hand, `kill` is recorded. */
function fakeProcess(): SignalTarget & { emitter: EventEmitter; killed: string[] } {
  const emitter = new EventEmitter();
  const killed: string[] = [];
  return {
    emitter,
    killed,
    pid: 4242,
    on: (signal, listener) => emitter.on(signal, listener),
    removeListener: (signal, listener) => emitter.removeListener(signal, listener),
    listenerCount: (signal) => emitter.listenerCount(signal),
    kill: (pid, signal) => killed.push(`${pid} ${signal}`),
  };
}

describe("closeLedgerOnSignals", () => {
  const folder = mkdtempSync(join(tmpdir(), "gavel-signals-"));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("a SIGTERMed process lands its queued writes once the lock frees, then exits by the signal", async () => {
    const path = join(folder, "ledger.db");
    await createSqliteLedger({ path }).close();
    const holder = new Database(path);
    holder.exec("BEGIN IMMEDIATE");
    const child = spawn(process.execPath, ["--import", "tsx", writer, path, "5"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on("close", (_code, signal) => resolve(signal)),
    );
    const queued = await new Promise<string>((resolve) => {
      let stdout = "";
      child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        if (stdout.includes("\n")) resolve(stdout.trim());
      });
      child.on("close", () => resolve(stdout.trim()));
    });
    expect(queued).toBe("queued 5");
    child.kill("SIGTERM");
    holder.exec("COMMIT");
    const signal = await exited;
    holder.close();
    expect(stderr).toBe("");
    expect(signal).toBe("SIGTERM");
    const reader = new Database(path, { readonly: true });
    const ids = reader.prepare("SELECT id FROM auctions ORDER BY id").pluck().all();
    reader.close();
    expect(ids).toEqual([0, 1, 2, 3, 4].map((index) => `signalled-${index}`));
  });

  it("closes the ledger, removes its handlers and re-raises the signal when nobody else listens", async () => {
    const target = fakeProcess();
    let closes = 0;
    const close = async () => {
      closes += 1;
    };
    closeLedgerOnSignals({ close }, { target });
    expect(target.listenerCount("SIGINT")).toBe(1);
    target.emitter.emit("SIGINT", "SIGINT");
    await new Promise((resolve) => setImmediate(resolve));
    expect(closes).toBe(1);
    expect(target.killed).toEqual(["4242 SIGINT"]);
    expect([target.listenerCount("SIGINT"), target.listenerCount("SIGTERM")]).toEqual([0, 0]);
  });

  it("leaves the exit to the app's own handler, and reports a close that failed", async () => {
    const target = fakeProcess();
    const appHandler = () => {};
    target.on("SIGTERM", appHandler);
    const errors: unknown[] = [];
    closeLedgerOnSignals(
      {
        close: async () => {
          throw new Error("disk gone");
        },
      },
      { target, onCloseError: (error) => errors.push(error) },
    );
    target.emitter.emit("SIGTERM", "SIGTERM");
    await new Promise((resolve) => setImmediate(resolve));
    expect(errors).toHaveLength(1);
    expect(target.killed).toEqual([]);
    expect(target.listenerCount("SIGTERM")).toBe(1); // the app's own
  });

  it("a second signal while closing stops waiting; the returned function removes the handlers", async () => {
    const target = fakeProcess();
    closeLedgerOnSignals({ close: () => new Promise(() => {}) }, { target, signals: ["SIGTERM"] });
    target.emitter.emit("SIGTERM", "SIGTERM");
    expect(target.killed).toEqual([]);
    target.emitter.emit("SIGTERM", "SIGTERM");
    expect(target.killed).toEqual(["4242 SIGTERM"]);

    const other = fakeProcess();
    const remove = closeLedgerOnSignals({ close: async () => {} }, { target: other });
    remove();
    expect([other.listenerCount("SIGINT"), other.listenerCount("SIGTERM")]).toEqual([0, 0]);
  });
});
