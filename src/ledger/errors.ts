/**
 * The ledger's named error. Defined here until it moves to `src/errors.ts`.
 */
import { GavelError } from "../errors.js";

/** What the ledger was doing when it failed. */
export type LedgerOperation =
  | "open"
  | "migrate"
  | "recordAuction"
  | "recordAuctions"
  | "recordCharge"
  | "recordCharges"
  | "recordOutcome"
  | "recordBudget"
  | "recordBudgetSnapshot"
  | "query"
  | "close";

/**
 * A ledger operation failed. `operation` names it; the driver's error (constraint violation,
 * busy database, disk full, ...) is the `cause`. Nothing of a failed write is stored.
 *
 * @example
 * ```ts
 * try {
 *   await ledger.recordOutcome({ auctionId: "missing", correct: true });
 * } catch (error) {
 *   if (LedgerError.isInstance(error)) console.error(error.operation, error.message);
 * }
 * ```
 */
export class LedgerError extends GavelError {
  override readonly name = "LedgerError";
  readonly operation: LedgerOperation;

  constructor(operation: LedgerOperation, message: string, options?: { cause?: unknown }) {
    const reason = options?.cause instanceof Error ? `: ${options.cause.message}` : "";
    super(`Ledger ${operation} failed: ${message}${reason}`, options);
    this.operation = operation;
  }
}
