/**
 * Agreement cascades as bidders (issue 10): "ask two cheap members; keep their answer when their
 * extracted answers agree, else ask the top member". On multiple choice two cheap members that agree
 * are right far more often than either alone, so a cascade buys much of the top member's accuracy for
 * a fraction of its cost. A cascade bids in the memory auction beside the members, in the same
 * {@link MemberEvidence} shape, so `clearMemoryBids` and `isConfident` treat it as any bidder; when it
 * wins, the router climbs the escalation ladder `rungs: [a, b]`, `top`.
 *
 * Pure and task-free: it works on the hits the router already fetched (no extra search) and reads
 * `entry.auctionId`, `entry.agent`, `entry.outcome`, `entry.cost`, `entry.metadata` and `hit.score`
 * only — never `entry.kind`.
 *
 * Cascade `cascade(a + b → top)`, over the neighbour auctions j where both a and b were called with a
 * known outcome (the same `auctionId` in a's and b's hits):
 *   agree_j = answersMatch(answer_a,j, answer_b,j)      (`metadata.answer`, what `extractAnswer` read)
 *   y_j     = agree_j ? y_b,j : (top's outcome on j when top was called there, else v_top)
 *   cost_j  = cost_a,j + cost_b,j + (agree_j ? 0 : top's cost on j, else c_top)
 *   w_j = max(0, the smaller of the two hits' similarities),  n = Σ w_j
 *   v = (Σ w_j y_j + α · prior) / (n + α)      prior = v_top − 0.02 (default, see {@link CascadePrior})
 *   c = (Σ w_j cost_j + c_a + c_b + c_top) / (n + 1)      (cold: the pessimistic climb to the top)
 *   σ = sqrt(v (1 − v) / (n + α)),  ĉ = c / the dearest member's c
 * On agreement the final answer is b's (the climb's rung 1 answers), hence y_b,j. A neighbour with no
 * extracted answer (code, prose) never agrees: the climb reaches the top, as the router would.
 */
import type { StrategySearchHit } from "../../memory/types.js";
import { answersMatch } from "./answers.js";
import type { MemberEvidence } from "./estimate.js";

/**
 * Default share of the dearest member's expected cost (on this request) at or below which a member may
 * be a cascade's cheap rung. The retired eval-only cascades used the same 0.25 of the strong model's cost.
 */
export const DEFAULT_CASCADE_COST_SHARE = 0.25;
/** Default margin of the cascade prior (see {@link CascadePrior}). */
export const DEFAULT_CASCADE_PRIOR_MARGIN = 0.02;
/**
 * Default number of cheap members (the most valued) that form pairs: 3 (three pairs). Leave-one-out on
 * the training half (scripts/tune-cascades.ts, prior `"top"` 0.02): with the hashing embedder 93.0%
 * of GPT-4's accuracy at 24.4% of its cost and 95.7% at 40.2% (all eight cheap members: 92.3% at
 * 24.6%, 95.3% at 39.7%); with USE-Lite within 0.5 point of all eight. Three-rung cascades (the
 * three candidates; all three must agree, else the top) bidding beside the pairs moved no eval point
 * by more than 0.3 point of GPT-4's accuracy (Pareto area 0.8373 against 0.8375, 2026-12-05), so
 * cascades stay pairs.
 */
export const DEFAULT_CASCADE_RUNG_CANDIDATES = 3;
/** Default number of cascades that bid per request: the most valued of this request's Pareto frontier. */
export const DEFAULT_MAX_CASCADES = 4;

/**
 * How a cascade's value is smoothed toward a prior before (and beside) its own evidence:
 * - `"top"` (default, margin {@link DEFAULT_CASCADE_PRIOR_MARGIN}): v_top − margin, the top's smoothed
 *   value — a cascade is its top when the rungs disagree, and mostly right when they agree; the
 *   margin keeps a cascade without evidence below its top;
 * - `"bounded"`: min(prior_top, max(prior_a, prior_b)), the members' priors;
 * - `"margin"`: prior_top − margin.
 *
 * Chosen by leave-one-out replay of `"memory"` mode on the RouterBench training half
 * (scripts/tune-cascades.ts, hashing embedder): with `"bounded"` or `"margin"` the cascades' values
 * sit near the members' price priors (α = 32 outweighs the ~10 units of neighbour evidence) and they
 * almost never win (training frontier unchanged); `"top"` with margin 0.02 moves it to 92.3% of
 * GPT-4's accuracy at 24.6% of its cost and 90.5% at 18.2% (no cascades: 91.4% at 32.3%, 88.5% at
 * 12.4%); margin 0 is within 0.5 point of it, 0.05 and 0.1 fall back toward no cascades.
 */
export type CascadePrior = "bounded" | "margin" | "top";

/** The prior of {@link estimateCascades}. */
export interface CascadePriorOptions {
  kind: CascadePrior;
  /** How far below the top's value (`"top"`) or prior (`"margin"`) the cascade's prior sits. Default {@link DEFAULT_CASCADE_PRIOR_MARGIN}. */
  margin?: number;
}

/** One cascade's bid: the member-evidence shape plus its ladder. `member` is its {@link cascadeName}. */
export interface CascadeEvidence extends MemberEvidence {
  /** Asked first (the cheaper rung). */
  first: string;
  /** Asked second; its answer is final when the two agree. */
  second: string;
  /** Asked when the two disagree; its answer is then final. */
  top: string;
  /** Similarity-weighted share of the neighbour auctions where the two rungs agreed (0 when cold). */
  agreement: number;
}

/** The input of {@link estimateCascades}. */
export interface EstimateCascadesInput {
  /** The same hits `estimateMembers` read (per member name). */
  hits: ReadonlyMap<string, readonly StrategySearchHit[]>;
  /** The members' estimates on this request (`estimateMembers`). */
  evidence: readonly MemberEvidence[];
  /** α: pseudo-observations of the prior (the members' `priorStrength`). */
  priorStrength: number;
  /** A rung's expected cost must be ≤ this share of the dearest member's. Default {@link DEFAULT_CASCADE_COST_SHARE}. */
  costShare?: number;
  /**
   * Only the `rungCandidates` most valued cheap members form pairs (fewer pairs: less of the
   * winner's curse of picking the luckiest of many noisy estimates). Default
   * {@link DEFAULT_CASCADE_RUNG_CANDIDATES}.
   */
  rungCandidates?: number;
  /** Cascades kept. Default {@link DEFAULT_MAX_CASCADES}. */
  maxCascades?: number;
  /** Default `{ kind: "top", margin: DEFAULT_CASCADE_PRIOR_MARGIN }`. */
  prior?: CascadePriorOptions;
}

/** The bidder name of a cascade. */
export function cascadeName(first: string, second: string, top: string): string {
  return `cascade(${first} + ${second} → ${top})`;
}

/** What one member's neighbour auction says: its outcome, cost, answer and similarity. */
interface Observation {
  outcome: number;
  cost: number;
  answer: string | undefined;
  similarity: number;
}

/**
 * Estimate the agreement cascades of this request (see the module comment). None with fewer than
 * three members, or when fewer than two members other than the top are cheap enough.
 *
 * @throws RangeError when `costShare` is not in (0, 1] or `maxCascades` is not a positive integer.
 * @example
 * ```ts
 * const members = estimateMembers(input);
 * const cascades = estimateCascades({ hits: input.hits, evidence: members, priorStrength: 32 });
 * clearMemoryBids([...members, ...cascades], { lambda: 0.15, seed: 7 }).winner;
 * // e.g. "cascade(mistral-7b + mixtral-8x7b → gpt-4)"
 * ```
 */
export function estimateCascades(input: EstimateCascadesInput): CascadeEvidence[] {
  const {
    hits,
    evidence,
    priorStrength: alpha,
    costShare = DEFAULT_CASCADE_COST_SHARE,
    maxCascades = DEFAULT_MAX_CASCADES,
    prior = { kind: "top", margin: DEFAULT_CASCADE_PRIOR_MARGIN },
  } = input;
  if (!(costShare > 0 && costShare <= 1)) throw new RangeError(`costShare must be in (0, 1], got ${costShare}`);
  if (!(Number.isInteger(maxCascades) && maxCascades >= 1)) {
    throw new RangeError(`maxCascades must be a positive integer, got ${maxCascades}`);
  }
  if (evidence.length < 3) return [];
  const dearest = Math.max(0, ...evidence.map((member) => member.expectedCostUsd));
  const [top] = [...evidence].sort(
    (left, right) =>
      right.value - left.value ||
      left.expectedCostUsd - right.expectedCostUsd ||
      compareNames(left.member, right.member),
  ) as [MemberEvidence];
  const cheap = evidence
    .filter((member) => member.member !== top.member && member.expectedCostUsd <= costShare * dearest)
    .sort(
      (left, right) =>
        right.value - left.value ||
        left.expectedCostUsd - right.expectedCostUsd ||
        compareNames(left.member, right.member),
    )
    .slice(0, input.rungCandidates ?? DEFAULT_CASCADE_RUNG_CANDIDATES)
    .sort(
      (left, right) =>
        left.expectedCostUsd - right.expectedCostUsd ||
        right.value - left.value ||
        compareNames(left.member, right.member),
    );
  if (cheap.length < 2) return [];
  // Only the top and the cheap rungs are read: their observations only.
  const observed = new Map([top, ...cheap].map((member) => [member.member, observations(member.member, hits)]));
  const topSeen = observed.get(top.member) as Map<string, Observation>;
  const candidates: CascadeEvidence[] = [];
  for (let left = 0; left < cheap.length; left++) {
    for (let right = left + 1; right < cheap.length; right++) {
      const a = cheap[left] as MemberEvidence;
      const b = cheap[right] as MemberEvidence;
      const seenA = observed.get(a.member) as Map<string, Observation>;
      const seenB = observed.get(b.member) as Map<string, Observation>;
      let weight = 0;
      let weightedOutcome = 0;
      let weightedCost = 0;
      let weightedAgreement = 0;
      let neighbours = 0;
      for (const [auctionId, first] of seenA) {
        const second = seenB.get(auctionId);
        if (second === undefined) continue;
        const similarity = Math.min(first.similarity, second.similarity);
        const agreed = answersMatch(first.answer, second.answer);
        const atTop = agreed ? undefined : topSeen.get(auctionId);
        const outcome = agreed ? second.outcome : (atTop?.outcome ?? top.value);
        const cost = first.cost + second.cost + (agreed ? 0 : (atTop?.cost ?? top.expectedCostUsd));
        neighbours += 1;
        weight += similarity;
        weightedOutcome += similarity * outcome;
        weightedCost += similarity * cost;
        if (agreed) weightedAgreement += similarity;
      }
      const priorValue =
        prior.kind === "bounded"
          ? Math.min(top.prior, Math.max(a.prior, b.prior))
          : Math.max(
              0,
              (prior.kind === "top" ? top.value : top.prior) - (prior.margin ?? DEFAULT_CASCADE_PRIOR_MARGIN),
            );
      const value = (weightedOutcome + alpha * priorValue) / (weight + alpha);
      const coldCost = a.expectedCostUsd + b.expectedCostUsd + top.expectedCostUsd;
      const expectedCostUsd = (weightedCost + coldCost) / (weight + 1);
      const bounded = Math.min(1, Math.max(0, value));
      candidates.push({
        member: cascadeName(a.member, b.member, top.member),
        first: a.member,
        second: b.member,
        top: top.member,
        value,
        evidence: weight,
        spread: Math.sqrt((bounded * (1 - bounded)) / (weight + alpha)),
        prior: priorValue,
        expectedCostUsd,
        normalisedCost: dearest > 0 ? expectedCostUsd / dearest : 0,
        score: value,
        neighbours,
        agreement: weight > 0 ? weightedAgreement / weight : 0,
      });
    }
  }
  return paretoFrontier(candidates).slice(0, maxCascades);
}

/** A member's evidence by auction id (called, numeric outcome, an auction id). */
function observations(member: string, hits: ReadonlyMap<string, readonly StrategySearchHit[]>) {
  const seen = new Map<string, Observation>();
  for (const { entry, score } of hits.get(member) ?? []) {
    const metadata = entry.metadata;
    if (entry.agent !== member || metadata?.called !== true || entry.auctionId === undefined) continue;
    const outcome = entry.outcome;
    if (typeof outcome !== "number" || !Number.isFinite(outcome)) continue;
    const answer = typeof metadata.answer === "string" ? metadata.answer : undefined;
    const cost = Number.isFinite(entry.cost) ? Math.max(0, entry.cost) : 0;
    if (!seen.has(entry.auctionId))
      seen.set(entry.auctionId, { outcome, cost, answer, similarity: Math.max(0, score) });
  }
  return seen;
}

/** The cascades no other is at least as valuable and as cheap as (one strictly), most valued first. */
function paretoFrontier(candidates: readonly CascadeEvidence[]): CascadeEvidence[] {
  const sorted = [...candidates].sort(
    (left, right) =>
      right.value - left.value ||
      left.expectedCostUsd - right.expectedCostUsd ||
      compareNames(left.member, right.member),
  );
  const kept: CascadeEvidence[] = [];
  let cheapest = Number.POSITIVE_INFINITY;
  for (const candidate of sorted) {
    if (candidate.expectedCostUsd < cheapest) {
      kept.push(candidate);
      cheapest = candidate.expectedCostUsd;
    }
  }
  return kept;
}

function compareNames(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
