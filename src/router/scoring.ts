/**
 * SALE's cost and value of one bid, and the bid amount the market core clears. Pure.
 *
 * - `C = w_c · pricePerOutputToken · |plan|` (USD per token × plan tokens, times w_c)
 * - `V = w_h · H + Σ_j w_j · γ_j`, γ_j = juror j's score / 5, w_j = `weights.jury[j]` or
 *   `1 / jury size`. When some jurors gave a plan no valid score, the jury term is the weighted
 *   mean of the scores it did get times the total jury weight (missing scores are imputed by
 *   that mean), so a failed juror does not penalise one plan more than another.
 * - Winner = argmin (C − V) = argmax (V − C).
 * - Bid amount = (V − C) − min over the auction's bids of (V − C): non-negative, and monotone in
 *   V − C, so a highest-bid-wins clearing picks argmin C − V, and equal scores tie exactly and
 *   go to the market core's seeded tie rule.
 */
import type { RouterWeights } from "./options.js";

/** The parts of one bid's score. */
export interface BidScore {
  /** C. */
  cost: number;
  /** V. */
  value: number;
  /** V − C (higher is better). */
  score: number;
  /** Σ_j w_j γ_j after imputation. */
  juryTerm: number;
}

/** Weight of juror `juror` in a jury of `jurors`. */
function jurorWeight(weights: RouterWeights, juror: string, jurors: readonly string[]): number {
  return weights.jury[juror] ?? (jurors.length > 0 ? 1 / jurors.length : 0);
}

/**
 * Score one bid.
 *
 * @param scores Likert scores 0–5 by juror (jurors without a valid score are absent).
 * @example
 * scoreBid({ cost: 100, entropy: 0.1, jury: {} }, { pricePerOutputToken: 10e-6, planTokens: 100, entropy: 0.5, scores: { a: 5, b: 3 }, jurors: ["a", "b"] });
 * // cost 0.1, juryTerm 0.8, value 0.85, score 0.75
 */
export function scoreBid(
  weights: RouterWeights,
  bid: {
    pricePerOutputToken: number;
    planTokens: number;
    entropy: number;
    scores: Readonly<Record<string, number>>;
    jurors: readonly string[];
  },
): BidScore {
  const cost = weights.cost * bid.pricePerOutputToken * bid.planTokens;
  let weighted = 0;
  let availableWeight = 0;
  let totalWeight = 0;
  for (const juror of bid.jurors) {
    const weight = jurorWeight(weights, juror, bid.jurors);
    totalWeight += weight;
    const score = bid.scores[juror];
    if (score === undefined) continue;
    weighted += weight * (score / 5);
    availableWeight += weight;
  }
  const juryTerm = availableWeight === 0 ? 0 : (weighted / availableWeight) * totalWeight;
  const value = weights.entropy * bid.entropy + juryTerm;
  return { cost, value, score: value - cost, juryTerm };
}

/** Bid amounts for the market core: each score minus the lowest score. */
export function bidAmounts(scores: readonly number[]): number[] {
  if (scores.length === 0) return [];
  const lowest = Math.min(...scores);
  return scores.map((score) => score - lowest);
}
