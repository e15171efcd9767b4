/**
 * The conformance suite of `BudgetStore` (`src/budget/store.ts`), run against every backend: the
 * in-process store, SQLite and PostgreSQL. It holds a backend to the behaviour of the reference
 * implementation, `createMemoryBudgetStore`:
 *
 * - `reserve` is all-or-nothing over the accounts of a reservation, reports the first account (in
 *   the request's order, tokens before USD) that lacked room, and holds a retried id once;
 * - `settle` / `release` close a reservation exactly once by id (`closed` the second time,
 *   `unknown` for an id never reserved);
 * - leases: a reserve touching an account first releases that account's expired reservations, each
 *   reported by exactly one call; `expire(now)` sweeps every account; a settle after expiry is
 *   `late`, charged, and does not free the hold a second time;
 * - `accounts()` answers in the order asked, zeros for accounts never used; `snapshot()` lists all;
 * - under concurrency the limits hold exactly (200 concurrent reserves with room for 50 hold 50),
 *   and, when the setup gives `createPeer`, across two store instances on one backing store.
 *
 * Every test gets a fresh, empty store from `create({ key })`, disposed of afterwards by `destroy`
 * (default `close()`). Times are passed explicitly (the contract takes `now`), so no clock seam is
 * needed. vitest is loaded when the suite is described, not when `langchain-gavel/testing` is
 * imported.
 */
import type {
  BudgetStore,
  ExpiredReservation,
  StoreAccountRef,
  StoreAccountState,
  StoreReservation,
} from "../budget/store.js";
import type { BudgetScope } from "../budget/types.js";
import {
  type ConformanceContext,
  type ConformanceSetup,
  createBackendTracker,
  nextConformanceKey,
  seededRandom,
} from "./conformance.js";
import { loadVitest } from "./vitest.js";

/**
 * How the budget-store suite opens and disposes of a backend: `create({ key })` returns a store on
 * fresh, empty data named by `key` (a file, a schema); `destroy(store, { key })` closes it and
 * removes the data (default `store.close()`). A store shared by processes also gives `createPeer`.
 *
 * @example
 * ```ts
 * import { rmSync } from "node:fs";
 * import { join } from "node:path";
 * import { createSqliteBudgetStore } from "langchain-gavel/sqlite";
 *
 * const setup: BudgetStoreConformanceSetup = {
 *   name: "SQLite file",
 *   create: ({ key }) => createSqliteBudgetStore({ path: join(folder, `${key}.db`) }),
 *   createPeer: ({ key }) => createSqliteBudgetStore({ path: join(folder, `${key}.db`) }),
 *   destroy: async (store, { key }) => {
 *     await store.close();
 *     rmSync(join(folder, `${key}.db`), { force: true });
 *   },
 * };
 * ```
 */
export interface BudgetStoreConformanceSetup<Store extends BudgetStore = BudgetStore>
  extends ConformanceSetup<Store, ConformanceContext> {
  /**
   * A second store instance on the same data as the store `create(context)` returned (the same
   * file, the same schema), open at the same time, as another process would open it. Given, the
   * suite checks that the limits hold across the two instances. The suite closes it (before
   * `destroy` runs for the first one).
   */
  createPeer?(context: ConformanceContext): BudgetStore | Promise<BudgetStore>;
}

/** A lease far in the future: these reservations never expire during a test. */
const FOREVER = 8_000_000_000_000;
const T0 = 1_000_000;

const global = (limits: { maxTokens?: number; maxNanoUsd?: number } = {}): StoreAccountRef => ({
  scope: "global",
  scopeId: "*",
  ...limits,
});
const ref = (
  scope: BudgetScope,
  scopeId: string,
  limits: { maxTokens?: number; maxNanoUsd?: number } = {},
): StoreAccountRef => ({ scope, scopeId, ...limits });

/** A reservation of `tokens` tokens and `nanoUsd` nano-USD on `accounts`, made at T0, leased "forever" unless told. */
function held(
  id: string,
  accounts: readonly StoreAccountRef[],
  amounts: { tokens: number; nanoUsd?: number },
  options: { createdAt?: number; expiresAt?: number; model?: string; label?: string } = {},
): StoreReservation {
  return {
    id,
    accounts,
    tokens: amounts.tokens,
    nanoUsd: amounts.nanoUsd ?? 0,
    model: options.model ?? "gpt-4o-mini",
    ...(options.label !== undefined && { label: options.label }),
    createdAt: options.createdAt ?? T0,
    expiresAt: options.expiresAt ?? FOREVER,
  };
}

/** An account's state with the given amounts (zeros for the rest). */
function state(
  scope: BudgetScope,
  scopeId: string,
  amounts: Partial<Omit<StoreAccountState, "scope" | "scopeId">> = {},
): StoreAccountState {
  return { scope, scopeId, spentTokens: 0, spentNanoUsd: 0, reservedTokens: 0, reservedNanoUsd: 0, ...amounts };
}

const byAccount = (left: StoreAccountState, right: StoreAccountState) =>
  `${left.scope}:${left.scopeId}`.localeCompare(`${right.scope}:${right.scopeId}`);
const byId = (left: ExpiredReservation, right: ExpiredReservation) => left.id.localeCompare(right.id);

/**
 * Describe the conformance tests of a `BudgetStore` backend. Await it at the top level of a test
 * file.
 *
 * @param setup - `{ name, create, destroy?, createPeer? }`: open a store on fresh data for a key,
 *   dispose of it, and (stores shared by processes) open a second instance on the same data.
 * @returns Once the tests are registered.
 * @throws MissingPeerDependencyError when vitest is not installed.
 *
 * @example
 * ```ts
 * // tests/budget/store-conformance.test.ts
 * import { createMemoryBudgetStore } from "langchain-gavel";
 * import { describeBudgetStoreConformance } from "langchain-gavel/testing";
 *
 * await describeBudgetStoreConformance({ name: "in-process", create: () => createMemoryBudgetStore() });
 * ```
 *
 * @example
 * ```ts
 * // a PostgreSQL store, one schema per test
 * await describeBudgetStoreConformance({
 *   name: "PostgreSQL",
 *   create: ({ key }) => createPostgresBudgetStore({ connectionString, schema: schemaOf(key) }),
 *   createPeer: ({ key }) => createPostgresBudgetStore({ connectionString, schema: schemaOf(key) }),
 *   destroy: async (store, { key }) => {
 *     await store.close();
 *     await dropSchema(schemaOf(key));
 *   },
 * });
 * ```
 */
export async function describeBudgetStoreConformance<Store extends BudgetStore>(
  setup: BudgetStoreConformanceSetup<Store>,
): Promise<void> {
  const { afterEach, describe, expect, it } = await loadVitest();
  const backends = createBackendTracker(setup);
  const peers: BudgetStore[] = [];

  describe(`BudgetStore conformance: ${setup.name}`, () => {
    async function open(): Promise<{ store: Store; context: ConformanceContext }> {
      const context: ConformanceContext = { key: nextConformanceKey(setup.name) };
      return { store: await backends.open(context), context };
    }

    afterEach(async () => {
      const errors: unknown[] = [];
      for (const peer of peers.splice(0)) await peer.close().catch((error: unknown) => errors.push(error));
      await backends.disposeAll();
      if (errors.length > 0) throw new AggregateError(errors, `${setup.name}: a peer failed to close`);
    });

    describe("accounts", () => {
      it("answers zeros for accounts never used, in the order asked; an empty store has an empty snapshot", async () => {
        const { store } = await open();
        expect(await store.snapshot()).toEqual([]);
        expect(
          await store.accounts([
            { scope: "run", scopeId: "r-2" },
            { scope: "global", scopeId: "*" },
            { scope: "thread", scopeId: "t-1" },
          ]),
        ).toEqual([state("run", "r-2"), state("global", "*"), state("thread", "t-1")]);
        expect(await store.accounts([])).toEqual([]);
        expect(await store.reservationState("never-reserved")).toBeUndefined();
      });

      it("holds a reservation in every one of its accounts; the snapshot lists every account touched", async () => {
        const { store } = await open();
        const result = await store.reserve(
          held("a", [global({ maxTokens: 1_000 }), ref("thread", "t-1"), ref("run", "r-1", { maxNanoUsd: 10_000 })], {
            tokens: 300,
            nanoUsd: 4_000,
          }),
          T0,
        );
        expect(result).toEqual({ expired: [] });
        expect(await store.reservationState("a")).toBe("open");
        const amounts = { reservedTokens: 300, reservedNanoUsd: 4_000 };
        expect(
          await store.accounts([
            { scope: "run", scopeId: "r-1" },
            { scope: "thread", scopeId: "t-1" },
            { scope: "global", scopeId: "*" },
            { scope: "run", scopeId: "r-2" },
          ]),
        ).toEqual([
          state("run", "r-1", amounts),
          state("thread", "t-1", amounts),
          state("global", "*", amounts),
          state("run", "r-2"),
        ]);
        expect((await store.snapshot()).sort(byAccount)).toEqual(
          [state("global", "*", amounts), state("run", "r-1", amounts), state("thread", "t-1", amounts)].sort(
            byAccount,
          ),
        );
      });

      it("keeps amounts exact beyond 2^32 (nano-USD totals of thousands of dollars)", async () => {
        const { store } = await open();
        const big = 4_000_000_000_123; // 4,000 USD and 123 nano-USD
        await store.reserve(held("a", [global({ maxNanoUsd: 3 * big })], { tokens: 5_000_000_000, nanoUsd: big }), T0);
        await store.reserve(held("b", [global({ maxNanoUsd: 3 * big })], { tokens: 1, nanoUsd: big }), T0);
        expect(await store.settle("a", { tokens: 5_000_000_001, nanoUsd: big + 1 }, T0)).toEqual({ status: "settled" });
        expect(await store.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
          state("global", "*", {
            spentTokens: 5_000_000_001,
            spentNanoUsd: big + 1,
            reservedTokens: 1,
            reservedNanoUsd: big,
          }),
        ]);
        const refused = await store.reserve(
          held("c", [global({ maxNanoUsd: 3 * big })], { tokens: 1, nanoUsd: big }),
          T0,
        );
        expect(refused.refusal).toEqual({
          scope: "global",
          scopeId: "*",
          unit: "usd",
          limit: 3 * big,
          spent: big + 1,
          reserved: big,
          requested: big,
        });
      });
    });

    describe("reserve", () => {
      it("is all-or-nothing: an account without room refuses, and nothing is held in the others", async () => {
        const { store } = await open();
        await store.reserve(held("first", [ref("run", "r-1")], { tokens: 70 }), T0);
        const result = await store.reserve(
          held("second", [global({ maxTokens: 1_000 }), ref("thread", "t-1"), ref("run", "r-1", { maxTokens: 100 })], {
            tokens: 40,
            nanoUsd: 9,
          }),
          T0,
        );
        expect(result).toEqual({
          refusal: { scope: "run", scopeId: "r-1", unit: "tokens", limit: 100, spent: 0, reserved: 70, requested: 40 },
          expired: [],
        });
        expect(await store.reservationState("second")).toBeUndefined();
        expect(
          await store.accounts([
            { scope: "global", scopeId: "*" },
            { scope: "thread", scopeId: "t-1" },
            { scope: "run", scopeId: "r-1" },
          ]),
        ).toEqual([state("global", "*"), state("thread", "t-1"), state("run", "r-1", { reservedTokens: 70 })]);
      });

      it("reports the first refusing account in the request's order, and tokens before USD", async () => {
        const { store } = await open();
        await store.reserve(
          held("seed", [global(), ref("thread", "t-1"), ref("run", "r-1")], { tokens: 50, nanoUsd: 500 }),
          T0,
        );
        await store.settle("seed", { tokens: 60, nanoUsd: 600 }, T0);

        const both = { maxTokens: 100, maxNanoUsd: 1_000 };
        const bothShort = await store.reserve(
          held("x", [global(), ref("run", "r-1", both), ref("thread", "t-1", both)], { tokens: 50, nanoUsd: 500 }),
          T0,
        );
        expect(bothShort.refusal).toEqual({
          scope: "run",
          scopeId: "r-1",
          unit: "tokens",
          limit: 100,
          spent: 60,
          reserved: 0,
          requested: 50,
        });

        const usdShort = await store.reserve(
          held("y", [ref("thread", "t-1", { maxTokens: 1_000, maxNanoUsd: 1_000 }), ref("run", "r-1", both)], {
            tokens: 10,
            nanoUsd: 401,
          }),
          T0,
        );
        expect(usdShort.refusal).toEqual({
          scope: "thread",
          scopeId: "t-1",
          unit: "usd",
          limit: 1_000,
          spent: 600,
          reserved: 0,
          requested: 401,
        });

        const exactFit = await store.reserve(
          held("z", [ref("thread", "t-1", both), ref("run", "r-1", both)], { tokens: 40, nanoUsd: 400 }),
          T0,
        );
        expect(exactFit).toEqual({ expired: [] });
        expect(await store.reservationState("x")).toBeUndefined();
        expect(await store.reservationState("y")).toBeUndefined();
        expect(await store.reservationState("z")).toBe("open");
      });

      it("holds without limits, and checks each request against the limits it carries", async () => {
        const { store } = await open();
        expect(await store.reserve(held("a", [global()], { tokens: 10_000, nanoUsd: 10_000 }), T0)).toEqual({
          expired: [],
        });
        const refused = await store.reserve(held("b", [global({ maxTokens: 10_000 })], { tokens: 1 }), T0);
        expect(refused.refusal?.unit).toBe("tokens");
        expect(await store.reserve(held("c", [global({ maxTokens: 10_001 })], { tokens: 1 }), T0)).toEqual({
          expired: [],
        });
        expect(await store.reserve(held("d", [global({ maxTokens: 0 })], { tokens: 0, nanoUsd: 5 }), T0)).toEqual({
          refusal: {
            scope: "global",
            scopeId: "*",
            unit: "tokens",
            limit: 0,
            spent: 0,
            reserved: 10_001,
            requested: 0,
          },
          expired: [],
        });
      });

      it("holds a retried id once, even when the retry would not fit, and never again once closed", async () => {
        const { store } = await open();
        const request = held("retried", [global({ maxTokens: 100 }), ref("run", "r-1")], { tokens: 60, nanoUsd: 6 });
        expect(await store.reserve(request, T0)).toEqual({ expired: [] });
        expect(await store.reserve(request, T0 + 1)).toEqual({ expired: [] });
        expect(await store.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
          state("global", "*", { reservedTokens: 60, reservedNanoUsd: 6 }),
        ]);
        expect(await store.settle("retried", { tokens: 50, nanoUsd: 5 }, T0 + 2)).toEqual({ status: "settled" });
        expect(await store.reserve(request, T0 + 3)).toEqual({ expired: [] });
        expect(await store.reservationState("retried")).toBe("settled");
        expect(await store.accounts([{ scope: "run", scopeId: "r-1" }])).toEqual([
          state("run", "r-1", { spentTokens: 50, spentNanoUsd: 5 }),
        ]);
      });
    });

    describe("settle and release", () => {
      it("settle charges what was spent and frees the hold, once; a second call reports the state", async () => {
        const { store } = await open();
        await store.reserve(
          held("a", [global({ maxTokens: 1_000 }), ref("run", "r-1")], { tokens: 500, nanoUsd: 50 }),
          T0,
        );
        expect(await store.settle("a", { tokens: 420, nanoUsd: 42 }, T0 + 10)).toEqual({ status: "settled" });
        expect(await store.reservationState("a")).toBe("settled");
        const after = [
          state("global", "*", { spentTokens: 420, spentNanoUsd: 42 }),
          state("run", "r-1", { spentTokens: 420, spentNanoUsd: 42 }),
        ];
        expect(
          await store.accounts([
            { scope: "global", scopeId: "*" },
            { scope: "run", scopeId: "r-1" },
          ]),
        ).toEqual(after);

        expect(await store.settle("a", { tokens: 420, nanoUsd: 42 }, T0 + 11)).toEqual({
          status: "closed",
          state: "settled",
        });
        expect(await store.release("a", T0 + 12)).toEqual({ status: "closed", state: "settled" });
        expect(
          await store.accounts([
            { scope: "global", scopeId: "*" },
            { scope: "run", scopeId: "r-1" },
          ]),
        ).toEqual(after);
      });

      it("release frees the hold and charges nothing, once", async () => {
        const { store } = await open();
        await store.reserve(held("a", [global(), ref("thread", "t-1")], { tokens: 500, nanoUsd: 50 }), T0);
        expect(await store.release("a", T0 + 1)).toEqual({ status: "released" });
        expect(await store.reservationState("a")).toBe("released");
        expect(await store.release("a", T0 + 2)).toEqual({ status: "closed", state: "released" });
        expect(await store.settle("a", { tokens: 1, nanoUsd: 1 }, T0 + 3)).toEqual({
          status: "closed",
          state: "released",
        });
        expect(
          await store.accounts([
            { scope: "global", scopeId: "*" },
            { scope: "thread", scopeId: "t-1" },
          ]),
        ).toEqual([state("global", "*"), state("thread", "t-1")]);
      });

      it("answers unknown for an id never reserved (or refused)", async () => {
        const { store } = await open();
        expect(await store.settle("nobody", { tokens: 1, nanoUsd: 1 }, T0)).toEqual({ status: "unknown" });
        expect(await store.release("nobody", T0)).toEqual({ status: "unknown" });
        await store.reserve(held("refused", [global({ maxTokens: 5 })], { tokens: 6 }), T0);
        expect(await store.settle("refused", { tokens: 1, nanoUsd: 0 }, T0)).toEqual({ status: "unknown" });
        expect(await store.snapshot()).toEqual([state("global", "*")]);
      });

      it("charges a settle past the limit (the provider billed it), and later reserves see it", async () => {
        const { store } = await open();
        await store.reserve(held("a", [global({ maxTokens: 100 })], { tokens: 50 }), T0);
        expect(await store.settle("a", { tokens: 150, nanoUsd: 0 }, T0)).toEqual({ status: "settled" });
        const refused = await store.reserve(held("b", [global({ maxTokens: 100 })], { tokens: 0 }), T0);
        expect(refused.refusal).toMatchObject({ unit: "tokens", spent: 150, reserved: 0, requested: 0 });
      });
    });

    describe("leases", () => {
      it("a reserve on one of its accounts releases an expired reservation, and reports it once", async () => {
        const { store } = await open();
        const dead = held(
          "dead",
          [global(), ref("run", "r-1")],
          { tokens: 80, nanoUsd: 8 },
          {
            createdAt: T0,
            expiresAt: T0 + 100,
            model: "gpt-4o",
            label: "plan",
          },
        );
        await store.reserve(dead, T0);
        // The lease runs up to expiresAt: a reserve before it leaves the reservation alone.
        expect(await store.reserve(held("early", [ref("run", "r-1")], { tokens: 1 }), T0 + 99)).toEqual({
          expired: [],
        });
        // A reserve on accounts it does not touch leaves it alone too.
        expect(await store.reserve(held("other", [ref("run", "r-2")], { tokens: 1 }), T0 + 500)).toEqual({
          expired: [],
        });
        expect(await store.reservationState("dead")).toBe("open");

        const touching = await store.reserve(held("next", [ref("run", "r-1")], { tokens: 1 }), T0 + 100);
        expect(touching).toEqual({
          expired: [
            {
              id: "dead",
              model: "gpt-4o",
              label: "plan",
              tokens: 80,
              nanoUsd: 8,
              accounts: [
                { scope: "global", scopeId: "*" },
                { scope: "run", scopeId: "r-1" },
              ],
              createdAt: T0,
              expiresAt: T0 + 100,
            },
          ],
        });
        expect(await store.reservationState("dead")).toBe("expired");
        // Freed in every account it held, the untouched global one included.
        expect(
          await store.accounts([
            { scope: "global", scopeId: "*" },
            { scope: "run", scopeId: "r-1" },
          ]),
        ).toEqual([state("global", "*"), state("run", "r-1", { reservedTokens: 2 })]);
        expect(await store.reserve(held("after", [global(), ref("run", "r-1")], { tokens: 1 }), T0 + 200)).toEqual({
          expired: [],
        });
        expect(await store.expire(T0 + 300)).toEqual([]);
      });

      it("frees room for the reserve that releases it", async () => {
        const { store } = await open();
        const limit = [global({ maxTokens: 100 })];
        await store.reserve(held("dead", limit, { tokens: 80 }, { expiresAt: T0 + 50 }), T0);
        const early = await store.reserve(held("a", limit, { tokens: 50 }), T0 + 49);
        expect(early.refusal).toMatchObject({ reserved: 80, requested: 50 });
        const later = await store.reserve(held("b", limit, { tokens: 50 }), T0 + 50);
        expect(later.refusal).toBeUndefined();
        expect(later.expired.map((expired) => expired.id)).toEqual(["dead"]);
        expect(await store.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
          state("global", "*", { reservedTokens: 50 }),
        ]);
      });

      it("releases expired reservations even when the reserve itself is refused", async () => {
        const { store } = await open();
        await store.reserve(held("dead", [global()], { tokens: 10 }, { expiresAt: T0 + 5 }), T0);
        const result = await store.reserve(held("big", [global({ maxTokens: 100 })], { tokens: 101 }), T0 + 10);
        expect(result.refusal).toMatchObject({ reserved: 0, requested: 101 });
        expect(result.expired.map((expired) => expired.id)).toEqual(["dead"]);
        expect(await store.reservationState("dead")).toBe("expired");
      });

      it("expire(now) sweeps every account, reports each reservation once, and leaves live ones", async () => {
        const { store } = await open();
        await store.reserve(
          held("d1", [global(), ref("run", "r-1")], { tokens: 10, nanoUsd: 1 }, { expiresAt: T0 + 10 }),
          T0,
        );
        await store.reserve(held("d2", [ref("thread", "t-9")], { tokens: 20, nanoUsd: 2 }, { expiresAt: T0 + 20 }), T0);
        await store.reserve(
          held("live", [global(), ref("run", "r-2")], { tokens: 40, nanoUsd: 4 }, { expiresAt: T0 + 1_000 }),
          T0,
        );
        expect(await store.expire(T0 + 5)).toEqual([]);
        const swept = await store.expire(T0 + 20);
        expect(swept.sort(byId).map((expired) => [expired.id, expired.tokens, expired.nanoUsd])).toEqual([
          ["d1", 10, 1],
          ["d2", 20, 2],
        ]);
        expect(swept.find((expired) => expired.id === "d2")?.label).toBeUndefined();
        expect(await store.expire(T0 + 20)).toEqual([]);
        expect(await store.reserve(held("x", [global(), ref("thread", "t-9")], { tokens: 1 }), T0 + 30)).toEqual({
          expired: [],
        });
        expect((await store.snapshot()).sort(byAccount)).toEqual(
          [
            state("global", "*", { reservedTokens: 41, reservedNanoUsd: 4 }),
            state("run", "r-1"),
            state("run", "r-2", { reservedTokens: 40, reservedNanoUsd: 4 }),
            state("thread", "t-9", { reservedTokens: 1 }),
          ].sort(byAccount),
        );
        expect(await store.reservationState("live")).toBe("open");
      });

      it("a settle after expiry is late: the spend is charged and the hold is not freed twice", async () => {
        const { store } = await open();
        await store.reserve(
          held("slow", [global(), ref("run", "r-1")], { tokens: 100, nanoUsd: 10 }, { expiresAt: T0 + 10 }),
          T0,
        );
        await store.reserve(held("live", [global()], { tokens: 7, nanoUsd: 1 }), T0);
        expect((await store.expire(T0 + 10)).map((expired) => expired.id)).toEqual(["slow"]);
        expect(await store.release("slow", T0 + 11)).toEqual({ status: "closed", state: "expired" });
        expect(await store.settle("slow", { tokens: 90, nanoUsd: 9 }, T0 + 12)).toEqual({ status: "late" });
        expect(await store.reservationState("slow")).toBe("settled");
        expect(await store.settle("slow", { tokens: 90, nanoUsd: 9 }, T0 + 13)).toEqual({
          status: "closed",
          state: "settled",
        });
        expect(
          await store.accounts([
            { scope: "global", scopeId: "*" },
            { scope: "run", scopeId: "r-1" },
          ]),
        ).toEqual([
          state("global", "*", { spentTokens: 90, spentNanoUsd: 9, reservedTokens: 7, reservedNanoUsd: 1 }),
          state("run", "r-1", { spentTokens: 90, spentNanoUsd: 9 }),
        ]);
      });

      it("a reservation settled or released in time is never reported expired", async () => {
        const { store } = await open();
        await store.reserve(held("s", [global()], { tokens: 1 }, { expiresAt: T0 + 10 }), T0);
        await store.reserve(held("r", [global()], { tokens: 1 }, { expiresAt: T0 + 10 }), T0);
        await store.settle("s", { tokens: 1, nanoUsd: 0 }, T0 + 5);
        await store.release("r", T0 + 5);
        expect(await store.expire(T0 + 100)).toEqual([]);
        expect(await store.reserve(held("x", [global()], { tokens: 1 }), T0 + 100)).toEqual({ expired: [] });
      });
    });

    describe("concurrency", () => {
      it("200 concurrent reserves on one account with room for 50 hold exactly 50", async () => {
        const { store } = await open();
        const results = await Promise.all(
          Array.from({ length: 200 }, (_, index) =>
            store.reserve(
              held(`c-${index}`, [global({ maxTokens: 500, maxNanoUsd: 1_000_000 })], { tokens: 10, nanoUsd: 7 }),
              T0,
            ),
          ),
        );
        const holding = results.filter((result) => result.refusal === undefined);
        expect(holding).toHaveLength(50);
        expect(await store.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
          state("global", "*", { reservedTokens: 500, reservedNanoUsd: 350 }),
        ]);
        const ids = results.flatMap((result, index) => (result.refusal ? [] : [`c-${index}`]));
        const closes = await Promise.all(
          ids.map((id, index) =>
            index % 2 === 0 ? store.settle(id, { tokens: 9, nanoUsd: 5 }, T0 + 1) : store.release(id, T0 + 1),
          ),
        );
        expect(closes.filter((close) => close.status === "settled")).toHaveLength(25);
        expect(closes.filter((close) => close.status === "released")).toHaveLength(25);
        expect(await store.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
          state("global", "*", { spentTokens: 225, spentNanoUsd: 125 }),
        ]);
      });

      it("concurrent closes of one reservation: exactly one closes it", async () => {
        const { store } = await open();
        await store.reserve(held("once", [global(), ref("run", "r-1")], { tokens: 10, nanoUsd: 10 }), T0);
        const closes = await Promise.all(
          Array.from({ length: 12 }, (_, index) =>
            index % 3 === 0 ? store.release("once", T0 + 1) : store.settle("once", { tokens: 8, nanoUsd: 8 }, T0 + 1),
          ),
        );
        const closing = closes.filter((close) => close.status === "settled" || close.status === "released");
        expect(closing).toHaveLength(1);
        const final = closing[0]?.status === "settled" ? "settled" : "released";
        expect(closes.filter((close) => close.status === "closed")).toEqual(
          Array.from({ length: 11 }, () => ({ status: "closed", state: final })),
        );
        const spent = final === "settled" ? 8 : 0;
        expect(await store.accounts([{ scope: "run", scopeId: "r-1" }])).toEqual([
          state("run", "r-1", { spentTokens: spent, spentNanoUsd: spent }),
        ]);
      });

      it("random concurrent reserves over overlapping accounts, in any order, never pass a limit and end balanced", async () => {
        const { store } = await open();
        const random = seededRandom(20_261_122);
        const limits = { maxTokens: 2_000, maxNanoUsd: 30_000 };
        const pool: StoreAccountRef[] = [
          global(limits),
          ref("thread", "t-1", limits),
          ref("thread", "t-2", limits),
          ref("run", "r-1", limits),
          ref("run", "r-2", limits),
        ];
        const requests = Array.from({ length: 120 }, (_, index) => {
          const accounts = pool.filter(() => random() < 0.5);
          if (accounts.length === 0) accounts.push(pool[index % pool.length] as StoreAccountRef);
          if (random() < 0.5) accounts.reverse(); // stores must not deadlock on account order
          const tokens = 1 + Math.floor(random() * 120);
          return held(`r-${index}`, accounts, { tokens, nanoUsd: tokens * 13 });
        });
        const results = await Promise.all(requests.map((request) => store.reserve(request, T0)));
        const holding = requests.filter((_, index) => results[index]?.refusal === undefined);
        expect(holding.length).toBeGreaterThan(0);
        expect(holding.length).toBeLessThan(requests.length);
        const accounts = await store.accounts(pool);
        for (const [index, account] of accounts.entries()) {
          const target = pool[index] as StoreAccountRef;
          const expected = holding
            .filter((request) =>
              request.accounts.some((other) => other.scope === target.scope && other.scopeId === target.scopeId),
            )
            .reduce((sum, request) => sum + request.tokens, 0);
          expect(account.reservedTokens).toBe(expected);
          expect(account.reservedTokens).toBeLessThanOrEqual(limits.maxTokens);
          expect(account.reservedNanoUsd).toBeLessThanOrEqual(limits.maxNanoUsd);
        }
        await Promise.all(
          holding.map((request, index) =>
            index % 2 === 0
              ? store.release(request.id, T0 + 1)
              : store.settle(request.id, { tokens: 1, nanoUsd: 1 }, T0 + 1),
          ),
        );
        for (const account of await store.snapshot()) {
          expect(account.reservedTokens).toBe(0);
          expect(account.reservedNanoUsd).toBe(0);
        }
      });

      if (setup.createPeer) {
        const createPeer = setup.createPeer.bind(setup);
        it("two instances on one backing store: the limit holds across them, each sees the other's work", async () => {
          const { store, context } = await open();
          const peer = await createPeer(context);
          peers.push(peer);
          const limit = [global({ maxTokens: 300 }), ref("run", "shared")];
          const results = await Promise.all(
            Array.from({ length: 100 }, (_, index) =>
              (index % 2 === 0 ? store : peer).reserve(held(`p-${index}`, limit, { tokens: 10, nanoUsd: 1 }), T0),
            ),
          );
          expect(results.filter((result) => result.refusal === undefined)).toHaveLength(30);
          expect(await peer.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
            state("global", "*", { reservedTokens: 300, reservedNanoUsd: 30 }),
          ]);
          const heldIds = results.flatMap((result, index) => (result.refusal ? [] : [`p-${index}`]));
          // Closed by the other instance than the one that reserved; retries through either stay closed.
          const closes = await Promise.all(
            heldIds.map((id) =>
              (Number(id.slice(2)) % 2 === 0 ? peer : store).settle(id, { tokens: 4, nanoUsd: 1 }, T0 + 1),
            ),
          );
          expect(closes.every((close) => close.status === "settled")).toBe(true);
          const retries = await Promise.all(heldIds.map((id) => store.settle(id, { tokens: 4, nanoUsd: 1 }, T0 + 2)));
          expect(retries.every((close) => close.status === "closed")).toBe(true);
          expect(await store.accounts([{ scope: "run", scopeId: "shared" }])).toEqual([
            state("run", "shared", { spentTokens: 120, spentNanoUsd: 30 }),
          ]);

          // A lease expired in one instance is reported once, by whichever instance touches it first.
          await store.reserve(held("dying", limit, { tokens: 10 }, { expiresAt: T0 + 10 }), T0);
          const [first, second, sweptByPeer, sweptByStore] = await Promise.all([
            store.reserve(held("n-1", limit, { tokens: 1 }), T0 + 20),
            peer.reserve(held("n-2", limit, { tokens: 1 }), T0 + 20),
            peer.expire(T0 + 20),
            store.expire(T0 + 20),
          ]);
          const reported = [...first.expired, ...second.expired, ...sweptByPeer, ...sweptByStore];
          expect(reported.map((expired) => expired.id)).toEqual(["dying"]);
          expect(await peer.reservationState("dying")).toBe("expired");
        });
      }
    });

    describe("close", () => {
      it("closing twice is harmless, and a closed store refuses work", async () => {
        const { store } = await open();
        await store.reserve(held("a", [global()], { tokens: 1 }), T0);
        await store.close();
        await store.close();
        await expect(store.reserve(held("b", [global()], { tokens: 1 }), T0)).rejects.toThrow();
      });
    });
  });
}
