/**
 * Validation of what enters and leaves a strategy memory: new entries, queries, and entries read
 * back from storage (vectra metadata, LangChain document metadata, journal lines).
 */
import { z } from "zod";
import { type MemoryOperation, StrategyMemoryError } from "./errors.js";
import {
  type NewStrategyEntry,
  STRATEGY_ROLES,
  type StrategyEntry,
  type StrategyFilter,
  type StrategySearchQuery,
} from "./types.js";

/**
 * Default number of search results and of contrastive pairs (SALE uses k = 8).
 *
 * @example
 * ```ts
 * await memory.search({ text: "What is 17 × 3?" }); // up to DEFAULT_K (8) hits
 * ```
 */
export const DEFAULT_K = 8;

function isNumberArrayLike(value: unknown): value is ArrayLike<number> {
  if (Array.isArray(value) || value instanceof Float32Array || value instanceof Float64Array) {
    for (let index = 0; index < value.length; index += 1) {
      if (!Number.isFinite(value[index])) return false;
    }
    return value.length > 0;
  }
  return false;
}

const vectorSchema = z.custom<ArrayLike<number>>(isNumberArrayLike, "expected a non-empty array of finite numbers");

/**
 * Schema of a stored entry. Unknown keys are rejected so that a misspelt field fails.
 *
 * @example
 * ```ts
 * const entry = { id: "e1", auctionId: "a1", task: "What is 17 × 3?", kind: "gsm8k", agent: "small",
 *   plan: "Multiply 17 by 3.", role: "winning", cost: 0.00002, createdAt: 1_700_000_000_000 };
 * strategyEntrySchema.safeParse(entry).success; // true
 * strategyEntrySchema.safeParse({ ...entry, role: "won" }).success; // false: role is winning, losing or single
 * ```
 */
export const strategyEntrySchema = z
  .object({
    id: z.string().min(1),
    auctionId: z.string().min(1),
    task: z.string(),
    kind: z.string(),
    agent: z.string().min(1),
    plan: z.string(),
    role: z.enum(STRATEGY_ROLES),
    outcome: z.number().finite().optional(),
    cost: z.number().finite(),
    createdAt: z.number().finite(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

const newStrategyEntrySchema = strategyEntrySchema.extend({ vector: vectorSchema.optional() }).strict();

const strategyFilterSchema = z
  .object({
    agent: z.string().optional(),
    kind: z.string().optional(),
    role: z.enum(STRATEGY_ROLES).optional(),
    hasOutcome: z.boolean().optional(),
  })
  .strict();

const strategySearchQuerySchema = z
  .object({
    text: z.string().optional(),
    vector: vectorSchema.optional(),
    k: z.number().int().positive().default(DEFAULT_K),
    filter: strategyFilterSchema.optional(),
  })
  .strict()
  .refine((query) => (query.text === undefined) !== (query.vector === undefined), {
    message: "give exactly one of `text` or `vector`",
  });

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length > 0 ? issue.path.join(".") : "(root)"}: ${issue.message}`)
    .join("; ");
}

/**
 * Checks new entries; throws `StrategyMemoryError` (`reason: "invalid_entry"`) naming the first bad
 * entry and field. Entries are returned as given (copied), with `vector` kept apart.
 */
export function parseNewEntries(
  entries: readonly NewStrategyEntry[],
): Array<{ entry: StrategyEntry; vector: ArrayLike<number> | undefined }> {
  if (!Array.isArray(entries)) {
    throw new StrategyMemoryError({
      operation: "add",
      reason: "invalid_entry",
      message: "add() takes an array of entries",
    });
  }
  return entries.map((candidate, position) => {
    const result = newStrategyEntrySchema.safeParse(candidate);
    if (!result.success) {
      throw new StrategyMemoryError(
        { operation: "add", reason: "invalid_entry", message: `entry ${position}: ${describeIssues(result.error)}` },
        { cause: result.error },
      );
    }
    const { vector, ...entry } = result.data;
    return { entry: withoutUndefined(entry), vector };
  });
}

/** A validated query: `k` filled in, exactly one of `text`/`vector`. */
export interface ParsedSearchQuery {
  text: string | undefined;
  vector: ArrayLike<number> | undefined;
  k: number;
  filter: StrategyFilter;
}

/** Checks a search query; throws `StrategyMemoryError` (`reason: "invalid_query"`). */
export function parseSearchQuery(query: StrategySearchQuery): ParsedSearchQuery {
  const result = strategySearchQuerySchema.safeParse(query);
  if (!result.success) {
    throw new StrategyMemoryError(
      { operation: "search", reason: "invalid_query", message: describeIssues(result.error) },
      { cause: result.error },
    );
  }
  const { text, vector, k, filter = {} } = result.data;
  return { text, vector, k, filter };
}

/** Checks `k` of `contrastivePairs`; returns the default when it is missing. */
export function parsePairCount(k: number | undefined): number {
  if (k === undefined) return DEFAULT_K;
  if (!Number.isInteger(k) || k <= 0) {
    throw new StrategyMemoryError({
      operation: "contrastivePairs",
      reason: "invalid_query",
      message: `k must be a positive integer, got ${k}`,
    });
  }
  return k;
}

/** Checks an outcome given to `recordOutcome`. */
export function parseOutcome(id: string, outcome: number): void {
  if (typeof id !== "string" || id.length === 0 || !Number.isFinite(outcome)) {
    throw new StrategyMemoryError({
      operation: "recordOutcome",
      reason: "invalid_entry",
      message: `expected a non-empty id and a finite outcome, got ${JSON.stringify(id)} and ${outcome}`,
    });
  }
}

/** Reads an entry back from storage; throws `StrategyMemoryError` (`reason: "corrupt"`) when it is not one. */
export function parseStoredEntry(value: unknown, operation: MemoryOperation, where: string): StrategyEntry {
  const result = strategyEntrySchema.safeParse(value);
  if (!result.success) {
    throw new StrategyMemoryError(
      { operation, reason: "corrupt", message: `${where} is not a strategy entry: ${describeIssues(result.error)}` },
      { cause: result.error },
    );
  }
  return withoutUndefined(result.data);
}

/** True when `entry` passes every field of `filter`. */
export function matchesFilter(entry: StrategyEntry, filter: StrategyFilter): boolean {
  return (
    (filter.agent === undefined || entry.agent === filter.agent) &&
    (filter.kind === undefined || entry.kind === filter.kind) &&
    (filter.role === undefined || entry.role === filter.role) &&
    (filter.hasOutcome === undefined || (entry.outcome !== undefined) === filter.hasOutcome)
  );
}

/** Drops optional fields that are present but `undefined`, so entries compare equal across backends. */
function withoutUndefined(entry: StrategyEntry): StrategyEntry {
  const copy: StrategyEntry = { ...entry };
  if (copy.outcome === undefined) delete copy.outcome;
  if (copy.metadata === undefined) delete copy.metadata;
  return copy;
}
