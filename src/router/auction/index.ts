/**
 * The strategy auction of the router and its middleware. The engine (`engine.ts`) reads top to
 * bottom; each stage is a file beside it:
 *
 * | file | what |
 * |---|---|
 * | `engine.ts` | the engine: one auction from request to record |
 * | `calls.ts` | the internal calls and what they are charged |
 * | `rounds.ts` | a bid round (plans, entropy, jury, scores) and the clearing |
 * | `refinement.ts` | memory-guided re-bids by cheaper members |
 * | `persistence.ts` | the ledger and memory writes after the answer |
 * | `records.ts` | the record types and what the stages share |
 * | `transcript.ts` | the conversation as bidders and jurors see it |
 */
export { totalsOf } from "./calls.js";
export { createStrategyAuctionEngine, type StrategyAuctionEngine } from "./engine.js";
export { recordAbandonedCharge } from "./persistence.js";
export {
  type AuctionCall,
  type AuctionRequest,
  type AuctionRun,
  type CallPurpose,
  type JuryRecord,
  type RefinementRecord,
  type RouterAuctionRecord,
  type RouterBid,
  withFallbackAnswer,
} from "./records.js";
