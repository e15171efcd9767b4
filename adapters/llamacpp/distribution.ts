/**
 * Pure helpers over next-token distributions: entropy, the T = 1 distribution behind a
 * temperature-scaled one, and OpenAI-shaped log-probabilities. No I/O, no node-llama-cpp.
 */

/** One entry of OpenAI's `logprobs.content[i].top_logprobs`. */
export interface TopLogprob {
  token: string;
  logprob: number;
  /** UTF-8 bytes of `token`; `null` when the token is a partial UTF-8 sequence. */
  bytes: number[] | null;
}

/** One entry of OpenAI's `logprobs.content`. */
export interface TokenLogprob extends TopLogprob {
  /** The most likely alternatives, sorted by decreasing `logprob` (the chosen token included). */
  top_logprobs: TopLogprob[];
}

/** OpenAI's `choices[].logprobs` shape, as `ChatOpenAI` puts it in `response_metadata.logprobs`. */
export interface OpenAILogprobs {
  content: TokenLogprob[];
}

/**
 * The model's own (temperature 1) distribution, from the distribution a sampler drew from.
 *
 * llama.cpp reports probabilities after temperature scaling, `q_i ∝ exp(l_i / T)`; the model's
 * distribution is `p_i ∝ exp(l_i) ∝ q_i^T`, so it is recovered exactly up to float precision
 * (a `q_i` that underflowed to 0 stays 0, which only matters for very small T). With `T <= 0`
 * (greedy) or `T = 1` the input already is the model's distribution and is returned as is.
 *
 * @param probabilities - `[token, probability]` pairs (any order).
 * @param temperature - The sampling temperature used.
 * @returns `[token, probability]` pairs summing to 1 (or the input, unchanged).
 */
export function untemperedDistribution<T>(
  probabilities: ReadonlyArray<readonly [T, number]>,
  temperature: number,
): Array<[T, number]> {
  if (temperature <= 0 || temperature === 1) return probabilities.map(([token, probability]) => [token, probability]);
  const logWeights = probabilities.map(([, probability]) =>
    probability > 0 ? temperature * Math.log(probability) : Number.NEGATIVE_INFINITY,
  );
  const maximum = Math.max(...logWeights);
  const weights = logWeights.map((logWeight) => Math.exp(logWeight - maximum));
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  return probabilities.map(([token], index) => [token, (weights[index] ?? 0) / total]);
}

/**
 * Shannon entropy in nats of a distribution given as probabilities (zeros are skipped).
 * Between 0 (certain) and `ln(n)` (uniform over n outcomes).
 */
export function entropyOf(probabilities: Iterable<number>): number {
  let entropy = 0;
  for (const probability of probabilities) if (probability > 0) entropy -= probability * Math.log(probability);
  return Math.max(0, entropy);
}
