/**
 * The synthetic strategy-memory data of the memory benchmarks (`memory.bench.ts`,
 * `memory-postgres.bench.ts`): seeded random 512-d unit vectors in auctions of 4 bids, an embedder
 * that must not be called, and a stopwatch.
 */
import { mulberry32Float } from "../src/market/random.js";
import type { NewStrategyEntry } from "../src/memory/types.js";

export const DIMENSIONS = 512;
export const AGENTS = 10;
export const BIDS_PER_AUCTION = 4;

export function unitVector(random: () => number): Float32Array {
  const vector = new Float32Array(DIMENSIONS);
  let squares = 0;
  for (let index = 0; index < DIMENSIONS; index += 1) {
    const value = random() * 2 - 1;
    vector[index] = value;
    squares += value * value;
  }
  const scale = 1 / Math.sqrt(squares);
  for (let index = 0; index < DIMENSIONS; index += 1) vector[index] = (vector[index] ?? 0) * scale;
  return vector;
}

/** `count` entries in auctions of 4 bids (1 winning, 3 losing), 10 agents, 5 kinds. */
export function syntheticEntries(count: number, seed: number, prefix = ""): NewStrategyEntry[] {
  const random = mulberry32Float(seed);
  return Array.from({ length: count }, (_, index) => {
    const auction = Math.floor(index / BIDS_PER_AUCTION);
    return {
      id: `${prefix}e${index}`,
      auctionId: `${prefix}a${auction}`,
      task: `task ${auction}`,
      kind: `kind-${auction % 5}`,
      agent: `agent-${index % AGENTS}`,
      plan: `plan ${index}`,
      role: index % BIDS_PER_AUCTION === 0 ? "winning" : "losing",
      cost: 1,
      createdAt: index,
      vector: unitVector(random),
    };
  });
}

/** An embedder that must not be called: every vector in this benchmark is given. */
export const noEmbedder = {
  async embedDocuments(): Promise<number[][]> {
    throw new Error("the benchmark gives every vector");
  },
  async embedQuery(): Promise<number[]> {
    throw new Error("the benchmark gives every vector");
  },
};

export async function milliseconds(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}
