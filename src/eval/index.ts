/**
 * The evaluation harness: shipped benchmark data and its loaders, answer checkers, the Python runner
 * for code benchmarks, canonical recorded outcomes (RouterBench included) and the metrics.
 * See docs/evaluation.md.
 */

// biome-ignore-all assist/source/organizeImports: the exports are grouped by subsystem, for readers.

export {
  type CodeCheckResult,
  checkGsm8k,
  checkHumanEval,
  checkMbpp,
  checkMmlu,
  checkSvamp,
  definesFunction,
  extractChoiceLetter,
  extractCode,
  extractFinalNumber,
  humanEvalProgram,
  mbppProgram,
  normalizeNumber,
  numbersMatch,
} from "./checkers.js";
export { type ConcurrencyLimiter, createConcurrencyLimiter, mapWithConcurrency } from "./concurrency.js";
export {
  DATA_FILES,
  type DataFileName,
  dataDirectory,
  dataFilePath,
  firstFunctionName,
  type Gsm8kProblem,
  Gsm8kProblemSchema,
  type HumanEvalProblem,
  HumanEvalProblemSchema,
  type LoadOptions,
  loadGsm8k,
  loadHumanEval,
  loadJsonLines,
  loadMbpp,
  loadMmlu,
  loadSvamp,
  MBPP_SPLITS,
  type MbppLoadOptions,
  type MbppProblem,
  MbppProblemSchema,
  type MbppSplit,
  MMLU_LETTERS,
  type MmluLetter,
  type MmluLoadOptions,
  type MmluQuestion,
  MmluQuestionSchema,
  mbppSplitOf,
  parseJsonLines,
  readDataText,
  resolveDataPath,
  type SanitizedMbppProblem,
  SanitizedMbppProblemSchema,
  type SvampProblem,
  SvampProblemSchema,
  writeJsonLines,
} from "./datasets.js";
export {
  GavelDataError,
  type GavelDataErrorDetails,
  GavelMetricError,
  PythonUnavailableError,
} from "./errors.js";
export {
  averagePerformanceGapRecovered,
  bestRandomMixtureAtCost,
  type CostAccuracyPoint,
  callPerformanceThreshold,
  costEfficiency,
  type Decisions,
  dearestModel,
  evaluateDecisions,
  type GapRecoveredPoint,
  gapRecoveredCurve,
  operatingPointFromDecisions,
  operatingPointsFromCosts,
  operatingPointsFromScores,
  oracle,
  oracleChoice,
  type ParetoAreaOptions,
  type PerformanceGap,
  type PolicyEvaluation,
  type PolicyOptions,
  paretoArea,
  paretoFrontier,
  performanceGapRecovered,
  type RandomMixtureResult,
  type RunSummary,
  randomMixtureAtCost,
  type ServedRequest,
  type StaticChoiceResult,
  singleModelBaselines,
  splitPromptIds,
  staticPerTaskChoice,
  summarizeRun,
  type WeakStrongCurve,
} from "./metrics.js";
export {
  convertRouterBench,
  convertRouterBenchFiles,
  indexOutcomes,
  loadOutcomeIndex,
  loadRecordedOutcomes,
  type OutcomeIndex,
  type OutcomeRecord,
  OutcomeRecordSchema,
  type PromptInfo,
  type RouterBenchOutcome,
  RouterBenchOutcomeSchema,
  type RouterBenchPrompt,
  RouterBenchPromptSchema,
  type RouterBenchTables,
  UNAVAILABLE,
  type Unavailable,
} from "./outcomes.js";
export {
  createPythonRunner,
  EXIT_CODE_EARLY_EXIT,
  EXIT_CODE_OUT_OF_MEMORY,
  type PythonRunner,
  type PythonRunnerOptions,
  PythonRunnerOptionsSchema,
  type PythonRunOptions,
  type PythonRunResult,
  type PythonRunStatus,
} from "./python.js";
export {
  answerAgreement,
  type CompareWeightsOnRouterBenchOptions,
  choiceAnswer,
  compareWeightsOnRouterBench,
  mainJobSplit,
  planProxy,
  ROUTERBENCH_CHEAP_JURORS,
  type RouterBenchTrainingOptions,
  type RouterBenchWeightComparison,
  routerBenchTrainingTasks,
  stratifiedSample,
} from "./routerbench-weights.js";

// Routers on recorded data, the runner, live recording, recorded-debate replay, multi-agent
// experiments, reports and experiment configs.
export * from "./routers/index.js";
export {
  type RecordedEvaluationOptions,
  RecordedEvaluationOptionsSchema,
  runRecordedEvaluation,
} from "./runner.js";
export type { EvalReport, OperatingPoint, PolicyResult } from "./results.js";
export * from "./live/index.js";
export * from "./debates/index.js";
export * from "./multiagent/index.js";
export * from "./report/index.js";
export * from "./config.js";
export { createRecordedPool, RecordedChatModel, RecordedUnavailable } from "../../adapters/providers/recorded.js";
