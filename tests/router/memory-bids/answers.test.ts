import { describe, expect, it } from "vitest";
import { answersMatch, extractAnswer } from "../../../src/router/memory-bids/index.js";

describe("extractAnswer", () => {
  it.each([
    // RouterBench multiple-choice responses (arc-challenge, winogrande), as recorded
    ["A\n", "A"],
    ["D", "D"],
    ["B\n", "B"],
    ["c", "C"],
    ["(C)", "C"],
    ["[B]", "B"],
    ["C.", "C"],
    ["The answer is (C) because metal conducts heat.", "C"],
    ["Answer: B", "B"],
    ["The correct option is D.", "D"],
    ["I first thought the answer is A, but on reflection the answer is **B**.", "B"],
    ["C. palms covered with oil", "C"],
    ["(B) The refrigerator door contains iron.", "B"],
    ["Both (A) and (A) describe it.", "A"],
    // numbers
    ["42", "42"],
    ["$1,250.00", "1250"],
    ["She makes 9 * 2 = $18 a day.\n#### 18", "18"],
    ["The answer is 7.50.", "7.5"],
    ["So the result is \\boxed{12}", "12"],
  ])("reads %j as %j", (text, expected) => {
    expect(extractAnswer(text)).toBe(expected);
  });

  it.each([
    // mbpp code and prose: never an answer, so two rungs never "agree" on them
    ["Here is a Python function:\n\n```python\ndef add(a, b):\n    return a + b  # answer: 2\n```"],
    [" \n[PYTHON]\ndef reverse_upto(my_list, position):\n    return my_list[:position][::-1]\n[/PYTHON]"],
    ["def sum_even(n):\n    return sum(i for i in range(2, n + 1, 2))"],
    ["A chart"],
    ["I do"],
    ["the answer is a bit unclear"],
    ["There were 3 cats and 4 dogs."],
    ["(A) or (B), it depends."],
    [""],
  ])("reads %j as nothing", (text) => {
    expect(extractAnswer(text)).toBeUndefined();
  });
});

describe("answersMatch", () => {
  it("is true only for two equal defined answers", () => {
    expect(answersMatch("B", "B")).toBe(true);
    expect(answersMatch(extractAnswer("B\n"), extractAnswer("The answer is (B)."))).toBe(true);
    expect(answersMatch("B", "C")).toBe(false);
    expect(answersMatch(undefined, undefined)).toBe(false);
    expect(answersMatch("B", undefined)).toBe(false);
  });
});
