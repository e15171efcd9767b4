import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AccountSnapshot,
  BudgetExhaustedError,
  type BudgetLimits,
  costNanoUsd,
  createTokenBudget,
  type Reservation,
  type ReserveRequest,
  type ScopeIds,
  type Settlement,
  type TokenBudget,
  withReservation,
} from "../../src/budget/index.js";
import { createSeededRandom } from "../../src/market/index.js";

const MODELS = ["gpt-4o-mini", "gpt-4o", "claude-3-5-haiku", "mistralai/mixtral-8x7b-chat"];

function toNano(usd: number): number {
  return Math.round(usd * 1_000_000_000);
}

/** Every account holds spent + reserved within its limits; returns the violations. */
function violations(accounts: AccountSnapshot[]): string[] {
  const found: string[] = [];
  for (const account of accounts) {
    const where = `${account.scope}:${account.scopeId}`;
    if (account.reservedTokens < 0 || account.reservedUsd < 0) found.push(`${where} negative reservation`);
    const { maxTokens, maxUsd } = account.limits;
    if (maxTokens !== undefined && account.spentTokens + account.reservedTokens > maxTokens) {
      found.push(`${where} tokens ${account.spentTokens}+${account.reservedTokens} > ${maxTokens}`);
    }
    if (maxUsd !== undefined && toNano(account.spentUsd) + toNano(account.reservedUsd) > toNano(maxUsd)) {
      found.push(`${where} usd ${account.spentUsd}+${account.reservedUsd} > ${maxUsd}`);
    }
  }
  return found;
}

class SimulatedProviderFailure extends Error {
  override readonly name = "SimulatedProviderFailure";
}

interface ConcurrentLimits {
  global: { maxTokens: number; maxUsd: number };
  run: { maxTokens: number };
}

describe("TokenBudget under 1,000 concurrent calls", () => {
  // Three budgets, so that each kind of account is the one that runs out.
  it.each([
    ["global tokens", { global: { maxTokens: 40_000, maxUsd: 10 }, run: { maxTokens: 9_000 } }, "global.tokens"],
    ["global USD", { global: { maxTokens: 100_000, maxUsd: 0.06 }, run: { maxTokens: 20_000 } }, "global.usd"],
    ["run tokens", { global: { maxTokens: 50_000, maxUsd: 0.08 }, run: { maxTokens: 3_000 } }, "run.tokens"],
  ] as Array<[string, ConcurrentLimits, string]>)(
    "never lets spend pass a limit, refuses with BudgetExhaustedError, and leaks no reservation (%s run out)",
    async (_name, limits, bindingAccount) => {
      // Seeded (the market core's Mulberry32), so a failing run can be replayed.
      const random = createSeededRandom({ seed: 20_240_601, stream: "budget-concurrency" }).nextFloat;
      const integer = (below: number) => Math.floor(random() * below);

      const problems: string[] = [];
      const settlements: Settlement[] = [];
      let settledTokens = 0;
      let reservesAfterASettlement = 0;
      let refusalsAfterASettlement = 0;
      let budget: TokenBudget | undefined;
      // Events arrive just before each change and every operation is synchronous,
      // so checking at every event (and at the end) checks every state the budget passes through.
      const checkInvariants = () => {
        if (budget) problems.push(...violations(budget.snapshot()));
      };
      budget = createTokenBudget({
        limits,
        onEvent: (event) => {
          checkInvariants();
          if (settlements.length > 0 && event.type === "reserve") reservesAfterASettlement += 1;
          if (settlements.length > 0 && event.type === "refuse") refusalsAfterASettlement += 1;
          if (event.type === "settle") {
            settlements.push(event.settlement);
            settledTokens += event.settlement.tokens;
            if (settledTokens > limits.global.maxTokens) problems.push(`settled ${settledTokens} tokens`);
          }
        },
      });
      const shared = budget;

      const callOnce = async (index: number) => {
        // Jitter the start so reservations interleave with other calls' settlements.
        for (let tick = integer(4); tick > 0; tick -= 1) await new Promise((resolve) => setImmediate(resolve));
        const request: ReserveRequest = {
          model: MODELS[index % MODELS.length] ?? "gpt-4o-mini",
          inputTokens: 20 + integer(300),
          maxOutputTokens: 16 + integer(200),
          scopes: { run: `run-${index % 12}` },
          label: `call-${index}`,
        };
        const fails = random() < 0.15;
        const outputTokens = integer(request.maxOutputTokens + 1);
        const delay = random() < 0.5 ? () => new Promise((resolve) => setImmediate(resolve)) : () => sleep(integer(3));
        return withReservation(
          shared,
          request,
          async () => {
            await delay();
            checkInvariants();
            if (fails) throw new SimulatedProviderFailure(`call ${index} failed`);
            return { inputTokens: request.inputTokens, outputTokens, estimated: random() < 0.3 };
          },
          (usage) => usage,
        );
      };

      const outcomes = await Promise.allSettled(Array.from({ length: 1_000 }, (_, index) => callOnce(index)));
      checkInvariants();

      const refused = outcomes.flatMap((outcome) =>
        outcome.status === "rejected" && BudgetExhaustedError.isInstance(outcome.reason) ? [outcome.reason] : [],
      );
      const failed = outcomes.filter(
        (outcome) => outcome.status === "rejected" && outcome.reason instanceof SimulatedProviderFailure,
      );
      const succeeded = outcomes.filter((outcome) => outcome.status === "fulfilled");
      expect(refused.length + failed.length + succeeded.length).toBe(1_000); // nothing else went wrong
      expect(failed.length).toBeGreaterThan(0);
      expect(succeeded.length).toBeGreaterThan(0);
      expect(problems).toEqual([]);
      // Reservations and settlements really interleaved: room freed by settled calls was reused.
      expect(reservesAfterASettlement).toBeGreaterThan(0);
      expect(refusalsAfterASettlement).toBeGreaterThan(0);

      // Refused calls got BudgetExhaustedError from the account meant to run out, which really lacked room.
      expect(refused.map((error) => `${error.scope}.${error.unit}`)).toContain(bindingAccount);
      for (const error of refused) {
        expect(error.spent + error.reserved + error.requested).toBeGreaterThan(error.limit);
      }

      // No reservation leaked, also from the calls that threw.
      expect(shared.outstanding).toBe(0);
      const accounts = shared.snapshot();
      for (const account of accounts) {
        expect(account.reservedTokens).toBe(0);
        expect(account.reservedUsd).toBe(0);
      }
      const global = accounts.find((account) => account.scope === "global");
      expect(global?.spentTokens).toBe(settledTokens);
      expect(settlements).toHaveLength(succeeded.length);
      const remaining = shared.remaining();
      expect(remaining.tokens).toBe(limits.global.maxTokens - (global?.spentTokens ?? 0));
      expect(toNano(remaining.usd ?? 0)).toBe(toNano(limits.global.maxUsd) - toNano(global?.spentUsd ?? 0));
      const runTotal = accounts
        .filter((account) => account.scope === "run")
        .reduce((sum, account) => sum + account.spentTokens, 0);
      expect(runTotal).toBe(global?.spentTokens);
    },
  );
});

// ---------------------------------------------------------------------------
// Property: any interleaving of reserve / settle / release keeps spent + reserved ≤ limit
// ---------------------------------------------------------------------------

type Operation =
  | { kind: "reserve"; model: string; inputTokens: number; maxOutputTokens: number; thread?: string; run?: string }
  | { kind: "settle"; pick: number; inputShare: number; outputShare: number }
  | { kind: "release"; pick: number }
  | { kind: "settleClosed"; pick: number }
  | { kind: "closeRun"; run: string };

// USD limits in whole micro-dollars up to $0.02 (a double arbitrary would mostly draw denormals, i.e. $0).
const limitsArbitrary: fc.Arbitrary<BudgetLimits> = fc.record(
  { maxTokens: fc.nat(4_000), maxUsd: fc.integer({ min: 0, max: 20_000 }).map((micros) => micros / 1_000_000) },
  { requiredKeys: [] },
);

const operationArbitrary: fc.Arbitrary<Operation> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record(
      {
        kind: fc.constant("reserve" as const),
        model: fc.constantFrom(...MODELS),
        inputTokens: fc.nat(600),
        maxOutputTokens: fc.nat(600),
        thread: fc.constantFrom("t1", "t2"),
        run: fc.constantFrom("r1", "r2", "r3"),
      },
      { requiredKeys: ["kind", "model", "inputTokens", "maxOutputTokens"] },
    ),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("settle" as const),
      pick: fc.nat(),
      inputShare: fc.double({ min: 0, max: 1, noNaN: true }),
      outputShare: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("release" as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("settleClosed" as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("closeRun" as const), run: fc.constantFrom("r1", "r2", "r3") }),
  },
);

describe("TokenBudget property", () => {
  it("keeps spent + reserved ≤ limit in every account for any interleaving, and refuses only when an account lacks room", () => {
    fc.assert(
      fc.property(
        fc.record({ global: limitsArbitrary, thread: limitsArbitrary, run: limitsArbitrary }, { requiredKeys: [] }),
        fc.array(operationArbitrary, { maxLength: 120 }),
        (limits, operations) => {
          const budget = createTokenBudget({ limits });
          const open: Array<{ reservation: Reservation; request: ReserveRequest }> = [];
          const closed: Reservation[] = [];
          let settledTokens = 0;

          for (const operation of operations) {
            if (operation.kind === "reserve") {
              const scopes: ScopeIds = {
                ...(operation.thread !== undefined && { thread: operation.thread }),
                ...(operation.run !== undefined && { run: operation.run }),
              };
              const request: ReserveRequest = {
                model: operation.model,
                inputTokens: operation.inputTokens,
                maxOutputTokens: operation.maxOutputTokens,
                scopes,
              };
              const roomy = hasRoom(budget, limits, request);
              const reservation = budget.tryReserve(request);
              if (reservation) open.push({ reservation, request });
              if ((reservation !== undefined) !== roomy) return false;
            } else if (operation.kind === "settle" || operation.kind === "release") {
              if (open.length === 0) continue;
              const [picked] = open.splice(operation.pick % open.length, 1);
              if (!picked) continue;
              if (operation.kind === "release") {
                budget.release(picked.reservation);
              } else {
                const usage = {
                  inputTokens: Math.floor(operation.inputShare * picked.request.inputTokens),
                  outputTokens: Math.floor(operation.outputShare * picked.request.maxOutputTokens),
                };
                const settlement = budget.settle(picked.reservation, usage);
                if (settlement.overrun) return false;
                settledTokens += settlement.tokens;
              }
              closed.push(picked.reservation);
            } else if (operation.kind === "settleClosed") {
              const reservation = closed[operation.pick % Math.max(1, closed.length)];
              if (!reservation) continue;
              const before = JSON.stringify(budget.snapshot());
              expect(() => budget.settle(reservation, { inputTokens: 1, outputTokens: 1 })).toThrow(/Reservation/);
              expect(budget.release(reservation)).toBe(false);
              if (JSON.stringify(budget.snapshot()) !== before) return false;
            } else {
              budget.closeScope("run", operation.run);
            }
            if (violations(budget.snapshot()).length > 0) return false;
            if (budget.outstanding !== open.length) return false;
          }

          const global = budget.snapshot().find((account) => account.scope === "global");
          if (global && global.spentTokens !== settledTokens) return false;
          for (const { reservation } of open) budget.release(reservation);
          return budget.outstanding === 0 && budget.snapshot().every((account) => account.reservedTokens === 0);
        },
      ),
      { numRuns: 300 },
    );
  });
});

/** Whether every account `request` is charged to has room for it, computed from the snapshot. */
function hasRoom(budget: TokenBudget, limits: Partial<Record<string, BudgetLimits>>, request: ReserveRequest): boolean {
  const price = budget.priceOf(request.model);
  const tokens = request.inputTokens + request.maxOutputTokens;
  const nano = price
    ? costNanoUsd(price, { inputTokens: request.inputTokens, outputTokens: request.maxOutputTokens })
    : 0;
  const charged: Array<[string, string]> = [];
  if (limits.global) charged.push(["global", "*"]);
  if (limits.thread && request.scopes?.thread) charged.push(["thread", request.scopes.thread]);
  if (limits.run && request.scopes?.run) charged.push(["run", request.scopes.run]);
  const accounts = budget.snapshot();
  return charged.every(([scope, scopeId]) => {
    const account = accounts.find((candidate) => candidate.scope === scope && candidate.scopeId === scopeId);
    const scopeLimits = limits[scope] ?? {};
    const spentTokens = (account?.spentTokens ?? 0) + (account?.reservedTokens ?? 0);
    const spentNano = toNano(account?.spentUsd ?? 0) + toNano(account?.reservedUsd ?? 0);
    if (scopeLimits.maxTokens !== undefined && spentTokens + tokens > scopeLimits.maxTokens) return false;
    if (scopeLimits.maxUsd !== undefined && spentNano + nano > toNano(scopeLimits.maxUsd)) return false;
    return true;
  });
}
