/**
 * Ledger write throughput: bid records inserted per second into a temp-file WAL database,
 * auctions of 16 bids written in batches (one transaction per batch).
 * Target: ≥ 20,000 bid records/s with batches of 100 and 1,000 auctions (synchronous=NORMAL).
 * Batches with synchronous=FULL and one auction per transaction are reported for comparison.
 *
 * Contended: another connection holds the write lock while auctions are recorded one per call — the
 * median time a call takes to be queued (it must not wait for the lock) — then the lock frees and
 * the queue lands them (bid records per second from the release to the end of `flush()`).
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import Database from "better-sqlite3";
import { createSqliteLedger } from "../adapters/sqlite/ledger.js";
import type { AuctionInput } from "../src/ledger/types.js";
import type { BidResult } from "../src/market/types.js";
import { type BenchResult, medianMicros } from "./harness.js";

const BIDS_PER_AUCTION = 16;
const TARGET_RECORDS_PER_SECOND = 20_000;

/** A routing auction of 16 bids, each with a short plan in its meta, as SALE would record it. */
function sampleAuction(index: number): AuctionInput {
  const results: BidResult[] = Array.from({ length: BIDS_PER_AUCTION }, (_, rank) => ({
    bidder: `model-${rank}`,
    amount: BIDS_PER_AUCTION - rank + index / 1000,
    tokens: 80 + rank,
    won: rank === 0,
    rank: rank + 1,
    price: rank === 0 ? BIDS_PER_AUCTION - 1 : 0,
    reason: rank === 0 ? "won" : "outranked",
    detail: rank === 0 ? "Highest cost-adjusted value; pays the second bid." : "Outranked by a higher bid.",
    meta: { plan: "Decompose the task, call the calculator, check units, answer briefly.", estimator: "logprob" },
  }));
  return {
    kind: "route",
    task: `task number ${index}`,
    scope: { kind: "run", id: "bench" },
    outcome: {
      mechanism: "second_price",
      winners: ["model-0"],
      results,
      clearingPrice: 15,
      seed: index,
      reservePrice: 0,
    },
  };
}

interface Case {
  auctionsPerTransaction: number;
  synchronous: "normal" | "full";
  target: boolean;
}

const CASES: Case[] = [
  { auctionsPerTransaction: 100, synchronous: "normal", target: true },
  { auctionsPerTransaction: 1_000, synchronous: "normal", target: true },
  { auctionsPerTransaction: 1_000, synchronous: "full", target: false },
  { auctionsPerTransaction: 1, synchronous: "normal", target: false },
  { auctionsPerTransaction: 1, synchronous: "full", target: false },
];

async function measure({ auctionsPerTransaction, synchronous, target }: Case): Promise<BenchResult> {
  const folder = mkdtempSync(join(tmpdir(), "gavel-ledger-bench-"));
  const path = join(folder, "ledger.db");
  const ledger = createSqliteLedger({ path, synchronous });
  const batch = Array.from({ length: auctionsPerTransaction }, (_, index) => sampleAuction(index));
  const write =
    auctionsPerTransaction === 1
      ? () => ledger.recordAuction(batch[0] as AuctionInput)
      : () => ledger.recordAuctions(batch);
  try {
    const { medianUs } = await medianMicros(`ledger.write.${auctionsPerTransaction}`, write, {
      time: 1_500,
      warmupTime: 200,
    });
    const recordsPerTransaction = auctionsPerTransaction * BIDS_PER_AUCTION;
    const auctions = ledger.database.prepare("SELECT COUNT(*) FROM auctions").pluck().get() as number;
    return {
      name: `ledger.bids_per_second.${synchronous}.batch_${auctionsPerTransaction}`,
      value: Math.round(recordsPerTransaction / (medianUs / 1e6)),
      unit: "records/s",
      ...(target ? { target: { op: ">=", value: TARGET_RECORDS_PER_SECOND } as const } : {}),
      details: {
        auctionsPerTransaction,
        bidsPerAuction: BIDS_PER_AUCTION,
        synchronous,
        journalMode: "wal",
        medianTransactionUs: Math.round(medianUs),
        transactions: Math.round(auctions / auctionsPerTransaction),
        auctionsWritten: auctions,
        fileBytes: statSync(path).size,
      },
    };
  } finally {
    await ledger.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Writes queued behind another connection's lock: the cost of queuing, then the drain rate once it frees. */
async function measureContended(): Promise<BenchResult[]> {
  const folder = mkdtempSync(join(tmpdir(), "gavel-ledger-bench-"));
  const path = join(folder, "ledger.db");
  const ledger = createSqliteLedger({ path, maxQueuedRecords: 10_000_000 });
  const holder = new Database(path);
  const auction = sampleAuction(0);
  try {
    holder.exec("BEGIN IMMEDIATE");
    // Short: every call queues an auction of 16 bids, and the drain below lands them all.
    const { medianUs } = await medianMicros("ledger.queued_write", () => ledger.recordAuction(auction), {
      time: 150,
      warmupTime: 20,
    });
    const { pending, pendingRecords } = ledger.writeStats();
    holder.exec("COMMIT");
    const started = performance.now();
    await ledger.flush();
    const drainMs = performance.now() - started;
    const landed = ledger.database.prepare("SELECT COUNT(*) FROM auctions").pluck().get() as number;
    return [
      {
        name: "ledger.queued_write_us.normal.batch_1",
        value: Math.round(medianUs * 10) / 10,
        unit: "us",
        details: { queuedWrites: pending, note: "recordAuction while another connection holds the write lock" },
      },
      {
        name: "ledger.drain_bids_per_second.normal",
        value: Math.round((landed * BIDS_PER_AUCTION) / (drainMs / 1e3)),
        unit: "records/s",
        details: { auctionsLanded: landed, queuedRecords: pendingRecords, drainMs: Math.round(drainMs) },
      },
    ];
  } finally {
    if (holder.inTransaction) holder.exec("ROLLBACK");
    holder.close();
    await ledger.close();
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Run every case, one temp database each. */
export async function run(): Promise<BenchResult[]> {
  const results: BenchResult[] = [];
  for (const benchCase of CASES) results.push(await measure(benchCase));
  results.push(...(await measureContended()));
  return results;
}
