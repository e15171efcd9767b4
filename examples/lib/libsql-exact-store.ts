/**
 * `LibSQLVectorStore` (`@langchain/community`) with an exact, filtered search, for the strategy
 * memory (used by examples/community-vectorstore-memory.ts and its test).
 *
 * libSQL's vector index (`vector_top_k`) keeps one row of several with the same vector
 * (tursodatabase/libsql#2104), and every entry of an auction has the task's vector: so this store
 * scans the table with `vector_distance_cos`, and applies Gavel's filter in SQL before the limit.
 */
import { LibSQLVectorStore } from "@langchain/community/vectorstores/libsql";
import { Document } from "@langchain/core/documents";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { Client } from "@libsql/client";

/** A SQL condition on the document metadata, as `ExactLibSQLVectorStore` takes it. */
export interface SqlFilter {
  sql: string;
  args: Record<string, string>;
}

/**
 * Equality conditions on the JSON metadata column, from `equalityFilter(filter)` of langchain-gavel.
 *
 * @example
 * toStoreFilter: (filter) => sqlFilterOf(equalityFilter(filter))
 */
export function sqlFilterOf(args: Record<string, string>): SqlFilter {
  const sql = Object.keys(args).map((key) => `json_extract(metadata, '$.${key}') = :${key}`);
  return { sql: sql.join(" AND "), args };
}

/** `LibSQLVectorStore` (default table `vectors`, column `embedding`) with an exact, filtered search. */
export class ExactLibSQLVectorStore extends LibSQLVectorStore {
  declare FilterType: SqlFilter;
  readonly #db: Client;

  constructor(embeddings: EmbeddingsInterface, db: Client) {
    super(embeddings, { db });
    this.#db = db;
  }

  override async similaritySearchVectorWithScore(
    query: number[],
    k: number,
    filter?: SqlFilter,
  ): Promise<[Document, number][]> {
    const where = filter === undefined || filter.sql === "" ? "" : `WHERE ${filter.sql}`;
    const result = await this.#db.execute({
      sql: `SELECT rowid AS id, content, metadata, vector_distance_cos(embedding, vector(:query)) AS distance
        FROM vectors ${where} ORDER BY distance, rowid LIMIT :k`,
      args: { ...filter?.args, query: `[${query.join(",")}]`, k },
    });
    return result.rows.map((row) => [
      new Document({
        id: String(row.id),
        pageContent: String(row.content),
        metadata: JSON.parse(String(row.metadata)),
      }),
      Number(row.distance),
    ]);
  }
}
