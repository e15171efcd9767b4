/**
 * `gavel ledger ... --db postgres://...`: the commands read a PostgreSQL ledger read-only and print
 * what they print for the same records in a SQLite file, character for character; a URL that leads
 * nowhere exits 2 naming host, port and database, never the password.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresLedger } from "../../adapters/postgres/ledger.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { EXIT_NO_LEDGER, EXIT_NOT_FOUND, ledgerCommand } from "../../src/cli/ledger.js";
import type { AuctionLedger, RecentAuction, SpendRow } from "../../src/ledger/types.js";
import { createSampleOutcome } from "../../src/testing.js";
import { runGavel } from "../helpers/cli.js";
import { describePostgres, freshSchema } from "../helpers/postgres.js";

/** Run `gavel ledger ...` in-process. */
function gavel(...args: string[]) {
  return runGavel((writers) => [ledgerCommand(writers)], args);
}

/** The same records for both ledgers: two routes, a debate, settled and reserved charges, an outcome. */
async function record(ledger: AuctionLedger): Promise<void> {
  const day = Date.parse("2025-03-01T00:00:00Z");
  await ledger.recordAuctions([
    {
      id: "route-1",
      kind: "route",
      createdAt: day,
      task: "What is 2 + 2?",
      scope: { kind: "run", id: "nightly" },
      outcome: createSampleOutcome({
        bids: [
          { bidder: "gpt-4o-mini", amount: 0.8, tokens: 40 },
          { bidder: "gpt-4o", amount: 0.5, tokens: 60 },
        ],
      }),
    },
    {
      id: "route-2",
      kind: "route",
      createdAt: day + 86_400_000,
      outcome: createSampleOutcome({
        bids: [
          { bidder: "gpt-4o-mini", amount: 0.2 },
          { bidder: "gpt-4o", amount: 0.9 },
        ],
      }),
    },
    {
      id: "debate-1",
      kind: "debate",
      createdAt: day + 86_400_000, // same time as route-2, recorded later: listed first
      outcome: createSampleOutcome({ bids: [{ bidder: "alice", amount: 1 }] }),
    },
  ]);
  await ledger.recordCharges([
    {
      id: "c1",
      kind: "settle",
      model: "gpt-4o-mini",
      agent: "router",
      auctionId: "route-1",
      label: "plan",
      inputTokens: 120,
      outputTokens: 30,
      usd: 0.000036,
      at: day,
    },
    {
      id: "c2",
      kind: "settle",
      model: "gpt-4o-mini",
      agent: "router",
      auctionId: "route-1",
      label: "answer",
      inputTokens: 300,
      outputTokens: 90,
      usd: 0.000099,
      at: day + 1,
    },
    {
      id: "c3",
      kind: "settle",
      model: "gpt-4o",
      agent: "router",
      auctionId: "route-2",
      label: "answer",
      inputTokens: 200,
      outputTokens: 80,
      usd: 0.0013,
      estimated: true,
      at: day + 86_400_000,
    },
    { id: "c4", kind: "reserve", model: "gpt-4o", inputTokens: 200, outputTokens: 256, usd: 0.003, at: day + 5 },
  ]);
  await ledger.recordOutcome({ auctionId: "route-1", correct: true, recordedAt: day + 2 });
}

describePostgres("gavel ledger --db postgres://", (url) => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  let folder: string;
  let file: string;
  /** The test server's URL with a password added (the server trusts local connections and ignores it). */
  let withPassword: string;

  beforeAll(async () => {
    schema = await freshSchema(url, "ledger_cli");
    const postgres = await createPostgresLedger({ connectionString: url, schema: schema.schema });
    await record(postgres);
    await postgres.close();
    folder = mkdtempSync(join(tmpdir(), "gavel-ledger-cli-pg-"));
    file = join(folder, "ledger.db");
    const sqlite = createSqliteLedger({ path: file });
    await record(sqlite);
    await sqlite.close();
    const parsed = new URL(url);
    parsed.password = "pa55-word";
    withPassword = parsed.toString();
  });
  afterAll(async () => {
    await schema?.drop();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  /** `--db URL --schema S` for the PostgreSQL ledger. */
  const onPostgres = () => ["--db", url, "--schema", schema.schema];

  it.each([
    [["spend"]],
    [["spend", "--by", "agent", "--json"]],
    [["spend", "--by", "scope", "--since", "2025-03-02"]],
    [["wins"]],
    [["wins", "--kind", "route", "--json"]],
    [["recent"]],
    [["recent", "--limit", "2", "--json"]],
    [["auction", "route-1"]],
    [["auction", "route-1", "--json"]],
    [["overhead"]],
    [["overhead", "--by", "model", "--json"]],
  ])("gavel ledger %j prints what it prints for the SQLite file", async (args) => {
    const fromPostgres = await gavel("ledger", ...args, ...onPostgres());
    const fromSqlite = await gavel("ledger", ...args, "--db", file);
    expect(fromPostgres.stderr).toBe("");
    expect(fromPostgres.exitCode).toBe(0);
    expect(fromPostgres.stdout.length).toBeGreaterThan(10);
    if (args.includes("--json")) expect(comparable(fromPostgres.stdout)).toBe(comparable(fromSqlite.stdout));
    else expect(fromPostgres.stdout).toBe(fromSqlite.stdout);
  });

  it("spend, recent and auction read the records", async () => {
    const spend = await gavel("ledger", "spend", "--by", "agent", ...onPostgres());
    expect(spend.stdout).toMatch(/│ router\s+│\s+3 │\s+620 │\s+200 │ \$0\.001435 │\s+33\.3% │/);
    // USD sums are exact: SQLite, adding doubles, has 0.0014349999999999999 here.
    const byAgent = JSON.parse((await gavel("ledger", "spend", "--by", "agent", "--json", ...onPostgres())).stdout);
    expect(byAgent[0].usd).toBe(0.001435);
    const rows = JSON.parse((await gavel("ledger", "spend", "--json", ...onPostgres())).stdout) as SpendRow[];
    expect(rows.map((row) => [row.key, row.usd])).toEqual([
      ["gpt-4o", 0.0013],
      ["gpt-4o-mini", 0.000135],
    ]);
    const recent = JSON.parse((await gavel("ledger", "recent", "--json", ...onPostgres())).stdout) as RecentAuction[];
    expect(recent.map((row) => row.id)).toEqual(["debate-1", "route-2", "route-1"]);
    const auction = await gavel("ledger", "auction", "route-1", ...onPostgres());
    expect(auction.stdout).toContain("What is 2 + 2?");
    expect(auction.stdout).toContain("Bids (2)");
    expect(auction.stdout).toContain("Charges (2)");
    expect(auction.stdout).toMatch(/│ outcome\s+│ correct/);
  });

  it("accepts postgresql:// and a password in the URL, and never prints the password", async () => {
    const spelled = withPassword.replace(/^postgres:/, "postgresql:");
    const spend = await gavel("ledger", "spend", "--db", spelled, "--schema", schema.schema);
    expect(spend.exitCode).toBe(0);
    const missing = await gavel("ledger", "auction", "nope", "--db", spelled, "--schema", schema.schema);
    expect(missing.exitCode).toBe(EXIT_NOT_FOUND);
    expect(missing.stderr).toContain("no auction nope in postgresql://postgres:***@");
    expect(missing.stdout + missing.stderr).not.toContain("pa55-word");
  });

  it("exits 2 naming host, port and database when the server cannot be reached, without the password", async () => {
    const closed = await closedPort();
    for (const args of [["spend"], ["recent"], ["auction", "route-1"]]) {
      const run = await gavel("ledger", ...args, "--db", `postgres://app:s3cret@127.0.0.1:${closed}/ledgerdb`);
      expect(run.exitCode).toBe(EXIT_NO_LEDGER);
      expect(run.stderr).toContain(`127.0.0.1:${closed}/ledgerdb`);
      expect(run.stdout).toBe("");
      expect(run.stderr).not.toContain("s3cret");
    }
  });

  it("exits 2 naming the database when it does not exist", async () => {
    const missing = new URL(withPassword);
    missing.pathname = "/no_such_ledger_database";
    const run = await gavel("ledger", "recent", "--db", missing.toString());
    expect(run.exitCode).toBe(EXIT_NO_LEDGER);
    expect(run.stderr).toContain(`${missing.hostname}:${missing.port}/no_such_ledger_database`);
    expect(run.stderr).not.toContain("pa55-word");
  });

  it("exits 2 without creating anything when the schema holds no ledger", async () => {
    const empty = await freshSchema(url, "ledger_cli_empty");
    try {
      const run = await gavel("ledger", "recent", "--db", url, "--schema", empty.schema);
      expect(run.exitCode).toBe(EXIT_NO_LEDGER);
      expect(run.stderr).toMatch(/holds no Gavel ledger/);
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query(
          "SELECT table_name FROM information_schema.tables WHERE table_schema = $1",
          [empty.schema],
        );
        expect(rows).toEqual([]);
      } finally {
        await client.end();
      }
    } finally {
      await empty.drop();
    }
  });

  it("refuses --schema with a file", async () => {
    const run = await gavel("ledger", "spend", "--db", file, "--schema", "gavel");
    expect(run.exitCode).toBe(EXIT_NO_LEDGER);
    expect(run.stderr).toContain("--schema applies to a PostgreSQL ledger");
    expect(existsSync(file)).toBe(true);
  });
});

describe("gavel ledger --help", () => {
  it("says --db takes a file or a postgres:// URL, and --schema", async () => {
    const { stdout } = await gavel("ledger", "spend", "--help");
    expect(stdout).toMatch(/--db <file\|url>\s+ledger database: a SQLite file, or the postgres:\/\//);
    expect(stdout).toContain("--schema <name>");
  });
});

/** Fields that are sums of USD: SQLite adds doubles, PostgreSQL decimals (exactly, rounded once). */
const SUMS = new Set(["usd", "answerUsd", "overheadUsd", "otherUsd", "overheadUsdShare", "totalPaid", "meanPricePaid"]);

/** Printed JSON, with sums to 13 significant digits (the only place the two ledgers may differ, in the last bits). */
function comparable(json: string): string {
  return JSON.stringify(JSON.parse(json), (key, field) =>
    SUMS.has(key) && typeof field === "number" ? Number(field.toPrecision(13)) : field,
  );
}

/** A TCP port nothing listens on. */
async function closedPort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
