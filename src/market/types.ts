/**
 * Plain data types of the market core. Pure: no I/O, no LangChain.
 * The ledger stores these shapes as they are.
 */

/** The clearing rules Gavel offers. */
export type MechanismName = "first_price" | "second_price" | "softmax" | "budgeted_vcg";

/** One sealed bid. Bidders are identified by `bidder`, which must be unique within an auction. */
export interface Bid {
  /** Unique id of the bidder (agent or model name). */
  bidder: string;
  /** The bid: declared value of winning (for `budgeted_vcg`, the value of the whole message). */
  amount: number;
  /** Size of what the bidder would produce, in tokens (required by `budgeted_vcg`). */
  tokens?: number;
  /** Free-form data carried to the record (plan text, estimator used, ...). Never read by clearing. */
  meta?: Record<string, unknown>;
}

/** Why a bid won or lost. */
export type BidReason = "won" | "below_reserve" | "outranked" | "over_cap" | "not_sampled" | "invalid";

/** The fate of one bid in a cleared auction. */
export interface BidResult {
  bidder: string;
  amount: number;
  tokens?: number;
  /** True when the bid is among the winners. */
  won: boolean;
  /** 1-based rank in the clearing order (winners first). */
  rank: number;
  /** What this bidder pays (0 for losers). */
  price: number;
  reason: BidReason;
  /** One human-readable sentence: why. */
  detail: string;
  meta?: Record<string, unknown>;
  /** `softmax` only: the probability that this bid was drawn first. */
  probability?: number;
}

/** The result of clearing one auction. */
export interface AuctionOutcome {
  mechanism: MechanismName;
  /** Winners' bidder ids, best first. */
  winners: string[];
  /** Every bid's result, in rank order. */
  results: BidResult[];
  /** The price that cleared the auction (the highest price a winner pays; 0 when nobody won). */
  clearingPrice: number;
  /** Seed used for tie-breaking and sampling. */
  seed: number;
  reservePrice: number;
  /** Most winners allowed (absent when unlimited, as `budgeted_vcg` is by default). */
  topK?: number;
  /** `softmax` only: the temperature used. */
  temperature?: number;
  /** `budgeted_vcg` only: the per-round token cap. */
  tokenCap?: number;
  /** `budgeted_vcg` only: tokens the winners use together. */
  tokensUsed?: number;
}
