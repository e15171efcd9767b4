/**
 * Embeddings for the routers: the interface they need (any LangChain `Embeddings` fits), a built-in
 * deterministic hashing embedder, the prompt tail that is embedded, and an on-disk cache keyed by
 * text hash so reruns skip the model.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { OutputConflictError } from "../outputs.js";

/** What the routers need of an embedder: LangChain's `Embeddings.embedDocuments`. */
export interface EmbeddingsLike {
  embedDocuments(texts: string[]): Promise<number[][]>;
}

/** Length of the hashing embedder's vectors by default. */
export const DEFAULT_HASHING_DIMENSIONS = 256;

/**
 * A deterministic bag-of-words embedder: each lower-cased word (and word pair) is hashed (FNV-1a) to
 * one of `dimensions` buckets with a ±1 sign. No model, no I/O, microseconds per text. Far weaker than
 * a sentence encoder, but texts sharing words are close — enough for tests and for a quick run.
 * @example
 * ```ts
 * const embeddings = createHashingEmbeddings({ dimensions: 64 });
 * const [first, second] = await embeddings.embedDocuments(["add two numbers", "add three numbers"]);
 * ```
 */
export function createHashingEmbeddings({ dimensions = DEFAULT_HASHING_DIMENSIONS }: { dimensions?: number } = {}) {
  if (!Number.isInteger(dimensions) || dimensions <= 0) {
    throw new RangeError(`dimensions must be a positive integer, got ${dimensions}`);
  }
  const embedOne = (text: string): number[] => {
    const vector = new Array<number>(dimensions).fill(0);
    const words = text.toLowerCase().match(/[a-z0-9_]+/g) ?? [];
    const add = (token: string) => {
      const hash = fnv1a(token);
      const bucket = hash % dimensions;
      vector[bucket] = (vector[bucket] ?? 0) + ((hash >>> 31) & 1 ? -1 : 1);
    };
    words.forEach((word, position) => {
      add(word);
      const previous = words[position - 1];
      if (previous !== undefined) add(`${previous} ${word}`);
    });
    return vector;
  };
  return {
    /** Cache namespace of this embedder. */
    id: `hashing-${dimensions}`,
    embedDocuments: async (texts: string[]): Promise<number[][]> => texts.map(embedOne),
    /** One text (LangChain's `Embeddings.embedQuery`): the same vector `embedDocuments` gives it. */
    embedQuery: async (text: string): Promise<number[]> => embedOne(text),
  };
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let position = 0; position < text.length; position++) {
    hash ^= text.charCodeAt(position);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** The prompt tail that is embedded; it lives with the router's memory bids (the router embeds the same text). */
export { promptTail } from "../../router/memory-bids/index.js";

/** Options of {@link embedWithCache}. */
export interface EmbedWithCacheOptions {
  embedder: EmbeddingsLike;
  texts: readonly string[];
  /** Cache namespace (different embedders must not share vectors). */
  embedderId: string;
  /** Folder of the cache; without one nothing is cached. */
  cacheDirectory?: string;
  /** Texts per embedder call. Default 64. */
  batchSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/**
 * Embed texts, reading and writing a cache file `<cacheDirectory>/<embedderId>.json` that maps the
 * SHA-256 of each text to its vector. Only texts missing from the cache reach the embedder. The file
 * is rewritten atomically (temp file + rename) after the new vectors are computed. Duplicate texts
 * are embedded once. A file at the cache's path that is not a cache is refused
 * (`OutputConflictError`), never rewritten.
 */
export async function embedWithCache(options: EmbedWithCacheOptions): Promise<number[][]> {
  const { embedder, texts, embedderId, cacheDirectory, batchSize = 64, onProgress } = options;
  const cacheFile =
    cacheDirectory === undefined ? undefined : join(cacheDirectory, `${embedderId.replace(/[^\w.-]+/g, "_")}.json`);
  const cache = cacheFile === undefined ? new Map<string, number[]>() : await readCache(cacheFile);
  const hashes = texts.map((text) => createHash("sha256").update(text).digest("hex"));
  const missing: Array<{ hash: string; text: string }> = [];
  const queued = new Set<string>();
  texts.forEach((text, position) => {
    const hash = hashes[position] as string;
    if (!cache.has(hash) && !queued.has(hash)) {
      queued.add(hash);
      missing.push({ hash, text });
    }
  });
  const total = missing.length;
  onProgress?.(0, total);
  for (let start = 0; start < missing.length; start += batchSize) {
    const batch = missing.slice(start, start + batchSize);
    const vectors = await embedder.embedDocuments(batch.map((entry) => entry.text));
    batch.forEach((entry, position) => {
      const vector = vectors[position];
      if (vector === undefined)
        throw new Error(`the embedder returned ${vectors.length} vectors for ${batch.length} texts`);
      cache.set(entry.hash, Array.from(vector));
    });
    onProgress?.(Math.min(start + batchSize, total), total);
  }
  if (cacheFile !== undefined && cacheDirectory !== undefined && total > 0) {
    await mkdir(cacheDirectory, { recursive: true });
    const temporary = `${cacheFile}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(Object.fromEntries(cache)));
    await rename(temporary, cacheFile);
  }
  return hashes.map((hash) => cache.get(hash) as number[]);
}

async function readCache(file: string): Promise<Map<string, number[]>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return new Map();
  }
  // Gavel writes the cache atomically (temp file + rename), so a file that is not one is someone
  // else's: it is refused, never rewritten.
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const entries =
    typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)
      ? Object.entries(parsed as Record<string, unknown>)
      : undefined;
  if (entries === undefined || !entries.every(([, vector]) => isVector(vector))) {
    throw new OutputConflictError(file, "exists and is not a Gavel embedding cache (a JSON object of vectors)", {
      fix: "move it away, or set embeddingCache to another folder or to false",
    });
  }
  return new Map(entries as Array<[string, number[]]>);
}

function isVector(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((item) => typeof item === "number");
}
