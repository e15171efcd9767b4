import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { writeJsonLines } from "../../../../src/eval/data/datasets.js";
import { DataError } from "../../../../src/eval/errors.js";
import {
  loadDebateRecords,
  parseDebateAnswer,
  parseDebateRecords,
} from "../../../../src/eval/multiagent/replay/index.js";
import { DEBATE_RECORD_KEYS, loadDebateRun, parseDebateRun } from "../../../../src/eval/multiagent/replay/records.js";

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

  it("rejects agents with unequal rounds, a bad task, an mmlu gold that is not a letter and repeated ids", () => {
    const line = (record: object) =>
      JSON.stringify({ id: "x", task: "gsm8k", question: "?", gold: "1", agents: [["1"]], ...record });
    expect(errorOf(() => parseDebateRecords(line({ agents: [["1", "1"], ["1"]] }), "f")).fields).toEqual(["agents.1"]);
    expect(errorOf(() => parseDebateRecords(line({ task: "poetry" }), "f")).fields).toEqual(["task"]);
    expect(errorOf(() => parseDebateRecords(line({ task: "mmlu", gold: "E" }), "f")).fields).toEqual(["gold"]);
    expect(errorOf(() => parseDebateRecords(line({ gold: "many" }), "f")).fields).toEqual(["gold"]);
    expect(
      errorOf(() => parseDebateRecords(line({ choices: ["a", "b"], task: "mmlu", gold: "A" }), "f")).fields,
    ).toEqual(["choices"]);
    const repeated = errorOf(() => parseDebateRecords(`${good}\n\n${good}`, "f"));
    expect(repeated.line).toBe(3);
    expect(repeated.fields).toEqual(["id"]);
    expect(errorOf(() => parseDebateRecords("{not json", "f")).message).toMatch(/^f:1: not valid JSON/);
  });

  it("keeps unknown keys as metadata and lists them once per file", () => {
    const first = {
      id: "q1",
      task: "gsm8k",
      question: "What is 6 * 7?",
      gold: 42,
      agents: [["#### 42"], ["#### 41"]],
      run_id: "run-7",
      solution: "6 * 7 = 42",
      timestamp: "2026-11-30T12:00:00Z",
      nested: { judge: { scores: [1, 0] }, tags: ["a"] },
      ID: "collides with id in another case",
    };
    const second = {
      id: "q2",
      task: "arithmetic",
      question: "1+1?",
      gold: "2",
      agents: [["2"], ["2"]],
      run_id: "run-7",
    };
    const third = { id: "q3", task: "arithmetic", question: "2+2?", gold: "4", agents: [["4"], ["4"]] };
    const text = [first, second, third].map((record) => JSON.stringify(record)).join("\n");

    const run = parseDebateRun(text, "real.jsonl");
    expect(run.file).toBe("real.jsonl");
    expect(run.ignoredKeys).toEqual(["ID", "nested", "run_id", "solution", "timestamp"]);
    const [q1, q2, q3] = run.debates;
    expect(q1).toEqual({
      id: "q1",
      task: "gsm8k",
      question: "What is 6 * 7?",
      gold: "42",
      agents: [["#### 42"], ["#### 41"]],
      metadata: {
        run_id: "run-7",
        solution: "6 * 7 = 42",
        timestamp: "2026-11-30T12:00:00Z",
        nested: { judge: { scores: [1, 0] }, tags: ["a"] },
        ID: "collides with id in another case",
      },
    });
    expect(q2?.metadata).toEqual({ run_id: "run-7" });
    expect(q3).not.toHaveProperty("metadata");
    // The old entry points read the same records.
    expect(parseDebateRecords(text, "real.jsonl")).toEqual(run.debates);
    expect(parseDebateRun(JSON.stringify(third), "plain.jsonl").ignoredKeys).toEqual([]);
  });

  it("reads every key of DEBATE_RECORD_KEYS as a field, none as metadata", () => {
    const full = {
      id: 7,
      task: "mmlu",
      question: "Which?",
      gold: "B",
      agents: [["(B)"]],
      model: "gpt-4o-mini",
      choices: ["a", "b", "c", "d"],
    };
    expect(Object.keys(full).sort()).toEqual([...DEBATE_RECORD_KEYS].sort());
    const run = parseDebateRun(JSON.stringify(full), "full.jsonl");
    expect(run.ignoredKeys).toEqual([]);
    expect(run.debates[0]).toEqual({ ...full, id: "7" });
  });

  it("still fails on a required field that is missing or malformed, even beside extra keys", () => {
    const extra = { run_id: "r1", timestamp: 1 };
    const base = { id: "x", task: "gsm8k", question: "?", gold: "1", agents: [["1"]], ...extra };
    const missing = errorOf(() =>
      parseDebateRun(`${good}\n${JSON.stringify({ ...base, question: undefined })}`, "real.jsonl"),
    );
    expect(missing.message).toMatch(/^real\.jsonl:2: field "question":/);
    const malformed = errorOf(() => parseDebateRun(JSON.stringify({ ...base, agents: "1" }), "real.jsonl"));
    expect([malformed.line, malformed.fields]).toEqual([1, ["agents"]]);
    // A required key spelled in another case is metadata, so the real one is missing.
    const { agents, ...withoutAgents } = base;
    const cased = errorOf(() => parseDebateRun(JSON.stringify({ ...withoutAgents, Agents: agents }), "real.jsonl"));
    expect([cased.line, cased.fields]).toEqual([1, ["agents"]]);
  });

  it("loads a gzipped run with its ignored keys", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gavel-debates-"));
    const path = join(folder, "run.jsonl.gz");
    await writeJsonLines(path, [{ ...JSON.parse(good), run_id: "r1" }]);
    const run = await loadDebateRun(path);
    expect(run).toMatchObject({ file: path, ignoredKeys: ["run_id"] });
    expect(run.debates[0]?.metadata).toEqual({ run_id: "r1" });
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
