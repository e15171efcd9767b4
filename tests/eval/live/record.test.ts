/**
 * The recorder with scripted models: failed calls are error lines (the model is unavailable, never
 * wrong or free) and are asked again next run; the budget and a model that keeps failing stop it.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  LiveBackendError,
  LiveBudgetReachedError,
  type LiveChatModel,
  type LivePoolModel,
  type LiveTask,
  recordLiveOutcomes,
} from "../../../src/eval/live/index.js";
import { OutputConflictError } from "../../../src/eval/outputs.js";

const scratch = mkdtempSync(join(tmpdir(), "gavel-live-record-"));

const tasks: LiveTask[] = ["p1", "p2", "p3"].map((id) => ({
  promptId: id,
  prompt: `question ${id}`,
  evalName: "gsm8k",
  check: async (response) => response === `right ${id}`,
}));

/** A scripted model: answers `reply(prompt)` with fixed usage, or throws when it returns an Error. */
function scriptedModel(reply: (prompt: string) => string | Error): LiveChatModel & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async invoke(input) {
      const [, prompt] = input[0] as [string, string];
      calls.push(prompt);
      const answer = reply(prompt);
      if (answer instanceof Error) throw answer;
      return { content: answer, usage_metadata: { input_tokens: 1_000, output_tokens: 100 } };
    },
  };
}

const poolOf = (models: Record<string, LiveChatModel>): { backend: "openai"; models: LivePoolModel[] } => ({
  backend: "openai",
  models: Object.entries(models).map(([name, model]) => ({
    name,
    model,
    unpriced: false,
    price: { inputPerMillion: 1, outputPerMillion: 10 },
  })),
});

const lines = (path: string) =>
  existsSync(path)
    ? readFileSync(path, "utf8")
        .trim()
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line))
    : [];

describe("recordLiveOutcomes", () => {
  it("records a failed call as an error line, not an outcome, and asks it again next run", async () => {
    const folder = join(scratch, "errors");
    const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
    let down = true;
    const flaky = scriptedModel((prompt) =>
      prompt === "question p2" && down ? new Error("503 overloaded") : `right ${prompt.split(" ")[1]}`,
    );
    const first = await recordLiveOutcomes({ tasks, pool: poolOf({ flaky }), ...paths });
    expect(first).toMatchObject({ asked: 3, failed: 1, reused: 0 });
    expect(first.records.map((record) => record.prompt_id)).toEqual(["p1", "p3"]);
    expect(first.records.every((record) => record.correct === 1)).toBe(true);
    expect(first.spentUsd).toBeCloseTo(2 * ((1_000 * 1 + 100 * 10) / 1e6), 12);
    expect(lines(paths.errorsPath)).toEqual([
      expect.objectContaining({ prompt_id: "p2", model: "flaky", error: "Error: 503 overloaded" }),
    ]);

    down = false;
    const second = await recordLiveOutcomes({ tasks, pool: poolOf({ flaky }), ...paths });
    expect(second).toMatchObject({ asked: 1, failed: 0, reused: 2 });
    expect(flaky.calls).toEqual(["question p1", "question p2", "question p3", "question p2"]);
    expect(lines(paths.outcomesPath).map((line) => line.prompt_id)).toEqual(["p1", "p3", "p2"]);
    expect(second.cacheUsd).toBeCloseTo(3 * 0.002, 12);
  });

  it("resumes after a run killed mid-write, run after run: the torn line is cut, the record asked again", async () => {
    const folder = join(scratch, "torn");
    const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
    const model = scriptedModel((prompt) => `right ${prompt.split(" ")[1]}`);
    await recordLiveOutcomes({ tasks: tasks.slice(0, 2), pool: poolOf({ model }), ...paths });
    const text = readFileSync(paths.outcomesPath, "utf8");
    writeFileSync(paths.outcomesPath, text.slice(0, text.length - 20)); // killed in the middle of p2's line

    const second = await recordLiveOutcomes({ tasks, pool: poolOf({ model }), ...paths });
    expect(second).toMatchObject({ asked: 2, reused: 1 });
    const third = await recordLiveOutcomes({ tasks, pool: poolOf({ model }), ...paths });
    expect(third).toMatchObject({ asked: 0, reused: 3 });
    expect(lines(paths.outcomesPath).map((line) => line.prompt_id)).toEqual(["p1", "p2", "p3"]);
  });

  it("never cuts a line of an errors file it did not write: a foreign file is refused, untouched, before any call", async () => {
    const folder = join(scratch, "foreign-errors");
    const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
    const model = scriptedModel((prompt) => `right ${prompt.split(" ")[1]}`);
    await recordLiveOutcomes({ tasks: tasks.slice(0, 1), pool: poolOf({ model }), ...paths });
    const notes = "my notes\nnot JSON at all, and no newline at the end";
    writeFileSync(paths.errorsPath, notes);
    await expect(recordLiveOutcomes({ tasks, pool: poolOf({ model }), ...paths })).rejects.toThrow(
      `${paths.errorsPath}: exists and is not a Gavel live errors file (line 1 is not JSON)`,
    );
    expect(readFileSync(paths.errorsPath, "utf8")).toBe(notes);
    expect(model.calls).toEqual(["question p1"]);
  });

  // Each of these was destroyed or appended to before: a one-line file with no newline passed the
  // check (no complete line), was read as a torn record and truncated to 0 bytes; the errors file was
  // never checked against a schema.
  const foreignFiles: Array<{ name: string; file: "outcomesPath" | "errorsPath"; text: string; problem: string }> = [
    {
      name: "a note with no newline where the outcomes go",
      file: "outcomesPath",
      text: "my precious notes, no newline",
      problem: "exists and is not a Gavel live outcomes cache (its last line, cut short, is not a Gavel record)",
    },
    {
      name: "a note with no newline where the errors go",
      file: "errorsPath",
      text: "my precious notes, no newline",
      problem: "exists and is not a Gavel live errors file (its last line, cut short, is not a Gavel record)",
    },
    {
      name: "another app's JSON Lines where the errors go",
      file: "errorsPath",
      text: '{"keep":true}\n',
      problem: "exists and is not a Gavel live errors file (line 1 is not a failed call's record:",
    },
    {
      name: "another app's JSON with no newline where the outcomes go",
      file: "outcomesPath",
      text: '{"keep":true}',
      problem: "exists and is not a Gavel live outcomes cache (line 1 is not an outcome record:",
    },
    {
      name: "a torn line glued after notes where the outcomes go",
      file: "outcomesPath",
      text: 'notes\n{"prompt_id":"p1","pro',
      problem: "exists and is not a Gavel live outcomes cache (line 1 is not JSON)",
    },
  ];
  for (const { name, file, text, problem } of foreignFiles) {
    it(`refuses ${name}, names the path and --out, and leaves it byte for byte`, async () => {
      const folder = mkdtempSync(join(scratch, "foreign-"));
      const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
      writeFileSync(paths[file], text);
      const model = scriptedModel((prompt) => `right ${prompt.split(" ")[1]}`);
      const error = await recordLiveOutcomes({ tasks, pool: poolOf({ model }), ...paths }).catch((caught) => caught);
      expect(OutputConflictError.isInstance(error), String(error)).toBe(true);
      expect((error as OutputConflictError).path).toBe(paths[file]);
      expect((error as OutputConflictError).flag).toBe("--out");
      expect((error as Error).message).toContain(`${paths[file]}: ${problem}`);
      expect((error as Error).message).toContain("--out");
      expect(readFileSync(paths[file], "utf8")).toBe(text);
      expect(model.calls).toEqual([]);
    });
  }

  it("cuts a torn last line of its own errors file, and appends after it on a line of its own", async () => {
    const folder = join(scratch, "torn-errors");
    const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
    const flaky = scriptedModel((prompt) => (prompt === "question p2" ? new Error("503") : "x"));
    await recordLiveOutcomes({ tasks: tasks.slice(0, 2), pool: poolOf({ flaky }), ...paths });
    const text = readFileSync(paths.errorsPath, "utf8");
    writeFileSync(paths.errorsPath, `${text}${text.slice(0, 25)}`); // a second error line killed mid-write
    await recordLiveOutcomes({ tasks, pool: poolOf({ flaky }), ...paths });
    expect(lines(paths.errorsPath).map((line) => line.prompt_id)).toEqual(["p2", "p2"]);
  });

  it("keeps a complete last record that only lacks its newline", async () => {
    const folder = join(scratch, "no-newline");
    const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
    const model = scriptedModel((prompt) => `right ${prompt.split(" ")[1]}`);
    await recordLiveOutcomes({ tasks: tasks.slice(0, 1), pool: poolOf({ model }), ...paths });
    writeFileSync(paths.outcomesPath, readFileSync(paths.outcomesPath, "utf8").trimEnd());
    const resumed = await recordLiveOutcomes({ tasks, pool: poolOf({ model }), ...paths });
    expect(resumed).toMatchObject({ asked: 2, reused: 1 });
    expect(lines(paths.outcomesPath).map((line) => line.prompt_id)).toEqual(["p1", "p2", "p3"]);
  });

  it("marks wrong answers 0 and charges them", async () => {
    const folder = join(scratch, "wrong");
    const wrong = scriptedModel(() => "no idea");
    const recording = await recordLiveOutcomes({
      tasks,
      pool: poolOf({ wrong }),
      outcomesPath: join(folder, "o.jsonl"),
      errorsPath: join(folder, "e.jsonl"),
    });
    expect(recording.records.map((record) => [record.correct, record.cost_usd])).toEqual([
      [0, 0.002],
      [0, 0.002],
      [0, 0.002],
    ]);
  });

  it("stops at the budget, keeping what was answered, and resumes under a larger one", async () => {
    const folder = join(scratch, "budget");
    const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
    const model = scriptedModel((prompt) => `right ${prompt.split(" ")[1]}`);
    const stopped = recordLiveOutcomes({
      tasks,
      pool: poolOf({ model }),
      ...paths,
      concurrency: 1,
      budget: { maxUsd: 0.003 },
    });
    await expect(stopped).rejects.toThrow(LiveBudgetReachedError);
    await expect(stopped).rejects.toThrow(/1 \(prompt, model\) call\(s\) left unasked/);
    expect(lines(paths.outcomesPath)).toHaveLength(2);
    const resumed = await recordLiveOutcomes({ tasks, pool: poolOf({ model }), ...paths, budget: { maxUsd: 1 } });
    expect(resumed).toMatchObject({ asked: 1, reused: 2 });
    expect(model.calls).toHaveLength(3);
  });

  it("stops when one model fails again and again (a server down, a wrong model id)", async () => {
    const folder = join(scratch, "down");
    const down = scriptedModel(() => new Error("connect ECONNREFUSED 127.0.0.1:11434"));
    const recording = recordLiveOutcomes({
      tasks,
      pool: poolOf({ down }),
      outcomesPath: join(folder, "o.jsonl"),
      errorsPath: join(folder, "e.jsonl"),
      concurrency: 1,
      maxConsecutiveErrors: 2,
    });
    await expect(recording).rejects.toThrow(LiveBackendError);
    await expect(recording).rejects.toThrow(/model "down".*2 calls failed in a row.*ECONNREFUSED/);
    expect(down.calls).toHaveLength(2);
  });

  it("refuses a cache that holds another prompt text under the same id", async () => {
    const folder = join(scratch, "changed");
    const paths = { outcomesPath: join(folder, "o.jsonl"), errorsPath: join(folder, "e.jsonl") };
    const model = scriptedModel(() => "x");
    await recordLiveOutcomes({ tasks, pool: poolOf({ model }), ...paths });
    const changed = tasks.map((task) => ({ ...task, prompt: `${task.prompt}?` }));
    await expect(recordLiveOutcomes({ tasks: changed, pool: poolOf({ model }), ...paths })).rejects.toThrow(
      /recorded with another prompt text/,
    );
  });
});
