/**
 * Types of token budgets. Pure: no I/O, no LangChain.
 */

/** Price of one model, in USD per million tokens. */
export interface ModelPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

/**
 * Price of one call of a tool (kept in a price table under `"tool:<name>"`): USD per call, and
 * optionally the tokens one call counts against token limits (default 0).
 */
export interface ToolPrice {
  usdPerCall: number;
  tokensPerCall?: number;
}

/** Model name → price. Lookups go through `resolvePrice` (exact name, then known aliases/prefixes). */
export type PriceTable = Record<string, ModelPrice>;

/** Token usage of one call. `estimated` is true when counted with a tokenizer instead of reported by the provider. */
export interface Usage {
  inputTokens: number;
  outputTokens: number;
  estimated?: boolean;
}

/** The scopes a budget can be kept over. */
export type BudgetScope = "global" | "thread" | "run" | "example";

/** Limits of one scope. Either or both. */
export interface BudgetLimits {
  maxTokens?: number;
  maxUsd?: number;
}
