/**
 * `langchain-gavel/eval`: the evaluation harness. One folder per subsystem, each with its public
 * surface in its `index.ts`:
 *
 * | folder | what it owns |
 * |---|---|
 * | `data/` | shipped benchmark data and loaders, answer checkers, the Python runner, canonical recorded outcomes |
 * | `routing/` | routing on recorded data: the runner that measures the shipped `AuctionRouter` (batch and online protocols, leave one dataset out), `RecordedChatModel`, RouterBench weight fits |
 * | `live/` | live recording: ask a live pool once, cache the checked answers as outcomes |
 * | `multiagent/` | multi-agent experiments (`mode: debate`), α training, and the replay of recorded debates (`replay/`) |
 * | `report/` | the `EvalReport`, the metrics, and its renderers (JSON, Markdown, Pareto SVG, HTML) |
 * | `experiment/` | the experiment file (schema, loader) and `runExperiment`, which runs it |
 *
 * Helpers inside a folder (formatting, escaping, prompt lookups, output caps) are not exported.
 * See docs/evaluation.md.
 *
 * @example
 * ```ts
 * import { loadExperimentConfig, runExperiment } from "langchain-gavel/eval";
 *
 * const config = await loadExperimentConfig("configs/default.yaml");
 * const { report, files } = await runExperiment({ ...config, embedder: "hashing" }, { env: process.env });
 * console.log(report.title, files.html);
 * ```
 */

// biome-ignore-all assist/source/organizeImports: the exports are grouped by subsystem, for readers.

export { type ConcurrencyLimiter, createConcurrencyLimiter, mapWithConcurrency } from "./concurrency.js";
export {
  DataError,
  type DataErrorDetails,
  MetricError,
  NotImplementedError,
  PythonUnavailableError,
} from "./errors.js";
export {
  assertReplaceable,
  GAVEL_MARKER,
  hasGavelMarker,
  OutputConflictError,
  type ReplaceableOptions,
} from "./outputs.js";
export * from "./data/index.js";
export * from "./routing/index.js";
export * from "./live/index.js";
export * from "./multiagent/index.js";
export * from "./report/index.js";
export * from "./experiment/index.js";
