/**
 * The auction ledger, offline: clear two routing auctions, record them and the charges of the
 * winners' calls in a SQLite file, then ask what was spent and who wins.
 *
 *   npx tsx examples/ledger.ts
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clearAuction } from "langchain-gavel";
import { createSqliteLedger } from "langchain-gavel/sqlite";

const path = join(mkdtempSync(join(tmpdir(), "gavel-example-")), "ledger.db");
const ledger = createSqliteLedger({ path });
const run = { kind: "run", id: "run-1" } as const;

// Two second-price auctions between a small and a large model.
const easy = clearAuction(
  [
    { bidder: "gpt-4o-mini", amount: 0.82, tokens: 48 },
    { bidder: "gpt-4o", amount: 0.55, tokens: 61 },
  ],
  { mechanism: "second_price" },
);
const hard = clearAuction(
  [
    { bidder: "gpt-4o-mini", amount: 0.3 },
    { bidder: "gpt-4o", amount: 0.91 },
  ],
  { mechanism: "second_price" },
);

// Each auction is one transaction: the auction row and all its bids, or nothing.
const first = await ledger.recordAuction({ kind: "route", outcome: easy, task: "What is 17 * 3?", scope: run });
const second = await ledger.recordAuction({
  kind: "route",
  outcome: hard,
  task: "Prove sqrt(2) is irrational.",
  scope: run,
});

// The winners' calls, as a TokenBudget reports them when it settles (one batch, one transaction).
await ledger.recordCharges([
  {
    kind: "settle",
    model: "gpt-4o-mini",
    agent: "router",
    scope: run,
    inputTokens: 52,
    outputTokens: 12,
    usd: 0.000015,
    auctionId: first,
  },
  {
    kind: "settle",
    model: "gpt-4o",
    agent: "router",
    scope: run,
    inputTokens: 60,
    outputTokens: 240,
    usd: 0.00255,
    estimated: true,
    auctionId: second,
  },
]);
await ledger.recordOutcome({ auctionId: first, correct: true });
await ledger.recordOutcome({ auctionId: second, correct: true });

console.log(`ledger: ${path}\n\nspend by model:`);
for (const row of await ledger.spend({ by: "model" })) {
  const estimated = (row.estimatedShare * 100).toFixed(0);
  console.log(
    `  ${row.key}: ${row.calls} call(s), ${row.totalTokens} tokens, $${row.usd.toFixed(6)}, ${estimated}% estimated`,
  );
}
console.log("\nwin rates:");
for (const row of await ledger.winRates()) {
  console.log(`  ${row.bidder}: won ${row.wins} of ${row.auctions}, mean price paid ${row.meanPricePaid ?? "-"}`);
}
const record = await ledger.getAuction(first);
console.log(
  `\nauction ${first}: ${record?.winners.join(", ")} won at ${record?.clearingPrice}, ` +
    `${record?.bids.length} bids, ${record?.charges.length} charge, correct: ${record?.outcome?.correct}`,
);
console.log(`\nnext: npm run gavel -- ledger spend --db ${path}`);
await ledger.close();
