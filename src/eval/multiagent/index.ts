/**
 * Multi-agent experiments (`mode: debate`): the gated debate, DALA's original, belief coordination and
 * the full-communication debate on benchmark questions answered live, over a sweep of token budgets per
 * example, reported as an `EvalReport` (policies = mechanisms, points = budgets). See
 * docs/multiagent-evaluation.md. `trainDebateAggressiveness` fits the gated debate's α per agent on a
 * training split of the same benchmark that the evaluation never asks (docs/train.md).
 *
 * @example
 * ```ts
 * import { loadExperimentConfig, runMultiAgentSweep, createHashingEmbeddings, writeReport } from "langchain-gavel";
 *
 * const config = await loadExperimentConfig("configs/budget_sweep.yaml");
 * const { report } = await runMultiAgentSweep({ config, env: process.env, embeddings: createHashingEmbeddings() });
 * await writeReport(report, config.output);
 * ```
 */
export { answerParserOf } from "./answers.js";
export {
  MECHANISM_POLICIES,
  type MultiAgentReportInput,
  meanTokensOf,
  multiAgentReport,
  multiAgentTable,
  renderTokensPlot,
  TOKENS_PLOT_FILE,
  writeTokensPlot,
} from "./report.js";
export {
  agentsOf,
  debateSettingsOf,
  type EconExecutorCapOptions,
  type ExperimentDebateSettings,
  econExecutorCap,
  experimentDebate,
  isRightAnswer,
  MIN_EXECUTOR_CAP,
  MULTI_AGENT_RUNS_FILE,
  type MultiAgentAgent,
  type MultiAgentMechanism,
  type MultiAgentRunRecord,
  MultiAgentSetupError,
  type MultiAgentSweep,
  type MultiAgentSweepOptions,
  outputCaps,
  runMultiAgentSweep,
} from "./run.js";
export {
  DEFAULT_TRAINING_QUESTIONS,
  type DebateTraining,
  type DebateTrainingOptions,
  DebateTrainingOptionsSchema,
  type DebateTrainingPlan,
  defaultTrainingBudget,
  trainDebateAggressiveness,
} from "./train.js";
