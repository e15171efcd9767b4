import { describe, expect, it } from "vitest";
import { mulberry32Float } from "../../../src/market/random.js";
import { createInMemoryStrategyMemory } from "../../../src/memory/matrix-memory.js";
import { hitFieldsOf } from "../../../src/memory/matrix-store.js";
import type { StrategyMemory, StrategySearchHit } from "../../../src/memory/types.js";
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
const members = MEMBERS.map((name, index) => ({
  name,
  price: { inputPerMillion: 2 ** index, outputPerMillion: 4 * 2 ** index },
}));

function vectorOf(random: () => number): number[] {
  return Array.from({ length: DIMENSIONS }, () => random() * 2 - 1);
}

async function outcomeMemory(otherEmbedderAt?: number): Promise<StrategyMemory> {
  const memory = createInMemoryStrategyMemory({
    embeddings: new ScriptedHashingEmbeddings({ dimensions: DIMENSIONS }),
  });
  const random = mulberry32Float(5);
  const entries = [];
  for (let auction = 0; auction < 200; auction += 1) {
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
          embedderId: auction === otherEmbedderAt ? "another-embedder" : EMBEDDER,
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

/** The members' and cascades' estimates of `hits`. */
function estimate(hits: ReadonlyMap<string, readonly StrategySearchHit[]>) {
  const evidence = estimateMembers({
    hits,
    members,
    promptTokens: 100,
    settings: DEFAULT_MEMORY_BIDS,
    embedderId: EMBEDDER,
  });
  return [...evidence, ...estimateCascades({ hits, evidence, priorStrength: DEFAULT_MEMORY_BIDS.priorStrength })];
}

/** The same hits in fresh arrays (no per-row fields: the estimates read the entries). */
function plain(hits: ReadonlyMap<string, readonly StrategySearchHit[]>): Map<string, StrategySearchHit[]> {
  return new Map([...hits].map(([name, list]) => [name, [...list]]));
}

describe("the estimates over a matrix memory's batch hits (per-row fields instead of the entries)", () => {
  it("equal the estimates read from the entries, also when a list is filed under another member", async () => {
    const memory = await outcomeMemory();
    const random = mulberry32Float(21);
    for (let request = 0; request < 8; request += 1) {
      const hits = await memberNeighbours(memory, vectorOf(random), MEMBERS, 32, EMBEDDER);
      expect(hitFieldsOf(hits.get("small") ?? [])).toBeDefined();
      expect(estimate(hits)).toEqual(estimate(plain(hits)));
      // Lists under the wrong names: none of their hits is the member's evidence, both ways.
      const swapped = new Map(MEMBERS.map((name, index) => [name, hits.get(MEMBERS[(index + 1) % 4] as string) ?? []]));
      expect(estimate(swapped)).toEqual(estimate(plain(swapped)));
    }
    await memory.close();
  });

  it("read the entries of hits replaced or reordered after the search", async () => {
    const memory = await outcomeMemory();
    const hits = await memberNeighbours(memory, vectorOf(mulberry32Float(8)), MEMBERS, 32, EMBEDDER);
    const fresh = estimate(plain(hits));
    for (const name of MEMBERS) {
      const list = hits.get(name) as StrategySearchHit[];
      const first = list[0] as StrategySearchHit;
      // Another outcome, cost and answer than the fields copied at search time.
      list[0] = {
        score: first.score,
        entry: {
          ...first.entry,
          outcome: 1 - (first.entry.outcome ?? 0),
          cost: first.entry.cost + 1,
          metadata: { ...first.entry.metadata, called: true, answer: "Z" },
        },
      };
    }
    const changed = estimate(hits);
    expect(changed).toEqual(estimate(plain(hits)));
    expect(changed).not.toEqual(fresh);
    for (const name of MEMBERS) (hits.get(name) as StrategySearchHit[]).reverse();
    expect(estimate(hits)).toEqual(estimate(plain(hits)));
    await memory.close();
  });

  it("refuse another embedder's entry with MemoryEmbedderMismatchError, as from the entries", async () => {
    const memory = await outcomeMemory(17);
    const random = mulberry32Float(2);
    let refused = 0;
    for (let request = 0; request < 40 && refused === 0; request += 1) {
      const hits = await memberNeighbours(memory, vectorOf(random), MEMBERS, 200, EMBEDDER);
      const batchError = (() => {
        try {
          estimate(hits);
          return undefined;
        } catch (error) {
          return error;
        }
      })();
      if (batchError === undefined) continue;
      expect(batchError).toBeInstanceOf(MemoryEmbedderMismatchError);
      expect(() => estimate(plain(hits))).toThrow((batchError as Error).message);
      refused += 1;
    }
    expect(refused).toBe(1);
    await memory.close();
  });
});
