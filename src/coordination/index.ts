/**
 * Belief coordination (ECON, seed 001) as a LangGraph graph: a coordinator's short strategy and
 * commitment, executors that never see each other's answers, beliefs from answer embeddings plus
 * confidence refined by ECON's rule, and per-executor weights fitted from outcomes.
 * See docs/coordination.md.
 *
 * @example
 * ```ts
 * import { createBeliefCoordination } from "langchain-gavel";
 * import { extractFinalNumber } from "langchain-gavel/eval";
 *
 * const graph = createBeliefCoordination({ coordinator, executors, embeddings, parseAnswer: extractFinalNumber });
 * const { answer, rounds, usage } = await graph.invoke({ question: "What is 6 * 7?" });
 * ```
 */

export {
  type BeliefRefinement,
  type BeliefRefinementOptions,
  type BeliefStopReason,
  refineBeliefs,
} from "./beliefs.js";
export {
  type Confidence,
  type ConfidenceSource,
  confidenceFromLogprobs,
  confidenceOf,
  DEFAULT_CONFIDENCE,
} from "./confidence.js";
export {
  type BeliefVoter,
  type CandidateRule,
  type CandidateSelection,
  selectCommitmentCandidate,
  type VoterScore,
} from "./consensus.js";
export { CoordinationError, type CoordinationFailure } from "./errors.js";
export {
  type BeliefCoordinationOptions,
  BeliefCoordinationState,
  beliefCoordinationOptionsSchema,
  COORDINATOR_NAME,
  type CoordinationAgentUsage,
  type CoordinationRound,
  type CoordinationStopReason,
  createBeliefCoordination,
  DEFAULT_COORDINATION_TIMEOUT_MS,
  DEFAULT_EXECUTOR_MAX_TOKENS,
  type ExecutorAnswer,
} from "./graph.js";
export type { StrategyGuardResult } from "./prompts.js";
export {
  type ExecutorOutcome,
  type ExecutorWeights,
  executorWeightsFromJson,
  executorWeightsSchema,
  executorWeightsToJson,
  fitExecutorWeights,
  weightMap,
} from "./weights.js";
