/**
 * Strategy memory in a LangChain community vector store, offline: `LibSQLVectorStore`
 * (`@langchain/community`) on a local libSQL file (`@libsql/client`), through
 * `createVectorStoreStrategyMemory`. A second process (or a reopen, as here) finds the same entries.
 *
 * libSQL answers cosine distance (`scoreKind: "distance"`). Its vector index (`vector_top_k`) keeps
 * one row of several with the same vector, and every entry of an auction has the task's vector, so
 * the store searches exactly, with Gavel's filter in SQL before the limit (lib/libsql-exact-store.ts).
 *
 * Run: npx tsx examples/community-vectorstore-memory.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient } from "@libsql/client";
import { createVectorStoreStrategyMemory, entriesFromAuction, equalityFilter } from "langchain-gavel";
import { ScriptedHashingEmbeddings } from "langchain-gavel/testing";
import { ExactLibSQLVectorStore, sqlFilterOf } from "./lib/libsql-exact-store.js";

const folder = await mkdtemp(join(tmpdir(), "gavel-libsql-example-"));
const embeddings = new ScriptedHashingEmbeddings(); // deterministic word hashing, 256-d; use a real embedder in production
const db = createClient({ url: `file:${join(folder, "memory.db")}` });
await db.execute(`CREATE TABLE IF NOT EXISTS vectors (content TEXT, metadata TEXT, embedding F32_BLOB(256))`);

function openMemory() {
  const store = new ExactLibSQLVectorStore(embeddings, db);
  return createVectorStoreStrategyMemory({
    store,
    scoreKind: "distance",
    toStoreFilter: (filter) => sqlFilterOf(equalityFilter(filter)),
  });
}

const memory = openMemory();
const pastAuctions = [
  { task: "A shop sells pens at $3 each. How much do 14 pens cost?", kind: "gsm8k", winner: "small" },
  { task: "Tom has 52 marbles and gives away a quarter of them. How many are left?", kind: "gsm8k", winner: "large" },
  { task: "Write a Python function that checks whether a string is a palindrome.", kind: "humaneval", winner: "large" },
];
for (const [index, auction] of pastAuctions.entries()) {
  await memory.add(
    entriesFromAuction({
      auctionId: `auction-${index + 1}`,
      task: auction.task,
      kind: auction.kind,
      winner: auction.winner,
      createdAt: Date.now(),
      bids: [
        { agent: "small", plan: `short plan for auction ${index + 1}`, cost: 0.0001 },
        { agent: "large", plan: `careful plan for auction ${index + 1}`, cost: 0.003 },
      ],
    }),
  );
}
await memory.recordOutcome("auction-2:large", 1); // rewrites that document in the file
await memory.close(); // the memory never closes the store: the file keeps every entry

// Later, or in another process: a new adapter over the same file.
const reopened = openMemory();
const newTask = "Anna buys 6 notebooks at $4 each. How many dollars do the notebooks cost?";
const pairs = await reopened.contrastivePairs(newTask, { k: 1, agent: "small" });
const rows = await db.execute("SELECT count(*) AS n FROM vectors");
console.log(`libSQL file holds ${rows.rows[0]?.n} strategy documents. New task: ${newTask}\n`);
for (const pair of pairs) {
  console.log(`${pair.auctionId} (similarity ${pair.score.toFixed(2)}): ${pair.losing.task}`);
  console.log(`  lost: [${pair.losing.agent}] ${pair.losing.plan}`);
  console.log(
    `  won:  [${pair.winning.agent}] ${pair.winning.plan}${pair.winning.outcome === 1 ? " (correct)" : ""}\n`,
  );
}
const humaneval = await reopened.search({ text: newTask, k: 4, filter: { kind: "humaneval" } });
console.log(`humaneval entries: ${humaneval.map((hit) => hit.entry.id).join(", ")}`);

await reopened.close();
db.close();
await rm(folder, { recursive: true, force: true });
