/**
 * Tune the agreement cascades of memory bids (src/router/memory-bids/cascade.ts) on the TRAINING half
 * only: leave-one-out replay of `"memory"` mode over the training prompts, as the eval's confidence
 * fit does (`leaveOneOutMemory`: each training prompt is routed by the memory of the OTHER training
 * prompts). The held-out half is never read.
 *
 * Data: the shipped RouterBench outcomes, the eval's default split (`splitPromptIds(promptIds,
 * { trainFraction: 0.5, seed: 0 })`), the prompts every model answered, members priced from the
 * training records (`fitMemberPrices`), the memory loaded by `learnOutcomes` (`trainingMemory`).
 * Per training prompt the script searches each member's 32 neighbours once, runs `estimateMembers`
 * and `estimateCascades` (per variant) and clears them with `clearMemoryBids` at each λ — the
 * router's own functions — then replays the decision on the recorded outcomes: a member answers
 * alone; a cascade pays its two rungs and, when their `extractAnswer`s disagree, the top.
 *
 * Run: `npx tsx scripts/tune-cascades.ts [hashing|use-lite]` (default hashing). Prints one line per
 * variant and λ (accuracy and cost as shares of GPT-4's on the training prompts), then per variant the
 * best accuracy share at ≤ 15% of GPT-4's cost.
 *
 * What it showed (2026-12-04, training half only): the `"bounded"` and `"margin"` priors leave the
 * frontier where it is without cascades (they almost never win); `"top"` − 0.02 with pairs among the
 * 3 most valued cheap members moves it from 91.4% of GPT-4's accuracy at 32.3% of its cost to 93.0% at
 * 24.4% (hashing) and from 91.1% at 28.8% to 91.2% at 23.8% / 91.9% at 28.6% (USE-Lite); a cascade α
 * of 8 or 16 instead of the members' 32 moved USE-Lite by about +0.5 point and hashing by nothing,
 * so cascades keep the members' α. No variant reaches 95% at ≤ 15% of GPT-4's cost.
 */
import { HumanMessage } from "@langchain/core/messages";
import { loadSentenceEncoder } from "../src/cli/common.js";
import { indexOutcomes, loadRecordedOutcomes } from "../src/eval/data/outcomes.js";
import { splitPromptIds } from "../src/eval/report/metrics.js";
import { trainingRecords } from "../src/eval/routing/passes.js";
import { createPromptLookup } from "../src/eval/routing/recorded-model.js";
import { completePrompts, precomputeEmbeddings } from "../src/eval/routing/runner.js";
import { fitMemberPrices, leaveOneOutMemory, trainingMemory } from "../src/eval/routing/shipped.js";
import type { StrategySearchHit } from "../src/memory/types.js";
import { type CascadeEvidence, type CascadePriorOptions, estimateCascades } from "../src/router/memory-bids/cascade.js";
import {
  answersMatch,
  clearMemoryBids,
  estimateMembers,
  extractAnswer,
  type MemberEvidence,
  requestText,
} from "../src/router/memory-bids/index.js";

const STRONG = "gpt-4-1106-preview";
const NEIGHBOURS = 32;
const PRIOR_STRENGTH = 32;
const LAMBDAS = [0, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5];
const COST_TARGET = 0.15;

const kind = (process.argv[2] ?? "hashing") as "hashing" | "use-lite";
const records = await loadRecordedOutcomes({});
const index = indexOutcomes(records);
const models = [...index.models];
const { train: split } = splitPromptIds(index.promptIds, { trainFraction: 0.5, seed: 0 });
const train = completePrompts(index, split, models);
const encoder = await loadSentenceEncoder(kind);
const { embeddings } = await precomputeEmbeddings(index, train, {
  embedder: encoder ?? "hashing",
  cacheDirectory: ".gavel-cache/embeddings",
});
const lookup = createPromptLookup(index);
const prices = fitMemberPrices(lookup, train, models);
const base = await trainingMemory(trainingRecords(index, train, models), embeddings);
const loo = leaveOneOutMemory(base);
const members = models.map((name) => ({
  name,
  price: prices.get(name) as { inputPerMillion: number; outputPerMillion: number },
}));

interface Prepared {
  promptId: string;
  hits: Map<string, StrategySearchHit[]>;
  evidence: MemberEvidence[];
}
const prepared: Prepared[] = [];
for (const promptId of train) {
  loo.exclude.auctionId = `train:${promptId}`;
  const prompt = index.promptInfo(promptId)?.prompt ?? "";
  const [vector] = await embeddings.embedDocuments([requestText([new HumanMessage(prompt)])]);
  const hits = new Map<string, StrategySearchHit[]>();
  for (const { name } of members) {
    hits.set(name, await loo.search({ vector: vector as number[], k: NEIGHBOURS, filter: { agent: name } }));
  }
  const promptTokens = 4 + Math.ceil(prompt.length / 4);
  const evidence = estimateMembers({
    hits,
    members,
    promptTokens,
    settings: { priorStrength: PRIOR_STRENGTH, expectedOutputTokens: 256 },
    embedderId: embeddings.id,
  });
  prepared.push({ promptId, hits, evidence });
}

const strongAccuracy = mean(train.map((id) => cell(id, STRONG).correct));
const strongCost = mean(train.map((id) => cell(id, STRONG).cost_usd));

interface Variant {
  name: string;
  prior?: CascadePriorOptions;
  costShare?: number;
  rungCandidates?: number;
  /** α of the cascades (default: the members' 32). */
  alpha?: number;
  off?: boolean;
}
const variants: Variant[] = [
  { name: "no cascades", off: true },
  { name: "bounded (priors)", prior: { kind: "bounded" } },
  { name: "margin 0.02", prior: { kind: "margin", margin: 0.02 } },
  { name: "top 0", prior: { kind: "top", margin: 0 } },
  { name: "top 0.02", prior: { kind: "top", margin: 0.02 } },
  { name: "top 0.05", prior: { kind: "top", margin: 0.05 } },
  { name: "top 0, 3 rungs", prior: { kind: "top", margin: 0 }, rungCandidates: 3 },
  { name: "top 0.02, 3 rungs", prior: { kind: "top", margin: 0.02 }, rungCandidates: 3 },
  { name: "top 0.02, 3 rungs, α 16", prior: { kind: "top", margin: 0.02 }, rungCandidates: 3, alpha: 16 },
  { name: "top 0.02, 3 rungs, α 8", prior: { kind: "top", margin: 0.02 }, rungCandidates: 3, alpha: 8 },
  { name: "top 0.05, 3 rungs, α 8", prior: { kind: "top", margin: 0.05 }, rungCandidates: 3, alpha: 8 },
];
const summary: string[] = [];
for (const variant of variants) {
  let best: { accuracyShare: number; costShare: number; lambda: number } | undefined;
  for (const lambda of LAMBDAS) {
    let correct = 0;
    let usd = 0;
    let cascadeWins = 0;
    for (const { promptId, hits, evidence } of prepared) {
      const cascades = variant.off
        ? []
        : estimateCascades({
            hits,
            evidence,
            priorStrength: variant.alpha ?? PRIOR_STRENGTH,
            ...(variant.prior && { prior: variant.prior }),
            ...(variant.costShare !== undefined && { costShare: variant.costShare }),
            ...(variant.rungCandidates !== undefined && { rungCandidates: variant.rungCandidates }),
          });
      const { winner } = clearMemoryBids([...evidence, ...cascades], { lambda, seed: 0 });
      const cascade = cascades.find((item) => item.member === winner);
      const result = cascade === undefined ? single(promptId, winner) : replay(promptId, cascade);
      if (cascade !== undefined) cascadeWins += 1;
      correct += result.correct;
      usd += result.usd;
    }
    const accuracyShare = correct / prepared.length / strongAccuracy;
    const costShare = usd / prepared.length / strongCost;
    console.log(
      `${variant.name.padEnd(30)} λ=${String(lambda).padEnd(6)} accuracy ${pct(accuracyShare)} of GPT-4's at ${pct(costShare)} of its cost; cascades won ${cascadeWins}/${prepared.length}`,
    );
    if (costShare <= COST_TARGET && (best === undefined || accuracyShare > best.accuracyShare)) {
      best = { accuracyShare, costShare, lambda };
    }
  }
  summary.push(
    `${variant.name.padEnd(30)} best at ≤ ${pct(COST_TARGET)} cost: ${best === undefined ? "none" : `${pct(best.accuracyShare)} at ${pct(best.costShare)} (λ=${best.lambda})`}`,
  );
}
console.log(`\nTraining prompts: ${prepared.length} (leave-one-out), embedder ${embeddings.id}`);
for (const line of summary) console.log(line);

function cell(promptId: string, model: string) {
  const found = index.outcome(promptId, model);
  if (found === "unavailable") throw new Error(`${promptId} has no record of ${model}`);
  return found;
}

function single(promptId: string, model: string) {
  const found = cell(promptId, model);
  return { correct: found.correct, usd: found.cost_usd };
}

function replay(promptId: string, cascade: CascadeEvidence) {
  const first = cell(promptId, cascade.first);
  const second = cell(promptId, cascade.second);
  const pair = first.cost_usd + second.cost_usd;
  if (answersMatch(extractAnswer(first.response ?? ""), extractAnswer(second.response ?? ""))) {
    return { correct: second.correct, usd: pair };
  }
  const top = cell(promptId, cascade.top);
  return { correct: top.correct, usd: pair + top.cost_usd };
}

function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
}

function pct(value: number): string {
  return `${(100 * value).toFixed(1)}%`;
}
