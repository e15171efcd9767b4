/**
 * Utility estimators: how much an agent's next message is worth, in [0, 1], estimated from its
 * intent (or, in `full_draft` mode, from its draft). Pure functions.
 *
 * - `heuristic`: 0.5 × novelty + 0.5 × confidence. Novelty is the share of the text's words
 *   (lower-cased, 3+ letters or any number) absent from the public transcript; confidence starts
 *   at 0.5, +0.25 per confident phrase, −0.25 per hedge, clipped to [0, 1].
 * - `logprob`: the mean token probability `exp(mean logprob)` of the intent, from the provider's
 *   `response_metadata.logprobs` (OpenAI shape).
 * - `entropy`: 1 − H, H the normalised per-token entropy (see `src/entropy.ts`) from
 *   exact token entropies (node-llama-cpp) or log-probabilities.
 * - `self`: the agent's own `Utility: <0..1>` line, parsed strictly (a number in [0, 1] alone on
 *   its line); anything else is utility 0, recorded as `"self_unparsed"`.
 *
 * `logprob` and `entropy` fall back to `heuristic` when the provider gave nothing to compute
 * them from; the record says so (`source: "fallback_heuristic"`).
 */

import { DEFAULT_VOCABULARY_SIZE, logprobEntries, planEntropy } from "../entropy.js";
import { clamp01, mean } from "../math.js";
import type { UtilityEstimatorName } from "./options.js";

/** Where an estimate came from. */
export type UtilitySource = "heuristic" | "logprob" | "entropy" | "self" | "self_unparsed" | "fallback_heuristic";

/** One utility estimate. */
export interface UtilityEstimate {
  /** In [0, 1]. */
  value: number;
  source: UtilitySource;
}

const CONFIDENT = /\b(certain(ly)?|definitely|clearly|verified|confident|sure|exactly|i checked|proof|proves?)\b/gi;
const HEDGES = /\b(maybe|perhaps|might|not sure|unsure|guess|possibly|probably|i think|unclear)\b/gi;
const WORD = /\p{N}+(?:\.\p{N}+)?|\p{L}{3,}/gu;

function words(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/**
 * The heuristic estimate of `text` against the public `transcript` (its concatenated text).
 *
 * @example
 * heuristicUtility("Clearly 42: 6 times 7.", ""); // 0.875: every word new (novelty 1), one confident word (confidence 0.75)
 */
export function heuristicUtility(text: string, transcript: string): number {
  const own = words(text.replace(/^\s*utility\s*:.*$/gim, ""));
  const seen = new Set(words(transcript));
  const novelty = own.length === 0 ? 0 : own.filter((word) => !seen.has(word)).length / own.length;
  const confident = text.match(CONFIDENT)?.length ?? 0;
  const hedges = text.match(HEDGES)?.length ?? 0;
  const confidence = clamp01(0.5 + 0.25 * (confident - hedges));
  return clamp01(0.5 * novelty + 0.5 * confidence);
}

/**
 * The agent's own estimate: a line `Utility: x` with x a decimal number in [0, 1], or `undefined`.
 *
 * @example
 * parseSelfUtility("I can fix step 2.\nAnswer: 42\nUtility: 0.8"); // 0.8
 * parseSelfUtility("Utility: high"); // undefined
 */
export function parseSelfUtility(text: string): number | undefined {
  const matches = [...text.matchAll(/^\s*utility\s*:\s*([0-9]*\.?[0-9]+)\s*$/gim)];
  const written = matches[matches.length - 1]?.[1];
  if (written === undefined) return undefined;
  const value = Number(written);
  return Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

/**
 * Mean token probability from OpenAI-shaped `response_metadata.logprobs`, or `undefined`.
 *
 * @example
 * ```ts
 * meanTokenProbability({ logprobs: { content: [{ logprob: -0.2 }, { logprob: -0.4 }] } }); // ≈ 0.74, exp(−0.3)
 * meanTokenProbability({}); // undefined
 * ```
 */
export function meanTokenProbability(metadata: Record<string, unknown> | undefined): number | undefined {
  const content = logprobEntries(metadata);
  if (content === undefined) return undefined;
  const values = content.map((entry) => entry.logprob).filter((value) => Number.isFinite(value));
  if (values.length === 0) return undefined;
  return clamp01(Math.exp(mean(values)));
}

/**
 * Estimates the utility of an agent's next message.
 *
 * @param estimator which estimator to use.
 * @param text the intent (or draft) text.
 * @param metadata the intent reply's `response_metadata` (log-probabilities, token entropies).
 * @param transcript the public transcript's text, for novelty.
 *
 * @example
 * ```ts
 * estimateUtility("heuristic", "Clearly 42: 6 times 7.", undefined, ""); // { value: 0.875, source: "heuristic" }
 * estimateUtility("logprob", "Clearly 42: 6 times 7.", undefined, ""); // { value: 0.875, source: "fallback_heuristic" }
 * estimateUtility("self", "I can fix step 2.\nUtility: 0.8", undefined, ""); // { value: 0.8, source: "self" }
 * estimateUtility("self", "I can fix step 2.", undefined, ""); // { value: 0, source: "self_unparsed" }
 * ```
 */
export function estimateUtility(
  estimator: UtilityEstimatorName,
  text: string,
  metadata: Record<string, unknown> | undefined,
  transcript: string,
): UtilityEstimate {
  const fallback = (): UtilityEstimate => ({
    value: heuristicUtility(text, transcript),
    source: "fallback_heuristic",
  });
  switch (estimator) {
    case "heuristic":
      return { value: heuristicUtility(text, transcript), source: "heuristic" };
    case "logprob": {
      const value = meanTokenProbability(metadata);
      return value === undefined ? fallback() : { value, source: "logprob" };
    }
    case "entropy": {
      const entropy = planEntropy(metadata, text, { vocabularySize: DEFAULT_VOCABULARY_SIZE });
      return entropy.source === "fallback" ? fallback() : { value: clamp01(1 - entropy.value), source: "entropy" };
    }
    case "self": {
      const value = parseSelfUtility(text);
      return value === undefined ? { value: 0, source: "self_unparsed" } : { value, source: "self" };
    }
  }
}
