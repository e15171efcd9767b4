/**
 * The commitment candidate: a weighted vote over the executors' parsed answers, scored by how
 * much each executor's refined belief agrees with the group. Pure.
 *
 * Exactly:
 * 1. `m = Σ_i w_i · b_i / Σ_i w_i` — the weight-weighted mean of the refined beliefs of every
 *    executor that answered (w_i = the executor's learned weight, 1 without weights).
 * 2. `agreement_i = max(0, cos(b_i, m))`.
 * 3. `score_i = w_i · c_i · agreement_i` (c_i = the executor's confidence).
 * 4. Each parsed answer's tally is the sum of the scores of the executors that gave it;
 *    executors whose answer did not parse do not vote (they still shape m).
 * 5. The candidate is the answer with the highest tally. Ties (equal tallies) go to the lower
 *    seeded key `tieKey(seed, answer)` — independent of executor order and timing.
 *
 * The answer of the executor whose belief is closest to m (highest agreement, parsed answers
 * only) is reported as `closestToMean`; `rule: "closest-to-mean"` makes it the candidate.
 */
import { tieKey } from "../market/random.js";
import { cosineSimilarity } from "./beliefs.js";

/** How the commitment candidate is chosen (see the module comment). */
export type CandidateRule = "weighted-vote" | "closest-to-mean";

/** One executor's vote. */
export interface BeliefVoter {
  name: string;
  /** Parsed answer, or undefined when the answer did not parse. */
  answer: string | undefined;
  /** Refined belief. */
  belief: readonly number[];
  confidence: number;
  /** Learned weight (1 without weights). */
  weight: number;
}

/** One executor's agreement and score. */
export interface VoterScore {
  name: string;
  answer: string | undefined;
  agreement: number;
  score: number;
}

/** The outcome of {@link selectCommitmentCandidate}. */
export interface CandidateSelection {
  /** The chosen answer; undefined when no executor's answer parsed. */
  candidate: string | undefined;
  rule: CandidateRule;
  /** Per parsed answer, the summed score, highest first (ties in tie-key order). */
  tallies: Array<{ answer: string; score: number }>;
  /** Per executor, input order. */
  scores: VoterScore[];
  /** The answer whose belief is closest to the weighted mean belief. */
  closestToMean: string | undefined;
}

/** The weight-weighted mean of the beliefs (uniform when all weights are 0). */
export function weightedMeanBelief(voters: readonly BeliefVoter[]): number[] {
  const dimensions = voters[0]?.belief.length ?? 0;
  const totalWeight = voters.reduce((sum, voter) => sum + voter.weight, 0);
  const mean = new Array<number>(dimensions).fill(0);
  for (const voter of voters) {
    const share = totalWeight > 0 ? voter.weight / totalWeight : 1 / voters.length;
    voter.belief.forEach((value, dimension) => {
      mean[dimension] = (mean[dimension] ?? 0) + share * value;
    });
  }
  return mean;
}

/**
 * Choose the commitment candidate from the executors' refined beliefs (rule in the module comment).
 *
 * @example
 * ```ts
 * selectCommitmentCandidate(
 *   [
 *     { name: "a", answer: "42", belief: [1, 0, 0.9], confidence: 0.9, weight: 0.8 },
 *     { name: "b", answer: "17", belief: [0, 1, 0.6], confidence: 0.6, weight: 0.3 },
 *   ],
 *   { seed: 0 },
 * ).candidate; // "42"
 * ```
 */
export function selectCommitmentCandidate(
  voters: readonly BeliefVoter[],
  { seed, rule = "weighted-vote" }: { seed: number; rule?: CandidateRule },
): CandidateSelection {
  const mean = weightedMeanBelief(voters);
  const scores: VoterScore[] = voters.map((voter) => {
    const agreement = Math.max(0, cosineSimilarity(voter.belief, mean));
    return { name: voter.name, answer: voter.answer, agreement, score: voter.weight * voter.confidence * agreement };
  });
  const totals = new Map<string, number>();
  for (const { answer, score } of scores) {
    if (answer !== undefined) totals.set(answer, (totals.get(answer) ?? 0) + score);
  }
  const tallies = [...totals.entries()]
    .map(([answer, score]) => ({ answer, score }))
    .sort((left, right) => right.score - left.score || tieKey(seed, left.answer) - tieKey(seed, right.answer));
  let closest: VoterScore | undefined;
  for (const entry of scores) {
    if (entry.answer === undefined) continue;
    if (
      closest === undefined ||
      entry.agreement > closest.agreement ||
      (entry.agreement === closest.agreement && tieKey(seed, entry.answer) < tieKey(seed, closest.answer ?? ""))
    ) {
      closest = entry;
    }
  }
  const closestToMean = closest?.answer;
  const candidate = rule === "closest-to-mean" ? closestToMean : tallies[0]?.answer;
  return { candidate, rule, tallies, scores, closestToMean };
}
