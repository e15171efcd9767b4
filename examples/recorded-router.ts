/**
 * Route real recorded RouterBench outcomes through the shipped AuctionRouter (memory and auto modes,
 * batch and online protocols) over RecordedChatModel members, and compare them with GPT-4 alone, random routing at matched cost, the per-task static choice and the
 * oracle. Offline, ~10 s: the built-in hashing embedder on 600 prompts (the main job uses USE-Lite on all).
 *
 *   npx tsx examples/recorded-router.ts
 */
import { loadOutcomeIndex, runRecordedEvaluation } from "langchain-gavel/eval";

const index = await loadOutcomeIndex(); // data/routerbench/outcomes.jsonl.gz, shipped
const report = await runRecordedEvaluation({
  outcomes: index,
  embedder: "hashing", // or new UniversalSentenceEncoderEmbeddings() from langchain-gavel/encoder
  maxPrompts: 600,
  lambdas: [0, 0.05, 0.1, 0.2, 0.5],
});

console.log(`${report.dataset.trainPrompts} training / ${report.dataset.testPrompts} held-out prompts\n`);
console.log("policy              point    accuracy   USD/prompt   GPT-4 share   APGR");
for (const policy of report.policies) {
  if (policy.name.startsWith("single:") && !policy.name.includes("gpt-4") && !policy.name.includes("mixtral")) continue;
  for (const point of policy.points) {
    console.log(
      `${policy.name.padEnd(19)} ${(point.label.length > 8 ? "" : point.label).padEnd(8)} ${point.accuracy.toFixed(3).padStart(8)}` +
        `   ${point.meanCostUsd.toFixed(5).padStart(10)}   ${point.largestModelShare.toFixed(2).padStart(11)}   ${policy.metrics?.apgr?.toFixed(3) ?? ""}`,
    );
  }
}
for (const target of report.targets ?? [])
  console.log(`${target.met ? "met   " : "missed"} ${target.description}: ${target.detail}`);
