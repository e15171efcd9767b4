/**
 * A three-question debate fixture small enough to replay by hand. Tokens are counted as words
 * (`countWords`), so every round of every question costs 9 tokens except q2's second (18).
 *
 * | question | gold | round 0 (9 tok) | round 1 | round 2 (9 tok) |
 * |---|---|---|---|---|
 * | q1 arithmetic | 42 | 42 / 41 / 41 | 42 / 42 / 41 (9 tok) | 42 / 42 / 42 |
 * | q2 arithmetic | 7  | 7 / 7 / 7    | 7 / 7 / 7 (18 tok)  | — |
 * | q3 mmlu       | B  | B / C / C    | B / C / C (9 tok)   | — |
 *
 * Full debate: q1 27 tokens right, q2 27 right, q3 18 wrong.
 */
import { Embeddings } from "@langchain/core/embeddings";
import type { DebateRecord } from "../../../../src/eval/multiagent/replay/index.js";

export const fixtureDebates: DebateRecord[] = [
  {
    id: "q1",
    task: "arithmetic",
    question: "What is 6 * 7?",
    gold: "42",
    agents: [
      ["answer is 42", "answer is 42", "answer is 42"],
      ["answer is 41", "answer is 42", "answer is 42"],
      ["answer is 41", "answer is 41", "answer is 42"],
    ],
  },
  {
    id: "q2",
    task: "arithmetic",
    question: "What is 3 + 4?",
    gold: "7",
    agents: [
      ["answer is 7", "I agree the answer is 7"],
      ["answer is 7", "I agree the answer is 7"],
      ["answer is 7", "I agree the answer is 7"],
    ],
  },
  {
    id: "q3",
    task: "mmlu",
    question: "Which is the second letter? A) a B) b C) c D) d",
    gold: "B",
    agents: [
      ["answer is B", "answer is B"],
      ["answer is C", "answer is C"],
      ["answer is C", "answer is C"],
    ],
  },
];

/** Tokens = whitespace-separated words. */
export function countWords(text: string): number {
  return text.split(/\s+/).filter((word) => word !== "").length;
}

const ANSWER_AXES = ["42", "41", "7", "B", "C"];

/** One-hot embedding of the answer a text ends with: texts with equal answers get equal vectors. Tests only. */
export class ScriptedAnswerEmbeddings extends Embeddings {
  readonly calls: string[][] = [];

  constructor() {
    super({ maxRetries: 0 });
  }

  override async embedDocuments(documents: string[]): Promise<number[][]> {
    this.calls.push([...documents]);
    return documents.map((document) => {
      const last = document.trim().split(/\s+/).pop() ?? "";
      return ANSWER_AXES.map((axis) => (axis === last ? 1 : 0));
    });
  }

  override async embedQuery(document: string): Promise<number[]> {
    const [vector] = await this.embedDocuments([document]);
    return vector ?? [];
  }
}

/**
 * A scripted arithmetic debate: every agent says the same thing in every round, `"answer is N"` (3
 * words), N = `gold` for the agents at the (0-based) positions in `right`, `gold + 1` for the others.
 *
 * @example scriptedDebate("t1", 42, [1]) // agent-2 right, agents 1 and 3 wrong, 2 rounds
 */
export function scriptedDebate(
  id: string,
  gold: number,
  right: readonly number[],
  { agents = 3, rounds = 2 }: { agents?: number; rounds?: number } = {},
): DebateRecord {
  return {
    id,
    task: "arithmetic",
    question: `What is ${gold - 1} + 1?`,
    gold: String(gold),
    agents: Array.from({ length: agents }, (_, position) =>
      Array.from({ length: rounds }, () => `answer is ${right.includes(position) ? gold : gold + 1}`),
    ),
  };
}
