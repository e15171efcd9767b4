import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_BAD_INPUT, EXIT_NOT_IMPLEMENTED, EXIT_RUN_FAILED } from "../../src/cli/exit-codes.js";
import { type TrainCommandOptions, trainCommand } from "../../src/cli/train.js";
import { executorWeightsFromJson } from "../../src/coordination/weights.js";
import { generateSyntheticTrainingTasks, weightsFromJson } from "../../src/router/weights.js";
import { runGavel } from "../helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "gavel-train-"));

/** Run `gavel train <args>` in-process. */
function gavel(args: string[], seams: Omit<TrainCommandOptions, "stdout" | "stderr"> = {}) {
  return runGavel((writers) => [trainCommand({ ...writers, ...seams })], args);
}

function writeLines(name: string, lines: unknown[]): string {
  const path = join(scratch, name);
  writeFileSync(path, `${lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n")}\n`);
  return path;
}

/** Synthetic tasks (generated, not a product figure): enough to fit quickly and hold some out. */
const syntheticTasks = writeLines("synthetic.jsonl", generateSyntheticTrainingTasks({ seed: 3, count: 20 }));

describe("gavel train router", () => {
  it("fits on the training part, saves reloadable weights and prints both held-out rows", async () => {
    const out = join(scratch, "router-weights.json");
    const { stdout, exitCode } = await gavel([
      "train",
      "router",
      "--tasks",
      syntheticTasks,
      "--holdout-fraction",
      "0.3",
      "--seed",
      "1",
      "--time-limit",
      "5",
      "--out",
      out,
    ]);
    expect(exitCode).toBe(0);
    const fitted = weightsFromJson(readFileSync(out, "utf8"));
    expect(fitted.status).not.toBe("fallback");
    expect(fitted.trainedOn).toBe(14);
    expect(Object.keys(fitted.weights.jury).sort()).toEqual(["large", "small"]);
    expect(stdout).toContain("14 training tasks, 6 held out");
    expect(stdout).toMatch(/│ fitted +│ +[\d.]+% │/);
    expect(stdout).toMatch(/│ default +│ +[\d.]+% │/);
    expect(stdout).toContain("share to dearest");
    expect(stdout).toContain(out);
  }, 60_000);

  it("prints the fit and both evaluations as JSON, and the split depends only on the seed", async () => {
    const run = async (out: string) => {
      const { stdout, exitCode } = await gavel([
        "train",
        "router",
        "--tasks",
        syntheticTasks,
        "--seed",
        "7",
        "--time-limit",
        "5",
        "--out",
        join(scratch, out),
        "--json",
      ]);
      expect(exitCode).toBe(0);
      return JSON.parse(stdout);
    };
    const first = await run("a.json");
    const second = await run("b.json");
    expect(first.split).toEqual({ seed: 7, holdoutFraction: 0.3, training: 14, heldOut: 6 });
    expect(first.heldOut.fitted.tasks).toBe(6);
    expect(first.heldOut.default.tasks).toBe(6);
    expect(first.heldOut.fitted).toHaveProperty("meanRegret");
    expect(first.heldOut.default).toHaveProperty("worstCaseRegret");
    // The split (hence the defaults' figures) is fixed by the seed; the fit too, unless HiGHS hit its time limit.
    expect(second.split).toEqual(first.split);
    expect(second.heldOut.default).toEqual(first.heldOut.default);
    if (first.fit.status === "optimal" && second.fit.status === "optimal")
      expect(second.weights).toEqual(first.weights);
  }, 60_000);

  it("reports a solver failure: default weights saved with status fallback, exit code 1", async () => {
    const out = join(scratch, "fallback.json");
    const { stdout, stderr, exitCode } = await gavel(["train", "router", "--tasks", syntheticTasks, "--out", out], {
      loadSolver: async () => {
        throw new Error("no WebAssembly here");
      },
    });
    expect(exitCode).toBe(EXIT_RUN_FAILED);
    expect(stdout).toContain("FALLBACK");
    expect(stderr).toContain("DEFAULT weights");
    expect(weightsFromJson(readFileSync(out, "utf8")).status).toBe("fallback");
  });

  it("exits with 2 on a bad line, naming the file, the line and the field", async () => {
    const [first, second] = generateSyntheticTrainingTasks({ seed: 1, count: 2 });
    const broken = { ...second, bids: second?.bids.map((bid) => ({ ...bid, price: -1 })) };
    const path = writeLines("bad-field.jsonl", [first, broken]);
    const { stderr, exitCode } = await gavel(["train", "router", "--tasks", path]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${path}:2: field "bids.0.price"`);

    const notJson = writeLines("not-json.jsonl", [first, "", "{oops"]);
    const parsed = await gavel(["train", "router", "--tasks", notJson]);
    expect(parsed.exitCode).toBe(EXIT_BAD_INPUT);
    expect(parsed.stderr).toContain(`${notJson}:3: not valid JSON`);
  });

  it("exits with 2 on a bid missing a juror's score, naming the line of that task", async () => {
    const tasks = generateSyntheticTrainingTasks({ seed: 2, count: 6 });
    // Every task but the first lacks juror "large" on its second bid, so the training part holds some.
    for (const task of tasks.slice(1)) {
      const bid = task.bids[1];
      if (bid !== undefined) bid.jury = { small: bid.jury.small ?? 0 };
    }
    const path = writeLines("missing-juror.jsonl", tasks);
    const { stderr, exitCode } = await gavel(["train", "router", "--tasks", path, "--holdout-fraction", "0.2"]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toMatch(/missing-juror\.jsonl:[2-6]: field "bids\.1\.jury\.large": .*no score from juror "large"/);
  });

  it("exits with 2 on a missing file, an empty file and a bad option", async () => {
    expect((await gavel(["train", "router", "--tasks", join(scratch, "none.jsonl")])).exitCode).toBe(EXIT_BAD_INPUT);
    const empty = writeLines("empty.jsonl", []);
    const emptyRun = await gavel(["train", "router", "--tasks", empty]);
    expect(emptyRun.exitCode).toBe(EXIT_BAD_INPUT);
    expect(emptyRun.stderr).toContain("no records");
    const badFraction = await gavel(["train", "router", "--tasks", syntheticTasks, "--holdout-fraction", "1.5"]);
    expect(badFraction.stderr).toContain("strictly between 0 and 1");
    expect(badFraction.exitCode).not.toBe(0);
  });
});

describe("gavel train executors", () => {
  it("fits smoothed accuracies and saves JSON that executorWeightsFromJson reloads", async () => {
    const path = writeLines("records.jsonl", [
      { executor: "careful", correct: true },
      { executor: "careful", correct: true },
      { executor: "careful", correct: true },
      { executor: "hasty", correct: false },
    ]);
    const out = join(scratch, "executor-weights.json");
    const { stdout, exitCode } = await gavel(["train", "executors", "--records", path, "--out", out]);
    expect(exitCode).toBe(0);
    const weights = executorWeightsFromJson(readFileSync(out, "utf8"));
    expect(weights.executors.careful?.weight).toBeCloseTo(0.8);
    expect(weights.executors.hasty?.weight).toBeCloseTo(1 / 3);
    expect(stdout).toContain("careful");
    expect(stdout).toContain("0.8000");

    const json = await gavel(["train", "executors", "--records", path, "--prior", "2", "--out", out, "--json"]);
    expect(JSON.parse(json.stdout).weights.executors.careful.weight).toBeCloseTo(5 / 7);
  });

  it("exits with 2 on a bad record, naming the line and the field", async () => {
    const path = writeLines("bad-records.jsonl", [
      { executor: "careful", correct: true },
      { executor: "hasty", correct: "yes" },
    ]);
    const { stderr, exitCode } = await gavel(["train", "executors", "--records", path]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${path}:2: field "correct"`);
  });
});

describe("gavel train debate", () => {
  // The runs against a live (test) backend are in train-debate.test.ts.
  it("needs --config: a usage error, not the retired exit code 3", async () => {
    const { stderr, exitCode } = await gavel(["train", "debate", "--debates", "x.jsonl"]);
    expect(exitCode).not.toBe(0);
    expect(exitCode).not.toBe(EXIT_NOT_IMPLEMENTED);
    expect(stderr).toMatch(/--config/);
  });
});
