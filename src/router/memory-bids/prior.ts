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
 * FITTED (placeholder until scripts/fit-price-tier-prior.ts runs; see the provenance below).
 */
export const PRICE_TIER_PRIOR: { readonly intercept: number; readonly slope: number } = {
  intercept: 0.6,
  slope: 0.1,
};

/**
 * A member's prior expected outcome from its price: `clip(a + b · log10(outputPerMillion), 0.05, 0.95)`
 * with `a`, `b` = {@link PRICE_TIER_PRIOR}. A price of 0 (a local model) reads as the cheapest tier
 * (log10 of 0.01 USD per million tokens).
 *
 * @example
 * ```ts
 * priceTierPrior({ inputPerMillion: 0.15, outputPerMillion: 0.6 }); // ≈ 0.6 (a mini model)
 * ```
 */
export function priceTierPrior(price: ModelPrice): number {
  const perMillion = Math.max(MIN_PRICE_PER_MILLION, price.outputPerMillion);
  const prior = PRICE_TIER_PRIOR.intercept + PRICE_TIER_PRIOR.slope * Math.log10(perMillion);
  return Math.min(PRICE_TIER_PRIOR_RANGE.max, Math.max(PRICE_TIER_PRIOR_RANGE.min, prior));
}

/** The price floor of the log: free and local models read as 0.01 USD per million tokens. */
const MIN_PRICE_PER_MILLION = 0.01;
