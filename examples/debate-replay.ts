/**
 * The gated debate replayed on recorded debates, offline: every rule, the baselines and the full
 * debate under a token-budget sweep, then the targets.
 *
 * The file is the HAND-WRITTEN SAMPLE data/debates/sample.jsonl (30 questions, 3 agents, 2–3
 * rounds, composed for tests): the table shows the report's shape, not how real models behave.
 * Point `loadDebateRecords` at your own transcripts (docs/debate-replay.md, "The file") for figures
 * that mean something. ECON's embedder here is the hashing bag of words (instant, no download);
 * `gavel replay-debates` uses USE-Lite by default.
 *
 * Run: npx tsx examples/debate-replay.ts
 */
import { createHashingEmbeddings, loadDebateRecords, replayDebates } from "langchain-gavel/eval";

const debates = await loadDebateRecords(new URL("../data/debates/sample.jsonl", import.meta.url).pathname);
const report = await replayDebates({ debates, embeddings: createHashingEmbeddings() });

const { total, train, test } = report.questions;
console.log(
  `hand-written sample: ${total} questions, ${train} train the reliabilities and gated-tuned, ${test} replayed`,
);
const reliability = Object.entries(report.reliability.executors)
  .map(([agent, { weight, correct, total: seen }]) => `${agent} ${weight.toFixed(2)} (${correct}/${seen})`)
  .join(", ");
console.log(`reliability (smoothed accuracy of the final answer): ${reliability}`);
console.log(
  ["budget", "rule".padEnd(20), "kind    ", "accuracy", "mean tokens", "acc / 1k tok", "texts", "unanswered"].join(
    "  ",
  ),
);
for (const row of report.rows) {
  console.log(
    [
      String(row.budget).padStart(6),
      row.rule.padEnd(20),
      row.kind.padEnd(8),
      `${(row.accuracy * 100).toFixed(1)}%`.padStart(8),
      row.meanTokens.toFixed(1).padStart(11),
      (row.costEfficiency === null ? "—" : row.costEfficiency.toFixed(3)).padStart(12),
      row.meanTexts.toFixed(1).padStart(5),
      `${(row.unansweredShare * 100).toFixed(1)}%`.padStart(10),
    ].join("  "),
  );
}

console.log("\ngated-tuned, chosen on the training questions:");
for (const { budget, topK, reservePrice, aggressiveness, trainAccuracy } of report.tuned) {
  const alpha = Object.entries(aggressiveness)
    .map(([agent, value]) => `${agent} ${value.toFixed(2)}`)
    .join(", ");
  const accuracy = trainAccuracy === null ? "—" : `${(trainAccuracy * 100).toFixed(1)}%`;
  console.log(`  ${budget}: top-k ${topK}, reserve ${reservePrice}, α ${alpha} (train accuracy ${accuracy})`);
}

console.log("\ntargets:");
for (const target of report.targets) {
  console.log(`  ${target.met ? "met    " : "NOT met"}  ${target.description}\n           ${target.detail}`);
}
