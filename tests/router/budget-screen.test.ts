/**
 * The budget screen counts the auction's prompts with the engine's `PromptTokenCounter`, which
 * counts texts in parts (the task and each plan once, tag lines once). Its contract is exactness:
 * the count equals `countMessageTokens` of the whole prompt, in both encodings, whatever the task
 * and plans contain — checked here as a property over texts built from the characters that could
 * move a tokenizer boundary.
 */
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countMessageTokens } from "../../src/budget/index.js";
import { createBudgetScreen } from "../../src/router/budget-screen.js";
import type { RouterSettings } from "../../src/router/options.js";
import {
  JURY_RUBRIC,
  juryRequest,
  PLANNING_PROMPT,
  planLabel,
  planningRequest,
  REFINEMENT_PROMPT,
  refinementRequest,
} from "../../src/router/prompts.js";

/** Pieces that sit on or next to the tag lines where the screen cuts a prompt. */
const PIECES = [
  "a",
  "Z",
  "é",
  "e\u0301",
  "1",
  "23",
  " ",
  "  ",
  "\n",
  "\n\n",
  "\r\n",
  "\t",
  ">",
  "<",
  "/",
  "//",
  "'s",
  "&",
  ".",
  ":",
  '"',
  ">\n",
  ">\n\n",
  ">\n/",
  "> \n",
  ">\n ",
  "日本",
  "🙂",
  "\u00a0",
  "<|endoftext|>",
  "</plan>",
  '<plan id="A">\n',
  "-->",
  ">>\n",
  "\u200b",
];
const text = (maxPieces: number) =>
  fc.array(fc.constantFrom(...PIECES), { minLength: 1, maxLength: maxPieces }).map((pieces) => pieces.join(""));

/** One screen for every run: what its counter remembers of one auction must stay exact in the next. */
const screen = createBudgetScreen({ pool: [] } as unknown as RouterSettings, () => "unused");

describe("budget screen: prompt counts in parts", () => {
  it.each(["gpt-4o-mini", "gpt-3.5-turbo"])(
    "equals countMessageTokens of the whole prompt for the auction's prompts (%s's encoding)",
    (model) => {
      fc.assert(
        fc.property(text(40), fc.array(text(20), { minLength: 1, maxLength: 5 }), (task, plans) => {
          // One auction: the task and the plans recur across the prompts, as with every juror.
          const labelled = plans.map((plan, index) => ({ label: planLabel(index), plan }));
          const prompts: BaseMessage[][] = [
            [new SystemMessage(PLANNING_PROMPT), new HumanMessage(planningRequest(task))],
            [new SystemMessage(JURY_RUBRIC), new HumanMessage(juryRequest(task, labelled))],
            [new SystemMessage(JURY_RUBRIC), new HumanMessage(juryRequest(task, [...labelled].reverse()))],
            [
              new SystemMessage(`${PLANNING_PROMPT}\n\n${REFINEMENT_PROMPT}`),
              new HumanMessage(
                refinementRequest(
                  task,
                  plans.map((losing, index) => ({ losing, winning: plans[(index + 1) % plans.length] ?? losing })),
                ),
              ),
            ],
            // Not plain text (tool calls): counted as a whole.
            [
              new HumanMessage(task),
              new AIMessage({ content: "", tool_calls: [{ name: "f", args: { a: 1 }, id: "1" }] }),
            ],
          ];
          for (const prompt of prompts) {
            expect(screen.promptTokens(prompt, model)).toBe(countMessageTokens(prompt, model));
          }
        }),
        { numRuns: 150, seed: 7 },
      );
    },
  );
});
