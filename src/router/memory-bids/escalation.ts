/**
 * The escalation ladder of `"auto"` mode when the memory is unsure: the two cheapest members by
 * expected cost, then the best bid among the rest (value − λ ĉ at the clearing's λ: the member the
 * memory values most when λ is 0, a cheaper one as λ grows). Pure: the router makes
 * the calls (rung 0; rung 1 unless rung 0's value ≥ stopAt; `top` unless the two rungs agree).
 */
import type { MemberEvidence } from "./estimate.js";

/** The ladder: `rungs` to call in order, then `top` when they disagree. */
export interface EscalationLadder {
  /** The cheapest members by expected cost, cheapest first (two, or fewer when the pool is smaller). */
  rungs: string[];
  /**
   * The member with the highest `score` (its bid v − λ ĉ as `clearMemoryBids` sets it; the value
   * when the evidence comes straight from `estimateMembers`) among the members that are not rungs.
   * With one or two members there is no such member: `top` is then the rung with the highest score (the router has
   * already called it, so it reuses that answer rather than calling again).
   */
  top: string;
}

/**
 * Build the escalation ladder from the clearing's evidence. Ties in cost go to the higher value, then
 * the name; ties in score for `top` go to the lower expected cost, then the name.
 *
 * @throws RangeError when `evidence` is empty.
 * @example
 * ```ts
 * const { rungs, top } = escalationLadder(estimateMembers(input));
 * // rungs: ["mistral-7b", "mixtral-8x7b"], top: "gpt-4"
 * ```
 */
export function escalationLadder(evidence: readonly MemberEvidence[]): EscalationLadder {
  if (evidence.length === 0) throw new RangeError("escalationLadder needs at least one member's evidence");
  const byCost = [...evidence].sort(
    (left, right) =>
      left.expectedCostUsd - right.expectedCostUsd ||
      right.value - left.value ||
      compareNames(left.member, right.member),
  );
  const rungs = byCost.slice(0, 2);
  const rest = byCost.slice(2);
  const candidates = rest.length > 0 ? rest : rungs;
  const [best] = [...candidates].sort(
    (left, right) =>
      right.score - left.score ||
      left.expectedCostUsd - right.expectedCostUsd ||
      compareNames(left.member, right.member),
  );
  return { rungs: rungs.map((member) => member.member), top: (best as MemberEvidence).member };
}

function compareNames(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0;
}
