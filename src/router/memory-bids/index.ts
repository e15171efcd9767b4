/**
 * Memory bids: the router's pure core for answering from experience. Every available member bids
 * with what the strategy memory's nearest past outcomes say it is worth on this request, minus λ
 * times its normalised expected cost; the market core clears the auction. No model is called to
 * bid. Read the folder top to bottom:
 *
 * 1. `entries.ts` — what is embedded and stored: `requestText(messages)` (the last human message
 *    through `promptTail`), `outcomeEntry(...)` (one `StrategyEntry` per (auction, member), id
 *    `auctionId:member`, metadata `{ gavel: "outcome", embedder, called, answer? }`) and
 *    `learnOutcomes(memory, records, { embeddings })` (recorded outcomes → evidence, one auction
 *    `train:<prompt_id>` per prompt).
 * 2. `prior.ts` — `priceTierPrior(price)`: a member's value before any evidence,
 *    clip(a + b · log10(outputPerMillion), 0.05, 0.95), a and b fitted on RouterBench (`PRICE_TIER_PRIOR`).
 * 3. `estimate.ts` — `estimateMembers(...)`: per member m over its neighbours j that are evidence
 *    (`metadata.called === true` and a numeric `outcome`; never `entry.kind`), two scales: W = all
 *    the searched hits (`neighbours`, 96), L = the nearest `localNeighbours` (96) of them:
 *      w_j = max(0, similarity_j)^p                                    kernel (p = similarityPower, 1)
 *      r_m = (Σ_W w_j y_j + α_r prior_m) / (Σ_W w_j + α_r)             regional mean (α_r = priorStrength, 32)
 *      n_m = Σ_L w_j                                                   evidence
 *      v_m = (Σ_L w_j y_j + α_l r_m) / (n_m + α_l)                     value (α_l = localStrength, 8)
 *      c_m = (Σ_L w_j cost_j + c0_m) / (n_m + 1)                       expected USD (c0_m from the price)
 *      ĉ_m = c_m / max over this request's members c_m'                normalised cost
 *      σ_m = sqrt(v_m (1 − v_m) / (n_m + α_l))                         spread
 *    The shape is tuned leave-one-out on the RouterBench training half (scripts/tune-memory-bids.ts).
 *    A hit written by another embedder throws `MemoryEmbedderMismatchError`.
 * 4. `clear.ts` — `clearMemoryBids(bids, { lambda, seed, explore? })`: s_m = v_m − λ ĉ_m,
 *    bid = max(0, s_m + λ), first price, one slot, seeded ties; ε exploration from the caller's draw.
 * 5. `cascade.ts` — `estimateCascades(...)`: agreement cascades `cascade(a + b → top)` (two cheap
 *    members; the most valued one when their answers disagree) bid beside the members, valued on the
 *    neighbour auctions where both rungs answered (their stored answers agree → b's outcome, else the
 *    top's), smoothed toward the top's value − 0.02.
 * 6. `confidence.ts` — `"auto"` mode's rule: confident ⇔ n_w ≥ minEvidence and σ_w ≤ maxSpread
 *    (`isConfident`), fitted on replayed training prompts by `fitConfidenceRule`.
 * 7. `escalation.ts` + `answers.ts` — when unsure: the two cheapest members, then the best bid of
 *    the rest (`escalationLadder`); two rungs agree when `extractAnswer` reads the same letter or number.
 *    When the auction's winner is the cheapest member, it answers alone (a climb only buys dearer answers).
 * 8. `errors.ts` — `MemoryEmbedderMismatchError`, `RouterOutcomeError`.
 *
 * The router (src/router/router.ts) does the I/O: embeds once, searches the memory per member,
 * calls the winner (or the ladder), writes outcome entries and records outcomes.
 */
export { answersMatch, extractAnswer } from "./answers.js";
export {
  type CascadeEvidence,
  type CascadePrior,
  cascadeName,
  DEFAULT_CASCADE_COST_SHARE,
  type EstimateCascadesInput,
  estimateCascades,
} from "./cascade.js";
export { type ClearMemoryBidsOptions, clearMemoryBids, type MemoryBidsClearing } from "./clear.js";
export {
  type ConfidenceGrid,
  type ConfidenceRule,
  type ConfidenceSample,
  DEFAULT_CONFIDENCE_GRID,
  DEFAULT_CONFIDENCE_RULE,
  type FitConfidenceRuleOptions,
  fitConfidenceRule,
  isConfident,
  type PathResult,
} from "./confidence.js";
export {
  type EmbedderLike,
  type LearnableOutcome,
  type LearnOutcomesOptions,
  learnOutcomes,
  type OutcomeEntryInput,
  outcomeEntry,
  promptTail,
  requestText,
} from "./entries.js";
export { MemoryEmbedderMismatchError, RouterOutcomeError, type RouterOutcomeReason } from "./errors.js";
export { type EscalationLadder, escalationLadder } from "./escalation.js";
export {
  DEFAULT_ESTIMATE_SHAPE,
  type EstimateInput,
  type EstimateShape,
  embedderIdOf,
  estimateMembers,
  estimateShape,
  type MemberEvidence,
  type MemoryBidSettings,
  OUTCOME_ENTRY_MARKER,
} from "./estimate.js";
export { PRICE_TIER_PRIOR, PRICE_TIER_PRIOR_RANGE, priceTierPrior } from "./prior.js";
