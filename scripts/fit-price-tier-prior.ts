/**
 * Fit the price-tier prior (`PRICE_TIER_PRIOR` in src/router/memory-bids/prior.ts): least squares of
 * each model's TRAINING accuracy on log10 of its mean USD per million tokens.
 *
 * Data: the shipped RouterBench outcomes (data/routerbench/outcomes.jsonl.gz), training half of the
 * eval's default split (`splitPromptIds(promptIds, { trainFraction: 0.5, seed: 0 })`). The records
 * carry no token counts, so tokens are counted as the eval's `RecordedChatModel` counts them: the
 * prompt as one human message (`countMessageTokens`) plus the response (`countTextTokens`). A model's
 * price is Σ cost_usd ÷ Σ tokens over its training records (the eval prices members the same way,
 * for input and output alike), so `log10(outputPerMillion)` of a fitted member is the regressor.
 *
 * Run: `npx tsx scripts/fit-price-tier-prior.ts [outcomes.jsonl(.gz)]`. Prints JSON.
 */
import { HumanMessage } from "@langchain/core/messages";
import { countMessageTokens, countTextTokens } from "../src/budget/tokens.js";
import { loadRecordedOutcomes, type OutcomeRecord } from "../src/eval/data/outcomes.js";
import { splitPromptIds } from "../src/eval/report/metrics.js";

const path = process.argv[2];
const records = await loadRecordedOutcomes(path === undefined ? {} : { path });
const promptIds = [...new Set(records.map((record) => record.prompt_id))];
const { train } = splitPromptIds(promptIds, { trainFraction: 0.5, seed: 0 });
const training = new Set(train);

const perModel = new Map<string, { usd: number; tokens: number; correct: number; n: number }>();
const promptTokens = new Map<string, number>();
for (const record of records) {
  if (!training.has(record.prompt_id)) continue;
  const stats = perModel.get(record.model) ?? { usd: 0, tokens: 0, correct: 0, n: 0 };
  stats.usd += record.cost_usd;
  stats.tokens += tokensOf(record);
  stats.correct += record.correct;
  stats.n += 1;
  perModel.set(record.model, stats);
}

const points = [...perModel]
  .map(([model, stats]) => ({
    model,
    records: stats.n,
    accuracy: stats.correct / stats.n,
    usdPerMillion: (1e6 * stats.usd) / stats.tokens,
  }))
  .sort((left, right) => left.usdPerMillion - right.usdPerMillion);
const xs = points.map((point) => Math.log10(point.usdPerMillion));
const ys = points.map((point) => point.accuracy);
const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
const meanX = mean(xs);
const meanY = mean(ys);
let sxy = 0;
let sxx = 0;
let syy = 0;
xs.forEach((x, position) => {
  const y = ys[position] as number;
  sxy += (x - meanX) * (y - meanY);
  sxx += (x - meanX) ** 2;
  syy += (y - meanY) ** 2;
});
const slope = sxy / sxx;
const intercept = meanY - slope * meanX;
const residual = xs.reduce((sum, x, position) => sum + ((ys[position] as number) - (intercept + slope * x)) ** 2, 0);

console.log(
  JSON.stringify(
    {
      file: path ?? "data/routerbench/outcomes.jsonl.gz",
      split: "splitPromptIds(trainFraction 0.5, seed 0): training half",
      trainingPrompts: train.length,
      models: points.length,
      intercept,
      slope,
      rSquared: 1 - residual / syy,
      points,
    },
    null,
    2,
  ),
);

function tokensOf(record: OutcomeRecord): number {
  let input = record.input_tokens ?? promptTokens.get(`${record.prompt_id}\u0000${record.model}`);
  if (input === undefined) {
    input = countMessageTokens([new HumanMessage(record.prompt)], record.model);
    promptTokens.set(`${record.prompt_id}\u0000${record.model}`, input);
  }
  return input + (record.output_tokens ?? countTextTokens(record.response ?? "", record.model));
}
