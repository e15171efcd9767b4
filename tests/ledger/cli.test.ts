import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { EXIT_CORRUPT_LEDGER, EXIT_NO_LEDGER, EXIT_NOT_FOUND, ledgerCommand } from "../../src/cli/ledger.js";
import type { OverheadRow, RecentAuction, SpendRow, WinRateRow } from "../../src/ledger/types.js";
import { createSampleOutcome } from "../../src/testing.js";
import { corruptPagesOf, writeSampleLedger } from "../cli/ledger-files.js";
import { runGavel } from "../helpers/cli.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-ledger-cli-"));
const db = join(folder, "ledger.db");

/** Run `gavel ledger ...` in-process. */
function gavel(...args: string[]) {
  return runGavel((writers) => [ledgerCommand(writers)], args);
}

beforeAll(async () => {
  const ledger = createSqliteLedger({ path: db });
  const day = Date.parse("2025-03-01T00:00:00Z");
  await ledger.recordAuction({
    id: "route-1",
    kind: "route",
    createdAt: day,
    task: "What is 2 + 2?",
    outcome: createSampleOutcome({
      bids: [
        { bidder: "gpt-4o-mini", amount: 0.8, tokens: 40 },
        { bidder: "gpt-4o", amount: 0.5, tokens: 60 },
      ],
    }),
  });
  await ledger.recordAuction({
    id: "route-2",
    kind: "route",
    createdAt: day + 86_400_000,
    outcome: createSampleOutcome({
      bids: [
        { bidder: "gpt-4o-mini", amount: 0.2 },
        { bidder: "gpt-4o", amount: 0.9 },
      ],
    }),
  });
  await ledger.recordCharges([
    {
      kind: "settle",
      model: "gpt-4o-mini",
      agent: "router",
      auctionId: "route-1",
      inputTokens: 120,
      outputTokens: 30,
      usd: 0.000036,
      at: day,
    },
    {
      kind: "settle",
      model: "gpt-4o",
      agent: "router",
      auctionId: "route-2",
      inputTokens: 200,
      outputTokens: 80,
      usd: 0.0013,
      estimated: true,
      at: day + 86_400_000,
    },
  ]);
  await ledger.recordOutcome({ auctionId: "route-1", correct: true, recordedAt: day + 1 });
  await ledger.close();
});

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("gavel ledger", () => {
  it("spend prints a table by model with a total", async () => {
    const { stdout, exitCode } = await gavel("ledger", "spend", "--db", db);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/│ model\s+│ calls │/);
    expect(stdout).toMatch(/│ gpt-4o\s+│\s+1 │\s+200 │\s+80 │ \$0\.001300 │\s+100\.0% │/);
    expect(stdout).toMatch(/│ total\s+│\s+2 │\s+320 │\s+110 │ \$0\.001336 │\s+50\.0% │/);
    expect(stdout).not.toContain("\u001b["); // no colour codes
  });

  it("spend --json honours --by, --since and --until", async () => {
    const { stdout } = await gavel("ledger", "spend", "--db", db, "--by", "agent", "--since", "2025-03-02", "--json");
    const rows = JSON.parse(stdout) as SpendRow[];
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ by: "agent", key: "router", calls: 1, usd: 0.0013 });
    const none = await gavel("ledger", "spend", "--db", db, "--until", "2025-03-01", "--json");
    expect(JSON.parse(none.stdout)).toEqual([]);
  });

  it("spend rejects an unknown grouping and a bad date", async () => {
    const grouping = await gavel("ledger", "spend", "--db", db, "--by", "planet");
    expect(grouping.exitCode).not.toBe(0);
    expect(grouping.stderr).toMatch(/Allowed choices are model, agent, scope/);
    const date = await gavel("ledger", "spend", "--db", db, "--since", "yesterday-ish");
    expect(date.exitCode).not.toBe(0);
    expect(date.stderr).toMatch(/ISO 8601/);
  });

  it("wins prints win rates", async () => {
    const { stdout } = await gavel("ledger", "wins", "--db", db);
    expect(stdout).toMatch(/│ gpt-4o\s+│\s+2 │\s+1 │\s+50\.0% │\s+0\.2000 │/);
    const json = JSON.parse((await gavel("ledger", "wins", "--db", db, "--json")).stdout) as WinRateRow[];
    expect(json.map((row) => [row.bidder, row.wins])).toEqual([
      ["gpt-4o", 1],
      ["gpt-4o-mini", 1],
    ]);
  });

  it("auction prints one auction with bids, charges and outcome", async () => {
    const { stdout, exitCode } = await gavel("ledger", "auction", "route-1", "--db", db);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("What is 2 + 2?");
    expect(stdout).toContain("Bids (2)");
    expect(stdout).toContain("Charges (1)");
    expect(stdout).toMatch(/│ outcome\s+│ correct/);
    const json = JSON.parse((await gavel("ledger", "auction", "route-1", "--db", db, "--json")).stdout);
    expect(json.bids).toHaveLength(2);
    expect(json.outcome.correct).toBe(true);
  });

  it("auction exits 1 for an unknown id", async () => {
    const { stderr, exitCode } = await gavel("ledger", "auction", "nope", "--db", db);
    expect(exitCode).toBe(EXIT_NOT_FOUND);
    expect(stderr).toContain("no auction nope");
  });

  it("recent lists newest first and honours --limit", async () => {
    const { stdout } = await gavel("ledger", "recent", "--db", db);
    expect(stdout.indexOf("route-2")).toBeLessThan(stdout.indexOf("route-1"));
    const json = JSON.parse(
      (await gavel("ledger", "recent", "--db", db, "--limit", "1", "--json")).stdout,
    ) as RecentAuction[];
    expect(json.map((row) => row.id)).toEqual(["route-2"]);
    const bad = await gavel("ledger", "recent", "--db", db, "--limit", "0");
    expect(bad.stderr).toMatch(/positive integer/);
  });

  it("exits 2 without creating anything when the database file does not exist", async () => {
    const missing = join(folder, "missing.db");
    for (const args of [["spend"], ["wins"], ["recent"], ["auction", "x"]]) {
      const { stdout, stderr, exitCode } = await gavel("ledger", ...args, "--db", missing);
      expect(exitCode).toBe(EXIT_NO_LEDGER);
      expect(stderr).toContain(`no ledger database at ${missing}`);
      expect(stdout).toBe("");
    }
    expect(existsSync(missing)).toBe(false);
  });

  it("exits 2 when the file is not a ledger", async () => {
    const { stderr, exitCode } = await gavel("ledger", "recent", "--db", join(import.meta.dirname, "cli.test.ts"));
    expect(exitCode).toBe(EXIT_NO_LEDGER);
    expect(stderr).toMatch(/cannot read .* as a Gavel ledger/);
  });

  it("overhead prints answer against overhead per run with a total, and --json by model", async () => {
    const overheadDb = join(folder, "overhead.db");
    const ledger = createSqliteLedger({ path: overheadDb });
    const outcome = createSampleOutcome({ bids: [{ bidder: "mini", amount: 0.8 }] });
    await ledger.recordAuction({
      id: "o-1",
      kind: "route",
      createdAt: 1,
      outcome,
      scope: { kind: "run", id: "nightly" },
    });
    const settle = { kind: "settle", auctionId: "o-1", outputTokens: 0, at: 1 } as const;
    await ledger.recordCharges([
      { ...settle, model: "mini", label: "plan", inputTokens: 100, usd: 0.001 },
      { ...settle, model: "big", label: "jury", inputTokens: 150, usd: 0.002 },
      { ...settle, model: "mini", label: "answer", inputTokens: 750, usd: 0.003 },
    ]);
    await ledger.close();
    const { stdout, exitCode } = await gavel("ledger", "overhead", "--db", overheadDb);
    expect(exitCode).toBe(0);
    expect(stdout).toMatch(/│ run\s+│ auctions │ answer tokens │ overhead tokens │/);
    expect(stdout).toMatch(/│ nightly\s+│\s+1 │\s+750 │\s+250 │\s+0 │\s+25\.0% │\s+\$0\.003000 │\s+\$0\.003000 │/);
    expect(stdout).toMatch(/│ total\s+│\s+1 │\s+750 │\s+250 │/);
    const json = await gavel("ledger", "overhead", "--db", overheadDb, "--by", "model", "--json");
    const rows = JSON.parse(json.stdout) as OverheadRow[];
    expect(rows.map((row) => [row.key, row.overheadTokens, row.answerTokens])).toEqual([
      ["big", 150, 0],
      ["mini", 100, 750],
    ]);
    const grouping = await gavel("ledger", "overhead", "--db", overheadDb, "--by", "planet");
    expect(grouping.stderr).toMatch(/Allowed choices are run, auction, model/);
  });

  it("requires --db", async () => {
    const { stderr, exitCode } = await gavel("ledger", "spend");
    expect(exitCode).not.toBe(0);
    expect(stderr).toMatch(/--db <file\|url>/);
  });
});

describe("gavel ledger on a corrupt file", () => {
  const subcommands = [
    ["recent"],
    ["spend"],
    ["spend", "--by", "scope"],
    ["wins"],
    ["overhead"],
    ["auction", "sample-1"],
  ];

  it("refuses a page-corrupted ledger with exit 2 and one line, from every subcommand, and prints no figure", async () => {
    const path = join(folder, "corrupt.db");
    await writeSampleLedger(path);
    // Sound, it reads: 200 auctions, $0.2 of spend.
    const before = await gavel("ledger", "spend", "--db", path, "--json");
    expect(before.exitCode).toBe(0);
    expect((JSON.parse(before.stdout) as SpendRow[])[0]?.calls).toBe(200);
    // Garbage over the bids' unique index: recent, spend and overhead never read it (they used to print
    // their figures with exit 0), wins does (it used to end with a stack trace).
    expect(corruptPagesOf(path, "sqlite_autoindex_bids_1")).toBeGreaterThan(0);
    for (const args of subcommands) {
      const { stdout, stderr, exitCode } = await gavel("ledger", ...args, "--db", path);
      expect({ args, exitCode }).toEqual({ args, exitCode: EXIT_CORRUPT_LEDGER });
      expect(stdout).toBe("");
      expect(stderr.trim().split("\n")).toHaveLength(1);
      expect(stderr).toContain(`${path} is a corrupt ledger (PRAGMA quick_check: `);
      expect(stderr).toContain(".recover");
      expect(stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("refuses a ledger whose charges table is garbage the same way", async () => {
    const path = join(folder, "corrupt-charges.db");
    await writeSampleLedger(path);
    expect(corruptPagesOf(path, "charges")).toBeGreaterThan(0);
    const { stdout, stderr, exitCode } = await gavel("ledger", "spend", "--db", path, "--json");
    expect(exitCode).toBe(EXIT_CORRUPT_LEDGER);
    expect(stdout).toBe("");
    expect(stderr).toContain("is a corrupt ledger");
  });
});
