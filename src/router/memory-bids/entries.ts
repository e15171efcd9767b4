/**
 * What the memory stores and learns from: the request text that is embedded, one outcome entry per
 * (auction, member), and bulk learning from recorded outcomes.
 *
 * An outcome entry is a `StrategyEntry` with `id = auctionId:member`, `agent = member`, `task` = the
 * embedded request text, `cost` = USD of that member's call (0 when it was not called), `outcome`
 * set later, and `metadata = { gavel: "outcome", embedder, called, answer? }`.
 */
import type { BaseMessage } from "@langchain/core/messages";
import type { NewStrategyEntry, StrategyMemory, StrategyRole } from "../../memory/types.js";
import { extractAnswer } from "./answers.js";
import { embedderIdOf, OUTCOME_ENTRY_MARKER } from "./estimate.js";

/** The instruction line RouterBench repeats after every multiple-choice question. */
const BOILERPLATE_LINE =
  /^\s*(Print only a single choice.*|Please answer with the letter of the correct answer\.?)\s*$/i;

/**
 * The part of a prompt worth embedding: its last block (blocks are separated by a blank line), with
 * RouterBench's instruction lines and the trailing `Answer:` removed. RouterBench prompts carry
 * few-shot examples before the actual question; embedding them would make every prompt of a task
 * look alike. A prompt with one block is returned trimmed.
 * @example
 * ```ts
 * promptTail("Q1?\nAnswer:\nA\n\nWhich gas do plants absorb?\nA) O2\nB) CO2\nAnswer:"); // "Which gas do plants absorb?\nA) O2\nB) CO2"
 * ```
 */
export function promptTail(prompt: string): string {
  const blocks = prompt
    .split(/\n\s*\n/)
    .map((block) => block.trim())
    .filter((block) => block.length > 0);
  const last = blocks[blocks.length - 1] ?? "";
  const lines = last
    .split("\n")
    .filter((line) => !BOILERPLATE_LINE.test(line))
    .join("\n")
    .replace(/(Print only a single choice[^\n]*?)?\s*Answer:\s*$/i, "")
    .trim();
  return lines.length > 0 ? lines : prompt.trim();
}

/**
 * The text the router embeds for a request: the last human message's text (the last message's when
 * there is no human one) through {@link promptTail}.
 *
 * @example
 * ```ts
 * requestText([new SystemMessage("Be brief."), new HumanMessage("Which gas do plants absorb?\nAnswer:")]);
 * // "Which gas do plants absorb?"
 * ```
 */
export function requestText(messages: readonly BaseMessage[]): string {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index] as BaseMessage;
    if (message.type === "human") return promptTail(message.text);
  }
  return promptTail(messages.at(-1)?.text ?? "");
}

/** The fields of one outcome entry (see {@link outcomeEntry}). */
export interface OutcomeEntryInput {
  auctionId: string;
  member: string;
  /** The embedded request text ({@link requestText}). */
  text: string;
  /** Its embedding (stored with the entry: no second embedding). */
  vector: ArrayLike<number>;
  /** `"winning"` for the final answer's member, `"losing"` for the others, `"single"` when one member took part. */
  role: StrategyRole;
  /** Whether the member was called (only called members' outcomes are evidence). */
  called: boolean;
  /** USD of the member's call (0 when it was not called). */
  costUsd: number;
  /** The embedder's id ({@link embedderIdOf}). */
  embedderId: string;
  /** The plan (plans mode), else `""`. */
  plan?: string;
  /** The task kind, written for the record and never read by memory bids. */
  kind: string;
  /** Epoch milliseconds. */
  createdAt: number;
  /** The answer extracted from the member's response ({@link extractAnswer}), when any. */
  answer?: string;
  /** The outcome, when already known (bulk learning); else set later with `memory.recordOutcome`. */
  outcome?: number;
}

/**
 * One outcome entry, ready for `memory.add`: id `${auctionId}:${member}`, metadata
 * `{ gavel: "outcome", embedder, called, answer? }`.
 *
 * @example
 * ```ts
 * await memory.add([
 *   outcomeEntry({ auctionId, member: "mini", text, vector, role: "single", called: true, costUsd: 0.0004,
 *     embedderId: embedderIdOf(embeddings), kind: "", createdAt: Date.now(), answer: "B" }),
 * ]);
 * ```
 */
export function outcomeEntry(input: OutcomeEntryInput): NewStrategyEntry {
  const metadata: Record<string, unknown> = {
    gavel: OUTCOME_ENTRY_MARKER,
    embedder: input.embedderId,
    called: input.called,
  };
  if (input.answer !== undefined) metadata.answer = input.answer;
  const entry: NewStrategyEntry = {
    id: `${input.auctionId}:${input.member}`,
    auctionId: input.auctionId,
    task: input.text,
    kind: input.kind,
    agent: input.member,
    plan: input.plan ?? "",
    role: input.role,
    cost: input.costUsd,
    createdAt: input.createdAt,
    metadata,
    vector: input.vector,
  };
  if (input.outcome !== undefined) entry.outcome = input.outcome;
  return entry;
}

/** What {@link learnOutcomes} needs of a recorded outcome (a canonical `OutcomeRecord` fits). */
export interface LearnableOutcome {
  prompt_id: string;
  prompt: string;
  model: string;
  /** In [0, 1]: 1 correct, 0 wrong. */
  correct: number;
  cost_usd: number;
  response?: string;
}

/** What {@link learnOutcomes} needs of an embedder (any LangChain `Embeddings` fits). */
export interface EmbedderLike {
  embedDocuments(texts: string[]): Promise<number[][]>;
}

/** Options of {@link learnOutcomes}. */
export interface LearnOutcomesOptions {
  /** The embedder — the same the router bids with. */
  embeddings: EmbedderLike;
  /** Its id in the entries. Default {@link embedderIdOf}(embeddings). */
  embedderId?: string;
  /** Prompts per `embedDocuments` call. Default 64. */
  batchSize?: number;
  /** The entries' `kind` (never read by memory bids). Default `""`: the memory holds no dataset name. */
  kind?: string;
  /** `createdAt` of the entries. Default `Date.now()` at the call. */
  createdAt?: number;
  /** Called after each batch with the prompts done and the total. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Write recorded outcomes into a strategy memory as evidence for memory bids: one auction
 * `train:<prompt_id>` per prompt, one called entry per record (outcome = `correct`, cost =
 * `cost_usd`, the extracted answer when there is a response). Each prompt's {@link requestText}
 * (the prompt through `promptTail`, as the router embeds a one-message request) is embedded once,
 * in batches.
 *
 * Role: every entry is `"single"` — every model answered the prompt on its own and none was chosen
 * over another, so no winning/losing pair (SALE's contrastive plans) exists; the plan is `""`.
 * A record repeating a (prompt, model) replaces the earlier entry (same id).
 *
 * @returns how many auctions (prompts) and entries were written.
 * @example
 * ```ts
 * const memory = createInMemoryStrategyMemory({ embeddings });
 * await learnOutcomes(memory, await loadRecordedOutcomes({ path: "train.jsonl" }), { embeddings });
 * // the shipped training half: { auctions: 1109, entries: 12177 }
 * ```
 */
export async function learnOutcomes(
  memory: Pick<StrategyMemory, "add">,
  records: readonly LearnableOutcome[],
  options: LearnOutcomesOptions,
): Promise<{ auctions: number; entries: number }> {
  const { embeddings, batchSize = 64, kind = "", onProgress } = options;
  if (!Number.isInteger(batchSize) || batchSize <= 0) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
  const embedderId = options.embedderId ?? embedderIdOf(embeddings);
  const createdAt = options.createdAt ?? Date.now();
  const byPrompt = new Map<string, LearnableOutcome[]>();
  for (const record of records) {
    const group = byPrompt.get(record.prompt_id);
    if (group === undefined) byPrompt.set(record.prompt_id, [record]);
    else group.push(record);
  }
  const prompts = [...byPrompt.entries()];
  let entries = 0;
  onProgress?.(0, prompts.length);
  for (let start = 0; start < prompts.length; start += batchSize) {
    const batch = prompts.slice(start, start + batchSize);
    const texts = batch.map(([, group]) => promptTail((group[0] as LearnableOutcome).prompt));
    const vectors = await embeddings.embedDocuments(texts);
    if (vectors.length !== batch.length) {
      throw new RangeError(`the embedder returned ${vectors.length} vectors for ${batch.length} texts`);
    }
    const written = batch.flatMap(([promptId, group], position) =>
      group.map((record) =>
        outcomeEntry({
          auctionId: `train:${promptId}`,
          member: record.model,
          text: texts[position] as string,
          vector: vectors[position] as number[],
          role: "single",
          called: true,
          costUsd: record.cost_usd,
          embedderId,
          kind,
          createdAt,
          outcome: record.correct,
          ...answerOf(record.response),
        }),
      ),
    );
    await memory.add(written);
    entries += written.length;
    onProgress?.(Math.min(start + batchSize, prompts.length), prompts.length);
  }
  return { auctions: prompts.length, entries };
}

function answerOf(response: string | undefined): { answer?: string } {
  if (response === undefined) return {};
  const answer = extractAnswer(response);
  return answer === undefined ? {} : { answer };
}
