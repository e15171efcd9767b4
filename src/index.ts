/**
 * langchain-gavel — auctions for LangChain.js.
 *
 * The core entry point: the market, token budgets, the `createAgent` middleware, the router, the
 * gated debate and belief coordination, and the interfaces of the ledger and the strategy memory
 * with their in-memory implementations. It loads no native or heavy module. The rest is one import
 * away, each entry point loading only what it needs:
 *
 * | entry point | what | needs (optional peers) |
 * |---|---|---|
 * | `langchain-gavel` | the engine | `langchain`, `@langchain/core`, `@langchain/langgraph` |
 * | `langchain-gavel/testing` | test doubles, storage conformance suites | `vitest` for the suites |
 * | `langchain-gavel/eval` | the evaluation harness | `@langchain/openai`; `vega`, `vega-lite` for plots |
 * | `langchain-gavel/sqlite` | the SQLite ledger | `better-sqlite3` |
 * | `langchain-gavel/vectra` | the on-disk strategy memory | `vectra` |
 * | `langchain-gavel/encoder` | the offline sentence encoder | `@energetic-ai/*` |
 * | `langchain-gavel/llamacpp` | local GGUF models | `node-llama-cpp` |
 *
 * @example
 * ```ts
 * import { createAgent } from "langchain";
 * import { tokenBudgetMiddleware } from "langchain-gavel";
 *
 * const agent = createAgent({
 *   model: "openai:gpt-4o-mini",
 *   tools: [],
 *   middleware: [tokenBudgetMiddleware({ runLimit: { maxTokens: 20_000 }, exitBehavior: "end" })],
 * });
 * ```
 *
 * @packageDocumentation
 */

// biome-ignore-all assist/source/organizeImports: the exports are grouped by feature, for readers.

// Errors shared by every part.
export {
  type BudgetExhaustedDetails,
  BudgetExhaustedError,
  ConfigError,
  GavelError,
} from "./errors.js";
export { MissingPeerDependencyError } from "./peers.js";

// Deadlines of model calls: the bound of every timeout option, and giving up on a call that ignores its signal.
export {
  type DeadlineOptions,
  DeadlineExceededError,
  MAX_TIMEOUT_MS,
  runWithDeadline,
  timeoutMsSchema,
} from "./timeouts.js";

// The market core: bids, mechanisms, clearing.
export * from "./market/index.js";

// Token budgets: prices, token counting, reserve-then-settle.
export * from "./budget/index.js";

// createAgent middleware.
export * from "./middleware/index.js";

// The auction ledger (interface; the SQLite backend is langchain-gavel/sqlite).
export * from "./ledger/index.js";

// Strategy memory: the interface, the in-memory index, and any LangChain VectorStore as a backend
// (the on-disk vectra backend is langchain-gavel/vectra, the offline embedder langchain-gavel/encoder).
export * from "./memory/index.js";
export {
  createVectorStoreStrategyMemory,
  equalityFilter,
  predicateFilter,
  type VectorStoreStrategyMemoryOptions,
} from "../adapters/vectorstore/memory.js";

// The SALE strategy-auction router.
export * from "./router/index.js";

// Multi-agent: auction-gated debate (DALA) as a LangGraph graph.
export * from "./debate/index.js";

// Multi-agent: belief coordination toward equilibrium (ECON) as a LangGraph graph.
export * from "./coordination/index.js";
