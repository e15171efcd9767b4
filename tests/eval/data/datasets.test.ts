/**
 * The shipped data loads with the record counts the sources publish, and a bad line names its file,
 * line and field.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../../src/errors.js";
import {
  DATA_FILES,
  dataDirectory,
  loadGsm8k,
  loadHumanEval,
  loadJsonLines,
  loadMbpp,
  loadMmlu,
  loadSvamp,
  mmluQuestionSchema,
  writeJsonLines,
} from "../../../src/eval/data/datasets.js";
import { DataError } from "../../../src/eval/errors.js";

const root = join(import.meta.dirname, "..", "..", "..");

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "gavel-datasets-test-"));
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

describe("dataDirectory", () => {
  it("finds data/ next to package.json from src/", () => {
    expect(dataDirectory()).toBe(join(root, "data"));
  });

  it("finds the same folder from where the built module lives (dist/src/eval/data/)", () => {
    const built = pathToFileURL(join(root, "dist", "src", "eval", "data", "datasets.js")).href;
    expect(dataDirectory(built)).toBe(join(root, "data"));
  });

  it("every shipped file is gzip and well under 20 MB", async () => {
    const { stat, readFile } = await import("node:fs/promises");
    for (const relative of Object.values(DATA_FILES)) {
      const path = join(root, "data", relative);
      expect((await stat(path)).size).toBeLessThan(20 * 1024 * 1024);
      const bytes = await readFile(path);
      expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    }
  });
});

describe("loaders on the shipped files", () => {
  it("GSM8K: 1,319 test problems with a final answer", async () => {
    const problems = await loadGsm8k();
    expect(problems).toHaveLength(1319);
    expect(problems[0]).toMatchObject({ id: "gsm8k-test-0", final_answer: "18" });
  });

  it("MMLU: the 500 subset (10 subjects × 50) and the 14,042 test set", async () => {
    const subset = await loadMmlu();
    expect(subset).toHaveLength(500);
    expect(new Set(subset.map((question) => question.subject)).size).toBe(10);
    const all = await loadMmlu({ variant: "test_all" });
    expect(all).toHaveLength(14_042);
  });

  it("HumanEval: 164 problems", async () => {
    const problems = await loadHumanEval();
    expect(problems).toHaveLength(164);
    expect(problems[0]?.entry_point).toBe("has_close_elements");
  });

  it("MBPP: 974 normalised tasks split by the paper's ranges; the 427 sanitized ones in the same shape", async () => {
    const normalized = await loadMbpp();
    expect(normalized).toHaveLength(974);
    const bySplit = Object.fromEntries(
      ["prompt", "test", "validation", "train"].map((split) => [
        split,
        normalized.filter((task) => task.split === split).length,
      ]),
    );
    expect(bySplit).toEqual({ prompt: 10, test: 500, validation: 90, train: 374 });
    const sanitized = await loadMbpp({ variant: "sanitized" });
    expect(sanitized).toHaveLength(427);
    expect(sanitized[0]).toMatchObject({
      task_id: 2,
      split: "prompt",
      entry_point: "similar_elements",
      challenge_tests: [],
    });
  });

  it("SVAMP: 1,000 problems with numeric answers", async () => {
    const problems = await loadSvamp();
    expect(problems).toHaveLength(1000);
    expect(problems[0]).toMatchObject({ ID: "chal-1", Answer: 51 });
  });

  it("rejects an unknown option, naming it", async () => {
    await expect(loadMmlu({ variant: "dev" } as never)).rejects.toSatisfy(
      (error) => ConfigError.isInstance(error) && (error as ConfigError).fields.includes("variant"),
    );
  });
});

describe("JSON Lines reading", () => {
  const good = { id: "q1", subject: "x", question: "?", choices: ["a", "b", "c", "d"], answer: "A" };

  it("reads plain and gzipped files alike, skipping blank lines", async () => {
    const plain = join(scratch, "plain.jsonl");
    await writeFile(plain, `${JSON.stringify(good)}\n\n${JSON.stringify({ ...good, id: "q2" })}\n`);
    const gzipped = join(scratch, "nested", "copy.jsonl.gz");
    await writeJsonLines(gzipped, [good, { ...good, id: "q2" }]);
    expect(await loadJsonLines(plain, mmluQuestionSchema)).toEqual(await loadJsonLines(gzipped, mmluQuestionSchema));
  });

  it("a record that breaks the schema names the file, the line and the field", async () => {
    const path = join(scratch, "bad.jsonl");
    const bad = { ...good, id: "q3", choices: ["a", 2, "c", "d"] };
    await writeFile(path, [good, { ...good, id: "q2" }, bad].map((record) => JSON.stringify(record)).join("\n"));
    const error = await loadJsonLines(path, mmluQuestionSchema).catch((caught: unknown) => caught);
    expect(DataError.isInstance(error)).toBe(true);
    const dataError = error as DataError;
    expect(dataError.file).toBe(path);
    expect(dataError.line).toBe(3);
    expect(dataError.fields).toEqual(["choices.1"]);
    expect(dataError.message).toContain(`${path}:3:`);
    expect(dataError.message).toContain('"choices.1"');
  });

  it("a line that is not JSON names the file and the line", async () => {
    const path = join(scratch, "broken.jsonl.gz");
    await writeJsonLines(path, [good]);
    const { gzipSync } = await import("node:zlib");
    await writeFile(path, gzipSync(`${JSON.stringify(good)}\n{"id": "q2",\n`));
    await expect(loadJsonLines(path, mmluQuestionSchema)).rejects.toThrow(`${path}:2: not valid JSON`);
  });

  it("a missing file is a DataError naming it", async () => {
    const path = join(scratch, "missing.jsonl");
    await expect(loadJsonLines(path, mmluQuestionSchema)).rejects.toSatisfy(
      (error) => DataError.isInstance(error) && (error as DataError).file === path,
    );
  });
});
