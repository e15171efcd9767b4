/**
 * settleAbandoned: an aborted or timed-out call is charged at what its provider bills (the late
 * usage, the tokens streamed, or the whole reservation), never twice and never throwing.
 */
import { describe, expect, it } from "vitest";
import {
  createMemoryBudgetStore,
  createTokenBudget,
  DEFAULT_ABANDONED_GRACE_MS,
  settleAbandoned,
  type Usage,
} from "../../src/budget/index.js";
import { releaseQuietly } from "../../src/budget/shared.js";
import type { AbandonedBasis, AbandonedSettlement } from "../../src/index.js";

const MINI = "gpt-4o-mini"; // $0.15 / $0.60 per million tokens
const REQUEST = { model: MINI, inputTokens: 1_000, maxOutputTokens: 500 };

describe("settleAbandoned", () => {
  it("charges a non-streamed call at its whole reservation (released at zero before)", async () => {
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } } });
    const reservation = budget.reserve(REQUEST);
    expect([reservation.inputTokens, reservation.maxOutputTokens]).toEqual([1_000, 500]);

    const settlement = await settleAbandoned(budget, reservation);

    expect(settlement).toMatchObject({ tokens: 1_500, estimated: true, overrun: false });
    expect(settlement?.usd).toBeCloseTo(reservation.usd, 12);
    expect(budget.snapshot()[0]).toMatchObject({ spentTokens: 1_500, reservedTokens: 0 });
    expect(budget.outstanding).toBe(0);
  });

  it("names the rule it settled on, in types the package exports", async () => {
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } } });
    const settlement: AbandonedSettlement | undefined = await settleAbandoned(budget, budget.reserve(REQUEST));
    const basis: AbandonedBasis | undefined = settlement?.basis;
    expect(basis).toBe("reservation");
  });

  it("charges a streamed call at the tokens streamed so far", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 10_000 } } });
    const reservation = budget.reserve(REQUEST);
    const settlement = await settleAbandoned(budget, reservation, {
      streamed: { inputTokens: 1_000, outputTokens: 37 },
    });
    expect(settlement).toMatchObject({ tokens: 1_037, estimated: true });
    expect(budget.remaining()).toEqual({ tokens: 10_000 - 1_037 });
  });

  it("lets the usage the provider reports later win, holding the room until it arrives", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 10_000 } } });
    const reservation = budget.reserve(REQUEST);
    let report!: (usage: Usage) => void;
    const late = new Promise<Usage>((resolve) => {
      report = resolve;
    });

    const settling = settleAbandoned(budget, reservation, { late, streamed: { inputTokens: 1_000, outputTokens: 3 } });
    await Promise.resolve();
    expect(budget.remaining()).toEqual({ tokens: 10_000 - 1_500 }); // still held
    report({ inputTokens: 1_000, outputTokens: 420 });

    expect(await settling).toMatchObject({ tokens: 1_420, estimated: false });
    expect(budget.remaining()).toEqual({ tokens: 10_000 - 1_420 });
  });

  it("falls back when the late usage fails, is missing, or misses the grace period", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 100_000 } } });
    const failed = await settleAbandoned(budget, budget.reserve(REQUEST), {
      late: Promise.reject(new Error("connection reset")),
    });
    const missing = await settleAbandoned(budget, budget.reserve(REQUEST), {
      late: Promise.resolve(undefined),
      streamed: { inputTokens: 1_000, outputTokens: 10 },
    });
    const tooLate = await settleAbandoned(budget, budget.reserve(REQUEST), {
      late: new Promise<Usage>(() => {}), // never arrives
      graceMs: 1,
    });
    expect([failed?.tokens, missing?.tokens, tooLate?.tokens]).toEqual([1_500, 1_010, 1_500]);
    expect(budget.outstanding).toBe(0);
    expect(DEFAULT_ABANDONED_GRACE_MS).toBeGreaterThan(0);
  });

  it("never charges twice and never throws on a closed or foreign reservation", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 10_000 } } });
    const other = createTokenBudget({ limits: { global: { maxTokens: 10_000 } } });
    const reservation = budget.reserve(REQUEST);
    const [first, second] = await Promise.all([
      settleAbandoned(budget, reservation, { streamed: { inputTokens: 1_000, outputTokens: 1 } }),
      settleAbandoned(budget, reservation),
    ]);
    expect([first?.tokens, second]).toEqual([1_001, undefined]);
    expect(budget.snapshot()[0]?.spentTokens).toBe(1_001);

    const released = budget.reserve(REQUEST);
    await releaseQuietly(budget, released);
    await expect(settleAbandoned(budget, released)).resolves.toBeUndefined();
    await expect(settleAbandoned(other, budget.reserve(REQUEST))).resolves.toBeUndefined();
    expect(budget.snapshot()[0]?.spentTokens).toBe(1_001);
  });

  it("settles a store-backed reservation at its reservation too", async () => {
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, store: createMemoryBudgetStore() });
    const reservation = await budget.reserve(REQUEST);
    const settlement = await settleAbandoned(budget, reservation);
    expect(settlement).toMatchObject({ tokens: 1_500, estimated: true });
    expect((await budget.remaining()).usd).toBeCloseTo(1 - reservation.usd, 9);
  });
});
