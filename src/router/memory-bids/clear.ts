/**
 * Clearing: the members' scores become bids in the market core's auction (first price, one slot,
 * seeded ties) — the same auction the eval-only memory router cleared — with optional ε exploration.
 *
 *   s_m = v_m − λ ĉ_m        bid_m = max(0, s_m + λ)
 *
 * (The market core refuses negative bids; adding λ keeps every bid ≥ 0 for values in [0, 1] and
 * keeps the order.)
 */
import { type Auctioneer, createAuctioneer } from "../../market/auctioneer.js";
import type { AuctionOutcome, Bid } from "../../market/types.js";
import type { MemberEvidence } from "./estimate.js";

/** Options of {@link clearMemoryBids}. */
export interface ClearMemoryBidsOptions {
  /** λ ≥ 0: the weight of the normalised expected cost. 0 picks the highest value. */
  lambda: number;
  /** Seed of the auction's tie rule. */
  seed: number;
  /**
   * ε exploration. The caller owns the PRNG and passes a uniform `draw` in [0, 1): the request
   * explores when `draw < rate`. The explored member is `members[floor(pick × n)]` over the members
   * sorted by name, where `pick` defaults to `draw / rate` (itself uniform in [0, 1) given that the
   * request explores, so one draw suffices); pass your own second uniform draw as `pick` if you prefer.
   */
  explore?: { rate: number; draw: number; pick?: number };
}

/** The result of {@link clearMemoryBids}. */
export interface MemoryBidsClearing {
  /** The member that answers: the auction's winner, or the explored member when `explored`. */
  winner: string;
  /** The cleared auction: one bid per member, `meta` = value, evidence, spread, normalisedCost, expectedCostUsd. */
  outcome: AuctionOutcome;
  /** True when ε exploration overrode the auction (then `winner` may differ from `outcome.winners[0]`). */
  explored: boolean;
  /** The evidence with `score` recomputed with this λ, in the input order. */
  evidence: MemberEvidence[];
}

/**
 * Turn the members' estimates into bids and clear them with the market core (first price, one
 * slot, seeded ties); with probability ε (given the caller's draw) the winner is a uniformly drawn
 * member instead.
 *
 * @throws RangeError when `evidence` is empty, λ is negative, or a draw is outside [0, 1).
 * @example
 * ```ts
 * const { winner, outcome, explored } = clearMemoryBids(estimateMembers(input), { lambda: 0.15, seed: 7 });
 * outcome.results[0]?.meta; // { value, evidence, spread, normalisedCost, expectedCostUsd }
 * ```
 */
export function clearMemoryBids(
  evidence: readonly MemberEvidence[],
  options: ClearMemoryBidsOptions,
): MemoryBidsClearing {
  const { lambda, seed, explore } = options;
  if (evidence.length === 0) throw new RangeError("clearMemoryBids needs at least one member's evidence");
  if (!(lambda >= 0) || !Number.isFinite(lambda))
    throw new RangeError(`lambda must be a finite number ≥ 0, got ${lambda}`);
  const scored = evidence.map((member) => ({ ...member, score: member.value - lambda * member.normalisedCost }));
  const bids: Bid[] = scored.map((member) => ({
    bidder: member.member,
    amount: Math.max(0, member.score + lambda),
    meta: {
      value: member.value,
      evidence: member.evidence,
      spread: member.spread,
      normalisedCost: member.normalisedCost,
      expectedCostUsd: member.expectedCostUsd,
    },
  }));
  const outcome = auctioneerFor(seed).clear(bids);
  const auctionWinner = outcome.winners[0];
  if (auctionWinner === undefined) throw new RangeError("the memory-bid auction cleared without a winner");
  const explored = exploredMember(
    scored.map((member) => member.member),
    explore,
  );
  return { winner: explored ?? auctionWinner, outcome, explored: explored !== undefined, evidence: scored };
}

/**
 * The first-price, one-slot auctioneer of `seed`. An auctioneer is pure (same bids, same outcome),
 * so the last one built is kept: a router clears every request with its one seed, and building
 * one validates its options each time.
 */
function auctioneerFor(seed: number): Auctioneer {
  if (lastAuctioneer === undefined || !Object.is(lastAuctioneer.seed, seed)) {
    lastAuctioneer = { seed, auctioneer: createAuctioneer({ mechanism: "first_price", topK: 1, seed }) };
  }
  return lastAuctioneer.auctioneer;
}

let lastAuctioneer: { seed: number; auctioneer: Auctioneer } | undefined;

function exploredMember(members: readonly string[], explore: ClearMemoryBidsOptions["explore"]): string | undefined {
  if (explore === undefined) return undefined;
  const { rate, draw } = explore;
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`explore.rate must be in [0, 1], got ${rate}`);
  if (!isUnitDraw(draw)) throw new RangeError(`explore.draw must be a uniform draw in [0, 1), got ${draw}`);
  if (!(draw < rate)) return undefined;
  const pick = explore.pick ?? draw / rate;
  if (!isUnitDraw(pick)) throw new RangeError(`explore.pick must be a uniform draw in [0, 1), got ${pick}`);
  const sorted = [...members].sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(pick * sorted.length))];
}

function isUnitDraw(value: number): boolean {
  return value >= 0 && value < 1;
}
