/**
 * How much can a prompt's embedding say about which of two models gets it right, WITHIN one
 * dataset? This script answers it with hindsight, as an upper bound for the out-of-domain target
 * of issue 10 (the share of GPT-4 calls needed for 95% of GPT-4's accuracy, GPT-4-1106 against
 * Mixtral-8x7B): for each dataset of the shipped RouterBench file, every prompt is scored by its k
 * nearest prompts OF THE SAME DATASET (leave-one-out, cosine of the router's embeddings: USE-Lite on
 * `promptTail`), each neighbour carrying both models' recorded outcomes — more than an online router
 * ever knows — as the similarity-weighted mean of (Mixtral correct − GPT-4 correct). GPT-4 then
 * answers the prompts with the lowest scores first, until the accuracy reaches 95% of GPT-4's. The
 * same is done with a trained difficulty model in place of the neighbours: a logistic regression of
 * "Mixtral is right" on the embedding and the prompt's log length, each prompt scored by the model
 * fitted on the other four of five folds.
 *
 * Printed per dataset and k (and per L2 strength of the probe): the AUC of the score for "Mixtral is right" (0.5: no signal), the share
 * of GPT-4 calls this ordering needs, and random routing's share (closed form). A share at or above
 * random's means the embedding neighbourhood carries no usable signal for that dataset, so no router
 * that reads prompts only through this embedder can pass random routing there.
 *
 * Run: `npx tsx scripts/embedding-signal-bound.ts` (~1 min with the eval's embedding cache in
 * `.gavel-cache/`, a few minutes without). A figure from it is a bound measured on the data itself,
 * never a router's result.
 */
import { loadSentenceEncoder } from "../src/cli/common.js";
import { indexOutcomes, loadRecordedOutcomes } from "../src/eval/data/outcomes.js";
import { precomputeEmbeddings } from "../src/eval/routing/runner.js";
import { promptTail } from "../src/router/memory-bids/entries.js";

const STRONG = "gpt-4-1106-preview";
const WEAK = "mistralai/mixtral-8x7b-chat";
const TARGET = 0.95;
const NEIGHBOURS = [8, 32, 128];
const FOLDS = 5;
const PROBE_L2 = [0.001, 0.01];

const index = indexOutcomes(await loadRecordedOutcomes({}));
const correct = (promptId: string, model: string) => {
  const outcome = index.outcome(promptId, model);
  return outcome === "unavailable" ? undefined : outcome.correct;
};
const prompts = index.promptIds.filter(
  (promptId) => correct(promptId, STRONG) !== undefined && correct(promptId, WEAK) !== undefined,
);
const encoder = await loadSentenceEncoder("use-lite");
if (encoder === undefined) throw new Error("the sentence encoder did not load");
const { embeddings } = await precomputeEmbeddings(index, prompts, {
  embedder: encoder,
  cacheDirectory: ".gavel-cache",
});
const vectors = new Map<string, number[]>();
for (const promptId of prompts) {
  vectors.set(promptId, await embeddings.embedQuery(promptTail(index.promptInfo(promptId)?.prompt ?? "")));
}
const cosine = (left: number[], right: number[]) => left.reduce((sum, value, at) => sum + value * (right[at] ?? 0), 0);

for (const dataset of [...new Set(prompts.map((promptId) => index.promptInfo(promptId)?.eval_name ?? ""))].sort()) {
  const ids = prompts.filter((promptId) => index.promptInfo(promptId)?.eval_name === dataset);
  const weak = ids.map((promptId) => correct(promptId, WEAK) as number);
  const strong = ids.map((promptId) => correct(promptId, STRONG) as number);
  const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
  const target = TARGET * mean(strong);
  const randomShare = Math.max(0, (target - mean(weak)) / (mean(strong) - mean(weak)));
  const similarities = ids.map((promptId) =>
    ids.map((other) => cosine(vectors.get(promptId) ?? [], vectors.get(other) ?? [])),
  );
  const report = (label: string, scores: number[]) => {
    // GPT-4 takes the prompts with the lowest scores first.
    const order = ids.map((_, at) => at).sort((left, right) => (scores[left] ?? 0) - (scores[right] ?? 0));
    let right = weak.reduce((sum, value) => sum + value, 0);
    let share = 1;
    for (let taken = 0; taken <= ids.length; taken += 1) {
      if (right / ids.length >= target) {
        share = taken / ids.length;
        break;
      }
      const at = order[taken] as number;
      right += (strong[at] ?? 0) - (weak[at] ?? 0);
    }
    console.log(
      `${dataset} (${ids.length} prompts) ${label}: AUC ${auc(scores, weak).toFixed(3)}, GPT-4 share for ${TARGET * 100}% of its accuracy ${(share * 100).toFixed(1)}% (random ${(randomShare * 100).toFixed(1)}%)`,
    );
  };
  for (const k of NEIGHBOURS) {
    const scores = ids.map((_, at) => {
      const nearest = (similarities[at] ?? [])
        .map((similarity, other) => ({ similarity, other }))
        .filter(({ other }) => other !== at)
        .sort((left, right) => right.similarity - left.similarity)
        .slice(0, k);
      let weight = 0;
      let sum = 0;
      for (const { similarity, other } of nearest) {
        weight += Math.max(0, similarity);
        sum += Math.max(0, similarity) * ((weak[other] ?? 0) - (strong[other] ?? 0));
      }
      return weight > 0 ? sum / weight : 0;
    });
    report(`k ${k}`, scores);
  }
  // A trained difficulty model over the same embedding plus the prompt's log length: logistic
  // regression for "Mixtral is right", each prompt scored by the model fitted on the other folds.
  const features = ids.map((promptId) => {
    const prompt = index.promptInfo(promptId)?.prompt ?? "";
    return [...(vectors.get(promptId) ?? []), Math.log1p(prompt.length) / 10];
  });
  for (const l2 of PROBE_L2) {
    const scores = new Array<number>(ids.length).fill(0);
    for (let fold = 0; fold < FOLDS; fold += 1) {
      const trained = fitLogistic(
        features.filter((_, at) => at % FOLDS !== fold),
        weak.filter((_, at) => at % FOLDS !== fold),
        l2,
      );
      features.forEach((row, at) => {
        if (at % FOLDS === fold) scores[at] = trained(row);
      });
    }
    report(`logistic probe, L2 ${l2}, ${FOLDS}-fold`, scores);
  }
}

/** Area under the ROC curve of `scores` for `labels` = 1 (ties count half). */
function auc(scores: readonly number[], labels: readonly number[]): number {
  let wins = 0;
  let pairs = 0;
  labels.forEach((positive, at) => {
    if (positive !== 1) return;
    labels.forEach((negative, other) => {
      if (negative === 1) return;
      const difference = (scores[at] ?? 0) - (scores[other] ?? 0);
      wins += difference > 0 ? 1 : difference === 0 ? 0.5 : 0;
      pairs += 1;
    });
  });
  return wins / Math.max(1, pairs);
}

/** L2-regularised logistic regression by full-batch gradient descent; returns the fitted logit. */
function fitLogistic(rows: readonly number[][], labels: readonly number[], l2: number) {
  const width = rows[0]?.length ?? 0;
  const weights = new Float64Array(width + 1); // the last one is the intercept
  const logit = (row: readonly number[]) =>
    row.reduce((sum, value, at) => sum + value * (weights[at] ?? 0), weights[width] ?? 0);
  for (let step = 0; step < 300; step += 1) {
    const gradient = new Float64Array(width + 1);
    rows.forEach((row, at) => {
      const error = 1 / (1 + Math.exp(-logit(row))) - (labels[at] ?? 0);
      row.forEach((value, feature) => {
        gradient[feature] = (gradient[feature] ?? 0) + error * value;
      });
      gradient[width] = (gradient[width] ?? 0) + error;
    });
    for (let feature = 0; feature <= width; feature += 1) {
      const decay = feature < width ? l2 * (weights[feature] ?? 0) : 0;
      weights[feature] = (weights[feature] ?? 0) - 2 * ((gradient[feature] ?? 0) / rows.length + decay);
    }
  }
  return logit;
}
