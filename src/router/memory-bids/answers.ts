/**
 * Task-free answer extraction, for escalation's agreement test: two rungs agree when both answers
 * read as the same short answer (a choice letter or a number). Code and prose read as nothing, so
 * they never agree and the ladder climbs.
 *
 * The rules follow the eval's checkers (`extractChoiceLetter`, `extractFinalNumber` in
 * src/eval/data/checkers.ts) but are stricter, because no task says what kind of answer to expect:
 * a number counts only when it is the whole response or follows an explicit answer marker, never
 * "the last number in the text" (code and explanations are full of numbers).
 */

/** Choice letters read as answers (multiple choice with up to ten options). */
const LETTER = "[A-J]";
/** "answer is C", "Answer: (C)", "the correct option is C", "best choice: C" — upper-case letter only. */
const STATED_LETTER = new RegExp(
  `\\b(?:answer|option|choice)\\s*(?:is|:)\\s*:?\\s*[([]?(${LETTER})[)\\]]?(?![A-Za-z0-9])`,
  "gi",
);
/** The whole response is one letter, in either case: "c", "(C)", "C.", "[B]". */
const LONE_LETTER = /^\s*[([]?([A-Ja-j])[)\].:]?\s*$/;
/** The response opens with an upper-case letter and a delimiter: "C. Paris", "(C) Paris", "C) …", "C: …". */
const LEADING_LETTER = new RegExp(`^\\s*(?:\\((${LETTER})\\)|\\[(${LETTER})\\]|(${LETTER})[.):])(?:\\s|$)`);
/** A letter in parentheses anywhere: "(C)". */
const PARENTHESISED_LETTER = new RegExp(`\\((${LETTER})\\)`, "g");
/** Markers after which the first number is the answer. */
const NUMBER_MARKER = /####|\banswer\s*(?:is|:)|\\boxed\{/gi;
/** A number as written: sign, thousands commas, decimals. */
const NUMBER = /-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|-?\.\d+/g;
/** Signs of code: a fence, RouterBench's [PYTHON] tags, or a definition. */
const CODE = /```|\[PYTHON\]|^\s*(?:def|class|function|import|public|#include)\b/m;

/**
 * The short answer a response states — a choice letter (upper case) or a normalised number — or
 * `undefined` when it states none (code, prose, several candidate letters). Task-free.
 *
 * Rules, first that applies: code → `undefined`; the last stated letter ("answer is (C)"); a lone
 * letter ("c", "(C)"); a leading letter ("C. Paris"), unless other letters are offered in parentheses
 * ("(A) or (B)" → `undefined`); letters in parentheses that all agree; a lone number ("42", "$1,250.00" → "1250"); the first number after the last marker (`####`, `answer is`,
 * `answer:`, `\boxed{`). Anything else is `undefined`.
 *
 * @example
 * ```ts
 * extractAnswer("The answer is (C) because …"); // "C"
 * extractAnswer("b\n"); // "B"
 * extractAnswer("#### 18"); // "18"
 * extractAnswer("def add(a, b):\n    return a + b"); // undefined
 * ```
 */
export function extractAnswer(text: string): string | undefined {
  const cleaned = text
    .replace(/\*+/g, "")
    .replace(/\\(?:boxed|text(?:bf)?|mathrm)\{([^}]*)\}/g, (match, inner: string) =>
      match.startsWith("\\boxed") ? `\\boxed{${inner}}` : inner,
    );
  if (CODE.test(cleaned)) return undefined;
  const stated = [...cleaned.matchAll(STATED_LETTER)].map((match) => match[1]).filter(isUpperLetter);
  const lastStated = stated[stated.length - 1];
  if (lastStated !== undefined) return lastStated;
  const lone = LONE_LETTER.exec(cleaned)?.[1];
  if (lone !== undefined) return lone.toUpperCase();
  const parenthesised = new Set([...cleaned.matchAll(PARENTHESISED_LETTER)].map((match) => match[1]));
  const leading = LEADING_LETTER.exec(cleaned);
  const leadingLetter = leading?.[1] ?? leading?.[2] ?? leading?.[3];
  // A leading letter counts unless other letters are offered in parentheses ("(A) or (B)").
  if (leadingLetter !== undefined && [...parenthesised].every((letter) => letter === leadingLetter)) {
    return leadingLetter;
  }
  const [onlyParenthesised] = parenthesised;
  if (parenthesised.size === 1 && onlyParenthesised !== undefined) return onlyParenthesised;
  if (parenthesised.size > 1) return undefined;
  return statedNumber(cleaned.replace(/\$/g, ""));
}

/**
 * True only when both answers are defined and equal (an unreadable answer never agrees).
 *
 * @example
 * ```ts
 * answersMatch(extractAnswer("B"), extractAnswer("The answer is B.")); // true
 * answersMatch(undefined, undefined); // false
 * ```
 */
export function answersMatch(first: string | undefined, second: string | undefined): boolean {
  return first !== undefined && second !== undefined && first === second;
}

function isUpperLetter(letter: string | undefined): letter is string {
  return letter !== undefined && /^[A-J]$/.test(letter);
}

function statedNumber(text: string): string | undefined {
  const trimmed = text.trim().replace(/\.$/, "");
  const lone = new RegExp(`^(?:${NUMBER.source})$`).exec(trimmed);
  if (lone) return normaliseNumber(lone[0]);
  const markerEnds = [...text.matchAll(NUMBER_MARKER)].map((match) => match.index + match[0].length);
  for (const end of markerEnds.sort((left, right) => right - left)) {
    const first = [...text.slice(end).matchAll(NUMBER)][0];
    if (first) return normaliseNumber(first[0]);
  }
  return undefined;
}

/** Drop thousands commas, trailing decimal zeros and leading zeros: "1,250.00" → "1250", "-0" → "0". */
function normaliseNumber(written: string): string {
  let text = written.replace(/,/g, "");
  if (text.includes(".")) text = text.replace(/0+$/, "").replace(/\.$/, "");
  if (text.startsWith(".")) text = `0${text}`;
  if (text.startsWith("-.")) text = `-0${text.slice(1)}`;
  text = text.replace(/^(-?)0+(?=\d)/, "$1");
  return text === "-0" ? "0" : text;
}
