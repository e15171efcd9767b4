import { describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createAuctionDebate } from "../../src/debate/index.js";
import { scriptedAgents, usageCounter } from "./scripted-agents.js";

describe("auction debate with a ledger", () => {
  it("records every auction and charge; settled spend per agent matches the state", async () => {
    const ledger = createSqliteLedger({ path: ":memory:" });
    const { agents } = scriptedAgents();
    const counter = usageCounter();
    const debate = createAuctionDebate({ agents, budget: 4000, ledger });
    const result = await debate.invoke(
      { question: "What is 6 times 7?", exampleId: "example-1" },
      {
        callbacks: [counter.handler],
      },
    );

    expect(result.rounds.length).toBeGreaterThan(1);
    const reservationIds: string[] = [];
    for (const round of result.rounds) {
      const stored = await ledger.getAuction(round.auctionId ?? "");
      const settled = stored?.charges.filter((charge) => charge.kind === "settle") ?? [];
      reservationIds.push(...settled.map((charge) => charge.reservationId ?? ""));
      expect(stored?.kind).toBe("debate");
      expect(stored?.winners).toEqual(round.outcome?.winners);
      expect(stored?.clearingPrice).toBe(round.outcome?.clearingPrice);
      expect(stored?.scope).toEqual({ kind: "example", id: "example-1" });
      expect(stored?.bids.length).toBe(3);
      expect(stored?.charges.filter((charge) => charge.kind === "settle").length).toBe(3 + round.speakers.length);
    }
    // One reservation per settled call, never reused across rounds (each round has its own budget object).
    expect(reservationIds.every((id) => id.length > 0)).toBe(true);
    expect(new Set(reservationIds).size).toBe(reservationIds.length);
    const spend = await ledger.spend({ by: "agent" });
    for (const row of spend) {
      const usage = result.usage[row.key ?? ""];
      expect(row.inputTokens).toBe(usage?.promptTokens);
      expect(row.outputTokens).toBe(usage?.completionTokens);
    }
    expect(spend.reduce((sum, row) => sum + row.totalTokens, 0)).toBe(counter.tokens);
    await ledger.close();
  });
});
