/**
 * One price table for the whole app: the budget's table (model prices and `"tool:<name>"` tool
 * prices side by side) is accepted by the router as it is by the middleware and the budget. The
 * router calls no tools: its tool entries are validated and ignored for the members' prices.
 */
import { describe, expect, it } from "vitest";
import { type BudgetPriceTable, createTokenBudget } from "../../src/budget/index.js";
import { ConfigError } from "../../src/errors.js";
import { tokenBudgetMiddleware } from "../../src/middleware/tokenBudget.js";
import { AuctionRouter, type RouterMetadata } from "../../src/router/index.js";
import { scriptedMember } from "./scripted-pool.js";

const prices: BudgetPriceTable = {
  "house-small": { inputPerMillion: 0.1, outputPerMillion: 0.4 },
  "house-large": { inputPerMillion: 2, outputPerMillion: 8 },
  "tool:web_search": { usdPerCall: 0.01, tokensPerCall: 300 },
};

function pool() {
  return [
    { name: "small", model: scriptedMember("house-small", { answer: "small answers" }) },
    { name: "large", model: scriptedMember("house-large", { answer: "large answers" }) },
  ];
}

describe("AuctionRouter prices: the budget's shared price table", () => {
  it("is accepted with its tool entries, by the router, the middleware and the budget alike", async () => {
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, prices });
    expect(() => tokenBudgetMiddleware({ budget, prices })).not.toThrow();
    const router = new AuctionRouter({ pool: pool(), prices, budget, jury: "none" });

    const answer = await router.invoke("What is 17 * 23?");

    // The members are priced from the table's model entries (the cheapest is the tie's fallback).
    const gavel = answer.response_metadata.gavel as RouterMetadata;
    expect(["small", "large"]).toContain(gavel.auction.winner);
    expect(answer.text).toMatch(/answers$/);
  });

  it("prices the members from the model entries, whatever tool entries sit beside them", () => {
    // Without the table the two house models have no price: the router refuses them.
    expect(() => new AuctionRouter({ pool: pool() })).toThrow(/no price for model "house-small"/);
    expect(() => new AuctionRouter({ pool: pool(), prices })).not.toThrow();
  });

  it("still refuses a malformed tool entry, naming its key and the expected shape", () => {
    const bad = { ...prices, "tool:web_search": { inputPerMillion: 3, outputPerMillion: 12 } };
    let caught: unknown;
    try {
      new AuctionRouter({ pool: pool(), prices: bad as unknown as BudgetPriceTable });
    } catch (error) {
      caught = error;
    }
    expect(ConfigError.isInstance(caught)).toBe(true);
    expect((caught as Error).message).toMatch(/prices\.tool:web_search/);
    expect((caught as Error).message).toMatch(/usdPerCall/);
  });
});
