/**
 * Learning the scoring weights of the strategy-auction router (SALE), once, on training tasks
 * with recorded outcomes.
 *
 * The router scores bid i on task t with `scoreBid` of `./scoring.ts`: `C = w_c · c_{t,i}`
 * (c = USD price per output token × plan tokens), `V = w_h · H_{t,i} + Σ_j w_j · γ_{t,i,j}`
 * (H = normalised plan entropy in [0, 1], γ_j = juror j's Likert score / 5); the winner is the
 * argmin of `C − V` (the argmax of the router's `score = V − C`). This file chooses
 * `w = (w_c, w_h, {w_j})` — the router's own `RouterWeights` — by a min-max mixed-integer
 * program solved with HiGHS:
 *
 * ```text
 * Data, per task t and bid i:   ĉ_{t,i} = c_{t,i} / κ   (κ = the largest c over the training set)
 *                               H_{t,i}, γ_{t,i,j} ∈ [0, 1]
 *                               r_{t,i} = regret of executing bid i (see below), a constant
 * Score (linear in w):          s_{t,i}(w) = ŵ_c ĉ_{t,i} − ŵ_h H_{t,i} − Σ_j ŵ_j γ_{t,i,j}
 *
 * minimise      η + (μ / T) · Σ_t R_t                       (worst-case regret, mean as tie-break)
 * subject to    ŵ_c + ŵ_h + Σ_j ŵ_j = 1,  ŵ ≥ 0            (simplex: bounded, so |s| ≤ 1)
 *               s_{t,i} − u_t ≤ δ/2 + M (1 − x_{t,i})    ∀ t, i   (a contender is within δ/2 of u_t)
 *               s_{t,i} − u_t ≥ δ − M x_{t,i}            ∀ t, i   (a non-contender is ≥ δ above u_t)
 *               Σ_i x_{t,i} ≥ 1                          ∀ t      (the argmin is always a contender)
 *               R_t ≥ r_{t,i} · x_{t,i}                  ∀ t, i   (a task pays its worst contender)
 *               η ≥ R_t                                  ∀ t
 *               x_{t,i} ∈ {0, 1},  u_t ∈ [L_t − δ/2, U_t],  R_t ≥ 0,  M per row ≤ 2 + 2δ
 * ```
 *
 * (L_t, U_t and the per-row M come from the task's own score range, and bids that can only win
 * by tying a no-cheaper bid are left out: see `buildMilp`; both are exact.)
 *
 * `x_{t,i} = 1` marks bid i as a possible auction winner of task t under w: every bid outside
 * that set scores at least δ/2 worse than every bid inside it, so the router's argmin — whatever
 * its tie-break — lands inside, and R_t charges the worst regret in the set. This is SALE's
 * "minimise the worst-case cost-minus-value over tasks", made concrete as worst-case regret of
 * the auction's choice; the mean term (weight μ) picks, among weights with the same worst case,
 * the ones that are best on average. Regret of bid i on task t, with A_t its correct bids:
 *
 * ```text
 * base_t  = min_{a ∈ A_t} cost_{t,a}  (min over all bids when A_t is empty)
 * r_{t,i} = max(0, cost_{t,i} − (1 + τ) · base_t) / max_k cost_{t,k}  +  ρ · [A_t ≠ ∅ and i ∉ A_t]
 * ```
 *
 * (cost = the recorded execution cost, τ = `costTolerance`, ρ = `wrongAnswerPenalty`).
 * The returned raw weights undo the cost scaling: `cost = ŵ_c / κ`, so they plug into
 * `new AuctionRouter({ pool, weights })` unchanged. They list every juror of the training data
 * explicitly (a juror that was not fitted gets 0), so the router's rule for a juror missing from
 * `weights.jury` (weight `1 / jury size`) never applies to them. `evaluateWeights` scores with
 * the router's `scoreBid` itself, so what it measures is what the router would choose.
 * Pure: no I/O. HiGHS (WebAssembly) is loaded lazily through an injectable seam.
 */

import { z } from "zod";
import { GavelError, parseConfig, parseJsonConfig } from "../errors.js";
import { createSeededRandom } from "../market/random.js";
import { clamp01, standardNormal } from "../math.js";
import { importPeer } from "../peers.js";
import { DEFAULT_WEIGHTS, type RouterWeights } from "./options.js";
import { scoreBid } from "./scoring.js";

// ---------------------------------------------------------------------------
// Shapes
// ---------------------------------------------------------------------------

const finite = z.number().finite();
const unit = z.number().min(0).max(1);

/** One bid of a training task, with its recorded outcome. One line of the training JSONL holds a whole task. */
const trainingBidSchema = z
  .object({
    /** Name of the pool member that bid. */
    bidder: z.string().min(1),
    /**
     * Output price of this bidder in USD per output token — the router's `pricePerOutputToken`,
     * i.e. its pool `price.outputPerMillion / 1e6` (e.g. `6e-7` for $0.60 per million).
     */
    price: finite.min(0),
    /** Length of the plan, in tokens. `c = price × planTokens`, in USD. */
    planTokens: finite.min(0),
    /** Normalised mean per-token entropy of the plan, in [0, 1]. */
    entropy: unit,
    /**
     * Juror name → that juror's score of this plan, normalised to [0, 1] (Likert 0–5 divided by 5;
     * the router records the Likert score). A juror of the task's jury absent from this map is
     * treated as the router treats a failed score (imputed by the mean of the others).
     */
    jury: z.record(z.string(), unit),
    /** Whether executing this bid answered the task correctly (the verifier's or the benchmark's verdict). */
    correct: z.boolean(),
    /** Recorded cost of executing this bid (USD, or any unit shared by the whole set). */
    executionCost: finite.min(0),
  })
  .strict();

/** One task of the training set: every bid that was made, each with its outcome. */
const trainingTaskSchema = z
  .object({
    taskId: z.string().min(1),
    /**
     * The auction's jury (the router records it as `auction.jurors`). Default: every juror that
     * scored at least one of the task's bids. Matters only when a juror failed on every bid.
     */
    jurors: z.array(z.string().min(1)).optional(),
    bids: z.array(trainingBidSchema).min(1).max(64),
  })
  .strict()
  .superRefine((task, context) => {
    if (task.jurors === undefined) return;
    const jury = new Set(task.jurors);
    task.bids.forEach((bid, bidIndex) => {
      for (const juror of Object.keys(bid.jury)) {
        if (!jury.has(juror))
          context.addIssue({
            code: "custom",
            path: ["bids", bidIndex, "jury", juror],
            message: `"${juror}" is not in the task's jurors`,
          });
      }
    });
  });

/** A bid with its features and recorded outcome. See {@link TrainingTask}. */
export type TrainingBid = z.infer<typeof trainingBidSchema>;

/**
 * One training task, as one line of a JSONL file:
 * `{"taskId":"gsm8k-17","bids":[{"bidder":"small","price":6e-7,"planTokens":74,"entropy":0.61,
 * "jury":{"small":0.8,"large":0.6},"correct":true,"executionCost":0.00021}, ...]}`.
 * Every bid needs an outcome, so training tasks come from full-information runs (every bidder
 * executes, e.g. the recorded pool), not from live routing where only the winner runs.
 */
export type TrainingTask = z.infer<typeof trainingTaskSchema>;

/**
 * Parse and validate one training task (e.g. one JSONL line after `JSON.parse`). Throws `ConfigError`.
 *
 * @example
 * ```ts
 * const line = '{"taskId":"gsm8k-17","bids":[{"bidder":"small","price":6e-7,"planTokens":74,"entropy":0.61,"jury":{"large":0.8},"correct":true,"executionCost":0.00021}]}';
 * parseTrainingTask(JSON.parse(line)).bids[0]?.bidder; // "small"
 * parseTrainingTask({ taskId: "gsm8k-17", bids: [] }); // throws ConfigError: "bids: Too small: expected array to have >=1 items"
 * ```
 */
export function parseTrainingTask(input: unknown): TrainingTask {
  return parseConfig("training task", trainingTaskSchema, input);
}

/** The formulations `fitRouterWeights` solves. Only one today; the name is recorded with the weights. */
export type WeightFormulation = "minmax-regret-milp";

/** How a fit ended. `fallback`: the solver gave no usable solution and the router's `DEFAULT_WEIGHTS` were returned. */
export type FitStatus = "optimal" | "time_limit" | "fallback";

/** Fitted weights and how they were obtained. Serialise with {@link weightsToJson}. */
export interface FittedWeights {
  /** The router's weights: pass as `new AuctionRouter({ pool, weights })`. Every juror of the data is listed. */
  weights: RouterWeights;
  /** Solver objective η + μ · mean R (on the training set); `null` on fallback. */
  objective: number | null;
  status: FitStatus;
  formulation: WeightFormulation;
  /** Number of training tasks. */
  trainedOn: number;
  /** Jurors the weights were fitted for. */
  jurors: string[];
  /** κ, the largest plan cost c (USD) in the training set; the solver saw c / κ. */
  costScale: number;
  /** HiGHS's own status string (`"Optimal"`, `"Time limit reached"`, ...), or the load error. */
  solverStatus: string;
  /** Regret of these weights on the training set, recomputed by {@link evaluateWeights}. */
  training: { worstCaseRegret: number; meanRegret: number };
  /** Present when `status` is `"fallback"`: why (the `WeightFitError` message). */
  fallbackReason?: string;
}

/**
 * The solver could not produce weights: HiGHS failed to load, reported infeasible/error, or hit
 * the time limit before finding any solution. `fitRouterWeights` throws it only with
 * `onFailure: "throw"`; otherwise it returns the default weights and records the message.
 *
 * @example
 * ```ts
 * try {
 *   await fitRouterWeights({ tasks, onFailure: "throw", timeLimitSeconds: 1 });
 * } catch (error) {
 *   if (WeightFitError.isInstance(error)) console.error(error.solverStatus, error.tasks, error.cause); // e.g. "Time limit reached", 200
 * }
 * ```
 */
export class WeightFitError extends GavelError {
  override readonly name = "WeightFitError";
  /** HiGHS status string, or `"load error"`. */
  readonly solverStatus: string;
  readonly formulation: WeightFormulation;
  readonly tasks: number;

  constructor(
    details: { solverStatus: string; formulation: WeightFormulation; tasks: number; reason: string },
    options?: { cause?: unknown },
  ) {
    super(
      `Router weight fit (${details.formulation}, ${details.tasks} tasks) failed: ${details.reason} (solver status: ${details.solverStatus}).`,
      options,
    );
    this.solverStatus = details.solverStatus;
    this.formulation = details.formulation;
    this.tasks = details.tasks;
  }
}

// ---------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------

/**
 * The router's default weights ({@link DEFAULT_WEIGHTS}: cost 100, entropy 0.1) with each juror
 * listed explicitly at `1 / jurors.length` — the weight the router gives a juror missing from
 * `weights.jury` in a jury of those members. Scores exactly like `DEFAULT_WEIGHTS` on a router
 * whose jury is `jurors`.
 *
 * @example
 * const weights = defaultRouterWeights({ jurors: ["small", "large"] });
 * // { cost: 100, entropy: 0.1, jury: { small: 0.5, large: 0.5 } }
 */
export function defaultRouterWeights({ jurors = [] }: { jurors?: string[] } = {}): RouterWeights {
  const share = jurors.length > 0 ? 1 / jurors.length : 0;
  return {
    cost: DEFAULT_WEIGHTS.cost,
    entropy: DEFAULT_WEIGHTS.entropy,
    jury: Object.fromEntries(jurors.map((juror) => [juror, share])),
  };
}

// ---------------------------------------------------------------------------
// Scoring (the router's own) and regret (shared by the fit and the evaluation)
// ---------------------------------------------------------------------------

/** The jury of a task: its `jurors`, else every juror that scored at least one of its bids. */
function juryOfTask(task: TrainingTask): string[] {
  if (task.jurors !== undefined) return [...new Set(task.jurors)];
  const jurors = new Set<string>();
  for (const bid of task.bids) for (const juror of Object.keys(bid.jury)) jurors.add(juror);
  return [...jurors];
}

/** Every juror of any of `tasks`, in order of appearance. */
function jurorsOfTasks(tasks: readonly TrainingTask[]): string[] {
  return [...new Set(tasks.flatMap(juryOfTask))];
}

/**
 * The router's score (`V − C`, higher wins) of a training bid: the bid converted to what the
 * auction sees (USD per output token, Likert scores = jury × 5) and scored by `scoreBid`.
 */
function routerScoreOfTrainingBid(weights: RouterWeights, bid: TrainingBid, jurors: readonly string[]): number {
  const scores = Object.fromEntries(Object.entries(bid.jury).map(([juror, score]) => [juror, score * 5]));
  return scoreBid(weights, {
    pricePerOutputToken: bid.price,
    planTokens: bid.planTokens,
    entropy: bid.entropy,
    scores,
    jurors,
  }).score;
}

interface RegretOptions {
  costTolerance: number;
  wrongAnswerPenalty: number;
}

/** Regret r_{t,i} of every bid of a task (formula in the module header). */
function regretsOf(task: TrainingTask, { costTolerance, wrongAnswerPenalty }: RegretOptions): number[] {
  const correctCosts = task.bids.filter((bid) => bid.correct).map((bid) => bid.executionCost);
  const anyCorrect = correctCosts.length > 0;
  const base = Math.min(...(anyCorrect ? correctCosts : task.bids.map((bid) => bid.executionCost)));
  const dearest = Math.max(...task.bids.map((bid) => bid.executionCost));
  return task.bids.map((bid) => {
    const excess = Math.max(0, bid.executionCost - (1 + costTolerance) * base);
    const costRegret = dearest > 0 ? excess / dearest : 0;
    return costRegret + (anyCorrect && !bid.correct ? wrongAnswerPenalty : 0);
  });
}

// ---------------------------------------------------------------------------
// Evaluation
// ---------------------------------------------------------------------------

/** What a set of weights does on a set of tasks. */
export interface WeightEvaluation {
  tasks: number;
  /** Share of tasks whose winner was correct. */
  accuracy: number;
  /** Share of tasks where at least one bid was correct (the oracle's accuracy). */
  oracleAccuracy: number;
  /** Sum of the winners' execution costs. */
  totalCost: number;
  /** Sum of the oracle's costs (cheapest correct bid, else cheapest bid). */
  oracleCost: number;
  /** Share of tasks won by a bidder with the task's highest price. */
  shareToDearest: number;
  meanRegret: number;
  worstCaseRegret: number;
  /** Winning bidder per task, in task order. */
  winners: string[];
}

const regretOptionsSchema = z
  .object({
    costTolerance: z.number().min(0).default(0),
    wrongAnswerPenalty: z.number().min(0).default(1),
  })
  .strict();

/**
 * Run the auction's choice with `weights` on every task and measure it. Bids are scored by the
 * router's own `scoreBid` (winner = argmax V − C = argmin C − V), with the task's jury being every
 * juror that scored one of its bids, so a juror missing from `weights.jury` gets `1 / jury size`
 * exactly as in the router. Exact ties are charged conservatively: the tied bid with the largest
 * regret is taken as the winner (the router's seeded tie-break is not known here).
 *
 * @example
 * const report = evaluateWeights(fitted.weights, heldOutTasks);
 * console.log(report.accuracy, report.meanRegret, report.shareToDearest);
 */
export function evaluateWeights(
  weights: RouterWeights,
  tasks: readonly TrainingTask[],
  options: z.input<typeof regretOptionsSchema> = {},
): WeightEvaluation {
  const regretOptions = parseConfig("evaluateWeights options", regretOptionsSchema, options);
  let correct = 0;
  let oracleCorrect = 0;
  let totalCost = 0;
  let oracleCost = 0;
  let toDearest = 0;
  let regretSum = 0;
  let worstCaseRegret = 0;
  const winners: string[] = [];
  for (const task of tasks) {
    const regrets = regretsOf(task, regretOptions);
    const jurors = juryOfTask(task);
    const scores = task.bids.map((bid) => routerScoreOfTrainingBid(weights, bid, jurors));
    const best = Math.max(...scores);
    let winnerIndex = -1;
    for (let index = 0; index < scores.length; index++) {
      const tied = Math.abs((scores[index] ?? 0) - best) <= 1e-12 * Math.max(1, Math.abs(best));
      if (tied && (winnerIndex < 0 || (regrets[index] ?? 0) > (regrets[winnerIndex] ?? 0))) winnerIndex = index;
    }
    const winner = task.bids[winnerIndex];
    if (winner === undefined) continue;
    const regret = regrets[winnerIndex] ?? 0;
    const correctCosts = task.bids.filter((bid) => bid.correct).map((bid) => bid.executionCost);
    const highestPrice = Math.max(...task.bids.map((bid) => bid.price));
    winners.push(winner.bidder);
    if (winner.correct) correct++;
    if (correctCosts.length > 0) oracleCorrect++;
    totalCost += winner.executionCost;
    oracleCost += Math.min(...(correctCosts.length > 0 ? correctCosts : task.bids.map((bid) => bid.executionCost)));
    if (winner.price === highestPrice) toDearest++;
    regretSum += regret;
    worstCaseRegret = Math.max(worstCaseRegret, regret);
  }
  const count = tasks.length;
  const share = (value: number) => (count > 0 ? value / count : 0);
  return {
    tasks: count,
    accuracy: share(correct),
    oracleAccuracy: share(oracleCorrect),
    totalCost,
    oracleCost,
    shareToDearest: share(toDearest),
    meanRegret: share(regretSum),
    worstCaseRegret,
    winners,
  };
}

// ---------------------------------------------------------------------------
// The fit
// ---------------------------------------------------------------------------

/**
 * The part of the HiGHS solver the fit uses (declared here, so that the package's types do not
 * depend on `highs`, an optional peer).
 */
export interface HighsSolver {
  solve(
    model: string,
    options: { output_flag: boolean; time_limit: number; mip_rel_gap: number },
  ): { Status: string; ObjectiveValue: number; Columns: Record<string, { Primal?: number } | undefined> };
}

/** Loads the HiGHS runtime. The default imports the `highs` package (WebAssembly) on first use. */
export type SolverLoader = () => Promise<HighsSolver>;

const defaultSolverLoader: SolverLoader = async () => {
  // The package ships ESM at runtime but CommonJS-shaped types, so `default` may be the loader
  // itself (runtime) or a namespace holding it (as TypeScript sees it under NodeNext).
  type Loader = () => Promise<HighsSolver>;
  const imported = (await importPeer("highs", "fitRouterWeights", () => import("highs"))) as unknown as {
    default: Loader | { default: Loader };
  };
  const loader = typeof imported.default === "function" ? imported.default : imported.default.default;
  return loader();
};

const fitOptionsSchema = z
  .object({
    tasks: z.array(trainingTaskSchema).min(1),
    /**
     * Jurors whose weights are learned. Every bid must carry a score from each. Default: every
     * juror that scored any training bid. A juror of the data that is not listed gets weight 0.
     */
    jurors: z.array(z.string().min(1)).optional(),
    formulation: z.literal("minmax-regret-milp").default("minmax-regret-milp"),
    /** HiGHS wall-clock limit. On hitting it, the best solution found so far is used. */
    timeLimitSeconds: z.number().positive().default(30),
    /** μ: weight of the mean regret next to the worst case (0 = pure min-max). */
    meanRegretWeight: z.number().min(0).default(1),
    /** δ: the score margin that separates non-contenders from the winner (scores live in [−1, 1]). */
    margin: z.number().positive().max(0.1).default(1e-3),
    /** τ: a correct bid within (1 + τ) × the cheapest correct cost has no cost regret. */
    costTolerance: z.number().min(0).default(0),
    /** ρ: regret added when the winner is wrong although some bid was correct. */
    wrongAnswerPenalty: z.number().min(0).default(1),
    /** Relative MIP gap at which HiGHS may stop. */
    mipRelativeGap: z.number().min(0).max(1).default(1e-4),
    /** `"fallback"`: return default weights (status `fallback`) when the solver fails; `"throw"`: throw `WeightFitError`. */
    onFailure: z.enum(["fallback", "throw"]).default("fallback"),
    /** Injected seam: how to load HiGHS. */
    loadSolver: z.custom<SolverLoader>((value) => typeof value === "function").optional(),
  })
  .strict()
  .superRefine((options, context) => {
    const jurors = options.jurors ?? jurorsOfTasks(options.tasks);
    const unique = new Set(jurors);
    if (unique.size !== jurors.length)
      context.addIssue({ code: "custom", path: ["jurors"], message: "juror names must be unique" });
    options.tasks.forEach((task, taskIndex) => {
      task.bids.forEach((bid, bidIndex) => {
        for (const juror of jurors) {
          if (bid.jury[juror] === undefined)
            context.addIssue({
              code: "custom",
              path: ["tasks", taskIndex, "bids", bidIndex, "jury", juror],
              message: `bid of "${bid.bidder}" on task "${task.taskId}" has no score from juror "${juror}"`,
            });
        }
      });
    });
  });

/** Options of {@link fitRouterWeights}. */
export type FitRouterWeightsOptions = z.input<typeof fitOptionsSchema>;

/**
 * Learn router weights on training tasks by the min-max regret MILP in this module's header,
 * solved exactly with HiGHS. Meant for tens to a few hundred tasks of up to ~8 bids.
 *
 * The fitted weights are the router's `RouterWeights` and list every juror of the training data
 * explicitly, so `new AuctionRouter({ pool, weights: fitted.weights })` scores bids exactly as the
 * fit did. On solver failure (with the default `onFailure: "fallback"`) the router's
 * `DEFAULT_WEIGHTS` are returned with status `"fallback"`.
 *
 * @param options.tasks training tasks with recorded outcomes (see {@link TrainingTask})
 * @param options.jurors jurors whose weights are learned (default: every juror in the tasks)
 * @returns the raw weights for the router, the objective, the solver status and training regret
 * @throws ConfigError on invalid options or tasks; WeightFitError only with `onFailure: "throw"`
 *
 * @example
 * ```ts
 * import { AuctionRouter, fitRouterWeights } from "langchain-gavel";
 *
 * const fitted = await fitRouterWeights({ tasks, jurors: ["small", "large"], timeLimitSeconds: 10 });
 * if (fitted.status === "fallback") console.warn(fitted.fallbackReason);
 * const router = new AuctionRouter({ pool, weights: fitted.weights });
 * ```
 */
export async function fitRouterWeights(options: FitRouterWeightsOptions): Promise<FittedWeights> {
  const config = parseConfig("fitRouterWeights options", fitOptionsSchema, options);
  const { tasks, formulation, timeLimitSeconds, mipRelativeGap, onFailure } = config;
  const jurors = config.jurors ?? jurorsOfTasks(tasks);
  const unfitted = jurorsOfTasks(tasks).filter((juror) => !jurors.includes(juror));
  const regretOptions = { costTolerance: config.costTolerance, wrongAnswerPenalty: config.wrongAnswerPenalty };
  const costScale = Math.max(...tasks.flatMap((task) => task.bids.map((bid) => bid.price * bid.planTokens)));
  const model = buildMilp({
    tasks,
    jurors,
    costScale,
    meanRegretWeight: config.meanRegretWeight,
    margin: config.margin,
    regretOptions,
  });

  const fail = (solverStatus: string, reason: string, cause?: unknown): FittedWeights => {
    const error = new WeightFitError({ solverStatus, formulation, tasks: tasks.length, reason }, { cause });
    if (onFailure === "throw") throw error;
    const weights = defaultRouterWeights();
    return {
      weights,
      objective: null,
      status: "fallback",
      formulation,
      trainedOn: tasks.length,
      jurors,
      costScale,
      solverStatus,
      training: summarise(evaluateWeights(weights, tasks, regretOptions)),
      fallbackReason: error.message,
    };
  };

  let solver: HighsSolver;
  try {
    solver = await (config.loadSolver ?? defaultSolverLoader)();
  } catch (error) {
    return fail("load error", "HiGHS could not be loaded", error);
  }
  let solution: ReturnType<HighsSolver["solve"]>;
  try {
    solution = solver.solve(model, { output_flag: false, time_limit: timeLimitSeconds, mip_rel_gap: mipRelativeGap });
  } catch (error) {
    return fail("solve error", "HiGHS threw while solving", error);
  }
  const status = solution.Status;
  if (status !== "Optimal" && status !== "Time limit reached") {
    return fail(status, "no optimal solution");
  }
  const columns = solution.Columns;
  const primal = (name: string) => columns[name]?.Primal;
  const scaled = [primal(COST), primal(ENTROPY), ...jurors.map((_, index) => primal(jurorVariable(index)))];
  if (scaled.some((value) => value === undefined || !Number.isFinite(value))) {
    return fail(status, "the time limit was reached before any feasible solution was found");
  }
  const clean = (value: number | undefined) => Math.max(0, value ?? 0);
  const weights: RouterWeights = {
    cost: clean(scaled[0]) / (costScale > 0 ? costScale : 1),
    entropy: clean(scaled[1]),
    jury: Object.fromEntries([
      ...jurors.map((juror, index) => [juror, clean(scaled[index + 2])]),
      ...unfitted.map((juror) => [juror, 0]),
    ]),
  };
  return {
    weights,
    objective: solution.ObjectiveValue,
    status: status === "Optimal" ? "optimal" : "time_limit",
    formulation,
    trainedOn: tasks.length,
    jurors,
    costScale,
    solverStatus: status,
    training: summarise(evaluateWeights(weights, tasks, regretOptions)),
  };
}

function summarise(evaluation: WeightEvaluation): FittedWeights["training"] {
  return { worstCaseRegret: evaluation.worstCaseRegret, meanRegret: evaluation.meanRegret };
}

const COST = "w_c";
const ENTROPY = "w_h";
const jurorVariable = (index: number) => `w_j${index}`;

/** Numbers in LP text: finite, plain, enough digits. */
function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : value.toPrecision(12);
}

/** `a x + b y - c z`, omitting zero coefficients, wrapped so no line is very long. */
function linear(terms: Array<[number, string]>): string {
  const parts: string[] = [];
  for (const [coefficient, variable] of terms) {
    if (coefficient === 0) continue;
    const sign = coefficient < 0 ? "-" : "+";
    parts.push(`${sign} ${formatNumber(Math.abs(coefficient))} ${variable}`);
  }
  if (parts.length === 0) return "0 w_c";
  const lines: string[] = [];
  for (let index = 0; index < parts.length; index += 8) lines.push(parts.slice(index, index + 8).join(" "));
  return lines.join("\n   ");
}

/**
 * The bids of one task the MILP must model: a bid is left out when another bid of the task scores
 * no better for every w (every score coefficient ≤) and has at least its regret (identical bids:
 * the one with the largest regret is kept, the first of equals). Such a bid can only be the
 * auction's winner by tying its dominator, which is then a contender too and charges at least as
 * much, so leaving it out changes no feasible weights' regret; it only removes binaries and the
 * rows that would keep its score out of the (δ/2, δ) band. Returns the kept bid positions.
 */
function undominatedBids(coefficients: readonly number[][], regrets: readonly number[]): number[] {
  const dominates = (k: number, i: number) => {
    const left = coefficients[k] as number[];
    const right = coefficients[i] as number[];
    if ((regrets[k] ?? 0) < (regrets[i] ?? 0)) return false;
    let identical = (regrets[k] ?? 0) === (regrets[i] ?? 0);
    for (let feature = 0; feature < left.length; feature++) {
      const difference = (left[feature] ?? 0) - (right[feature] ?? 0);
      if (difference > 0) return false;
      if (difference < 0) identical = false;
    }
    return !identical || k < i;
  };
  return coefficients
    .map((_, position) => position)
    .filter((i) => !coefficients.some((_, k) => k !== i && dominates(k, i)));
}

/**
 * The MILP of the module header, in CPLEX LP format, with two exact tightenings: dominated bids
 * are left out ({@link undominatedBids}), and each task's level u_t and each row's big-M are
 * bounded by the task's own score range (a score is a convex combination of its coefficients, so
 * bid i scores in [lo_i, hi_i] = [min, max] of them; u_t ∈ [L − δ/2, U] with L = min lo, U = max hi
 * loses no solution; M = hi_i − L on the contender row and δ + U − lo_i on the other).
 */
function buildMilp({
  tasks,
  jurors,
  costScale,
  meanRegretWeight,
  margin,
  regretOptions,
}: {
  tasks: TrainingTask[];
  jurors: string[];
  costScale: number;
  meanRegretWeight: number;
  margin: number;
  regretOptions: RegretOptions;
}): string {
  const weightVariables = [COST, ENTROPY, ...jurors.map((_, index) => jurorVariable(index))];
  const objective: Array<[number, string]> = [[1, "eta"]];
  const rows: string[] = [];
  const binaries: string[] = [];
  const bounds: string[] = [];
  let rowIndex = 0;
  const row = (left: Array<[number, string]>, sense: "<=" | ">=" | "=", right: number) => {
    rows.push(` r${rowIndex++}: ${linear(left)} ${sense} ${formatNumber(right)}`);
  };

  row(
    weightVariables.map((variable) => [1, variable]),
    "=",
    1,
  );
  tasks.forEach((task, taskIndex) => {
    const allRegrets = regretsOf(task, regretOptions);
    const taskRegret = `R_${taskIndex}`;
    const level = `u_${taskIndex}`;
    objective.push([meanRegretWeight / tasks.length, taskRegret]);
    const allCoefficients = task.bids.map((bid) => [
      costScale > 0 ? (bid.price * bid.planTokens) / costScale : 0,
      -bid.entropy,
      ...jurors.map((juror) => -(bid.jury[juror] ?? 0)),
    ]);
    const kept = undominatedBids(allCoefficients, allRegrets);
    const coefficients = kept.map((position) => allCoefficients[position] as number[]);
    const lows = coefficients.map((values) => Math.min(...values));
    const highs = coefficients.map((values) => Math.max(...values));
    const lowest = Math.min(...lows);
    const highest = Math.max(...highs);
    bounds.push(` ${formatNumber(lowest - margin / 2)} <= ${level} <= ${formatNumber(highest)}`);
    const contenders: Array<[number, string]> = [];
    kept.forEach((position, keptIndex) => {
      const contender = `x_${taskIndex}_${position}`;
      binaries.push(contender);
      contenders.push([1, contender]);
      const score = weightVariables.map((variable, feature): [number, string] => [
        coefficients[keptIndex]?.[feature] ?? 0,
        variable,
      ]);
      const contenderM = Math.max(0, (highs[keptIndex] ?? 0) - lowest);
      const outsiderM = margin + highest - (lows[keptIndex] ?? 0);
      row([...score, [-1, level], [contenderM, contender]], "<=", margin / 2 + contenderM);
      row([...score, [-1, level], [outsiderM, contender]], ">=", margin);
      const regret = allRegrets[position] ?? 0;
      if (regret > 0)
        row(
          [
            [1, taskRegret],
            [-regret, contender],
          ],
          ">=",
          0,
        );
    });
    row(contenders, ">=", 1);
    row(
      [
        [1, "eta"],
        [-1, taskRegret],
      ],
      ">=",
      0,
    );
  });

  const binaryLines: string[] = [];
  for (let index = 0; index < binaries.length; index += 16)
    binaryLines.push(` ${binaries.slice(index, index + 16).join(" ")}`);
  return [
    "Minimize",
    ` objective: ${linear(objective)}`,
    "Subject To",
    ...rows,
    "Bounds",
    ...bounds,
    "Binary",
    ...binaryLines,
    "End",
    "",
  ].join("\n");
}

// ---------------------------------------------------------------------------
// JSON (pure; the caller reads and writes the file)
// ---------------------------------------------------------------------------

const weightsSchema = z
  .object({
    cost: finite.min(0),
    entropy: finite.min(0),
    jury: z.record(z.string(), finite.min(0)),
  })
  .strict();

const weightsFileSchema = z
  .object({
    format: z.literal("gavel-router-weights"),
    version: z.literal(1),
    weights: weightsSchema,
    objective: finite.nullable(),
    status: z.enum(["optimal", "time_limit", "fallback"]),
    formulation: z.literal("minmax-regret-milp"),
    trainedOn: z.number().int().min(0),
    jurors: z.array(z.string()),
    costScale: finite.min(0),
    solverStatus: z.string(),
    training: z.object({ worstCaseRegret: finite, meanRegret: finite }).strict(),
    fallbackReason: z.string().optional(),
  })
  .strict();

/**
 * Serialise fitted weights (with how they were fitted) to a JSON string. Write it wherever you like.
 *
 * @example
 * await writeFile("router-weights.json", weightsToJson(fitted));
 */
export function weightsToJson(fitted: FittedWeights): string {
  const document = parseConfig("router weights", weightsFileSchema, {
    format: "gavel-router-weights",
    version: 1,
    ...fitted,
  });
  return `${JSON.stringify(document, null, 2)}\n`;
}

/**
 * Parse and validate a JSON string written by {@link weightsToJson}. Throws `ConfigError`
 * naming the bad field (or saying the text is not JSON).
 *
 * @example
 * const fitted = weightsFromJson(await readFile("router-weights.json", "utf8"));
 * const router = new AuctionRouter({ pool, weights: fitted.weights });
 */
export function weightsFromJson(text: string): FittedWeights {
  const { format: _format, version: _version, ...fitted } = parseJsonConfig("router weights", weightsFileSchema, text);
  return fitted;
}

// ---------------------------------------------------------------------------
// Synthetic tasks (for trying the fitter and for tests; never a product figure)
// ---------------------------------------------------------------------------

/** One bidder of the synthetic pool. */
export interface SyntheticBidder {
  name: string;
  /** Output price in USD per million tokens (as a pool member's `price.outputPerMillion`). */
  price: number;
  /** Skill in [0, 1]: the task difficulty it solves half of the time. */
  skill: number;
}

/** Real price points, USD per million output tokens: $0.10 (8B-class) to $10 (gpt-4o-class). */
const DEFAULT_SYNTHETIC_POOL: readonly SyntheticBidder[] = [
  { name: "tiny", price: 0.1, skill: 0.3 },
  { name: "small", price: 0.5, skill: 0.5 },
  { name: "medium", price: 2, skill: 0.7 },
  { name: "large", price: 10, skill: 0.9 },
];

/**
 * Seeded, structured synthetic training tasks: bidders with prices and skills, task difficulty
 * uniform in [0, 1], correctness drawn from `sigmoid(10 · (skill − difficulty))`, plan entropy
 * and each juror's score noisily correlated with correctness (`jurors`: name → noise, 0.1 =
 * informative, 0.5 = nearly noise; a juror named like a bidder also favours that bidder's own
 * plan by `selfBias`). Each bid's `price` is the bidder's USD per million / 1e6 — USD per output
 * token, the unit the router uses — so the router's `DEFAULT_WEIGHTS` weigh cost on these tasks
 * exactly as they would on a real pool at those prices. For demos and tests only: no
 * figure computed on these tasks says anything about real models.
 *
 * @example
 * const tasks = generateSyntheticTrainingTasks({ seed: 1, count: 60, jurors: { small: 0.4, large: 0.15 } });
 */
export function generateSyntheticTrainingTasks({
  seed = 0,
  count = 100,
  pool = DEFAULT_SYNTHETIC_POOL,
  jurors = { small: 0.35, large: 0.15 },
  entropyNoise = 0.25,
  selfBias = 0.2,
}: {
  seed?: number;
  count?: number;
  pool?: readonly SyntheticBidder[];
  jurors?: Record<string, number>;
  entropyNoise?: number;
  selfBias?: number;
} = {}): TrainingTask[] {
  const random = createSeededRandom({ seed, stream: "synthetic-router-tasks" });
  const uniform = () => random.nextFloat();
  const gaussian = () => standardNormal(uniform, 1e-12);
  const tasks: TrainingTask[] = [];
  for (let taskIndex = 0; taskIndex < count; taskIndex++) {
    const difficulty = uniform();
    const answerTokens = 300 + Math.floor(uniform() * 1500);
    const bids = pool.map((bidder): TrainingBid => {
      const correct = uniform() < 1 / (1 + Math.exp(-10 * (bidder.skill - difficulty)));
      const signal = correct ? 1 : -1;
      const jury: Record<string, number> = {};
      for (const [juror, noise] of Object.entries(jurors)) {
        const self = juror === bidder.name ? selfBias : 0;
        jury[juror] = Math.round(clamp01(0.5 + 0.25 * signal + self + noise * gaussian()) * 5) / 5;
      }
      return {
        bidder: bidder.name,
        price: bidder.price / 1e6,
        planTokens: 40 + Math.floor(uniform() * 88),
        entropy: clamp01(0.5 + 0.1 * signal + entropyNoise * gaussian()),
        jury,
        correct,
        executionCost: (bidder.price / 1e6) * answerTokens * (0.8 + 0.4 * uniform()),
      };
    });
    tasks.push({ taskId: `synthetic-${seed}-${taskIndex}`, bids });
  }
  return tasks;
}
