/**
 * Data and checkers: the benchmark data shipped in `data/` and its loaders (one zod schema per data
 * set), the answer checkers, the sandboxed Python runner of the code benchmarks, and canonical
 * recorded outcomes (RouterBench converted). See docs/evaluation.md.
 *
 * The public surface of the folder; program builders and path helpers are imported by file inside
 * the harness.
 */
export {
  type CodeCheckResult,
  checkGsm8k,
  checkHumanEval,
  checkMbpp,
  checkMmlu,
  checkSvamp,
  extractChoiceLetter,
  extractCode,
  extractFinalNumber,
} from "./checkers.js";
export {
  DATA_FILES,
  type DataFileName,
  dataDirectory,
  dataFilePath,
  type Gsm8kProblem,
  gsm8kProblemSchema,
  type HumanEvalProblem,
  humanEvalProblemSchema,
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
  type MbppSplit,
  MMLU_LETTERS,
  type MmluLetter,
  type MmluLoadOptions,
  type MmluQuestion,
  mbppProblemSchema,
  mmluQuestionSchema,
  parseJsonLines,
  type SanitizedMbppProblem,
  type SvampProblem,
  sanitizedMbppProblemSchema,
  svampProblemSchema,
  writeJsonLines,
} from "./datasets.js";
export {
  convertRouterBench,
  convertRouterBenchFiles,
  indexOutcomes,
  loadOutcomeIndex,
  loadRecordedOutcomes,
  type OutcomeIndex,
  type OutcomeRecord,
  outcomeRecordSchema,
  type PromptInfo,
  type RouterBenchOutcome,
  type RouterBenchPrompt,
  type RouterBenchTables,
  routerBenchOutcomeSchema,
  routerBenchPromptSchema,
  UNAVAILABLE,
  type Unavailable,
} from "./outcomes.js";
export {
  createPythonRunner,
  type PythonRunner,
  type PythonRunnerOptions,
  type PythonRunOptions,
  type PythonRunResult,
  type PythonRunStatus,
  pythonRunnerOptionsSchema,
} from "./python.js";
