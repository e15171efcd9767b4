/**
 * The estimate: per member, what its nearest past outcomes say it is worth on this request and
 * what it will cost. Pure: the caller embeds the request and searches the memory (one search per
 * member, filtered by agent) and passes the hits in.
 *
 * Per member m, over its neighbours j that are evidence (`metadata.called === true` and a numeric
 * `outcome`):
 *   w_j = max(0, similarity_j)                       n_m = Σ w_j              (evidence)
 *   v_m = (Σ w_j y_j + α · prior_m) / (n_m + α)                              (value; α = priorStrength)
 *   c_m = (Σ w_j cost_j + β · c0_m) / (n_m + β)      β = 1                   (expected USD)
 *   c0_m = promptTokens × inputPerMillion / 1e6 + expectedOutputTokens × outputPerMillion / 1e6
 *   ĉ_m = c_m / max over this request's members of c_m'                     (normalised cost)
 *   σ_m = sqrt(v_m (1 − v_m) / (n_m + α))                                    (spread)
 *   s_m = v_m − λ ĉ_m                                                        (score, set by clearMemoryBids)
 *
 * It reads `entry.agent`, `entry.outcome`, `entry.cost`, `entry.metadata` and `hit.score` only —
 * never `entry.kind` nor any dataset name: the router is task-free.
 */
import type { ModelPrice } from "../../budget/types.js";
import type { StrategySearchHit } from "../../memory/types.js";
import { MemoryEmbedderMismatchError } from "./errors.js";
import { priceTierPrior } from "./prior.js";

/** The marker of an outcome entry in `metadata.gavel`. */
export const OUTCOME_ENTRY_MARKER = "outcome";

/** What the estimate needs of the router's memory-bid settings (the resolved `memoryBids` option). */
export interface MemoryBidSettings {
  /** Pseudo-observations of the prior, α. */
  priorStrength: number;
  /** Explicit priors per member; a member without one gets {@link priceTierPrior}. */
  priors?: Readonly<Record<string, number>>;
  /** Output tokens assumed by the cold cost estimate. */
  expectedOutputTokens: number;
}

/** What the memory says about one member on one request. */
export interface MemberEvidence {
  member: string;
  /** v_m: similarity-weighted, prior-smoothed expected outcome, in [0, 1] for 0/1 outcomes. */
  value: number;
  /** n_m: the summed similarity of the member's evidence (0 when cold). */
  evidence: number;
  /** σ_m: the standard deviation of the value's Beta posterior. */
  spread: number;
  /** prior_m: the explicit prior, else the price-tier prior. */
  prior: number;
  /** c_m: expected USD of calling the member on this request. */
  expectedCostUsd: number;
  /** ĉ_m = c_m / the largest c over this request's members (0 when all are free). */
  normalisedCost: number;
  /** s_m = v_m − λ ĉ_m; {@link estimateMembers} sets it with λ = 0 (the value), `clearMemoryBids` with its λ. */
  score: number;
  /** How many neighbours were evidence (called, outcome known). */
  neighbours: number;
}

/** The input of {@link estimateMembers}. */
export interface EstimateInput {
  /** Per member name, its nearest entries (a `memory.search` filtered by `agent`). A missing member has no hits. */
  hits: ReadonlyMap<string, readonly StrategySearchHit[]>;
  /** The members available for this request, with their prices. */
  members: readonly { name: string; price: ModelPrice }[];
  /** Tokens of the request's prompt (the cold cost estimate's input side). */
  promptTokens: number;
  settings: MemoryBidSettings;
  /** The id of the router's embedder ({@link embedderIdOf}); every outcome hit must carry it. */
  embedderId: string;
}

/** β: pseudo-observations of the cold (price-based) cost estimate. */
const COST_PRIOR_STRENGTH = 1;

/**
 * Estimate every available member's value, evidence, spread and expected cost from its neighbours.
 * The returned `score` is the value (λ = 0); {@link clearMemoryBids} recomputes it with its λ.
 *
 * @throws MemoryEmbedderMismatchError when a hit's `metadata.embedder` differs from `embedderId`.
 * @example
 * ```ts
 * const vector = (await embeddings.embedDocuments([requestText(messages)]))[0];
 * const hits = new Map();
 * for (const { name } of members) hits.set(name, await memory.search({ vector, k: 32, filter: { agent: name } }));
 * const evidence = estimateMembers({
 *   hits, members, promptTokens: 120,
 *   settings: { priorStrength: 32, expectedOutputTokens: 256 },
 *   embedderId: embedderIdOf(embeddings),
 * });
 * ```
 */
export function estimateMembers(input: EstimateInput): MemberEvidence[] {
  const { hits, members, promptTokens, settings, embedderId } = input;
  const alpha = settings.priorStrength;
  const rows = members.map(({ name, price }) => {
    let weight = 0;
    let weightedOutcome = 0;
    let weightedCost = 0;
    let neighbours = 0;
    for (const hit of hits.get(name) ?? []) {
      const { entry } = hit;
      const metadata = entry.metadata;
      const embedder = metadata?.embedder;
      if (typeof embedder === "string" && embedder !== embedderId) {
        throw new MemoryEmbedderMismatchError(embedderId, embedder);
      }
      if (entry.agent !== name || metadata?.called !== true) continue;
      const outcome = entry.outcome;
      if (typeof outcome !== "number" || !Number.isFinite(outcome)) continue;
      const similarity = Math.max(0, hit.score);
      neighbours += 1;
      weight += similarity;
      weightedOutcome += similarity * outcome;
      weightedCost += similarity * (Number.isFinite(entry.cost) ? Math.max(0, entry.cost) : 0);
    }
    const prior = settings.priors?.[name] ?? priceTierPrior(price);
    const value = (weightedOutcome + alpha * prior) / (weight + alpha);
    const coldCost =
      (promptTokens * price.inputPerMillion + settings.expectedOutputTokens * price.outputPerMillion) / 1e6;
    const expectedCostUsd = (weightedCost + COST_PRIOR_STRENGTH * coldCost) / (weight + COST_PRIOR_STRENGTH);
    const bounded = Math.min(1, Math.max(0, value));
    const spread = Math.sqrt((bounded * (1 - bounded)) / (weight + alpha));
    return { member: name, value, evidence: weight, spread, prior, expectedCostUsd, neighbours };
  });
  const dearest = Math.max(0, ...rows.map((row) => row.expectedCostUsd));
  return rows.map((row) => ({
    ...row,
    normalisedCost: dearest > 0 ? row.expectedCostUsd / dearest : 0,
    score: row.value,
  }));
}

/**
 * The id an embedder is known by in outcome entries: its `id` when that is a string, else its class name.
 *
 * @example
 * ```ts
 * embedderIdOf(createHashingEmbeddings({ dimensions: 64 })); // "hashing-64"
 * embedderIdOf(new OpenAIEmbeddings()); // "OpenAIEmbeddings"
 * ```
 */
export function embedderIdOf(embeddings: object): string {
  const id = (embeddings as { id?: unknown }).id;
  if (typeof id === "string" && id.length > 0) return id;
  const name = (embeddings as { constructor?: { name?: unknown } }).constructor?.name;
  return typeof name === "string" && name.length > 0 ? name : "Object";
}
