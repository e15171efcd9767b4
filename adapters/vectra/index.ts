/**
 * langchain-gavel/vectra — the strategy memory in a local folder (a vectra index, with a journal
 * and a folder lock).
 *
 * vectra is an optional peer dependency of langchain-gavel: install it next to this entry point
 * (`npm install vectra`). Without an `embeddings` option the memory embeds with the offline sentence
 * encoder of `langchain-gavel/encoder`, which needs its own optional peers.
 *
 * @example
 * ```ts
 * import { createVectraStrategyMemory } from "langchain-gavel/vectra";
 *
 * const memory = await createVectraStrategyMemory({ folder: ".gavel/memory" });
 * ```
 *
 * @packageDocumentation
 */
export { createVectraStrategyMemory, DEFAULT_COMPACT_EVERY, type VectraStrategyMemoryOptions } from "./memory.js";
