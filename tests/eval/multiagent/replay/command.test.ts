import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type DebatesCommandOptions, debatesCommand } from "../../../../src/cli/debates.js";
import { evalCommand } from "../../../../src/cli/eval.js";
import { EXIT_BAD_INPUT } from "../../../../src/cli/exit-codes.js";
import { runDebateReplay } from "../../../../src/eval/multiagent/replay/run.js";
import { createHashingEmbeddings } from "../../../../src/eval/routing/embedding.js";
import { runGavel } from "../../../helpers/cli.js";
import { writeRuns } from "./runs-fixture.js";

const samplePath = join(import.meta.dirname, "..", "..", "..", "..", "data", "debates", "sample.jsonl");
const scratch = mkdtempSync(join(tmpdir(), "gavel-replay-debates-"));
const hashing: DebatesCommandOptions["createEmbedder"] = () => createHashingEmbeddings();

/** Run `gavel replay-debates <args>` in-process. */
function gavel(args: string[]) {
  return runGavel(
    (writers) => [debatesCommand({ ...writers, interactive: false, createEmbedder: hashing })],
    ["replay-debates", ...args],
  );
}

/** Fast rules for the tests that replay several files (every rule is exercised elsewhere). */
const FEW_RULES = ["--rules", "reliability-weighted,stop-on-agreement", "--budgets", "256,2048"];

interface RunsJson {
  questions: { total: number; train: number; test: number };
  rows: Array<{ budget: number; rule: string; questions: number; accuracy: number }>;
  runs: Array<{
    file: string;
    questions: { total: number; train: number; test: number };
    ignoredKeys: string[];
    reliability: Record<string, unknown>;
    rows: Array<{ budget: number; rule: string; questions: number; accuracy: number }>;
  }>;
}

describe("gavel replay-debates", () => {
  it("prints budget × rule rows as JSON with --json", async () => {
    const { stdout, exitCode } = await gavel(["--debates", samplePath, "--budgets", "256,2048", "--json"]);
    expect(exitCode).toBe(0);
    const output = JSON.parse(stdout);
    expect(output.budgets).toEqual([256, 2048]);
    expect(output.questions).toEqual({ total: 30, train: 15, test: 15 });
    expect(new Set(output.rows.map((row: { rule: string }) => row.rule))).toContain("full-debate");
    expect(output.runs).toEqual([
      {
        file: samplePath,
        questions: output.questions,
        ignoredKeys: [],
        reliability: output.reliability,
        tuned: output.tuned,
        rows: output.rows,
      },
    ]);
    expect(Object.keys(output.reliability)).toEqual(["agent-1", "agent-2", "agent-3"]);
    for (const row of output.rows) {
      expect(row).toHaveProperty("accuracy");
      expect(row).toHaveProperty("meanTokens");
      expect(row).toHaveProperty("costEfficiency");
      expect(row).toHaveProperty("stoppedEarlyShare");
      if (row.rule !== "full-debate") expect(row.overBudgetShare).toBe(0);
    }
  });

  it("prints a readable table by default", async () => {
    const { stdout, exitCode } = await gavel([
      "--debates",
      samplePath,
      "--rules",
      "stop-on-agreement",
      "--train-fraction",
      "0",
    ]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("30 questions: 0 fit the reliabilities, 30 replayed");
    expect(stdout).toMatch(/2048 │ stop-on-agreement/);
    expect(stdout).toMatch(/2048 │ full-debate/);
  });

  it("exits with 2 naming file, line and field of a bad line", async () => {
    const path = join(scratch, "bad.jsonl");
    writeFileSync(
      path,
      `${JSON.stringify({ id: "a", task: "mmlu", question: "?", gold: "B", agents: [["B"]] })}\n${JSON.stringify({ id: "b", task: "mmlu", question: "?", gold: "B", agents: "B" })}\n`,
    );
    const { stderr, exitCode } = await gavel(["--debates", path]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${path}:2: field "agents":`);
  });

  it("exits with 2 on a missing file", async () => {
    const { stderr, exitCode } = await gavel(["--debates", join(scratch, "none.jsonl")]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toMatch(/none\.jsonl: no such file or folder/);
  });

  it("loads a file with extra keys, warns once listing them, and replays it as the file without them", async () => {
    const lines = readFileSync(samplePath, "utf8")
      .split("\n")
      .filter((line) => line.trim() !== "");
    const extra = lines.map((line, index) =>
      JSON.stringify({
        run_id: "run-42",
        ...JSON.parse(line),
        solution: `worked solution ${index}`,
        timestamp: 1_764_800_000 + index,
        ...(index % 2 === 0 ? { nested: { judge: { score: index }, tags: ["x"] } } : {}),
      }),
    );
    const path = join(scratch, "with-extra-keys.jsonl");
    writeFileSync(path, `${extra.join("\n")}\n`);

    const plain = await gavel(["--debates", samplePath, ...FEW_RULES, "--json"]);
    const real = await gavel(["--debates", path, ...FEW_RULES, "--json"]);
    expect([plain.exitCode, real.exitCode]).toEqual([0, 0]);
    expect(plain.stderr).toBe("");
    expect(real.stderr).toBe(`warning: ${path}: ignored keys nested, run_id, solution, timestamp (kept as metadata)\n`);
    const [plainJson, realJson] = [JSON.parse(plain.stdout), JSON.parse(real.stdout)];
    expect(realJson.rows).toEqual(plainJson.rows);
    expect(realJson.replays).toEqual(plainJson.replays);
    expect(realJson.runs[0].ignoredKeys).toEqual(["nested", "run_id", "solution", "timestamp"]);
  });

  it("replays a folder run by run (2 and 3 agents) and sums the table, with per-run rows in the JSON", async () => {
    const { runs, a, b } = writeRuns();
    const { stdout, stderr, exitCode } = await gavel(["--debates", runs, ...FEW_RULES, "--json"]);
    expect(exitCode).toBe(0);
    expect(stderr).toBe("route debate replay: 50% (1/2)\nroute debate replay: 100% (2/2)\n");
    const output = JSON.parse(stdout) as RunsJson;
    expect(output.runs.map((run) => [run.file, run.questions.total, Object.keys(run.reliability).length])).toEqual([
      [a, 8, 2],
      [b, 4, 3],
    ]);
    expect(output.questions).toEqual({ total: 12, train: 6, test: 6 });
    expect(output).not.toHaveProperty("replays");
    for (const summed of output.rows) {
      const parts = output.runs.map((run) =>
        run.rows.find((part) => part.budget === summed.budget && part.rule === summed.rule),
      );
      const weighted = parts.reduce(
        (total, part) => total + (part?.accuracy ?? Number.NaN) * (part?.questions ?? 0),
        0,
      );
      expect(summed.questions).toBe(6);
      expect(summed.accuracy).toBeCloseTo(weighted / 6, 12);
    }
  });

  it("prints the summed table and one summary line per run", async () => {
    const { runs, a, b } = writeRuns();
    const { stdout, exitCode } = await gavel(["--debates", runs, ...FEW_RULES, "--quiet"]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("Recorded debates: 2 runs, replayed one by one");
    expect(stdout).toContain("12 questions: 6 fit the reliabilities, 6 replayed (seed 0)");
    expect(stdout).toMatch(/2048 │ full-debate/);
    expect(stdout).toContain("Per run, at 2048 tokens");
    expect(stdout).toMatch(/Targets \(on the summed rows\):\n {2}(met|NOT met): At every budget/);
    const runLines = stdout.split("\n").filter((line) => line.includes(a) || line.includes(b));
    expect(runLines).toHaveLength(2);
    expect(runLines[0]).toMatch(/│ +4\/8 │ (reliability-weighted|stop-on-agreement) +│/);
    expect(runLines[1]).toMatch(/│ +2\/4 │ (reliability-weighted|stop-on-agreement) +│/);
  });

  it("takes a glob, or several paths as a shell expands one", async () => {
    const { runs, a, b } = writeRuns();
    const globbed = await gavel(["--debates", join(runs, "[ab].jsonl"), ...FEW_RULES, "--json"]);
    const listed = await gavel(["--debates", a, b, ...FEW_RULES, "--json"]);
    expect([globbed.exitCode, listed.exitCode]).toEqual([0, 0]);
    const fromGlob = JSON.parse(globbed.stdout) as RunsJson;
    const fromList = JSON.parse(listed.stdout) as RunsJson;
    expect(fromGlob.runs.map((run) => run.file)).toEqual([a, b]);
    expect(fromGlob.rows).toEqual(fromList.rows);
  });

  it("exits with 2 naming an empty folder or a glob that matches nothing", async () => {
    const { runs, empty } = writeRuns();
    const folder = await gavel(["--debates", empty]);
    expect(folder.exitCode).toBe(EXIT_BAD_INPUT);
    expect(folder.stderr).toContain(`error: ${empty}: no .jsonl or .jsonl.gz file directly in this folder`);
    const pattern = join(runs, "*.jsonl.gz");
    const glob = await gavel(["--debates", pattern]);
    expect(glob.exitCode).toBe(EXIT_BAD_INPUT);
    expect(glob.stderr).toContain(`error: ${pattern}: no file matches this glob`);
  });

  it("runs the same way as gavel eval --debates FOLDER", async () => {
    const { runs, a, b } = writeRuns();
    const { stdout, stderr, exitCode } = await runGavel(
      (writers) => [evalCommand({ ...writers, interactive: false, env: {} })],
      ["eval", "--debates", runs, "--embedder", "hashing", "--json"],
    );
    expect(exitCode).toBe(0);
    expect(stderr).toContain("route debate replay: 100% (2/2)");
    const output = JSON.parse(stdout) as RunsJson;
    expect(output.runs.map((run) => run.file)).toEqual([a, b]);
    expect(output.questions.total).toBe(12);
    const empty = await runGavel(
      (writers) => [evalCommand({ ...writers, interactive: false, env: {} })],
      ["eval", "--debates", join(runs, "*.gz"), "--embedder", "hashing"],
    );
    expect(empty.exitCode).toBe(EXIT_BAD_INPUT);
  });

  it("rejects an unknown rule and a train fraction of 1", async () => {
    const rule = await gavel(["--debates", samplePath, "--rules", "coin-flip"]);
    expect(rule.exitCode).not.toBe(0);
    expect(rule.stderr).toMatch(/unknown rule coin-flip/);
    const fraction = await gavel(["--debates", samplePath, "--train-fraction", "1"]);
    expect(fraction.exitCode).not.toBe(0);
    expect(fraction.stderr).toMatch(/\[0, 1\)/);
  });

  it("builds the embedder only when econ-commitment runs", async () => {
    const asked: string[] = [];
    const createEmbedder = (kind: string) => {
      asked.push(kind);
      return createHashingEmbeddings();
    };
    await runDebateReplay({ debates: samplePath, rules: ["stop-on-agreement"], budgets: [512] }, { createEmbedder });
    expect(asked).toEqual([]);
    await runDebateReplay({ debates: samplePath, budgets: [512] }, { createEmbedder });
    expect(asked).toEqual(["use-lite"]);
  });
});

describe("gated's auction from the command line, and eval --debates' flags", () => {
  it("passes --mechanism, --reserve-price and --top-k to gated", async () => {
    const args = ["--debates", samplePath, "--rules", "gated", "--budgets", "512", "--json"];
    const { stdout, exitCode } = await gavel([
      ...args,
      "--mechanism",
      "first_price",
      "--reserve-price",
      "0.2",
      "--top-k",
      "2",
    ]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout).gated).toEqual({
      mechanism: "first_price",
      reservePrice: 0.2,
      topK: 2,
      aggressiveness: {},
      aggregation: "weighted",
    });
  });

  it.each([
    ["--mechanism", "coin"],
    ["--reserve-price", "-1"],
    ["--top-k", "0"],
    ["--top-k", "1.5"],
  ])("refuses a bad %s value naming the flag (a usage error: the gavel binary exits with 2)", async (flag, value) => {
    const { stderr, exitCode } = await gavel(["--debates", samplePath, flag, value]);
    // In-process the helper overrides commander's exit; usageErrorsExitWithCode2 maps this to 2.
    expect(exitCode).not.toBe(0);
    expect(stderr).toContain(`option '${flag} `);
  });

  it("gavel eval --debates passes --seed through (it was ignored) and refuses flags a replay cannot honour", async () => {
    const evalGavel = (args: string[]) =>
      runGavel((writers) => [evalCommand({ ...writers, interactive: false, env: {} })], ["eval", ...args]);
    const common = ["--debates", samplePath, "--embedder", "hashing", "--json", "--quiet"];
    const seeded = await evalGavel([...common, "--seed", "3"]);
    expect(seeded.exitCode).toBe(0);
    expect(JSON.parse(seeded.stdout).seed).toBe(3);
    const refused = await evalGavel([...common, "--max-prompts", "5"]);
    expect(refused.exitCode).toBe(EXIT_BAD_INPUT);
    expect(refused.stderr).toContain("--max-prompts cannot be used with --debates");
  });

  it("prints — under 'by rule' for the baselines that stop after round 0 by design", async () => {
    const { stdout } = await gavel(["--debates", samplePath, "--rules", "gated", "--budgets", "512", "--quiet"]);
    const line = (rule: string) => stdout.split("\n").find((text) => text.includes(` ${rule} `)) ?? "";
    expect(line("one-agent")).toContain("—");
    expect(line("round0-majority")).toContain("—");
    expect(line("gated")).not.toContain("—");
  });
});
