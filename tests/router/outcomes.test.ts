import { describe, expect, it } from "vitest";
import { RouterOutcomeError } from "../../src/router/memory-bids/index.js";
import { RoutedOutcomes } from "../../src/router/outcomes.js";

/** A ledger and a memory that keep what they are told, as plain maps. */
function stores() {
  const ledgerOutcomes: { auctionId: string; correct?: boolean }[] = [];
  const memoryOutcomes = new Map<string, number>();
  return {
    ledgerOutcomes,
    memoryOutcomes,
    ledger: {
      recordOutcome: async (input: { auctionId: string; correct?: boolean }) => {
        ledgerOutcomes.push(input);
      },
    },
    memory: {
      get: async (id: string) => {
        const outcome = memoryOutcomes.get(id);
        return outcome === undefined ? undefined : ({ id, outcome } as never);
      },
      recordOutcome: async (id: string, outcome: number) => {
        memoryOutcomes.set(id, outcome);
        return true;
      },
    },
  };
}

const reasonOf = (promise: Promise<unknown>) =>
  promise.then(
    () => "resolved",
    (error: unknown) => (RouterOutcomeError.isInstance(error) ? error.reason : String(error)),
  );

describe("RoutedOutcomes", () => {
  it("grades the final answer in the ledger and the memory, once", async () => {
    const outcomes = new RoutedOutcomes();
    const store = stores();
    outcomes.remember("a1", { final: "mini", members: ["nano", "mini"] });
    expect(await outcomes.record("a1", { correct: true }, store)).toBe(true);
    expect(store.ledgerOutcomes).toEqual([{ correct: true, auctionId: "a1" }]);
    expect(store.memoryOutcomes.get("a1:mini")).toBe(1);
    expect(await reasonOf(outcomes.record("a1", { correct: false }, store))).toBe("already_scored");
    expect(store.memoryOutcomes.get("a1:mini")).toBe(1);
  });

  it("grades a rung in the memory only, and refuses a member that was not called", async () => {
    const outcomes = new RoutedOutcomes();
    const store = stores();
    outcomes.remember("a1", { final: "mini", members: ["nano", "mini"] });
    await outcomes.record("a1", { member: "nano", score: 0.25 }, store);
    expect(store.ledgerOutcomes).toEqual([]);
    expect(store.memoryOutcomes.get("a1:nano")).toBe(0.25);
    expect(await reasonOf(outcomes.record("a1", { member: "large", correct: true }, store))).toBe("member_not_called");
    expect(store.memoryOutcomes.has("a1:large")).toBe(false);
  });

  it("refuses two outcomes sent at once for one answer: one is recorded", async () => {
    const outcomes = new RoutedOutcomes();
    const store = stores();
    outcomes.remember("a1", { final: "mini", members: ["mini"] });
    const reasons = await Promise.all([
      reasonOf(outcomes.record("a1", { correct: true }, store)),
      reasonOf(outcomes.record("a1", { correct: false }, store)),
    ]);
    expect(reasons.sort()).toEqual(["already_scored", "resolved"]);
    expect(store.ledgerOutcomes).toHaveLength(1);
  });

  it("refuses an answer the memory already holds an outcome for (another process, a restart)", async () => {
    const outcomes = new RoutedOutcomes();
    const store = stores();
    store.memoryOutcomes.set("a1:mini", 0);
    outcomes.remember("a1", { final: "mini", members: ["mini"] });
    expect(await reasonOf(outcomes.record("a1", { correct: true }, store))).toBe("already_scored");
    expect(store.ledgerOutcomes).toEqual([]);
  });

  it("looks a forgotten auction up, and says unknown_auction when nobody knows it", async () => {
    const outcomes = new RoutedOutcomes(2);
    const store = stores();
    outcomes.remember("a1", { final: "mini", members: ["mini"] });
    outcomes.remember("a2", { final: "mini", members: ["mini"] });
    outcomes.remember("a3", { final: "mini", members: ["mini"] });
    expect(outcomes.has("a1")).toBe(false);
    expect(await reasonOf(outcomes.record("a1", { correct: true }, store))).toBe("unknown_auction");
    const stored = async (id: string) => (id === "a1" ? { final: "large", members: ["large"] } : undefined);
    expect(await outcomes.record("a1", { correct: true }, store, stored)).toBe(true);
    expect(store.memoryOutcomes.get("a1:large")).toBe(1);
  });

  it("waits for the auction's writes before grading it", async () => {
    const outcomes = new RoutedOutcomes();
    const store = stores();
    let finish = () => {};
    const written = new Promise<void>((resolve) => {
      finish = resolve;
    });
    outcomes.remember("a1", { final: "mini", members: ["mini"], written });
    const graded = outcomes.record("a1", { correct: true }, store);
    await new Promise((resolve) => setImmediate(resolve));
    expect(store.ledgerOutcomes).toEqual([]);
    finish();
    expect(await graded).toBe(true);
    expect(store.ledgerOutcomes).toHaveLength(1);
  });
});
