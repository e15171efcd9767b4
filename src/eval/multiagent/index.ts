/**
 * Multi-agent experiments (`mode: debate`): the gated debate, DALA's original, belief coordination and
 * the full-communication debate on benchmark questions answered live, over a sweep of token budgets per
 * example, reported as an `EvalReport` (policies = mechanisms, points = budgets). See
 * docs/multiagent-evaluation.md.
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
  type EconExecutorCapOptions,
  econExecutorCap,
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
