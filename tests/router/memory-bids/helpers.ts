/** Builders shared by the memory-bids tests. */
import type { StrategyEntry, StrategySearchHit } from "../../../src/memory/types.js";

export const EMBEDDER = "hashing-64";

export const PRICE = { inputPerMillion: 1, outputPerMillion: 1 };

/** An outcome entry of `agent` (called, outcome known unless overridden). */
export function entry(agent: string, fields: Partial<StrategyEntry> & { id: string }): StrategyEntry {
  return {
    auctionId: `auction-${fields.id}`,
    task: "a task",
    kind: "",
    agent,
    plan: "",
    role: "single",
    cost: 0,
    createdAt: 0,
    metadata: { gavel: "outcome", embedder: EMBEDDER, called: true },
    ...fields,
  };
}

export function hit(score: number, stored: StrategyEntry): StrategySearchHit {
  return { entry: stored, score };
}
