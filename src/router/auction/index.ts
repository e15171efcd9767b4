/**
 * The strategy auction of the router and its middleware. The engine (`engine.ts`) reads top to
 * bottom; each stage is a file beside it:
 *
 * | file | what |
 * |---|---|
 * | `engine.ts` | the engine: one auction from request to record; dispatches on the mode |
 * | `memory-engine.ts` | memory bids: embed, search per member, estimate, clear, confidence |
 * | `escalation.ts` | auto's escalation climb (cheapest first; agree → stop; else the top) |
 * | `calls.ts` | the internal calls and what they are charged |
 * | `rounds.ts` | a bid round (plans, entropy, jury, scores) and the clearing |
 * | `refinement.ts` | memory-guided re-bids by cheaper members |
 * | `persistence.ts` | the ledger and memory writes after the answer |
 * | `records.ts` | the record types and what the stages share |
 * | `transcript.ts` | the conversation as bidders and jurors see it |
 */
export { totalsOf } from "./calls.js";
export { createStrategyAuctionEngine, type StrategyAuctionEngine } from "./engine.js";
export { type ClimbResult, climbLadder, type RungResult, toolCallSignature } from "./escalation.js";
export { recordAbandonedCharge } from "./persistence.js";
export {
  type AuctionCall,
  type AuctionRequest,
  type AuctionRun,
  type BoughtAnswer,
  type CallPurpose,
  type JuryRecord,
  type RefinementRecord,
  type RouterAuctionRecord,
  type RouterBid,
  type RouterPath,
  withCalls,
  withFallbackAnswer,
} from "./records.js";
