/**
 * The strategy memory: interface, pure helpers and the in-memory backend.
 * On-disk default: `adapters/vectra/memory.ts` (`openVectraStrategyMemory`); any LangChain
 * VectorStore: `adapters/vectorstore/memory.ts` (`createVectorStoreStrategyMemory`); default
 * embedder: `adapters/encoder/universal-sentence-encoder.ts`.
 */
export { type AuctionBidForMemory, type AuctionForMemory, entriesFromAuction } from "./auction-entries.js";
export { pairsFromAuctions, type RankedAuction } from "./contrastive-pairs.js";
export { DEFAULT_K, StrategyEntrySchema } from "./entry-schema.js";
export { GavelMemoryError, type MemoryFailure, type MemoryOperation } from "./errors.js";
export { type EvictionCandidate, selectEvictions } from "./eviction.js";
export {
  createInMemoryStrategyMemory,
  createMatrixStrategyMemory,
  DEFAULT_MAX_ENTRIES,
  type InMemoryStrategyMemoryOptions,
  type MatrixMemorySettings,
  type MemoryChange,
  type MemoryPersistence,
} from "./matrix-memory.js";
export type { MemoryView, StoredRecord } from "./matrix-store.js";
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
export { type MatrixKernel, selectTop, VectorMatrix } from "./vector-matrix.js";
