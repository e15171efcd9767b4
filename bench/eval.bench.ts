/**
 * Routing on recorded outcomes: the median time of one routing decision over a warm memory of the
 * training prompts (1,109 RouterBench prompts, 11 models, 512-d vectors).
 *
 * Vectors are seeded random unit vectors (USE-Lite's size), so the decision is measured alone; embedding
 * the query is the embedder's figure (about 20 ms per sentence with USE-Lite, see bench/memory.bench.ts),
 * added on top. No target in the issue; the router adds no model call, so a decision should stay far below one
 * millisecond-scale model call.
 */
import { loadOutcomeIndex, splitPromptIds } from "../src/eval/index.js";
import { createEscalationPolicy, parserForTask } from "../src/eval/routing/escalation.js";
import { estimateValues, fitTrainingProfile } from "../src/eval/routing/estimator.js";
import { createMemoryAuctionRouter } from "../src/eval/routing/memoryAuction.js";
import { availableModels } from "../src/eval/routing/online.js";
import { createOutcomeMemory } from "../src/eval/routing/outcome-memory.js";
import { mulberry32Float } from "../src/market/random.js";
import { type BenchResult, medianMicros } from "./harness.js";

const DIMENSIONS = 512;

export async function run(): Promise<BenchResult[]> {
  const index = await loadOutcomeIndex();
  const { train, test } = splitPromptIds(index.promptIds, { trainFraction: 0.5, seed: 0 });
  const random = mulberry32Float(7);
  const vectorOf = () => Array.from({ length: DIMENSIONS }, () => random() - 0.5);
  const profile = fitTrainingProfile(index, train);
  const memory = createOutcomeMemory({ dimensions: DIMENSIONS });
  for (const promptId of train) {
    const outcomes = new Map(
      [...index.outcomesOf(promptId)].map(([model, record]) => [model, record.correct] as const),
    );
    memory.add({ promptId, evalName: index.promptInfo(promptId)?.eval_name ?? "", outcomes }, vectorOf());
  }
  const queries = test.slice(0, 64).map((promptId) => ({
    promptId,
    vector: vectorOf(),
    evalName: index.promptInfo(promptId)?.eval_name ?? "",
    available: availableModels(index, profile, promptId),
  }));
  const router = createMemoryAuctionRouter({ memory, profile, lambda: 0.1, k: 32, priorStrength: 32 });
  let next = 0;
  const auction = await medianMicros("eval.route.memory_auction", () => {
    const query = queries[next++ % queries.length];
    if (query !== undefined) router.route(query);
  });

  const policy = createEscalationPolicy({
    ladder: ["mistralai/mixtral-8x7b-chat", "zero-one-ai/Yi-34B-Chat", "gpt-4-1106-preview"],
    threshold: 0.8,
  });
  const escalation = await medianMicros("eval.route.escalation", async () => {
    const query = queries[next++ % queries.length];
    if (query === undefined) return;
    const values = new Map(
      estimateValues({
        neighbours: memory.neighbours({ vector: query.vector, k: 32, evalName: query.evalName }),
        models: query.available,
        prior: (model) => profile.accuracy(model, query.evalName),
        priorStrength: 32,
      }).map((estimate) => [estimate.model, estimate.value]),
    );
    await policy.run({
      available: query.available,
      estimate: (model) => values.get(model) ?? 0,
      ask: async (model) => {
        const cell = index.outcome(query.promptId, model);
        return cell === "unavailable" ? "" : (cell.response ?? "");
      },
      parse: parserForTask(query.evalName),
    });
  });
  const details = { memoryEntries: memory.size, dimensions: DIMENSIONS, k: 32 };
  return [
    {
      name: "eval.route.memory_auction.1109",
      value: auction.medianUs,
      unit: "us",
      details: { ...details, samples: auction.samples },
    },
    {
      name: "eval.route.escalation.1109",
      value: escalation.medianUs,
      unit: "us",
      details: { ...details, samples: escalation.samples },
    },
  ];
}
