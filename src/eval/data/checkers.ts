/**
 * Answer checkers: did a model's free-text response get the benchmark item right?
 *
 * - Numbers (GSM8K, SVAMP): {@link extractFinalNumber} finds the final answer, {@link numbersMatch} compares.
 * - Multiple choice (MMLU): {@link extractChoiceLetter} finds the letter A–D.
 * - Code (HumanEval, MBPP): {@link extractCode} takes the code out of markdown fences; {@link checkHumanEval}
 *   and {@link checkMbpp} run it with the tests in a Python child process (pass@1 of one sample).
 *
 * The extraction rules are written out in each function's doc and in docs/evaluation.md.
 */
import type { HumanEvalProblem, MbppProblem, MmluLetter, MmluQuestion } from "./datasets.js";
import type { PythonRunner, PythonRunResult } from "./python.js";

// ---------------------------------------------------------------------------------------------
// Numbers: GSM8K and SVAMP
// ---------------------------------------------------------------------------------------------

/**
 * A number as written in text: optional sign, digits with optional thousands commas, optional decimals.
 * The minus sign counts only when it does not follow a word character (so `3-4` is 3 and 4).
 */
const NUMBER = /(?<![\w.])-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|(?<![\w.])-?\.\d+/g;

/** Phrases after which the final answer follows. The LAST occurrence in the text that is followed by a number wins. */
const ANSWER_MARKERS = [/####/g, /answer\s+is/gi, /answer\s*:/gi, /\\boxed\{/g];

/**
 * Normalise a number as written: drop `$`, thousands commas, a leading `+`, trailing zeros after the
 * decimal point (`18.0` → `18`, `2.50` → `2.5`), and `-0` → `0`. Returns `undefined` when it is not a number.
 * @example
 * ```ts
 * normalizeNumber("$1,234.50"); // "1234.5"
 * ```
 */
export function normalizeNumber(written: string): string | undefined {
  let text = written
    .trim()
    .replace(/\$/g, "")
    .replace(/,(?=\d{3}(?:\D|$))/g, "");
  text = text.replace(/^\+/, "").replace(/\.$/, "");
  if (!/^-?(?:\d+(?:\.\d+)?|\.\d+)$/.test(text)) return undefined;
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  if (text.startsWith(".")) text = `0${text}`;
  if (text.startsWith("-.")) text = `-0${text.slice(1)}`;
  text = text.replace(/^(-?)0+(?=\d)/, "$1");
  return text === "-0" ? "0" : text;
}

/**
 * The final numeric answer in a response, normalised by {@link normalizeNumber}.
 *
 * Rules, in order:
 * 1. `$` signs are removed first (so `$1,000` reads as `1,000`).
 * 2. If the text contains an answer marker — `####`, `answer is`, `answer:` (case-insensitive) or
 *    `\boxed{` — the first number after the LAST marker that is followed by a number is the answer.
 * 3. Otherwise the last number in the text.
 * Thousands commas must be well-formed (`1,234`, not `1,23`); `3-4` reads as 3 and 4; fractions such as
 * `3/4` are not evaluated (they read as 3 and 4).
 *
 * @returns The normalised number, or `undefined` when the text has none.
 * @example
 * ```ts
 * extractFinalNumber("She makes 9 * 2 = $18 a day.\n#### 18"); // "18"
 * extractFinalNumber("The answer is $1,250.00."); // "1250"
 * ```
 */
export function extractFinalNumber(response: string): string | undefined {
  const text = response.replace(/\$/g, "");
  const markerEnds: number[] = [];
  for (const marker of ANSWER_MARKERS) {
    for (const match of text.matchAll(marker)) markerEnds.push(match.index + match[0].length);
  }
  markerEnds.sort((left, right) => right - left);
  for (const end of markerEnds) {
    const first = [...text.slice(end).matchAll(NUMBER)][0];
    if (first) return normalizeNumber(first[0]);
  }
  const all = [...text.matchAll(NUMBER)];
  const last = all[all.length - 1];
  return last ? normalizeNumber(last[0]) : undefined;
}

/**
 * True when two numbers (strings as written, or numbers) are equal after normalisation, within a
 * tolerance of 1e-9 × max(1, |expected|) that only absorbs floating-point noise (so `51` = `51.0`
 * but `0.333333` ≠ `1/3`).
 */
export function numbersMatch(actual: string | number | undefined, expected: string | number): boolean {
  if (actual === undefined) return false;
  const left = typeof actual === "number" ? actual : Number(normalizeNumber(actual));
  const right = typeof expected === "number" ? expected : Number(normalizeNumber(expected));
  if (!Number.isFinite(left) || !Number.isFinite(right)) return false;
  return Math.abs(left - right) <= 1e-9 * Math.max(1, Math.abs(right));
}

/**
 * GSM8K: does the response's final number equal the reference `final_answer`?
 * @example
 * ```ts
 * checkGsm8k("16 - 3 - 4 = 9 eggs, 9 * 2 = 18. The answer is 18.", "18"); // true
 * ```
 */
export function checkGsm8k(response: string, finalAnswer: string): boolean {
  return numbersMatch(extractFinalNumber(response), finalAnswer);
}

/**
 * SVAMP: does the response's final number equal `Answer` (a float such as `51.0`)?
 * @example
 * ```ts
 * checkSvamp("You pay 76 - 25 = 51 dollars.", 51.0); // true
 * ```
 */
export function checkSvamp(response: string, answer: number): boolean {
  return numbersMatch(extractFinalNumber(response), answer);
}

// ---------------------------------------------------------------------------------------------
// Multiple choice: MMLU
// ---------------------------------------------------------------------------------------------

const LETTERS = ["A", "B", "C", "D"] as const;

/** `answer is C`, `Answer: (C)`, `the correct option is C`, `best choice: C`. Only upper-case letters count (checked after matching). */
const STATED_ANSWER =
  /\b(?:answer|(?:correct|right|best|final)\s+(?:option|choice))\b\s*(?:is|would be|should be|will be|[:=])?\s*(?:option\s*|choice\s*)?[([]?([A-Da-d])[)\]]?(?![A-Za-z0-9])/gi;
/** The response opens with the letter: `C`, `C.`, `C)`, `C:`, `(C)`, `[C]`, `C. Paris`, `(C) Paris`. */
const LEADING_LETTER = /^\s*(?:\(([A-D])\)|\[([A-D])\]|([A-D])(?:[.):]|\s*$))/;
/** A letter in parentheses anywhere: `(C)`. */
const PARENTHESISED_LETTER = /\(([A-D])\)/g;
/** A standalone upper-case letter A–D; `A` followed by a lower-case word is the article, not a choice. */
const STANDALONE_LETTER = /(?<![A-Za-z0-9'’])(A(?!\s+[a-z])|[B-D])(?![A-Za-z0-9'’])/g;
/** The whole response is one letter, in either case, perhaps with punctuation: `c`, `C.`, `(c)`. */
const ONLY_LETTER = /^\W*([A-Da-d])\W*$/;

function isLetter(text: string | undefined): text is MmluLetter {
  return text !== undefined && (LETTERS as readonly string[]).includes(text);
}

function comparable(text: string): string {
  return text
    .trim()
    .toLowerCase()
    .replace(/[.\s]+$/, "")
    .replace(/\s+/g, " ");
}

/**
 * The answer letter (A–D) of a multiple-choice response, or `undefined` when none can be read.
 *
 * Markdown emphasis (`*`, `**`) and LaTeX `\boxed{…}`/`\text{…}` wrappers are removed first. Then, first rule that applies:
 * 1. A stated answer — `answer is C`, `Answer: (C)`, `The correct option is C`, `best choice: C`; the LAST such
 *    statement wins (a model that reconsiders is read at its conclusion). The letter must be upper case
 *    (so `the answer is a bit unclear` is not `A`).
 * 2. The response is a single letter in either case (`c`, `(c)`, `C.`), or opens with an upper-case one:
 *    `C.`, `C)`, `C:`, `(C)`, `[C]`, `C. Paris` (but not `A cat …`).
 * 3. Letters in parentheses `(C)` anywhere, if they all name the same letter.
 * 4. The whole response equals the text of one choice (case-insensitive, when `choices` are given).
 * 5. Exactly one distinct standalone upper-case letter A–D occurs in the text (`I'd go with B`); an `A`
 *    followed by a lower-case word is read as the article (`A cat …`), not as a choice.
 * Anything else — in particular several different candidate letters — is `undefined` (scored wrong).
 *
 * @example
 * ```ts
 * extractChoiceLetter("The answer is (C) because ..."); // "C"
 * extractChoiceLetter("B. Paris"); // "B"
 * extractChoiceLetter("Paris", ["London", "Paris", "Rome", "Berlin"]); // "B"
 * ```
 */
export function extractChoiceLetter(response: string, choices?: readonly string[]): MmluLetter | undefined {
  const text = response
    .replace(/\*+/g, "")
    .replace(/\\(?:boxed|text(?:bf)?|mathrm)\{([^}]*)\}/g, "$1")
    .replace(/\$/g, "");

  const stated = [...text.matchAll(STATED_ANSWER)].map((match) => match[1]).filter(isLetter);
  const lastStated = stated[stated.length - 1];
  if (lastStated) return lastStated;

  const only = ONLY_LETTER.exec(text)?.[1]?.toUpperCase();
  if (isLetter(only)) return only;

  const leading = LEADING_LETTER.exec(text);
  const leadingLetter = leading?.[1] ?? leading?.[2] ?? leading?.[3];
  if (isLetter(leadingLetter)) return leadingLetter;

  const parenthesised = new Set([...text.matchAll(PARENTHESISED_LETTER)].map((match) => match[1]));
  const [onlyParenthesised] = parenthesised;
  if (parenthesised.size === 1 && isLetter(onlyParenthesised)) return onlyParenthesised;

  if (choices) {
    const wanted = comparable(text);
    const index = choices.findIndex((choice) => comparable(choice) === wanted);
    if (index >= 0 && index < LETTERS.length) return LETTERS[index];
  }

  const standalone = new Set([...text.matchAll(STANDALONE_LETTER)].map((match) => match[1]));
  const [onlyStandalone] = standalone;
  if (standalone.size === 1 && isLetter(onlyStandalone)) return onlyStandalone;
  return undefined;
}

/**
 * MMLU: does the response name the right letter? Uses {@link extractChoiceLetter} with the question's choices.
 * @example
 * ```ts
 * checkMmlu("Answer: C", { choices: ["0", "4", "2", "6"], answer: "C" }); // true
 * ```
 */
export function checkMmlu(response: string, question: Pick<MmluQuestion, "choices" | "answer">): boolean {
  return extractChoiceLetter(response, question.choices) === question.answer;
}

// ---------------------------------------------------------------------------------------------
// Code: HumanEval and MBPP
// ---------------------------------------------------------------------------------------------

const FENCE = /(`{3,}|~{3,})[ \t]*([\w+.-]*)[^\n]*\n([\s\S]*?)(?:\n[ \t]*\1[ \t]*(?:\n|$)|$)/g;
const PYTHON_TAGS = new Set(["", "python", "py", "python3", "py3"]);

/**
 * The code in a response.
 *
 * - With markdown fences (```` ``` ```` or `~~~`, any tag; an unclosed fence runs to the end): among the
 *   blocks tagged `python`/`py`/`python3` or untagged, the first that defines `entryPoint` (when given),
 *   else the first such block, else the first block of any language.
 * - Without fences: the response unchanged (a completion that continues the prompt keeps its indentation).
 *
 * @example
 * ```ts
 * extractCode("Here:\n```python\ndef add(a, b):\n    return a + b\n```\nDone."); // "def add(a, b):\n    return a + b"
 * ```
 */
export function extractCode(response: string, entryPoint?: string): string {
  const blocks = [...response.matchAll(FENCE)].map((match) => ({
    tag: (match[2] ?? "").toLowerCase(),
    code: match[3] ?? "",
  }));
  if (blocks.length === 0) return response;
  const python = blocks.filter((block) => PYTHON_TAGS.has(block.tag));
  const defining = entryPoint ? python.find((block) => definesFunction(block.code, entryPoint)) : undefined;
  return (defining ?? python[0] ?? blocks[0])?.code ?? response;
}

/** True when `code` has a `def name(` at any indentation. */
export function definesFunction(code: string, name: string): boolean {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^\\s*(?:async\\s+)?def\\s+${escaped}\\s*\\(`, "m").test(code);
}

/** How a piece of candidate code did against its tests. */
export interface CodeCheckResult {
  /** True when every test passed (pass@1 of this sample). */
  passed: boolean;
  /** The program that was run (candidate + tests). */
  program: string;
  /** How the Python process ended. */
  run: PythonRunResult;
}

/** `__name__` of checked programs, so the candidate's `if __name__ == "__main__":` block does not run. */
const CANDIDATE_MODULE_NAME = "__candidate__";

/**
 * The HumanEval program for a completion: the prompt, the candidate, the tests, `check(entry_point)`.
 *
 * The candidate is {@link extractCode}'s output. If it defines `entry_point` itself it is appended after
 * the prompt (the prompt's imports and helpers stay; the new `def` replaces the docstring-only one);
 * otherwise it is taken as the body continuing the prompt, as in the original harness.
 */
export function humanEvalProgram(problem: HumanEvalProblem, response: string): string {
  const code = extractCode(response, problem.entry_point);
  const candidate = definesFunction(code, problem.entry_point)
    ? `${problem.prompt}\n    pass\n\n${code}`
    : `${problem.prompt}${code}`;
  return `${candidate}\n\n${problem.test}\n\ncheck(${problem.entry_point})\n`;
}

/**
 * HumanEval pass@1 of one response: runs the program of {@link humanEvalProgram} with `runner`.
 * @example
 * ```ts
 * const runner = createPythonRunner({ timeoutMs: 10_000 });
 * const [problem] = await loadHumanEval();
 * if (problem) console.log((await checkHumanEval(problem, problem.canonical_solution, { runner })).passed); // true
 * ```
 */
export async function checkHumanEval(
  problem: HumanEvalProblem,
  response: string,
  options: { runner: PythonRunner },
): Promise<CodeCheckResult> {
  const program = humanEvalProgram(problem, response);
  const run = await options.runner.run(program, { moduleName: CANDIDATE_MODULE_NAME });
  return { passed: run.status === "passed", program, run };
}

/**
 * The MBPP program for a response: the candidate code, `test_setup_code`, then every `assert` line
 * (plus `challenge_tests` when asked).
 */
export function mbppProgram(problem: MbppProblem, response: string, includeChallengeTests = false): string {
  const code = extractCode(response, problem.entry_point);
  const tests = includeChallengeTests ? [...problem.tests, ...problem.challenge_tests] : problem.tests;
  return `${code}\n\n${problem.test_setup_code}\n\n${tests.join("\n")}\n`;
}

/**
 * MBPP pass@1 of one response: runs the program of {@link mbppProgram} with `runner`.
 * @example
 * ```ts
 * const runner = createPythonRunner();
 * const [problem] = await loadMbpp();
 * if (problem) console.log((await checkMbpp(problem, problem.reference_code, { runner })).passed); // true
 * ```
 */
export async function checkMbpp(
  problem: MbppProblem,
  response: string,
  options: { runner: PythonRunner; includeChallengeTests?: boolean },
): Promise<CodeCheckResult> {
  const { runner, includeChallengeTests = false } = options;
  const program = mbppProgram(problem, response, includeChallengeTests);
  const run = await runner.run(program, { moduleName: CANDIDATE_MODULE_NAME });
  return { passed: run.status === "passed", program, run };
}
