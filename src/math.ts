/**
 * The small numeric helpers the features share (the router's entropy and weights, the debate's
 * utility and training, belief coordination). Pure functions: no I/O, no state, no imports.
 */

/**
 * `value` clipped to [0, 1].
 *
 * @example
 * ```ts
 * clamp01(1.4); // 1
 * clamp01(-0.2); // 0
 * clamp01(0.3); // 0.3
 * ```
 */
export function clamp01(value: number): number {
  return Math.min(1, Math.max(0, value));
}

/**
 * The arithmetic mean of `values`, summed left to right; `NaN` for an empty list (callers check
 * for one first).
 *
 * @example
 * ```ts
 * mean([1, 2, 6]); // 3
 * ```
 */
export function mean(values: readonly number[]): number {
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/**
 * Softmax of one row (max-subtracted for numerical stability): the distribution whose
 * log-probabilities are `row` up to a constant.
 *
 * @example
 * ```ts
 * softmax([0, Math.log(3)]); // ≈ [0.25, 0.75]
 * ```
 */
export function softmax(row: readonly number[]): number[] {
  const top = Math.max(...row);
  const exponentials = row.map((value) => Math.exp(value - top));
  const total = exponentials.reduce((sum, value) => sum + value, 0);
  return exponentials.map((value) => value / total);
}

/**
 * A standard normal draw (Box–Muller) from two uniform draws of `uniform`, taken in order. The
 * first is raised to `smallest` when below it, so the logarithm never sees 0.
 *
 * @param uniform draws in [0, 1), e.g. `createSeededRandom({ seed }).nextFloat`.
 * @param smallest the least first draw used (default `Number.MIN_VALUE`).
 * @example
 * ```ts
 * import { createSeededRandom } from "langchain-gavel";
 *
 * const random = createSeededRandom({ seed: 1, stream: "noise" });
 * const noise = 0.25 * standardNormal(random.nextFloat); // the same on every machine
 * ```
 */
export function standardNormal(uniform: () => number, smallest = Number.MIN_VALUE): number {
  const first = Math.max(uniform(), smallest);
  const second = uniform();
  return Math.sqrt(-2 * Math.log(first)) * Math.cos(2 * Math.PI * second);
}
