/**
 * The final answer and the convergence test. Pure functions.
 *
 * - `majority`: each agent's latest parsed answer is one vote.
 * - `weighted`: each vote weighs the given weight — the debate passes α × reliability
 *   (`voteWeight` of gating.ts, `DEFAULT_RELIABILITY` for an unknown reliability), so an agent the
 *   training found worth bidding for also counts more.
 *
 * Ties break by a seeded rule: the answer with the smallest `tieKey(seed, answer)` wins (the
 * same keyed hash the market core uses for tied bids), so no answer is favoured by its position.
 */
import { tieKey } from "../market/random.js";
import type { AggregationName } from "./options.js";

/** The aggregated answer and the votes behind it. */
export interface Aggregate {
  answer: string | undefined;
  votes: Record<string, number>;
}

/**
 * Aggregates the agents' answers.
 *
 * @param answers latest parsed answer by agent.
 * @param weights vote weight by agent (used by `weighted`; missing agents weigh 1).
 * @example
 * aggregateAnswers({ a: "42", b: "42", c: "41" }, "majority", {}, 0); // { answer: "42", votes: { "42": 2, "41": 1 } }
 */
export function aggregateAnswers(
  answers: Readonly<Record<string, string>>,
  aggregation: AggregationName,
  weights: Readonly<Record<string, number>>,
  seed: number,
): Aggregate {
  const votes: Record<string, number> = {};
  for (const [agent, answer] of Object.entries(answers)) {
    const weight = aggregation === "weighted" ? (weights[agent] ?? 1) : 1;
    votes[answer] = (votes[answer] ?? 0) + weight;
  }
  let best: string | undefined;
  for (const [answer, count] of Object.entries(votes)) {
    if (best === undefined) {
      best = answer;
      continue;
    }
    const bestCount = votes[best] ?? 0;
    if (count > bestCount || (count === bestCount && tieKey(seed, answer) < tieKey(seed, best))) best = answer;
  }
  return { answer: best, votes };
}

/**
 * True when the round's answers have converged: at least one agent answered, every agent that
 * took part gave a parseable answer, and all those answers are equal.
 *
 * @param answers parsed answers of the round, by agent.
 * @param participants agents that took part in the round (made at least one successful call).
 *
 * @example
 * ```ts
 * hasConverged({ a: "42", b: "42" }, ["a", "b"]); // true
 * hasConverged({ a: "42", b: "41" }, ["a", "b"]); // false
 * hasConverged({ a: "42" }, ["a", "b"]); // false: b took part but gave no parseable answer
 * hasConverged({ a: "42", b: "41" }, ["a"]); // true: only participants count
 * ```
 */
export function hasConverged(answers: Readonly<Record<string, string>>, participants: readonly string[]): boolean {
  if (participants.length === 0) return false;
  const given = participants.map((agent) => answers[agent]);
  if (given.some((answer) => answer === undefined)) return false;
  return new Set(given).size === 1;
}
