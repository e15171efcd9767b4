/**
 * The price-tier prior: what a member is worth before the memory holds any evidence for it, read
 * from its price alone. Dearer models answer better on average, so the prior is a straight line in
 * log-price, clipped away from certainty.
 */
import type { ModelPrice } from "../../budget/types.js";

/** Lowest and highest prior the price tier may give (never certainty either way). */
export const PRICE_TIER_PRIOR_RANGE = { min: 0.05, max: 0.95 } as const;

/**
 * Intercept and slope of the price-tier prior: `prior = intercept + slope · log10(outputPerMillion)`.
 *
 * FITTED by scripts/fit-price-tier-prior.ts: least squares of each model's accuracy on log10 of its
 * mean USD per million tokens (Σ cost_usd ÷ Σ tokens; the records carry no token counts, so the
 * prompt is counted as one human message with `countMessageTokens` and the response with
 * `countTextTokens`, as the eval's `RecordedChatModel` counts them). Data: data/routerbench/outcomes.jsonl.gz,
 * training half of the eval's default split (`splitPromptIds`, trainFraction 0.5, seed 0: 1,109
 * prompts), n = 11 models, R² = 0.19 (intercept 0.66681, slope 0.07117). Price explains little of
 * RouterBench accuracy (claude-v2 is dear and weak, Yi-34B cheap and strong): the prior is a weak
 * cold start that evidence soon outweighs. The regressor is a blended price; a member priced with a
 * separate, dearer output price reads a little higher (+0.04 for output at 4× the blend).
 */
export const PRICE_TIER_PRIOR: { readonly intercept: number; readonly slope: number } = {
  intercept: 0.6668,
  slope: 0.0712,
};

/**
 * A member's prior expected outcome from its price: `clip(a + b · log10(outputPerMillion), 0.05, 0.95)`
 * with `a`, `b` = {@link PRICE_TIER_PRIOR}. A price of 0 (a local model) reads as the cheapest tier
 * (log10 of 0.01 USD per million tokens).
 *
 * @example
 * ```ts
 * priceTierPrior({ inputPerMillion: 0.6, outputPerMillion: 0.6 }); // ≈ 0.651
 * priceTierPrior({ inputPerMillion: 12, outputPerMillion: 12 }); // ≈ 0.744
 * ```
 */
export function priceTierPrior(price: ModelPrice): number {
  const perMillion = Math.max(MIN_PRICE_PER_MILLION, price.outputPerMillion);
  const prior = PRICE_TIER_PRIOR.intercept + PRICE_TIER_PRIOR.slope * Math.log10(perMillion);
  return Math.min(PRICE_TIER_PRIOR_RANGE.max, Math.max(PRICE_TIER_PRIOR_RANGE.min, prior));
}

/** The price floor of the log: free and local models read as 0.01 USD per million tokens. */
const MIN_PRICE_PER_MILLION = 0.01;
