/**
 * The strategy memory on PostgreSQL (`createPostgresStrategyMemory`) at 10,000 and 100,000 entries
 * of 512-d vectors: the bulk insert, the first sync of a second replica (load every row into its
 * index), the catch-up of one new auction on that replica (NOTIFY → rows since its version), and
 * the top-8 query and contrastive pairs on the synced replica.
 *
 * Vectors are seeded random unit vectors given with each entry (`vector`), so no embedder runs.
 * Needs the PostgreSQL server of `npm run db:start` (or `GAVEL_TEST_POSTGRES_URL`); without one
 * it reports nothing and says so on stderr.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { createPostgresStrategyMemory, type PostgresStrategyMemory } from "../adapters/postgres/memory.js";
import { mulberry32Float } from "../src/market/random.js";
import { type BenchResult, median, medianMicros } from "./harness.js";
import {
  BIDS_PER_AUCTION,
  DIMENSIONS,
  milliseconds,
  noEmbedder,
  syntheticEntries,
  unitVector,
} from "./memory-fixtures.js";

/** Entries per `add` call of the bulk insert (one transaction each, in multi-row INSERTs of 1,000). */
const ADD_BATCH = 5_000;
const CATCH_UP_ROUNDS = 15;

function postgresUrl(): string | undefined {
  if (process.env.GAVEL_TEST_POSTGRES_URL) return process.env.GAVEL_TEST_POSTGRES_URL;
  const file = join(import.meta.dirname, "..", ".tmp", "postgres", "env");
  if (!existsSync(file)) return undefined;
  return /^GAVEL_TEST_POSTGRES_URL=(.+)$/m.exec(readFileSync(file, "utf8"))?.[1]?.trim();
}

async function onSchema<T>(url: string, work: (schema: string) => Promise<T>): Promise<T> {
  const schema = `bench_memory_${randomBytes(4).toString("hex")}`;
  try {
    return await work(schema);
  } finally {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

async function figures(url: string, size: number): Promise<BenchResult[]> {
  return onSchema(url, async (schema) => {
    const open = () =>
      createPostgresStrategyMemory({ connectionString: url, schema, embeddings: noEmbedder, maxEntries: size * 2 });
    const label = `${size / 1000}k`;
    const entries = syntheticEntries(size, size);
    const writer = await open();
    let reader: PostgresStrategyMemory | undefined;
    try {
      const insertMs = await milliseconds(async () => {
        for (let start = 0; start < entries.length; start += ADD_BATCH) {
          await writer.add(entries.slice(start, start + ADD_BATCH));
        }
      });
      const syncMs = await milliseconds(async () => {
        reader = await open();
      });
      const replica = reader as unknown as PostgresStrategyMemory;
      if ((await replica.size()) !== size) throw new Error(`the replica holds ${await replica.size()} entries`);

      // One new auction on the writer: how long until the replica has applied it (NOTIFY, then rows since its version).
      const catchUps: number[] = [];
      for (let round = 0; round < CATCH_UP_ROUNDS; round += 1) {
        const fresh = syntheticEntries(BIDS_PER_AUCTION, 1_000 + round, `new${round}-`);
        const started = performance.now();
        await writer.add(fresh);
        const target = writer.version;
        while (replica.version < target) await new Promise((resolve) => setImmediate(resolve));
        catchUps.push(performance.now() - started);
      }

      const queries = Array.from({ length: 64 }, (_, index) => unitVector(mulberry32Float(index + 7)));
      let next = 0;
      const query = () => queries[next++ % queries.length] ?? new Float32Array(DIMENSIONS);
      const search = await medianMicros(`memory.postgres.search.${label}`, () =>
        replica.search({ vector: query(), k: 8 }),
      );
      return [
        {
          name: `memory.postgres.bulk-insert.${label}`,
          value: insertMs,
          unit: "ms",
          details: {
            entries: size,
            perAdd: ADD_BATCH,
            entriesPerSecond: Math.round(size / (insertMs / 1000)),
            note: "add() in batches: one transaction each, multi-row INSERTs of 1,000 rows (bytea vectors)",
          },
        },
        {
          name: `memory.postgres.first-sync.${label}`,
          value: syncMs,
          unit: "ms",
          details: {
            entries: size,
            note: "open a second replica: migrate check, LISTEN, load every row into its index",
          },
        },
        {
          name: `memory.postgres.catch-up.auction.${label}`,
          value: median(catchUps),
          unit: "ms",
          details: {
            entries: size,
            samples: catchUps.length,
            note: "writer's add (one transaction) until the other replica applied it, woken by NOTIFY",
          },
        },
        {
          name: `memory.postgres.search.top8.${label}`,
          value: search.medianUs / 1000,
          unit: "ms",
          details: { entries: size, dimensions: DIMENSIONS, samples: search.samples, note: "on the synced replica" },
        },
      ];
    } finally {
      await reader?.close();
      await writer.close();
    }
  });
}

/** Every figure, or none (with a note on stderr) when no PostgreSQL server is running. */
export async function run(): Promise<BenchResult[]> {
  const url = postgresUrl();
  if (url === undefined) {
    process.stderr.write("memory-postgres: no PostgreSQL server (npm run db:start), skipped\n");
    return [];
  }
  return [...(await figures(url, 10_000)), ...(await figures(url, 100_000))];
}
