/**
 * The strategy memory: interface, pure helpers and the in-memory backend.
 * On-disk default: `adapters/vectra/memory.ts` (`createVectraStrategyMemory`); any LangChain
 * VectorStore: `adapters/vectorstore/memory.ts` (`createVectorStoreStrategyMemory`); default
 * embedder: `adapters/encoder/universal-sentence-encoder.ts`.
 */
export { type AuctionBidForMemory, type AuctionForMemory, entriesFromAuction } from "./auction-entries.js";
export { pairsFromAuctions, type RankedAuction } from "./contrastive-pairs.js";
export { DEFAULT_K, strategyEntrySchema } from "./entry-schema.js";
export { type MemoryFailure, type MemoryOperation, StrategyMemoryError } from "./errors.js";
export {
  createInMemoryStrategyMemory,
  DEFAULT_MAX_ENTRIES,
  type InMemoryStrategyMemoryOptions,
} from "./matrix-memory.js";
export {
  type ContrastivePair,
  type ContrastivePairsOptions,
  type NewStrategyEntry,
  STRATEGY_ROLES,
  type StrategyEntry,
  type StrategyFilter,
  type StrategyMemory,
  type StrategyRole,
  type StrategySearchHit,
  type StrategySearchQuery,
} from "./types.js";
export type { MatrixKernel, MatrixPrecision } from "./vector-matrix.js";
