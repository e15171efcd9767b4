/**
 * Routing on recorded data: routers that run on recorded real outcomes (the memory-bid auction, the
 * escalation policy, agreement cascades), the outcome memory they read, the runner that evaluates
 * them against every baseline (`runRecordedEvaluation`), `RecordedChatModel` (a LangChain chat model
 * that replays recorded answers) and the fit of the auction router's weights on RouterBench. See
 * docs/routing-on-recorded-data.md.
 *
 * The public surface of the folder; the online protocol, the estimator and the cascade internals are
 * imported by file inside the harness.
 */
export {
  type AgreementCascade,
  DEFAULT_CASCADE_MEMBER_COST_SHARE,
  DEFAULT_CASCADES_PER_TASK,
  type FitCascadesOptions,
  fitCascades,
  fitTaskLadders,
} from "./cascade.js";
export { createHashingEmbeddings, DEFAULT_HASHING_DIMENSIONS, type EmbeddingsLike, promptTail } from "./embedding.js";
export {
  type AnswerParser,
  createEscalationPolicy,
  type EscalationCall,
  type EscalationPolicy,
  type EscalationRequest,
  type EscalationResult,
  type EscalationStop,
} from "./escalation.js";
export {
  type CostScale,
  createMemoryAuctionRouter,
  type MemoryAuctionRouter,
  type MemoryAuctionRouterOptions,
  NoBiddersError,
  type RouteDecision,
  type RouteRequest,
} from "./memoryAuction.js";
export {
  DEFAULT_CONFIDENCE_LAMBDA,
  DEFAULT_LAMBDAS,
  DEFAULT_NEIGHBOURS,
  DEFAULT_ONLINE_EXPLORATION,
  DEFAULT_PRIOR_STRENGTH,
  DEFAULT_STATIC_LAMBDAS,
  DEFAULT_STRONG_MODEL,
  DEFAULT_WEAK_MODEL,
  type EvaluationProgress,
  LEAVE_OUT_DATASETS,
  RECORDED_PROTOCOLS,
  RECORDED_ROUTER_NAMES,
  type RecordedEvaluationOptions,
  type RecordedProtocol,
  type RecordedRouterName,
  recordedEvaluationOptionsSchema,
} from "./options.js";
export {
  createOutcomeMemory,
  type MemoryEntry,
  type Neighbour,
  type NeighbourQuery,
  type OutcomeMemory,
} from "./outcome-memory.js";
export {
  createRecordedPool,
  RecordedChatModel,
  type RecordedChatModelCallOptions,
  type RecordedChatModelFields,
  RecordedUnavailableError,
} from "./recorded-model.js";
export {
  type CompareWeightsOnRouterBenchOptions,
  compareWeightsOnRouterBench,
  mainJobSplit,
  ROUTERBENCH_CHEAP_JURORS,
  type RouterBenchTrainingOptions,
  type RouterBenchWeightComparison,
  routerBenchTrainingTasks,
} from "./routerbench-weights.js";
export { runRecordedEvaluation } from "./runner.js";
export {
  randomShareOfStrongCalls,
  type StrongCallsPoint,
  type StrongCallsReference,
  shareOfStrongCalls,
} from "./strong-share.js";
