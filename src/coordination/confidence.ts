/**
 * An executor's confidence in its answer, in [0, 1], and where it came from. Pure.
 *
 * Sources, tried in this order:
 * 1. `"logprobs"` — OpenAI-shaped `response_metadata.logprobs.content` (ChatOpenAI built with
 *    `logprobs: true`): the geometric mean probability of the reply's tokens,
 *    `exp(mean logprob)`.
 * 2. `"stated"` — the reply states it on a line of its own, strictly `Confidence: 0.8`,
 *    `Confidence: .8`, `Confidence: 1` or `Confidence: 80%` (case-insensitive, the last such line
 *    wins). Anything else on that line, or a value outside [0, 1] / [0 %, 100 %], does not count.
 * 3. `"default"` — neither: 0.5.
 */
import type { AIMessage } from "@langchain/core/messages";
import { mean } from "../math.js";

/** Where a confidence came from. */
export type ConfidenceSource = "logprobs" | "stated" | "default";

/** A confidence and its source. */
export interface Confidence {
  value: number;
  source: ConfidenceSource;
}

/**
 * Confidence used when the reply gives none.
 *
 * @example
 * ```ts
 * confidenceOf(new AIMessage("42"), "42").value === DEFAULT_CONFIDENCE; // true (0.5)
 * ```
 */
export const DEFAULT_CONFIDENCE = 0.5;

const STATED_CONFIDENCE = /^[ \t]*confidence[ \t]*[:=][ \t]*(\d{1,3}(?:\.\d+)?%|\d?\.\d+|\d)[ \t]*\.?[ \t]*$/gim;

/**
 * The confidence stated in `text` (rule 2 of the module comment), or undefined.
 *
 * @example
 * ```ts
 * parseStatedConfidence("Answer: 42\nConfidence: 85%"); // 0.85
 * parseStatedConfidence("I am fairly confident"); // undefined
 * ```
 */
export function parseStatedConfidence(text: string): number | undefined {
  const matches = [...text.matchAll(STATED_CONFIDENCE)];
  const written = matches[matches.length - 1]?.[1];
  if (written === undefined) return undefined;
  const value = written.endsWith("%") ? Number(written.slice(0, -1)) / 100 : Number(written);
  return Number.isFinite(value) && value >= 0 && value <= 1 ? value : undefined;
}

/**
 * `exp(mean logprob)` over OpenAI-shaped entries, or undefined when there are none.
 *
 * @example
 * ```ts
 * confidenceFromLogprobs([{ token: "4", logprob: -0.1 }, { token: "2", logprob: -0.3 }]); // ≈ 0.82, exp(−0.2)
 * confidenceFromLogprobs(undefined); // undefined
 * ```
 */
export function confidenceFromLogprobs(content: unknown): number | undefined {
  if (!Array.isArray(content)) return undefined;
  const values = content
    .map((entry) =>
      typeof entry === "object" && entry !== null ? (entry as { logprob?: unknown }).logprob : undefined,
    )
    .filter((value): value is number => typeof value === "number" && Number.isFinite(value) && value <= 0);
  if (values.length === 0) return undefined;
  return Math.exp(mean(values));
}

/**
 * The confidence of a reply, by the sources of the module comment.
 *
 * @example
 * ```ts
 * import { AIMessage } from "@langchain/core/messages";
 * const reply = new AIMessage("Answer: 42\nConfidence: 80%");
 * confidenceOf(reply, reply.text); // { value: 0.8, source: "stated" }
 * confidenceOf(new AIMessage("42"), "42"); // { value: 0.5, source: "default" }
 * ```
 */
export function confidenceOf(reply: Pick<AIMessage, "response_metadata">, text: string): Confidence {
  const metadata = reply.response_metadata as { logprobs?: { content?: unknown } | null } | undefined;
  const fromLogprobs = confidenceFromLogprobs(metadata?.logprobs?.content);
  if (fromLogprobs !== undefined) return { value: fromLogprobs, source: "logprobs" };
  const stated = parseStatedConfidence(text);
  if (stated !== undefined) return { value: stated, source: "stated" };
  return { value: DEFAULT_CONFIDENCE, source: "default" };
}
