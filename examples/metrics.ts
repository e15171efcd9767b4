/**
 * Baselines on real recorded outcomes, offline: the shipped RouterBench training split (11 real LLMs,
 * 2,218 prompts, per-prompt correctness and USD cost). Prints every model alone, the oracle, and random
 * routing between Yi-34B and GPT-4 at matched costs, each against gpt-4-1106-preview.
 *
 * Run: npx tsx examples/metrics.ts
 */
import Table from "cli-table3";
import {
  bestRandomMixtureAtCost,
  loadOutcomeIndex,
  oracle,
  type PolicyEvaluation,
  randomMixtureAtCost,
  singleModelBaselines,
} from "langchain-gavel/eval";

const STRONG = "gpt-4-1106-preview";
const CHEAP_PARTNER = "zero-one-ai/Yi-34B-Chat";

const index = await loadOutcomeIndex(); // data/routerbench/outcomes.jsonl.gz, shipped with the package
const singles = singleModelBaselines(index).sort((left, right) => left.meanCostUsd - right.meanCostUsd);
const strong = singles.find((result) => result.name === STRONG);
if (!strong) throw new Error(`${STRONG} is not in the recorded outcomes`);

const best = oracle(index); // cheapest correct model per prompt
const randomMixtures = [0.25, 0.5, 0.75].map((fraction) =>
  randomMixtureAtCost(index, {
    cheapModel: CHEAP_PARTNER,
    dearModel: STRONG,
    targetMeanCostUsd: fraction * strong.meanCostUsd,
  }),
);
const randomAtOracleCost = bestRandomMixtureAtCost(index, { targetMeanCostUsd: best.meanCostUsd });

const table = new Table({
  head: ["strategy", "accuracy", "Δ vs GPT-4", "USD / prompt", "cost vs GPT-4", "GPT-4 share", "scored"],
  colAligns: ["left", "right", "right", "right", "right", "right", "right"],
  style: { head: [], border: [], compact: true },
});
const short = (model: string) => model.split("/").pop() ?? model;
const row = (label: string, result: PolicyEvaluation) => {
  table.push([
    label,
    result.accuracy.toFixed(3),
    `${result.accuracy >= strong.accuracy ? "+" : ""}${(result.accuracy - strong.accuracy).toFixed(3)}`,
    result.meanCostUsd.toFixed(5),
    `${((100 * result.meanCostUsd) / strong.meanCostUsd).toFixed(1)}%`,
    `${(100 * (result.largestModelShare ?? 0)).toFixed(1)}%`,
    String(result.requests),
  ]);
};

for (const single of singles) row(short(single.name), single);
row("oracle (cheapest correct model)", best);
for (const mixture of randomMixtures) {
  row(
    `random Yi-34B / GPT-4 at ${((100 * mixture.meanCostUsd) / strong.meanCostUsd).toFixed(0)}% of its cost`,
    mixture,
  );
}
const pair = /random\((.+), (.+)\)/.exec(randomAtOracleCost.name);
const pairLabel = pair ? `${short(pair[1] ?? "")} / ${short(pair[2] ?? "")}` : randomAtOracleCost.name;
row(`random ${pairLabel} at the oracle's cost`, randomAtOracleCost);

console.log(
  `RouterBench training split: ${index.promptIds.length} prompts, ${index.models.length} models, ${index.rowCount} recorded outcomes`,
);
console.log(table.toString());
console.log(
  `The oracle is ${(best.accuracy - strong.accuracy).toFixed(3)} more accurate than GPT-4 at ` +
    `${((100 * best.meanCostUsd) / strong.meanCostUsd).toFixed(1)}% of its cost: the room a router has to win.`,
);
