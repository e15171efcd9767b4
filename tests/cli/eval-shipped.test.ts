import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_BAD_INPUT, evalCommand } from "../../src/cli/eval.js";
import type { EvalReport } from "../../src/eval/report/results.js";
import { runGavel } from "../helpers/cli.js";

/** 16 prompts (arithmetic, capitals) × 3 models (tiny, mid, big). */
const outcomes = join(import.meta.dirname, "fixtures", "outcomes.jsonl");
const scratch = mkdtempSync(join(tmpdir(), "gavel-eval-shipped-"));

function gavel(args: string[]) {
  return runGavel((writers) => [evalCommand({ ...writers, interactive: false, env: {} })], args);
}

describe("gavel eval: the shipped router's options", () => {
  it("exits with 2 naming a --train file that does not exist, before any work", async () => {
    const missing = join(scratch, "no-such-train.jsonl");
    const { stderr, exitCode } = await gavel(["eval", "--outcomes", outcomes, "--train", missing, "--no-ledger"]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${missing}: no such file`);
  });

  it("--train none evaluates every prompt from an empty memory, in both protocols", async () => {
    const { stdout, exitCode } = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--train",
      "none",
      "--embedder",
      "hashing",
      "--out",
      join(scratch, "cold"),
      "--no-ledger",
      "--json",
      "--quiet",
    ]);
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout) as { policies: EvalReport["policies"]; dataset: EvalReport["dataset"] };
    expect(result.dataset.trainPrompts).toBe(0);
    expect(result.dataset.split).toContain("none");
    const protocols = result.policies.filter((policy) => policy.kind === "router").map((policy) => policy.protocol);
    expect(new Set(protocols)).toEqual(new Set(["batch", "online"]));
  });

  it("--leave-out prints one row per held-out dataset; an unknown dataset exits with 2 naming the file's", async () => {
    const out = join(scratch, "leave-out");
    const { stdout, exitCode } = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--leave-out",
      "all",
      "--embedder",
      "hashing",
      "--out",
      out,
      "--json",
      "--quiet",
    ]);
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout) as { policies: EvalReport["policies"]; files: Record<string, string> };
    const report = JSON.parse(stdout) as { leaveOut?: EvalReport["leaveOut"] };
    expect(result.files.json).toBe(join(out, "report.json"));
    const written = JSON.parse(readFileSync(join(out, "report.json"), "utf8")) as EvalReport;
    expect(written.leaveOut?.map((row) => row.dataset)).toEqual(["arithmetic", "capitals"]);
    expect(report.leaveOut).toEqual(written.leaveOut); // the table is in the JSON on stdout and in report.json
    for (const row of written.leaveOut ?? []) {
      expect(Object.keys(row.shares).sort()).toEqual(["auto-online", "memory-online"]);
      expect(row.randomShare).toBeGreaterThanOrEqual(0);
    }
    const text = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--leave-out",
      "capitals",
      "--embedder",
      "hashing",
      "--out",
      join(scratch, "lo2"),
      "--quiet",
    ]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain("random share");
    expect(text.stdout).toMatch(/capitals/);

    const unknown = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--leave-out",
      "mbpp",
      "--embedder",
      "hashing",
      "--out",
      join(scratch, "lo3"),
      "--quiet",
    ]);
    expect(unknown.exitCode).toBe(EXIT_BAD_INPUT);
    expect(unknown.stderr).toContain('no dataset "mbpp" to leave out; the file has arithmetic, capitals');
  });

  it("--leave-out with --train is refused (exit 2)", async () => {
    const { stderr, exitCode } = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--train",
      outcomes,
      "--leave-out",
      "all",
    ]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain("--leave-out");
  });
});
