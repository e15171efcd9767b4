import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DataError } from "../../../../src/eval/errors.js";
import {
  loadDebateRecords,
  parseDebateAnswer,
  parseDebateRecords,
} from "../../../../src/eval/multiagent/replay/index.js";

const good = JSON.stringify({
  id: "q1",
  task: "gsm8k",
  question: "What is 6 * 7?",
  gold: 42,
  agents: [["6 * 7 = 42. #### 42"], ["#### 41"]],
});

function errorOf(run: () => unknown): DataError {
  try {
    run();
  } catch (error) {
    if (DataError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a DataError");
}

describe("recorded debate records", () => {
  it("parses a valid line, turning numeric ids and gold answers into strings", () => {
    const [record] = parseDebateRecords(`${good}\n\n`, "inline.jsonl");
    expect(record).toMatchObject({ id: "q1", gold: "42", task: "gsm8k" });
  });

  it("names file, line and field of a bad line", () => {
    const missingGold = JSON.stringify({ id: "q2", task: "gsm8k", question: "?", agents: [["#### 1"]] });
    const error = errorOf(() => parseDebateRecords(`${good}\n${missingGold}\n`, "debates.jsonl"));
    expect(error.file).toBe("debates.jsonl");
    expect(error.line).toBe(2);
    expect(error.fields).toEqual(["gold"]);
    expect(error.message).toMatch(/^debates\.jsonl:2: field "gold":/);
  });

  it("rejects agents with unequal rounds, a bad task, an mmlu gold that is not a letter, unknown keys and repeated ids", () => {
    const line = (record: object) =>
      JSON.stringify({ id: "x", task: "gsm8k", question: "?", gold: "1", agents: [["1"]], ...record });
    expect(errorOf(() => parseDebateRecords(line({ agents: [["1", "1"], ["1"]] }), "f")).fields).toEqual(["agents.1"]);
    expect(errorOf(() => parseDebateRecords(line({ task: "poetry" }), "f")).fields).toEqual(["task"]);
    expect(errorOf(() => parseDebateRecords(line({ task: "mmlu", gold: "E" }), "f")).fields).toEqual(["gold"]);
    expect(errorOf(() => parseDebateRecords(line({ gold: "many" }), "f")).fields).toEqual(["gold"]);
    expect(errorOf(() => parseDebateRecords(line({ agent: [] }), "f")).fields).toEqual(["(record)"]);
    const repeated = errorOf(() => parseDebateRecords(`${good}\n\n${good}`, "f"));
    expect(repeated.line).toBe(3);
    expect(repeated.fields).toEqual(["id"]);
    expect(errorOf(() => parseDebateRecords("{not json", "f")).message).toMatch(/^f:1: not valid JSON/);
  });

  it("reads a file and names it in errors", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gavel-debates-"));
    const path = join(folder, "bad.jsonl");
    writeFileSync(path, `${good}\n{"id": "q2"}\n`);
    await expect(loadDebateRecords(path)).rejects.toThrow(`${path}:2:`);
  });

  it("reads answers with the task's checker", () => {
    expect(parseDebateAnswer("gsm8k", "So $1,250.00 in all. The answer is $1,250.00.")).toBe("1250");
    expect(parseDebateAnswer("arithmetic", "I am not sure.")).toBeUndefined();
    expect(parseDebateAnswer("mmlu", "The answer is (C) Paris.")).toBe("C");
    expect(parseDebateAnswer("mmlu", "Paris", ["London", "Paris", "Rome", "Berlin"])).toBe("B");
  });
});
