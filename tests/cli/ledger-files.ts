/**
 * Real ledger files for the CLI tests: a small SQLite ledger written through the real adapter, and
 * page corruption as a disk or a careless copy would leave it (garbage over every page of one b-tree).
 */
import { closeSync, openSync, writeSync } from "node:fs";
import Database from "better-sqlite3";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createSampleOutcome } from "../../src/testing.js";

/** Write a ledger of `auctions` routing auctions, each with two bids, one settled charge and an outcome. */
export async function writeSampleLedger(path: string, auctions = 200): Promise<void> {
  const ledger = createSqliteLedger({ path });
  const start = Date.parse("2025-03-01T00:00:00Z");
  for (let index = 0; index < auctions; index++) {
    const id = `sample-${index}`;
    await ledger.recordAuction({
      id,
      kind: "route",
      createdAt: start + index,
      outcome: createSampleOutcome({
        bids: [
          { bidder: "gpt-4o-mini", amount: 0.8 },
          { bidder: "gpt-4o", amount: 0.5 },
        ],
      }),
    });
    await ledger.recordCharge({
      kind: "settle",
      model: "gpt-4o-mini",
      auctionId: id,
      inputTokens: 100,
      outputTokens: 20,
      usd: 0.001,
      at: start + index,
    });
    await ledger.recordOutcome({ auctionId: id, correct: index % 2 === 0 });
  }
  await ledger.close();
}

/**
 * Overwrite every page of the b-tree `name` (a table or an index, as `dbstat` names it) with 0xA5
 * bytes. Returns how many pages were overwritten. The schema page is left alone, so the file still
 * opens; only reading (or checking) the damaged b-tree shows the damage.
 */
export function corruptPagesOf(path: string, name: string): number {
  const database = new Database(path, { readonly: true });
  const pageSize = database.pragma("page_size", { simple: true }) as number;
  const pages = database.prepare("SELECT pageno FROM dbstat WHERE name = ?").all(name) as Array<{ pageno: number }>;
  database.close();
  const descriptor = openSync(path, "r+");
  try {
    for (const { pageno } of pages)
      writeSync(descriptor, Buffer.alloc(pageSize, 0xa5), 0, pageSize, (pageno - 1) * pageSize);
  } finally {
    closeSync(descriptor);
  }
  return pages.length;
}
