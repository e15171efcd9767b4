/**
 * The two steps every strategy memory with an in-process index takes before it stores or scores a
 * vector: embed the tasks that came without one, and check the vectors' length against the index.
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { MemoryFailure, MemoryOperation, StrategyMemoryError } from "./errors.js";
import type { StrategyEntry } from "./types.js";

/** Builds a memory's error (each backend names its location its own way). */
export type MemoryFail = (
  operation: MemoryOperation,
  reason: MemoryFailure,
  message: string,
  cause?: unknown,
) => StrategyMemoryError;

/**
 * The vector of each item: its own, else its task's embedding (each distinct task embedded once,
 * in one `embedDocuments` call).
 *
 * @throws the `embedder` failure `fail` builds when the embedder throws or answers the wrong count.
 */
export async function vectorsOfEntries(
  embeddings: EmbeddingsInterface,
  items: ReadonlyArray<{ entry: StrategyEntry; vector: ArrayLike<number> | undefined }>,
  fail: MemoryFail,
): Promise<ArrayLike<number>[]> {
  const missing = [...new Set(items.filter((item) => item.vector === undefined).map((item) => item.entry.task))];
  const byTask = new Map<string, number[]>();
  if (missing.length > 0) {
    let vectors: number[][];
    try {
      vectors = await embeddings.embedDocuments(missing);
    } catch (error) {
      throw fail("add", "embedder", "the embedder failed", error);
    }
    if (vectors.length !== missing.length) {
      throw fail("add", "embedder", `the embedder returned ${vectors.length} vectors for ${missing.length} texts`);
    }
    missing.forEach((task, index) => {
      byTask.set(task, vectors[index] ?? []);
    });
  }
  return items.map((item) => item.vector ?? byTask.get(item.entry.task) ?? []);
}

/**
 * Check that every vector has `expected` dimensions (the first vector's when the index is empty).
 *
 * @throws the `dimension_mismatch` failure `fail` builds.
 */
export function checkDimensions(
  operation: MemoryOperation,
  vectors: ReadonlyArray<ArrayLike<number>>,
  expected: number | undefined,
  fail: MemoryFail,
): void {
  const wanted = expected ?? vectors[0]?.length;
  const bad = vectors.find((vector) => vector.length !== wanted);
  if (bad !== undefined) {
    throw fail(
      operation,
      "dimension_mismatch",
      `the memory holds ${wanted}-d vectors but got a ${bad.length}-d one (was it built with another embedder?)`,
    );
  }
}
