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
import type { ModelPrice } from "../../budget/types.js";
import { hashTask } from "../../ledger/task-hash.js";
import type { AuctionInput, ChargeInput, JsonObject, LedgerScope, LedgerWriter } from "../../ledger/types.js";
import { createInMemoryStrategyMemory } from "../../memory/matrix-memory.js";
import type { StrategyMemory, StrategySearchQuery } from "../../memory/types.js";
import { type AuctionRouter, type AuctionRouterOptions, learnOutcomes } from "../../router/index.js";
import type { OutcomeIndex, OutcomeRecord } from "../data/outcomes.js";
import { MetricError } from "../errors.js";
import type { EmbeddingsLike } from "./embedding.js";
import {
  RecordedChatModel,
  type RecordedPromptLookup,
  recordedOutputTokens,
  recordedPromptTokens,
} from "./recorded-model.js";

// ---------------------------------------------------------------------------------------------
// Prices
// ---------------------------------------------------------------------------------------------

/**
 * Each model's price fitted from recorded outcomes: `Σ cost_usd ÷ Σ tokens` over its records (prompt
 * and response tokens as `RecordedChatModel` reports them: recorded, else counted with js-tiktoken), in
 * USD per million tokens, used for input and output alike (RouterBench records one cost per call,
 * not its split). Counts are kept in `lookup`, so the pool sharing it does not count them again.
 *
 * @throws MetricError when a model has no record among `promptIds`.
 */
export function fitMemberPrices(
  lookup: RecordedPromptLookup,
  promptIds: readonly string[],
  models: readonly string[],
): Map<string, ModelPrice> {
  const usd = new Map<string, number>();
  const tokens = new Map<string, number>();
  const wanted = new Set(models);
  for (const promptId of promptIds) {
    for (const [model, record] of lookup.index.outcomesOf(promptId)) {
      if (!wanted.has(model)) continue;
      const counted = recordedPromptTokens(lookup, record) + recordedOutputTokens(lookup, record);
      usd.set(model, (usd.get(model) ?? 0) + record.cost_usd);
      tokens.set(model, (tokens.get(model) ?? 0) + counted);
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

/**
 * A fresh in-memory strategy memory for a run: int8 vectors (a quarter of the bytes, ~4× faster scans,
 * similarities off by ~0.001), bounded by {@link EVAL_MEMORY_MAX_ENTRIES}.
 */
export function createRunMemory(embeddings: Embeddings): StrategyMemory {
  return createInMemoryStrategyMemory({ embeddings, maxEntries: EVAL_MEMORY_MAX_ENTRIES, precision: "int8" });
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

/** What the runner adds to every write of a recorded point: its run scope and which point it was. */
export interface PassTag {
  /** The run's scope (`{ kind: "run", id: runId }`): set on auctions and charges that carry none. */
  scope: LedgerScope;
  /** Merged into each auction's and charge's metadata, e.g. `{ policy: "memory-batch", parameter: 0.1 }`. */
  metadata: JsonObject;
}

/**
 * A ledger that keeps what the router writes, so the runner can send only the chosen operating
 * points to the real ledger afterwards (`replay`), tagged with the run scope and the point, each bid
 * compact (its amount, value and reason; not the estimate's `meta` or the `detail` sentence, which the
 * amounts already say — a third of the bytes). Reads nothing back.
 */
export interface BufferedLedger extends LedgerWriter {
  /** Writes kept, in order. */
  readonly writes: number;
  /** Send every kept write to `ledger`, in order, tagged. */
  replay(ledger: LedgerWriter, tag: PassTag): Promise<void>;
}

function compactAuction(input: AuctionInput, tag: PassTag): AuctionInput {
  // The prompt is the recorded file's: its hash identifies it (the text, few-shot examples and all,
  // was four fifths of a run's ledger).
  const { outcome, task, ...rest } = input;
  return {
    ...rest,
    ...(task !== undefined && input.taskHash === undefined && { taskHash: hashTask(task) }),
    scope: input.scope ?? tag.scope,
    metadata: { ...input.metadata, ...tag.metadata },
    outcome: { ...outcome, results: outcome.results.map(({ meta: _meta, ...bid }) => ({ ...bid, detail: "" })) },
  };
}

function taggedCharge(input: ChargeInput, tag: PassTag): ChargeInput {
  return { ...input, scope: input.scope ?? tag.scope, metadata: { ...input.metadata, ...tag.metadata } };
}

/** A {@link BufferedLedger}: the router's `ledger` during a pass. */
export function createBufferedLedger(): BufferedLedger {
  type Write = (ledger: LedgerWriter, tag: PassTag) => Promise<unknown>;
  const writes: Write[] = [];
  let counter = 0;
  const id = (given: string | undefined) => given ?? `buffered-${++counter}`;
  return {
    get writes() {
      return writes.length;
    },
    recordAuction: async (input) => {
      writes.push((ledger, tag) => ledger.recordAuction(compactAuction(input, tag)));
      return id(input.id);
    },
    recordAuctions: async (inputs) => {
      writes.push((ledger, tag) => ledger.recordAuctions(inputs.map((input) => compactAuction(input, tag))));
      return inputs.map((input) => id(input.id));
    },
    recordCharge: async (input) => {
      writes.push((ledger, tag) => ledger.recordCharge(taggedCharge(input, tag)));
      return id(undefined);
    },
    recordCharges: async (inputs) => {
      writes.push((ledger, tag) => ledger.recordCharges(inputs.map((input) => taggedCharge(input, tag))));
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
    replay: async (ledger, tag) => {
      for (const write of writes) await write(ledger, tag);
      await ledger.flush?.();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The pool and the pass
// ---------------------------------------------------------------------------------------------

/** One `RecordedChatModel` per model, with its fitted price: the router's `pool`. */
export function recordedPool(
  lookup: RecordedPromptLookup,
  prices: ReadonlyMap<string, ModelPrice>,
): NonNullable<AuctionRouterOptions["pool"]> {
  return [...prices].map(([model, price]) => ({
    name: model,
    model: new RecordedChatModel({ model, index: lookup.index, lookup }),
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
