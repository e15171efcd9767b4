/**
 * "Nothing committed is lost when the process is killed": a child process records auctions and
 * prints each id after its transaction commits; we SIGKILL it mid-stream, reopen the file and
 * check that every printed auction is there with all its bids and that the file is intact.
 * Three rounds write into the same file, so recovery after a kill is exercised too.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";

const root = join(import.meta.dirname, "..", "..");
const writer = join(import.meta.dirname, "fixtures", "crash-writer.ts");
const BIDS_PER_AUCTION = 16;

interface KilledRun {
  /** Ids the child printed as committed (complete lines only). */
  committed: string[];
  signal: NodeJS.Signals | null;
  stderr: string;
}

/** Run the writer until it has printed `killAfter` ids, then SIGKILL it. */
function runAndKill(path: string, prefix: string, killAfter: number): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", writer, path, prefix], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killed = false;
    const safety = setTimeout(() => child.kill("SIGKILL"), 50_000);
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (!killed && stdout.split("\n").length - 1 >= killAfter) {
        killed = true;
        child.kill("SIGKILL");
      }
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (_code, signal) => {
      clearTimeout(safety);
      const lines = stdout.split("\n");
      lines.pop(); // a trailing partial line was not fully printed: not claimed as committed
      resolve({ committed: lines, signal, stderr });
    });
  });
}

describe("SQLite ledger survives SIGKILL", () => {
  const folder = mkdtempSync(join(tmpdir(), "gavel-crash-"));
  const path = join(folder, "ledger.db");
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  const everyCommitted: string[] = [];

  it.each([
    ["round-a", 300],
    ["round-b", 1_000],
    ["round-c", 37],
  ])("keeps every auction committed before the kill (%s, killed after %i ids)", async (prefix, killAfter) => {
    const run = await runAndKill(path, prefix, killAfter);
    expect(run.stderr).toBe("");
    expect(run.signal).toBe("SIGKILL");
    expect(run.committed.length).toBeGreaterThanOrEqual(killAfter);
    everyCommitted.push(...run.committed);

    // Opening through the ledger runs WAL recovery exactly as a restarted application would.
    const ledger = createSqliteLedger({ path });
    const integrity = ledger.database.pragma("integrity_check", { simple: true });
    expect(integrity).toBe("ok");
    expect(ledger.database.pragma("foreign_key_check")).toEqual([]);

    const missing: string[] = [];
    const incomplete: string[] = [];
    for (const id of everyCommitted) {
      const record = await ledger.getAuction(id);
      if (record === undefined) missing.push(id);
      else if (record.bids.length !== BIDS_PER_AUCTION || record.bidCount !== BIDS_PER_AUCTION) incomplete.push(id);
    }
    expect(missing).toEqual([]);
    expect(incomplete).toEqual([]);

    // No torn auction anywhere, including one the kill may have caught mid-transaction.
    const torn = ledger.database
      .prepare(
        "SELECT a.id FROM auctions a WHERE a.bid_count <> (SELECT COUNT(*) FROM bids b WHERE b.auction_id = a.id)",
      )
      .pluck()
      .all();
    expect(torn).toEqual([]);
    await ledger.close();
  });

  it("leaves a file any SQLite client reads", () => {
    const database = new Database(path, { readonly: true });
    const count = database.prepare("SELECT COUNT(*) FROM auctions").pluck().get() as number;
    expect(count).toBeGreaterThanOrEqual(everyCommitted.length);
    database.close();
  });
});
