/**
 * Belief states and ECON's belief-refinement rule. Pure functions, no I/O.
 *
 * A belief is a vector: an executor's answer embedding, normalised to unit length, followed by
 * one more coordinate holding its confidence in [0, 1] (see {@link buildBelief}).
 *
 * Refinement ({@link refineBeliefs}) is the update rule of ECON's code, applied to all
 * beliefs at once:
 *
 * ```
 * W      = softmax_row(cos_sim(b, b))             (n × n, each row sums to 1, the diagonal included)
 * b_i   ← b_i + stepSize · Σ_{j ≠ i} W_ij · b_j    (every i, from the same b: a synchronous update)
 * stop when ‖b − b_prev‖ < tolerance               (Frobenius norm over all beliefs)
 *   or after `iterations` updates
 * ```
 */

import { softmax } from "../math.js";

/** Options of {@link refineBeliefs}. */
export interface BeliefRefinementOptions {
  /** Most updates to apply. ECON: 5. */
  iterations: number;
  /** Stop once an update moves the beliefs by less than this (Frobenius norm). ECON: 0.01. */
  tolerance: number;
  /** Weight of the neighbours' pull. ECON: 0.1. */
  stepSize: number;
}

/** Why refinement stopped. */
export type BeliefStopReason = "converged" | "iterations" | "single-executor";

/** What {@link refineBeliefs} did. */
export interface BeliefRefinement {
  /** The refined beliefs, one per executor, in input order. */
  beliefs: number[][];
  /** Updates applied. */
  iterations: number;
  /** ‖b − b_prev‖ after each update, in order. */
  deltas: number[];
  /** The attention matrix W of the last update (of the input when no update ran). */
  attention: number[][];
  stoppedBy: BeliefStopReason;
}

/** Euclidean norm. */
function norm(vector: readonly number[]): number {
  let sum = 0;
  for (const value of vector) sum += value * value;
  return Math.sqrt(sum);
}

/** Dot product of two vectors of equal length. */
function dot(left: readonly number[], right: readonly number[]): number {
  let sum = 0;
  for (let index = 0; index < left.length; index += 1) sum += (left[index] ?? 0) * (right[index] ?? 0);
  return sum;
}

/** Cosine similarity; 0 when either vector is zero. */
export function cosineSimilarity(left: readonly number[], right: readonly number[]): number {
  const denominator = norm(left) * norm(right);
  return denominator === 0 ? 0 : dot(left, right) / denominator;
}

/** `vector / ‖vector‖`, or the zero vector unchanged. */
export function normalize(vector: readonly number[]): number[] {
  const length = norm(vector);
  return length === 0 ? [...vector] : vector.map((value) => value / length);
}

/** `W = softmax_row(cos_sim(b, b))`: row i is the softmax of b_i's cosine similarity to every belief, itself included. */
export function beliefAttention(beliefs: readonly (readonly number[])[]): number[][] {
  return beliefs.map((belief) => softmax(beliefs.map((other) => cosineSimilarity(belief, other))));
}

/**
 * A belief: the unit-length answer embedding followed by the confidence, `[ê ; c]`.
 *
 * @example
 * ```ts
 * buildBelief([3, 4], 0.9); // [0.6, 0.8, 0.9]
 * ```
 */
export function buildBelief(embedding: readonly number[], confidence: number): number[] {
  return [...normalize(embedding), confidence];
}

/**
 * One synchronous update: `b_i + stepSize · Σ_{j≠i} W_ij · b_j` for every i, with W from the input beliefs.
 * Returns the new beliefs and the W used.
 */
export function updateBeliefs(
  beliefs: readonly (readonly number[])[],
  stepSize: number,
): { beliefs: number[][]; attention: number[][] } {
  const attention = beliefAttention(beliefs);
  const updated = beliefs.map((belief, index) => {
    const row = attention[index] ?? [];
    const next = [...belief];
    beliefs.forEach((other, otherIndex) => {
      if (otherIndex === index) return;
      const weight = stepSize * (row[otherIndex] ?? 0);
      for (let dimension = 0; dimension < next.length; dimension += 1) {
        next[dimension] = (next[dimension] ?? 0) + weight * (other[dimension] ?? 0);
      }
    });
    return next;
  });
  return { beliefs: updated, attention };
}

/** Frobenius norm of `after − before`. */
export function beliefDistance(after: readonly (readonly number[])[], before: readonly (readonly number[])[]): number {
  let sum = 0;
  after.forEach((belief, index) => {
    const previous = before[index] ?? [];
    belief.forEach((value, dimension) => {
      const difference = value - (previous[dimension] ?? 0);
      sum += difference * difference;
    });
  });
  return Math.sqrt(sum);
}

/**
 * Refine beliefs by ECON's rule (see the module comment) until an update moves them by less
 * than `tolerance` or `iterations` updates have run. One executor has no neighbour: nothing
 * changes (`stoppedBy: "single-executor"`).
 *
 * @example
 * ```ts
 * const { beliefs, iterations, stoppedBy } = refineBeliefs([[1, 0], [0, 1]], { iterations: 5, tolerance: 0.01, stepSize: 0.1 });
 * ```
 */
export function refineBeliefs(
  beliefs: readonly (readonly number[])[],
  { iterations, tolerance, stepSize }: BeliefRefinementOptions,
): BeliefRefinement {
  let current = beliefs.map((belief) => [...belief]);
  if (current.length < 2) {
    return {
      beliefs: current,
      iterations: 0,
      deltas: [],
      attention: beliefAttention(current),
      stoppedBy: "single-executor",
    };
  }
  const deltas: number[] = [];
  let attention = beliefAttention(current);
  for (let iteration = 0; iteration < iterations; iteration += 1) {
    const step = updateBeliefs(current, stepSize);
    const delta = beliefDistance(step.beliefs, current);
    deltas.push(delta);
    current = step.beliefs;
    attention = step.attention;
    if (delta < tolerance)
      return { beliefs: current, iterations: deltas.length, deltas, attention, stoppedBy: "converged" };
  }
  return { beliefs: current, iterations: deltas.length, deltas, attention, stoppedBy: "iterations" };
}
