/**
 * Experiments: the experiment file (one zod schema, YAML with errors naming file, line and key) and
 * {@link runExperiment}, which runs what it describes — routing on recorded outcomes, record-then-route
 * on a benchmark answered live, or the multi-agent budget sweep — and writes the report folder.
 * See docs/cli.md (the file format) and docs/evaluation.md.
 */
export * from "./config.js";
export {
  type ExperimentLedger,
  type ExperimentProgress,
  type ExperimentResult,
  type ExperimentSeams,
  type LlamaCppModelFactory,
  runExperiment,
} from "./run.js";
export { type EmbedderFactory, liveRunnerOptions, referencePair, runnerOptionsOf } from "./runner-options.js";
