import { describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { AuctionRouter, type RouterMetadata } from "../../src/router/index.js";
import { CHEAP, DEAR, gavelOf, scriptedMember, seededMemory } from "./scripted-pool.js";

const TASK = "Sum the even numbers below 100";
const likesFormula = (plan: string) => (plan.includes("formula") ? 5 : plan.includes("loop") ? 4 : 1);

function pool() {
  const small = scriptedMember("small", {
    plan: "Guess.",
    refined: "Apply the series formula.",
    score: likesFormula,
    answer: "The even numbers below 100 sum to 2450, by the arithmetic series formula.",
  });
  const large = scriptedMember("large", { plan: "Write a loop and add.", score: likesFormula });
  return [
    { name: "small", model: small, price: CHEAP },
    { name: "large", model: large, price: DEAR },
  ];
}

describe("AuctionRouter → ledger: auction overhead", () => {
  it("the overhead share the ledger reports equals the router's usage split, per auction and per run", async () => {
    const ledger = createSqliteLedger({ path: ":memory:" });
    let counter = 0;
    const generateId = () => `auction-${++counter}`;
    const runA = new AuctionRouter({
      pool: pool(),
      ledger,
      memory: await seededMemory(),
      budgetScopes: { run: "run-A" },
      generateId,
    });
    const runB = new AuctionRouter({ pool: pool(), ledger, jury: "none", budgetScopes: { run: "run-B" }, generateId });

    const usages = new Map<string, RouterMetadata["usage"]>();
    for (const router of [runA, runA, runB]) {
      const { auction, usage } = gavelOf(await router.invoke(TASK));
      usages.set(auction.auctionId, usage);
    }
    // The refinement happened, so its tokens are part of what must be split.
    expect(usages.get("auction-1")?.auction.total_tokens).toBeGreaterThan(0);
    const first = await ledger.getAuction("auction-1");
    expect(first?.charges.map((charge) => charge.label)).toContain("refine");

    const byAuction = await ledger.overhead({ by: "auction" });
    expect(byAuction.map((row) => row.key)).toEqual(["auction-1", "auction-2", "auction-3"]);
    for (const row of byAuction) {
      const usage = usages.get(row.key ?? "") as RouterMetadata["usage"];
      expect(row.overheadTokens).toBe(usage.auction.total_tokens);
      expect(row.answerTokens).toBe(usage.execution.total_tokens);
      expect(row.otherTokens).toBe(0);
      expect(row.overheadShare).toBeCloseTo(usage.auctionShare, 12);
      expect(row.overheadUsd).toBeCloseTo(usage.usd.auction, 15);
      expect(row.answerUsd).toBeCloseTo(usage.usd.execution, 15);
    }

    const byRun = await ledger.overhead();
    expect(byRun.map((row) => [row.key, row.auctions])).toEqual([
      ["run-A", 2],
      ["run-B", 1],
    ]);
    const sum = (ids: string[], pick: (usage: RouterMetadata["usage"]) => number) =>
      ids.reduce((total, id) => total + pick(usages.get(id) as RouterMetadata["usage"]), 0);
    const runAOverhead = sum(["auction-1", "auction-2"], (usage) => usage.auction.total_tokens);
    const runAAnswer = sum(["auction-1", "auction-2"], (usage) => usage.execution.total_tokens);
    expect(byRun[0]).toMatchObject({ overheadTokens: runAOverhead, answerTokens: runAAnswer });
    expect(byRun[0]?.overheadShare).toBeCloseTo(runAOverhead / (runAOverhead + runAAnswer), 12);
    expect(byRun[0]?.overheadByLabel.refine).toBeGreaterThan(0);
    // Without a jury, run B's overhead is its plans alone.
    expect(Object.keys(byRun[1]?.overheadByLabel ?? {})).toEqual(["plan"]);
    expect(byRun[1]?.overheadShare).toBeCloseTo(usages.get("auction-3")?.auctionShare ?? Number.NaN, 12);
    await ledger.close();
  });
});
