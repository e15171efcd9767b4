/**
 * The strategy memory over a vector store of `@langchain/community`: `LibSQLVectorStore` on a real
 * libSQL file (`@libsql/client`, `file:` URL) under a temp folder.
 *
 * libSQL returns cosine distance (`scoreKind: "distance"`) and assigns its own document ids
 * (rowids, whatever ids `addVectors` is given), which `delete` takes. Its vector index
 * (`vector_top_k`) keeps one row of several with the same vector (tursodatabase/libsql#2104), and
 * every entry of an auction has the task's vector: so the store searches exactly (as
 * examples/community-vectorstore-memory.ts shows), with the filter in SQL before the limit.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Client, createClient } from "@libsql/client";
import { afterAll, describe, expect, it } from "vitest";
import { createVectorStoreStrategyMemory, equalityFilter } from "../../adapters/vectorstore/memory.js";
import { ExactLibSQLVectorStore, sqlFilterOf } from "../../examples/lib/libsql-exact-store.js";
import { entriesFromAuction } from "../../src/memory/auction-entries.js";
import type { StrategyEntry, StrategyMemory } from "../../src/memory/types.js";
import { describeStrategyMemoryConformance } from "../../src/testing.js";
import { ScriptedHashingEmbeddings } from "./scripted-embeddings.js";

const root = mkdtempSync(join(tmpdir(), "gavel-libsql-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A libSQL file with the table `LibSQLVectorStore` writes to. */
async function openLibSQLStore(file: string, embeddings: ScriptedHashingEmbeddings) {
  const db = createClient({ url: `file:${file}` });
  await db.execute(
    `CREATE TABLE IF NOT EXISTS vectors (content TEXT, metadata TEXT, embedding F32_BLOB(${embeddings.dimensions}))`,
  );
  return { db, store: new ExactLibSQLVectorStore(embeddings, db) };
}

async function rowCount(db: Client): Promise<number> {
  const result = await db.execute("SELECT count(*) AS n FROM vectors");
  return Number(result.rows[0]?.n);
}

const clients = new WeakMap<StrategyMemory, Client>();

await describeStrategyMemoryConformance({
  name: "LangChain community LibSQLVectorStore (libSQL file)",
  async create({ key, embeddings, maxEntries, now }) {
    const { db, store } = await openLibSQLStore(join(root, `${key}.db`), embeddings);
    const memory = createVectorStoreStrategyMemory({
      store,
      scoreKind: "distance",
      toStoreFilter: (filter) => sqlFilterOf(equalityFilter(filter)),
      ...(maxEntries === undefined ? {} : { maxEntries }),
      ...(now === undefined ? {} : { now }),
    });
    clients.set(memory, db);
    return memory;
  },
  async destroy(memory, { key }) {
    await memory.close();
    clients.get(memory)?.close();
    await rm(join(root, `${key}.db`), { force: true });
  },
  // The file keeps every document and rewritten outcome; a new adapter's catalog starts empty.
  persistence: { keepsSize: false, keepsOutcomes: true },
});

function auction(id: string, task: string) {
  return entriesFromAuction({
    auctionId: id,
    task,
    kind: "k",
    winner: "large",
    createdAt: 1,
    bids: [
      { agent: "small", plan: "short plan", cost: 1 },
      { agent: "large", plan: "long plan", cost: 5 },
    ],
  });
}

describe("LangChain community LibSQLVectorStore: store specifics", () => {
  it("deletes evicted, replaced and rewritten documents by the rowids libSQL gave them", async () => {
    const embeddings = new ScriptedHashingEmbeddings();
    const { db, store } = await openLibSQLStore(join(root, "rowids.db"), embeddings);
    const memory = createVectorStoreStrategyMemory({ store, scoreKind: "distance", maxEntries: 2 });
    try {
      await memory.add(auction("a1", "add numbers"));
      await memory.add(auction("a2", "sort names"));
      expect(await rowCount(db)).toBe(2);
      await memory.add([{ ...auction("a2", "sort names")[0], plan: "changed" } as StrategyEntry]);
      expect(await memory.recordOutcome("a2:large", 1)).toBe(true);
      const rows = await db.execute("SELECT metadata FROM vectors");
      const stored = rows.rows.map((row) => JSON.parse(String(row.metadata)) as Record<string, unknown>);
      expect(stored.map((metadata) => [metadata.entryId, metadata.plan, metadata.outcome]).sort()).toEqual([
        ["a2:large", "long plan", 1],
        ["a2:small", "changed", undefined],
      ]);
    } finally {
      await memory.close();
      db.close();
    }
  });
});
