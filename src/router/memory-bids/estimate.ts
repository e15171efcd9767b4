/**
 * The estimate: per member, what its nearest past outcomes say it is worth on this request and
 * what it will cost. Pure: the caller embeds the request and searches the memory (one search per
 * member, filtered by agent, k = `neighbours`) and passes the hits in.
 *
 * Two scales, both task-free. Per member m, over its hits j that are evidence (`metadata.called ===
 * true` and a numeric `outcome`), most similar first: the WIDE set W is all of them (the search's k,
 * `neighbours`, 96 by default), the LOCAL set L the nearest k_local of them (`localNeighbours`, 96):
 *   w_j = max(0, similarity_j)^p                                             (kernel; p = similarityPower, 1)
 *   r_m = (Σ_W w_j y_j + α_r · prior_m) / (Σ_W w_j + α_r)                    (regional mean; α_r = priorStrength, 32)
 *   n_m = Σ_L w_j                                                            (evidence)
 *   v_m = (Σ_L w_j y_j + α_l · r_m) / (n_m + α_l)                            (value; α_l = localStrength, 8)
 *   c_m = (Σ_L w_j cost_j + β · c0_m) / (n_m + β)      β = 1                 (expected USD)
 *   c0_m = promptTokens × inputPerMillion / 1e6 + expectedOutputTokens × outputPerMillion / 1e6
 *   ĉ_m = c_m / max over this request's members of c_m'                     (normalised cost)
 *   σ_m = sqrt(v_m (1 − v_m) / (n_m + α_l))                                  (spread)
 *   s_m = v_m − λ ĉ_m                                                        (score, set by clearMemoryBids)
 * The regional mean replaces a per-task prior without a task label: a wide neighbourhood of a request
 * is mostly requests of its kind, so r_m is what the member scored on such requests; the price-tier
 * prior (R² 0.19 over RouterBench's models) only fills in where the memory is thin. With α_r = ∞ and
 * k_local ≥ k it is the single-scale estimate it replaces (v = (Σ w y + α prior) / (n + α)). With the
 * defaults (k_local = k) the two sets coincide: the value is the wide neighbourhood's mean, smoothed
 * toward itself-toward-the-prior — the tuning found the width, not a separate local scale, to matter.
 *
 * TUNED (scripts/tune-memory-bids.ts): the shipped RouterBench outcomes, training half of the eval's
 * split (splitPromptIds, trainFraction 0.5, seed 0; 1,105 prompts every model answered), each prompt
 * replayed leave-one-out against the training memory (the eval's `leaveOneOutMemory`) with USE-Lite
 * vectors, every shape scored by the Pareto area of mode "memory"'s λ sweep (the eval's λ grid, from
 * the cheapest model's mean cost to GPT-4's), with and without agreement cascades bidding (`--cascades`:
 * the router's default with ≥ 3 members; a winning cascade replayed on the recorded answers). Grids:
 * k ∈ {32…256}, k_local ∈ {16…96}, α_l ∈ {2…512}, α_r ∈ {0.5…∞}, p ∈ {1, 2, 4}.
 * - Members only: single scale (k 32, α 32 toward the price tier) area 0.765, best accuracy 0.787 at
 *   ≤ 15% and 0.807 at ≤ 50% of GPT-4's cost (GPT-4: 0.874); chosen (k 96, k_local 96, α_l 8, α_r 32,
 *   p 1) 0.794, 0.804, 0.851. The width carries the gain (0.765 / 0.787 / 0.793 / 0.793 at k 32 / 64 /
 *   96 / 128); a sharper kernel (p 2–4) never helped; k 192–256 added ≤ 0.001.
 * - With cascades (what the router runs): α_l decides whether the λ sweep reaches the cheap end — a
 *   large α_l (128, best members-only by 0.001) left no point below 25% of GPT-4's cost (area 0.654);
 *   α_l 8: area 0.712 (0.722 at k 128), dense λ grid 0.796, 0.799 at ≤ 15%, 0.852 at ≤ 50%.
 * The hashing embedder agreed members-only (k 96, k_local 64, α_l 128: 0.763 → 0.780). Never tuned
 * on the held-out half.
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
  /** k_local: evidence neighbours of the local scale. Default {@link DEFAULT_ESTIMATE_SHAPE}. */
  localNeighbours?: number;
  /** α_l: pseudo-observations of the regional mean in the local value. Default {@link DEFAULT_ESTIMATE_SHAPE}. */
  localStrength?: number;
  /** p of the similarity kernel w = max(0, similarity)^p. Default {@link DEFAULT_ESTIMATE_SHAPE}. */
  similarityPower?: number;
}

/** The two-scale shape of the estimate (the optional fields of {@link MemoryBidSettings}). */
export type EstimateShape = Pick<MemoryBidSettings, "localNeighbours" | "localStrength" | "similarityPower">;

/**
 * Defaults of the estimate's shape: all the searched neighbours are local (k_local 96 = the default
 * `neighbours`), the local value weighs the regional mean as 8 observations, the kernel is the plain
 * similarity. TUNED by scripts/tune-memory-bids.ts with `DEFAULT_MEMORY_BIDS.neighbours` (96) on the
 * RouterBench training half, leave-one-out, cascades bidding (see the file header for the figures).
 *
 * @example
 * ```ts
 * DEFAULT_ESTIMATE_SHAPE.localStrength; // 8
 * estimateMembers({ ...input, settings: { ...settings, localNeighbours: 16, localStrength: 32 } });
 * ```
 */
export const DEFAULT_ESTIMATE_SHAPE: Readonly<Required<EstimateShape>> = Object.freeze({
  localNeighbours: 96,
  localStrength: 8,
  similarityPower: 1,
});

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
  /** r_m: the regional mean the local value is smoothed toward (set by {@link estimateMembers}). */
  regional?: number;
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
  const shape = estimateShape(settings);
  const alpha = shape.localStrength;
  const rows = members.map(({ name, price }) => {
    const { wideWeight, wideOutcome, weight, weightedOutcome, weightedCost, neighbours } = sums(
      hits.get(name) ?? [],
      name,
      embedderId,
      shape,
    );
    const prior = settings.priors?.[name] ?? priceTierPrior(price);
    const alphaRegional = settings.priorStrength;
    const regional =
      alphaRegional === Number.POSITIVE_INFINITY || !(wideWeight + alphaRegional > 0)
        ? prior
        : (wideOutcome + alphaRegional * prior) / (wideWeight + alphaRegional);
    const value = weight + alpha > 0 ? (weightedOutcome + alpha * regional) / (weight + alpha) : regional;
    const coldCost =
      (promptTokens * price.inputPerMillion + settings.expectedOutputTokens * price.outputPerMillion) / 1e6;
    const expectedCostUsd = (weightedCost + COST_PRIOR_STRENGTH * coldCost) / (weight + COST_PRIOR_STRENGTH);
    const bounded = Math.min(1, Math.max(0, value));
    const spread = weight + alpha > 0 ? Math.sqrt((bounded * (1 - bounded)) / (weight + alpha)) : 0.5;
    // Every field set here, in one shape: `normalisedCost` once the dearest is known (a spread of
    // each row into a new object cost more than the rest of the estimate).
    const row: MemberEvidence = {
      member: name,
      value,
      evidence: weight,
      spread,
      prior,
      regional,
      expectedCostUsd,
      normalisedCost: 0,
      score: value,
      neighbours,
    };
    return row;
  });
  const dearest = Math.max(0, ...rows.map((row) => row.expectedCostUsd));
  if (dearest > 0) for (const row of rows) row.normalisedCost = row.expectedCostUsd / dearest;
  return rows;
}

/** The sums of one member's evidence over the wide (all) and local (nearest k_local) neighbours. */
interface EvidenceSums {
  wideWeight: number;
  wideOutcome: number;
  weight: number;
  weightedOutcome: number;
  weightedCost: number;
  /** How many neighbours are local evidence. */
  neighbours: number;
}

/**
 * Whether `hit` is evidence for `member` (called, a finite outcome); throws on another embedder's
 * entry (checked on every hit, evidence or not).
 */
function isEvidence(hit: StrategySearchHit, member: string, embedderId: string): boolean {
  const { entry } = hit;
  const metadata = entry.metadata;
  const embedder = metadata?.embedder;
  if (typeof embedder === "string" && embedder !== embedderId) {
    throw new MemoryEmbedderMismatchError(embedderId, embedder);
  }
  if (entry.agent !== member || metadata?.called !== true) return false;
  const outcome = entry.outcome;
  return typeof outcome === "number" && Number.isFinite(outcome);
}

/**
 * The evidence sums of one member's hits, most similar first. Hits come most similar first from
 * every backend, so they are summed in place, in one pass; when they are out of order they are
 * summed again after a stable sort (the order, hence the sums, of sorting always). A row is local
 * when fewer than k_local evidence rows precede it (k_local ≥ the evidence: all of them).
 */
function sums(
  hits: readonly StrategySearchHit[],
  member: string,
  embedderId: string,
  shape: Required<EstimateShape>,
): EvidenceSums {
  const result = sumInOrder(hits, member, embedderId, shape);
  if (result !== undefined) return result;
  const sorted = hits
    .filter((hit) => isEvidence(hit, member, embedderId))
    .sort((left, right) => similarityOf(right) - similarityOf(left));
  return sumInOrder(sorted, member, embedderId, shape) as EvidenceSums;
}

/** The sums over `hits` as they come, or `undefined` when their evidence is not most similar first. */
function sumInOrder(
  hits: readonly StrategySearchHit[],
  member: string,
  embedderId: string,
  shape: Required<EstimateShape>,
): EvidenceSums | undefined {
  const local = shape.localNeighbours;
  let wideWeight = 0;
  let wideOutcome = 0;
  let weight = 0;
  let weightedOutcome = 0;
  let weightedCost = 0;
  let position = 0;
  let previous = Number.POSITIVE_INFINITY;
  for (const hit of hits) {
    if (!isEvidence(hit, member, embedderId)) continue;
    const similarity = similarityOf(hit);
    if (similarity > previous) return undefined;
    previous = similarity;
    const { entry } = hit;
    const outcome = entry.outcome as number;
    const rowWeight = kernel(similarity, shape.similarityPower);
    wideWeight += rowWeight;
    wideOutcome += rowWeight * outcome;
    if (position < local) {
      const cost = Number.isFinite(entry.cost) ? Math.max(0, entry.cost) : 0;
      weight += rowWeight;
      weightedOutcome += rowWeight * outcome;
      weightedCost += rowWeight * cost;
    }
    position += 1;
  }
  return { wideWeight, wideOutcome, weight, weightedOutcome, weightedCost, neighbours: Math.min(position, local) };
}

/** A hit's similarity, 0 when its score is not finite. */
function similarityOf(hit: StrategySearchHit): number {
  return Number.isFinite(hit.score) ? hit.score : 0;
}

/** The kernel: w = max(0, similarity)^p. */
function kernel(similarity: number, power: number): number {
  const positive = Math.max(0, similarity);
  return power === 1 ? positive : positive ** power;
}

/** The estimate's shape with defaults filled in (see {@link DEFAULT_ESTIMATE_SHAPE}). */
export function estimateShape(settings: MemoryBidSettings): Required<EstimateShape> {
  const shape = {
    localNeighbours: settings.localNeighbours ?? DEFAULT_ESTIMATE_SHAPE.localNeighbours,
    localStrength: settings.localStrength ?? DEFAULT_ESTIMATE_SHAPE.localStrength,
    similarityPower: settings.similarityPower ?? DEFAULT_ESTIMATE_SHAPE.similarityPower,
  };
  if (!(shape.localNeighbours >= 1)) {
    throw new RangeError(`localNeighbours must be ≥ 1, got ${shape.localNeighbours}: give a count of neighbours`);
  }
  if (!(shape.localStrength >= 0 && Number.isFinite(shape.localStrength))) {
    throw new RangeError(`localStrength must be a finite number ≥ 0, got ${shape.localStrength}`);
  }
  if (!(settings.priorStrength >= 0)) {
    throw new RangeError(`priorStrength must be ≥ 0, got ${settings.priorStrength}`);
  }
  if (!(shape.similarityPower > 0 && Number.isFinite(shape.similarityPower))) {
    throw new RangeError(`similarityPower must be a finite number > 0, got ${shape.similarityPower}`);
  }
  return shape;
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
