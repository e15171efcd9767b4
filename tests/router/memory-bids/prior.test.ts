import { describe, expect, it } from "vitest";
import { PRICE_TIER_PRIOR, priceTierPrior } from "../../../src/router/memory-bids/index.js";

const price = (perMillion: number) => ({ inputPerMillion: perMillion, outputPerMillion: perMillion });

describe("priceTierPrior", () => {
  it("is the fitted line in log10 of the output price", () => {
    expect(priceTierPrior(price(1))).toBeCloseTo(PRICE_TIER_PRIOR.intercept, 12);
    expect(priceTierPrior(price(10))).toBeCloseTo(PRICE_TIER_PRIOR.intercept + PRICE_TIER_PRIOR.slope, 12);
    expect(priceTierPrior({ inputPerMillion: 1000, outputPerMillion: 0.1 })).toBeCloseTo(
      PRICE_TIER_PRIOR.intercept - PRICE_TIER_PRIOR.slope,
      12,
    );
  });

  it("rises with price and is clipped to [0.05, 0.95]; a free model reads as 0.01 USD per million", () => {
    expect(PRICE_TIER_PRIOR.slope).toBeGreaterThan(0);
    expect(priceTierPrior(price(12))).toBeGreaterThan(priceTierPrior(price(0.2)));
    expect(priceTierPrior(price(1e9))).toBe(0.95);
    expect(priceTierPrior(price(0))).toBeCloseTo(PRICE_TIER_PRIOR.intercept - 2 * PRICE_TIER_PRIOR.slope, 12);
    for (const perMillion of [0, 1e-6, 0.01, 0.5, 3, 60, 1e12]) {
      const prior = priceTierPrior(price(perMillion));
      expect(prior).toBeGreaterThanOrEqual(0.05);
      expect(prior).toBeLessThanOrEqual(0.95);
    }
  });
});
