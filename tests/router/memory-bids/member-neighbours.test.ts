import { describe, expect, it } from "vitest";
import { mulberry32Float } from "../../../src/market/random.js";
import { createInMemoryStrategyMemory } from "../../../src/memory/matrix-memory.js";
import type { StrategyMemory } from "../../../src/memory/types.js";
import { memberNeighbours } from "../../../src/router/auction/memory-engine.js";
import {
  estimateCascades,
  estimateMembers,
  MemoryEmbedderMismatchError,
  outcomeEntry,
} from "../../../src/router/memory-bids/index.js";
import { DEFAULT_MEMORY_BIDS } from "../../../src/router/options.js";
import { ScriptedHashingEmbeddings } from "../../../src/testing.js";

const DIMENSIONS = 32;
const MEMBERS = ["small", "medium", "large", "huge"];
const EMBEDDER = "hashing-32";

function vectorOf(random: () => number): number[] {
  return Array.from({ length: DIMENSIONS }, () => random() * 2 - 1);
}

async function outcomeMemory(): Promise<StrategyMemory> {
  const memory = createInMemoryStrategyMemory({
    embeddings: new ScriptedHashingEmbeddings({ dimensions: DIMENSIONS }),
    precision: "int8",
  });
  const random = mulberry32Float(3);
  const entries = [];
  for (let auction = 0; auction < 300; auction += 1) {
    const vector = vectorOf(random);
    const first = Math.floor(random() * MEMBERS.length);
    for (let rung = 0; rung < 1 + Math.floor(random() * 3); rung += 1) {
      entries.push(
        outcomeEntry({
          auctionId: `auction-${auction}`,
          member: MEMBERS[(first + rung) % MEMBERS.length] as string,
          text: `request ${auction}`,
          vector,
          role: "single",
          called: random() < 0.9,
          costUsd: random() / 1000,
          embedderId: EMBEDDER,
          kind: "",
          createdAt: auction,
          outcome: random() < 0.6 ? 1 : 0,
          answer: random() < 0.5 ? "A" : "B",
        }),
      );
    }
  }
  await memory.add(entries);
  return memory;
}

describe("memberNeighbours (the memory stage's read)", () => {
  it("gives the same hits, hence the same estimates, from a matrix memory's batch as from one search per member", async () => {
    const memory = await outcomeMemory();
    // A spread copy has no batch search: memberNeighbours falls back to `memory.search` per member.
    const wrapped: StrategyMemory = { ...memory };
    const random = mulberry32Float(9);
    const members = MEMBERS.map((name, index) => ({
      name,
      price: { inputPerMillion: 2 ** index, outputPerMillion: 4 * 2 ** index },
    }));
    for (let request = 0; request < 10; request += 1) {
      const vector = vectorOf(random);
      const batch = await memberNeighbours(memory, vector, MEMBERS, 24, EMBEDDER);
      const searched = await memberNeighbours(wrapped, vector, MEMBERS, 24, EMBEDDER);
      expect([...batch.entries()]).toEqual([...searched.entries()]);
      const estimate = (hits: typeof batch) => {
        const evidence = estimateMembers({
          hits,
          members,
          promptTokens: 100,
          settings: DEFAULT_MEMORY_BIDS,
          embedderId: EMBEDDER,
        });
        return [...evidence, ...estimateCascades({ hits, evidence, priorStrength: DEFAULT_MEMORY_BIDS.priorStrength })];
      };
      expect(estimate(batch)).toEqual(estimate(searched));
    }
    await memory.close();
  });

  it("reads only entries with an outcome: answers waiting for feedback never take the evidence's place", async () => {
    const memory = await outcomeMemory();
    const random = mulberry32Float(21);
    const vector = vectorOf(random);
    const members = MEMBERS.map((name, index) => ({
      name,
      price: { inputPerMillion: 2 ** index, outputPerMillion: 4 * 2 ** index },
    }));
    const estimate = async (target: StrategyMemory) =>
      estimateMembers({
        hits: await memberNeighbours(target, vector, MEMBERS, 24, EMBEDDER),
        members,
        promptTokens: 100,
        settings: DEFAULT_MEMORY_BIDS,
        embedderId: EMBEDDER,
      });
    const before = await estimate(memory);
    // The same request, answered 200 times by "large" with no feedback yet: its nearest entries by far.
    await memory.add(
      Array.from({ length: 200 }, (_, index) =>
        outcomeEntry({
          auctionId: `waiting-${index}`,
          member: "large",
          text: "the same request again",
          vector,
          role: "single",
          called: true,
          costUsd: 0.001,
          embedderId: EMBEDDER,
          kind: "",
          createdAt: 1_000 + index,
        }),
      ),
    );
    for (const target of [memory, { ...memory }]) {
      const hits = await memberNeighbours(target, vector, MEMBERS, 24, EMBEDDER);
      expect(hits.get("large")).toHaveLength(24);
      expect(hits.get("large")?.every((hit) => hit.entry.outcome !== undefined)).toBe(true);
      expect(await estimate(target)).toEqual(before);
    }
    await memory.close();
  });

  it("refuses a request vector of another dimension with MemoryEmbedderMismatchError, batch or not", async () => {
    const memory = await outcomeMemory();
    for (const target of [memory, { ...memory }]) {
      await expect(memberNeighbours(target, [1, 0, 0], MEMBERS, 8, EMBEDDER)).rejects.toBeInstanceOf(
        MemoryEmbedderMismatchError,
      );
    }
    await memory.close();
  });
});
