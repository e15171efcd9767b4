/**
 * `runDebateReplay`: load a recorded-debates file and replay it — the pipeline behind
 * `gavel replay-debates` and `gavel eval --debates`. The embedder of `econ-commitment` comes through a
 * seam, built only when that rule runs.
 */
import { existsSync } from "node:fs";
import { GavelError } from "../../../errors.js";
import { DataError } from "../../errors.js";
import { createHashingEmbeddings, type EmbeddingsLike } from "../../routing/embedding.js";
import { loadDebateRecords } from "./records.js";
import { type DebateReplayReport, replayDebates } from "./replay.js";
import { DEBATE_REPLAY_RULES, type DebateReplayRule } from "./rules.js";

/** The embedders a debate replay can use. */
export type DebateEmbedderKind = "use-lite" | "hashing";

/** What to replay: the file and the sweep. */
export interface DebateReplayRun {
  /** Recorded debates, one question a line (`.jsonl` or `.jsonl.gz`). */
  debates: string;
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
}

/** The I/O of {@link runDebateReplay}. */
export interface DebateReplaySeams {
  /**
   * Builds the embedder of `econ-commitment` (called only when that rule runs; may be async).
   * Default: the hashing embedder for `hashing`; `use-lite` needs this seam (the CLI passes USE-Lite).
   */
  createEmbedder?: (kind: DebateEmbedderKind) => EmbeddingsLike | Promise<EmbeddingsLike>;
}

/**
 * Load the debates file and replay it (what `gavel replay-debates` runs before printing).
 *
 * @throws DataError when the file is missing or a line is invalid; ConfigError on a bad option.
 * @example
 * ```ts
 * const report = await runDebateReplay({ debates: "data/debates/sample.jsonl", embedder: "hashing" });
 * console.table(report.rows);
 * ```
 */
export async function runDebateReplay(
  run: DebateReplayRun,
  { createEmbedder = defaultEmbedder }: DebateReplaySeams = {},
): Promise<DebateReplayReport> {
  if (!existsSync(run.debates)) throw new DataError({ file: run.debates, problem: "no such file" });
  const debates = await loadDebateRecords(run.debates);
  const rules = run.rules ?? [...DEBATE_REPLAY_RULES];
  return replayDebates({
    debates,
    rules,
    ...(run.budgets === undefined ? {} : { budgets: run.budgets }),
    ...(run.trainFraction === undefined ? {} : { trainFraction: run.trainFraction }),
    ...(run.seed === undefined ? {} : { seed: run.seed }),
    ...(rules.includes("econ-commitment") ? { embeddings: await createEmbedder(run.embedder ?? "use-lite") } : {}),
  });
}

function defaultEmbedder(kind: DebateEmbedderKind): EmbeddingsLike {
  if (kind === "hashing") return createHashingEmbeddings();
  throw new GavelError(
    `runDebateReplay: the "${kind}" embedder needs createEmbedder (e.g. () => new UniversalSentenceEncoderEmbeddings() from langchain-gavel/encoder), or use embedder: "hashing"`,
  );
}
