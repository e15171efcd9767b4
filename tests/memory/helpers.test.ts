import { describe, expect, it } from "vitest";
import { entriesFromAuction } from "../../src/memory/auction-entries.js";
import { countPairs, pairsFromAuctions } from "../../src/memory/contrastive-pairs.js";
import { selectEvictions } from "../../src/memory/eviction.js";
import type { StrategyEntry } from "../../src/memory/types.js";
import { WriteQueue } from "../../src/memory/write-queue.js";

function entry(
  id: string,
  auctionId: string,
  role: StrategyEntry["role"],
  agent = id,
  plan = `plan ${id}`,
): StrategyEntry {
  return { id, auctionId, task: "t", kind: "k", agent, plan, role, cost: 1, createdAt: 0 };
}

describe("entriesFromAuction", () => {
  it("marks the winner winning, the others losing, a lone bid single", () => {
    const entries = entriesFromAuction({
      auctionId: "a",
      task: "task",
      kind: "gsm8k",
      winner: "b",
      createdAt: 5,
      bids: [
        { agent: "a", plan: "pa", cost: 1 },
        { agent: "b", plan: "pb", cost: 2, outcome: 1, metadata: { x: 1 } },
      ],
    });
    expect(entries).toEqual([
      {
        id: "a:a",
        auctionId: "a",
        task: "task",
        kind: "gsm8k",
        agent: "a",
        plan: "pa",
        role: "losing",
        cost: 1,
        createdAt: 5,
      },
      {
        id: "a:b",
        auctionId: "a",
        task: "task",
        kind: "gsm8k",
        agent: "b",
        plan: "pb",
        role: "winning",
        cost: 2,
        createdAt: 5,
        outcome: 1,
        metadata: { x: 1 },
      },
    ]);
    const lone = entriesFromAuction({
      auctionId: "s",
      task: "t",
      kind: "k",
      winner: "a",
      createdAt: 1,
      bids: [{ agent: "a", plan: "", cost: 0 }],
    });
    expect(lone[0]?.role).toBe("single");
  });
});

describe("pairsFromAuctions", () => {
  const auctions = [
    {
      auctionId: "near",
      score: 0.9,
      entries: [entry("w1", "near", "winning"), entry("l2", "near", "losing"), entry("l1", "near", "losing")],
    },
    { auctionId: "far", score: 0.2, entries: [entry("w", "far", "winning"), entry("l", "far", "losing", "l1")] },
  ];

  it("pairs each loser with each winner, nearest auction first, losers in id order", () => {
    const pairs = pairsFromAuctions(auctions, { k: 8 });
    expect(pairs.map((pair) => `${pair.auctionId}:${pair.losing.id}>${pair.winning.id}`)).toEqual([
      "near:l1>w1",
      "near:l2>w1",
      "far:l>w",
    ]);
    expect(pairsFromAuctions(auctions, { k: 2 })).toHaveLength(2);
    expect(countPairs(auctions[0]?.entries ?? [], undefined)).toBe(2);
  });

  it("keeps only the given agent's losses and skips empty plans", () => {
    expect(pairsFromAuctions(auctions, { k: 8, agent: "l1" }).map((pair) => pair.losing.id)).toEqual(["l1", "l"]);
    const blank = [
      { auctionId: "x", score: 1, entries: [entry("w", "x", "winning", "w", "  "), entry("l", "x", "losing")] },
    ];
    expect(pairsFromAuctions(blank, { k: 8 })).toEqual([]);
    expect(countPairs(blank[0]?.entries ?? [], undefined)).toBe(0);
  });
});

describe("selectEvictions", () => {
  const candidate = (id: string, auctionId: string, lastUsedAt: number, createdAt = 0) => ({
    id,
    auctionId,
    lastUsedAt,
    createdAt,
  });

  it("evicts nothing within the bound", () => {
    expect(selectEvictions([candidate("a", "A", 1)], 1)).toEqual([]);
  });

  it("evicts whole auctions, least recently used first, until within the bound", () => {
    const candidates = [
      candidate("a1", "A", 5),
      candidate("a2", "A", 1),
      candidate("b1", "B", 3),
      candidate("b2", "B", 3),
      candidate("c1", "C", 4),
    ];
    // A was used at 5 (its latest entry), B at 3, C at 4: B goes first.
    expect(selectEvictions(candidates, 3)).toEqual(["b1", "b2"]);
    expect(selectEvictions(candidates, 2).sort()).toEqual(["b1", "b2", "c1"]);
    expect(selectEvictions(candidates, 0)).toHaveLength(5);
  });

  it("breaks ties by creation time, then auction id", () => {
    const candidates = [candidate("x", "X", 1, 2), candidate("y", "Y", 1, 1), candidate("z", "Z", 1, 1)];
    expect(selectEvictions(candidates, 2)).toEqual(["y"]);
    expect(selectEvictions(candidates, 1)).toEqual(["y", "z"]);
  });
});

describe("WriteQueue", () => {
  it("runs tasks one at a time in order, and a failure does not stop the queue", async () => {
    const queue = new WriteQueue();
    const log: string[] = [];
    let running = 0;
    const task = (name: string, fail = false) =>
      queue.run(async () => {
        running += 1;
        expect(running).toBe(1);
        log.push(`start ${name}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        log.push(`end ${name}`);
        running -= 1;
        if (fail) throw new Error(name);
        return name;
      });
    const results = await Promise.allSettled([task("a"), task("b", true), task("c")]);
    expect(results.map((result) => result.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(log).toEqual(["start a", "end a", "start b", "end b", "start c", "end c"]);
    await queue.idle();
  });
});
