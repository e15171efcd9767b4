/**
 * The prompts of the coordination graph and the strategy guard. Pure.
 *
 * Who sees what:
 * - the coordinator (strategy): the question;
 * - each executor: the question, the strategy and, from round 2, the previous commitment —
 *   never another executor's text;
 * - the coordinator (commitment): the question, the strategy, and per executor only its parsed
 *   answer, confidence and belief score, plus the belief candidate — never the executors' texts.
 */
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { countTextTokens } from "../budget/index.js";

/** The most tokens a strategy or a commitment may have (ECON's bound). */
export const COORDINATOR_TOKEN_LIMIT = 50;

/** What the coordinator sees of one executor when it writes the commitment. */
export interface ExecutorSummary {
  executor: string;
  answer: string | undefined;
  confidence: number;
  score: number;
}

/** Messages asking the coordinator for a strategy. */
export function strategyMessages(question: string, tokenLimit: number): [SystemMessage, HumanMessage] {
  return [
    new SystemMessage(
      `You coordinate a team of solvers. Write a strategy for the problem in at most ${tokenLimit} tokens: ` +
        "the approach and the pitfalls to avoid. Never state or hint at the final answer.",
    ),
    new HumanMessage(`Problem:\n${question}`),
  ];
}

/** Messages asking one executor for its answer. */
export function executorMessages(options: {
  executor: string;
  question: string;
  strategy: string;
  previousCommitment: string | undefined;
}): [SystemMessage, HumanMessage] {
  const { executor, question, strategy, previousCommitment } = options;
  const lines = [`Problem:\n${question}`, `Coordinator's strategy:\n${strategy || "(none)"}`];
  if (previousCommitment !== undefined) lines.push(`Coordinator's current commitment:\n${previousCommitment}`);
  return [
    new SystemMessage(
      `You are solver "${executor}". Solve the problem following the coordinator's strategy. ` +
        "End with a line `Answer: <final answer>` and a line `Confidence: <a number from 0 to 1>`.",
    ),
    new HumanMessage(lines.join("\n\n")),
  ];
}

/** Messages asking the coordinator for a commitment. */
export function commitmentMessages(options: {
  question: string;
  strategy: string;
  summaries: readonly ExecutorSummary[];
  candidate: string | undefined;
  tokenLimit: number;
}): [SystemMessage, HumanMessage] {
  const { question, strategy, summaries, candidate, tokenLimit } = options;
  const rows = summaries.map(
    ({ executor, answer, confidence, score }) =>
      `- ${executor}: ${answer ?? "(no parsable answer)"} (confidence ${confidence.toFixed(2)}, belief score ${score.toFixed(3)})`,
  );
  return [
    new SystemMessage(
      `You coordinate a team of solvers. Commit the team to one final answer in at most ${tokenLimit} tokens. ` +
        "End with a line `Answer: <final answer>`.",
    ),
    new HumanMessage(
      [
        `Problem:\n${question}`,
        `Your strategy:\n${strategy || "(none)"}`,
        `Solvers' answers:\n${rows.join("\n")}`,
        `Answer favoured by the belief equilibrium: ${candidate ?? "(none)"}`,
      ].join("\n\n"),
    ),
  ];
}

/** `text` cut at a word boundary to at most `limit` tokens (unchanged when it fits). */
export function truncateToTokens(text: string, limit: number, model?: string): string {
  if (countTextTokens(text, model) <= limit) return text;
  const words = text.split(/(\s+)/);
  let low = 0;
  let high = words.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (countTextTokens(words.slice(0, middle).join(""), model) <= limit) low = middle;
    else high = middle - 1;
  }
  return words.slice(0, low).join("").trimEnd();
}

/** Phrases that introduce a final answer. */
const ANSWER_STATEMENT = /####|\\boxed\{|\banswer\s*(?:is|:|=)|\bequals?\b|=/gi;

/** True when, after the last answer statement of `sentence`, `parseAnswer` finds an answer. */
function statesAnswer(sentence: string, parseAnswer: (text: string) => string | undefined): boolean {
  const statements = [...sentence.matchAll(ANSWER_STATEMENT)];
  const last = statements[statements.length - 1];
  if (last === undefined) return false;
  return parseAnswer(sentence.slice(last.index + last[0].length).trim()) !== undefined;
}

/** What the strategy guard found and did. */
export interface StrategyGuardResult {
  strategy: string;
  /** True when a sentence stated a parsable answer. */
  leaked: boolean;
  /** Sentences removed (with `"strip"`), or the whole strategy (with `"reject"`). */
  removed: string[];
}

/**
 * The strategy guard: a sentence "gives the answer" when it contains an answer statement
 * (`####`, `\boxed{`, `answer is`, `answer:`, `answer =`, `equals`, `=`) AND `parseAnswer`
 * finds an answer in the text after the last such statement (`"6 × 7 = ?"` is kept,
 * `"so the total is = 42"` is not). `"strip"` drops those sentences, `"reject"` drops the whole strategy
 * (executors then get none), `"off"` does nothing.
 */
export function guardStrategy(
  strategy: string,
  parseAnswer: (text: string) => string | undefined,
  mode: "strip" | "reject" | "off",
): StrategyGuardResult {
  if (mode === "off") return { strategy, leaked: false, removed: [] };
  const sentences = strategy.match(/[^.!?\n]+[.!?]*\s*/g) ?? [];
  const leaking = sentences.filter((sentence) => statesAnswer(sentence, parseAnswer));
  if (leaking.length === 0) return { strategy, leaked: false, removed: [] };
  if (mode === "reject") return { strategy: "", leaked: true, removed: [strategy] };
  const kept = sentences.filter((sentence) => !leaking.includes(sentence));
  return { strategy: kept.join("").trim(), leaked: true, removed: leaking.map((sentence) => sentence.trim()) };
}
