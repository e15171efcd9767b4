/**
 * Confidence: when `"auto"` mode trusts the memory's winner, and how that rule is fitted.
 *
 *   confident ⇔ n_w ≥ minEvidence  and  σ_w ≤ maxSpread        (w = the auction's winner)
 *
 * `fitConfidenceRule` picks (minEvidence, maxSpread) on replayed TRAINING prompts: for each prompt
 * it knows what the memory path and the unsure path (escalation or plans) would have scored and
 * cost, and maximises Σ (correct − λ · normalisedCost) of "memory when confident, else unsure".
 */
import type { MemberEvidence } from "./estimate.js";

/** The rule `"auto"` mode trusts the memory by. */
export interface ConfidenceRule {
  /** Least summed similarity of the winner's evidence. */
  minEvidence: number;
  /** Largest spread σ of the winner's value. */
  maxSpread: number;
}

/**
 * The default confidence rule: confident when the winner's evidence is ≥ 32 and its spread ≤ 0.07.
 *
 * FITTED by {@link fitConfidenceRule} with the eval's own fit (`gavel eval`'s confidence fit, run by
 * `npx tsx scripts/tune-memory-bids.ts --embedder use-lite --grid defaults --fit-confidence`): the
 * shipped RouterBench outcomes, training half of the eval's split (splitPromptIds, trainFraction 0.5,
 * seed 0; 1,105 prompts), each replayed leave-one-out through `AuctionRouter` (cascades bidding) on the
 * memory path and on the escalation path, USE-Lite vectors, λ 0.15, the default grid, with the
 * estimate's tuned shape (96 neighbours, all local, α_l 8, α_r 32). Refit whenever the estimate's
 * scale changes (the single-scale estimate with 32 neighbours fitted minEvidence 12, maxSpread 0.07).
 */
export const DEFAULT_CONFIDENCE_RULE: Readonly<ConfidenceRule> = { minEvidence: 32, maxSpread: 0.07 };

/**
 * Whether the memory is confident in its winner, with a sentence saying why.
 *
 * @example
 * ```ts
 * isConfident(winner, { minEvidence: 4, maxSpread: 0.08 });
 * // { confident: true, reason: "evidence 12.3 ≥ 4, spread 0.050 ≤ 0.08" }
 * // { confident: false, reason: "evidence 0.0 < 4: cold" }
 * ```
 */
export function isConfident(
  winner: Pick<MemberEvidence, "evidence" | "spread">,
  rule: ConfidenceRule,
): { confident: boolean; reason: string } {
  const evidence = `evidence ${winner.evidence.toFixed(1)}`;
  const spread = `spread ${winner.spread.toFixed(3)}`;
  if (!(winner.evidence >= rule.minEvidence)) {
    const cold = winner.evidence === 0 ? ": cold" : "";
    return { confident: false, reason: `${evidence} < ${rule.minEvidence}${cold}` };
  }
  if (!(winner.spread <= rule.maxSpread)) {
    return { confident: false, reason: `${evidence} ≥ ${rule.minEvidence}, but ${spread} > ${rule.maxSpread}` };
  }
  return { confident: true, reason: `${evidence} ≥ ${rule.minEvidence}, ${spread} ≤ ${rule.maxSpread}` };
}

/** What one path scored and cost on one replayed training prompt. */
export interface PathResult {
  /** 1 correct, 0 wrong (fractions for partial credit). */
  correct: number;
  /** Its USD over the dearest member's expected USD on that prompt (the estimate's ĉ scale). */
  normalisedCost: number;
}

/** One replayed TRAINING prompt: the memory winner's evidence and spread, and both paths' results. */
export interface ConfidenceSample {
  evidence: number;
  spread: number;
  /** The memory path: the memory's winner answered alone. */
  memory: PathResult;
  /** The unsure path (escalation or plans). */
  unsure: PathResult;
}

/** The grid {@link fitConfidenceRule} searches. */
export interface ConfidenceGrid {
  minEvidence: readonly number[];
  maxSpread: readonly number[];
}

/**
 * The default grid: minEvidence ∈ {0, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64},
 * maxSpread ∈ {0.010, 0.015, …, 0.150} ∪ {0.5}. With the default α_l = 8 and 24 evidence a spread is at
 * most 0.5/√32 ≈ 0.088, hence the fine steps; 0.5 means "any spread" (σ of a value in [0, 1] is at most 0.5).
 */
export const DEFAULT_CONFIDENCE_GRID: ConfidenceGrid = {
  minEvidence: [0, 0.5, 1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 48, 64],
  maxSpread: [...Array.from({ length: 29 }, (_, index) => Math.round((0.01 + 0.005 * index) * 1000) / 1000), 0.5],
};

/** Options of {@link fitConfidenceRule}. */
export interface FitConfidenceRuleOptions {
  /** λ ≥ 0: the router's weight of the normalised cost (the same λ it routes with). */
  lambda: number;
  /** The rules to try. Default {@link DEFAULT_CONFIDENCE_GRID}. */
  grid?: ConfidenceGrid;
}

/**
 * Fit the confidence rule on replayed TRAINING prompts (never on the test half): over the grid, the
 * (minEvidence, maxSpread) maximising Σ (correct − λ · normalisedCost) of "memory path when confident,
 * else unsure path". Ties go to the more conservative rule (higher minEvidence, then lower maxSpread).
 * Pure.
 *
 * @returns the rule and its utility (the summed objective over the samples).
 * @throws RangeError when there is no sample, λ is negative, or the grid is empty.
 * @example
 * ```ts
 * const rule = fitConfidenceRule(samples, { lambda: 0.15 });
 * // e.g. { minEvidence: 6, maxSpread: 0.06, utility: 512.4 }
 * ```
 */
export function fitConfidenceRule(
  samples: readonly ConfidenceSample[],
  options: FitConfidenceRuleOptions,
): ConfidenceRule & { utility: number } {
  const { lambda, grid = DEFAULT_CONFIDENCE_GRID } = options;
  if (samples.length === 0) throw new RangeError("fitConfidenceRule needs at least one replayed training sample");
  if (!(lambda >= 0) || !Number.isFinite(lambda))
    throw new RangeError(`lambda must be a finite number ≥ 0, got ${lambda}`);
  if (grid.minEvidence.length === 0 || grid.maxSpread.length === 0) {
    throw new RangeError("the confidence grid needs at least one minEvidence and one maxSpread");
  }
  const utilityOf = (path: PathResult) => path.correct - lambda * path.normalisedCost;
  let best: (ConfidenceRule & { utility: number }) | undefined;
  for (const minEvidence of grid.minEvidence) {
    for (const maxSpread of grid.maxSpread) {
      const rule = { minEvidence, maxSpread };
      let utility = 0;
      for (const sample of samples) {
        utility += utilityOf(isConfident(sample, rule).confident ? sample.memory : sample.unsure);
      }
      if (best === undefined || utility > best.utility + UTILITY_TOLERANCE) best = { ...rule, utility };
      else if (Math.abs(utility - best.utility) <= UTILITY_TOLERANCE && moreConservative(rule, best)) {
        best = { ...rule, utility };
      }
    }
  }
  return best as ConfidenceRule & { utility: number };
}

/** Utilities closer than this are a tie (floating-point sums in another order). */
const UTILITY_TOLERANCE = 1e-9;

function moreConservative(rule: ConfidenceRule, than: ConfidenceRule): boolean {
  if (rule.minEvidence !== than.minEvidence) return rule.minEvidence > than.minEvidence;
  return rule.maxSpread < than.maxSpread;
}
