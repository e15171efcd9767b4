/**
 * The SQLite budget store: the conformance suite on a temporary file (with a second instance on the
 * same file as the peer), the file rules (sharing a file with the ledger, refusing foreign files and
 * newer schemas), and four child processes hammering one file.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteBudgetStore } from "../../adapters/sqlite/budget-store.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { BudgetStoreError } from "../../src/budget/errors.js";
import { describeBudgetStoreConformance } from "../../src/testing/budget-store-conformance.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-budget-store-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const fileOf = (key: string) => join(folder, `${key}.db`);

await describeBudgetStoreConformance({
  name: "SQLite file",
  create: ({ key }) => createSqliteBudgetStore({ path: fileOf(key) }),
  createPeer: ({ key }) => createSqliteBudgetStore({ path: fileOf(key) }),
  destroy: async (store, { key }) => {
    await store.close();
    for (const suffix of ["", "-wal", "-shm"]) rmSync(`${fileOf(key)}${suffix}`, { force: true });
  },
});

await describeBudgetStoreConformance({
  name: "SQLite :memory:",
  create: () => createSqliteBudgetStore({ path: ":memory:" }),
});

describe("SQLite budget store: the file", () => {
  it("shares one file with the ledger, whichever opens it first", async () => {
    for (const [name, ledgerFirst] of [
      ["ledger-first", true],
      ["store-first", false],
    ] as const) {
      const path = join(folder, `${name}.db`);
      const first = ledgerFirst ? createSqliteLedger({ path }) : createSqliteBudgetStore({ path });
      const second = ledgerFirst ? createSqliteBudgetStore({ path }) : createSqliteLedger({ path });
      const ledger = (ledgerFirst ? first : second) as ReturnType<typeof createSqliteLedger>;
      const store = (ledgerFirst ? second : first) as ReturnType<typeof createSqliteBudgetStore>;
      await store.reserve(
        {
          id: "r",
          accounts: [{ scope: "global", scopeId: "*", maxTokens: 10 }],
          tokens: 5,
          nanoUsd: 0,
          model: "m",
          createdAt: 0,
          expiresAt: 10,
        },
        0,
      );
      await ledger.recordCharge({ kind: "settle", model: "m", inputTokens: 1, outputTokens: 1, usd: 0.001 });
      expect(ledger.schemaVersion).toBe(1);
      expect(store.schemaVersion).toBe(1);
      await ledger.close();
      await store.close();
      // Both reopen the shared file afterwards.
      const reopenedLedger = createSqliteLedger({ path });
      const reopenedStore = createSqliteBudgetStore({ path });
      expect((await reopenedLedger.spend({ by: "model" })).map((row) => row.key)).toEqual(["m"]);
      expect(await reopenedStore.reservationState("r")).toBe("open");
      expect(reopenedStore.database.pragma("integrity_check", { simple: true })).toBe("ok");
      await reopenedLedger.close();
      await reopenedStore.close();
    }
  });

  it("refuses a file whose budget tables are from a newer Gavel, naming both versions", () => {
    const path = join(folder, "newer.db");
    createSqliteBudgetStore({ path }).close();
    const raw = new Database(path);
    raw.prepare("UPDATE gavel_budget_schema SET version = 7").run();
    raw.close();
    const error = (() => {
      try {
        createSqliteBudgetStore({ path });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(BudgetStoreError.isInstance(error)).toBe(true);
    expect((error as BudgetStoreError).operation).toBe("open");
    expect((error as Error).message).toMatch(/version 7.*up to version 1/);
  });

  it("refuses a SQLite file of another application", () => {
    const path = join(folder, "foreign.db");
    const raw = new Database(path);
    raw.pragma("application_id = 1234");
    raw.close();
    expect(() => createSqliteBudgetStore({ path })).toThrow(/another application \(application_id 1234\)/);
  });

  it("leaves a database handle it was given open, and rejects fractional amounts", async () => {
    const database = new Database(":memory:");
    const store = createSqliteBudgetStore({ database });
    const refused = store.reserve(
      {
        id: "x",
        accounts: [{ scope: "global", scopeId: "*" }],
        tokens: 1.5,
        nanoUsd: 0,
        model: "m",
        createdAt: 0,
        expiresAt: 1,
      },
      0,
    );
    await expect(refused).rejects.toThrow(/tokens must be a non-negative safe integer/);
    await store.close();
    expect(database.open).toBe(true);
    database.close();
  });
});

interface WorkerSummary {
  worker: string;
  held: number;
  refused: number;
  settled: number;
  released: number;
  spentTokens: number;
  violations: string[];
}

function runWorker(path: string, worker: string, count: number, limit: number): Promise<WorkerSummary> {
  const script = join(import.meta.dirname, "fixtures", "budget-store-worker.ts");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, path, worker, String(count), String(limit)], {
      cwd: join(import.meta.dirname, "..", ".."),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) reject(new Error(`worker ${worker} exited with ${code}: ${stderr}`));
      else resolve(JSON.parse(stdout.trim()) as WorkerSummary);
    });
  });
}

describe("SQLite budget store: four processes on one file", () => {
  it("never passes the limit, and every reservation ends settled or released", async () => {
    const path = join(folder, "processes.db");
    createSqliteBudgetStore({ path }).close(); // created once, so the workers race on reserves, not on the migration
    const limit = 40_000;
    const summaries = await Promise.all(["a", "b", "c", "d"].map((worker) => runWorker(path, worker, 600, limit)));

    expect(summaries.flatMap((summary) => summary.violations)).toEqual([]);
    const total = (field: "held" | "refused" | "settled" | "released" | "spentTokens") =>
      summaries.reduce((sum, summary) => sum + summary[field], 0);
    expect(total("held") + total("refused")).toBe(2_400);
    expect(total("refused")).toBeGreaterThan(0); // the limit was reached
    expect(total("settled") + total("released")).toBe(total("held"));

    const store = createSqliteBudgetStore({ path });
    const [global] = await store.accounts([{ scope: "global", scopeId: "*" }]);
    expect(global?.reservedTokens).toBe(0);
    expect(global?.spentTokens).toBe(total("spentTokens"));
    expect(global?.spentTokens).toBeLessThanOrEqual(limit);
    const states = store.database
      .prepare("SELECT state, COUNT(*) AS n FROM gavel_budget_reservations GROUP BY state ORDER BY state")
      .all();
    expect(states).toEqual([
      { state: "released", n: total("released") },
      { state: "settled", n: total("settled") },
    ]);
    for (const summary of summaries) {
      const [run] = await store.accounts([{ scope: "run", scopeId: `run-${summary.worker}` }]);
      expect(run?.spentTokens).toBe(summary.spentTokens);
    }
    await store.close();
  });
});
