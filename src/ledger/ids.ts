/**
 * Ids of ledger rows that sort by time, shared by the SQLite and PostgreSQL ledgers.
 */
import { randomBytes } from "node:crypto";

/**
 * A UUIDv7 (RFC 9562): 48 bits of epoch milliseconds, then random bits. Ids of later milliseconds sort
 * later, so new rows land at the right edge of the primary-key B-trees instead of at random
 * pages (measurably faster inserts once the file outgrows the page cache).
 *
 * @example
 * ```ts
 * timeOrderedId(Date.parse("2025-06-01T00:00:00Z")); // "019728c9-c000-7xxx-yxxx-xxxxxxxxxxxx" (x random, y one of 8 9 a b)
 * ```
 */
export function timeOrderedId(epochMs: number): string {
  const bytes = randomBytes(16);
  const milliseconds = Math.max(0, Math.floor(epochMs));
  bytes.writeUIntBE(milliseconds % 2 ** 48, 0, 6);
  bytes[6] = 0x70 | ((bytes[6] ?? 0) & 0x0f);
  bytes[8] = 0x80 | ((bytes[8] ?? 0) & 0x3f);
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
