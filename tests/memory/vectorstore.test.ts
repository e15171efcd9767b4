import { MemoryVectorStore } from "@langchain/classic/vectorstores/memory";
import type { Document } from "@langchain/core/documents";
import { describe, expect, it } from "vitest";
import { createVectorStoreStrategyMemory, equalityFilter, predicateFilter } from "../../adapters/vectorstore/memory.js";
import { ConfigError } from "../../src/errors.js";
import { entriesFromAuction } from "../../src/memory/auction-entries.js";
import type { StrategyEntry } from "../../src/memory/types.js";
import { describeStrategyMemoryConformance } from "../../src/testing.js";
import { ScriptedHashingEmbeddings } from "./scripted-embeddings.js";

/** `MemoryVectorStore` does not implement `delete`; this one does, like database-backed stores. */
class DeletableMemoryVectorStore extends MemoryVectorStore {
  deleteCalls = 0;

  override async delete({ ids }: { ids?: string[] } = {}): Promise<void> {
    this.deleteCalls += 1;
    const remove = new Set(ids ?? []);
    this.memoryVectors = this.memoryVectors.filter((vector) => vector.id === undefined || !remove.has(vector.id));
  }
}

/** Returns cosine *distance* (1 - similarity), as pgvector and others do. */
class DistanceMemoryVectorStore extends MemoryVectorStore {
  override async similaritySearchVectorWithScore(
    query: number[],
    k: number,
    filter?: this["FilterType"],
  ): Promise<[Document, number][]> {
    const results = await super.similaritySearchVectorWithScore(query, k, filter);
    return results.map(([document, score]) => [document, 1 - score]);
  }
}

for (const variant of ["without delete", "with delete"] as const) {
  const stores = new Map<string, MemoryVectorStore>();
  await describeStrategyMemoryConformance({
    name: `LangChain VectorStore (MemoryVectorStore ${variant})`,
    async create({ key, embeddings, maxEntries, now }) {
      let store = stores.get(key);
      if (store === undefined) {
        store =
          variant === "with delete" ? new DeletableMemoryVectorStore(embeddings) : new MemoryVectorStore(embeddings);
        stores.set(key, store);
      }
      return createVectorStoreStrategyMemory({
        store,
        toStoreFilter: predicateFilter,
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(now === undefined ? {} : { now }),
      });
    },
    async destroy(memory, { key }) {
      await memory.close();
      stores.delete(key);
    },
    // A new adapter over the same store finds every entry, but its catalog (size, get) starts empty;
    // outcomes survive only where the store can rewrite documents.
    persistence: { keepsSize: false, keepsOutcomes: variant === "with delete" },
  });
}

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

describe("LangChain VectorStore strategy memory: store specifics", () => {
  it("deletes evicted and replaced documents from a store that can delete", async () => {
    const embeddings = new ScriptedHashingEmbeddings();
    const store = new DeletableMemoryVectorStore(embeddings);
    const memory = createVectorStoreStrategyMemory({ store, maxEntries: 2, toStoreFilter: predicateFilter });
    await memory.add(auction("a1", "add numbers"));
    await memory.add(auction("a2", "sort names"));
    expect(store.memoryVectors.map((vector) => vector.id).sort()).toEqual(["a2:large", "a2:small"]);
    await memory.add([{ ...auction("a2", "sort names")[0], plan: "changed" } as StrategyEntry]);
    expect(store.memoryVectors).toHaveLength(2);
    expect(store.memoryVectors.find((vector) => vector.id === "a2:small")?.metadata.plan).toBe("changed");
  });

  it("hides evicted documents of a store that cannot delete", async () => {
    const store = new MemoryVectorStore(new ScriptedHashingEmbeddings());
    const memory = createVectorStoreStrategyMemory({ store, maxEntries: 2 });
    await memory.add(auction("a1", "add numbers"));
    await memory.add(auction("a2", "sort names"));
    expect(store.memoryVectors).toHaveLength(4);
    const hits = await memory.search({ text: "add numbers", k: 10 });
    expect(hits.map((hit) => hit.entry.auctionId)).toEqual(["a2", "a2"]);
  });

  it("orders by the store's distance when scoreKind is distance", async () => {
    const embeddings = new ScriptedHashingEmbeddings();
    const store = new DistanceMemoryVectorStore(embeddings);
    const memory = createVectorStoreStrategyMemory({ store, scoreKind: "distance" });
    await memory.add([...auction("math", "add two numbers"), ...auction("sort", "sort the names alphabetically")]);
    const hits = await memory.search({ text: "sort names", k: 4 });
    expect(hits[0]?.entry.auctionId).toBe("sort");
    expect(hits[0]?.score).toBeGreaterThan(hits[3]?.score ?? 1);
  });

  it("ignores documents of the same store that are not strategy entries", async () => {
    const embeddings = new ScriptedHashingEmbeddings();
    const store = new MemoryVectorStore(embeddings);
    await store.addDocuments([{ pageContent: "add two numbers", metadata: { source: "docs" } }]);
    const memory = createVectorStoreStrategyMemory({ store });
    await memory.add(auction("math", "add two numbers"));
    const hits = await memory.search({ text: "add two numbers", k: 10 });
    expect(hits.map((hit) => hit.entry.id).sort()).toEqual(["math:large", "math:small"]);
  });

  it("passes filters to the store through toStoreFilter", async () => {
    const embeddings = new ScriptedHashingEmbeddings();
    const store = new MemoryVectorStore(embeddings);
    const seen: unknown[] = [];
    const memory = createVectorStoreStrategyMemory({
      store,
      toStoreFilter: (filter) => {
        seen.push(filter);
        return predicateFilter(filter);
      },
    });
    await memory.add(auction("math", "add two numbers"));
    const hits = await memory.search({ text: "add", filter: { agent: "small" } });
    expect(seen).toEqual([{ agent: "small" }]);
    expect(hits.map((hit) => hit.entry.id)).toEqual(["math:small"]);
    expect(equalityFilter({ agent: "small", kind: undefined, role: "losing" })).toEqual({
      agent: "small",
      role: "losing",
    });
  });

  it("validates its options", () => {
    expect(() => createVectorStoreStrategyMemory({ store: {} as MemoryVectorStore })).toThrow(ConfigError);
    const store = new MemoryVectorStore(new ScriptedHashingEmbeddings());
    expect(() => createVectorStoreStrategyMemory({ store, scoreKind: "dot" as "distance" })).toThrow(/scoreKind/);
  });
});
