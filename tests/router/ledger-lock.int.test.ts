/**
 * Issue 14, item 2, as the probe found it: another connection holds the ledger file's write lock
 * for 10 s while the router answers. Before the write queue, each ledger write froze the event loop
 * for the busy timeout (5 s) and then threw SQLITE_BUSY into `AuctionRouter.invoke`, which rejected
 * every request after its answer had been generated and charged. Now every request resolves while
 * the lock is still held, timers keep firing, and once the lock frees every auction and every
 * charge is in the file exactly once. (`.int`: it holds a real lock for 10 s.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import type { LedgerWriteFailure } from "../../src/ledger/types.js";
import { AuctionRouter, type RouterMetadata } from "../../src/router/index.js";
import { CHEAP, DEAR, gavelOf, scriptedMember } from "./scripted-pool.js";

const LOCK_HELD_MS = 10_000;
const REQUESTS = 5;

function pool() {
  const small = scriptedMember("small", { plan: "Use the formula.", score: () => 4, answer: "2450." });
  const large = scriptedMember("large", { plan: "Loop and add.", score: () => 3, answer: "2450, by a loop." });
  return [
    { name: "small", model: small, price: CHEAP },
    { name: "large", model: large, price: DEAR },
  ];
}

describe("AuctionRouter over a SQLite ledger another connection holds locked for 10 s", () => {
  const folder = mkdtempSync(join(tmpdir(), "gavel-router-lock-"));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it("answers every request while the lock is held, and every record lands exactly once when it frees", async () => {
    const path = join(folder, "ledger.db");
    const failures: LedgerWriteFailure[] = [];
    const ledger = createSqliteLedger({ path, onWriteFailure: (failure) => failures.push(failure) });
    const router = new AuctionRouter({ pool: pool(), ledger });

    const holder = new Database(path);
    holder.exec("BEGIN EXCLUSIVE");
    let locked = true;
    let ticks = 0;
    const ticker = setInterval(() => {
      ticks += 1;
    }, 10);
    const released = new Promise<number>((resolve) =>
      setTimeout(() => {
        holder.exec("COMMIT");
        locked = false;
        resolve(ticks);
      }, LOCK_HELD_MS),
    );

    try {
      const results = await Promise.allSettled(
        Array.from({ length: REQUESTS }, (_, index) => router.invoke(`Sum the even numbers below ${100 + index}`)),
      );
      const answeredWhileLocked = locked;
      const ticksAtAnswers = ticks;
      const rejected = results.flatMap((result) => (result.status === "rejected" ? [String(result.reason)] : []));
      expect(rejected).toEqual([]);
      expect(answeredWhileLocked).toBe(true);
      const metadata = results.map((result) =>
        gavelOf((result as PromiseFulfilledResult<{ response_metadata: Record<string, unknown> }>).value),
      );
      expect(ledger.writeStats()).toMatchObject({ pending: 2 * REQUESTS, failed: 0, dropped: 0 });

      const ticksAtRelease = await released;
      // The event loop kept turning while the lock was held, after every answer was in.
      expect(ticksAtRelease).toBeGreaterThan(ticksAtAnswers);

      await ledger.flush();
      expect(failures).toEqual([]);
      expect(ledger.writeStats()).toMatchObject({ pending: 0, deferred: 2 * REQUESTS, failed: 0, dropped: 0 });

      // What another connection finds in the file: every auction once, every charge once.
      const reader = new Database(path, { readonly: true });
      const auctionIds = reader.prepare("SELECT id FROM auctions ORDER BY id").pluck().all() as string[];
      expect(auctionIds).toEqual(metadata.map((gavel) => gavel.auction.auctionId).sort());
      for (const gavel of metadata) {
        const { calls, tokens, usd } = reader
          .prepare(
            `SELECT COUNT(*) AS calls, SUM(input_tokens + output_tokens) AS tokens, SUM(usd) AS usd
             FROM charges WHERE auction_id = ?`,
          )
          .get(gavel.auction.auctionId) as { calls: number; tokens: number; usd: number };
        const usage: RouterMetadata["usage"] = gavel.usage;
        expect(calls).toBeGreaterThan(1);
        expect(tokens).toBe(usage.execution.total_tokens + usage.auction.total_tokens);
        expect(usd).toBeCloseTo(usage.usd.execution + usage.usd.auction, 12);
      }
      const orphans = reader
        .prepare("SELECT COUNT(*) FROM charges WHERE auction_id IS NULL OR auction_id NOT IN (SELECT id FROM auctions)")
        .pluck()
        .get();
      expect(orphans).toBe(0);
      reader.close();
    } finally {
      clearInterval(ticker);
      await released;
      holder.close();
      await ledger.close();
    }
  });
});
