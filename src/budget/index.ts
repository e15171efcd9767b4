/**
 * Token budgets: a price table, token counting with js-tiktoken, and
 * reserve-then-settle budgets over scopes (global, thread, run, example).
 * Pure: no I/O. See docs/budgets.md.
 *
 * @example
 * ```ts
 * import { createTokenBudget, countMessageTokens, usageFromMessage, withReservation } from "langchain-gavel";
 *
 * const budget = createTokenBudget({ limits: { run: { maxTokens: 20_000 }, global: { maxUsd: 5 } } });
 * const { result } = await withReservation(
 *   budget,
 *   { model: "gpt-4o-mini", inputTokens: countMessageTokens(messages, "gpt-4o-mini"), maxOutputTokens: 256, scopes: { run: "run-1" } },
 *   () => model.invoke(messages), // model = new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 256 })
 *   (reply) => usageFromMessage(reply, messages, "gpt-4o-mini"),
 * );
 * ```
 */
export { type BudgetExhaustedDetails, BudgetExhaustedError } from "../errors.js";
export {
  type AbandonedBasis,
  type AbandonedSettlement,
  DEFAULT_ABANDONED_GRACE_MS,
  type SettleAbandonedOptions,
  settleAbandoned,
} from "./abandoned.js";
export {
  type AccountSnapshot,
  type BudgetEvent,
  budgetLimitsSchema,
  createTokenBudget,
  GLOBAL_SCOPE_ID,
  type NamedScope,
  type Reservation,
  type ReserveRequest,
  type ScopeIds,
  type Settlement,
  scopeIdsSchema,
  type TokenBudget,
  type TokenBudgetOptions,
  tokenBudgetOptionsSchema,
  withReservation,
} from "./budget.js";
export {
  BudgetStoreError,
  type BudgetStoreOperation,
  ReservationClosedError,
  type ReservationState,
  UnknownModelPriceError,
} from "./errors.js";
export { MAX_USD_LIMIT } from "./options.js";
export {
  costNanoUsd,
  costUsd,
  createPriceResolver,
  DEFAULT_PRICES,
  mergePrices,
  modelPriceSchema,
  priceTableSchema,
  resolvePrice,
} from "./prices.js";
export type { SharedTokenBudget } from "./shared.js";
export {
  type BudgetStore,
  createMemoryBudgetStore,
  type ExpiredReservation,
  type StoreAccountRef,
  type StoreAccountState,
  type StoreCloseResult,
  type StoreRefusal,
  type StoreReservation,
  type StoreReservationState,
  type StoreReserveResult,
} from "./store.js";
export { DEFAULT_LEASE_MS, MAX_STORED_USD, StoredTokenBudget, type StoredTokenBudgetOptions } from "./stored.js";
export {
  countContentTokens,
  countJsonTokens,
  countMessageTokens,
  countOutputTokens,
  countTextTokens,
  countToolTokens,
  type EncodingName,
  encodingForModel,
  IMAGE_TOKEN_ESTIMATE,
  type RoleMessage,
  type UsageSource,
  usageFromMessage,
} from "./tokens.js";
export {
  type BudgetPriceTable,
  budgetPriceTableSchema,
  splitPriceTable,
  TOOL_PRICE_PREFIX,
  toolChargeName,
  toolNameOf,
  toolPriceSchema,
  UnknownToolPriceError,
} from "./tool-prices.js";
export type { BudgetLimits, BudgetScope, ModelPrice, PriceTable, ToolPrice, Usage } from "./types.js";
