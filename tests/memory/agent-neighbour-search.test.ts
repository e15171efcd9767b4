import { describe, expect, it } from "vitest";
import { mulberry32Float } from "../../src/market/random.js";
import { agentNeighbourSearchOf, createInMemoryStrategyMemory } from "../../src/memory/matrix-memory.js";
import type { NewStrategyEntry, StrategyMemory } from "../../src/memory/types.js";
import { ScriptedHashingEmbeddings } from "../../src/testing.js";

const DIMENSIONS = 16;
const AGENTS = ["a", "b", "c", "d"];

function vectorOf(random: () => number): number[] {
  return Array.from({ length: DIMENSIONS }, () => random() * 2 - 1);
}

/**
 * `auctions` auctions of 1–3 agents sharing one request vector (so rows tie), agent "a" in most of
 * them and "d" in few; every tenth auction repeats an earlier vector (ties across auctions too).
 */
function entries(auctions: number, seed: number): NewStrategyEntry[] {
  const random = mulberry32Float(seed);
  const vectors: number[][] = [];
  const out: NewStrategyEntry[] = [];
  for (let auction = 0; auction < auctions; auction += 1) {
    const vector = auction % 10 === 9 ? (vectors[auction - 7] as number[]) : vectorOf(random);
    vectors.push(vector);
    const agents = random() < 0.1 ? ["a", "d"] : random() < 0.5 ? ["a", "b", "c"] : ["b"];
    for (const agent of agents) {
      out.push({
        id: `auction-${auction}:${agent}`,
        auctionId: `auction-${auction}`,
        task: `request ${auction}`,
        kind: "",
        agent,
        plan: "",
        role: "single",
        cost: random(),
        createdAt: auction,
        // One entry in five waits for its outcome: the batch search reads only those with one.
        ...(random() < 0.8 && { outcome: random() < 0.5 ? 1 : 0 }),
        metadata: { gavel: "outcome", embedder: "hashing-16", called: true },
        vector,
      });
    }
  }
  return out;
}

async function filled(precision: "float32" | "int8", now?: () => number, maxEntries?: number): Promise<StrategyMemory> {
  const memory = createInMemoryStrategyMemory({
    embeddings: new ScriptedHashingEmbeddings({ dimensions: DIMENSIONS }),
    precision,
    ...(now === undefined ? {} : { now }),
    ...(maxEntries === undefined ? {} : { maxEntries }),
  });
  await memory.add(entries(400, 7));
  return memory;
}

describe("agentNeighbourSearchOf (the batch search memory bids read)", () => {
  for (const precision of ["float32", "int8"] as const) {
    it(`returns, per agent, what memory.search returns for entries with an outcome (${precision}; one scan for all agents, or listed rows for one)`, async () => {
      const memory = await filled(precision);
      const batch = agentNeighbourSearchOf(memory);
      expect(batch).toBeDefined();
      const random = mulberry32Float(11);
      // All agents (their rows cover the matrix: one contiguous scan), a small one alone (its own
      // rows), an unknown agent (no rows), and k below and above an agent's row count.
      for (const agents of [AGENTS, ["d"], ["d", "nobody"], ["b", "a"]]) {
        for (const k of [1, 5, 96, 1000]) {
          const vector = vectorOf(random);
          const sequential = await Promise.all(
            agents.map((agent) => memory.search({ vector, k, filter: { agent, hasOutcome: true } })),
          );
          const found = batch?.(vector, agents, k);
          expect(found).toEqual(sequential);
          expect(found?.flat().every((hit) => hit.entry.outcome !== undefined)).toBe(true);
        }
      }
      await memory.close();
    });
  }

  it("marks the hits used as one search per agent does: the same entries survive eviction", async () => {
    let tickA = 0;
    let tickB = 0;
    const viaBatch = await filled("int8", () => (tickA += 1), 900);
    const viaSearch = await filled("int8", () => (tickB += 1), 900);
    const random = mulberry32Float(5);
    for (let request = 0; request < 20; request += 1) {
      const vector = vectorOf(random);
      agentNeighbourSearchOf(viaBatch)?.(vector, AGENTS, 8);
      for (const agent of AGENTS) await viaSearch.search({ vector, k: 8, filter: { agent, hasOutcome: true } });
    }
    // New auctions push the memory over its bound: the least recently used auctions go.
    const more = entries(420, 8).map((entry) => ({
      ...entry,
      id: `new-${entry.id}`,
      auctionId: `new-${entry.auctionId}`,
    }));
    await viaBatch.add(more);
    await viaSearch.add(more);
    // Whole auctions go: at most 900 entries, and fewer than were added in all.
    expect(await viaBatch.size()).toBeLessThanOrEqual(900);
    expect(await viaBatch.size()).toBeGreaterThan(800);
    expect(await viaSearch.size()).toBe(await viaBatch.size());
    const probe = vectorOf(random);
    const survivors = async (memory: StrategyMemory) =>
      (await memory.search({ vector: probe, k: 900 })).map((hit) => hit.entry.id).sort();
    expect(await survivors(viaBatch)).toEqual(await survivors(viaSearch));
    expect(tickA).toBe(tickB);
  });

  it("fails as search does: a vector of another dimension, a bad k, a closed memory", async () => {
    const memory = await filled("float32");
    const batch = agentNeighbourSearchOf(memory);
    expect(() => batch?.([1, 2, 3], AGENTS, 8)).toThrow(expect.objectContaining({ reason: "dimension_mismatch" }));
    expect(() => batch?.(vectorOf(Math.random), AGENTS, 0)).toThrow(
      expect.objectContaining({ reason: "invalid_query" }),
    );
    await memory.close();
    expect(() => batch?.(vectorOf(Math.random), AGENTS, 8)).toThrow(expect.objectContaining({ reason: "closed" }));
  });

  it("belongs to the memory object only: a wrapper (even a spread copy) has none", async () => {
    const memory = await filled("float32");
    expect(agentNeighbourSearchOf({ ...memory })).toBeUndefined();
    const empty = createInMemoryStrategyMemory({
      embeddings: new ScriptedHashingEmbeddings({ dimensions: DIMENSIONS }),
    });
    expect(agentNeighbourSearchOf(empty)?.(vectorOf(Math.random), AGENTS, 8)).toEqual([[], [], [], []]);
    await memory.close();
    await empty.close();
  });
});
