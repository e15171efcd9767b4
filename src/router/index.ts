/**
 * The strategy-auction router (SALE): a pool of chat models as one LangChain chat model
 * (`AuctionRouter`); the same auction as `createAgent` middleware is `auctionRouterMiddleware`
 * (src/middleware/auctionRouter.ts). See docs/router.md.
 *
 * @example
 * ```ts
 * import { ChatOpenAI } from "@langchain/openai";
 * import { AuctionRouter } from "langchain-gavel";
 *
 * const router = new AuctionRouter({
 *   pool: [
 *     { name: "mini", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *     { name: "large", model: new ChatOpenAI({ model: "gpt-4o" }) },
 *   ],
 * });
 * const answer = await router.invoke("Plan a 3-day trip to Lisbon.");
 * answer.response_metadata.gavel.auction.winner; // "mini" or "large"
 * ```
 */

export {
  DEFAULT_VOCABULARY_SIZE,
  type EntropyMethod,
  type EntropySource,
  lexicalEntropy,
  type PlanEntropy,
  planEntropy,
  type TokenLogprobLike,
} from "../entropy.js";
export type {
  AuctionCall,
  AuctionRun,
  BoughtAnswer,
  CallPurpose,
  JuryRecord,
  RefinementRecord,
  RouterAuctionRecord,
  RouterBid,
  RouterPath,
} from "./auction/index.js";
export { AuctionRouterError, RouterCallTimeoutError } from "./errors.js";
// Memory bids (issue 10): the pure core of answering from experience (src/router/memory-bids/).
export {
  answersMatch,
  type CascadeEvidence,
  type CascadePrior,
  type ConfidenceRule,
  type ConfidenceSample,
  cascadeName,
  clearMemoryBids,
  DEFAULT_CASCADE_COST_SHARE,
  DEFAULT_CONFIDENCE_RULE,
  type EstimateCascadesInput,
  embedderIdOf,
  escalationLadder,
  estimateCascades,
  estimateMembers,
  extractAnswer,
  fitConfidenceRule,
  isConfident,
  type LearnableOutcome,
  type LearnOutcomesOptions,
  learnOutcomes,
  type MemberEvidence,
  type MemoryBidSettings,
  MemoryEmbedderMismatchError,
  outcomeEntry,
  PRICE_TIER_PRIOR,
  priceTierPrior,
  promptTail,
  RouterOutcomeError,
  type RouterOutcomeReason,
  requestText,
} from "./memory-bids/index.js";
export {
  type AuctionRouterOptions,
  auctionRouterOptionsSchema,
  DEFAULT_ANSWER_TIMEOUT_MS,
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_EXECUTION_MAX_TOKENS,
  DEFAULT_JURY_MAX_TOKENS,
  DEFAULT_LAMBDA,
  DEFAULT_MEMORY_BIDS,
  DEFAULT_PLAN_MAX_TOKENS,
  DEFAULT_REFINEMENT_PAIRS,
  DEFAULT_TOP_LOGPROBS,
  DEFAULT_WEIGHTS,
  type MemoryBidsOptions,
  type PoolMember,
  type RouterEmbeddings,
  type RouterLedger,
  type RouterMode,
  type RouterWeights,
} from "./options.js";
export type { RouterOutcome } from "./outcomes.js";
export { JURY_RUBRIC, PLANNING_PROMPT, REFINEMENT_PROMPT } from "./prompts.js";
export {
  AuctionRouter,
  type AuctionRouterCallOptions,
  type RouterMetadata,
  type RouterUsage,
} from "./router.js";
export { type BidScore, scoreBid } from "./scoring.js";
export {
  defaultRouterWeights,
  evaluateWeights,
  type FitRouterWeightsOptions,
  type FitStatus,
  type FittedWeights,
  fitRouterWeights,
  generateSyntheticTrainingTasks,
  type HighsSolver,
  parseTrainingTask,
  type SolverLoader,
  type SyntheticBidder,
  type TrainingBid,
  type TrainingTask,
  type WeightEvaluation,
  WeightFitError,
  type WeightFormulation,
  weightsFromJson,
  weightsToJson,
} from "./weights.js";
