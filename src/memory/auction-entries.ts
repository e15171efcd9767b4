/**
 * Turning one finished auction into memory entries. Pure.
 */
import type { StrategyEntry } from "./types.js";

/** One bid of a finished auction, as the memory needs it. */
export interface AuctionBidForMemory {
  /** Agent or model that bid. Unique within the auction. */
  agent: string;
  /** The plan it bid (may be empty). */
  plan: string;
  /** What the plan cost. */
  cost: number;
  /** Outcome of executing this plan, when known (usually only the winner's). */
  outcome?: number;
  metadata?: Record<string, unknown>;
}

/** A finished auction. */
export interface AuctionForMemory {
  auctionId: string;
  task: string;
  kind: string;
  /** Agent whose bid won; `undefined` when nobody won (every bid is then stored as losing). */
  winner: string | undefined;
  bids: readonly AuctionBidForMemory[];
  /** Epoch milliseconds. */
  createdAt: number;
}

/**
 * The entries of one auction: the winner's plan as `"winning"`, the others as `"losing"`, or a
 * lone bid as `"single"`. Entry ids are `"<auctionId>:<agent>"`.
 *
 * @example
 * ```ts
 * await memory.add(
 *   entriesFromAuction({
 *     auctionId: "a-17",
 *     task: "Sum the even numbers below 100",
 *     kind: "gsm8k",
 *     winner: "small",
 *     createdAt: Date.now(),
 *     bids: [
 *       { agent: "small", plan: "Use the arithmetic series formula.", cost: 0.0001 },
 *       { agent: "large", plan: "Loop over 0..98 and add.", cost: 0.002 },
 *     ],
 *   }),
 * );
 * ```
 */
export function entriesFromAuction(auction: AuctionForMemory): StrategyEntry[] {
  const { auctionId, task, kind, winner, bids, createdAt } = auction;
  return bids.map((bid) => {
    const role = bids.length === 1 ? "single" : bid.agent === winner ? "winning" : "losing";
    const entry: StrategyEntry = {
      id: `${auctionId}:${bid.agent}`,
      auctionId,
      task,
      kind,
      agent: bid.agent,
      plan: bid.plan,
      role,
      cost: bid.cost,
      createdAt,
    };
    if (bid.outcome !== undefined) entry.outcome = bid.outcome;
    if (bid.metadata !== undefined) entry.metadata = bid.metadata;
    return entry;
  });
}
