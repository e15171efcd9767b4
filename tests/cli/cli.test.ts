import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  type EvalCommandOptions,
  EXIT_BAD_INPUT,
  EXIT_NOT_IMPLEMENTED,
  EXIT_RUN_FAILED,
  evalCommand,
  sweepCommand,
} from "../../src/cli/eval.js";
import { reportCommand } from "../../src/cli/report.js";
import { GAVEL_MARKER_COMMENT } from "../../src/eval/outputs.js";
import { writeReport } from "../../src/eval/report/index.js";
import type { EvalReport } from "../../src/eval/report/results.js";
import { MissingPeerDependencyError } from "../../src/peers.js";
import { handMadeReport } from "../eval/report/fixture.js";
import { runGavel } from "../helpers/cli.js";

const here = import.meta.dirname;
const configs = join(here, "..", "..", "configs");
/** 16 prompts (two tasks) × 3 models, one cell missing: tiny-model has no outcome for capitals.15. */
const outcomes = join(here, "fixtures", "outcomes.jsonl");
const scratch = mkdtempSync(join(tmpdir(), "gavel-cli-"));

/** Run `gavel <args>` in-process (eval, sweep, report). */
function gavel(args: string[], seams: EvalCommandOptions = {}) {
  return runGavel(
    (writers) => [
      evalCommand({ ...writers, interactive: false, env: {}, ...seams }),
      sweepCommand({ ...writers, interactive: false, env: {}, ...seams }),
      reportCommand(writers),
    ],
    args,
  );
}

function writeText(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

describe("gavel report", () => {
  it("re-renders a report folder from its report.json", async () => {
    const source = await writeReport(handMadeReport("Re-rendered"), join(scratch, "source"));
    const out = join(scratch, "copy");
    const { stdout, exitCode } = await gavel(["report", "--in", source.json, "--out", out]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("Re-rendered");
    for (const file of ["report.json", "report.md", "pareto.svg", "report.html"]) {
      expect(existsSync(join(out, file))).toBe(true);
      expect(stdout).toContain(join(out, file));
    }
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain("| memory-auction | router | λ=30 | 0.851 |");
  });

  it("prints the written paths as JSON with --json", async () => {
    const source = await writeReport(handMadeReport(), join(scratch, "json-source"));
    const { stdout, exitCode } = await gavel(["report", "--in", source.json, "--json"]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout).files.html).toBe(join(scratch, "json-source", "report.html"));
  });

  it("exits with 2 on a missing or invalid report.json", async () => {
    const missing = await gavel(["report", "--in", join(scratch, "none.json")]);
    expect(missing.exitCode).toBe(EXIT_BAD_INPUT);
    expect(missing.stderr).toMatch(/none\.json: cannot read/);
    const invalid = await gavel(["report", "--in", writeText("bad.json", '{"title": 3}')]);
    expect(invalid.exitCode).toBe(EXIT_BAD_INPUT);
    expect(invalid.stderr).toMatch(/bad\.json: field "title"/);
  });
});

describe("gavel eval: bad input, missing backends and what is not implemented", () => {
  it("exits with 2 on a bad config, naming the key and the file", async () => {
    const path = writeText("bad.yaml", "name: x\nsead: 3\n");
    const { stderr, exitCode } = await gavel(["eval", "--config", path]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${path}:2:1: sead: unknown key "sead" (did you mean "seed"?)`);
  });

  it("exits with 2 when the outcomes file is missing or --train comes without --outcomes", async () => {
    expect((await gavel(["eval", "--outcomes", join(scratch, "nope.jsonl")])).exitCode).toBe(EXIT_BAD_INPUT);
    expect((await gavel(["eval", "--train", outcomes])).exitCode).toBe(EXIT_BAD_INPUT);
    expect((await gavel(["eval", "--config", join(configs, "default.yaml"), "--outcomes", outcomes])).exitCode).toBe(
      EXIT_BAD_INPUT,
    );
  });

  it("exits with 2 on an outcomes file with a bad line, naming file and line", async () => {
    const path = writeText("broken.jsonl", `${readFileSync(outcomes, "utf8").split("\n")[0]}\n{"prompt_id": "p"}\n`);
    const out = join(scratch, "broken-out");
    const { stderr, exitCode } = await gavel([
      "eval",
      "--outcomes",
      path,
      "--embedder",
      "hashing",
      "--quiet",
      "--out",
      out,
    ]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toMatch(/broken\.jsonl:2/);
  });

  it.each([
    ["gsm8k.yaml", EXIT_BAD_INPUT, /OPENAI_API_KEY/],
    ["openrouter.yaml", EXIT_BAD_INPUT, /OPENROUTER_API_KEY/],
    ["humaneval.yaml", EXIT_BAD_INPUT, /no such GGUF file/],
    ["mmlu.yaml", EXIT_RUN_FAILED, /no server answers at http:\/\/127\.0\.0\.1:11434\/v1/],
  ] as const)(
    "stops before any call on %s when its live backend is not there (exit %i)",
    async (file, code, message) => {
      const out = join(scratch, `live-${file}`);
      const { stderr, exitCode } = await gavel(["eval", "--config", join(configs, file), "--out", out, "--quiet"]);
      expect(exitCode).toBe(code);
      expect(stderr).toMatch(message);
      expect(existsSync(join(out, "live-outcomes.jsonl"))).toBe(false);
    },
  );

  it("names the key variable of a keyed backend in the not-implemented message", async () => {
    const { stderr } = await gavel(["eval", "--config", join(configs, "openrouter.yaml")]);
    expect(stderr).toContain("OPENROUTER_API_KEY");
  });

  it("stops before any call on budget_sweep.yaml (a debate sweep) when Ollama is not there (exit 1)", async () => {
    const out = join(scratch, "live-budget-sweep");
    const { stderr, exitCode } = await gavel(["sweep", "--config", join(configs, "budget_sweep.yaml"), "--out", out]);
    expect(exitCode).toBe(EXIT_RUN_FAILED);
    expect(stderr).toMatch(/no server answers at http:\/\/127\.0\.0\.1:11434\/v1/);
    expect(existsSync(join(out, "multiagent-runs.jsonl"))).toBe(false);
  });

  it("exits with 3 on a USD budget sweep of routers", async () => {
    const path = writeText("usd-sweep.yaml", "name: x\nsweep: { kind: budget, budgetsUsd: [0.001] }\n");
    const { stderr, exitCode } = await gavel(["sweep", "--config", path]);
    expect(exitCode).toBe(EXIT_NOT_IMPLEMENTED);
    expect(stderr).toMatch(/budget sweeps of routers .*not implemented in this version/);
  });

  it("exits with 1 when the run itself fails", async () => {
    const failing = async (): Promise<EvalReport> => {
      throw new Error("disk full");
    };
    const out = join(scratch, "failing-out");
    const { stderr, exitCode } = await gavel(
      ["eval", "--outcomes", outcomes, "--embedder", "hashing", "--quiet", "--out", out],
      { runEvaluation: failing },
    );
    expect(exitCode).toBe(EXIT_RUN_FAILED);
    expect(stderr).toContain("disk full");
  });

  it("exits with 2 naming the package to install when an optional package the run needs is missing", async () => {
    const missing = new MissingPeerDependencyError("@energetic-ai/embeddings", "the USE-Lite encoder");
    const { stderr, exitCode } = await gavel(["eval", "--outcomes", outcomes, "--quiet", "--no-ledger"], {
      createEmbedder: () => Promise.reject(missing),
    });
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain("npm install @energetic-ai/embeddings");
  });
});

describe("gavel eval without vega", () => {
  it("writes report.json, report.md and report.html, skips pareto.svg and warns once", async () => {
    const out = join(scratch, "no-vega");
    mkdirSync(out, { recursive: true });
    // An earlier run's plot (Gavel's marker in it), not this report's: removed.
    writeFileSync(join(out, "pareto.svg"), `<svg>${GAVEL_MARKER_COMMENT}an earlier run's plot</svg>`);
    const renderPlot = () =>
      Promise.reject(new MissingPeerDependencyError("vega", "pareto.svg", { install: "npm install vega vega-lite" }));
    const { stderr, exitCode } = await gavel(
      ["eval", "--outcomes", outcomes, "--embedder", "hashing", "--quiet", "--no-ledger", "--out", out],
      { renderPlot },
    );
    expect(exitCode).toBe(0);
    expect(stderr.match(/npm install vega vega-lite/g)).toHaveLength(1);
    expect(stderr).toContain("(and report.json, report.md) in");
    for (const file of ["report.json", "report.md", "report.html"]) expect(existsSync(join(out, file))).toBe(true);
    expect(existsSync(join(out, "pareto.svg"))).toBe(false);
  });
});

describe("gavel eval on recorded outcomes", () => {
  const out = join(scratch, "eval-out");

  it("trains on a deterministic split, evaluates routers and baselines, writes the report, prints JSON", async () => {
    const { stdout, stderr, exitCode } = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--embedder",
      "hashing",
      "--out",
      out,
      "--json",
    ]);
    expect(exitCode).toBe(0);
    const result = JSON.parse(stdout) as {
      policies: EvalReport["policies"];
      dataset: EvalReport["dataset"];
      strongModel: string;
      weakModel: string;
      files: Record<string, string>;
    };
    const names = result.policies.map((policy) => policy.name);
    expect(names).toEqual(
      expect.arrayContaining([
        "memory-batch",
        "memory-online",
        "auto-batch",
        "auto-online",
        "single:tiny-model",
        "single:mid-model",
        "single:big-model",
        "random",
        "static-per-task",
        "oracle",
      ]),
    );
    // the reference pair is picked from the data: the most accurate model and the cheapest less accurate one
    expect(result.strongModel).toBe("big-model");
    expect(result.weakModel).toBe("tiny-model");
    expect(result.dataset.trainPrompts + result.dataset.testPrompts).toBe(15); // capitals.15 has no tiny-model answer: left out (a recorded member cannot answer it)
    const big = result.policies.find((policy) => policy.name === "single:big-model");
    expect(big?.points[0]?.accuracy).toBe(1);
    for (const file of Object.values(result.files)) expect(existsSync(file)).toBe(true);
    // progress is logged line by line when stderr is not a terminal, and the wall time is reported
    expect(stderr).toMatch(/^route memory-batch λ=[\d.]+: 100% \(\d+\/\d+\)$/m);
    expect(stderr).toMatch(/Report written to .*report\.html .* in \d+\.\d s\./);
  });

  it("is deterministic: the same run gives the same figures", async () => {
    const again = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--embedder",
      "hashing",
      "--out",
      out,
      "--json",
      "--quiet",
    ]);
    const first = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--embedder",
      "hashing",
      "--out",
      out,
      "--json",
      "--quiet",
    ]);
    expect(JSON.parse(again.stdout).policies).toEqual(JSON.parse(first.stdout).policies);
  });

  it("trains on --train and evaluates on all of --outcomes", async () => {
    // The training file holds other prompts (same tasks and models): ids prefixed with "train-".
    const train = writeText(
      "train.jsonl",
      readFileSync(outcomes, "utf8").replace(/"prompt_id": ?"/g, (match) => `${match}train-`),
    );
    const { stdout, exitCode } = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--train",
      train,
      "--embedder",
      "hashing",
      "--out",
      join(scratch, "train-out"),
      "--json",
      "--quiet",
    ]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout).dataset.testPrompts).toBe(15); // all of --outcomes but capitals.15, which tiny-model did not answer
  });

  it("prints human tables without --json", async () => {
    const { stdout, exitCode } = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--embedder",
      "hashing",
      "--out",
      out,
      "--quiet",
    ]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("Router measures");
    expect(stdout).toMatch(/│ single:big-model\s+│ alone|│ big-model/);
  });

  it("runs the default config when given no arguments", async () => {
    const config = writeText(
      "default.yaml",
      `name: fixture\ndata:\n  source: recorded\n  outcomes: ${outcomes}\nembedder: hashing\noutput: ${join(scratch, "default-out")}\n`,
    );
    const { exitCode } = await gavel(["eval", "--quiet"], { defaultConfig: config });
    expect(exitCode).toBe(0);
    expect(existsSync(join(scratch, "default-out", "report.html"))).toBe(true);
  });

  it("--fail-on-target exits with 1 when a target is missed", async () => {
    const run = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--embedder",
      "hashing",
      "--out",
      out,
      "--json",
      "--quiet",
    ]);
    const missed = (JSON.parse(run.stdout).targets as Array<{ met: boolean }>).some((target) => !target.met);
    const strict = await gavel([
      "eval",
      "--outcomes",
      outcomes,
      "--embedder",
      "hashing",
      "--out",
      out,
      "--quiet",
      "--fail-on-target",
    ]);
    expect(strict.exitCode).toBe(missed ? EXIT_RUN_FAILED : 0);
  });
});

describe("gavel sweep", () => {
  it("prints every router point of the λ / threshold sweep, Pareto points marked", async () => {
    const { stdout, exitCode } = await gavel([
      "sweep",
      "--outcomes",
      outcomes,
      "--embedder",
      "hashing",
      "--out",
      join(scratch, "sweep-out"),
      "--json",
      "--quiet",
    ]);
    expect(exitCode).toBe(0);
    const { sweep } = JSON.parse(stdout) as { sweep: Array<{ policy: string; paretoOptimal: boolean }> };
    expect(new Set(sweep.map((row) => row.policy))).toEqual(
      new Set(["memory-batch", "memory-online", "auto-batch", "auto-online"]),
    );
    expect(sweep.some((row) => row.paretoOptimal)).toBe(true);
  });
});

describe("gavel eval --debates", () => {
  it("replays recorded debates under every budget of the sweep and prints JSON", async () => {
    const debates = join(import.meta.dirname, "..", "..", "data", "debates", "sample.jsonl");
    const { stdout, exitCode } = await gavel(["eval", "--debates", debates, "--embedder", "hashing", "--json"]);
    expect(exitCode).toBe(0);
    const { budgets, rows } = JSON.parse(stdout) as {
      budgets: number[];
      rows: Array<{ budget: number; rule: string; meanTokens: number }>;
    };
    expect(budgets).toEqual([256, 512, 1024, 1536, 2048]);
    expect(new Set(rows.map((row) => row.rule))).toContain("full-debate");
    for (const row of rows.filter((row) => row.rule !== "full-debate")) {
      expect(row.meanTokens).toBeLessThanOrEqual(row.budget);
    }
  });

  it("exits with 2 when the debates file is missing", async () => {
    const { exitCode } = await gavel(["eval", "--debates", join(scratch, "nope.jsonl"), "--embedder", "hashing"]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
  });
});
