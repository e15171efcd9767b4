/**
 * `gavel train router --outcomes FILE | --feedback FILE --ledger DB --memory TARGET`: load outcomes
 * into the strategy memory the router's memory bids read (`mode: "memory" | "auto"`).
 *
 * - `--outcomes FILE`: canonical recorded outcomes (`{prompt_id, prompt, model, correct, cost_usd, …}`
 *   a line, `.jsonl` or `.jsonl.gz`) written by `learnOutcomes`: one auction per prompt id, one
 *   called, scored outcome entry per (prompt, model), embedded as the router embeds a request.
 * - `--feedback FILE --ledger DB`: what users said about answers the router gave (see
 *   `src/cli/feedback.ts`), joined with the ledger's record of those auctions, written onto the
 *   memory's outcome entries (or added from the ledger when the memory lacks them).
 *
 * `--memory` is a vectra folder (created when missing) or a `postgres://` URL. The embedder must be
 * the router's: a memory whose outcome entries carry another embedder id, or whose vectors have
 * another dimension, is refused (`MemoryEmbedderMismatchError`, exit 2) before anything is written.
 * Read top to bottom: the embedder, the memory, the check, the run, the report.
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { createHashingEmbeddings, DEFAULT_HASHING_DIMENSIONS } from "../eval/routing/embedding.js";
import type { AuctionLedger, LedgerReader } from "../ledger/types.js";
import { StrategyMemoryError } from "../memory/errors.js";
import type { StrategyMemory } from "../memory/types.js";
import { importPeer } from "../peers.js";
import { MemoryEmbedderMismatchError, OUTCOME_ENTRY_MARKER } from "../router/memory-bids/index.js";
import { loadSentenceEncoder } from "./common.js";
import type { FeedbackResult, RefusedFeedback } from "./feedback.js";

// ---------------------------------------------------------------------------------------------
// The embedder
// ---------------------------------------------------------------------------------------------

/** Embedders `--embedder` names: the built-in hashing one, or USE-Lite (`use` is the same). */
export const MEMORY_EMBEDDERS = ["hashing", "use-lite", "use"] as const;
/** One of {@link MEMORY_EMBEDDERS}. */
export type MemoryEmbedderKind = (typeof MEMORY_EMBEDDERS)[number];

/**
 * The built-in hashing embedder as a LangChain `Embeddings` (id `hashing-256`): deterministic, no
 * model, weak — for tests and a quick offline run. The gateway's `router.embedder: hashing` is the same.
 *
 * @example
 * ```ts
 * const embeddings = hashingMemoryEmbeddings();
 * embeddings.id; // "hashing-256"
 * ```
 */
export function hashingMemoryEmbeddings(): EmbeddingsInterface & { id: string } {
  return createHashingEmbeddings({ dimensions: DEFAULT_HASHING_DIMENSIONS });
}

/** The embedder `--embedder` names (USE-Lite's packages load on its first embedding). */
export async function memoryEmbedder(kind: MemoryEmbedderKind): Promise<EmbeddingsInterface> {
  if (kind === "hashing") return hashingMemoryEmbeddings();
  return (await loadSentenceEncoder("use-lite")) as EmbeddingsInterface;
}

// ---------------------------------------------------------------------------------------------
// The memory and the ledger
// ---------------------------------------------------------------------------------------------

/** True when a `--memory` or `--ledger` argument is a PostgreSQL URL rather than a path. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

/**
 * Open the strategy memory at `target`: a vectra folder (created when missing; locked while open,
 * so a gateway using it must be stopped first) or a PostgreSQL schema (shared with running replicas).
 */
export async function openStrategyMemory(
  target: string,
  options: { embeddings: EmbeddingsInterface; maxEntries: number },
): Promise<StrategyMemory> {
  const { embeddings, maxEntries } = options;
  if (isPostgresUrl(target)) {
    await importPeer("pg", "gavel train router --memory postgres://…", () => import("pg"));
    const { createPostgresStrategyMemory } = await import("../../adapters/postgres/memory.js");
    return createPostgresStrategyMemory({ connectionString: target, embeddings, maxEntries, maxConnections: 2 });
  }
  await importPeer("vectra", "gavel train router --memory FOLDER", () => import("vectra"));
  const { createVectraStrategyMemory } = await import("../../adapters/vectra/memory.js");
  return createVectraStrategyMemory({ folder: target, embeddings, maxEntries });
}

/** Open the ledger at `target` (a SQLite file, or a `postgres://` URL) read-only. */
export async function openLedgerReader(target: string): Promise<LedgerReader> {
  if (isPostgresUrl(target)) {
    await importPeer("pg", "gavel train router --ledger postgres://…", () => import("pg"));
    const { createPostgresLedger } = await import("../../adapters/postgres/ledger.js");
    return createPostgresLedger({ connectionString: target, readonly: true, maxConnections: 2 });
  }
  await importPeer("better-sqlite3", "gavel train router --ledger FILE", () => import("better-sqlite3"));
  const { createSqliteLedger } = await import("../../adapters/sqlite/ledger.js");
  return createSqliteLedger({ path: target, readonly: true }) as AuctionLedger;
}

// ---------------------------------------------------------------------------------------------
// The embedder check
// ---------------------------------------------------------------------------------------------

/** How many stored entries the embedder check looks at. */
const CHECKED_ENTRIES = 32;

/**
 * Refuse a memory written with another embedder before anything is added to it: the outcome
 * entries nearest a probe text must carry `embedderId`, and the memory's vectors must have the
 * embedder's dimension.
 *
 * @throws MemoryEmbedderMismatchError naming both embedders (or the dimension problem) and the fix.
 * @example
 * ```ts
 * await assertMemoryEmbedder(memory, embeddings, embedderIdOf(embeddings));
 * ```
 */
export async function assertMemoryEmbedder(
  memory: StrategyMemory,
  embeddings: EmbeddingsInterface,
  embedderId: string,
): Promise<void> {
  if ((await memory.size()) === 0) return;
  const vector = await embeddings.embedQuery("gavel memory embedder check");
  let hits: Awaited<ReturnType<StrategyMemory["search"]>>;
  try {
    hits = await memory.search({ vector, k: CHECKED_ENTRIES });
  } catch (error) {
    if (StrategyMemoryError.isInstance(error) && error.reason === "dimension_mismatch") {
      throw new MemoryEmbedderMismatchError(embedderId, undefined, { reason: error.message, cause: error });
    }
    throw error;
  }
  for (const { entry } of hits) {
    const found = entry.metadata?.embedder;
    if (entry.metadata?.gavel === OUTCOME_ENTRY_MARKER && typeof found === "string" && found !== embedderId) {
      throw new MemoryEmbedderMismatchError(embedderId, found);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

/** What `gavel train router --outcomes/--feedback` did (`--json` prints it). */
export interface MemoryTrainingSummary {
  memory: string;
  embedder: string;
  maxEntries: number;
  outcomes?: { file: string; records: number; auctions: number; entries: number };
  feedback?: { file: string; ledger: string } & Omit<FeedbackResult, "refused"> & {
      refusedCount: number;
      refusedByReason: Record<string, number>;
      refused: RefusedFeedback[];
    };
  /** Entries in the memory after the run. */
  size: number;
}

/** Most refused lines listed in the text report (all of them are in `--json`). */
const LISTED_REFUSALS = 20;

const REFUSAL_TEXT: Record<RefusedFeedback["reason"], (refused: RefusedFeedback) => string> = {
  unknown_auction: ({ auctionId }) => `auction "${auctionId}" is not in the ledger`,
  already_scored: ({ auctionId, member }) => `member "${member}" of auction "${auctionId}" is already scored`,
  member_not_called: ({ auctionId, member }) =>
    member === undefined
      ? `auction "${auctionId}" called no member (nothing to score)`
      : `member "${member}" was not called in auction "${auctionId}" (only a bought answer can be scored)`,
  no_task: ({ auctionId }) =>
    `auction "${auctionId}" has no task text in the ledger, and the memory has no entry to score`,
};

/** Counts of refused lines by reason. */
export function refusedByReason(refused: readonly RefusedFeedback[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { reason } of refused) counts[reason] = (counts[reason] ?? 0) + 1;
  return counts;
}

/** The text report of a run. */
export function memoryTrainingReport(summary: MemoryTrainingSummary): string {
  const lines = [
    `Strategy memory ${summary.memory} (embedder ${summary.embedder}, bound ${summary.maxEntries} entries)`,
  ];
  const { outcomes, feedback } = summary;
  if (outcomes !== undefined) {
    lines.push(
      `outcomes ${outcomes.file}: ${outcomes.records} records → ${outcomes.auctions} auctions, ${outcomes.entries} outcome entries written`,
    );
  }
  if (feedback !== undefined) {
    const reasons = Object.entries(feedback.refusedByReason)
      .map(([reason, count]) => `${count} ${reason}`)
      .join(", ");
    lines.push(
      `feedback ${feedback.file} (ledger ${feedback.ledger}): ${feedback.lines} lines → ${feedback.recorded} recorded, ` +
        `${feedback.added} added from the ledger, ${feedback.refusedCount} refused${reasons === "" ? "" : ` (${reasons})`}`,
    );
    for (const refused of feedback.refused.slice(0, LISTED_REFUSALS)) {
      lines.push(`  ${feedback.file}:${refused.line}: ${REFUSAL_TEXT[refused.reason](refused)}`);
    }
    if (feedback.refused.length > LISTED_REFUSALS) {
      lines.push(`  … and ${feedback.refused.length - LISTED_REFUSALS} more (--json lists them all)`);
    }
  }
  lines.push(`The memory holds ${summary.size} entries.`);
  if ((outcomes?.entries ?? 0) > summary.maxEntries || summary.size >= summary.maxEntries) {
    lines.push(
      `It is at its bound of ${summary.maxEntries}: the least recently used auctions were evicted. Raise --max-entries (and the router's memory maxEntries) to keep more.`,
    );
  }
  return lines.join("\n");
}
