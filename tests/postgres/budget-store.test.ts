/**
 * The PostgreSQL budget store: the conformance suite (one schema per test, a second store on the
 * same schema as the peer), connections killed mid-call (never charged twice; a reservation left
 * open goes at the end of its lease), schemas from a newer Gavel, and the options.
 */
import { createServer } from "node:net";
import pg from "pg";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { createPostgresBudgetStore } from "../../adapters/postgres/budget-store.js";
import { PostgresConnectionError, PostgresSchemaVersionError } from "../../adapters/postgres/errors.js";
import { BudgetStoreError } from "../../src/budget/errors.js";
import type { StoreReservation } from "../../src/budget/store.js";
import { ConfigError } from "../../src/errors.js";
import { describeBudgetStoreConformance } from "../../src/testing/budget-store-conformance.js";
import { describePostgres, freshSchema, POSTGRES_URL } from "../helpers/postgres.js";

if (POSTGRES_URL) {
  const url = POSTGRES_URL;
  const schemas = new Map<string, Promise<{ schema: string; drop: () => Promise<void> }>>();
  const schemaOf = (key: string) => {
    let found = schemas.get(key);
    if (!found) {
      found = freshSchema(url, "budget_conf");
      schemas.set(key, found);
    }
    return found;
  };
  await describeBudgetStoreConformance({
    name: "PostgreSQL",
    create: async ({ key }) =>
      createPostgresBudgetStore({ connectionString: url, schema: (await schemaOf(key)).schema }),
    createPeer: async ({ key }) =>
      createPostgresBudgetStore({ connectionString: url, schema: (await schemaOf(key)).schema }),
    destroy: async (store, { key }) => {
      await store.close();
      await (await schemaOf(key)).drop();
      schemas.delete(key);
    },
  });
}

const T0 = 1_000_000;
const reservation = (id: string, tokens: number, expiresAt = 8_000_000_000_000): StoreReservation => ({
  id,
  accounts: [
    { scope: "global", scopeId: "*", maxTokens: 1_000 },
    { scope: "run", scopeId: "r-1" },
  ],
  tokens,
  nanoUsd: tokens * 10,
  model: "gpt-4o-mini",
  createdAt: T0,
  expiresAt,
});

describePostgres("PostgreSQL budget store: lost connections, versions, options", (url) => {
  let schema: { schema: string; drop: () => Promise<void> };
  let locker: pg.Client;
  beforeAll(async () => {
    schema = await freshSchema(url, "budget_store");
    locker = new pg.Client({ connectionString: url });
    await locker.connect();
  });
  afterEach(async () => {
    await locker.query("ROLLBACK"); // a failed test must not leave the account locked for the next
  });
  afterAll(async () => {
    await locker?.end();
    await schema?.drop();
  });

  /** A store on its own pool, whose checked-out connections the test can cut from the client side. */
  async function storeWithCuttablePool(storeSchema: string, retries: number) {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    pool.on("error", () => {}); // a cut idle client
    const active = new Set<pg.PoolClient>();
    pool.on("acquire", (client) => active.add(client));
    pool.on("release", (_error, client) => active.delete(client));
    const store = await createPostgresBudgetStore({ pool, schema: storeSchema, retries });
    const cut = () => {
      for (const client of active)
        (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    };
    const end = async () => {
      await store.close();
      await pool.end();
    };
    return { store, cut, end };
  }

  /** Lock the global account from another connection. */
  async function lockGlobal(storeSchema: string) {
    await locker.query("BEGIN");
    await locker.query(`SELECT 1 FROM "${storeSchema}".gavel_budget_accounts WHERE key = 'global:*' FOR UPDATE`);
  }

  /** Wait until `count` backends are blocked inside `functionName` of the schema; their pids. */
  async function waitForBlocked(storeSchema: string, functionName: string, count = 1): Promise<number[]> {
    for (let attempt = 0; attempt < 400; attempt += 1) {
      // The locker is inside a transaction, which would see one cached copy of pg_stat_activity.
      await locker.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await locker.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND query LIKE $1 AND pid <> pg_backend_pid() ORDER BY backend_start`,
        [`%"${storeSchema}".${functionName}%`],
      );
      if (rows.length >= count) return rows.map((row) => row.pid);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    const { rows } = await locker.query(
      "SELECT pid, state, wait_event_type, wait_event, left(query, 70) AS query FROM pg_stat_activity WHERE query LIKE $1",
      [`%${storeSchema}%`],
    );
    await locker.query("ROLLBACK");
    throw new Error(`fewer than ${count} backends blocked in ${functionName}: ${JSON.stringify(rows)}`);
  }

  const settle = <T>(promise: Promise<T>) =>
    promise.then(
      (value) => ({ status: "fulfilled", value }) as const,
      (reason: unknown) => ({ status: "rejected", reason }) as const,
    );

  it("a connection cut mid-reserve: the store retries, and the reservation is held once", async () => {
    const { schema: name, drop } = await freshSchema(url, "budget_cut");
    const { store, cut, end } = await storeWithCuttablePool(name, 1);
    try {
      await store.reserve(reservation("first", 100), T0);
      await lockGlobal(name);
      const pending = settle(store.reserve(reservation("second", 200), T0));
      await waitForBlocked(name, "gavel_budget_reserve");
      cut(); // the client loses the connection; the server's call is still waiting for the lock
      await waitForBlocked(name, "gavel_budget_reserve", 2); // the retry, on a new connection
      await locker.query("COMMIT"); // both run: the first to get the lock holds, the other finds the id held
      expect(await pending).toEqual({ status: "fulfilled", value: { expired: [] } });
      await waitForIdle(name);
      expect(await store.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
        { scope: "global", scopeId: "*", spentTokens: 0, spentNanoUsd: 0, reservedTokens: 300, reservedNanoUsd: 3_000 },
      ]);
    } finally {
      await end();
      await drop();
    }
  });

  it("without retries: the cut call fails, the server still holds it, and the caller's retry holds once", async () => {
    const { schema: name, drop } = await freshSchema(url, "budget_cut0");
    const { store, cut, end } = await storeWithCuttablePool(name, 0);
    try {
      await store.reserve(reservation("a", 100), T0);
      await lockGlobal(name);
      const pending = settle(store.reserve(reservation("b", 200), T0));
      await waitForBlocked(name, "gavel_budget_reserve");
      cut();
      const outcome = await pending;
      expect(outcome.status).toBe("rejected");
      const error = (outcome as { reason: BudgetStoreError }).reason;
      expect(BudgetStoreError.isInstance(error)).toBe(true);
      expect(error.operation).toBe("reserve");
      await locker.query("COMMIT");
      await waitForIdle(name); // the orphaned call commits: "b" is held, left to its lease unless retried
      expect(await store.reservationState("b")).toBe("open");
      expect(await store.reserve(reservation("b", 200), T0)).toEqual({ expired: [] });
      const [global] = await store.accounts([{ scope: "global", scopeId: "*" }]);
      expect(global?.reservedTokens).toBe(300);
    } finally {
      await end();
      await drop();
    }
  });

  it("a settle aborted on the server charges nothing; the reservation is left to its lease, and a late retry charges once", async () => {
    const { schema: name, drop } = await freshSchema(url, "budget_lease");
    const store = await createPostgresBudgetStore({ connectionString: url, schema: name, retries: 0 });
    try {
      await store.reserve(reservation("leased", 400, T0 + 100), T0);
      await lockGlobal(name);
      const pending = settle(store.settle("leased", { tokens: 300, nanoUsd: 3_000 }, T0 + 10));
      const [pid] = await waitForBlocked(name, "gavel_budget_close");
      await locker.query("SELECT pg_cancel_backend($1)", [pid]);
      expect((await pending).status).toBe("rejected");
      await locker.query("COMMIT");
      expect(await store.reservationState("leased")).toBe("open");
      const [held] = await store.accounts([{ scope: "global", scopeId: "*" }]);
      expect(held).toMatchObject({ spentTokens: 0, reservedTokens: 400 });

      // The caller is gone: the next reserve after the lease releases it.
      const next = await store.reserve(reservation("next", 700), T0 + 100);
      expect(next.refusal).toBeUndefined();
      expect(next.expired.map((expired) => expired.id)).toEqual(["leased"]);

      // The caller comes back and retries its settle: late, charged once, the hold not freed twice.
      expect(await store.settle("leased", { tokens: 300, nanoUsd: 3_000 }, T0 + 200)).toEqual({ status: "late" });
      expect(await store.settle("leased", { tokens: 300, nanoUsd: 3_000 }, T0 + 201)).toEqual({
        status: "closed",
        state: "settled",
      });
      expect(await store.accounts([{ scope: "global", scopeId: "*" }])).toEqual([
        {
          scope: "global",
          scopeId: "*",
          spentTokens: 300,
          spentNanoUsd: 3_000,
          reservedTokens: 700,
          reservedNanoUsd: 7_000,
        },
      ]);
    } finally {
      await store.close();
      await drop();
    }
  });

  /** Wait until no backend runs a function of the schema (an orphaned call has committed). */
  async function waitForIdle(storeSchema: string): Promise<void> {
    for (let attempt = 0; attempt < 400; attempt += 1) {
      await locker.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await locker.query(
        "SELECT 1 FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
        [`%"${storeSchema}".gavel_budget_%`],
      );
      if (rows.length === 0) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error("a budget-store call is still running");
  }

  it("refuses a schema whose budget tables are from a newer Gavel, naming both versions", async () => {
    const { schema: name, drop } = await freshSchema(url, "budget_newer");
    try {
      const store = await createPostgresBudgetStore({ connectionString: url, schema: name });
      await store.close();
      await locker.query(`UPDATE "${name}".gavel_migrations SET version = 9 WHERE component = 'budget'`);
      const error = await createPostgresBudgetStore({ connectionString: url, schema: name }).catch(
        (caught: unknown) => caught,
      );
      expect(PostgresSchemaVersionError.isInstance(error)).toBe(true);
      expect(error).toMatchObject({ component: "budget", found: 9, supported: 1 });
      expect((error as Error).message).toMatch(/version 9.*up to version 1/);
    } finally {
      await drop();
    }
  });

  it("leaves a pool it was given open, and refuses unknown options and fractional amounts", async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 });
    try {
      const store = await createPostgresBudgetStore({ pool, schema: schema.schema });
      await expect(store.reserve({ ...reservation("fraction", 1), tokens: 0.5 }, T0)).rejects.toThrow(
        /tokens must be a non-negative safe integer/,
      );
      await store.close();
      expect((await pool.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
    } finally {
      await pool.end();
    }
    const error = await createPostgresBudgetStore({
      connectionString: url,
      leaseMs: 5,
    } as unknown as Parameters<typeof createPostgresBudgetStore>[0]).catch((caught: unknown) => caught);
    expect(ConfigError.isInstance(error)).toBe(true);
  });
});

it("PostgreSQL budget store: an unreachable server fails fast, naming the target", async () => {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const error = await createPostgresBudgetStore({
    connectionString: `postgres://app:pw@127.0.0.1:${port}/gavel`,
  }).catch((caught: unknown) => caught);
  expect(PostgresConnectionError.isInstance(error)).toBe(true);
  expect((error as Error).message).toContain(`127.0.0.1:${port}/gavel`);
});
