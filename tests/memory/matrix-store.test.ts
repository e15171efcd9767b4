import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countPairs, pairsFromAuctions, type RankedAuction } from "../../src/memory/contrastive-pairs.js";
import { type EvictionCandidate, selectEvictions } from "../../src/memory/eviction.js";
import { MatrixStore } from "../../src/memory/matrix-store.js";
import { compareRecency, RecencyOrder } from "../../src/memory/recency-order.js";
import type { ContrastivePair, StrategyEntry } from "../../src/memory/types.js";

describe("RecencyOrder", () => {
  it("orders auctions least recently used first, ties by creation time then auction id", () => {
    const order = new RecencyOrder();
    order.set({ auctionId: "c", lastUsedAt: 5, createdAt: 1 });
    order.set({ auctionId: "b", lastUsedAt: 2, createdAt: 9 });
    order.set({ auctionId: "z", lastUsedAt: 2, createdAt: 3 });
    order.set({ auctionId: "a", lastUsedAt: 2, createdAt: 3 });
    expect([...order.leastRecentFirst()].map((key) => key.auctionId)).toEqual(["a", "z", "b", "c"]);
  });

  it("moves an auction when it is used again, and forgets deleted auctions", () => {
    const order = new RecencyOrder();
    for (const [index, auctionId] of ["a", "b", "c"].entries())
      order.set({ auctionId, lastUsedAt: index, createdAt: 0 });
    order.set({ auctionId: "a", lastUsedAt: 10, createdAt: 0 });
    expect([...order.leastRecentFirst()].map((key) => key.auctionId)).toEqual(["b", "c", "a"]);
    // A clock that went back in time puts the auction where its key says, not at the end.
    order.set({ auctionId: "c", lastUsedAt: -1, createdAt: 0 });
    expect([...order.leastRecentFirst()].map((key) => key.auctionId)).toEqual(["c", "b", "a"]);
    expect(order.delete("b")).toBe(true);
    expect(order.delete("b")).toBe(false);
    expect([...order.leastRecentFirst()].map((key) => key.auctionId)).toEqual(["c", "a"]);
    expect(order.size).toBe(2);
  });

  it("stays sorted under any sequence of sets and deletes", () => {
    const operation = fc.record({
      auctionId: fc.constantFrom("a", "b", "c", "d", "e", "f"),
      lastUsedAt: fc.integer({ min: 0, max: 5 }),
      createdAt: fc.integer({ min: 0, max: 3 }),
      remove: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 60 }), (operations) => {
        const order = new RecencyOrder();
        const expected = new Map<string, { auctionId: string; lastUsedAt: number; createdAt: number }>();
        for (const { remove, ...key } of operations) {
          if (remove) {
            expect(order.delete(key.auctionId)).toBe(expected.delete(key.auctionId));
          } else {
            order.set(key);
            expected.set(key.auctionId, key);
          }
        }
        expect([...order.leastRecentFirst()]).toEqual([...expected.values()].sort(compareRecency));
      }),
    );
  });
});

// ---------------------------------------------------------------------------
// MatrixStore against the reference rule (selectEvictions) and a full-scan ranking.
// ---------------------------------------------------------------------------

const AUCTIONS = ["A", "B", "C", "D", "E"];
const VECTORS = [
  [1, 0, 0],
  [0, 1, 0],
  [1, 1, 0],
  [0.2, 0.1, 1],
];

function entryOf(
  id: string,
  auctionId: string,
  role: StrategyEntry["role"],
  createdAt: number,
  kind = "k",
): StrategyEntry {
  return { id, auctionId, task: `task ${auctionId}`, kind, agent: id, plan: `plan ${id}`, role, cost: 1, createdAt };
}

/** Every stored entry as an eviction candidate, as `selectEvictions` sees them. */
function candidatesOf(store: MatrixStore): EvictionCandidate[] {
  return [...store.records()].map(({ entry, lastUsedAt }) => ({
    id: entry.id,
    auctionId: entry.auctionId,
    createdAt: entry.createdAt,
    lastUsedAt,
  }));
}

/** The ranking of the former full scan: every accepted row scored, auctions by first appearance. */
function referencePairs(
  store: MatrixStore,
  query: number[],
  k: number,
  agent?: string,
  kind?: string,
): ContrastivePair[] {
  const length = Math.hypot(...query);
  const pairable = (entry: StrategyEntry) => entry.role !== "single" && (kind === undefined || entry.kind === kind);
  const scored = [...store.records()]
    .filter(({ entry }) => pairable(entry))
    .map(({ entry, vector }) => ({
      entry,
      score: Math.fround(vector.reduce((sum, value, index) => sum + value * ((query[index] ?? 0) / length), 0)),
    }))
    .sort((a, b) => b.score - a.score || (a.entry.id < b.entry.id ? -1 : 1));
  const auctions: RankedAuction[] = [];
  for (const { entry, score } of scored) {
    if (auctions.some((auction) => auction.auctionId === entry.auctionId)) continue;
    const entries = [...store.records()]
      .map((record) => record.entry)
      .filter((member) => member.auctionId === entry.auctionId && pairable(member));
    auctions.push({ auctionId: entry.auctionId, score, entries });
  }
  return pairsFromAuctions(auctions, { k, agent });
}

describe("MatrixStore", () => {
  it("evicts exactly what selectEvictions chooses, after any sequence of writes and uses", () => {
    const write = fc.record({
      op: fc.constant("upsert" as const),
      id: fc.integer({ min: 0, max: 11 }),
      auction: fc.integer({ min: 0, max: AUCTIONS.length - 1 }),
      vector: fc.integer({ min: 0, max: VECTORS.length - 1 }),
      createdAt: fc.integer({ min: 0, max: 3 }),
      at: fc.integer({ min: 0, max: 6 }),
    });
    const use = fc.record({
      op: fc.constant("touch" as const),
      id: fc.integer({ min: 0, max: 11 }),
      at: fc.integer({ min: 0, max: 6 }),
    });
    const drop = fc.record({ op: fc.constant("remove" as const), id: fc.integer({ min: 0, max: 11 }) });
    const batch = fc.array(
      fc.record({
        id: fc.integer({ min: 0, max: 14 }),
        auction: fc.integer({ min: 0, max: AUCTIONS.length - 1 }),
        createdAt: fc.integer({ min: 0, max: 3 }),
      }),
      { minLength: 1, maxLength: 5 },
    );
    fc.assert(
      fc.property(
        fc.array(fc.oneof(write, use, drop), { maxLength: 40 }),
        batch,
        fc.integer({ min: 0, max: 6 }),
        fc.integer({ min: 0, max: 12 }),
        (operations, added, at, maxEntries) => {
          const store = new MatrixStore({ kernel: "js" });
          for (const operation of operations) {
            const id = `e${operation.id}`;
            if (operation.op === "upsert") {
              const auctionId = AUCTIONS[operation.auction] as string;
              store.upsert({
                entry: entryOf(id, auctionId, "losing", operation.createdAt),
                vector: VECTORS[operation.vector] as number[],
                lastUsedAt: operation.at,
              });
            } else if (operation.op === "touch") store.touch(id, operation.at);
            else store.remove(id);
          }
          const unique = [...new Map(added.map((item) => [`e${item.id}`, item])).entries()];
          const records = unique.map(([id, item]) => ({
            entry: entryOf(id, AUCTIONS[item.auction] as string, "losing", item.createdAt),
            lastUsedAt: at,
          }));
          const addedIds = new Set(records.map(({ entry }) => entry.id));
          const candidates = [
            ...candidatesOf(store).filter((candidate) => !addedIds.has(candidate.id)),
            ...records.map(({ entry, lastUsedAt }) => ({
              id: entry.id,
              auctionId: entry.auctionId,
              createdAt: entry.createdAt,
              lastUsedAt,
            })),
          ];
          const expected = selectEvictions(candidates, maxEntries);
          expect(store.evictionsFor(records, maxEntries).sort()).toEqual(expected.sort());
          // The order the store keeps is the rule's order over its current entries.
          const order = [...store.auctionsByRecency()].map((key) => key.auctionId);
          const all = selectEvictions(candidatesOf(store), 0);
          const byRule = [...new Set(all.map((id) => store.entry(id)?.auctionId))];
          expect(order).toEqual(byRule);
        },
      ),
    );
  });

  it("ranks contrastive pairs as a scan of every row does, scoring one row per identical vector", () => {
    const stored = fc.array(
      fc.record({
        id: fc.integer({ min: 0, max: 15 }),
        auction: fc.integer({ min: 0, max: AUCTIONS.length - 1 }),
        vector: fc.integer({ min: 0, max: VECTORS.length - 1 }),
        role: fc.constantFrom("winning" as const, "losing" as const, "single" as const),
      }),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(
        stored,
        fc.array(fc.integer({ min: 0, max: 15 }), { maxLength: 5 }),
        fc.integer({ min: 0, max: VECTORS.length - 1 }),
        fc.integer({ min: 1, max: 10 }),
        fc.option(fc.integer({ min: 0, max: 15 }), { nil: undefined }),
        (entries, removed, queryIndex, k, agentIndex) => {
          const store = new MatrixStore({ kernel: "js" });
          for (const item of entries) {
            const auctionId = AUCTIONS[item.auction] as string;
            store.upsert({
              entry: entryOf(`e${item.id}`, auctionId, item.role, 0),
              vector: VECTORS[item.vector] as number[],
              lastUsedAt: 0,
            });
          }
          for (const id of removed) store.remove(`e${id}`);
          const query = VECTORS[queryIndex] as number[];
          const agent = agentIndex === undefined ? undefined : `e${agentIndex}`;
          const options = { k, ...(agent === undefined ? {} : { agent }) };
          const expected = referencePairs(store, query, k, agent);
          const actual = store.contrastivePairs(query, options);
          expect(actual.map((pair) => [pair.auctionId, pair.losing.id, pair.winning.id])).toEqual(
            expected.map((pair) => [pair.auctionId, pair.losing.id, pair.winning.id]),
          );
          actual.forEach((pair, index) => {
            expect(pair.score).toBeCloseTo(expected[index]?.score ?? Number.NaN, 5);
          });
        },
      ),
    );
  });

  it("ranks pairs as a full scan does after any replacements and removals, with or without a kind", () => {
    const KINDS = ["k", "m"];
    const write = fc.record({
      op: fc.constant("upsert" as const),
      id: fc.integer({ min: 0, max: 9 }),
      auction: fc.integer({ min: 0, max: AUCTIONS.length - 1 }),
      vector: fc.integer({ min: 0, max: VECTORS.length - 1 }),
      role: fc.constantFrom("winning" as const, "losing" as const, "single" as const),
      kind: fc.integer({ min: 0, max: KINDS.length - 1 }),
    });
    const drop = fc.record({ op: fc.constant("remove" as const), id: fc.integer({ min: 0, max: 9 }) });
    const outcome = fc.record({ op: fc.constant("outcome" as const), id: fc.integer({ min: 0, max: 9 }) });
    fc.assert(
      fc.property(
        fc.array(fc.oneof(write, write, drop, outcome), { maxLength: 40 }),
        fc.integer({ min: 0, max: VECTORS.length - 1 }),
        fc.integer({ min: 1, max: 10 }),
        fc.option(fc.integer({ min: 0, max: KINDS.length }), { nil: undefined }),
        (operations, queryIndex, k, kindIndex) => {
          const store = new MatrixStore({ kernel: "wasm" });
          for (const operation of operations) {
            const id = `e${operation.id}`;
            if (operation.op === "upsert") {
              const entry = entryOf(id, AUCTIONS[operation.auction] as string, operation.role, 0);
              store.upsert({
                entry: { ...entry, kind: KINDS[operation.kind] as string },
                vector: VECTORS[operation.vector] as number[],
                lastUsedAt: 0,
              });
            } else if (operation.op === "remove") store.remove(id);
            else store.setOutcome(id, 1);
          }
          const query = VECTORS[queryIndex] as number[];
          // Index KINDS.length: a kind no entry has.
          const kind = kindIndex === undefined ? undefined : (KINDS[kindIndex] ?? "none");
          const expected = referencePairs(store, query, k, undefined, kind);
          const actual = store.contrastivePairs(query, { k, ...(kind === undefined ? {} : { kind }) });
          expect(actual.map((pair) => [pair.auctionId, pair.losing.id, pair.winning.id])).toEqual(
            expected.map((pair) => [pair.auctionId, pair.losing.id, pair.winning.id]),
          );
          actual.forEach((pair, index) => {
            expect(pair.score).toBeCloseTo(expected[index]?.score ?? Number.NaN, 5);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps identical vectors of one auction together, and apart once a vector changes", () => {
    const store = new MatrixStore({ kernel: "js" });
    for (const [id, role] of [
      ["a1", "losing"],
      ["a2", "winning"],
      ["a3", "losing"],
    ] as const) {
      store.upsert({ entry: entryOf(id, "A", role, 0), vector: [1, 0, 0], lastUsedAt: 0 });
    }
    store.upsert({ entry: entryOf("b1", "B", "losing", 0), vector: [0, 1, 0], lastUsedAt: 0 });
    store.upsert({ entry: entryOf("b2", "B", "winning", 0), vector: [0, 1, 0], lastUsedAt: 0 });
    let pairs = store.contrastivePairs([1, 0, 0], { k: 8 });
    expect(pairs.map((pair) => [pair.losing.id, pair.winning.id, pair.score])).toEqual([
      ["a1", "a2", 1],
      ["a3", "a2", 1],
      ["b1", "b2", 0],
    ]);
    // a3 moves to B's direction: A still scores 1 (its best entry), counted once.
    store.upsert({ entry: entryOf("a3", "A", "losing", 0), vector: [0, 1, 0], lastUsedAt: 0 });
    pairs = store.contrastivePairs([0, 1, 0], { k: 8 });
    expect(pairs.map((pair) => [pair.losing.id, pair.winning.id, pair.score])).toEqual([
      ["a1", "a2", 1],
      ["a3", "a2", 1],
      ["b1", "b2", 1],
    ]);
    expect(
      countPairs(
        [...store.records()].map((record) => record.entry),
        undefined,
      ),
    ).toBe(6);
  });
});

describe("MatrixStore: one matrix row per identical vector of an auction", () => {
  const AGENTS = ["x", "y", "z"];
  const unit = (vector: readonly number[]) => vector.map((value) => value / Math.hypot(...vector));
  for (const precision of ["float32", "int8"] as const) {
    it(`stores a row per (auction, vector) and searches as a scan of every entry does (${precision})`, () => {
      const write = fc.record({
        op: fc.constant("upsert" as const),
        id: fc.integer({ min: 0, max: 11 }),
        auction: fc.integer({ min: 0, max: 2 }),
        vector: fc.integer({ min: 0, max: VECTORS.length - 1 }),
        agent: fc.integer({ min: 0, max: AGENTS.length - 1 }),
        outcome: fc.boolean(),
      });
      const drop = fc.record({ op: fc.constant("remove" as const), id: fc.integer({ min: 0, max: 11 }) });
      fc.assert(
        fc.property(
          fc.array(fc.oneof(write, write, write, drop), { maxLength: 50 }),
          fc.integer({ min: 0, max: VECTORS.length - 1 }),
          fc.integer({ min: 1, max: 8 }),
          (operations, queryIndex, k) => {
            const store = new MatrixStore({ kernel: "wasm", precision });
            const model = new Map<string, { auctionId: string; vector: number; agent: string; outcome: boolean }>();
            for (const operation of operations) {
              const id = `e${operation.id}`;
              if (operation.op === "remove") {
                expect(store.remove(id)).toBe(model.delete(id));
                continue;
              }
              const auctionId = AUCTIONS[operation.auction] as string;
              const agent = AGENTS[operation.agent] as string;
              const entry = { ...entryOf(id, auctionId, "losing", 0), agent };
              store.upsert({
                entry: operation.outcome ? { ...entry, outcome: 1 } : entry,
                vector: VECTORS[operation.vector] as number[],
                lastUsedAt: 0,
              });
              model.set(id, { auctionId, vector: operation.vector, agent, outcome: operation.outcome });
            }
            const groups = new Set([...model.values()].map(({ auctionId, vector }) => `${auctionId}/${vector}`));
            expect(store.vectorRows).toBe(groups.size);
            expect(store.size).toBe(model.size);
            for (const [id, stored] of model) {
              const expected = unit(VECTORS[stored.vector] as number[]);
              const vector = store.get(id)?.vector ?? [];
              for (const [index, value] of expected.entries()) expect(vector[index]).toBeCloseTo(value, 1);
            }
            // The reference: every entry scored by its own vector, best first, ties by id.
            const query = VECTORS[queryIndex] as number[];
            const scoreOf = (vector: number) =>
              unit(VECTORS[vector] as number[]).reduce(
                (sum, value, index) => sum + value * (unit(query)[index] ?? 0),
                0,
              );
            const reference = (accept: (id: string) => boolean) =>
              [...model]
                .filter(([id]) => accept(id))
                .map(([id, stored]) => ({ id, score: Math.round(scoreOf(stored.vector) * 1e4) }))
                .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1))
                .slice(0, k)
                .map(({ id }) => id);
            const ids = (hits: { entry: StrategyEntry }[]) => hits.map((hit) => hit.entry.id);
            expect(ids(store.search(query, k, {}))).toEqual(reference(() => true));
            const byAgent = store.searchByAgent(query, AGENTS, k);
            AGENTS.forEach((agent, index) => {
              const withOutcome = (id: string) => model.get(id)?.agent === agent && model.get(id)?.outcome === true;
              expect(ids(byAgent[index] ?? [])).toEqual(reference(withOutcome));
              expect(ids(store.search(query, k, { agent, hasOutcome: true }))).toEqual(reference(withOutcome));
            });
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("keeps one row for the eleven members of a recorded auction, and frees it with the last of them", () => {
    const store = new MatrixStore({ kernel: "wasm", precision: "int8" });
    const members = Array.from({ length: 11 }, (_, index) => `m${index}`);
    for (const auctionId of ["A", "B"]) {
      for (const member of members) {
        const entry = { ...entryOf(`${auctionId}:${member}`, auctionId, "losing", 0), agent: member, outcome: 1 };
        store.upsert({ entry, vector: auctionId === "A" ? [1, 0, 0] : [0, 1, 0], lastUsedAt: 0 });
      }
    }
    expect(store.size).toBe(22);
    expect(store.vectorRows).toBe(2);
    for (const member of members) store.remove(`A:${member}`);
    expect(store.vectorRows).toBe(1);
    expect(store.search([0, 1, 0], 3, { agent: "m4" }).map((hit) => [hit.entry.id, hit.score])).toEqual([["B:m4", 1]]);
  });
});
