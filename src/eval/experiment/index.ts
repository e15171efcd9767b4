/**
 * Experiments: the experiment file (one zod schema, YAML with errors naming file, line and key) and
 * {@link runExperiment}, which runs what it describes — routing on recorded outcomes, record-then-route
 * on a benchmark answered live, or the multi-agent budget sweep — and writes the report folder.
 * See docs/cli.md (the file format) and docs/evaluation.md.
 */
export {
  apiKeyVariableOf,
  BACKEND_KINDS,
  BENCHMARK_NAMES,
  ConfigFileError,
  type ConfigFileIssue,
  DEFAULT_API_KEY_VARIABLES,
  DEFAULT_EMBEDDING_CACHE,
  DEFAULT_EXPERIMENT_DEBATE_ROUNDS,
  DEFAULT_LIVE_CONCURRENCY,
  DEFAULT_LIVE_MAX_RETRIES,
  DEFAULT_OLLAMA_BASE_URL,
  DEFAULT_OUTPUT_DIRECTORY,
  debateBudgetsOf,
  type ExperimentConfig,
  type ExperimentConfigInput,
  experimentConfigSchema,
  loadExperimentConfig,
  MissingApiKeyError,
  MULTI_AGENT_MECHANISMS,
  parseExperimentConfig,
  parseExperimentYaml,
  ROUTER_NAMES,
  requireApiKey,
  unsupportedReason,
} from "./config.js";
export {
  type ExperimentLedger,
  type ExperimentProgress,
  type ExperimentResult,
  type ExperimentSeams,
  type LlamaCppModelFactory,
  runExperiment,
  runLeaveOutExperiment,
} from "./run.js";
export type { EmbedderFactory } from "./runner-options.js";
