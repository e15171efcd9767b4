/**
 * `runDebateReplay`: load recorded-debate runs (a file, a folder or a glob) and replay them run by
 * run — the pipeline behind `gavel replay-debates` and `gavel eval --debates`. The embedder of
 * `econ-commitment` comes through a seam, built only when that rule runs; the loaded runs and the
 * progress are told through seams, so the caller decides what to print (the library prints nothing).
 */
import { GavelError } from "../../../errors.js";
import type { MechanismName } from "../../../market/types.js";
import { createHashingEmbeddings, type EmbeddingsLike } from "../../routing/embedding.js";
import type { DebateRun } from "./records.js";
import { DEBATE_REPLAY_RULES, type DebateReplayRule } from "./rules.js";
import { type DebateRunsProgress, type DebateRunsReport, loadDebateRuns, replayDebateRuns } from "./runs.js";

/** The embedders a debate replay can use. */
export type DebateEmbedderKind = "use-lite" | "hashing";

/** What to replay: the runs and the sweep. */
export interface DebateReplayRun {
  /**
   * Recorded debates, one question a line (`.jsonl` or `.jsonl.gz`): a file (one run), a folder
   * (every `*.jsonl`/`*.jsonl.gz` directly in it, one run each) or a glob; or several of these.
   */
  debates: string | readonly string[];
  /** Tokens per question. Default: `DEFAULT_DEBATE_BUDGETS`. */
  budgets?: number[];
  /** Rules to compare. Default: all of `DEBATE_REPLAY_RULES`. */
  rules?: DebateReplayRule[];
  /** Embedder of `econ-commitment`. Default `use-lite`. */
  embedder?: DebateEmbedderKind;
  /** Share of questions the reliabilities are fitted on. Default: `DEFAULT_TRAIN_FRACTION`. */
  trainFraction?: number;
  /** Split and tie-break seed. Default 0. */
  seed?: number;
  /** `gated`'s speaker auction (validated by `gatedSettingsSchema`). Default: `DEFAULT_GATED_SETTINGS`. */
  gated?: { mechanism?: MechanismName; reservePrice?: number; topK?: number };
}

/** The I/O of {@link runDebateReplay}. */
export interface DebateReplaySeams {
  /**
   * Builds the embedder of `econ-commitment` (called only when that rule runs; may be async).
   * Default: the hashing embedder for `hashing`; `use-lite` needs this seam (the CLI passes USE-Lite).
   */
  createEmbedder?: (kind: DebateEmbedderKind) => EmbeddingsLike | Promise<EmbeddingsLike>;
  /** Told once every run is loaded, before any replay (e.g. to warn about `ignoredKeys`). */
  onLoaded?: (runs: readonly DebateRun[]) => void;
  /** Told after each run is replayed. */
  onProgress?: (event: DebateRunsProgress) => void;
}

/**
 * Load the runs and replay them one by one, summed into one table (what `gavel replay-debates` runs
 * before printing). A single file is one run: its `rows` are that run's.
 *
 * @throws DataError when a path is missing, a folder holds no run, a glob matches nothing or a line is
 *   invalid (all checked before any replay); ConfigError on a bad option.
 * @example
 * ```ts
 * const report = await runDebateReplay(
 *   { debates: "data/debates/sample.jsonl", embedder: "hashing" },
 *   { onLoaded: (runs) => runs.forEach((run) => run.ignoredKeys.length > 0 && console.warn(run.file, run.ignoredKeys)) },
 * );
 * console.table(report.rows);
 * ```
 */
export async function runDebateReplay(
  run: DebateReplayRun,
  { createEmbedder = defaultEmbedder, onLoaded, onProgress }: DebateReplaySeams = {},
): Promise<DebateRunsReport> {
  const runs = await loadDebateRuns(run.debates);
  onLoaded?.(runs);
  const rules = run.rules ?? [...DEBATE_REPLAY_RULES];
  const options = {
    rules,
    ...(run.budgets === undefined ? {} : { budgets: run.budgets }),
    ...(run.trainFraction === undefined ? {} : { trainFraction: run.trainFraction }),
    ...(run.seed === undefined ? {} : { seed: run.seed }),
    ...(run.gated === undefined ? {} : { gated: run.gated }),
    ...(rules.includes("econ-commitment") ? { embeddings: await createEmbedder(run.embedder ?? "use-lite") } : {}),
  };
  return replayDebateRuns(runs, options, onProgress);
}

function defaultEmbedder(kind: DebateEmbedderKind): EmbeddingsLike {
  if (kind === "hashing") return createHashingEmbeddings();
  throw new GavelError(
    `runDebateReplay: the "${kind}" embedder needs createEmbedder (e.g. () => new UniversalSentenceEncoderEmbeddings() from langchain-gavel/encoder), or use embedder: "hashing"`,
  );
}
