/**
 * How far can a router go that knows each prompt's dataset and nothing else about it? This script
 * computes the best TASK-LEVEL policy WITH HINDSIGHT on the eval's held-out half: per dataset, any one
 * model or any agreement cascade (two members answer; when their `extractAnswer`s agree that answer
 * stands, else a third member answers), chosen on the held-out half's own outcomes. No router can
 * reach it without per-prompt signal beyond the dataset, and no task-level router can pass it.
 *
 * It answers whether issue 10's in-domain targets are reachable by routing at the level of tasks:
 * the best accuracy at ≤ 15% and at ≤ 50% of GPT-4's cost, and the Pareto area on the eval's range
 * (cheapest single model → GPT-4, `paretoArea`, step interpolation) — the same split, prompts, costs
 * and answer reader as `gavel eval`.
 *
 * Run: `npx tsx scripts/task-level-bound.ts`. Reads the shipped RouterBench file only; a figure from
 * it is an upper bound measured on the test half, never a router's result.
 */
import { indexOutcomes, loadRecordedOutcomes } from "../src/eval/data/outcomes.js";
import { paretoArea, paretoFrontier, splitPromptIds } from "../src/eval/report/metrics.js";
import { completePrompts } from "../src/eval/routing/runner.js";
import { answersMatch, extractAnswer } from "../src/router/memory-bids/index.js";

const STRONG = "gpt-4-1106-preview";

interface Option {
  name: string;
  correct: number;
  costUsd: number;
}

const index = indexOutcomes(await loadRecordedOutcomes({}));
const models = [...index.models];
const { test } = splitPromptIds(index.promptIds, { trainFraction: 0.5, seed: 0 });
const prompts = completePrompts(index, test, models);
const cell = (promptId: string, model: string) => {
  const outcome = index.outcome(promptId, model);
  if (outcome === "unavailable") throw new Error(`${promptId} has no outcome for ${model}`);
  return outcome;
};

const byTask = new Map<string, string[]>();
for (const promptId of prompts) {
  const task = index.promptInfo(promptId)?.eval_name ?? "?";
  byTask.set(task, [...(byTask.get(task) ?? []), promptId]);
}

/** Per task, the options on its own Pareto frontier (sum of correct answers and of USD over its prompts). */
const frontiers = new Map<string, Option[]>();
for (const [task, ids] of byTask) {
  const options: Option[] = models.map((model) => ({
    name: model,
    correct: ids.reduce((sum, id) => sum + cell(id, model).correct, 0),
    costUsd: ids.reduce((sum, id) => sum + cell(id, model).cost_usd, 0),
  }));
  const answers = new Map(models.map((model) => [model, ids.map((id) => extractAnswer(cell(id, model).response))]));
  for (const [position, first] of models.entries()) {
    for (const second of models.slice(position + 1)) {
      for (const top of models) {
        if (top === first || top === second) continue;
        let correct = 0;
        let costUsd = 0;
        ids.forEach((id, at) => {
          costUsd += cell(id, first).cost_usd + cell(id, second).cost_usd;
          if (answersMatch(answers.get(first)?.[at], answers.get(second)?.[at])) {
            correct += cell(id, first).correct;
          } else {
            costUsd += cell(id, top).cost_usd;
            correct += cell(id, top).correct;
          }
        });
        options.push({ name: `cascade(${first} + ${second} → ${top})`, correct, costUsd });
      }
    }
  }
  const frontier = paretoFrontier(options.map((option) => ({ costUsd: option.costUsd, accuracy: option.correct })));
  frontiers.set(
    task,
    frontier.map(
      (point) =>
        options.find((option) => option.costUsd === point.costUsd && option.correct === point.accuracy) as Option,
    ),
  );
}

// Every combination of one frontier option per task, then the overall frontier.
let combinations: { correct: number; costUsd: number; names: string[] }[] = [{ correct: 0, costUsd: 0, names: [] }];
for (const [task, frontier] of frontiers) {
  combinations = combinations.flatMap((partial) =>
    frontier.map((option) => ({
      correct: partial.correct + option.correct,
      costUsd: partial.costUsd + option.costUsd,
      names: [...partial.names, `${task}: ${option.name}`],
    })),
  );
  const kept = paretoFrontier(combinations.map((item) => ({ costUsd: item.costUsd, accuracy: item.correct })));
  combinations = kept.map(
    (point) =>
      combinations.find(
        (item) => item.costUsd === point.costUsd && item.correct === point.accuracy,
      ) as (typeof combinations)[number],
  );
}
const count = prompts.length;
const points = combinations.map((item) => ({
  costUsd: item.costUsd / count,
  accuracy: item.correct / count,
  names: item.names,
}));
const single = (model: string) => ({
  accuracy: prompts.reduce((sum, id) => sum + cell(id, model).correct, 0) / count,
  costUsd: prompts.reduce((sum, id) => sum + cell(id, model).cost_usd, 0) / count,
});
const strong = single(STRONG);
const cheapest = Math.min(...models.map((model) => single(model).costUsd));
const bestWithin = (share: number) =>
  points.filter((point) => point.costUsd <= share * strong.costUsd).sort((a, b) => b.accuracy - a.accuracy)[0];

console.log(
  `${count} held-out prompts; ${STRONG}: accuracy ${strong.accuracy.toFixed(4)} at $${strong.costUsd.toFixed(5)}`,
);
for (const share of [0.15, 0.25, 0.5, 1]) {
  const best = bestWithin(share);
  if (best === undefined) continue;
  console.log(
    `≤ ${(share * 100).toFixed(0)}% of its cost: ${best.accuracy.toFixed(4)} (${((best.accuracy / strong.accuracy) * 100).toFixed(1)}% of its accuracy) at ${((best.costUsd / strong.costUsd) * 100).toFixed(1)}%`,
  );
  for (const name of best.names) console.log(`    ${name}`);
}
const area = paretoArea(points, { minCostUsd: cheapest, maxCostUsd: strong.costUsd });
console.log(`Pareto area (cheapest single → ${STRONG}, step): ${area.toFixed(4)}`);
