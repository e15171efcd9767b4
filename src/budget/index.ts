/**
 * Token budgets: a price table, token counting with js-tiktoken, and
 * reserve-then-settle budgets over scopes (global, thread, run, example).
 * Pure: no I/O. See docs/budgets.md.
 *
 * @example
 * ```ts
 * import { TokenBudget, countMessageTokens, usageFromMessage, withReservation } from "langchain-gavel";
 *
 * const budget = new TokenBudget({ limits: { run: { maxTokens: 20_000 }, global: { maxUsd: 5 } } });
 * const { result } = await withReservation(
 *   budget,
 *   { model: "gpt-4o-mini", inputTokens: countMessageTokens(messages, "gpt-4o-mini"), maxOutputTokens: 256, scopes: { run: "run-1" } },
 *   () => model.invoke(messages), // model = new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 256 })
 *   (reply) => usageFromMessage(reply, messages, "gpt-4o-mini"),
 * );
 * ```
 */
export { BudgetExhausted, type BudgetExhaustedDetails } from "../errors.js";
export {
  type AccountSnapshot,
  type BudgetEvent,
  budgetLimitsSchema,
  GLOBAL_SCOPE_ID,
  type NamedScope,
  type Reservation,
  type ReserveRequest,
  type ScopeIds,
  type Settlement,
  scopeIdsSchema,
  TokenBudget,
  type TokenBudgetOptions,
  tokenBudgetOptionsSchema,
  withReservation,
} from "./budget.js";
export { ReservationClosed, type ReservationState, UnknownModelPrice } from "./errors.js";
export {
  costNanoUsd,
  costUsd,
  createPriceResolver,
  DEFAULT_PRICES,
  mergePrices,
  modelPriceSchema,
  priceNameCandidates,
  priceTableSchema,
  resolvePrice,
} from "./prices.js";
export type { SharedTokenBudget } from "./shared.js";
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
  REPLY_PRIMING_TOKENS,
  type RoleMessage,
  TOKENS_PER_MESSAGE,
  TOKENS_PER_NAME,
  type UsageSource,
  usageFromMessage,
} from "./tokens.js";
export type { BudgetLimits, BudgetScope, ModelPrice, PriceTable, Usage } from "./types.js";
