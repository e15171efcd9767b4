/**
 * The strategy memory's named error. Defined here until it moves to `src/errors.ts`.
 */
import { GavelError } from "../errors.js";

/** What the memory was doing when it failed. */
export type MemoryOperation =
  | "open"
  | "add"
  | "search"
  | "contrastivePairs"
  | "markUsed"
  | "recordOutcome"
  | "get"
  | "size"
  | "close";

/** Why it failed, for callers that branch on it. */
export type MemoryFailure =
  | "closed"
  | "locked"
  | "invalid_entry"
  | "invalid_query"
  | "dimension_mismatch"
  | "corrupt"
  | "io"
  | "embedder";

/**
 * A strategy memory operation failed. `operation` names it, `reason` says why, `folder` is the
 * on-disk location when there is one; the underlying error (I/O, zod, embedder) is the `cause`.
 *
 * @example
 * ```ts
 * try {
 *   await createVectraStrategyMemory({ folder: ".gavel/memory" });
 * } catch (error) {
 *   if (StrategyMemoryError.isInstance(error) && error.reason === "locked") console.error(error.message);
 * }
 * ```
 */
export class StrategyMemoryError extends GavelError {
  override readonly name = "StrategyMemoryError";
  readonly operation: MemoryOperation;
  readonly reason: MemoryFailure;
  readonly folder: string | undefined;

  constructor(
    details: { operation: MemoryOperation; reason: MemoryFailure; message: string; folder?: string },
    options?: { cause?: unknown },
  ) {
    const { operation, reason, message, folder } = details;
    const where = folder === undefined ? "" : ` (${folder})`;
    const because = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`Strategy memory ${operation} failed${where}: ${message}${because}`, options);
    this.operation = operation;
    this.reason = reason;
    this.folder = folder;
  }
}
