/**
 * The shipped router on recorded outcomes: the pieces the runner puts around `AuctionRouter` so that
 * `gavel eval` measures the router users run — a pool of `RecordedChatModel` members priced from the
 * training records, the run's embedder behind a vector cache, the training memory (frozen for the
 * batch protocol), a buffering ledger (only the chosen operating points reach the real one), and the
 * pass that routes prompts through `AuctionRouter.invoke` and feeds outcomes back with
 * `router.recordOutcome`.
 *
 * Nothing here reads a prompt's dataset (`eval_name`): the router gets the prompt text and its id.
 */

import { Embeddings } from "@langchain/core/embeddings";
import { HumanMessage } from "@langchain/core/messages";
import { countMessageTokens, countTextTokens } from "../../budget/tokens.js";
import type { ModelPrice } from "../../budget/types.js";
import type { LedgerWriter } from "../../ledger/types.js";
import { createInMemoryStrategyMemory } from "../../memory/matrix-memory.js";
import type { StrategyMemory, StrategySearchQuery } from "../../memory/types.js";
import { AuctionRouter, type AuctionRouterOptions, learnOutcomes } from "../../router/index.js";
import type { OutcomeIndex, OutcomeRecord } from "../data/outcomes.js";
import { MetricError } from "../errors.js";
import type { EmbeddingsLike } from "./embedding.js";
import { createPromptLookup, RecordedChatModel } from "./recorded-model.js";

// ---------------------------------------------------------------------------------------------
// Prices
// ---------------------------------------------------------------------------------------------

/**
 * Each model's price fitted from recorded outcomes: `Σ cost_usd ÷ Σ tokens` over its records (prompt
 * tokens counted as `RecordedChatModel` counts them, plus the response's tokens), in USD per million
 * tokens, used for input and output alike (RouterBench records one cost per call, not its split).
 *
 * @throws MetricError when a model has no record among `promptIds`.
 */
export function fitMemberPrices(
  index: OutcomeIndex,
  promptIds: readonly string[],
  models: readonly string[],
): Map<string, ModelPrice> {
  const usd = new Map<string, number>();
  const tokens = new Map<string, number>();
  for (const promptId of promptIds) {
    const prompt = index.promptInfo(promptId)?.prompt ?? "";
    let promptTokens: number | undefined;
    for (const [model, record] of index.outcomesOf(promptId)) {
      if (!models.includes(model)) continue;
      promptTokens ??= record.input_tokens ?? countMessageTokens([new HumanMessage(prompt)], model);
      const output = record.output_tokens ?? countTextTokens(record.response ?? "", model);
      usd.set(model, (usd.get(model) ?? 0) + record.cost_usd);
      tokens.set(model, (tokens.get(model) ?? 0) + (record.input_tokens ?? promptTokens) + output);
    }
  }
  return new Map(
    models.map((model) => {
      const total = tokens.get(model);
      if (total === undefined || total === 0) {
        throw new MetricError(`cannot fit a price for "${model}": it has no record among the training prompts`);
      }
      const perMillion = (1e6 * (usd.get(model) ?? 0)) / total;
      return [model, { inputPerMillion: perMillion, outputPerMillion: perMillion }];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Embeddings, memories, ledger
// ---------------------------------------------------------------------------------------------

/**
 * The run's embedder behind its vectors, computed once (and cached on disk) for every prompt tail:
 * the router's `embeddings`. A text the run did not embed in advance goes to the embedder.
 */
export class PrecomputedEmbeddings extends Embeddings {
  /** The embedder id the router writes in outcome entries (the run's embedder id). */
  readonly id: string;
  readonly #vectors: ReadonlyMap<string, number[]>;
  readonly #embedder: EmbeddingsLike;

  constructor(fields: { id: string; vectors: ReadonlyMap<string, number[]>; embedder: EmbeddingsLike }) {
    super({});
    this.id = fields.id;
    this.#vectors = fields.vectors;
    this.#embedder = fields.embedder;
  }

  override async embedDocuments(texts: string[]): Promise<number[][]> {
    const missing = texts.filter((text) => !this.#vectors.has(text));
    const computed = missing.length === 0 ? [] : await this.#embedder.embedDocuments(missing);
    const extra = new Map(missing.map((text, position) => [text, computed[position] as number[]]));
    return texts.map((text) => this.#vectors.get(text) ?? (extra.get(text) as number[]));
  }

  override async embedQuery(text: string): Promise<number[]> {
    const [vector] = await this.embedDocuments([text]);
    return vector as number[];
  }
}

/** Entries a run's memory keeps: no eviction within a run (the training half holds ~12k entries). */
export const EVAL_MEMORY_MAX_ENTRIES = 1_000_000;

/** A fresh in-memory strategy memory for a run (float32 vectors, bounded by {@link EVAL_MEMORY_MAX_ENTRIES}). */
export function createRunMemory(embeddings: Embeddings): StrategyMemory {
  return createInMemoryStrategyMemory({ embeddings, maxEntries: EVAL_MEMORY_MAX_ENTRIES });
}

/**
 * A memory loaded from recorded training outcomes with the router's own bulk loader
 * (`learnOutcomes`: one auction `train:<prompt_id>` per prompt, one called entry per model).
 */
export async function trainingMemory(
  records: readonly OutcomeRecord[],
  embeddings: PrecomputedEmbeddings,
): Promise<StrategyMemory> {
  const memory = createRunMemory(embeddings);
  if (records.length > 0) await learnOutcomes(memory, records, { embeddings, embedderId: embeddings.id });
  return memory;
}

/**
 * The batch protocol's memory: reads go to `memory`, writes are discarded (`add` does nothing,
 * `recordOutcome` resolves `false`), so the test pass learns nothing.
 */
export function frozenMemory(memory: StrategyMemory): StrategyMemory {
  return {
    add: async () => undefined,
    recordOutcome: async () => false,
    search: (query) => memory.search(query),
    contrastivePairs: (task, options) => memory.contrastivePairs(task, options),
    get: (id) => memory.get(id),
    size: () => memory.size(),
    close: async () => undefined,
  };
}

/**
 * Leave-one-out over a frozen memory: searches skip the entries of the auction named by
 * `exclude.auctionId` (one more neighbour is fetched, so each search still returns `k`).
 */
export function leaveOneOutMemory(memory: StrategyMemory): StrategyMemory & { exclude: { auctionId: string } } {
  const exclude = { auctionId: "" };
  const frozen = frozenMemory(memory);
  return {
    ...frozen,
    exclude,
    search: async (query: StrategySearchQuery) => {
      const k = query.k ?? 8;
      const hits = await memory.search({ ...query, k: k + 1 });
      return hits.filter((hit) => hit.entry.auctionId !== exclude.auctionId).slice(0, k);
    },
  };
}

/**
 * A ledger that keeps what the router writes, so the runner can send only the chosen operating
 * points to the real ledger afterwards (`replay`). Reads nothing back.
 */
export interface BufferedLedger extends LedgerWriter {
  /** Writes kept, in order. */
  readonly writes: number;
  /** Send every kept write to `ledger`, in order. */
  replay(ledger: LedgerWriter): Promise<void>;
}

/** A {@link BufferedLedger}: the router's `ledger` during a pass. */
export function createBufferedLedger(): BufferedLedger {
  const writes: Array<(ledger: LedgerWriter) => Promise<unknown>> = [];
  let counter = 0;
  const id = (given: string | undefined) => given ?? `buffered-${++counter}`;
  return {
    get writes() {
      return writes.length;
    },
    recordAuction: async (input) => {
      writes.push((ledger) => ledger.recordAuction(input));
      return id(input.id);
    },
    recordAuctions: async (inputs) => {
      writes.push((ledger) => ledger.recordAuctions(inputs));
      return inputs.map((input) => id(input.id));
    },
    recordCharge: async (input) => {
      writes.push((ledger) => ledger.recordCharge(input));
      return id(undefined);
    },
    recordCharges: async (inputs) => {
      writes.push((ledger) => ledger.recordCharges(inputs));
      return inputs.map(() => id(undefined));
    },
    recordOutcome: async (input) => {
      writes.push((ledger) => ledger.recordOutcome(input));
    },
    recordBudget: async (input) => {
      writes.push((ledger) => ledger.recordBudget(input));
    },
    recordBudgetSnapshot: async (input) => {
      writes.push((ledger) => ledger.recordBudgetSnapshot(input));
    },
    flush: async () => undefined,
    close: async () => undefined,
    replay: async (ledger) => {
      for (const write of writes) await write(ledger);
      await ledger.flush?.();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The pool and the pass
// ---------------------------------------------------------------------------------------------

/** One `RecordedChatModel` per model, with its fitted price: the router's `pool`. */
export function recordedPool(
  index: OutcomeIndex,
  prices: ReadonlyMap<string, ModelPrice>,
): NonNullable<AuctionRouterOptions["pool"]> {
  const lookup = createPromptLookup(index);
  return [...prices].map(([model, price]) => ({
    name: model,
    model: new RecordedChatModel({ model, index, lookup }),
    price,
  }));
}

/** One prompt routed by the shipped router. */
export interface RoutedPrompt {
  promptId: string;
  auctionId: string;
  /** The member whose answer was final. */
  final: string;
  /** Members called, in order (the final one last). */
  calls: string[];
  /** The decision's path (`memory`, `explore`, `escalation`, `plans`). */
  path: string;
  /** Why, as the router wrote it. */
  reason: string;
  /** The router's record of the auction (`response_metadata.gavel.auction`). */
  record: Record<string, unknown>;
}

/** What a pass needs. */
export interface PassInput {
  router: AuctionRouter;
  index: OutcomeIndex;
  /** Prompts in the order they are routed. */
  promptIds: readonly string[];
  /** Feed every called member's recorded grade back with `router.recordOutcome` (online protocol). */
  learn: boolean;
  /** Before each prompt (e.g. a leave-one-out exclusion). */
  beforeEach?: (promptId: string) => void;
  onRouted?: (routed: RoutedPrompt, done: number) => void;
}

/**
 * Route prompts one by one through `router.invoke(prompt, { metadata: { prompt_id } })`; with
 * `learn`, report each called member's recorded grade (`correct`, what a verifier would say) with
 * `router.recordOutcome(auctionId, { member, correct })` before the next prompt.
 */
export async function routePass(input: PassInput): Promise<RoutedPrompt[]> {
  const { router, index, promptIds, learn } = input;
  const routed: RoutedPrompt[] = [];
  for (const promptId of promptIds) {
    input.beforeEach?.(promptId);
    const prompt = index.promptInfo(promptId)?.prompt ?? "";
    const reply = await router.invoke(prompt, { metadata: { prompt_id: promptId } });
    const gavel = (reply.response_metadata as { gavel?: { auction?: Record<string, unknown> } }).gavel;
    const record = gavel?.auction;
    if (record === undefined) throw new MetricError(`the router's answer to ${promptId} carries no auction record`);
    const auctionId = String(record.auctionId);
    const final = String(record.winner);
    const calls = Array.isArray(record.calls) ? record.calls.map(String) : [final];
    const one: RoutedPrompt = {
      promptId,
      auctionId,
      final,
      calls,
      path: typeof record.path === "string" ? record.path : "plans",
      reason: typeof record.reason === "string" ? record.reason : "",
      record,
    };
    if (learn) {
      for (const member of new Set(calls)) {
        const cell = index.outcome(promptId, member);
        if (cell === "unavailable") continue;
        await router.recordOutcome(auctionId, { member, correct: cell.correct >= 1 });
      }
    }
    routed.push(one);
    input.onRouted?.(one, routed.length);
  }
  return routed;
}
