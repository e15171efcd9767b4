/**
 * Routers that run on recorded real outcomes: the memory-bid auction and the escalation policy,
 * the outcome memory and estimators they read, and the online protocol. See
 * docs/routing-on-recorded-data.md. The runner is `src/eval/runner.ts` (`runRecordedEvaluation`).
 */
export {
  type AgreementCascade,
  answersAgree,
  type CascadeAuctionPassOptions,
  type CascadeRun,
  cascadeName,
  DEFAULT_CASCADE_MEMBER_COST_SHARE,
  DEFAULT_CASCADES_PER_TASK,
  type FitCascadesOptions,
  fitCascades,
  fitTaskLadders,
  replayCascade,
  routeCascadeAuctionOnline,
  runCascade,
  withCascadeRecords,
} from "./cascade.js";
export {
  createHashingEmbeddings,
  DEFAULT_HASHING_DIMENSIONS,
  type EmbeddingsLike,
  type EmbedWithCacheOptions,
  embedWithCache,
  promptTail,
} from "./embedding.js";
export {
  type AnswerParser,
  createEscalationPolicy,
  type EscalationCall,
  type EscalationPolicy,
  type EscalationRequest,
  type EscalationResult,
  type EscalationStop,
  parserForTask,
} from "./escalation.js";
export { estimateValues, fitTrainingProfile, type TrainingProfile, type ValueEstimate } from "./estimator.js";
export {
  type CostScale,
  createMemoryAuctionRouter,
  type MemoryAuctionRouter,
  type MemoryAuctionRouterOptions,
  NoBidders,
  type RouteDecision,
  type RouteRequest,
} from "./memoryAuction.js";
export {
  type AskModel,
  availableModels,
  type CallResult,
  type EscalationPassOptions,
  fitAgreementValues,
  type OnlineContext,
  type RoutedPrompt,
  routeEscalationOnline,
  routeMemoryAuctionOnline,
} from "./online.js";
export * from "./options.js";
export { type MemoryEntry, type Neighbour, type NeighbourQuery, OutcomeMemory } from "./outcome-memory.js";
