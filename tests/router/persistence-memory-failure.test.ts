/**
 * The strategy-memory write after an answered auction never fails the request: a memory whose
 * `add` rejects (an embedder down, a locked folder) is reported as a process warning
 * (`GavelMemoryWarning`, `GAVEL_MEMORY_FAILED`) and `invoke` / `stream` return the paid answer.
 */
import { describe, expect, it } from "vitest";
import type { StrategyMemory } from "../../src/memory/types.js";
import { AuctionRouter } from "../../src/router/index.js";
import { CHEAP, DEAR, gavelOf, scriptedMember } from "./scripted-pool.js";

/** A memory that serves reads (no pairs yet) and refuses every write, counting the attempts. */
function refusingMemory() {
  const attempts: number[] = [];
  const memory = {
    add: async (entries: readonly unknown[]) => {
      attempts.push(entries.length);
      throw new Error("the embedding service is down");
    },
    contrastivePairs: async () => [],
    recordOutcome: async () => false,
  } as unknown as StrategyMemory;
  return { memory, attempts };
}

function pool() {
  const likesVerify = (plan: string) => (plan.includes("verify") ? 5 : 2);
  return [
    {
      name: "small",
      model: scriptedMember("small", { plan: "Guess.", score: likesVerify, answer: "small says 2450" }),
      price: CHEAP,
    },
    {
      name: "large",
      model: scriptedMember("large", { plan: "Sum, then verify.", score: likesVerify, answer: "large says 2450" }),
      price: DEAR,
    },
  ];
}

/** The process warnings emitted while `run` runs (and on the tick after it). */
async function warningsDuring<T>(run: () => Promise<T>): Promise<{ result: T; warnings: Error[] }> {
  const warnings: Error[] = [];
  const onWarning = (warning: Error) => warnings.push(warning);
  process.on("warning", onWarning);
  try {
    const result = await run();
    await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
    return { result, warnings };
  } finally {
    process.off("warning", onWarning);
  }
}

describe("AuctionRouter: a strategy memory that refuses the write after an answer", () => {
  it("invoke resolves with the answer and the failure is reported once, naming the auction", async () => {
    const { memory, attempts } = refusingMemory();
    const router = new AuctionRouter({ pool: pool(), memory });

    const { result: reply, warnings } = await warningsDuring(() => router.invoke("Sum the even numbers below 100"));

    expect(reply.text).toBe("large says 2450");
    expect(attempts).toEqual([2]); // the write was attempted with both plans
    const reported = warnings.filter((warning) => warning.name === "GavelMemoryWarning");
    expect(reported).toHaveLength(1);
    expect((reported[0] as Error & { code?: string }).code).toBe("GAVEL_MEMORY_FAILED");
    expect(reported[0]?.message).toMatch(/Strategy memory add failed: .*the embedding service is down/);
    expect(reported[0]?.message).toContain(gavelOf(reply).auction.auctionId);
  });

  it("stream delivers the whole answer and the failure is reported", async () => {
    const { memory } = refusingMemory();
    const router = new AuctionRouter({ pool: pool(), memory });

    const { result: text, warnings } = await warningsDuring(async () => {
      let streamed = "";
      for await (const chunk of await router.stream("Sum the even numbers below 100")) streamed += chunk.text;
      return streamed;
    });

    expect(text).toBe("large says 2450");
    expect(warnings.map((warning) => warning.name)).toContain("GavelMemoryWarning");
  });
});
