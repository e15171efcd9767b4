/**
 * The answer checkers read tricky responses the documented way.
 */
import { describe, expect, it } from "vitest";
import {
  checkGsm8k,
  checkMmlu,
  checkSvamp,
  extractChoiceLetter,
  extractCode,
  extractFinalNumber,
  humanEvalProgram,
  mbppProgram,
  normalizeNumber,
  numbersMatch,
} from "../../../src/eval/data/checkers.js";
import { loadGsm8k, type MbppProblem } from "../../../src/eval/data/datasets.js";

describe("final numbers (GSM8K, SVAMP)", () => {
  it.each([
    ["Janet sells 16 - 3 - 4 = 9 eggs.\nShe makes 9 * 2 = $18 every day.\n#### 18", "18"],
    ["#### 1,234", "1234"],
    ["The answer is $18.00.", "18"],
    ["The answer is 18. Check: 9 * 2 = 18 and 3 + 4 = 7.", "18"],
    ["answer is 5, wait, no.\n#### 6", "6"],
    ["I computed 42 in the end. The answer is", "42"],
    ["So x = -5", "-5"],
    ["It takes 3-4 hours", "4"],
    ["Final: \\boxed{42}", "42"],
    ["Answer: 0.50", "0.5"],
    ["She has 1,000,000 dollars", "1000000"],
    ["The answer is: **72**", "72"],
    ["about .5 of it", "0.5"],
    ["counts 1, 2, 3", "3"],
    ["The total is 18.", "18"],
    ["Python 3.11 says 7", "7"],
  ])("%j → %s", (response, expected) => {
    expect(extractFinalNumber(response)).toBe(expected);
  });

  it("a response without a number has no answer", () => {
    expect(extractFinalNumber("I do not know.")).toBeUndefined();
    expect(checkGsm8k("I do not know.", "18")).toBe(false);
  });

  it("normalises $, commas, trailing zeros and signs", () => {
    expect(normalizeNumber("$1,234.50")).toBe("1234.5");
    expect(normalizeNumber("+7.0")).toBe("7");
    expect(normalizeNumber("-0.0")).toBe("0");
    expect(normalizeNumber("007")).toBe("7");
    expect(normalizeNumber("seven")).toBeUndefined();
  });

  it("compares numerically with a small relative tolerance", () => {
    expect(numbersMatch("51.0", 51)).toBe(true);
    expect(numbersMatch("1,000", "1000")).toBe(true);
    expect(numbersMatch("0.333333", 1 / 3)).toBe(false);
    expect(numbersMatch(undefined, 1)).toBe(false);
  });

  it("reads the reference solution of every GSM8K problem as its final answer", async () => {
    const problems = await loadGsm8k();
    const misread = problems.filter((problem) => !checkGsm8k(problem.answer, problem.final_answer));
    expect(misread.map((problem) => problem.id)).toEqual([]);
  });

  it("SVAMP answers are floats such as 51.0", () => {
    expect(checkSvamp("You pay 76 - 25 = 51 dollars.", 51.0)).toBe(true);
    expect(checkSvamp("The answer is 51.0", 51)).toBe(true);
    expect(checkSvamp("The answer is 50", 51)).toBe(false);
  });
});

describe("choice letters (MMLU)", () => {
  it.each([
    ["Answer: C", "C"],
    ["The answer is (B).", "B"],
    ["B", "B"],
    ["c", "C"],
    ["(D)", "D"],
    ["C. Paris", "C"],
    ["C) Paris", "C"],
    ["[A]", "A"],
    ["**Answer:** A", "A"],
    ["The correct option is D", "D"],
    ["Answer:\n\nC", "C"],
    ["The final answer is $\\boxed{C}$", "C"],
    ["I think the answer is A, not B. Actually, the answer is B.", "B"],
    ["The answer is a bit unclear, but I would pick (C)", "C"],
    ["Looking at each option, I'd go with B", "B"],
    ["Option A is wrong. The correct answer is C.", "C"],
  ])("%j → %s", (response, expected) => {
    expect(extractChoiceLetter(response)).toBe(expected);
  });

  it.each([["A cat is an animal."], ["Between (A) and (C), hard to say."], ["B or D, not sure."], ["I don't know."]])(
    "%j has no single answer",
    (response) => {
      expect(extractChoiceLetter(response)).toBeUndefined();
    },
  );

  it("matches a response that is the text of one choice", () => {
    const choices = ["London", "Paris", "Rome", "Berlin"];
    expect(extractChoiceLetter("paris.", choices)).toBe("B");
    expect(checkMmlu("Paris", { choices, answer: "B" })).toBe(true);
    expect(checkMmlu("Answer: A", { choices, answer: "B" })).toBe(false);
  });
});

describe("code extraction", () => {
  it("takes the python block out of prose", () => {
    const response = "Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\nHope it helps.";
    expect(extractCode(response)).toBe("def add(a, b):\n    return a + b");
  });

  it("prefers the block that defines the entry point", () => {
    const response = "```python\nprint(add(1, 2))\n```\nand\n```py\ndef add(a, b):\n    return a + b\n```";
    expect(extractCode(response, "add")).toBe("def add(a, b):\n    return a + b");
  });

  it("prefers python over another language, and reads ~~~ fences", () => {
    expect(extractCode("```text\nadd\n```\n~~~python\nx = 1\n~~~")).toBe("x = 1");
  });

  it("an unclosed fence runs to the end (a truncated answer)", () => {
    expect(extractCode("```python\ndef f():\n    return 1")).toBe("def f():\n    return 1");
  });

  it("without fences the response is kept as is, indentation included", () => {
    expect(extractCode("    return a + b\n")).toBe("    return a + b\n");
  });

  it("a HumanEval body continues the prompt; a full function is appended after it", () => {
    const problem = {
      task_id: "T/0",
      prompt: 'from typing import List\n\ndef add(a, b):\n    """Add."""\n',
      canonical_solution: "    return a + b\n",
      test: "def check(candidate):\n    assert candidate(1, 2) == 3\n",
      entry_point: "add",
    };
    expect(humanEvalProgram(problem, "    return a + b\n")).toContain('"""Add."""\n    return a + b\n');
    const full = humanEvalProgram(problem, "```python\ndef add(a, b):\n    return a + b\n```");
    expect(full).toContain("from typing import List");
    expect(full).toContain("    pass\n\ndef add(a, b):\n    return a + b");
    expect(full.trimEnd().endsWith("check(add)")).toBe(true);
  });

  it("an MBPP program is the code, the setup, then the asserts", () => {
    const problem: MbppProblem = {
      task_id: 11,
      split: "test",
      prompt: "Add.",
      tests: ["assert add(1, 2) == 3"],
      test_setup_code: "import math",
      challenge_tests: ["assert add(0, 0) == 0"],
      entry_point: "add",
      reference_code: "def add(a, b): return a + b",
    };
    expect(mbppProgram(problem, "def add(a, b): return a + b")).toBe(
      "def add(a, b): return a + b\n\nimport math\n\nassert add(1, 2) == 3\n",
    );
    expect(mbppProgram(problem, "def add(a, b): return a + b", true)).toContain("assert add(0, 0) == 0");
  });
});
