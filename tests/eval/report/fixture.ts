/**
 * A hand-made `EvalReport` for the renderer tests: figures shaped like RouterBench's (GPT-4 at 0.880 for
 * $0.00502 per prompt), two routers with a λ sweep, and the baselines.
 */
import type { EvalReport, OperatingPoint, PolicyResult } from "../../../src/eval/report/results.js";

const PROMPTS = 1000;

function point(
  label: string,
  accuracy: number,
  meanCostUsd: number,
  extra: Partial<OperatingPoint> = {},
): OperatingPoint {
  return {
    label,
    accuracy,
    costUsd: meanCostUsd * PROMPTS,
    meanCostUsd,
    prompts: PROMPTS,
    calls: PROMPTS,
    largestModelShare: 0,
    callsByModel: {},
    ...extra,
  };
}

function single(model: string, accuracy: number, meanCostUsd: number, largest = false): PolicyResult {
  return {
    name: `single:${model}`,
    kind: "baseline",
    description: `${model} answers every prompt.`,
    points: [
      point("alone", accuracy, meanCostUsd, { largestModelShare: largest ? 1 : 0, callsByModel: { [model]: PROMPTS } }),
    ],
  };
}

/** Build the fixture; `title` lets a test tell two reports apart. */
export function handMadeReport(title = "RouterBench held-out (hand-made)"): EvalReport {
  return {
    title,
    createdAt: "2025-01-31T12:00:00.000Z",
    dataset: {
      name: "routerbench",
      source: "data/routerbench/outcomes.jsonl.gz",
      trainPrompts: 1109,
      testPrompts: PROMPTS,
      models: ["gpt-4-1106-preview", "gpt-3.5-turbo-1106", "mixtral-8x7b-chat", "mistral-7b-chat", "Yi-34B-Chat"],
      split: "seeded 50/50 split of prompt ids (seed 42)",
    },
    strongModel: "gpt-4-1106-preview",
    weakModel: "mistral-7b-chat",
    policies: [
      {
        name: "memory-auction",
        kind: "router",
        description: "Second-price auction; value from the kNN of similar training prompts.",
        points: [
          point("λ=0", 0.871, 0.00431, { largestModelShare: 0.8, calls: PROMPTS }),
          point("λ=10", 0.862, 0.00198, { largestModelShare: 0.35, parameter: 10 }),
          point("λ=30", 0.851, 0.00102, { largestModelShare: 0.15, parameter: 30 }),
          point("λ=100", 0.812, 0.00041, { largestModelShare: 0.04, parameter: 100 }),
          point("λ=300", 0.771, 0.00029, { largestModelShare: 0, parameter: 300 }),
        ],
        metrics: { apgr: 0.712, cpt50: 0.143, cpt80: 0.302, paretoArea: 0.803 },
      },
      {
        name: "escalation",
        kind: "router",
        description: "Cheapest models first; escalate when they disagree.",
        points: [
          point("threshold=0.9", 0.858, 0.00151, { largestModelShare: 0.22, calls: 2400 }),
          point("threshold=0.7", 0.833, 0.00082, { largestModelShare: 0.1, calls: 2100 }),
          point("threshold=0.5", 0.79, 0.00047, { largestModelShare: 0.03, calls: 2010 }),
        ],
        metrics: { apgr: 0.655, cpt50: 0.21 },
      },
      single("gpt-4-1106-preview", 0.88, 0.00502, true),
      single("gpt-3.5-turbo-1106", 0.724, 0.00042),
      single("Yi-34B-Chat", 0.771, 0.00033),
      single("mixtral-8x7b-chat", 0.739, 0.00025),
      single("mistral-7b-chat", 0.581, 0.00008),
      {
        name: "random",
        kind: "baseline",
        description: "Random routing between the weak and the strong model at the routers' costs.",
        points: [point("25%", 0.656, 0.00131), point("50%", 0.73, 0.00255), point("75%", 0.805, 0.00378)],
      },
      {
        name: "static-per-task",
        kind: "baseline",
        description: "One model per task, chosen on the training part.",
        points: [point("λ=30", 0.823, 0.00121)],
      },
      {
        name: "oracle",
        kind: "baseline",
        description: "The cheapest correct model for every prompt (an upper bound).",
        points: [point("oracle", 0.975, 0.00021)],
      },
    ],
    targets: [
      {
        description: "≥ 95% of gpt-4-1106-preview's accuracy at ≤ 25% of its cost",
        met: true,
        detail: "memory-auction λ=30: 96.7% of its accuracy at 20.3% of its cost",
      },
      {
        description: "Pareto frontier above random routing everywhere",
        met: false,
        detail: "below at $0.0043 | by 0.004",
      },
    ],
    config: { name: "default", seed: 42 },
    notes: ["Auction overhead: 0 extra tokens (memory bids cost nothing).", "<script>alert(1)</script> is escaped"],
  };
}
