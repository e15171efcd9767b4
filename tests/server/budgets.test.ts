/**
 * The budgets of `gavel serve` (adapters/server/budgets.ts): a key's budget refuses past its limit
 * naming the account, a user's budget refuses that user only, windows reset with the clock, two
 * replicas sharing a SQLite store (and a PostgreSQL one, when a server is up) never overspend under
 * concurrent reserve/settle, and `standing` says what is left and when it resets.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createPostgresBudgetStore } from "../../adapters/postgres/budget-store.js";
import { createServerBudgets, parseBudgetWindow, refusedAccount } from "../../adapters/server/budgets.js";
import type { VirtualKey } from "../../adapters/server/types.js";
import { createSqliteBudgetStore } from "../../adapters/sqlite/budget-store.js";
import type { BudgetStore, TokenBudget } from "../../src/budget/index.js";
import { BudgetExhaustedError, ConfigError } from "../../src/errors.js";
import { describePostgres, freshSchema } from "../helpers/postgres.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-server-budgets-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** $1 per thousand tokens in, $2 per thousand out. */
const prices = { "test-model": { inputPerMillion: 1_000, outputPerMillion: 2_000 } };
const call = (inputTokens: number, maxOutputTokens: number) => ({ model: "test-model", inputTokens, maxOutputTokens });

/** The BudgetExhaustedError `attempt` fails with (a TokenBudget throws at once, a stored one rejects). */
async function refusal(attempt: () => unknown): Promise<BudgetExhaustedError> {
  const error = await (async () => attempt())().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  if (!BudgetExhaustedError.isInstance(error)) throw new Error(`expected a BudgetExhaustedError, got ${String(error)}`);
  return error;
}

describe("server budgets: a key's budget", () => {
  it("refuses beyond the key's limit, naming the key's account", async () => {
    const budgets = createServerBudgets({ prices, defaults: { keyBudget: { maxUsd: 100 } } });
    const key: VirtualKey = { id: "key_1", name: "ci", budget: { maxTokens: 1_000 } }; // its own budget wins
    const budget = budgets.budgetFor(key);
    expect(budgets.budgetFor(key)).toBe(budget); // cached
    const scopes = budgets.scopesFor(key, undefined);
    expect(scopes).toEqual({ run: "key:key_1" });

    const reservation = await budget.reserve({ ...call(400, 200), scopes });
    await budget.settle(reservation, { inputTokens: 400, outputTokens: 200 });
    const error = await refusal(() => budget.reserve({ ...call(300, 200), scopes }));
    expect([error.scope, error.scopeId, error.unit, error.limit, error.spent]).toEqual([
      "run",
      "key:key_1",
      "tokens",
      1_000,
      600,
    ]);
    expect(error.message).toContain('"key:key_1"');
    expect(refusedAccount(error)).toBe("key");
    await budget.reserve({ ...call(300, 100), scopes }); // what fits still passes
    expect(await budgets.standing(key, undefined)).toEqual({ tokens: 0, scope: "key" });
    await budgets.close();
  });

  it("keeps each key's account apart, and a key without limits is never refused", async () => {
    const budgets = createServerBudgets({ prices, defaults: { keyBudget: { maxUsd: 1 } } });
    const first: VirtualKey = { id: "key_a", name: "a" };
    const second: VirtualKey = { id: "key_b", name: "b" };
    const spend = async (key: VirtualKey) => {
      const reservation = await budgets
        .budgetFor(key)
        .reserve({ ...call(500, 200), scopes: budgets.scopesFor(key, undefined) });
      await budgets.budgetFor(key).settle(reservation, { inputTokens: 500, outputTokens: 200 }); // $0.9
    };
    await spend(first);
    await refusal(() => spend(first));
    await spend(second); // another key's $1 is untouched

    const open = createServerBudgets({ prices });
    const free: VirtualKey = { id: "key_free", name: "free" };
    for (let index = 0; index < 5; index += 1) {
      const reservation = await open
        .budgetFor(free)
        .reserve({ ...call(100_000, 100_000), scopes: open.scopesFor(free, "u") });
      await open.budgetFor(free).settle(reservation, { inputTokens: 100_000, outputTokens: 100_000 });
    }
    expect(await open.standing(free, "u")).toEqual({});
    await budgets.close();
    await open.close();
  });
});

describe("server budgets: a user's budget", () => {
  it("refuses one user while another user of the same key still passes", async () => {
    const budgets = createServerBudgets({ prices, defaults: { userBudget: { maxUsd: 1 } } });
    const key: VirtualKey = { id: "key_1", name: "ci", budget: { maxUsd: 10 } };
    const budget = budgets.budgetFor(key);
    const alice = budgets.scopesFor(key, "alice");
    expect(alice).toEqual({ run: "key:key_1", thread: "user:key_1:alice" });

    const reservation = await budget.reserve({ ...call(400, 300), scopes: alice }); // holds $1.0
    await budget.settle(reservation, { inputTokens: 400, outputTokens: 200 }); // spends $0.8
    const error = await refusal(() => budget.reserve({ ...call(100, 100), scopes: alice })); // $0.3 > $0.2 left
    expect([error.scope, error.scopeId, error.unit]).toEqual(["thread", "user:key_1:alice", "usd"]);
    expect(refusedAccount(error)).toBe("user");

    const bob = budgets.scopesFor(key, "bob");
    const bobs = await budget.reserve({ ...call(100, 100), scopes: bob });
    await budget.settle(bobs, { inputTokens: 100, outputTokens: 100 });

    const aliceStanding = await budgets.standing(key, "alice");
    expect(aliceStanding.usd).toBeCloseTo(0.2, 9);
    expect(aliceStanding.scope).toBe("user"); // $0.2 left for alice, $8.9 for the key: alice's account binds
    expect((await budgets.standing(key, "bob")).usd).toBeCloseTo(0.7, 9);
    const keyOnly = await budgets.standing(key, undefined);
    expect(keyOnly.scope).toBe("key");
    expect((await budgets.standing(key, undefined)).usd).toBeCloseTo(10 - 0.8 - 0.3, 9);
    await budgets.close();
  });

  it("a key without a per-user limit opens no account per user (a client's user ids cannot grow memory)", () => {
    const budgets = createServerBudgets({ defaults: { keyBudget: { maxTokens: 1_000 } } });
    const key = { id: "k", name: "k" };
    expect(budgets.scopesFor(key, "alice")).toEqual({ run: "key:k" });
    expect(budgets.scopesFor({ ...key, userBudget: { maxTokens: 10 } }, "alice").thread).toBe("user:k:alice");
  });

  it("a user id that is long or holds control characters gets a hashed account, never the raw text", () => {
    const budgets = createServerBudgets({ defaults: { userBudget: { maxTokens: 10 } } });
    const key: VirtualKey = { id: "k", name: "k" };
    expect(budgets.scopesFor(key, "a\u0000b").thread).toMatch(/^user:k:sha256:[0-9a-f]{64}$/);
    expect(budgets.scopesFor(key, "x".repeat(10_000)).thread).toMatch(/^user:k:sha256:[0-9a-f]{64}$/);
    expect(budgets.scopesFor(key, "").thread).toBeUndefined();
    void budgets.close();
  });
});

describe("server budgets: windows", () => {
  it("a window makes a new account each period: the budget resets without any job", async () => {
    let clock = Date.parse("2026-12-04T10:00:00Z");
    const budgets = createServerBudgets({
      prices,
      defaults: { keyBudget: { maxTokens: 500 }, budgetWindow: "1d" },
      now: () => clock,
    });
    const key: VirtualKey = { id: "key_1", name: "ci" };
    const budget = budgets.budgetFor(key);
    const today = budgets.scopesFor(key, undefined);
    expect(today).toEqual({ run: "key:key_1:2026-12-04T00:00:00.000Z" });
    const reservation = await budget.reserve({ ...call(300, 200), scopes: today });
    await budget.settle(reservation, { inputTokens: 300, outputTokens: 200 });
    await refusal(() => budget.reserve({ ...call(1, 1), scopes: budgets.scopesFor(key, undefined) }));
    expect(await budgets.standing(key, undefined)).toEqual({
      tokens: 0,
      resetsAt: "2026-12-05T00:00:00.000Z",
      scope: "key",
    });

    clock = Date.parse("2026-12-04T23:59:59.999Z");
    await refusal(() => budget.reserve({ ...call(1, 1), scopes: budgets.scopesFor(key, undefined) }));
    clock = Date.parse("2026-12-05T00:00:00Z");
    const tomorrow = budgets.scopesFor(key, undefined);
    expect(tomorrow.run).toBe("key:key_1:2026-12-05T00:00:00.000Z");
    await budget.reserve({ ...call(300, 200), scopes: tomorrow });
    expect(await budgets.standing(key, undefined)).toEqual({
      tokens: 0,
      resetsAt: "2026-12-06T00:00:00.000Z",
      scope: "key",
    });
    await budgets.close();
  });

  it("a key's own window wins over the default; users reset with their key", async () => {
    let clock = Date.parse("2026-12-04T10:20:00Z");
    const budgets = createServerBudgets({
      defaults: { userBudget: { maxTokens: 5 }, budgetWindow: "30d" },
      now: () => clock,
    });
    const key: VirtualKey = { id: "k", name: "k", budgetWindow: "1h" };
    expect(budgets.scopesFor(key, "u")).toEqual({
      run: "key:k:2026-12-04T10:00:00.000Z",
      thread: "user:k:u:2026-12-04T10:00:00.000Z",
    });
    clock = Date.parse("2026-12-04T11:00:00Z");
    expect(budgets.scopesFor(key, "u").thread).toBe("user:k:u:2026-12-04T11:00:00.000Z");
    expect((await budgets.standing(key, "u")).resetsAt).toBe("2026-12-04T12:00:00.000Z");
    await budgets.close();
  });

  it("in process, only the current window's accounts are kept; a call reserved before the roll still settles", async () => {
    let clock = Date.parse("2026-12-04T10:00:00Z");
    const budgets = createServerBudgets({
      prices,
      defaults: { keyBudget: { maxTokens: 1_000 }, userBudget: { maxTokens: 500 }, budgetWindow: "1h" },
      now: () => clock,
    });
    const key: VirtualKey = { id: "k", name: "k" };
    const budget = budgets.budgetFor(key) as TokenBudget;
    for (const user of ["a", "b", "c"]) {
      const reservation = budget.reserve({ ...call(10, 10), scopes: budgets.scopesFor(key, user) });
      budget.settle(reservation, { inputTokens: 10, outputTokens: 5 });
    }
    const inFlight = budget.reserve({ ...call(10, 10), scopes: budgets.scopesFor(key, "a") });
    expect(budget.snapshot()).toHaveLength(4); // the key and three users, this hour

    clock += 3_600_000;
    const scopes = budgets.scopesFor(key, "a");
    expect(budget.snapshot()).toEqual([]); // the past hour's accounts are gone
    expect(budget.settle(inFlight, { inputTokens: 10, outputTokens: 10 }).tokens).toBe(20); // still settles
    budget.reserve({ ...call(10, 10), scopes });
    expect(budget.snapshot().map((account) => account.scopeId)).toEqual([
      "user:k:a:2026-12-04T11:00:00.000Z",
      "key:k:2026-12-04T11:00:00.000Z",
    ]);
    expect(await budgets.standing(key, "a")).toMatchObject({ tokens: 480, resetsAt: "2026-12-04T12:00:00.000Z" });
    await budgets.close();
  });

  it("windows align to UTC: hours, days, Monday weeks, calendar months, multiples from 1970", () => {
    const at = Date.parse("2026-12-04T16:20:00Z"); // a Friday
    const iso = (ms: number) => new Date(ms).toISOString();
    const span = (text: string) => {
      const window = parseBudgetWindow(text);
      const start = window.startOf(at);
      return [iso(start), iso(window.endOf(start))];
    };
    expect(span("15m")).toEqual(["2026-12-04T16:15:00.000Z", "2026-12-04T16:30:00.000Z"]);
    expect(span("1h")).toEqual(["2026-12-04T16:00:00.000Z", "2026-12-04T17:00:00.000Z"]);
    expect(span("1d")).toEqual(["2026-12-04T00:00:00.000Z", "2026-12-05T00:00:00.000Z"]);
    expect(span("1w")).toEqual(["2026-11-30T00:00:00.000Z", "2026-12-07T00:00:00.000Z"]);
    expect(span("1mo")).toEqual(["2026-12-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"]);
    expect(span("3mo")).toEqual(["2026-10-01T00:00:00.000Z", "2027-01-01T00:00:00.000Z"]);
    const [start, end] = span("30d").map(Date.parse) as [number, number];
    expect(end - start).toBe(30 * 86_400_000);
    expect(start <= at && at < end).toBe(true);
    expect(start % 86_400_000).toBe(0);
  });

  it("a bad window is a ConfigError naming the field", () => {
    const error = (() => {
      try {
        createServerBudgets({ defaults: { budgetWindow: "30 days" } });
      } catch (caught) {
        return caught;
      }
    })();
    expect(ConfigError.isInstance(error)).toBe(true);
    expect((error as ConfigError).fields).toEqual(["defaults.budgetWindow"]);
    expect((error as Error).message).toMatch(/must be a period like "1h", "1d" or "30d"/);
    expect(() => parseBudgetWindow("0d")).toThrow(/budgetWindow: must be a period/);
    const budgets = createServerBudgets();
    expect(() => budgets.scopesFor({ id: "k", name: "ci", budgetWindow: "1y" }, undefined)).toThrow(
      /key "ci" budgetWindow/,
    );
  });
});

/**
 * Two replicas (`ServerBudgets` over two stores on the same accounts) spend one key's $3 (and $1 per
 * user) in rounds of 40 requests in flight at once, alternating replicas: reserve, yield, settle at
 * a usage ≤ the hold (or release), until a round in which no reservation passes. Checks that
 * nothing was overspent, nothing is still held, and the budget was used up to the last hold that fits.
 */
async function replicasNeverOverspend(
  stores: readonly [BudgetStore, BudgetStore],
  probe: () => Promise<{ store: BudgetStore; close: () => Promise<void> }>,
): Promise<void> {
  const limitUsd = 3;
  const userLimitUsd = 1;
  const replicas = stores.map((store) =>
    createServerBudgets({
      store,
      prices,
      defaults: { keyBudget: { maxUsd: limitUsd }, userBudget: { maxUsd: userLimitUsd } },
    }),
  );
  const key: VirtualKey = { id: "key_shared", name: "shared" };
  const users = ["alice", "bob", "carol", "dave", "erin"];
  let settledUsd = 0;
  const spentByUser = new Map<string, number>();
  let refused = 0;

  const round = (offset: number) =>
    Promise.all(
      Array.from({ length: 40 }, async (_, slot) => {
        const index = offset + slot;
        const budgets = replicas[index % 2] as (typeof replicas)[number];
        const user = users[index % users.length] as string;
        const budget = budgets.budgetFor(key);
        let reservation: Awaited<ReturnType<typeof budget.reserve>>;
        try {
          reservation = await budget.reserve({ ...call(20, 40), scopes: budgets.scopesFor(key, user) }); // holds $0.1
        } catch (error) {
          if (!BudgetExhaustedError.isInstance(error)) throw error;
          refused += 1;
          return false;
        }
        await new Promise((resolve) => setImmediate(resolve));
        if (index % 7 === 0) {
          await budget.release(reservation); // a failed call: nothing charged
          return true;
        }
        const outputTokens = 10 + (index % 31); // ≤ 40
        const settlement = await budget.settle(reservation, { inputTokens: 20, outputTokens });
        settledUsd += settlement.usd;
        spentByUser.set(user, (spentByUser.get(user) ?? 0) + settlement.usd);
        return true;
      }),
    );
  let rounds = 0;
  while (rounds < 200 && (await round(rounds * 40)).some(Boolean)) rounds += 1;
  expect(rounds).toBeLessThan(200);

  expect(refused).toBeGreaterThan(0); // the limit was reached
  expect(settledUsd).toBeLessThanOrEqual(limitUsd + 1e-9);
  for (const spent of spentByUser.values()) expect(spent).toBeLessThanOrEqual(userLimitUsd + 1e-9);

  // A third reader of the same accounts: what was settled, nothing still held.
  const reader = await probe();
  const accounts = await reader.store.snapshot();
  const keyAccount = accounts.find((account) => account.scope === "run" && account.scopeId === "key:key_shared");
  expect(keyAccount?.reservedNanoUsd).toBe(0);
  expect((keyAccount?.spentNanoUsd ?? 0) / 1e9).toBeCloseTo(settledUsd, 6);
  await reader.close();
  for (const budgets of replicas) {
    const { usd = Number.NaN } = await budgets.standing(key, undefined);
    expect(usd).toBeCloseTo(limitUsd - settledUsd, 6);
    expect(usd).toBeLessThan(0.1); // used up to the last hold that fits, not left idle
  }
  for (const budgets of replicas) await budgets.close();
}

describe("server budgets: replicas sharing a SQLite store", () => {
  it("two ServerBudgets on one file never overspend under concurrent reserve and settle", async () => {
    const path = join(folder, "replicas.db");
    await replicasNeverOverspend([createSqliteBudgetStore({ path }), createSqliteBudgetStore({ path })], async () => {
      const store = createSqliteBudgetStore({ path });
      return { store, close: () => store.close() };
    });
  });
});

describePostgres("server budgets: replicas sharing a PostgreSQL store", (url) => {
  it("two ServerBudgets on one schema never overspend under concurrent reserve and settle", async () => {
    const { schema, drop } = await freshSchema(url, "server_budgets");
    const open = () => createPostgresBudgetStore({ connectionString: url, schema });
    try {
      await replicasNeverOverspend([await open(), await open()], async () => {
        const store = await open();
        return { store, close: () => store.close() };
      });
    } finally {
      await drop();
    }
  });
});
