/**
 * What a multi-agent run hands to a benchmark's checker: the answer parsed from an agent's text, in the
 * form the checker reads (a number for GSM8K and SVAMP, a letter for MMLU, the code for HumanEval and MBPP).
 */
import { parseAnswerLine } from "../../debate/options.js";
import { extractChoiceLetter, extractCode, extractFinalNumber } from "../data/checkers.js";
import type { BenchmarkName } from "../live/tasks.js";

/** A fenced code block anywhere in the text. */
const CODE_FENCE = /(`{3,}|~{3,})/;

/**
 * The answer parser of a benchmark, for the debates and for belief coordination: `undefined` when the
 * text holds no answer (the agent then has no vote).
 *
 * - gsm8k, svamp: the number of the `Answer:` line, else the final number (`#### 18`, "the answer is 18").
 * - mmlu: the letter of the `Answer:` line, else the letter the text states.
 * - humaneval, mbpp: the first Python code block (answers without a fence have no vote).
 *
 * @example
 * ```ts
 * answerParserOf("gsm8k")("9 × 2 = 18 dollars.\nAnswer: $18."); // "18"
 * answerParserOf("mmlu")("B is wrong, so\nAnswer: (C)"); // "C"
 * ```
 */
export function answerParserOf(benchmark: BenchmarkName): (text: string) => string | undefined {
  switch (benchmark) {
    case "gsm8k":
    case "svamp":
      return (text) => extractFinalNumber(parseAnswerLine(text) ?? text);
    case "mmlu":
      return (text) => extractChoiceLetter(parseAnswerLine(text) ?? text) ?? extractChoiceLetter(text);
    case "humaneval":
    case "mbpp":
      return (text) => (CODE_FENCE.test(text) ? `\`\`\`python\n${extractCode(text)}\n\`\`\`` : undefined);
  }
}
