/**
 * Routing on recorded data: the runner that measures the SHIPPED router (`AuctionRouter` in memory
 * and auto modes, batch and online protocols) over `RecordedChatModel` members against every baseline
 * (`runRecordedEvaluation`), the leave-one-dataset-out run (`runLeaveOneOut`), the share-of-strong-calls
 * measures, `RecordedChatModel` (a LangChain chat model that replays recorded answers), the hashing
 * embedder and its cache, and the fit of the plan auction's weights on RouterBench. See
 * docs/routing-on-recorded-data.md.
 */
export { createHashingEmbeddings, DEFAULT_HASHING_DIMENSIONS, type EmbeddingsLike, promptTail } from "./embedding.js";
export { type LeaveOneOutOptions, leaveOneOutOptionsSchema, runLeaveOneOut } from "./leave-out.js";
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
