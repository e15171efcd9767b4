/**
 * Live evaluation on benchmark data, "record, then route": ask every model of a live pool once,
 * cache the checked answers as canonical outcomes, then route over them with the recorded runner.
 */
export { LiveBackendError, LiveBudgetReachedError } from "./errors.js";
export {
  createLivePool,
  type LiveBackend,
  type LiveChatModel,
  type LivePool,
  type LivePoolModel,
  type LivePoolOptions,
  type LlamaCppModelSettings,
} from "./pool.js";
export {
  DEFAULT_MAX_CONSECUTIVE_ERRORS,
  type LiveErrorRecord,
  type LiveOutcomeRecord,
  type LiveRecording,
  type RecordLiveOutcomesOptions,
  recordLiveOutcomes,
} from "./record.js";
export {
  LIVE_ERRORS_FILE,
  LIVE_OUTCOMES_FILE,
  type RecordBenchmarkExperimentOptions,
  type RecordedBenchmarkExperiment,
  recordBenchmarkExperiment,
} from "./run.js";
export {
  type BenchmarkName,
  humanEvalPrompt,
  type LiveTask,
  type LoadLiveTasksOptions,
  loadLiveTasks,
  mathPrompt,
  mbppPrompt,
  mmluPrompt,
} from "./tasks.js";
