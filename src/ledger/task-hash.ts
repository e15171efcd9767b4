/**
 * The hash the ledger stores for a task, so auctions on the same task can be grouped
 * without keeping the text.
 */
import { createHash } from "node:crypto";

/**
 * SHA-256 of the task text, as lowercase hex.
 *
 * @example
 * ```ts
 * hashTask("What is 2 + 2?"); // "7d2a..." (64 hex characters)
 * ```
 */
export function hashTask(task: string): string {
  return createHash("sha256").update(task, "utf8").digest("hex");
}
