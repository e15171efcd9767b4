/**
 * RouteLLM's out-of-domain measure: the share of calls to the strong model a router needs to reach a
 * given share (95%) of the strong model's accuracy, read along a router's sweep, and the same share
 * for random routing in closed form.
 */

/** One point of a sweep: the share of prompts that called the strong model, and the accuracy reached. */
export interface StrongCallsPoint {
  /** Calls to the strong model ÷ prompts (0–1; an escalation that calls it counts). */
  strongShare: number;
  accuracy: number;
}

/** The reference accuracies and the target share of the strong accuracy. */
export interface StrongCallsReference {
  strongAccuracy: number;
  weakAccuracy: number;
  /** Share of the strong model's accuracy to reach. Default 0.95. */
  target?: number;
}

/**
 * The smallest share of strong-model calls at which the sweep reaches `target × strongAccuracy`,
 * interpolated linearly between consecutive points sorted by share. The sweep is closed by the
 * strong model alone (share 1, its accuracy), which every router can fall back to: the result is at
 * most 1. Points are read as measured (no hull), so a dip in the sweep is not smoothed over.
 *
 * @example
 * ```ts
 * shareOfStrongCalls([{ strongShare: 0.2, accuracy: 0.7 }, { strongShare: 0.6, accuracy: 0.9 }], {
 *   strongAccuracy: 0.9, weakAccuracy: 0.6,
 * }); // 0.5 (0.855 is reached three quarters of the way from 0.2 to 0.6)
 * ```
 */
export function shareOfStrongCalls(points: readonly StrongCallsPoint[], reference: StrongCallsReference): number {
  const { strongAccuracy, target = 0.95 } = reference;
  const needed = target * strongAccuracy;
  const sorted = [...points, { strongShare: 1, accuracy: strongAccuracy }]
    .filter((point) => Number.isFinite(point.strongShare) && Number.isFinite(point.accuracy))
    .sort((left, right) => left.strongShare - right.strongShare || right.accuracy - left.accuracy);
  let previous: StrongCallsPoint | undefined;
  for (const point of sorted) {
    if (point.accuracy >= needed - 1e-12) {
      if (previous === undefined || previous.accuracy >= needed) return point.strongShare;
      const fraction = (needed - previous.accuracy) / (point.accuracy - previous.accuracy);
      return previous.strongShare + fraction * (point.strongShare - previous.strongShare);
    }
    previous = point;
  }
  return 1;
}

/**
 * Random routing's share of strong-model calls for `target × strongAccuracy`: calling the strong
 * model on a share s of prompts (the weak one on the rest) is accurate `(1 − s)·weak + s·strong` in
 * expectation, so `s = (target·strong − weak) ÷ (strong − weak)`, clipped to [0, 1].
 *
 * @example
 * ```ts
 * randomShareOfStrongCalls({ strongAccuracy: 0.9, weakAccuracy: 0.6 }); // 0.85
 * ```
 */
export function randomShareOfStrongCalls(reference: StrongCallsReference): number {
  const { strongAccuracy, weakAccuracy, target = 0.95 } = reference;
  const needed = target * strongAccuracy;
  if (weakAccuracy >= needed) return 0;
  if (strongAccuracy <= weakAccuracy) return 1;
  return Math.min(1, Math.max(0, (needed - weakAccuracy) / (strongAccuracy - weakAccuracy)));
}
