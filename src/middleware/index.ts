/**
 * Agent middleware for LangChain v1 `createAgent`: `tokenBudgetMiddleware` (token and USD limits)
 * and `auctionRouterMiddleware` (the router's strategy auction picks the model of each run or call).
 *
 * @example
 * ```ts
 * import { createAgent } from "langchain";
 * import { tokenBudgetMiddleware } from "langchain-gavel";
 *
 * const agent = createAgent({ model, tools, middleware: [tokenBudgetMiddleware({ runLimit: 20_000 })] });
 * ```
 */
export {
  AUCTION_ROUTER_STATE_KEY,
  type AuctionRouterMiddlewareOptions,
  type AuctionRouterState,
  auctionRouterMiddleware,
  auctionRouterMiddlewareOptionsSchema,
} from "./auctionRouter.js";
export { ModelWithoutOutputCapError } from "./errors.js";
export {
  BUDGET_EXHAUSTED_METADATA_KEY,
  budgetExhaustionOf,
  DEFAULT_MAX_OUTPUT_TOKENS,
  TOOL_CALL_LABEL,
  type TokenBudgetCharge,
  type TokenBudgetExitBehavior,
  type TokenBudgetMiddlewareOptions,
  type TokenBudgetTotals,
  tokenBudgetContextSchema,
  tokenBudgetMiddleware,
  tokenBudgetMiddlewareOptionsSchema,
  tokenBudgetStateSchema,
} from "./tokenBudget.js";
export {
  TOOL_CALL_REFUSED_METADATA_KEY,
  type ToolCallLimits,
  toolCallLimitSchema,
} from "./toolCharges.js";
