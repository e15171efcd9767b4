import { describe, expect, it } from "vitest";
import {
  type BudgetEvent,
  BudgetExhaustedError,
  createTokenBudget,
  type Reservation,
  ReservationClosedError,
  UnknownModelPriceError,
  withReservation,
} from "../../src/budget/index.js";
import { ConfigError } from "../../src/errors.js";

// gpt-4o-mini: $0.15 / $0.60 per million tokens.
const MINI = "gpt-4o-mini";

describe("TokenBudget reserve / settle / release", () => {
  it("holds the upper bound, then charges the real usage", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } } });
    const reservation = budget.reserve({ model: MINI, inputTokens: 100, maxOutputTokens: 200 });
    expect(reservation.tokens).toBe(300);
    expect(budget.remaining()).toEqual({ tokens: 700 });
    expect(budget.outstanding).toBe(1);

    const settlement = budget.settle(reservation, { inputTokens: 100, outputTokens: 50 });
    expect(settlement).toMatchObject({ reservationId: reservation.id, tokens: 150, estimated: false, overrun: false });
    expect(budget.remaining()).toEqual({ tokens: 850 });
    expect(budget.outstanding).toBe(0);
    expect(budget.snapshot()).toEqual([
      {
        scope: "global",
        scopeId: "*",
        limits: { maxTokens: 1_000 },
        spentTokens: 150,
        spentUsd: settlement.usd,
        reservedTokens: 0,
        reservedUsd: 0,
      },
    ]);
  });

  it("prices reservations and settlements from the table", () => {
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } } });
    const reservation = budget.reserve({ model: MINI, inputTokens: 1_000_000, maxOutputTokens: 1_000_000 });
    expect(reservation.usd).toBeCloseTo(0.75, 12);
    expect(budget.remaining().usd).toBeCloseTo(0.25, 12);
    const settlement = budget.settle(reservation, { inputTokens: 1_000_000, outputTokens: 500_000, estimated: true });
    expect(settlement.usd).toBeCloseTo(0.45, 12);
    expect(settlement.estimated).toBe(true);
    expect(budget.remaining().usd).toBeCloseTo(0.55, 12);
  });

  it("refuses with BudgetExhaustedError carrying scope, id, unit, limit, spent, reserved and requested", () => {
    const budget = createTokenBudget({ limits: { run: { maxTokens: 500 } } });
    const first = budget.reserve({ model: MINI, inputTokens: 100, maxOutputTokens: 100, scopes: { run: "r1" } });
    budget.settle(first, { inputTokens: 100, outputTokens: 50 });
    budget.reserve({ model: MINI, inputTokens: 100, maxOutputTokens: 100, scopes: { run: "r1" } });

    let caught: unknown;
    try {
      budget.reserve({ model: MINI, inputTokens: 51, maxOutputTokens: 100, scopes: { run: "r1" } });
    } catch (error) {
      caught = error;
    }
    expect(BudgetExhaustedError.isInstance(caught)).toBe(true);
    expect(caught).toMatchObject({
      scope: "run",
      scopeId: "r1",
      unit: "tokens",
      limit: 500,
      spent: 150,
      reserved: 200,
      requested: 151,
    });
    // Exactly filling the limit is allowed.
    expect(budget.canAfford({ model: MINI, inputTokens: 50, maxOutputTokens: 100, scopes: { run: "r1" } })).toBe(true);
    // Another run has its own account.
    expect(budget.canAfford({ model: MINI, inputTokens: 50, maxOutputTokens: 100, scopes: { run: "r2" } })).toBe(true);
  });

  it("reports a USD refusal in USD", () => {
    const budget = createTokenBudget({ limits: { global: { maxUsd: 0.001 } } });
    let caught: unknown;
    try {
      budget.reserve({ model: "gpt-4o", inputTokens: 1_000, maxOutputTokens: 1_000 }); // $0.0125
    } catch (error) {
      caught = error;
    }
    expect(caught).toMatchObject({ scope: "global", scopeId: "*", unit: "usd", limit: 0.001, spent: 0, reserved: 0 });
    expect((caught as BudgetExhaustedError).requested).toBeCloseTo(0.0125, 12);
  });

  it("charges every applicable account atomically, or none", () => {
    const budget = createTokenBudget({
      limits: { global: { maxTokens: 10_000 }, thread: { maxTokens: 2_000 }, run: { maxTokens: 1_000 } },
    });
    const scopes = { thread: "t1", run: "r1" };
    budget.reserve({ model: MINI, inputTokens: 400, maxOutputTokens: 400, scopes });
    expect(() => budget.reserve({ model: MINI, inputTokens: 100, maxOutputTokens: 200, scopes })).toThrow(
      BudgetExhaustedError,
    );
    // The refused call held nothing anywhere.
    const held = Object.fromEntries(budget.snapshot().map((account) => [account.scope, account.reservedTokens]));
    expect(held).toEqual({ global: 800, thread: 800, run: 800 });
    expect(budget.remaining(scopes)).toEqual({ tokens: 200 });
    expect(budget.remaining({ thread: "t1" })).toEqual({ tokens: 1_200 });
    expect(budget.remaining()).toEqual({ tokens: 9_200 });
  });

  it("checks broad scopes first and reports the first that fails", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100 }, run: { maxTokens: 100 } } });
    expect(() => budget.reserve({ model: MINI, inputTokens: 101, maxOutputTokens: 0, scopes: { run: "r" } })).toThrow(
      expect.objectContaining({ scope: "global" }),
    );
  });

  it("applies a scope's limits only to calls that name that scope", () => {
    const budget = createTokenBudget({ limits: { run: { maxTokens: 10 } } });
    expect(budget.canAfford({ model: MINI, inputTokens: 1_000, maxOutputTokens: 0 })).toBe(true);
    expect(budget.canAfford({ model: MINI, inputTokens: 1_000, maxOutputTokens: 0, scopes: { run: "r" } })).toBe(false);
    expect(budget.remaining()).toEqual({});
    expect(budget.remaining({ run: "r" })).toEqual({ tokens: 10 });
  });

  it("tryReserve returns undefined instead of throwing, and canAfford changes nothing", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100 } } });
    expect(budget.canAfford({ model: MINI, inputTokens: 60, maxOutputTokens: 40 })).toBe(true);
    expect(budget.outstanding).toBe(0);
    expect(budget.tryReserve({ model: MINI, inputTokens: 60, maxOutputTokens: 41 })).toBeUndefined();
    expect(budget.tryReserve({ model: MINI, inputTokens: 60, maxOutputTokens: 40 })).toBeDefined();
    expect(budget.remaining()).toEqual({ tokens: 0 });
  });

  it("release charges nothing, and a second release is a no-op", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100 } } });
    const reservation = budget.reserve({ model: MINI, inputTokens: 50, maxOutputTokens: 50 });
    expect(budget.release(reservation)).toBe(true);
    expect(budget.release(reservation)).toBe(false);
    expect(budget.remaining()).toEqual({ tokens: 100 });
    expect(budget.snapshot()[0]).toMatchObject({ spentTokens: 0, reservedTokens: 0 });
    expect(budget.outstanding).toBe(0);
  });

  it("never charges a reservation twice", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } } });
    const settled = budget.reserve({ model: MINI, inputTokens: 10, maxOutputTokens: 10 });
    budget.settle(settled, { inputTokens: 10, outputTokens: 10 });
    expect(() => budget.settle(settled, { inputTokens: 10, outputTokens: 10 })).toThrow(
      expect.objectContaining({ name: "ReservationClosedError", state: "settled" }),
    );
    expect(budget.release(settled)).toBe(false);

    const released = budget.reserve({ model: MINI, inputTokens: 10, maxOutputTokens: 10 });
    budget.release(released);
    expect(() => budget.settle(released, { inputTokens: 1, outputTokens: 1 })).toThrow(
      expect.objectContaining({ state: "released" }),
    );
    expect(budget.snapshot()[0]?.spentTokens).toBe(20);
  });

  it("rejects reservations another budget issued, and forged ones", () => {
    const budget = createTokenBudget({ limits: {} });
    const other = createTokenBudget({ limits: {} });
    const foreign = other.reserve({ model: MINI, inputTokens: 1, maxOutputTokens: 1 });
    expect(() => budget.settle(foreign, { inputTokens: 1, outputTokens: 1 })).toThrow(ReservationClosedError);
    expect(() => budget.release(foreign)).toThrow(expect.objectContaining({ state: "foreign" }));
    const forged: Reservation = { ...foreign };
    expect(() => other.settle(forged, { inputTokens: 1, outputTokens: 1 })).toThrow(ReservationClosedError);
    expect(other.outstanding).toBe(1);
  });

  it("records an overrun at its true size and then refuses further calls", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100 } } });
    const reservation = budget.reserve({ model: MINI, inputTokens: 40, maxOutputTokens: 40 });
    const settlement = budget.settle(reservation, { inputTokens: 45, outputTokens: 70 });
    expect(settlement).toMatchObject({ tokens: 115, overrun: true });
    expect(budget.snapshot()[0]?.spentTokens).toBe(115);
    expect(budget.remaining()).toEqual({ tokens: 0 });
    expect(() => budget.reserve({ model: MINI, inputTokens: 0, maxOutputTokens: 0 })).toThrow(
      expect.objectContaining({ spent: 115, requested: 0 }),
    );
  });

  it("settle with malformed usage throws and leaves the reservation open", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100 } } });
    const reservation = budget.reserve({ model: MINI, inputTokens: 10, maxOutputTokens: 10 });
    expect(() => budget.settle(reservation, { inputTokens: -1, outputTokens: 3 })).toThrow(ConfigError);
    expect(budget.isOpen(reservation)).toBe(true);
    budget.settle(reservation, { inputTokens: 10, outputTokens: 3 });
    expect(budget.isOpen(reservation)).toBe(false);
  });

  it("creates scope accounts at first use and drops them on closeScope", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 }, run: { maxTokens: 100 } } });
    expect(budget.snapshot().map((account) => account.scope)).toEqual(["global"]);
    expect(budget.remaining({ run: "r1" })).toEqual({ tokens: 100 });
    expect(budget.snapshot()).toHaveLength(1);

    const reservation = budget.reserve({ model: MINI, inputTokens: 30, maxOutputTokens: 30, scopes: { run: "r1" } });
    budget.settle(reservation, { inputTokens: 30, outputTokens: 10 });
    expect(budget.snapshot().map((account) => `${account.scope}:${account.scopeId}`)).toEqual(["global:*", "run:r1"]);

    expect(budget.closeScope("run", "r1")).toMatchObject({ scope: "run", scopeId: "r1", spentTokens: 40 });
    expect(budget.closeScope("run", "r1")).toBeUndefined();
    expect(budget.snapshot().map((account) => account.scope)).toEqual(["global"]);
    expect(budget.snapshot()[0]?.spentTokens).toBe(40);
  });

  it("keeps a closed scope's open reservation charged to the global account", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 }, run: { maxTokens: 100 } } });
    const reservation = budget.reserve({ model: MINI, inputTokens: 50, maxOutputTokens: 50, scopes: { run: "r1" } });
    budget.closeScope("run", "r1");
    expect(budget.remaining({ run: "r1" })).toEqual({ tokens: 100 });
    budget.settle(reservation, { inputTokens: 50, outputTokens: 20 });
    expect(budget.snapshot()).toEqual([
      expect.objectContaining({ scope: "global", spentTokens: 70, reservedTokens: 0 }),
    ]);
  });

  it("tracks a scope listed with {} without ever refusing", () => {
    const budget = createTokenBudget({ limits: { thread: {} } });
    const reservation = budget.reserve({
      model: MINI,
      inputTokens: 10_000_000,
      maxOutputTokens: 0,
      scopes: { thread: "t" },
    });
    budget.settle(reservation, { inputTokens: 10_000_000, outputTokens: 0 });
    expect(budget.snapshot()).toEqual([expect.objectContaining({ scope: "thread", scopeId: "t", spentUsd: 1.5 })]);
  });
});

describe("TokenBudget prices", () => {
  it("requires a price for every model when a USD limit is set", () => {
    const budget = createTokenBudget({ limits: { run: { maxUsd: 1 } } });
    expect(() => budget.reserve({ model: "my-local-model", inputTokens: 1, maxOutputTokens: 1 })).toThrow(
      expect.objectContaining({ name: "UnknownModelPriceError", model: "my-local-model" }),
    );
    expect(budget.outstanding).toBe(0);
  });

  it("charges 0 USD for unpriced models when prices are not required", () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100, maxUsd: 1 } }, requirePrices: false });
    const reservation = budget.reserve({ model: "my-local-model", inputTokens: 10, maxOutputTokens: 10 });
    expect(reservation.usd).toBe(0);
    const tokenOnly = createTokenBudget({ limits: { global: { maxTokens: 100 } } });
    expect(tokenOnly.reserve({ model: "my-local-model", inputTokens: 10, maxOutputTokens: 10 }).usd).toBe(0);
    const strict = createTokenBudget({ limits: { global: { maxTokens: 100 } }, requirePrices: true });
    expect(() => strict.reserve({ model: "my-local-model", inputTokens: 1, maxOutputTokens: 1 })).toThrow(
      UnknownModelPriceError,
    );
  });

  it("uses user prices over the defaults, and for new models", () => {
    const budget = createTokenBudget({
      limits: { global: { maxUsd: 10 } },
      prices: {
        "gpt-4o-mini": { inputPerMillion: 1, outputPerMillion: 1 },
        "my-local-model": { inputPerMillion: 0, outputPerMillion: 0 },
      },
    });
    expect(budget.reserve({ model: MINI, inputTokens: 500_000, maxOutputTokens: 500_000 }).usd).toBeCloseTo(1, 12);
    expect(budget.reserve({ model: "my-local-model", inputTokens: 500_000, maxOutputTokens: 0 }).usd).toBe(0);
    expect(budget.priceOf("openai/gpt-4o-mini-2024-07-18")).toEqual({ inputPerMillion: 1, outputPerMillion: 1 });
  });
});

describe("TokenBudget events", () => {
  it("reports reserve, settle, release and refuse with amounts, ids and the injected clock", () => {
    const events: BudgetEvent[] = [];
    let clock = 1_000;
    let next = 0;
    const budget = createTokenBudget({
      limits: { global: { maxTokens: 100 } },
      onEvent: (event) => events.push(event),
      now: () => clock++,
      generateId: () => `call-${++next}`,
    });
    const first = budget.reserve({ model: MINI, inputTokens: 30, maxOutputTokens: 30, label: "plan" });
    budget.settle(first, { inputTokens: 30, outputTokens: 5 });
    const second = budget.reserve({ model: MINI, inputTokens: 10, maxOutputTokens: 10 });
    budget.release(second);
    budget.tryReserve({ model: MINI, inputTokens: 60, maxOutputTokens: 10 });

    expect(events.map((event) => [event.type, event.at])).toEqual([
      ["reserve", 1_000],
      ["settle", 1_001],
      ["reserve", 1_002],
      ["release", 1_003],
      ["refuse", 1_004],
    ]);
    expect(events[0]).toMatchObject({ reservation: { id: "call-1", tokens: 60, label: "plan" } });
    expect(events[1]).toMatchObject({ settlement: { reservationId: "call-1", tokens: 35 } });
    expect(events[4]).toMatchObject({ request: { inputTokens: 60 }, error: { requested: 70, spent: 35 } });
  });

  it("abandons the operation when the listener throws, leaking nothing", () => {
    let failing = true;
    const budget = createTokenBudget({
      limits: { global: { maxTokens: 100 } },
      onEvent: () => {
        if (failing) throw new Error("ledger is down");
      },
    });
    expect(() => budget.reserve({ model: MINI, inputTokens: 10, maxOutputTokens: 10 })).toThrow("ledger is down");
    expect(budget.outstanding).toBe(0);
    expect(budget.remaining()).toEqual({ tokens: 100 });
    failing = false;
    const reservation = budget.reserve({ model: MINI, inputTokens: 10, maxOutputTokens: 10 });
    failing = true;
    expect(() => budget.settle(reservation, { inputTokens: 10, outputTokens: 10 })).toThrow("ledger is down");
    expect(budget.isOpen(reservation)).toBe(true);
    failing = false;
    budget.settle(reservation, { inputTokens: 10, outputTokens: 10 });
    expect(budget.remaining()).toEqual({ tokens: 80 });
  });
});

describe("withReservation", () => {
  it("settles a successful call at the usage of its result", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } } });
    const { result, settlement } = await withReservation(
      budget,
      { model: MINI, inputTokens: 100, maxOutputTokens: 100 },
      async (reservation) => ({ text: "ok", reservationId: reservation.id, outputTokens: 7 }),
      (reply) => ({ inputTokens: 100, outputTokens: reply.outputTokens }),
    );
    expect(result.text).toBe("ok");
    expect(settlement).toMatchObject({ reservationId: result.reservationId, tokens: 107 });
    expect(budget.remaining()).toEqual({ tokens: 893 });
    expect(budget.outstanding).toBe(0);
  });

  it("releases and rethrows when the call fails", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 1_000 } } });
    const failure = new Error("provider 500");
    await expect(
      withReservation(
        budget,
        { model: MINI, inputTokens: 100, maxOutputTokens: 100 },
        async () => {
          throw failure;
        },
        () => ({ inputTokens: 0, outputTokens: 0 }),
      ),
    ).rejects.toBe(failure);
    expect(budget.outstanding).toBe(0);
    expect(budget.remaining()).toEqual({ tokens: 1_000 });
  });

  it("charges the whole reservation, estimated, when the usage cannot be read", async () => {
    const events: BudgetEvent[] = [];
    const budget = createTokenBudget({
      limits: { global: { maxTokens: 1_000 } },
      onEvent: (event) => events.push(event),
    });
    await expect(
      withReservation(
        budget,
        { model: MINI, inputTokens: 100, maxOutputTokens: 100 },
        async () => "reply",
        () => {
          throw new Error("no usage");
        },
      ),
    ).rejects.toThrow("no usage");
    expect(budget.outstanding).toBe(0);
    expect(budget.remaining()).toEqual({ tokens: 800 });
    expect(events.at(-1)).toMatchObject({ type: "settle", settlement: { tokens: 200, estimated: true } });
  });

  it("does not call when the budget cannot pay", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 10 } } });
    let called = false;
    await expect(
      withReservation(
        budget,
        { model: MINI, inputTokens: 100, maxOutputTokens: 100 },
        async () => {
          called = true;
        },
        () => ({ inputTokens: 0, outputTokens: 0 }),
      ),
    ).rejects.toBeInstanceOf(BudgetExhaustedError);
    expect(called).toBe(false);
  });
});
