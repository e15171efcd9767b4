/**
 * Feedback files for `gavel train router --feedback FILE --ledger DB`: what a user (a verifier, a
 * thumbs-up button, a test suite) said about answers the router gave, joined with what the ledger
 * recorded about those auctions, written into the strategy memory as outcomes.
 *
 * One JSON object a line:
 *
 *   {"auction_id": "…", "correct": true}
 *   {"auction_id": "…", "score": 0.8, "member": "mini"}
 *
 * `auction_id` is the id the answer carried (`response_metadata.gavel.auction.auctionId`; the gateway's
 * `x-gavel-auction` header); exactly one of `correct` (a boolean) and `score` (a number in [0, 1]);
 * `member` (optional) is the member whose answer is scored — default, the member whose answer was
 * final; it must be one the auction CALLED (bandit feedback: an answer never bought has no outcome).
 * `label` (optional text) is accepted and ignored. Any other key is a typo and refused.
 *
 * A malformed line is a `DataError` naming the file, the line and the field (exit 2). A line that is
 * well formed but cannot be used — its auction is not in the ledger, its (auction, member) is already
 * scored (in the memory, or earlier in the same file), its member was not called — is refused and
 * reported by line, never counted twice. Read top to bottom: the line, the file, the join.
 */
import { readFile } from "node:fs/promises";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { z } from "zod";
import { DataError } from "../eval/errors.js";
import { JsonLineError, parseJsonLines } from "../jsonl.js";
import type { AuctionRecord, LedgerReader } from "../ledger/types.js";
import type { NewStrategyEntry, StrategyMemory, StrategyRole } from "../memory/types.js";
import { OUTCOME_ENTRY_MARKER, outcomeEntry, promptTail } from "../router/memory-bids/index.js";

// ---------------------------------------------------------------------------------------------
// The line
// ---------------------------------------------------------------------------------------------

/** Schema of one feedback line (strict: a misspelt key is an error naming it). */
export const feedbackLineSchema = z
  .object({
    auction_id: z.string().min(1),
    correct: z.boolean().optional(),
    score: z.number().min(0).max(1).optional(),
    member: z.string().min(1).optional(),
    label: z.string().optional(),
  })
  .strict()
  .superRefine((line, context) => {
    if ((line.correct === undefined) === (line.score === undefined)) {
      context.addIssue({
        code: "custom",
        path: line.correct === undefined ? ["correct"] : ["score"],
        message: 'give exactly one of "correct" (true or false) and "score" (a number in [0, 1])',
      });
    }
  });

/** One usable feedback line: the auction, the outcome as a number, the member when named. */
export interface FeedbackLine {
  /** 1-based line in the file. */
  line: number;
  auctionId: string;
  /** 1 / 0 for `correct`, the `score` as given. */
  value: number;
  /** The member scored; absent: the member whose answer was final. */
  member?: string;
}

/**
 * Parse a feedback JSONL text.
 *
 * @param text - The file's text.
 * @param file - The name errors give it.
 * @returns The lines, in file order.
 * @throws DataError naming `file:line` and the field of the first malformed line, or the file when it holds no line.
 * @example
 * ```ts
 * parseFeedback('{"auction_id":"a1","correct":true}\n{"auction_id":"a2","score":0.5,"member":"mini"}\n', "feedback.jsonl");
 * // [{ line: 1, auctionId: "a1", value: 1 }, { line: 2, auctionId: "a2", value: 0.5, member: "mini" }]
 * ```
 */
export function parseFeedback(text: string, file: string): FeedbackLine[] {
  let parsed: ReturnType<typeof parseJsonLines<z.output<typeof feedbackLineSchema>>>;
  try {
    parsed = parseJsonLines(text, { schema: feedbackLineSchema, file });
  } catch (error) {
    if (!JsonLineError.isInstance(error)) throw error;
    throw new DataError(
      { file: error.file, line: error.line, fields: error.fields, problem: error.problem },
      { cause: error },
    );
  }
  if (parsed.length === 0) {
    throw new DataError({
      file,
      problem: 'no feedback (the file is empty); give one {"auction_id": "...", "correct": true} object per line',
    });
  }
  return parsed.map(({ line, value }) => ({
    line,
    auctionId: value.auction_id,
    value: value.correct === undefined ? (value.score as number) : value.correct ? 1 : 0,
    ...(value.member !== undefined && { member: value.member }),
  }));
}

/**
 * Read and parse a feedback file.
 *
 * @throws DataError when the file cannot be read, is empty, or has a malformed line (file, line, field).
 * @example
 * ```ts
 * const lines = await readFeedbackFile("feedback.jsonl");
 * ```
 */
export async function readFeedbackFile(path: string): Promise<FeedbackLine[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new DataError(
      { file: path, problem: `cannot read the file (${(error as Error).message})` },
      { cause: error },
    );
  }
  return parseFeedback(text, path);
}

// ---------------------------------------------------------------------------------------------
// The join with the ledger
// ---------------------------------------------------------------------------------------------

/** Labels of the ledger charges that are a member's answer to the request (not a plan or a jury score). */
const ANSWER_LABELS = new Set(["answer", "escalation"]);

/**
 * Who an auction called, in order, and whose answer was final, from its ledger record:
 * `metadata.calls` and `metadata.winner` as the router writes them; for an auction recorded before
 * the router wrote `calls`, the agents of its answer charges.
 *
 * @example
 * ```ts
 * calledMembers(await ledger.getAuction(id)); // { called: ["mini", "large"], final: "large" }
 * ```
 */
export function calledMembers(auction: AuctionRecord): { called: string[]; final: string | undefined } {
  const metadata = auction.metadata ?? {};
  const written = metadata.calls;
  let called: string[];
  if (Array.isArray(written) && written.every((member) => typeof member === "string")) {
    called = [...new Set(written as string[])];
  } else {
    called = [];
    for (const charge of auction.charges) {
      if (charge.kind !== "settle" || charge.agent === undefined) continue;
      if (charge.label !== undefined && ANSWER_LABELS.has(charge.label) && !called.includes(charge.agent)) {
        called.push(charge.agent);
      }
    }
  }
  const winner = typeof metadata.winner === "string" ? metadata.winner : undefined;
  const final = winner !== undefined && called.includes(winner) ? winner : called.at(-1);
  return { called, final };
}

/** Why a feedback line was not written. */
export type FeedbackRefusal = "unknown_auction" | "already_scored" | "member_not_called" | "no_task";

/** One refused line. */
export interface RefusedFeedback {
  line: number;
  auctionId: string;
  member: string | undefined;
  reason: FeedbackRefusal;
}

/** What {@link applyFeedback} did. */
export interface FeedbackResult {
  /** Lines read. */
  lines: number;
  /** Outcomes written onto outcome entries the memory already held (`memory.recordOutcome`). */
  recorded: number;
  /**
   * Outcome entries added from the ledger (task text and the member's charges) because the memory
   * did not hold them: the router ran without this memory, or the entry was evicted.
   */
  added: number;
  /** Lines refused, in file order. */
  refused: RefusedFeedback[];
}

/** Inputs of {@link applyFeedback}. */
export interface ApplyFeedbackInput {
  lines: readonly FeedbackLine[];
  ledger: Pick<LedgerReader, "getAuction">;
  memory: StrategyMemory;
  /** The memory's embedder (embeds the ledger's task text of an entry the memory lacks). */
  embeddings: EmbeddingsInterface;
  /** Its id in outcome entries (`embedderIdOf(embeddings)`). */
  embedderId: string;
  /** Written into added entries' `kind` (never read by memory bids). Default `"route"`. */
  kind?: string;
  /** Called after each line. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Write every usable feedback line into the memory: onto the outcome entry `${auctionId}:${member}`
 * when the memory holds it, else as a new outcome entry built from the ledger (the request text it
 * recorded, the member's settled USD). Each (auction, member) is scored once: a second line for it —
 * in the file or already in the memory — is refused, never counted twice.
 *
 * @returns counts and the refused lines with why.
 * @example
 * ```ts
 * const result = await applyFeedback({ lines, ledger, memory, embeddings, embedderId: embedderIdOf(embeddings) });
 * console.log(result.recorded, result.added, result.refused.length);
 * ```
 */
export async function applyFeedback(input: ApplyFeedbackInput): Promise<FeedbackResult> {
  const { lines, ledger, memory, embeddings, embedderId, kind = "route", onProgress } = input;
  const result: FeedbackResult = { lines: lines.length, recorded: 0, added: 0, refused: [] };
  const scored = new Set<string>();
  const auctions = new Map<string, AuctionRecord | undefined>();
  for (const [index, line] of lines.entries()) {
    const refuse = (reason: FeedbackRefusal, member: string | undefined) =>
      result.refused.push({ line: line.line, auctionId: line.auctionId, member, reason });
    if (!auctions.has(line.auctionId)) auctions.set(line.auctionId, await ledger.getAuction(line.auctionId));
    const auction = auctions.get(line.auctionId);
    if (auction === undefined) refuse("unknown_auction", line.member);
    else {
      const { called, final } = calledMembers(auction);
      const member = line.member ?? final;
      const id = `${line.auctionId}:${member}`;
      if (member === undefined || !called.includes(member)) refuse("member_not_called", member);
      else if (scored.has(id)) refuse("already_scored", member);
      else {
        const entry = await memory.get(id);
        const outcomeEntry = entry?.metadata?.gavel === OUTCOME_ENTRY_MARKER ? entry : undefined;
        if (entry?.outcome !== undefined) refuse("already_scored", member);
        else if (outcomeEntry !== undefined && (await memory.recordOutcome(id, line.value))) result.recorded += 1;
        else if (auction.task === undefined || auction.task === "") refuse("no_task", member);
        else {
          // No outcome entry (the router ran without this memory, the entry was evicted, or only a
          // plan entry of an older router is stored: it is replaced, its plan kept).
          const role: StrategyRole = called.length === 1 ? "single" : member === final ? "winning" : "losing";
          const task = promptTail(auction.task);
          const [vector = []] = await embeddings.embedDocuments([task]);
          const added = ledgerOutcomeEntry({
            auction,
            member,
            role,
            task,
            kind,
            embedderId,
            value: line.value,
            vector,
          });
          await memory.add([
            entry === undefined
              ? added
              : { ...added, plan: entry.plan, metadata: { ...entry.metadata, ...added.metadata } },
          ]);
          result.added += 1;
        }
        // Refused as already scored or written: either way this (auction, member) is now scored.
        scored.add(id);
      }
    }
    onProgress?.(index + 1, lines.length);
  }
  return result;
}

/** An outcome entry for a member of a ledger auction (called, scored), its cost the member's settled USD. */
function ledgerOutcomeEntry(fields: {
  auction: AuctionRecord;
  member: string;
  role: StrategyRole;
  task: string;
  kind: string;
  embedderId: string;
  value: number;
  vector: number[];
}): NewStrategyEntry {
  const { auction, member, role, task, kind, embedderId, value, vector } = fields;
  const costUsd = auction.charges
    .filter((charge) => charge.kind === "settle" && charge.agent === member)
    .filter((charge) => charge.label === undefined || ANSWER_LABELS.has(charge.label))
    .reduce((sum, charge) => sum + charge.usd, 0);
  return outcomeEntry({
    auctionId: auction.id,
    member,
    text: task,
    vector,
    role,
    called: true,
    costUsd,
    embedderId,
    kind,
    createdAt: auction.createdAt,
    outcome: value,
  });
}
