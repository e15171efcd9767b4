/**
 * Auction-gated debate (DALA) as a LangGraph graph: agents bid for the floor with a short
 * intent, a market mechanism picks who speaks, only winners write, under a per-example token
 * budget. See docs/debate.md.
 *
 * @example
 * import { createAuctionDebate } from "langchain-gavel";
 *
 * const debate = createAuctionDebate({ agents, mechanism: "second_price", budget: 1024, maxRounds: 3 });
 * const { finalAnswer, spentTokens, rounds } = await debate.invoke({ question: "What is 6 × 7?" });
 */
export { type Aggregate, aggregateAnswers, hasConverged } from "./aggregation.js";
export {
  answersAgree,
  DEFAULT_RELIABILITY,
  heardNothingNew,
  type SpeakerAuctionRules,
  type SpeakerBid,
  type SpeakerSelection,
  type SpeakerSignals,
  type SpeakerValueSource,
  selectSpeakers,
  speakerValue,
  voteWeight,
} from "./gating.js";
export { type AuctionDebateGraph, createAuctionDebate } from "./graph.js";
export {
  AGGREGATIONS,
  type AggregationName,
  type AuctionDebateOptions,
  auctionDebateOptionsSchema,
  DEBATE_MODES,
  DEFAULT_DEBATE_BUDGET,
  DEFAULT_DEBATE_TIMEOUT_MS,
  DEFAULT_DEBATE_TOP_K,
  DEFAULT_DEBATE_TOP_LOGPROBS,
  DEFAULT_INTENT_MAX_TOKENS,
  DEFAULT_MAX_ROUNDS,
  DEFAULT_MESSAGE_MAX_TOKENS,
  type DebateAgent,
  type DebateMode,
  parseAnswerLine,
  UTILITY_ESTIMATORS,
  type UtilityEstimatorName,
} from "./options.js";
export {
  type DebateCallPurpose,
  INTENT_INSTRUCTION,
  MESSAGE_INSTRUCTION,
  SELF_UTILITY_INSTRUCTION,
} from "./prompts.js";
export {
  type AgentUsage,
  type AuctionDebateInput,
  AuctionDebateState,
  type AuctionDebateStateType,
  type DebateBid,
  type DebateDrop,
  type DebateGating,
  type DebateStopReason,
  type RoundRecord,
  type TranscriptEntry,
} from "./state.js";
export {
  parseAggressiveness,
  serializeAggressiveness,
  type TrainAggressivenessOptions,
  type TrainingDebateOutcome,
  type TrainingEpoch,
  type TrainingQuestion,
  type TrainingResult,
  trainAggressiveness,
  trainAggressivenessOptionsSchema,
} from "./training.js";
export {
  estimateUtility,
  heuristicUtility,
  meanTokenProbability,
  type UtilityEstimate,
  type UtilitySource,
} from "./utility.js";
