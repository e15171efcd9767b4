import { describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createInMemoryStrategyMemory, entriesFromAuction } from "../../src/memory/index.js";
import type { StrategyMemory } from "../../src/memory/types.js";
import { AuctionRouter } from "../../src/router/index.js";
import { ScriptedHashingEmbeddings } from "../memory/scripted-embeddings.js";
import { CHEAP, callsOf, DEAR, gavelOf, scriptedMember, seededMemory } from "./scripted-pool.js";

const TASK = "Sum the even numbers below 100";
const likesFormula = (plan: string) => (plan.includes("formula") ? 5 : plan.includes("loop") ? 4 : 1);

describe("AuctionRouter: memory refinement", () => {
  it("a cheaper member's refined bid replaces the provisional winner when it scores better", async () => {
    const memory = await seededMemory();
    const small = scriptedMember("small", {
      plan: "Guess.",
      refined: "Apply the series formula.",
      score: likesFormula,
    });
    const large = scriptedMember("large", { plan: "Write a loop and add.", score: likesFormula });
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: small, price: CHEAP },
        { name: "large", model: large, price: DEAR },
      ],
      memory,
    });
    const answer = await router.invoke(TASK);
    const { auction } = gavelOf(answer);
    expect(auction.provisionalWinner).toBe("large");
    expect(auction.refinements).toHaveLength(1);
    expect(auction.refinements[0]).toMatchObject({ bidder: "small", pairs: 1, adopted: true });
    expect(auction.winner).toBe("small");
    expect(auction.winnerPlan).toBe("Apply the series formula.");
    // The refinement prompt quoted the past pair; only the cheaper member refined.
    expect(callsOf(small, "refine")[0]?.messages.at(-1)?.text).toContain("Use the arithmetic series formula.");
    expect(callsOf(large, "refine")).toHaveLength(0);
    // The winner executed conditioned on its refined plan.
    expect(
      callsOf(small, "answer")[0]?.messages.some((message) => message.text.includes("Apply the series formula.")),
    ).toBe(true);
    // The auction's plans are stored with roles.
    expect((await memory.get(`${auction.auctionId}:small`))?.role).toBe("winning");
    expect((await memory.get(`${auction.auctionId}:large`))?.role).toBe("losing");
  });

  it("a refined bid that is no better leaves the provisional winner", async () => {
    const memory = await seededMemory();
    const small = scriptedMember("small", { plan: "Guess.", refined: "Guess again.", score: likesFormula });
    const large = scriptedMember("large", { plan: "Use the formula.", score: likesFormula });
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: small, price: CHEAP },
        { name: "large", model: large, price: DEAR },
      ],
      memory,
    });
    const { auction } = gavelOf(await router.invoke(TASK));
    expect(auction.refinements[0]).toMatchObject({ bidder: "small", adopted: false });
    expect(auction.winner).toBe("large");
  });

  it("memory off or refinement off: no refinement call", async () => {
    const small = scriptedMember("small", { plan: "Guess.", score: likesFormula });
    const large = scriptedMember("large", { plan: "Use the formula.", score: likesFormula });
    const pool = [
      { name: "small", model: small, price: CHEAP },
      { name: "large", model: large, price: DEAR },
    ];
    expect(gavelOf(await new AuctionRouter({ pool }).invoke(TASK)).auction.refinementSkipped).toBe("no memory");
    const off = new AuctionRouter({ pool, memory: await seededMemory(), refinement: false });
    expect(gavelOf(await off.invoke(TASK)).auction.refinementSkipped).toBe("refinement off");
    expect(callsOf(small, "refine")).toHaveLength(0);
  });
});

describe("AuctionRouter: ledger and outcomes", () => {
  it("records the auction, its bids and every charge, and the outcome to ledger and memory", async () => {
    const ledger = createSqliteLedger({ path: ":memory:" });
    const memory = await seededMemory();
    const small = scriptedMember("small", { plan: "Use the formula.", score: likesFormula, answer: "2450" });
    const large = scriptedMember("large", { plan: "Write a loop.", score: likesFormula });
    let counter = 0;
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: small, price: CHEAP },
        { name: "large", model: large, price: DEAR },
      ],
      ledger,
      memory,
      generateId: () => `auction-${++counter}`,
    });
    const answer = await router.invoke(TASK);
    const { auction, usage } = gavelOf(answer);
    const stored = await ledger.getAuction("auction-1");
    expect(stored?.winners).toEqual(["small"]);
    expect(stored?.bids.map((bid) => bid.bidder).sort()).toEqual(["large", "small"]);
    expect(stored?.bids.find((bid) => bid.bidder === "small")?.value).toBeCloseTo(
      auction.bids.find((bid) => bid.bidder === "small")?.value ?? Number.NaN,
      12,
    );
    const labels = stored?.charges.map((charge) => charge.label).sort();
    expect(labels).toEqual(["answer", "jury", "jury", "plan", "plan"]);
    const charged = stored?.charges.reduce((sum, charge) => sum + charge.inputTokens + charge.outputTokens, 0);
    expect(charged).toBe(answer.usage_metadata?.total_tokens);
    expect(charged).toBe(usage.auction.total_tokens + usage.execution.total_tokens);

    expect(await router.recordOutcome("auction-1", { correct: true, label: "2450" })).toBe(true);
    expect((await ledger.getAuction("auction-1"))?.outcome?.correct).toBe(true);
    expect((await memory.get("auction-1:small"))?.outcome).toBe(1);
    await ledger.close();
  });
});

describe("AuctionRouter: memory use and eviction order", () => {
  /**
   * A memory bounded to 4 entries, on a counting clock: "similar" (a past pair for TASK, added
   * first: least recently used) and "other" (one lone plan, no pair, added second). The router's
   * own auction adds 2 more plans, so one past auction is evicted: the least recently used.
   */
  async function boundedMemory(): Promise<StrategyMemory> {
    let clock = 0;
    const memory = createInMemoryStrategyMemory({
      embeddings: new ScriptedHashingEmbeddings(),
      maxEntries: 4,
      now: () => ++clock,
    });
    await memory.add(
      entriesFromAuction({
        auctionId: "similar",
        task: "Sum the even numbers below 50",
        kind: "route",
        winner: "large",
        createdAt: 1,
        bids: [
          { agent: "small", plan: "Guess.", cost: 0.0001 },
          { agent: "large", plan: "Use the series formula.", cost: 0.001 },
        ],
      }),
    );
    await memory.add(
      entriesFromAuction({
        auctionId: "other",
        task: "Name a colour",
        kind: "route",
        winner: "small",
        createdAt: 2,
        bids: [{ agent: "small", plan: "Say blue.", cost: 0.0001 }],
      }),
    );
    return memory;
  }

  function routerOver(memory: StrategyMemory, largePlan: string) {
    const small = scriptedMember("small", {
      plan: "Guess.",
      refined: "Apply the series formula.",
      score: likesFormula,
    });
    const large = scriptedMember("large", { plan: largePlan, score: likesFormula });
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: small, price: CHEAP },
        { name: "large", model: large, price: DEAR },
      ],
      memory,
    });
    return { router, small };
  }

  it("a lookup that leads to no refinement leaves the eviction order unchanged", async () => {
    const memory = await boundedMemory();
    let lookups = 0;
    const counted: StrategyMemory = {
      ...memory,
      contrastivePairs: async (task, options) => {
        lookups += 1;
        return memory.contrastivePairs(task, options);
      },
    };
    // The jury prefers small's plan, and small is the cheapest: nobody refines.
    const { router, small } = routerOver(counted, "Guess twice.");
    const { auction } = gavelOf(await router.invoke(TASK));
    expect(auction.refinementSkipped).toBe("the provisional winner is the cheapest bidder");
    expect(lookups).toBe(1); // the lookup did run (early, overlapping the plans)
    expect(callsOf(small, "refine")).toHaveLength(0);
    // "similar" was looked up but not shown: still least recently used, so it is the one evicted.
    expect(await memory.get("similar:small")).toBeUndefined();
    expect(await memory.get("other:small")).toBeDefined();
    expect(await memory.size()).toBe(3);
  });

  it("pairs shown to a re-bidding member count as used: that auction survives the eviction", async () => {
    const memory = await boundedMemory();
    const { router, small } = routerOver(memory, "Write a loop and add.");
    const { auction } = gavelOf(await router.invoke(TASK));
    expect(auction.refinements[0]).toMatchObject({ bidder: "small", pairs: 1 });
    expect(callsOf(small, "refine")).toHaveLength(1);
    expect(await memory.get("similar:small")).toBeDefined();
    expect(await memory.get("other:small")).toBeUndefined();
  });

  it("a memory without markUsed is asked only when a refinement round runs", async () => {
    const memory = await boundedMemory();
    let lookups = 0;
    const legacy: StrategyMemory = {
      add: (entries) => memory.add(entries),
      search: (query) => memory.search(query),
      contrastivePairs: async (task, options) => {
        lookups += 1;
        return memory.contrastivePairs(task, options);
      },
      recordOutcome: (id, outcome) => memory.recordOutcome(id, outcome),
      get: (id) => memory.get(id),
      size: () => memory.size(),
      close: () => memory.close(),
    };
    await routerOver(legacy, "Guess twice.").router.invoke(TASK);
    expect(lookups).toBe(0);
    expect(await memory.get("similar:small")).toBeUndefined();
    await routerOver(legacy, "Write a loop and add.").router.invoke(TASK);
    expect(lookups).toBe(1);
  });
});
