/**
 * The PostgreSQL ledger: the writer and reader conformance suites (the same the SQLite ledger runs),
 * and what only a server shows: reopening keeps data, a newer schema is refused, read-only opening
 * creates nothing, and several replicas writing into one schema store every record exactly once.
 *
 * Every backend works in a schema of its own, dropped after its test, so the suites run in parallel.
 */
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { PostgresConnectionError, PostgresSchemaVersionError } from "../../adapters/postgres/errors.js";
import { createPostgresLedger, type PostgresLedger } from "../../adapters/postgres/ledger.js";
import { POSTGRES_LEDGER_SCHEMA_VERSION } from "../../adapters/postgres/ledger-migrations.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { ConfigError } from "../../src/errors.js";
import { LedgerError } from "../../src/ledger/errors.js";
import type { AuctionInput, AuctionLedger, ChargeInput } from "../../src/ledger/types.js";
import {
  createSampleOutcome,
  describeAuctionLedgerConformance,
  describeLedgerReaderConformance,
  describeLedgerWriterConformance,
} from "../../src/testing.js";
import { describePostgres, freshSchema, POSTGRES_URL } from "../helpers/postgres.js";

/** The schema of every conformance key, dropped by `destroy`. */
const schemas = new Map<string, Awaited<ReturnType<typeof freshSchema>>>();

/** A conformance setup on the test server: each key gets a fresh schema; `destroy` drops it. */
function conformanceSetup(name: string, url: string, extra: { maxConnections?: number } = {}) {
  return {
    name,
    create: async ({ key }: { key: string }) => {
      let schema = schemas.get(key);
      if (schema === undefined) {
        schema = await freshSchema(url, "ledger");
        schemas.set(key, schema);
      }
      return createPostgresLedger({ connectionString: url, schema: schema.schema, ...extra });
    },
    destroy: async (ledger: PostgresLedger, { key }: { key: string }) => {
      await ledger.close();
      await schemas.get(key)?.drop();
      schemas.delete(key);
    },
  };
}

if (POSTGRES_URL) {
  // The suites register their tests at the top level; describePostgres below reports a missing server.
  await describeAuctionLedgerConformance(conformanceSetup("PostgreSQL", POSTGRES_URL));
  // The halves one by one, on the app's own pool (one connection: every call queues on it).
  const pools: pg.Pool[] = [];
  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
  });
  const onAppPool = {
    name: "PostgreSQL on an app's pool of one connection",
    create: async ({ key }: { key: string }) => {
      const schema = await freshSchema(POSTGRES_URL as string, "ledger");
      schemas.set(key, schema);
      const pool = new pg.Pool({ connectionString: POSTGRES_URL, max: 1 });
      pools.push(pool);
      return createPostgresLedger({ pool, schema: schema.schema });
    },
    destroy: async (ledger: PostgresLedger, { key }: { key: string }) => {
      await ledger.close();
      expect(ledger.pool.ending).toBe(false); // the app's pool stays open
      await schemas.get(key)?.drop();
      schemas.delete(key);
    },
  };
  await describeLedgerWriterConformance(onAppPool);
  await describeLedgerReaderConformance(onAppPool);
}

const outcome = createSampleOutcome({
  bids: [
    { bidder: "a", amount: 2 },
    { bidder: "b", amount: 1 },
  ],
});

describePostgres("createPostgresLedger", (url) => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  const opened: PostgresLedger[] = [];
  /** A ledger in this test's schema, closed after the test. */
  async function open(options: { readonly?: boolean; storeTaskText?: boolean } = {}) {
    const ledger = await createPostgresLedger({ connectionString: url, schema: schema.schema, ...options });
    opened.push(ledger);
    return ledger;
  }
  async function sql<Row extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<Row[]> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<Row>(text.replaceAll("{schema}", `"${schema.schema}"`), values)).rows;
    } finally {
      await client.end();
    }
  }

  beforeAll(async () => {
    schema = await freshSchema(url, "ledger");
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((ledger) => ledger.close()));
    await sql("DROP SCHEMA {schema} CASCADE");
    await sql("CREATE SCHEMA {schema}");
  });
  afterAll(async () => {
    await schema.drop();
  });

  describe("migrations", () => {
    it("creates the tables at the current version and records it", async () => {
      const ledger = await open();
      expect(ledger.schemaVersion).toBe(POSTGRES_LEDGER_SCHEMA_VERSION);
      expect(ledger.schema).toBe(schema.schema);
      const tables = await sql<{ table_name: string }>(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name",
        [schema.schema],
      );
      expect(tables.map((row) => row.table_name)).toEqual([
        "gavel_migrations",
        "ledger_auctions",
        "ledger_bids",
        "ledger_budget_snapshot_accounts",
        "ledger_budget_snapshots",
        "ledger_budgets",
        "ledger_charges",
        "ledger_outcomes",
      ]);
      expect(await sql("SELECT component, version FROM {schema}.gavel_migrations")).toEqual([
        { component: "ledger", version: POSTGRES_LEDGER_SCHEMA_VERSION },
      ]);
    });

    it("keeps the data when an existing ledger is opened again, and does not migrate twice", async () => {
      const first = await open();
      await first.recordAuction({ id: "kept", kind: "route", outcome, createdAt: 5 });
      await first.recordCharge({ kind: "settle", model: "m", inputTokens: 3, outputTokens: 4, usd: 0.1, at: 6 });
      await first.close();
      const [before] = await sql<{ migrated_at: Date }>("SELECT migrated_at FROM {schema}.gavel_migrations");
      const second = await open();
      expect((await second.getAuction("kept"))?.bids).toHaveLength(2);
      expect((await second.spend())[0]).toMatchObject({ key: "m", calls: 1, usd: 0.1, firstAt: 6 });
      const [after] = await sql<{ migrated_at: Date }>("SELECT migrated_at FROM {schema}.gavel_migrations");
      expect(after?.migrated_at).toEqual(before?.migrated_at);
    });

    it("refuses tables written by a newer Gavel, before reading or changing anything", async () => {
      const ledger = await open();
      await ledger.recordAuction({ id: "old", kind: "route", outcome });
      await ledger.close();
      await sql("UPDATE {schema}.gavel_migrations SET version = version + 1 WHERE component = 'ledger'");
      for (const readonly of [false, true]) {
        const error = await createPostgresLedger({ connectionString: url, schema: schema.schema, readonly }).catch(
          (caught: unknown) => caught,
        );
        expect(PostgresSchemaVersionError.isInstance(error)).toBe(true);
        expect(error).toMatchObject({
          component: "ledger",
          found: POSTGRES_LEDGER_SCHEMA_VERSION + 1,
          supported: POSTGRES_LEDGER_SCHEMA_VERSION,
        });
        expect((error as Error).message).toContain(schema.schema);
      }
      expect(await sql("SELECT id FROM {schema}.ledger_auctions")).toEqual([{ id: "old" }]);
    });

    it("lets many replicas open a new schema at once: one migrates, all of them work", async () => {
      const ledgers = await Promise.all(Array.from({ length: 6 }, () => open()));
      await Promise.all(
        ledgers.map((ledger, index) => ledger.recordAuction({ id: `r${index}`, kind: "demo", outcome })),
      );
      expect(await ledgers[0]?.recentAuctions({ limit: 10 })).toHaveLength(6);
      expect(await sql("SELECT version FROM {schema}.gavel_migrations")).toEqual([
        { version: POSTGRES_LEDGER_SCHEMA_VERSION },
      ]);
    });
  });

  describe("read-only", () => {
    it("refuses a schema that holds no ledger, creating nothing", async () => {
      const error = await open({ readonly: true }).catch((caught: unknown) => caught);
      expect(LedgerError.isInstance(error)).toBe(true);
      expect((error as LedgerError).operation).toBe("open");
      expect((error as Error).message).toMatch(/holds no Gavel ledger/);
      expect((error as Error).message).toContain(`schema "${schema.schema}"`);
      expect(
        await sql("SELECT table_name FROM information_schema.tables WHERE table_schema = $1", [schema.schema]),
      ).toEqual([]);
      const missing = await createPostgresLedger({
        connectionString: url,
        schema: "no_such_schema",
        readonly: true,
      }).catch((caught: unknown) => caught);
      expect((missing as Error).message).toMatch(/holds no Gavel ledger/);
    });

    it("refuses a schema where only other Gavel stores keep their tables", async () => {
      await (await open()).close();
      await sql("DELETE FROM {schema}.gavel_migrations WHERE component = 'ledger'");
      await sql("INSERT INTO {schema}.gavel_migrations (component, version) VALUES ('budget', 1)");
      await expect(open({ readonly: true })).rejects.toThrow(/holds no Gavel ledger/);
    });

    it("reads what a writer recorded and rejects every write", async () => {
      const writer = await open();
      await writer.recordAuction({ id: "x", kind: "route", outcome });
      const reader = await open({ readonly: true });
      expect((await reader.getAuction("x"))?.winners).toEqual(["a"]);
      const account = {
        scope: "global" as const,
        scopeId: "*",
        limits: {},
        spentTokens: 0,
        spentUsd: 0,
        reservedTokens: 0,
        reservedUsd: 0,
      };
      const charge: ChargeInput = { kind: "settle", model: "m", inputTokens: 1, outputTokens: 1, usd: 0 };
      const writes: Array<[string, Promise<unknown>]> = [
        ["recordAuction", reader.recordAuction({ kind: "route", outcome })],
        ["recordAuctions", reader.recordAuctions([{ kind: "route", outcome }])],
        ["recordCharge", reader.recordCharge(charge)],
        ["recordCharges", reader.recordCharges([charge])],
        ["recordOutcome", reader.recordOutcome({ auctionId: "x", correct: true })],
        ["recordBudget", reader.recordBudget({ scope: { kind: "global", id: "*" }, limits: {} })],
        ["recordBudgetSnapshot", reader.recordBudgetSnapshot({ accounts: [account] })],
      ];
      for (const [operation, call] of writes) {
        const error = await call.catch((caught: unknown) => caught);
        expect(LedgerError.isInstance(error)).toBe(true);
        expect(error).toMatchObject({ operation });
        expect((error as Error).message).toMatch(/read-only/);
      }
      expect(await writer.recentAuctions()).toHaveLength(1);
    });
  });

  describe("replicas", () => {
    it("stores every record of several ledgers writing into one schema at once exactly once", async () => {
      const replicas = await Promise.all(Array.from({ length: 4 }, () => open()));
      const perReplica = 30;
      await Promise.all(
        replicas.map(async (replica, index) => {
          const work: Promise<unknown>[] = [];
          for (let item = 0; item < perReplica; item += 1) {
            const id = `replica-${index}-${item}`;
            work.push(
              replica.recordAuction({ id, kind: "route", outcome, createdAt: item }).then(() =>
                replica.recordCharges([
                  {
                    kind: "settle",
                    model: `m${index}`,
                    inputTokens: 1,
                    outputTokens: 2,
                    usd: 0.001,
                    auctionId: id,
                    at: item,
                  },
                  {
                    kind: "reserve",
                    model: `m${index}`,
                    inputTokens: 1,
                    outputTokens: 2,
                    usd: 0.002,
                    auctionId: id,
                    at: item,
                  },
                ]),
              ),
            );
            // Every replica also tries the same shared ids: exactly one of them gets each.
            work.push(replica.recordAuction({ id: `shared-${item}`, kind: "demo", outcome }).catch((error) => error));
          }
          await Promise.all(work);
        }),
      );
      const [reader] = replicas;
      const counts = await sql<{ kind: string; count: string }>(
        "SELECT kind, count(*) FROM {schema}.ledger_auctions GROUP BY kind ORDER BY kind",
      );
      expect(counts).toEqual([
        { kind: "demo", count: String(perReplica) },
        { kind: "route", count: String(replicas.length * perReplica) },
      ]);
      const [bids] = await sql<{ count: string }>("SELECT count(*) FROM {schema}.ledger_bids");
      expect(Number(bids?.count)).toBe(2 * (replicas.length + 1) * perReplica);
      const spend = await reader?.spend({ by: "model" });
      expect(spend?.map((row) => [row.key, row.calls])).toEqual(
        replicas.map((_, index) => [`m${index}`, perReplica]).sort(),
      );
      for (const row of spend ?? []) expect(row.usd).toBe(0.03);
      const winRates = await reader?.winRates();
      expect(winRates?.find((row) => row.bidder === "a")?.wins).toBe((replicas.length + 1) * perReplica);
    });
  });

  describe("numbers", () => {
    it("reads back every double it was given, and sums USD exactly", async () => {
      const ledger = await open();
      const amounts = [0.1, 0.2, 1e-7, 1 / 3, 123_456.789_012_345_6, Number.MIN_VALUE, 2 ** 60, 5e-324 * 3];
      const charges = amounts.map(
        (usd, index): ChargeInput => ({
          kind: "settle",
          model: "m",
          inputTokens: index,
          outputTokens: 0,
          usd,
          at: index,
        }),
      );
      await ledger.recordCharges(charges);
      await ledger.recordAuction({
        id: "priced",
        kind: "route",
        outcome: createSampleOutcome({
          bids: amounts.map((amount, index) => ({ bidder: `b${index}`, amount })),
          reservePrice: 1 / 7,
        }),
      });
      const record = await ledger.getAuction("priced");
      expect(record?.bids.map((bid) => bid.amount).sort((left, right) => left - right)).toEqual(
        [...amounts].sort((left, right) => left - right),
      );
      expect(record?.reservePrice).toBe(1 / 7);
      // 0.1 + 0.2 is 0.30000000000000004 in doubles; the ledger sums the decimals exactly.
      await ledger.recordCharges([
        { kind: "settle", model: "exact", inputTokens: 0, outputTokens: 0, usd: 0.1, at: 1 },
        { kind: "settle", model: "exact", inputTokens: 0, outputTokens: 0, usd: 0.2, at: 2 },
      ]);
      const exact = (await ledger.spend()).find((row) => row.key === "exact");
      expect(exact?.usd).toBe(0.3);
      expect((await ledger.getAuction("priced"))?.charges).toEqual([]);
    });

    it("keeps epoch milliseconds and token counts as integers, and large seeds", async () => {
      const ledger = await open();
      const at = Date.parse("2026-12-04T10:00:00.123Z");
      await ledger.recordAuction({
        id: "t",
        kind: "route",
        createdAt: at,
        outcome: { ...outcome, seed: Number.MAX_SAFE_INTEGER },
      });
      await ledger.recordCharge({
        kind: "settle",
        model: "m",
        inputTokens: 2 ** 40,
        outputTokens: 1,
        usd: 0,
        at,
        auctionId: "t",
      });
      const record = await ledger.getAuction("t");
      expect(record?.createdAt).toBe(at);
      expect(record?.seed).toBe(Number.MAX_SAFE_INTEGER);
      expect(record?.charges[0]).toMatchObject({ at, inputTokens: 2 ** 40 });
      expect((await ledger.spend({ since: at + 0.5 })).length).toBe(0); // since inclusive, on integers
      expect((await ledger.spend({ since: at - 0.5, until: at + 0.5 })).length).toBe(1);
    });
  });

  it("keeps only the task hash when storeTaskText is false", async () => {
    const ledger = await open({ storeTaskText: false });
    const id = await ledger.recordAuction({ kind: "route", outcome, task: "secret prompt" });
    const record = await ledger.getAuction(id);
    expect(record?.task).toBeUndefined();
    expect(record?.taskHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("generates time-ordered UUIDv7 ids from the injected clock by default", async () => {
    const at = Date.parse("2025-06-01T00:00:00Z");
    const ledger = await createPostgresLedger({ connectionString: url, schema: schema.schema, now: () => at });
    opened.push(ledger);
    const id = await ledger.recordAuction({ kind: "demo", outcome });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Number.parseInt(id.replaceAll("-", "").slice(0, 12), 16)).toBe(at);
    expect((await ledger.getAuction(id))?.createdAt).toBe(at);
  });

  it("stamps records with the injected clock and ids with the injected generator", async () => {
    let tick = 1_000;
    let counter = 0;
    const ledger = await createPostgresLedger({
      connectionString: url,
      schema: schema.schema,
      now: () => tick++,
      generateId: () => `id-${++counter}`,
    });
    opened.push(ledger);
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
  });
});

describePostgres("the PostgreSQL ledger answers as the SQLite ledger does", (url) => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  let postgres: PostgresLedger;
  let sqlite: AuctionLedger;
  beforeAll(async () => {
    schema = await freshSchema(url, "ledger");
    postgres = await createPostgresLedger({ connectionString: url, schema: schema.schema });
    sqlite = createSqliteLedger({ path: ":memory:" });
    const { auctions, charges } = sameTrail(20_261_204);
    for (const ledger of [postgres, sqlite]) {
      await ledger.recordAuctions(auctions);
      await ledger.recordCharges(charges);
      await ledger.recordOutcome({ auctionId: "auction-3", correct: false, score: 0.25, recordedAt: 9, label: "x" });
      await ledger.recordOutcome({ auctionId: "auction-7", correct: true, recordedAt: 11, metadata: { z: 1, a: 2 } });
      await ledger.recordBudget({ scope: { kind: "run", id: "b" }, limits: { maxUsd: 0.3 }, definedAt: 1 });
      await ledger.recordBudget({ scope: { kind: "run", id: "B" }, limits: { maxTokens: 7 }, definedAt: 1 });
      await ledger.recordBudget({ scope: { kind: "global", id: "*" }, limits: {}, definedAt: 2, label: "all" });
      const account = { limits: { maxUsd: 1 }, spentTokens: 3, spentUsd: 0.1, reservedTokens: 1, reservedUsd: 0.2 };
      await ledger.recordBudgetSnapshot({
        takenAt: 5,
        accounts: [
          { ...account, scope: "run", scopeId: "b" },
          { ...account, scope: "run", scopeId: "B" },
          { ...account, scope: "global", scopeId: "*" },
        ],
      });
    }
  });
  afterAll(async () => {
    await postgres?.close();
    await sqlite?.close();
    await schema?.drop();
  });

  it.each([
    ["spend by model", (ledger: AuctionLedger) => ledger.spend({ by: "model" })],
    ["spend by agent", (ledger: AuctionLedger) => ledger.spend({ by: "agent" })],
    ["spend by scope, in a window", (ledger: AuctionLedger) => ledger.spend({ by: "scope", since: 10, until: 60 })],
    ["overhead by run", (ledger: AuctionLedger) => ledger.overhead()],
    ["overhead by auction", (ledger: AuctionLedger) => ledger.overhead({ by: "auction" })],
    ["overhead by model of debates", (ledger: AuctionLedger) => ledger.overhead({ by: "model", kind: "debate" })],
    ["win rates", (ledger: AuctionLedger) => ledger.winRates()],
    [
      "win rates of routes, in a window",
      (ledger: AuctionLedger) => ledger.winRates({ kind: "route", since: 3, until: 15 }),
    ],
    ["recent auctions", (ledger: AuctionLedger) => ledger.recentAuctions({ limit: 100 })],
    [
      "every auction",
      async (ledger: AuctionLedger) =>
        Promise.all(Array.from({ length: 21 }, (_, index) => ledger.getAuction(`auction-${index}`))),
    ],
    ["budgets", (ledger: AuctionLedger) => ledger.budgets()],
    ["the latest snapshot", (ledger: AuctionLedger) => ledger.latestBudgetSnapshot()],
  ])("%s", async (_name, query) => {
    expect(comparable(await query(postgres))).toBe(comparable(await query(sqlite)));
  });
});

/** Fields that are sums of USD or prices: SQLite adds doubles, PostgreSQL decimals (exactly). */
const SUMS = new Set(["usd", "answerUsd", "overheadUsd", "otherUsd", "overheadUsdShare", "totalPaid", "meanPricePaid"]);

/**
 * The JSON of a result, fields and key order as they are, with sums to 13 significant digits: a
 * double sum and the exact decimal sum rounded once may differ in the last bits.
 */
function comparable(value: unknown): string {
  return JSON.stringify(value, (key, field) =>
    SUMS.has(key) && typeof field === "number" ? Number(field.toPrecision(13)) : field,
  );
}

/** Seeded auctions and charges with ties of time, mixed-case keys, agents and none, every label. */
function sameTrail(seed: number): { auctions: AuctionInput[]; charges: ChargeInput[] } {
  let state = seed;
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
  const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)] as T;
  const bidders = ["alpha", "Beta", "beta", "gamma", "_z"];
  const auctions = Array.from({ length: 20 }, (_, index): AuctionInput => {
    const count = 1 + Math.floor(random() * bidders.length);
    return {
      id: `auction-${index}`,
      kind: pick(["route", "debate", "route"]),
      createdAt: Math.floor(index / 3), // ties: listed newest recorded first
      scope: pick([undefined, { kind: "run", id: "r1" }, { kind: "run", id: "R2" }]),
      task: pick([undefined, `task ${index}`]),
      values: { alpha: random() },
      metadata: pick([undefined, { round: index, tags: ["b", "a"] }]),
      outcome: createSampleOutcome({
        bids: bidders.slice(0, count).map((bidder) => ({ bidder, amount: Math.round(random() * 1000) / 997 })),
        winners: pick([0, 1, 2]),
        reservePrice: pick([0, 0.1]),
      }),
    };
  });
  const charges = Array.from(
    { length: 120 },
    (_, index): ChargeInput => ({
      id: `charge-${index}`,
      kind: pick(["settle", "settle", "settle", "reserve", "release", "refuse"] as const),
      model: pick(["m1", "M1", "m2", "m10"]),
      agent: pick([undefined, "alice", "Bob", "bob"]),
      scope: pick([undefined, { kind: "run", id: "r1" }, { kind: "thread", id: "t" }]),
      inputTokens: Math.floor(random() * 5000),
      outputTokens: Math.floor(random() * 500),
      usd: Math.floor(random() * 100_000) / 3e7,
      estimated: random() < 0.3,
      auctionId: pick([undefined, `auction-${Math.floor(random() * 22)}`]),
      label: pick([
        undefined,
        "plan",
        "jury",
        "refine",
        "answer",
        "debate.intent",
        "debate.message",
        "escalation",
        "other",
      ]),
      at: Math.floor(index / 2),
    }),
  );
  return { auctions, charges };
}

describe("createPostgresLedger without a server", () => {
  it("fails fast naming host, port and database, never the password", async () => {
    const error = await createPostgresLedger({
      connectionString: "postgres://app:s3cret@127.0.0.1:1/ledgerdb",
      connectTimeoutMs: 2_000,
    }).catch((caught: unknown) => caught);
    expect(PostgresConnectionError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain("127.0.0.1:1/ledgerdb");
    expect((error as Error).message).not.toContain("s3cret");
  });

  it.each([
    [{}, "connectionString"],
    [{ connectionString: "postgres://x/y", schema: "bad-name" }, "schema"],
    [{ connectionString: "postgres://x/y", readonly: "yes" }, "readonly"],
    [{ connectionString: "postgres://x/y", now: 5 }, "now"],
    [{ connectionString: "postgres://x/y", shema: "typo" }, ""],
  ])("rejects %o naming %s", async (options, field) => {
    const error = await createPostgresLedger(options as never).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).fields).toContain(field);
  });
});
