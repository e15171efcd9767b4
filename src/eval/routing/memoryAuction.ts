/**
 * The memory-bid auction router: every available model bids for a prompt with the value strategy
 * memory estimates for it (the recorded outcomes of the most similar past prompts), minus λ times
 * its normalised cost; the market core clears the auction. It costs no extra tokens: no model is
 * asked for a plan. Pure: the caller embeds the prompt and owns the memory.
 *
 * Score and bid, per model m on a prompt of task t:
 *   score_m = value_m − λ · cost_m / cost_dearest(t)
 *   bid_m   = score_m + λ            (≥ 0: the market core refuses negative bids; the shift keeps the order)
 * where value_m is `estimateValues`' similarity-weighted, prior-smoothed accuracy, cost_m the model's mean
 * recorded USD per prompt on the task's training prompts, and cost_dearest(t) the highest such mean on the task
 * (over the whole pool, so the scale does not move when the dearest model is unavailable for one prompt).
 * λ = 0 picks the model with the highest estimated accuracy; λ = 1 trades one unit of accuracy for the
 * dearest model's whole cost. Clearing is first price with one slot and the seeded tie rule.
 */

import { GavelError } from "../../errors.js";
import { createAuctioneer } from "../../market/auctioneer.js";
import type { AuctionOutcome, Bid } from "../../market/types.js";
import { estimateValues, type TrainingProfile, type ValueEstimate } from "./estimator.js";
import type { OutcomeMemory } from "./outcome-memory.js";

/** The task name under which `TrainingProfile.dearestMeanCostUsd` answers for the whole training part. */
const POOL_SCOPE = "\u0000pool";

/** No model may bid for a prompt (none is available). */
export class NoBiddersError extends GavelError {
  override readonly name = "NoBiddersError";
  readonly promptId: string | undefined;

  constructor(promptId: string | undefined) {
    super(`no available model can bid for prompt ${promptId ?? "(unnamed)"}`);
    this.promptId = promptId;
  }
}

/** Options of {@link createMemoryAuctionRouter}. */
export interface MemoryAuctionRouterOptions {
  /** Past prompts and their outcomes. Read on every decision; the caller adds what it learns. */
  memory: OutcomeMemory;
  /** Priors and costs fitted on the training part. */
  profile: TrainingProfile;
  /** Weight of the normalised cost. Default 0. */
  lambda?: number;
  /** Neighbours read per prompt. Default 16. */
  k?: number;
  /** Pseudo-observations of the prior. Default 2. */
  priorStrength?: number;
  /** Read neighbours of the same task only. Default true. */
  sameTaskNeighbours?: boolean;
  /** Seed of the auction's tie rule. Default 0. */
  seed?: number;
  /**
   * What the cost is normalised by: `"task"` (the dearest model's mean cost on the prompt's task) or
   * `"pool"` (the dearest model's mean cost over all training prompts: one exchange rate between
   * accuracy and USD for every task, which is what a budget over a mixed workload wants). Default `"task"`.
   */
  costScale?: CostScale;
}

/** What the memory auction normalises a model's cost by (see {@link MemoryAuctionRouterOptions.costScale}). */
export type CostScale = "task" | "pool";

/** A routing request: the embedded prompt, its task and the models that can answer it. */
export interface RouteRequest {
  vector: ArrayLike<number>;
  evalName: string;
  /** Models available for this prompt; only they bid. */
  available: readonly string[];
  promptId?: string;
}

/** A routing decision and the auction behind it. */
export interface RouteDecision {
  model: string;
  /** The cleared auction (bids in `results`, value and normalised cost in each bid's `meta`). */
  outcome: AuctionOutcome;
  estimates: ValueEstimate[];
}

/**
 * A memory-bid auction router.
 * @throws RangeError when λ is negative.
 * @example
 * ```ts
 * const router = createMemoryAuctionRouter({ memory, profile, lambda: 0.2 });
 * const { model, outcome } = router.route({ vector, evalName: "arc-challenge", available: ["gpt-4-1106-preview", "zero-one-ai/Yi-34B-Chat"] });
 * ```
 */
export function createMemoryAuctionRouter(options: MemoryAuctionRouterOptions) {
  const {
    memory,
    profile,
    lambda = 0,
    k = 16,
    priorStrength = 2,
    sameTaskNeighbours = true,
    seed = 0,
    costScale = "task",
  } = options;
  if (!(lambda >= 0)) throw new RangeError(`lambda must be ≥ 0, got ${lambda}`);
  const auctioneer = createAuctioneer({ mechanism: "first_price", topK: 1, seed });

  return {
    lambda,
    route: function route(request: RouteRequest): RouteDecision {
      const { vector, evalName, available, promptId } = request;
      if (available.length === 0) throw new NoBiddersError(promptId);
      const query = { vector, k, ...(sameTaskNeighbours ? { evalName } : {}) };
      const estimates = estimateValues({
        neighbours: memory.neighbours(query),
        models: available,
        prior: (model) => profile.accuracy(model, evalName),
        priorStrength,
      });
      const dearest = profile.dearestMeanCostUsd(costScale === "task" ? evalName : POOL_SCOPE);
      const bids: Bid[] = estimates.map((estimate) => {
        const cost = profile.meanCostUsd(estimate.model, evalName);
        const normalisedCost = dearest > 0 ? cost / dearest : 0;
        const score = estimate.value - lambda * normalisedCost;
        return {
          bidder: estimate.model,
          amount: Math.max(0, score + lambda),
          meta: { value: estimate.value, evidence: estimate.evidence, normalisedCost, meanCostUsd: cost },
        };
      });
      const outcome = auctioneer.clear(bids);
      const model = outcome.winners[0];
      if (model === undefined) throw new NoBiddersError(promptId);
      return { model, outcome, estimates };
    },
  };
}

/** A memory-bid auction router (see {@link createMemoryAuctionRouter}). */
export type MemoryAuctionRouter = ReturnType<typeof createMemoryAuctionRouter>;
