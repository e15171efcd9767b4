/**
 * Multi-agent experiments. `mode: debate` runs the gated debate, DALA's original, belief coordination
 * and the full-communication debate on benchmark questions answered live, over a sweep of token
 * budgets per example, reported as an `EvalReport` (policies = mechanisms, points = budgets); see
 * docs/multiagent-evaluation.md. `trainDebateAggressiveness` fits the gated debate's α per agent on a
 * training split of the same benchmark that the evaluation never asks (docs/train.md). The replay of
 * recorded debates (`replay/`) compares stopping and aggregation rules without calling any model
 * (docs/debate-replay.md).
 *
 * The public surface of the folder; output caps, answer parsers and agent wiring stay inside it.
 *
 * @example
 * ```ts
 * import { createHashingEmbeddings, loadExperimentConfig, runMultiAgentSweep, writeReport } from "langchain-gavel/eval";
 *
 * const config = await loadExperimentConfig("configs/budget_sweep.yaml");
 * const { report } = await runMultiAgentSweep({ config, env: process.env, embeddings: createHashingEmbeddings() });
 * await writeReport(report, config.output);
 * ```
 */

export * from "./replay/index.js";
export {
  MECHANISM_POLICIES,
  type MultiAgentReportInput,
  multiAgentReport,
  multiAgentTable,
  renderTokensPlot,
  TOKENS_PLOT_FILE,
  writeTokensPlot,
} from "./report.js";
export {
  MULTI_AGENT_RUNS_FILE,
  type MultiAgentAgent,
  type MultiAgentMechanism,
  type MultiAgentRunRecord,
  MultiAgentSetupError,
  type MultiAgentSweep,
  type MultiAgentSweepOptions,
  runMultiAgentSweep,
} from "./run.js";
export {
  DEFAULT_TRAINING_QUESTIONS,
  type DebateTraining,
  type DebateTrainingOptions,
  type DebateTrainingPlan,
  debateTrainingOptionsSchema,
  defaultTrainingBudget,
  trainDebateAggressiveness,
} from "./train.js";
