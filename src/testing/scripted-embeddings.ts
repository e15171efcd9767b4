/**
 * A deterministic, cheap test embedder: a hashed bag of words. Texts that share words get close
 * vectors, texts that share none are orthogonal-ish. Records every call and can be told to fail
 * once. The memory conformance suite opens every backend with one. Tests only: its similarities
 * are not a measurement of any embedding model.
 */
import { Embeddings } from "@langchain/core/embeddings";

/** FNV-1a, 32 bit. */
function hash(text: string): number {
  let value = 0x811c9dc5;
  for (let index = 0; index < text.length; index += 1) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 0x01000193) >>> 0;
  }
  return value;
}

/**
 * Lower-case words of letters and digits: what {@link ScriptedHashingEmbeddings} hashes.
 *
 * @example
 * ```ts
 * words("Sort 3 Names!"); // ["sort", "3", "names"]
 * ```
 */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
}

/**
 * A LangChain `Embeddings` for tests: deterministic vectors from hashed words, every call recorded
 * in `calls`, and `failNext` to make the next call throw.
 *
 * @example
 * ```ts
 * import { createInMemoryStrategyMemory } from "langchain-gavel";
 * import { ScriptedHashingEmbeddings } from "langchain-gavel/testing";
 *
 * const embeddings = new ScriptedHashingEmbeddings({ dimensions: 64 });
 * const memory = createInMemoryStrategyMemory({ embeddings });
 * embeddings.failNext = new Error("rate limited"); // the next add fails with a StrategyMemoryError
 * embeddings.vectorOf("add two numbers"); // the vector an add or a search would use
 * ```
 */
export class ScriptedHashingEmbeddings extends Embeddings {
  readonly dimensions: number;
  /** Every text embedded, in order. */
  readonly calls: string[][] = [];
  /** When set, the next call throws it (once). */
  failNext: Error | undefined;

  constructor({ dimensions = 256 }: { dimensions?: number } = {}) {
    super({ maxRetries: 0 });
    this.dimensions = dimensions;
  }

  /** The vector of `text`, without recording a call. */
  vectorOf(text: string): number[] {
    const vector = new Array<number>(this.dimensions).fill(0);
    for (const word of words(text)) {
      const value = hash(word);
      const index = value % this.dimensions;
      vector[index] = (vector[index] ?? 0) + ((value >>> 16) & 1 ? 1 : -1);
    }
    const norm = Math.hypot(...vector);
    return norm === 0 ? vector : vector.map((value) => value / norm);
  }

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    this.calls.push([...documents]);
    if (this.failNext !== undefined) {
      const error = this.failNext;
      this.failNext = undefined;
      throw error;
    }
    return documents.map((document) => this.vectorOf(document));
  }

  override async embedQuery(document: string): Promise<number[]> {
    const [vector] = await this.embedDocuments([document]);
    return vector ?? [];
  }
}
