/**
 * H(text): the normalised mean per-token entropy of a model's answer (a router's plan, a debate
 * message), from what the provider returned. Pure functions, used by the router and the debate.
 *
 * Three sources, tried in this order:
 * 1. `"exact"` — `response_metadata.tokenEntropies` (nats per generated token over the whole
 *    vocabulary, as the node-llama-cpp adapter reports them): mean / ln(vocabulary size), the
 *    size read from `response_metadata.vocabularySize` or the router's `vocabularySize` option.
 * 2. `"logprobs"` — OpenAI-shaped `response_metadata.logprobs.content[i]`:
 *    - with `top_logprobs` (k ≥ 2 alternatives): the top-k probabilities are renormalised,
 *      `H_i = −Σ q ln q`, divided by ln(k); H is the mean over tokens (`method: "top_logprobs"`);
 *    - with only the sampled token's `logprob`: the mean surprisal `−logprob` (an unbiased
 *      estimate of the entropy) divided by ln(vocabulary size) and clipped to 1
 *      (`method: "sampled_logprob"`).
 * 3. `"fallback"` — the provider gave neither: the lexical entropy of the plan's own words
 *    (lower-cased runs of letters or digits, and single punctuation marks),
 *    `−Σ f ln f / ln(n)` over word frequencies f among n words. It measures lexical diversity,
 *    not the model's uncertainty; the record says it was used.
 */
import { clamp01, mean, softmax } from "./math.js";

/**
 * Vocabulary size assumed when normalising exact or sampled-token entropies and the provider names none.
 *
 * @example
 * ```ts
 * planEntropy({ tokenEntropies: [1.2, 2.3] }, "plan", { vocabularySize: DEFAULT_VOCABULARY_SIZE }).normaliser; // ≈ 11.51, ln 100000
 * ```
 */
export const DEFAULT_VOCABULARY_SIZE = 100_000;

/** Where a plan's entropy came from. */
export type EntropySource = "logprobs" | "exact" | "fallback";

/** How it was computed (see the module comment). */
export type EntropyMethod = "token_entropies" | "top_logprobs" | "sampled_logprob" | "lexical";

/** A plan's normalised entropy and how it was obtained. */
export interface PlanEntropy {
  /** H in [0, 1]. */
  value: number;
  source: EntropySource;
  method: EntropyMethod;
  /** Tokens the mean was taken over. */
  tokens: number;
  /** The divisor used: ln(k), ln(vocabulary size) or ln(n). */
  normaliser: number;
}

/** One entry of OpenAI's `logprobs.content`. */
export interface TokenLogprobLike {
  token?: string;
  logprob: number;
  top_logprobs?: ReadonlyArray<{ token?: string; logprob: number }> | null;
}

/** Entropy (nats) of the renormalised distribution given by log-probabilities. */
export function entropyOfLogprobs(logprobs: readonly number[]): number {
  const finite = logprobs.filter((value) => Number.isFinite(value));
  if (finite.length === 0) return 0;
  let entropy = 0;
  for (const probability of softmax(finite)) {
    if (probability > 0) entropy -= probability * Math.log(probability);
  }
  return entropy;
}

/**
 * H from OpenAI-shaped log-probabilities, or `undefined` when there are none.
 *
 * @example
 * entropyFromLogprobs([{ logprob: -0.1, top_logprobs: [{ logprob: -0.1 }, { logprob: -2.4 }] }]);
 * // { value: ≈0.44, source: "logprobs", method: "top_logprobs", tokens: 1, normaliser: ln 2 }
 */
export function entropyFromLogprobs(
  content: readonly TokenLogprobLike[],
  vocabularySize: number,
): PlanEntropy | undefined {
  if (content.length === 0) return undefined;
  const withTop = content.filter((entry) => (entry.top_logprobs?.length ?? 0) >= 2);
  if (withTop.length > 0) {
    let sum = 0;
    let normaliserSum = 0;
    for (const entry of withTop) {
      const top = (entry.top_logprobs ?? []).map((alternative) => alternative.logprob);
      const normaliser = Math.log(top.length);
      sum += entropyOfLogprobs(top) / normaliser;
      normaliserSum += normaliser;
    }
    return {
      value: clamp01(sum / withTop.length),
      source: "logprobs",
      method: "top_logprobs",
      tokens: withTop.length,
      normaliser: normaliserSum / withTop.length,
    };
  }
  const sampled = content.map((entry) => entry.logprob).filter((value) => Number.isFinite(value));
  if (sampled.length === 0) return undefined;
  const normaliser = Math.log(vocabularySize);
  const meanSurprisal = -mean(sampled);
  return {
    value: clamp01(meanSurprisal / normaliser),
    source: "logprobs",
    method: "sampled_logprob",
    tokens: sampled.length,
    normaliser,
  };
}

/** H from exact per-token entropies in nats, or `undefined` when there are none. */
export function entropyFromTokenEntropies(values: readonly number[], vocabularySize: number): PlanEntropy | undefined {
  const finite = values.filter((value) => Number.isFinite(value) && value >= 0);
  if (finite.length === 0) return undefined;
  const normaliser = Math.log(vocabularySize);
  return {
    value: clamp01(mean(finite) / normaliser),
    source: "exact",
    method: "token_entropies",
    tokens: finite.length,
    normaliser,
  };
}

/**
 * The fallback estimator: lexical entropy of the text's words, normalised by ln(n).
 *
 * @example
 * ```ts
 * lexicalEntropy("add 2 and 2");
 * // { value: 0.75, source: "fallback", method: "lexical", tokens: 4, normaliser: ln 4 }
 * lexicalEntropy("42"); // { value: 0, source: "fallback", method: "lexical", tokens: 1, normaliser: 0 }
 * ```
 */
export function lexicalEntropy(text: string): PlanEntropy {
  const words = text.toLowerCase().match(/[\p{L}\p{M}]+|\p{N}+|[^\s\p{L}\p{M}\p{N}]/gu) ?? [];
  if (words.length < 2) return { value: 0, source: "fallback", method: "lexical", tokens: words.length, normaliser: 0 };
  const counts = new Map<string, number>();
  for (const word of words) counts.set(word, (counts.get(word) ?? 0) + 1);
  let entropy = 0;
  for (const count of counts.values()) {
    const frequency = count / words.length;
    entropy -= frequency * Math.log(frequency);
  }
  const normaliser = Math.log(words.length);
  return {
    value: clamp01(entropy / normaliser),
    source: "fallback",
    method: "lexical",
    tokens: words.length,
    normaliser,
  };
}

/**
 * The per-token entries of OpenAI-shaped `response_metadata.logprobs` (`{ content: [...] }`, or
 * the array itself), keeping entries with a numeric `logprob`; `undefined` when there is no list.
 */
export function logprobEntries(metadata: Record<string, unknown> | undefined): TokenLogprobLike[] | undefined {
  const logprobs = metadata?.logprobs as unknown;
  const content = Array.isArray(logprobs) ? logprobs : (logprobs as { content?: unknown } | null | undefined)?.content;
  if (!Array.isArray(content)) return undefined;
  return content.filter(
    (entry): entry is TokenLogprobLike =>
      typeof entry === "object" && entry !== null && typeof (entry as { logprob?: unknown }).logprob === "number",
  );
}

/**
 * The entropy of a plan message: exact, else from log-probabilities, else the fallback.
 *
 * @param metadata the plan's `response_metadata`.
 * @param text the plan text (for the fallback).
 *
 * @example
 * ```ts
 * const top = [{ logprob: -0.1 }, { logprob: -2.4 }];
 * planEntropy({ logprobs: { content: [{ logprob: -0.1, top_logprobs: top }] } }, "Add 2 and 2.", { vocabularySize: 100_000 });
 * // { value: ≈0.44, source: "logprobs", method: "top_logprobs", tokens: 1, normaliser: ln 2 }
 * planEntropy(undefined, "add 2 and 2", { vocabularySize: 100_000 }); // the lexical fallback: { value: 0.75, source: "fallback", ... }
 * ```
 */
export function planEntropy(
  metadata: Record<string, unknown> | undefined,
  text: string,
  { vocabularySize }: { vocabularySize: number },
): PlanEntropy {
  const meta = metadata ?? {};
  const reportedVocabulary =
    typeof meta.vocabularySize === "number" && meta.vocabularySize >= 2 ? meta.vocabularySize : undefined;
  if (Array.isArray(meta.tokenEntropies)) {
    const values = meta.tokenEntropies.filter((value): value is number => typeof value === "number");
    const exact = entropyFromTokenEntropies(values, reportedVocabulary ?? vocabularySize);
    if (exact) return exact;
  }
  const content = logprobEntries(meta);
  if (content) {
    const fromLogprobs = entropyFromLogprobs(content, reportedVocabulary ?? vocabularySize);
    if (fromLogprobs) return fromLogprobs;
  }
  return lexicalEntropy(text);
}
