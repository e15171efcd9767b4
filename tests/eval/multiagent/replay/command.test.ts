import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type DebatesCommandOptions, debatesCommand } from "../../../../src/cli/debates.js";
import { EXIT_BAD_INPUT } from "../../../../src/cli/exit-codes.js";
import { runDebateReplay } from "../../../../src/eval/multiagent/replay/run.js";
import { createHashingEmbeddings } from "../../../../src/eval/routing/embedding.js";
import { runGavel } from "../../../helpers/cli.js";

const samplePath = join(import.meta.dirname, "..", "..", "..", "..", "data", "debates", "sample.jsonl");
const scratch = mkdtempSync(join(tmpdir(), "gavel-replay-debates-"));
const hashing: DebatesCommandOptions["createEmbedder"] = () => createHashingEmbeddings();

/** Run `gavel replay-debates <args>` in-process. */
function gavel(args: string[]) {
  return runGavel((writers) => [debatesCommand({ ...writers, createEmbedder: hashing })], ["replay-debates", ...args]);
}

describe("gavel replay-debates", () => {
  it("prints budget × rule rows as JSON with --json", async () => {
    const { stdout, exitCode } = await gavel(["--debates", samplePath, "--budgets", "256,2048", "--json"]);
    expect(exitCode).toBe(0);
    const output = JSON.parse(stdout);
    expect(output.budgets).toEqual([256, 2048]);
    expect(output.questions).toEqual({ total: 30, train: 15, test: 15 });
    expect(output.rows).toHaveLength(2 * 5);
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
    expect(stderr).toMatch(/none\.jsonl: no such file/);
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
