/**
 * The strategy memory on PostgreSQL: the memory conformance suite on a real server, then what only
 * a shared memory does — replicas (separate pools on one schema) that see each other's entries and
 * outcomes within a second, woken by NOTIFY; the bound held across replicas; a dropped LISTEN
 * connection that falls back to polling and comes back; dimension mismatches refused.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createPostgresStrategyMemory, type PostgresStrategyMemory } from "../../adapters/postgres/memory.js";
import { ConfigError } from "../../src/errors.js";
import { entriesFromAuction } from "../../src/memory/auction-entries.js";
import type { StrategyEntry } from "../../src/memory/types.js";
import { describeStrategyMemoryConformance } from "../../src/testing.js";
import { describePostgres, freshSchema } from "../helpers/postgres.js";
import { ScriptedHashingEmbeddings } from "../memory/scripted-embeddings.js";

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

describePostgres("PostgreSQL strategy memory", async (url) => {
  // One schema per conformance key: reopening with the same key reaches the same tables.
  const schemas = new Map<string, string>();
  const schemaFor = (key: string) => {
    let schema = schemas.get(key);
    if (schema === undefined) {
      schema = `memconf_${randomBytes(5).toString("hex")}`;
      schemas.set(key, schema);
    }
    return schema;
  };

  for (const precision of ["float32", "int8"] as const) {
    await describeStrategyMemoryConformance<PostgresStrategyMemory>({
      name: precision === "float32" ? "PostgreSQL" : "PostgreSQL, int8 in-process index",
      create({ key, embeddings, maxEntries, now }) {
        return createPostgresStrategyMemory({
          connectionString: url,
          schema: schemaFor(key),
          embeddings,
          maxConnections: 4,
          precision,
          ...(maxEntries === undefined ? {} : { maxEntries }),
          ...(now === undefined ? {} : { now }),
        });
      },
      async destroy(memory, { key }) {
        await memory.close();
        await dropSchema(url, schemaFor(key));
      },
      persistence: { keepsSize: true, keepsOutcomes: true },
    });
  }
});

function single(id: string, task: string, extra: Partial<StrategyEntry> = {}): StrategyEntry {
  return { id, auctionId: id, task, kind: "k", agent: "a", plan: "p", role: "single", cost: 1, createdAt: 1, ...extra };
}

function auction(id: string, task: string, createdAt = 1): StrategyEntry[] {
  return entriesFromAuction({
    auctionId: id,
    task,
    kind: "k",
    winner: "large",
    createdAt,
    bids: [
      { agent: "small", plan: `small plan for ${id}`, cost: 1 },
      { agent: "large", plan: `large plan for ${id}`, cost: 10 },
    ],
  });
}

/** Polls `check` every 10 ms until it holds; returns how long that took (ms), or throws after `within`. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const started = performance.now();
  for (;;) {
    if (await check()) return performance.now() - started;
    if (performance.now() - started > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describePostgres("PostgreSQL strategy memory: replicas", (url) => {
  let schema: Awaited<ReturnType<typeof freshSchema>>;
  const open: PostgresStrategyMemory[] = [];
  const embeddings = new ScriptedHashingEmbeddings();

  beforeAll(async () => {
    schema = await freshSchema(url, "memrep");
  });
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((memory) => memory.close()));
  });
  afterAll(async () => {
    await schema.drop();
  });

  /** A replica with its own pool. Polling is slowed to a minute unless asked: only NOTIFY can wake it. */
  async function replica(
    name: string,
    options: { maxEntries?: number; pollIntervalMs?: number; embeddings?: ScriptedHashingEmbeddings } = {},
  ) {
    const memory = await createPostgresStrategyMemory({
      connectionString: url,
      schema: `${schema.schema}_${name}`,
      embeddings: options.embeddings ?? embeddings,
      maxConnections: 3,
      pollIntervalMs: options.pollIntervalMs ?? 60_000,
      ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
    });
    open.push(memory);
    return memory;
  }

  afterAll(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ nspname: string }>(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1",
        [`${schema.schema}\\_%`],
      );
      for (const { nspname } of rows) await client.query(`DROP SCHEMA "${nspname}" CASCADE`);
    } finally {
      await client.end();
    }
  });

  it("an entry added on one replica is found by another's search within a second, woken by NOTIFY", async () => {
    const [writer, reader] = [await replica("notify"), await replica("notify")];
    await writer.add([single("first", "Add two numbers and print the sum")]);
    const versionBefore = reader.version;
    const waited = await within(1_000, async () => {
      const hits = await reader.search({ text: "print the sum of two numbers", k: 1 });
      return hits[0]?.entry.id === "first";
    });
    expect(waited).toBeLessThan(1_000);
    expect(reader.version).toBeGreaterThan(versionBefore);

    // A second write: the reader's index catches up in the background, before any read asks.
    await writer.add(auction("a-sort", "Sort a list of names in alphabetical order"));
    await within(1_000, async () => reader.version >= writer.version);
    const pairs = await reader.contrastivePairs("names in alphabetical order", { k: 1 });
    expect(pairs[0]?.auctionId).toBe("a-sort");
    expect(await reader.size()).toBe(3);
  });

  it("an outcome recorded on one replica is seen by the other, and evictions reach it too", async () => {
    const [one, two] = [await replica("outcome", { maxEntries: 4 }), await replica("outcome", { maxEntries: 4 })];
    await one.add(auction("a1", "Translate a French sentence into English", 1));
    await within(1_000, async () => (await two.get("a1:large")) !== undefined);
    expect(await two.recordOutcome("a1:large", 1)).toBe(true);
    await within(1_000, async () => (await one.get("a1:large"))?.outcome === 1);
    const hits = await one.search({ text: "French sentence", k: 2, filter: { role: "winning" } });
    expect(hits[0]?.entry.outcome).toBe(1);

    // The bound is the schema's: a3 added on `two` evicts a1 or a2 for both replicas.
    await two.add(auction("a2", "Summarise the weather forecast for Paris", 2));
    await one.add(auction("a3", "Sort a list of names", 3));
    await within(1_000, async () => (await two.get("a3:small")) !== undefined);
    expect(await one.size()).toBe(4);
    expect(await two.size()).toBe(4);
    const kept = async (memory: PostgresStrategyMemory) =>
      (await Promise.all(["a1:small", "a2:small", "a3:small"].map((id) => memory.get(id)))).map(
        (entry) => entry?.auctionId,
      );
    expect(await kept(one)).toEqual(await kept(two));
    expect((await kept(one)).filter((value) => value !== undefined)).toHaveLength(2);
    expect(await one.get("a3:large")).toBeDefined();
  });

  it("holds the bound when replicas add at the same time", async () => {
    const replicas = await Promise.all([0, 1, 2].map(() => replica("race", { maxEntries: 20 })));
    await Promise.all(
      replicas.map((memory, index) =>
        Promise.all(
          Array.from({ length: 10 }, (_, n) => memory.add(auction(`r${index}-${n}`, `task ${index} number ${n}`, n))),
        ),
      ),
    );
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT count(*)::int AS n FROM "${schema.schema}_race".gavel_memory_entries`,
      );
      expect(rows[0].n).toBe(20);
      const { rows: counted } = await client.query(
        `SELECT entry_count::int AS n FROM "${schema.schema}_race".gavel_memory_state`,
      );
      expect(counted[0].n).toBe(20);
    } finally {
      await client.end();
    }
    for (const memory of replicas) {
      await memory.sync();
      expect(await memory.size()).toBe(20);
    }
  });

  it("survives its LISTEN connection being killed: polls meanwhile, then listens again", async () => {
    const watcher = await replica("drop", { pollIntervalMs: 100 });
    const writer = await replica("drop");
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      const listeners = async () => {
        const { rows } = await admin.query<{ pid: number }>(
          "SELECT pid FROM pg_stat_activity WHERE query = $1 AND pid <> pg_backend_pid()",
          [`LISTEN "gavel_memory_${schema.schema}_drop"`],
        );
        return rows.map((row) => row.pid);
      };
      const before = await listeners();
      expect(before).toHaveLength(2);
      for (const pid of before) await admin.query("SELECT pg_terminate_backend($1)", [pid]);
      // Written while nobody listens: the watcher's poll (or its reconnection) finds it.
      await writer.add([single("while-down", "Write a haiku about databases")]);
      await within(1_000, async () => (await watcher.get("while-down")) !== undefined);
      // Both reconnect, and NOTIFY works again.
      await within(5_000, async () => (await listeners()).length === 2);
      await writer.add([single("after", "Explain a binary search tree")]);
      await within(1_000, async () => (await watcher.get("after")) !== undefined);
    } finally {
      await admin.end();
    }
  });

  it("refuses vectors of another dimension than the stored rows, on every replica", async () => {
    const first = await replica("dims");
    await first.add([single("x", "a task")]);
    const other = await replica("dims", { embeddings: new ScriptedHashingEmbeddings({ dimensions: 32 }) });
    await expect(other.add([single("y", "another task")])).rejects.toMatchObject({
      name: "StrategyMemoryError",
      reason: "dimension_mismatch",
    });
    await expect(other.search({ text: "a task" })).rejects.toMatchObject({ reason: "dimension_mismatch" });
    // A replica that has not loaded the stored rows yet is refused by the database's record.
    const fresh = await replica("dims2", { embeddings: new ScriptedHashingEmbeddings({ dimensions: 32 }) });
    const late = await replica("dims2");
    await fresh.add([single("z", "a task")]);
    await expect(late.add([{ ...single("w", "a task"), vector: new Array(256).fill(1) }])).rejects.toMatchObject({
      reason: "dimension_mismatch",
    });
    expect(await late.size()).toBe(1);
    expect((await late.get("z"))?.task).toBe("a task");
  });

  it("reloads everything when it fell behind the tombstones kept", async () => {
    const behind = await replica("pruned", { maxEntries: 2 });
    const writer = await createPostgresStrategyMemory({
      connectionString: url,
      schema: `${schema.schema}_pruned`,
      embeddings,
      maxEntries: 2,
      tombstoneRetentionMs: 1,
      pollIntervalMs: 60_000,
    });
    open.push(writer);
    await writer.add([single("s0", "task number 0", { createdAt: 0 })]);
    await behind.sync();
    expect(await behind.size()).toBe(1);
    // Nobody listens any more (and polling is a minute away): `behind` hears of nothing that follows.
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1", [
        `LISTEN "gavel_memory_${schema.schema}_pruned"`,
      ]);
    } finally {
      await admin.end();
    }
    for (let index = 1; index < 6; index += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      await writer.add([single(`s${index}`, `task number ${index}`, { createdAt: index })]);
    }
    await behind.sync(); // its tombstones are gone: a full reload
    expect(await behind.size()).toBe(2);
    expect((await behind.search({ text: "task number", k: 5 })).map((hit) => hit.entry.id).sort()).toEqual([
      "s4",
      "s5",
    ]);
  });
});

describe("PostgreSQL strategy memory: options", () => {
  it("names the field when neither connectionString nor pool is given", async () => {
    const error = await createPostgresStrategyMemory({ embeddings: new ScriptedHashingEmbeddings() }).catch(
      (caught: unknown) => caught,
    );
    expect(ConfigError.isInstance(error)).toBe(true);
  });

  it("refuses an unknown option", async () => {
    const error = await createPostgresStrategyMemory({
      connectionString: "postgres://127.0.0.1/gavel",
      embeddings: new ScriptedHashingEmbeddings(),
      maxEntires: 5,
    } as never).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
  });
});
