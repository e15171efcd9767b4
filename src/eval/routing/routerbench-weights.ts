/**
 * Router weights on real recorded data: RouterBench outcomes turned into the `TrainingTask`s that
 * `fitRouterWeights` learns from, the main job's held-out split, and a fitted-vs-defaults comparison.
 *
 * No model here writes a SALE plan, so each bid is built from what the real model really answered
 * (one bid per model with a recorded outcome for the prompt; a missing cell is not a bidder):
 *
 * | Field           | Proxy                                                                                        |
 * | --------------- | -------------------------------------------------------------------------------------------- |
 * | `price`         | the model's output price per token in the price table (`outputPerMillion / 1e6`)             |
 * | plan            | the first 128 tokens (the router's `planMaxTokens`) of the model's trimmed recorded response |
 * | `planTokens`    | that plan's tokens, counted as the router counts a plan (`countTextTokens(plan, model)`)     |
 * | `entropy`       | the router's fallback estimator, `lexicalEntropy(plan)`                                      |
 * | `jury[j]`       | agreement of juror model j's own recorded answer with the bidder's answer (see below)        |
 * | `correct`       | the recorded verdict (`correct ≥ 0.5`)                                                       |
 * | `executionCost` | the recorded `cost_usd`                                                                      |
 *
 * Agreement ({@link answerAgreement}): on multiple-choice tasks (ARC-Challenge: letters A–E,
 * Winogrande: A–B) 1 when both answers parse to the same choice letter, else 0 (an answer with no
 * choice letter, e.g. a refusal, agrees with nothing). On free-form tasks (MBPP) the answers' code
 * (first fenced block, else the whole text, `#` comments dropped) is compared as sets of tokens
 * (identifiers, numbers, punctuation): the Jaccard similarity, rounded to the router's Likert grid
 * {0, 0.2, …, 1}; identical normalised code scores 1.
 *
 * Limits, stated once: a recorded answer is not a plan written before execution, and the agreement
 * jury needs every juror's own answer to the task, so what this measures is how well the weights
 * can be FITTED on real model behaviour, not a deployable router.
 * No I/O: the caller loads the outcomes (`loadOutcomeIndex`) and passes the index (the comparison
 * reads the clock once, for `fitSeconds`).
 */
import { z } from "zod";
import { createPriceResolver, DEFAULT_PRICES } from "../../budget/prices.js";
import { countTextTokens } from "../../budget/tokens.js";
import type { PriceTable } from "../../budget/types.js";
import { lexicalEntropy } from "../../entropy.js";
import { parseConfig } from "../../errors.js";
import { createSeededRandom } from "../../market/random.js";
import { DEFAULT_PLAN_MAX_TOKENS, DEFAULT_WEIGHTS } from "../../router/options.js";
import {
  evaluateWeights,
  type FitRouterWeightsOptions,
  type FittedWeights,
  fitRouterWeights,
  type TrainingBid,
  type TrainingTask,
  type WeightEvaluation,
} from "../../router/weights.js";
import type { OutcomeIndex, OutcomeRecord } from "../data/outcomes.js";
import { MetricError } from "../errors.js";
import { splitPromptIds } from "../report/metrics.js";

// ---------------------------------------------------------------------------------------------
// Jurors
// ---------------------------------------------------------------------------------------------

/**
 * The cheap jury: the three most accurate RouterBench models among those priced at most $0.80 per
 * million output tokens (Mixtral 8x7B $0.60, Yi-34B $0.80, Code Llama 34B $0.776; accuracy on the
 * main job's training half 0.74, 0.77, 0.60 — Mistral 7B and WizardLM 13B, the other two, score
 * lower). Three jurors keep the MILP small and model what a router would pay for a jury.
 */
export const ROUTERBENCH_CHEAP_JURORS: readonly string[] = Object.freeze([
  "mistralai/mixtral-8x7b-chat",
  "zero-one-ai/Yi-34B-Chat",
  "meta/code-llama-instruct-34b-chat",
]);

// ---------------------------------------------------------------------------------------------
// Answers and agreement
// ---------------------------------------------------------------------------------------------

/** The choice letters of the multiple-choice tasks; any other task is compared as free-form code or text. */
const CHOICE_LETTERS: Readonly<Record<string, string>> = Object.freeze({
  "arc-challenge": "ABCDE",
  winogrande: "AB",
});

/**
 * The choice letter a response gives on a multiple-choice task (`"B"` for `"B"`, `"B)"`, `" (B) ..."`),
 * `undefined` when it gives none (a refusal, a free-text answer) or the task is not multiple-choice.
 *
 * @example
 * choiceAnswer("arc-challenge", "C\n"); // "C"
 * choiceAnswer("arc-challenge", "I don't know"); // undefined ("I" is not a choice)
 */
export function choiceAnswer(evalName: string, response: string): string | undefined {
  const letters = CHOICE_LETTERS[evalName];
  if (letters === undefined) return undefined;
  const letter = /^\s*\(?([A-Z])(?:[).:,]|\s|$)/.exec(response)?.[1];
  return letter !== undefined && letters.includes(letter) ? letter : undefined;
}

/** The tokens of a free-form answer's code: first fenced block (else the whole text), `#` comments dropped. */
function codeTokens(response: string): Set<string> {
  const fenced = /```[\w+-]*[^\S\n]*\n([\s\S]*?)```/.exec(response)?.[1];
  const code = (fenced ?? response).replace(/#[^\n]*/g, "");
  return new Set(code.match(/[A-Za-z_]\w*|\d+|[^\s\w]/g) ?? []);
}

/**
 * How far two recorded answers to one prompt agree, in [0, 1] — the jury proxy: juror j's score of
 * bid i is `answerAgreement(task, answer_j, answer_i)`. Multiple-choice: 1 if both give the same
 * choice letter, else 0. Free-form (MBPP): Jaccard similarity of the code's token sets, rounded to
 * the Likert grid {0, 0.2, …, 1}.
 *
 * @example
 * answerAgreement("winogrande", "A\n", "A)"); // 1
 * answerAgreement("mbpp", "```python\ndef f(x): return x\n```", "def f(x):\n    return x"); // 1
 */
export function answerAgreement(evalName: string, first: string, second: string): number {
  if (CHOICE_LETTERS[evalName] !== undefined) {
    const answer = choiceAnswer(evalName, first);
    return answer !== undefined && answer === choiceAnswer(evalName, second) ? 1 : 0;
  }
  const left = codeTokens(first);
  const right = codeTokens(second);
  if (left.size === 0 || right.size === 0) return 0;
  let shared = 0;
  for (const token of left) if (right.has(token)) shared++;
  const jaccard = shared / (left.size + right.size - shared);
  return Math.round(jaccard * 5) / 5;
}

// ---------------------------------------------------------------------------------------------
// The plan proxy
// ---------------------------------------------------------------------------------------------

/**
 * The plan proxy of a recorded response: the trimmed response cut to its longest prefix of at most
 * `maxTokens` tokens (counted with `countTextTokens(text, model)`, as the router counts a plan; the
 * cut is found by bisection on the character length).
 *
 * @example
 * planProxy("  B\n", "claude-v2"); // { text: "B", tokens: 1 }
 */
export function planProxy(
  response: string,
  model: string,
  maxTokens: number = DEFAULT_PLAN_MAX_TOKENS,
): { text: string; tokens: number } {
  const text = response.trim();
  const tokens = countTextTokens(text, model);
  if (tokens <= maxTokens) return { text, tokens };
  // Tokens are rarely longer than 16 characters: search a short window first, the rest if needed.
  const window = Math.min(text.length, maxTokens * 16);
  let low = 0;
  let high = countTextTokens(text.slice(0, window), model) > maxTokens ? window : text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (countTextTokens(text.slice(0, middle), model) <= maxTokens) low = middle;
    else high = middle - 1;
  }
  const cut = text.slice(0, low);
  return { text: cut, tokens: countTextTokens(cut, model) };
}

// ---------------------------------------------------------------------------------------------
// Recorded outcomes → training tasks
// ---------------------------------------------------------------------------------------------

const convertOptionsSchema = z
  .object({
    /** Jurors (model names). Empty: no jury, the bids differ by cost and entropy only. */
    jurors: z.array(z.string().min(1)).default([...ROUTERBENCH_CHEAP_JURORS]),
    /** Price table for `price` (USD per million, as everywhere); default the shipped table. */
    prices: z.custom<PriceTable>((value) => typeof value === "object" && value !== null).optional(),
    /** Plan cap in tokens; default the router's `planMaxTokens` (128). */
    planMaxTokens: z.number().int().positive().default(DEFAULT_PLAN_MAX_TOKENS),
  })
  .strict();

/** Options of {@link routerBenchTrainingTasks}. */
export type RouterBenchTrainingOptions = z.input<typeof convertOptionsSchema>;

/**
 * Turn the recorded outcomes of `promptIds` into training tasks, one per prompt with at least one
 * recorded model (proxies in the module header). The task's `jurors` is the whole configured jury;
 * a juror with no recorded answer to a prompt scores none of its bids (the router's rule imputes
 * it in `evaluateWeights`; `fitRouterWeights` needs every score, so fit on prompts
 * that {@link stratifiedSample} picks: every juror answered them).
 *
 * @throws ConfigError on bad options; MetricError when a bidder has no price in the table.
 * @example
 * const index = await loadOutcomeIndex();
 * const tasks = routerBenchTrainingTasks(index, index.promptIds.slice(0, 10));
 * console.log(tasks[0].bids.length); // 11
 */
export function routerBenchTrainingTasks(
  index: OutcomeIndex,
  promptIds: readonly string[],
  options: RouterBenchTrainingOptions = {},
): TrainingTask[] {
  const { jurors, prices, planMaxTokens } = parseConfig(
    "routerBenchTrainingTasks options",
    convertOptionsSchema,
    options,
  );
  const priceOf = createPriceResolver(prices ?? DEFAULT_PRICES);
  const tasks: TrainingTask[] = [];
  for (const promptId of promptIds) {
    const outcomes = index.outcomesOf(promptId);
    if (outcomes.size === 0) continue;
    const bids = [...outcomes.values()].map((record) => trainingBid(record, outcomes, jurors, priceOf, planMaxTokens));
    tasks.push({ taskId: promptId, jurors: [...jurors], bids });
  }
  return tasks;
}

function trainingBid(
  record: OutcomeRecord,
  outcomes: ReadonlyMap<string, OutcomeRecord>,
  jurors: readonly string[],
  priceOf: ReturnType<typeof createPriceResolver>,
  planMaxTokens: number,
): TrainingBid {
  const price = priceOf(record.model);
  if (price === undefined) throw new MetricError(`routerBenchTrainingTasks: no price for model "${record.model}"`);
  const response = record.response ?? "";
  const plan = planProxy(response, record.model, planMaxTokens);
  const jury: Record<string, number> = {};
  for (const juror of jurors) {
    const own = outcomes.get(juror);
    if (own !== undefined) jury[juror] = answerAgreement(record.eval_name, own.response ?? "", response);
  }
  return {
    bidder: record.model,
    price: price.outputPerMillion / 1e6,
    planTokens: plan.tokens,
    entropy: lexicalEntropy(plan.text).value,
    jury,
    correct: record.correct >= 0.5,
    executionCost: record.cost_usd,
  };
}

// ---------------------------------------------------------------------------------------------
// The split and the training sample
// ---------------------------------------------------------------------------------------------

/**
 * The main job's split of the prompts (configs/default.yaml: `split: seeded`, `trainFraction: 0.5`,
 * `seed: 0`; the runner calls `splitPromptIds(index.promptIds, { trainFraction, seed })`), so the
 * held-out half here is the held-out half there.
 *
 * @example
 * const { train, test } = mainJobSplit(await loadOutcomeIndex()); // 1,109 + 1,109 prompts
 */
export function mainJobSplit(
  index: OutcomeIndex,
  { trainFraction = 0.5, seed = 0 }: { trainFraction?: number; seed?: number } = {},
): { train: string[]; test: string[] } {
  return splitPromptIds(index.promptIds, { trainFraction, seed });
}

/**
 * A seeded sample of `size` prompt ids stratified by task (`eval_name`): each task gets its share
 * of `size` in proportion to its count (largest remainders), drawn by a seeded shuffle. Only
 * prompts with at least two recorded models, every juror among them, are eligible (a single bid
 * decides nothing, and the fit needs every juror's score).
 *
 * @example
 * const ids = stratifiedSample(index, mainJobSplit(index).train, { size: 40, seed: 1, jurors: [] });
 */
export function stratifiedSample(
  index: OutcomeIndex,
  promptIds: readonly string[],
  { size, seed = 0, jurors = [] }: { size: number; seed?: number; jurors?: readonly string[] },
): string[] {
  const groups = new Map<string, string[]>();
  for (const promptId of promptIds) {
    const outcomes = index.outcomesOf(promptId);
    if (outcomes.size < 2 || !jurors.every((juror) => outcomes.has(juror))) continue;
    const evalName = index.promptInfo(promptId)?.eval_name ?? "";
    groups.set(evalName, [...(groups.get(evalName) ?? []), promptId]);
  }
  const names = [...groups.keys()].sort();
  const eligible = names.reduce((sum, name) => sum + (groups.get(name)?.length ?? 0), 0);
  const total = Math.min(size, eligible);
  const exact = names.map((name) => ((groups.get(name)?.length ?? 0) * total) / Math.max(1, eligible));
  const counts = exact.map(Math.floor);
  const remainder = (position: number) => (exact[position] ?? 0) - (counts[position] ?? 0);
  const byRemainder = names.map((_, position) => position).sort((a, b) => remainder(b) - remainder(a) || a - b);
  for (let left = total - counts.reduce((sum, count) => sum + count, 0), k = 0; left > 0; left--, k++) {
    const position = byRemainder[k % byRemainder.length] as number;
    counts[position] = (counts[position] ?? 0) + 1;
  }
  const random = createSeededRandom({ seed, stream: "routerbench-weights-sample" });
  return names.flatMap((name, position) => {
    const group = [...(groups.get(name) ?? [])].sort();
    for (let i = group.length - 1; i > 0; i--) {
      const j = Math.floor(random.nextFloat() * (i + 1));
      [group[i], group[j]] = [group[j] as string, group[i] as string];
    }
    return group.slice(0, counts[position] ?? 0);
  });
}

// ---------------------------------------------------------------------------------------------
// Fitted vs defaults
// ---------------------------------------------------------------------------------------------

const compareOptionsSchema = z
  .object({
    /** Jurors of the bids (default the cheap jury); `[]` = jury off. */
    jurors: z.array(z.string().min(1)).default([...ROUTERBENCH_CHEAP_JURORS]),
    /** Training tasks the MILP is fitted on (a stratified sample of the training half). */
    sampleSize: z.number().int().positive().default(40),
    /** Seed of the sample (the split itself is the main job's, seed 0). */
    seed: z.number().int().default(0),
    /** HiGHS wall-clock limit, seconds. */
    timeLimitSeconds: z.number().positive().default(20),
    /**
     * δ of the MILP. Default 1e-5, not the fitter's 1e-3: κ (the largest plan cost) is a 128-token
     * GPT-4 code plan, a one-letter ARC answer costs 1/128 of that at most, and two cheap models'
     * one-letter plans differ by about 1e-4 · κ; with δ = 1e-3 the MILP cannot separate them and
     * must assume the dearer one may win.
     */
    margin: z.number().positive().max(0.1).default(1e-5),
    /** Extra options passed to `fitRouterWeights` (μ, ρ, τ, δ, the solver seam, ...). */
    fit: z.custom<Partial<FitRouterWeightsOptions>>((value) => typeof value === "object" && value !== null).optional(),
  })
  .strict();

/** Options of {@link compareWeightsOnRouterBench}. */
export type CompareWeightsOnRouterBenchOptions = z.input<typeof compareOptionsSchema>;

/** Fitted weights and the defaults on the same held-out prompts. */
export interface RouterBenchWeightComparison {
  jurors: string[];
  sampleSize: number;
  seed: number;
  fitted: FittedWeights;
  /** Wall-clock seconds of the fit (HiGHS load, model build, solve, training evaluation). */
  fitSeconds: number;
  /** Every held-out prompt of the main job's split (tasks with one bid included: they cost what they cost). */
  heldOut: { defaults: WeightEvaluation; fitted: WeightEvaluation };
  /** The training sample the fit saw, scored by both. */
  sample: { defaults: WeightEvaluation; fitted: WeightEvaluation };
}

/**
 * Fit weights on a stratified sample of the main job's training half and evaluate them against the
 * router's `DEFAULT_WEIGHTS` on every held-out prompt, both with `evaluateWeights`.
 *
 * @example
 * const index = await loadOutcomeIndex();
 * const result = await compareWeightsOnRouterBench(index, { sampleSize: 40, seed: 0 });
 * console.log(result.fitted.status, result.heldOut.fitted.meanRegret, result.heldOut.defaults.meanRegret);
 */
export async function compareWeightsOnRouterBench(
  index: OutcomeIndex,
  options: CompareWeightsOnRouterBenchOptions = {},
): Promise<RouterBenchWeightComparison> {
  const config = parseConfig("compareWeightsOnRouterBench options", compareOptionsSchema, options);
  const { jurors, sampleSize, seed, timeLimitSeconds, margin } = config;
  const { train, test } = mainJobSplit(index);
  const sample = routerBenchTrainingTasks(index, stratifiedSample(index, train, { size: sampleSize, seed, jurors }), {
    jurors,
  });
  const heldOut = routerBenchTrainingTasks(index, test, { jurors });
  const regret = {
    costTolerance: config.fit?.costTolerance ?? 0,
    wrongAnswerPenalty: config.fit?.wrongAnswerPenalty ?? 1,
  };
  const started = performance.now();
  const fitted = await fitRouterWeights({ margin, ...config.fit, tasks: sample, jurors, timeLimitSeconds });
  const fitSeconds = (performance.now() - started) / 1000;
  return {
    jurors,
    sampleSize: sample.length,
    seed,
    fitted,
    fitSeconds,
    heldOut: {
      defaults: evaluateWeights(DEFAULT_WEIGHTS, heldOut, regret),
      fitted: evaluateWeights(fitted.weights, heldOut, regret),
    },
    sample: {
      defaults: evaluateWeights(DEFAULT_WEIGHTS, sample, regret),
      fitted: evaluateWeights(fitted.weights, sample, regret),
    },
  };
}
