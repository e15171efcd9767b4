/**
 * The budgets of `gavel serve`: one account per virtual key and one per (key, `user`), kept by the
 * library's own `TokenBudget` (`createTokenBudget`: in process by default, or a `StoredTokenBudget`
 * over the `BudgetStore` the server is given — SQLite for the processes of one host, PostgreSQL for
 * replicas on many, or the in-process `createMemoryBudgetStore`). The caller (the gateway's chat route) reserves before the
 * call and settles at the provider's usage after; this file only says which budget and which
 * accounts.
 *
 * Read top to bottom: budget windows → options → `createServerBudgets` → helpers.
 *
 * The mapping onto the library's scopes:
 * - the key's budget is the `run` scope, account `key:<id>`;
 * - each user's budget is the `thread` scope, account `user:<id>:<user>`;
 * - with a budget window (`"1d"`, `"30d"`, ...) each account id ends with the window's start
 *   (`key:<id>:2026-12-01T00:00:00.000Z`): every period is a new account, so a budget resets at the
 *   window's end without any job, and the old periods stay readable in the store.
 *
 * Windows are aligned to UTC calendar boundaries, not to the key's creation: `"1h"` resets on the
 * hour, `"1d"` at midnight UTC, `"1w"` on Monday 00:00 UTC, `"1mo"` on the first of the month. A
 * multiple (`"30d"`, `"2w"`, `"3mo"`) counts its periods from 1970-01-01 (weeks from Monday
 * 1970-01-05), so every replica computes the same window from the clock alone.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { TokenBudget } from "../../src/budget/budget.js";
import {
  type BudgetEvent,
  type BudgetExhaustedError,
  type BudgetStore,
  budgetLimitsSchema,
  budgetPriceTableSchema,
  createTokenBudget,
  type ScopeIds,
  type SharedTokenBudget,
  type StoredTokenBudget,
  type TokenBudgetOptions,
} from "../../src/budget/index.js";
import { functionSchema, parseConfig } from "../../src/errors.js";
import { timeoutMsSchema } from "../../src/timeouts.js";
import type { BudgetStanding, ServerBudgets, VirtualKey } from "./types.js";

// ---------------------------------------------------------------------------
// Budget windows
// ---------------------------------------------------------------------------

const WINDOW_PATTERN = /^([1-9]\d{0,5})(m|h|d|w|mo)$/;
const WINDOW_MESSAGE =
  'must be a period like "1h", "1d" or "30d": a whole number followed by m (minutes), h (hours), d (days), w (weeks) or mo (months)';

/**
 * Zod schema of a budget window (`"15m"`, `"1h"`, `"1d"`, `"30d"`, `"1w"`, `"1mo"`): a text, kept as
 * written. Use it in a config schema so a bad window is a `ConfigError` naming its field.
 *
 * @example
 * ```ts
 * budgetWindowSchema.safeParse("30d").success; // true
 * budgetWindowSchema.safeParse("30 days").success; // false: 'must be a period like "1h", "1d" or "30d": ...'
 * ```
 */
export const budgetWindowSchema = z.string().regex(WINDOW_PATTERN, { message: WINDOW_MESSAGE });

/** A parsed budget window: where the period holding a time starts and ends. */
export interface BudgetWindow {
  /** As written, e.g. `"30d"`. */
  readonly text: string;
  /** The start of the period holding `at` (epoch ms, UTC-aligned). */
  startOf(at: number): number;
  /** The end of the period that starts at `start` (epoch ms): when its budget resets. */
  endOf(start: number): number;
}

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
/** Monday 1970-01-05 00:00 UTC: weeks start on Mondays. */
const FIRST_MONDAY_MS = 4 * 86_400_000;

/**
 * Parse a budget window (see {@link budgetWindowSchema}).
 *
 * @param text - The window, e.g. `"1d"`.
 * @param field - The option it came from, named in the error (default `"budgetWindow"`).
 * @throws ConfigError naming `field` when `text` is not a window.
 * @example
 * ```ts
 * const window = parseBudgetWindow("1d");
 * const start = window.startOf(Date.parse("2026-12-04T16:20:00Z")); // 2026-12-04T00:00:00Z
 * new Date(window.endOf(start)).toISOString(); // "2026-12-05T00:00:00.000Z"
 * ```
 */
export function parseBudgetWindow(text: string, field = "budgetWindow"): BudgetWindow {
  const parsed = parseConfig(field, z.object({ [field]: budgetWindowSchema }), { [field]: text });
  const [, countText = "1", unit = "d"] = WINDOW_PATTERN.exec(parsed[field] as string) ?? [];
  const count = Number(countText);
  if (unit === "mo") {
    return {
      text,
      startOf(at) {
        const date = new Date(at);
        const months = (date.getUTCFullYear() - 1970) * 12 + date.getUTCMonth();
        return Date.UTC(1970, Math.floor(months / count) * count, 1);
      },
      endOf(start) {
        const date = new Date(start);
        return Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + count, 1);
      },
    };
  }
  const length = UNIT_MS[unit as keyof typeof UNIT_MS] * count;
  const origin = unit === "w" ? FIRST_MONDAY_MS : 0;
  return {
    text,
    startOf: (at) => Math.floor((at - origin) / length) * length + origin,
    endOf: (start) => start + length,
  };
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

const isBudgetStore = (value: unknown): value is BudgetStore =>
  typeof value === "object" &&
  value !== null &&
  ["reserve", "settle", "release", "accounts", "snapshot", "reservationState", "expire", "close"].every(
    (method) => typeof (value as Record<string, unknown>)[method] === "function",
  );

const serverBudgetsOptionsSchema = z
  .object({
    /**
     * Where the accounts live, shared by every process using it. Default: this process only (a
     * `TokenBudget` per key, which keeps only open reservations and the current window's accounts).
     */
    store: z
      .custom<BudgetStore>(isBudgetStore, {
        message: "must be a BudgetStore (createSqliteBudgetStore, createPostgresBudgetStore, createMemoryBudgetStore)",
      })
      .optional(),
    /** Prices of the models the calls are reserved for, merged over `DEFAULT_PRICES`. */
    prices: budgetPriceTableSchema.optional(),
    /** Limits for the keys that set none of their own. */
    defaults: z
      .object({
        /** What a key may spend (per window), over all its users. */
        keyBudget: budgetLimitsSchema.optional(),
        /** What each `user` of a key may spend (per window). */
        userBudget: budgetLimitsSchema.optional(),
        /** The window of keys that set none, e.g. `"30d"`; absent: budgets never reset. */
        budgetWindow: budgetWindowSchema.optional(),
      })
      .strict()
      .default({}),
    /** How long a reservation holds its room when its process dies (store-backed leases), in ms. */
    leaseMs: timeoutMsSchema.optional(),
    /** Every reserve, settle, release, refusal and expiry of every key's budget (the ledger's seam). */
    onEvent: functionSchema<(event: BudgetEvent) => void>().optional(),
    /** Clock seam, epoch ms: the budget windows and the leases. */
    now: functionSchema<() => number>().default(() => Date.now),
  })
  .strict();

/**
 * Options of {@link createServerBudgets}.
 *
 * @example
 * ```ts
 * const options: ServerBudgetsOptions = {
 *   store: createSqliteBudgetStore({ path: "gavel.db" }),
 *   prices: { "gpt-4o-mini": { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
 *   defaults: { keyBudget: { maxUsd: 20 }, userBudget: { maxUsd: 2 }, budgetWindow: "30d" },
 * };
 * ```
 */
export type ServerBudgetsOptions = z.input<typeof serverBudgetsOptionsSchema>;

// ---------------------------------------------------------------------------
// The budgets
// ---------------------------------------------------------------------------

/**
 * The budgets of the gateway: for each key a store-backed `TokenBudget` (cached) whose `run` limit
 * is the key's budget and whose `thread` limit is its per-user budget, over accounts that start
 * afresh every budget window. All keys share one store, so replicas sharing a SQLite file or a
 * PostgreSQL database share every key's accounts.
 *
 * The gateway reserves on `budgetFor(key)` with `scopesFor(key, user)` before a call and settles at
 * the provider's usage after (or `settleAbandoned` for a stream the client left); a refusal is a
 * `BudgetExhaustedError` naming the account (`key:<id>` or `user:<id>:<user>`; `refusedAccount`
 * maps it to `"key"` / `"user"`), and `standing` says what is left and when it resets, for the
 * 402/429 body: `usd` and `tokens` are the least left over the key's and the user's accounts, and
 * `scope` the account that binds (one spent out first, else the one with less left).
 *
 * A key's own `budget`, `userBudget` and `budgetWindow` win over `defaults`; a key with neither
 * limit is never refused (nothing is tracked for it). Without a `store` the accounts live in this
 * process (a `TokenBudget` per key; past windows' accounts are dropped when a new window starts);
 * with one, in the store (a `StoredTokenBudget` per key; every period stays in the store).
 * `close()` closes the store (closing a store twice is harmless, so its creator may close it too).
 *
 * @param options - the store (default: in process), the prices, the default limits and window, the
 *   lease and the clock; see {@link ServerBudgetsOptions}.
 * @returns A {@link ServerBudgets}.
 * @throws ConfigError naming the field when an option is invalid (e.g. `defaults.budgetWindow`).
 *
 * @example
 * ```ts
 * import { createServerBudgets } from "langchain-gavel/server";
 *
 * const budgets = createServerBudgets({ defaults: { keyBudget: { maxUsd: 5 }, userBudget: { maxUsd: 1 }, budgetWindow: "1d" } });
 * const key = { id: "key_1", name: "ci" };
 * const budget = budgets.budgetFor(key);
 * const reservation = await budget.reserve({
 *   model: "gpt-4o-mini",
 *   inputTokens: 900,
 *   maxOutputTokens: 256,
 *   scopes: budgets.scopesFor(key, "alice"), // { run: "key:key_1:2026-12-04T00:00:00.000Z", thread: "user:key_1:alice:…" }
 * });
 * await budget.settle(reservation, { inputTokens: 900, outputTokens: 120 });
 * await budgets.standing(key, "alice"); // { usd: 0.99…, resetsAt: "2026-12-05T00:00:00.000Z" }
 * ```
 *
 * @example
 * ```ts
 * // Two replicas on one host: every key's budget holds across both.
 * const store = createSqliteBudgetStore({ path: "gavel.db" }); // langchain-gavel/sqlite
 * const budgets = createServerBudgets({ store, prices, defaults: { keyBudget: { maxUsd: 20 } } });
 * ```
 */
export function createServerBudgets(options: ServerBudgetsOptions = {}): ServerBudgets {
  const { store, prices, defaults, leaseMs, onEvent, now } = parseConfig(
    "createServerBudgets options",
    serverBudgetsOptionsSchema,
    options,
  );
  const defaultWindow =
    defaults.budgetWindow === undefined ? undefined : parseBudgetWindow(defaults.budgetWindow, "defaults.budgetWindow");
  /** Per key id: its budget, the limits it was made with, and (in process) the window start its accounts are at. */
  const budgets = new Map<string, { signature: string; budget: TokenBudget | StoredTokenBudget; start?: number }>();
  const windows = new Map<string, BudgetWindow>();

  const limitsOf = (key: VirtualKey) => {
    const run = key.budget ?? defaults.keyBudget;
    const thread = key.userBudget ?? defaults.userBudget;
    return { ...(run && { run }), ...(thread && { thread }) };
  };

  const windowOf = (key: VirtualKey): BudgetWindow | undefined => {
    if (key.budgetWindow === undefined) return defaultWindow;
    let window = windows.get(key.budgetWindow);
    if (!window) {
      window = parseBudgetWindow(key.budgetWindow, `key "${key.name}" budgetWindow`);
      windows.set(key.budgetWindow, window);
    }
    return window;
  };

  const entryFor = (key: VirtualKey) => {
    const limits = limitsOf(key);
    const signature = JSON.stringify(limits);
    const cached = budgets.get(key.id);
    if (cached?.signature === signature) return cached;
    const options = {
      limits,
      now,
      ...(prices !== undefined && { prices: prices as TokenBudgetOptions["prices"] }),
      ...(onEvent !== undefined && { onEvent }),
    };
    const budget =
      store === undefined
        ? createTokenBudget(options)
        : createTokenBudget({ ...options, store, ...(leaseMs !== undefined && { leaseMs }) });
    const entry = { signature, budget };
    budgets.set(key.id, entry);
    return entry;
  };

  const budgetFor = (key: VirtualKey): SharedTokenBudget => entryFor(key).budget;

  const scopesFor = (key: VirtualKey, user: string | undefined): ScopeIds => {
    const window = windowOf(key);
    const start = window?.startOf(now());
    if (start !== undefined && store === undefined) dropPastWindows(entryFor(key), start);
    const suffix = start === undefined ? "" : `:${new Date(start).toISOString()}`;
    const scopes: ScopeIds = { run: `${keyRunId(key)}${suffix}` };
    // A user gets an account only when the key has a per-user limit: every distinct `user` a client
    // sends is an account, so a key without one must not grow memory (or a store) per user.
    if (user !== undefined && user !== "" && limitsOf(key).thread !== undefined) {
      scopes.thread = `user:${key.id}:${userAccountId(user)}${suffix}`;
    }
    return scopes;
  };

  return {
    budgetFor,
    scopesFor,

    async standing(key, user) {
      const limits = limitsOf(key);
      const budget = budgetFor(key);
      const { run, thread } = scopesFor(key, user);
      const keyLeft = limits.run ? await budget.remaining({ run }) : {};
      const userLeft = limits.thread && thread !== undefined ? await budget.remaining({ thread }) : {};
      const window = windowOf(key);
      const standing: BudgetStanding = {};
      const usd = least(keyLeft.usd, userLeft.usd);
      const tokens = least(keyLeft.tokens, userLeft.tokens);
      if (usd !== undefined) standing.usd = usd;
      if (tokens !== undefined) standing.tokens = tokens;
      if (window !== undefined) standing.resetsAt = new Date(window.endOf(window.startOf(now()))).toISOString();
      const scope = isSpent(keyLeft)
        ? "key"
        : isSpent(userLeft)
          ? "user"
          : (bindingAccount(keyLeft.usd, userLeft.usd) ?? bindingAccount(keyLeft.tokens, userLeft.tokens));
      if (scope !== undefined) standing.scope = scope;
      return standing;
    },

    async close() {
      budgets.clear();
      await store?.close();
    },
  };
}

/**
 * In process, forget a key's accounts of past windows once a new window starts, so a long-running
 * server keeps only the current period's accounts (a store keeps every period: its history).
 * A call reserved in the old window still settles: its reservation holds its own accounts.
 */
function dropPastWindows(entry: { budget: TokenBudget | StoredTokenBudget; start?: number }, start: number): void {
  if (entry.start === start) return;
  const first = entry.start === undefined;
  entry.start = start;
  if (first || !(entry.budget instanceof TokenBudget)) return;
  const suffix = `:${new Date(start).toISOString()}`;
  for (const account of entry.budget.snapshot()) {
    if (account.scope === "global" || account.scopeId.endsWith(suffix)) continue;
    entry.budget.closeScope(account.scope, account.scopeId);
  }
}

/**
 * Which of the gateway's accounts a `BudgetExhaustedError` from a key's budget names: `"key"` (the
 * `run` scope) or `"user"` (the `thread` scope), for `BudgetStanding.scope`.
 *
 * @example
 * ```ts
 * try {
 *   await budgets.budgetFor(key).reserve(request);
 * } catch (error) {
 *   if (BudgetExhaustedError.isInstance(error)) refusedAccount(error); // "user"
 * }
 * ```
 */
export function refusedAccount(error: BudgetExhaustedError): "key" | "user" {
  return error.scope === "thread" ? "user" : "key";
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/**
 * The run scope of a key's calls without a budget window, `key:<id>`: the key's account, and (in the
 * ledger) the scope of every auction and charge made for the key. With a window its account id
 * ends with the window's start (`key:<id>:2026-12-01T00:00:00.000Z`).
 *
 * @example
 * ```ts
 * keyRunId({ id: "key_1", name: "ci" }); // "key:key_1"
 * ```
 */
export function keyRunId(key: Pick<VirtualKey, "id">): string {
  return `key:${key.id}`;
}

/** A window start as account ids end with it (`Date.prototype.toISOString`). */
const WINDOW_START = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

/**
 * Whether a ledger scope is one of `key`'s run scopes (`key:<id>`, or `key:<id>:<window start>` of
 * any window): what the ledger keeps of the key an auction ran for.
 *
 * @example
 * ```ts
 * isKeyRunScope({ kind: "run", id: "key:key_1:2026-12-01T00:00:00.000Z" }, { id: "key_1" }); // true
 * isKeyRunScope({ kind: "run", id: "key:key_2" }, { id: "key_1" }); // false
 * ```
 */
export function isKeyRunScope(scope: { kind: string; id: string } | undefined, key: Pick<VirtualKey, "id">): boolean {
  if (scope?.kind !== "run") return false;
  const base = keyRunId(key);
  if (scope.id === base) return true;
  return scope.id.startsWith(`${base}:`) && WINDOW_START.test(scope.id.slice(base.length + 1));
}

/** Longest `user` kept as written in an account id; longer ones (and odd characters) are hashed. */
const MAX_PLAIN_USER = 128;

/**
 * The account id part of a request's `user`: as written when it is short printable text, else
 * `sha256:<hex>` (a store cannot hold NUL, and an id need not carry a megabyte a client sent).
 */
function userAccountId(user: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
  if (user.length <= MAX_PLAIN_USER && !/[\u0000-\u001f\u007f]/.test(user)) return user;
  return `sha256:${createHash("sha256").update(user).digest("hex")}`;
}

function least(left: number | undefined, right: number | undefined): number | undefined {
  if (left === undefined) return right;
  if (right === undefined) return left;
  return Math.min(left, right);
}

/** The account with less left in one unit (`"key"` on a tie); undefined when neither limits it. */
function bindingAccount(keyLeft: number | undefined, userLeft: number | undefined): "key" | "user" | undefined {
  if (userLeft !== undefined && (keyLeft === undefined || userLeft < keyLeft)) return "user";
  return keyLeft === undefined ? undefined : "key";
}

function isSpent(left: { usd?: number; tokens?: number }): boolean {
  return left.usd === 0 || left.tokens === 0;
}
