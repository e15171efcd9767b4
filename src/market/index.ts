/**
 * Gavel's market core: sealed-bid auctions that clear the same way whatever the order or the
 * time in which bids arrive. Pure: no I/O, no LangChain.
 *
 * @example
 * import { clearAuction } from "langchain-gavel";
 *
 * const outcome = clearAuction(
 *   [
 *     { bidder: "gpt-4o-mini", amount: 0.42 },
 *     { bidder: "gpt-4o", amount: 0.61 },
 *   ],
 *   { mechanism: "second_price", reservePrice: 0.1 },
 * );
 * outcome.winners; // ["gpt-4o"]
 * outcome.clearingPrice; // 0.42
 * outcome.results[1]?.reason; // "outranked"
 */
export { type Auctioneer, clearAuction, createAuctioneer } from "./auctioneer.js";
export {
  densityBid,
  InvalidBidsError,
  type InvalidBidsProblem,
  valueDensity,
} from "./bids.js";
export {
  type AuctionOptions,
  type AuctionRules,
  auctionOptionsSchema,
  DEFAULT_RESERVE_PRICE,
  DEFAULT_SEED,
  DEFAULT_TEMPERATURE,
  DEFAULT_TOP_K,
  MECHANISM_NAMES,
  parseAuctionOptions,
} from "./options.js";
export { createSeededRandom, type SeededRandom } from "./random.js";
export type { AuctionOutcome, Bid, BidReason, BidResult, MechanismName } from "./types.js";
