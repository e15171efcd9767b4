/**
 * The store-backed budget (`createTokenBudget({ ..., store })`) over the in-process reference store:
 * two budgets on one store behave as two replicas of one app. The same budget over SQLite and
 * PostgreSQL is tested in tests/budget/shared-budget.int.test.ts.
 */
import { HumanMessage } from "@langchain/core/messages";
import { createAgent } from "langchain";
import { describe, expect, it } from "vitest";
import { TokenBudget } from "../../src/budget/budget.js";
import {
  type BudgetEvent,
  type BudgetStore,
  createMemoryBudgetStore,
  createTokenBudget,
  ReservationClosedError,
  StoredTokenBudget,
  withReservation,
} from "../../src/budget/index.js";
import { BudgetExhaustedError, ConfigError } from "../../src/errors.js";
import { tokenBudgetMiddleware } from "../../src/middleware/tokenBudget.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";

const request = { model: "gpt-4o-mini", inputTokens: 100, maxOutputTokens: 100 };

describe("createTokenBudget with a store", () => {
  it("returns a StoredTokenBudget with a store, a TokenBudget without", () => {
    const store = createMemoryBudgetStore();
    expect(createTokenBudget({ limits: {}, store })).toBeInstanceOf(StoredTokenBudget);
    expect(createTokenBudget({ limits: {} })).toBeInstanceOf(TokenBudget);
  });

  it("holds one limit for every budget on the store (two replicas)", async () => {
    const store = createMemoryBudgetStore();
    const [first, second] = [1, 2].map(() => createTokenBudget({ limits: { global: { maxTokens: 500 } }, store }));
    const held = await (first as StoredTokenBudget).reserve(request);
    await (second as StoredTokenBudget).reserve(request);
    expect(await (second as StoredTokenBudget).remaining()).toEqual({ tokens: 100 });
    await expect((first as StoredTokenBudget).reserve(request)).rejects.toSatisfy((error) =>
      BudgetExhaustedError.isInstance(error),
    );
    await (first as StoredTokenBudget).settle(held, { inputTokens: 100, outputTokens: 20 });
    expect(await (second as StoredTokenBudget).remaining()).toEqual({ tokens: 180 });
  });

  it("refuses in USD with the figures in USD and names the account", async () => {
    const budget = createTokenBudget({ limits: { run: { maxUsd: 0.0001 } }, store: createMemoryBudgetStore() });
    const error = await budget
      .reserve({ model: "gpt-4o", inputTokens: 1_000, maxOutputTokens: 1_000, scopes: { run: "run-1" } })
      .catch((caught: unknown) => caught);
    expect(BudgetExhaustedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ scope: "run", scopeId: "run-1", unit: "usd", limit: 0.0001 });
    expect((error as BudgetExhaustedError).requested).toBeCloseTo(0.0125, 9);
  });

  it("settles and releases exactly once", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } }, store: createMemoryBudgetStore() });
    const reservation = await budget.reserve(request);
    await budget.settle(reservation, { inputTokens: 100, outputTokens: 10 });
    await expect(budget.settle(reservation, { inputTokens: 100, outputTokens: 10 })).rejects.toSatisfy((error) =>
      ReservationClosedError.isInstance(error),
    );
    expect(await budget.release(reservation)).toBe(false);
    expect((await budget.snapshot())[0]).toMatchObject({ spentTokens: 110, reservedTokens: 0 });
  });

  it("retries a settle whose store call failed, and charges it once", async () => {
    const inner = createMemoryBudgetStore();
    let failures = 1;
    const flaky: BudgetStore = {
      ...inner,
      async settle(id, spent, now) {
        const result = await inner.settle(id, spent, now); // commits, then "loses the connection"
        if (failures-- > 0) throw new Error("Connection terminated unexpectedly");
        return result;
      },
    };
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } }, store: flaky });
    const reservation = await budget.reserve(request);
    const settlement = await budget.settle(reservation, { inputTokens: 100, outputTokens: 50 });
    expect(settlement.tokens).toBe(150);
    expect(await inner.snapshot()).toEqual([expect.objectContaining({ spentTokens: 150, reservedTokens: 0 })]);
  });

  it("releases a dead replica's reservation when its lease ends, reports it, and still charges a late settle", async () => {
    const store = createMemoryBudgetStore();
    let clock = 1_000;
    const now = () => clock;
    const events: BudgetEvent[] = [];
    const dead = createTokenBudget({ limits: { global: { maxTokens: 300 } }, store, leaseMs: 5_000, now });
    const alive = createTokenBudget({
      limits: { global: { maxTokens: 300 } },
      store,
      leaseMs: 5_000,
      now,
      onEvent: (event) => events.push(event),
    });
    const stuck = await dead.reserve(request); // 200 of 300 held by a replica that then "dies"
    await expect(alive.reserve(request)).rejects.toSatisfy((error) => BudgetExhaustedError.isInstance(error));
    clock += 5_001;
    await alive.reserve(request);
    expect(events.map((event) => event.type)).toEqual(["refuse", "expire", "reserve"]);
    expect(events[1]).toMatchObject({ reservation: { id: stuck.id, tokens: 200 }, expiredAt: 6_000 });
    // The "dead" replica was only slow: its answer arrives; the provider billed it, so it is charged.
    const late = await dead.settle(stuck, { inputTokens: 100, outputTokens: 40 });
    expect(late.late).toBe(true);
    expect((await alive.snapshot())[0]).toMatchObject({ spentTokens: 140, reservedTokens: 200 });
    expect(await alive.remaining()).toEqual({ tokens: 0 }); // over the limit by the late 40: never below 0
  });

  it("releases the reservation again when the listener throws on reserve", async () => {
    const store = createMemoryBudgetStore();
    const budget = createTokenBudget({
      limits: { global: { maxTokens: 1_000 } },
      store,
      onEvent: (event) => {
        if (event.type === "reserve") throw new Error("ledger down");
      },
    });
    await expect(budget.reserve(request)).rejects.toThrow("ledger down");
    expect((await store.snapshot())[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
  });

  it("refuses options it cannot keep exactly, naming the field", () => {
    const store = createMemoryBudgetStore();
    const attempt = (options: object) => {
      try {
        createTokenBudget({ limits: {}, store, ...options });
        return undefined;
      } catch (error) {
        return error;
      }
    };
    const usd = attempt({ limits: { global: { maxUsd: 1e300 } } });
    expect(ConfigError.isInstance(usd) && usd.fields).toEqual(["limits.global.maxUsd"]);
    const lease = attempt({ leaseMs: 2 ** 31 });
    expect(ConfigError.isInstance(lease) && lease.fields).toEqual(["leaseMs"]);
    const notAStore = attempt({ store: { reserve() {} } });
    expect(ConfigError.isInstance(notAStore) && notAStore.fields).toEqual(["store"]);
  });

  it("withReservation releases on failure and settles on success through a store", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } }, store: createMemoryBudgetStore() });
    await expect(
      withReservation(
        budget,
        request,
        async () => {
          throw new Error("provider down");
        },
        () => ({ inputTokens: 0, outputTokens: 0 }),
      ),
    ).rejects.toThrow("provider down");
    const { settlement } = await withReservation(
      budget,
      request,
      async () => "ok",
      () => ({ inputTokens: 90, outputTokens: 9 }),
    );
    expect(settlement.tokens).toBe(99);
    expect(await budget.remaining()).toEqual({ tokens: 901 });
    expect(budget.outstanding).toBe(0);
  });
});

describe("tokenBudgetMiddleware with a store-backed budget", () => {
  it("charges every model call of the agent to the shared accounts and holds nothing after", async () => {
    const store = createMemoryBudgetStore();
    const budget = createTokenBudget({ limits: { global: { maxTokens: 10_000 }, run: {} }, store });
    const model = new ScriptedChatModel({
      model: "gpt-4o-mini",
      maxTokens: 50,
      replies: [{ content: "Done.", usage: { inputTokens: 120, outputTokens: 30 } }],
    });
    const agent = createAgent({ model, tools: [], middleware: [tokenBudgetMiddleware({ budget })] });
    const result = await agent.invoke(
      { messages: [new HumanMessage("Hello")] },
      { context: { tokenBudget: { runId: "run-7" } } },
    );
    expect(result.tokenBudget.runTokens).toBe(150);
    expect(await budget.snapshot()).toEqual([
      expect.objectContaining({ scope: "global", spentTokens: 150, reservedTokens: 0 }),
      expect.objectContaining({ scope: "run", scopeId: "run-7", spentTokens: 150, reservedTokens: 0 }),
    ]);
  });

  it("answers with the refusal message when another replica spent the shared budget", async () => {
    const store = createMemoryBudgetStore();
    const other = createTokenBudget({ limits: { global: { maxTokens: 1_000 } }, store });
    await other.settle(await other.reserve({ model: "gpt-4o-mini", inputTokens: 990, maxOutputTokens: 0 }), {
      inputTokens: 990,
      outputTokens: 0,
    });
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } }, store });
    const model = new ScriptedChatModel({ model: "gpt-4o-mini", maxTokens: 50, replies: ["never sent"] });
    const agent = createAgent({ model, tools: [], middleware: [tokenBudgetMiddleware({ budget })] });
    const result = await agent.invoke({ messages: [new HumanMessage("Hello")] });
    expect(String(result.messages.at(-1)?.content)).toMatch(/budget/i);
    expect(model.calls).toHaveLength(0);
  });
});

describe("StoredTokenBudget when its listener throws", () => {
  it("releases the new reservation when the listener throws on an expire event (nothing stays held)", async () => {
    const store = createMemoryBudgetStore();
    let clock = 0;
    const now = () => clock;
    const dead = createTokenBudget({ limits: { global: { maxTokens: 1_000 } }, store, leaseMs: 10, now });
    await dead.reserve(request);
    clock = 100;
    const budget = createTokenBudget({
      limits: { global: { maxTokens: 1_000 } },
      store,
      now,
      onEvent: (event) => {
        if (event.type === "expire") throw new Error("ledger down");
      },
    });
    await expect(budget.reserve(request)).rejects.toThrow("ledger down");
    expect(budget.outstanding).toBe(0);
    expect((await store.snapshot())[0]).toMatchObject({ reservedTokens: 0, spentTokens: 0 });
  });
});

describe("StoredTokenBudget request checks", () => {
  it("refuses a NUL character in a scope id before it reaches the store (PostgreSQL text cannot hold one)", async () => {
    const budget = createTokenBudget({ limits: { thread: { maxTokens: 1_000 } }, store: createMemoryBudgetStore() });
    const error = await budget
      .reserve({ ...request, scopes: { thread: "user\u0000x" } })
      .catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error) && error.fields).toEqual(["scopes.thread"]);
    expect(budget.outstanding).toBe(0);
  });
});

describe("a store that cannot settle", () => {
  it("keeps the agent's paid answer and leaves the reservation to its lease", async () => {
    const inner = createMemoryBudgetStore();
    const down: BudgetStore = {
      ...inner,
      async settle() {
        throw new Error("Connection terminated unexpectedly");
      },
    };
    const budget = createTokenBudget({ limits: { global: { maxTokens: 10_000 } }, store: down });
    const model = new ScriptedChatModel({
      model: "gpt-4o-mini",
      maxTokens: 50,
      replies: [{ content: "Paid answer.", usage: { inputTokens: 100, outputTokens: 20 } }],
    });
    const agent = createAgent({ model, tools: [], middleware: [tokenBudgetMiddleware({ budget })] });
    const result = await agent.invoke({ messages: [new HumanMessage("Hello")] });
    expect(result.messages.at(-1)?.content).toBe("Paid answer.");
    const [account] = await inner.snapshot();
    expect(account?.spentTokens).toBe(0);
    expect(account?.reservedTokens).toBeGreaterThan(0); // held until its lease ends
  }, 10_000);
});
