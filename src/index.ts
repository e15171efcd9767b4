/**
 * langchain-gavel — auctions for LangChain.js.
 *
 * The main entry point (test doubles are in `langchain-gavel/testing`). It re-exports the pure
 * engine (`src/`) and the default adapters (`adapters/`) that bind it to the outside: the SQLite
 * ledger, the vectra strategy memory, the offline embedder. The engine itself never imports an
 * adapter; only the entry points and the CLI do.
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
  BudgetExhausted,
  type BudgetExhaustedDetails,
  functionSchema,
  GavelConfigError,
  GavelError,
  parseConfig,
  parseJsonConfig,
} from "./errors.js";

// The market core: bids, mechanisms, clearing.
export * from "./market/index.js";

// Token budgets: prices, token counting, reserve-then-settle.
export * from "./budget/index.js";

// createAgent middleware.
export * from "./middleware/index.js";

// The auction ledger (interface) and its SQLite implementation.
export * from "./ledger/index.js";
export {
  createSqliteLedger,
  DEFAULT_BUSY_TIMEOUT_MS,
  type SqliteDatabase,
  type SqliteLedger,
  type SqliteLedgerOptions,
} from "../adapters/ledger/sqlite.js";

// Strategy memory (interface, in-memory index) and its adapters.
export * from "./memory/index.js";
export { openVectraStrategyMemory, type VectraStrategyMemoryOptions } from "../adapters/memory/vectra.js";
export {
  createVectorStoreStrategyMemory,
  equalityFilter,
  predicateFilter,
  type VectorStoreStrategyMemoryOptions,
} from "../adapters/memory/vectorstore.js";
export {
  EmbedderError,
  UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS,
  UniversalSentenceEncoderEmbeddings,
  type UniversalSentenceEncoderOptions,
} from "../adapters/embeddings/universal-sentence-encoder.js";

// The SALE strategy-auction router.
export * from "./router/index.js";

// Multi-agent: auction-gated debate (DALA) as a LangGraph graph.
export * from "./debate/index.js";

// Multi-agent: belief coordination toward equilibrium (ECON) as a LangGraph graph.
export * from "./coordination/index.js";

// Evaluation: datasets, checkers, recorded outcomes, metrics, routers on recorded data, the runner,
// live recording, recorded-debate replay, reports and experiment configs.
export * from "./eval/index.js";
export * from "./eval/routers/index.js";
export {
  type RecordedEvaluationOptions,
  RecordedEvaluationOptionsSchema,
  runRecordedEvaluation,
} from "./eval/runner.js";
export type { EvalReport, OperatingPoint, PolicyResult } from "./eval/results.js";
export * from "./eval/live/index.js";
export * from "./eval/debates/index.js";
export * from "./eval/multiagent/index.js";
export * from "./eval/report/index.js";
export * from "./eval/config.js";
export { createRecordedPool, RecordedChatModel, RecordedUnavailable } from "../adapters/providers/recorded.js";

// Local GGUF models through node-llama-cpp (an optional peer, loaded only when used).
export * from "../adapters/providers/llamacpp/index.js";
