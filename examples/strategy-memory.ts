/**
 * Strategy memory, offline: store past auctions on disk, then fetch the contrastive
 * (losing, winning) plan pairs a cheaper agent would study before re-bidding on a new task.
 *
 * Run: npx tsx examples/strategy-memory.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { entriesFromAuction } from "langchain-gavel";
import { UniversalSentenceEncoderEmbeddings } from "langchain-gavel/encoder";
import { createVectraStrategyMemory } from "langchain-gavel/vectra";

const folder = await mkdtemp(join(tmpdir(), "gavel-memory-example-"));
const memory = await createVectraStrategyMemory({
  folder,
  embeddings: new UniversalSentenceEncoderEmbeddings(), // offline USE-Lite, 512-d (also the default)
  maxEntries: 10_000,
});

// Three past auctions between a small and a large model, as the router records them.
const pastAuctions = [
  {
    task: "A shop sells pens at $3 each. How much do 14 pens cost?",
    kind: "gsm8k",
    winner: "small",
    small: "Multiply unit price by quantity: 3 × 14. Answer with the number only.",
    large: "Restate the problem, define variables, set up an equation, solve it, then verify by estimation.",
  },
  {
    task: "Tom has 52 marbles and gives away a quarter of them. How many are left?",
    kind: "gsm8k",
    winner: "large",
    small: "Subtract 4 from 52.",
    large: "A quarter of 52 is 13; subtract it from 52 to get what is left. Check: 13 + 39 = 52.",
  },
  {
    task: "Write a Python function that checks whether a string is a palindrome.",
    kind: "humaneval",
    winner: "large",
    small: "Return s == s[::-1].",
    large: "Normalise case, keep alphanumerics, compare with the reversed string; test empty and one-letter inputs.",
  },
];

for (const [index, auction] of pastAuctions.entries()) {
  await memory.add(
    entriesFromAuction({
      auctionId: `auction-${index + 1}`,
      task: auction.task,
      kind: auction.kind,
      winner: auction.winner,
      createdAt: Date.now(),
      bids: [
        { agent: "small", plan: auction.small, cost: 0.0001 },
        { agent: "large", plan: auction.large, cost: 0.003 },
      ],
    }),
  );
}
await memory.recordOutcome("auction-2:large", 1); // the executed plan was correct

// A new task: what did the small model lose with, and what beat it, on similar tasks?
const newTask = "Anna buys 6 notebooks at $4 each and pays with $30. How much change does she get?";
const pairs = await memory.contrastivePairs(newTask, { k: 8, agent: "small" });

console.log(`Memory holds ${await memory.size()} plans. New task: ${newTask}\n`);
for (const pair of pairs) {
  console.log(`${pair.auctionId} (similarity ${pair.score.toFixed(2)}): ${pair.losing.task}`);
  console.log(`  lost: [${pair.losing.agent}] ${pair.losing.plan}`);
  console.log(
    `  won:  [${pair.winning.agent}] ${pair.winning.plan}${pair.winning.outcome === 1 ? " (correct)" : ""}\n`,
  );
}

await memory.close(); // folds the journal into the vectra index and releases the folder
await rm(folder, { recursive: true, force: true });
