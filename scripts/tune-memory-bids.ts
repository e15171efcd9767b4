/**
 * Tune the shape of the memory-bid estimate (`DEFAULT_ESTIMATE_SHAPE`, `DEFAULT_MEMORY_BIDS.neighbours`
 * and `.priorStrength`) on the TRAINING half only: every training prompt is replayed leave-one-out
 * against the training memory (the eval's `leaveOneOutMemory`: searches skip that prompt's own
 * auction), the members' hits are fetched once per prompt (k = the widest neighbourhood tried), and
 * each candidate shape runs the router's own pure core on them — `estimateMembers` then the
 * highest score v − λ ĉ at each λ (`clearMemoryBids`' winner; checked against it once per run), which is what mode `"memory"` does with the same hits (agreement
 * cascades aside). Never routes a test prompt.
 *
 * Objective: the Pareto area of the λ sweep (the eval's grid, `DEFAULT_LAMBDAS`) from the cheapest
 * single model's mean cost to GPT-4's, as `gavel eval` scores the memory-batch policy; also printed:
 * the area on a dense λ grid and the best accuracy at ≤ 15% and ≤ 50% of GPT-4's cost.
 *
 * Data: data/routerbench/outcomes.jsonl.gz, the eval's default split (`splitPromptIds`, trainFraction
 * 0.5, seed 0), prompts every model answered, member prices fitted on the training records
 * (`fitMemberPrices`), the memory loaded by `learnOutcomes` (int8, as the eval's).
 *
 * Run: `npx tsx scripts/tune-memory-bids.ts [--embedder hashing|use-lite] [--grid coarse|fine|wide|check|k|cascades|defaults]
 * [--cascades]
 * [--points] [--fit-confidence]`; `--fit-confidence` then refits auto's confidence rule (see the end).
 * USE-Lite vectors come from the eval's cache (.gavel-cache/embeddings).
 */
import { HumanMessage } from "@langchain/core/messages";
import type { OutcomeRecord } from "../src/eval/data/outcomes.js";
import { indexOutcomes, loadRecordedOutcomes } from "../src/eval/data/outcomes.js";
import { paretoArea, singleModelBaselines, splitPromptIds } from "../src/eval/report/metrics.js";
import type { EmbeddingsLike } from "../src/eval/routing/embedding.js";
import { DEFAULT_CONFIDENCE_LAMBDA, DEFAULT_LAMBDAS } from "../src/eval/routing/options.js";
import { runShippedPasses, trainingRecords } from "../src/eval/routing/passes.js";
import { createPromptLookup } from "../src/eval/routing/recorded-model.js";
import { completePrompts, precomputeEmbeddings } from "../src/eval/routing/runner.js";
import { fitMemberPrices, leaveOneOutMemory, trainingMemory } from "../src/eval/routing/shipped.js";
import type { StrategySearchHit } from "../src/memory/types.js";
import { type CascadeEvidence, estimateCascades } from "../src/router/memory-bids/cascade.js";
import {
  answersMatch,
  clearMemoryBids,
  DEFAULT_ESTIMATE_SHAPE,
  estimateMembers,
  extractAnswer,
  type MemberEvidence,
  type MemoryBidSettings,
  requestText,
} from "../src/router/memory-bids/index.js";
import { DEFAULT_MEMORY_BIDS } from "../src/router/options.js";

const argument = (name: string, fallback: string) => {
  const position = process.argv.indexOf(`--${name}`);
  return position >= 0 ? (process.argv[position + 1] ?? fallback) : fallback;
};
const embedderKind = argument("embedder", "hashing");
const gridKind = argument("grid", "coarse");
const STRONG = "gpt-4-1106-preview";
const WIDEST = Number(argument("widest", "256"));

const index = indexOutcomes(await loadRecordedOutcomes({}));
const models = [...index.models];
const { train: split } = splitPromptIds(index.promptIds, { trainFraction: 0.5, seed: 0 });
const train = completePrompts(index, split, models);
let embedder: EmbeddingsLike | "hashing" = "hashing";
if (embedderKind === "use-lite") {
  const { UniversalSentenceEncoderEmbeddings } = await import("../adapters/encoder/universal-sentence-encoder.js");
  embedder = new UniversalSentenceEncoderEmbeddings();
}
const { embeddings } = await precomputeEmbeddings(index, train, {
  embedder,
  cacheDirectory: ".gavel-cache/embeddings",
});
const lookup = createPromptLookup(index);
const prices = fitMemberPrices(lookup, train, models);
const members = models.map((name) => ({ name, price: prices.get(name) as NonNullable<ReturnType<typeof prices.get>> }));
const base = await trainingMemory(trainingRecords(index, train, models), embeddings);
const loo = leaveOneOutMemory(base);

// One LOO search per (prompt, member), k = WIDEST; narrower neighbourhoods are prefixes.
interface Replay {
  promptId: string;
  promptTokens: number;
  hits: Map<string, StrategySearchHit[]>;
}
const replays: Replay[] = [];
const started = Date.now();
for (const promptId of train) {
  const prompt = index.promptInfo(promptId)?.prompt ?? "";
  const message = new HumanMessage(prompt);
  const vector = await embeddings.embedQuery(requestText([message]));
  loo.exclude.auctionId = `train:${promptId}`;
  const hits = new Map<string, StrategySearchHit[]>();
  for (const { name } of members) {
    hits.set(name, await loo.search({ vector, k: WIDEST, filter: { agent: name } }));
  }
  replays.push({ promptId, promptTokens: 4 + Math.ceil(message.text.length / 4), hits });
}
console.error(`searched ${replays.length} training prompts in ${((Date.now() - started) / 1000).toFixed(1)} s`);

const singles = singleModelBaselines(index, { promptIds: train });
const strong = singles.find((single) => single.name === STRONG);
if (strong === undefined) throw new Error(`no ${STRONG} among the models`);
const cheapest = Math.min(...singles.map((single) => single.meanCostUsd));
const DENSE = [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.075, 0.09, 0.1, 0.125, 0.15, 0.2, 0.25, 0.3];

interface Candidate {
  neighbours: number;
  localNeighbours: number;
  /** α_r: the prior's weight in the regional mean (`priorStrength`). */
  priorStrength: number;
  /** α_l: the regional mean's weight in the local value. */
  localStrength: number;
  similarityPower: number;
}

/**
 * The winner `clearMemoryBids` picks (highest s = v − λ ĉ; first price, one slot), without building the
 * auction record: exact ties, which the auctioneer breaks by its seed, go to the first member here.
 */
function bestScore<Bidder extends MemberEvidence>(evidence: readonly Bidder[], lambda: number): Bidder {
  let best = evidence[0] as Bidder;
  let bestScoreSoFar = Number.NEGATIVE_INFINITY;
  for (const member of evidence) {
    const score = member.value - lambda * member.normalisedCost;
    if (score > bestScoreSoFar) {
      best = member;
      bestScoreSoFar = score;
    }
  }
  return best;
}

/**
 * `--cascades`: agreement cascades bid beside the members (`estimateCascades` on the same hits, as
 * the router's memory stage does with `memoryBids.cascades`, default on), and a winning cascade is
 * replayed as the router climbs: a and b are bought; when `extractAnswer` reads the same answer in
 * their recorded responses b's grade stands, else the top is bought and its grade stands.
 */
const withCascades = process.argv.includes("--cascades");

function outcomeOf(
  winner: MemberEvidence | CascadeEvidence,
  outcomes: ReadonlyMap<string, OutcomeRecord>,
): { correct: number; usd: number } {
  const of = (member: string) => outcomes.get(member);
  if (!("first" in winner)) return { correct: of(winner.member)?.correct ?? 0, usd: of(winner.member)?.cost_usd ?? 0 };
  const a = of(winner.first);
  const b = of(winner.second);
  const usd = (a?.cost_usd ?? 0) + (b?.cost_usd ?? 0);
  if (answersMatch(extractAnswer(a?.response ?? ""), extractAnswer(b?.response ?? ""))) {
    return { correct: b?.correct ?? 0, usd };
  }
  const top = of(winner.top);
  return { correct: top?.correct ?? 0, usd: usd + (top?.cost_usd ?? 0) };
}

/** Decisions checked against `clearMemoryBids` (the first candidate's), and how many differed. */
let checks = 2000;
let mismatches = 0;

function evaluate(candidate: Candidate) {
  const settings: MemoryBidSettings = {
    priorStrength: candidate.priorStrength,
    expectedOutputTokens: DEFAULT_MEMORY_BIDS.expectedOutputTokens,
    localNeighbours: candidate.localNeighbours,
    localStrength: candidate.localStrength,
    similarityPower: candidate.similarityPower,
  };
  const lambdas = [...new Set([...DEFAULT_LAMBDAS, ...DENSE])].sort((left, right) => left - right);
  const tally = new Map(lambdas.map((lambda) => [lambda, { correct: 0, usd: 0 }]));
  for (const replay of replays) {
    const hits = new Map([...replay.hits].map(([name, list]) => [name, list.slice(0, candidate.neighbours)]));
    const evidence = estimateMembers({
      hits,
      members,
      promptTokens: replay.promptTokens,
      settings,
      embedderId: embeddings.id,
    });
    const outcomes = index.outcomesOf(replay.promptId);
    const bidders: (MemberEvidence | CascadeEvidence)[] = withCascades
      ? [...evidence, ...estimateCascades({ hits, evidence, priorStrength: settings.priorStrength })]
      : evidence;
    for (const lambda of lambdas) {
      const winner = bestScore(bidders, lambda);
      if (checks > 0) {
        checks--;
        if (clearMemoryBids(bidders, { lambda, seed: 0 }).winner !== winner.member) mismatches++;
      }
      const { correct, usd } = outcomeOf(winner, outcomes);
      const sums = tally.get(lambda) as { correct: number; usd: number };
      sums.correct += correct;
      sums.usd += usd;
    }
  }
  const points = lambdas.map((lambda) => {
    const sums = tally.get(lambda) as { correct: number; usd: number };
    return { lambda, accuracy: sums.correct / replays.length, costUsd: sums.usd / replays.length };
  });
  const range = { minCostUsd: cheapest, maxCostUsd: (strong as { meanCostUsd: number }).meanCostUsd };
  const evalGrid = points.filter((point) => DEFAULT_LAMBDAS.includes(point.lambda));
  const bestAt = (share: number) =>
    Math.max(0, ...points.filter((point) => point.costUsd <= share * range.maxCostUsd).map((point) => point.accuracy));
  return {
    ...candidate,
    area: paretoArea(evalGrid, range),
    denseArea: paretoArea(points, range),
    at15: bestAt(0.15),
    at50: bestAt(0.5),
    points,
  };
}

const current: Candidate = {
  neighbours: DEFAULT_MEMORY_BIDS.neighbours,
  priorStrength: DEFAULT_MEMORY_BIDS.priorStrength,
  ...DEFAULT_ESTIMATE_SHAPE,
};
const candidates: Candidate[] = [
  // The single-scale estimate before the regional prior: 32 neighbours smoothed toward the price tier.
  {
    neighbours: 32,
    localNeighbours: 32,
    localStrength: 32,
    priorStrength: Number.POSITIVE_INFINITY,
    similarityPower: 1,
  },
  current,
];
if (gridKind !== "defaults") {
  // Rounds of the search (see DEFAULT_ESTIMATE_SHAPE): coarse, then fine around the best, then wide.
  const grids = {
    coarse: {
      k: [128, 256],
      local: [16, 32],
      alpha: [2, 8, 32],
      regional: [2, 32, Number.POSITIVE_INFINITY],
      power: [1, 4],
    },
    fine: {
      k: [64, 128],
      local: [16, 24, 32, 48, 64],
      alpha: [16, 32, 64, 128],
      regional: [0.5, 1, 2, 4, 8],
      power: [1, 2],
    },
    wide: { k: [128, 192, 256], local: [32, 64], alpha: [64, 128, 256, 512], regional: [1, 4], power: [1] },
    check: { k: [128], local: [32, 64], alpha: [128, 256], regional: [1, 4, 32], power: [1] },
    k: { k: [32, 48, 64, 96, 128], local: [16, 32, 64], alpha: [32, 64, 128], regional: [32], power: [1] },
    cascades: { k: [32, 64, 96], local: [32, 64], alpha: [32, 128], regional: [32], power: [1] },
    cascades2: { k: [96, 128], local: [64, 96], alpha: [8, 16, 32, 64], regional: [8, 32], power: [1] },
  } as const;
  const grid = grids[gridKind as keyof typeof grids];
  if (grid === undefined) throw new Error(`--grid ${gridKind}: give coarse, fine, wide or defaults`);
  for (const neighbours of grid.k) {
    for (const localNeighbours of grid.local) {
      if (localNeighbours > neighbours) continue;
      for (const localStrength of grid.alpha) {
        for (const priorStrength of grid.regional) {
          for (const similarityPower of grid.power) {
            candidates.push({ neighbours, localNeighbours, localStrength, priorStrength, similarityPower });
          }
        }
      }
    }
  }
}

const results = candidates.map(evaluate);
console.error(`bestScore vs clearMemoryBids: ${mismatches} of 2000 decisions differ (seeded ties)`);
const format = (result: ReturnType<typeof evaluate>) =>
  `k=${result.neighbours} kLocal=${result.localNeighbours} αl=${result.localStrength} αr=${result.priorStrength} p=${result.similarityPower}` +
  `  area ${result.area.toFixed(4)}  dense ${result.denseArea.toFixed(4)}  @15% ${result.at15.toFixed(3)}  @50% ${result.at50.toFixed(3)}`;
console.log(
  `embedder ${embeddings.id}; ${replays.length} training prompts (LOO); GPT-4 ${strong.accuracy.toFixed(3)} at ${strong.meanCostUsd.toExponential(3)} USD; cheapest ${cheapest.toExponential(3)} USD`,
);
console.log(`baseline: ${format(results[0] as ReturnType<typeof evaluate>)}`);
console.log(`defaults: ${format(results[1] as ReturnType<typeof evaluate>)}`);
const ranked = [...results].sort((left, right) => right.area - left.area);
for (const result of ranked.slice(0, Number(argument("top", "25")))) console.log(format(result));
if (process.argv.includes("--points")) {
  for (const point of (ranked[0] as ReturnType<typeof evaluate>).points) {
    console.log(
      `  λ=${point.lambda}  accuracy ${point.accuracy.toFixed(3)}  cost share ${(point.costUsd / strong.meanCostUsd).toFixed(3)}`,
    );
  }
}

// `--fit-confidence`: refit auto's confidence rule with the eval's own fit (`runShippedPasses`: every
// training prompt replayed leave-one-out through AuctionRouter on the memory path and on the escalation
// path, then `fitConfidenceRule` at the eval's λ), with the defaults above. No held-out prompt is routed.
if (process.argv.includes("--fit-confidence")) {
  const passes = await runShippedPasses({
    index,
    train,
    test: [],
    prices,
    lookup,
    embeddings,
    modes: ["auto"],
    protocols: ["batch"],
    lambdas: [DEFAULT_CONFIDENCE_LAMBDA],
    confidenceLambda: DEFAULT_CONFIDENCE_LAMBDA,
    onlineExploration: 0,
    neighbours: DEFAULT_MEMORY_BIDS.neighbours,
    priorStrength: DEFAULT_MEMORY_BIDS.priorStrength,
    seed: 0,
    strongModel: STRONG,
    bufferLedger: false,
  });
  console.log(`confidence rule fitted at λ ${DEFAULT_CONFIDENCE_LAMBDA}: ${JSON.stringify(passes.confidence)}`);
}
