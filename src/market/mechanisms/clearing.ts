/**
 * The contract between the auctioneer and a mechanism. A mechanism receives the valid bids in
 * canonical order and the resolved rules, and decides the fate of each; the auctioneer adds the
 * invalid bids and assembles the public `AuctionOutcome`.
 */
import type { PreparedBid } from "../bids.js";
import { formatNumber } from "../format.js";
import type { AuctionRules } from "../options.js";
import type { BidReason } from "../types.js";

/** The fate of one valid bid. */
export interface Decision {
  won: boolean;
  price: number;
  reason: BidReason;
  detail: string;
  /** Softmax only: probability of being drawn first. */
  probability?: number;
}

/** What a mechanism returns. */
export interface Clearing {
  /** Indices into the canonical valid bids, winners best first. */
  winners: number[];
  /** One decision per valid bid, parallel to the canonical valid bids. */
  decisions: Decision[];
  /** The highest price a winner pays (0 when nobody won). */
  clearingPrice: number;
  /** `budgeted_vcg` only: tokens the winners use together. */
  tokensUsed?: number;
}

/** A clearing rule. Pure and deterministic: the same bids (in canonical order) and rules give the same clearing. */
export type Mechanism = (bids: readonly PreparedBid[], rules: AuctionRules) => Clearing;

/** Number of leading canonical bids at or above the reserve (they are a prefix: amounts descend). */
export function countEligible(bids: readonly PreparedBid[], reservePrice: number): number {
  let count = 0;
  while (count < bids.length && (bids[count] as PreparedBid).amount >= reservePrice) count++;
  return count;
}

/** The decision for a bid under the reserve price. */
export function belowReserve(bid: PreparedBid, reservePrice: number): Decision {
  return {
    won: false,
    price: 0,
    reason: "below_reserve",
    detail: `Bid ${formatNumber(bid.amount)} is below the reserve price ${formatNumber(reservePrice)}.`,
  };
}
