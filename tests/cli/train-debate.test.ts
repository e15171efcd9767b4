/**
 * `gavel train debate` run in-process against the OpenAI-compatible test server on 127.0.0.1: the real
 * config loading, live pool (`ChatOpenAI`), gated debate, GSM8K checker and REINFORCE loop. The server
 * is scripted (a test double, not a model): every agent answers the GSM8K gold of the question it is
 * asked, and every reply reports the same usage, so the tokens the training counted can be checked
 * against the requests the server answered.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_BAD_INPUT, EXIT_RUN_FAILED } from "../../src/cli/exit-codes.js";
import { type TrainCommandOptions, trainCommand } from "../../src/cli/train.js";
import { parseAggressiveness } from "../../src/debate/training.js";
import { loadGsm8k } from "../../src/eval/data/datasets.js";
import { loadLiveTasks } from "../../src/eval/live/tasks.js";
import type { DebateTraining } from "../../src/eval/multiagent/index.js";
import { runGavel } from "../helpers/cli.js";
import {
  type ChatCompletionRequestBody,
  type OpenAICompatibleServer,
  type ServerReply,
  startOpenAICompatibleServer,
} from "../helpers/openaiServer.js";

const scratch = mkdtempSync(join(tmpdir(), "gavel-train-debate-"));
const KEY_VARIABLE = "GAVEL_TRAIN_TEST_KEY";
const ENV = { [KEY_VARIABLE]: "test" };
/** Usage every scripted reply reports. */
const USAGE = { prompt_tokens: 30, completion_tokens: 6 };
const MAX_PROMPTS = 4;
const SEED = 3;

/** Run `gavel train <args>` in-process, with the test key in the environment. */
function gavel(args: string[], seams: Omit<TrainCommandOptions, "stdout" | "stderr"> = {}) {
  return runGavel((writers) => [trainCommand({ ...writers, env: ENV, ...seams })], args);
}

/** A config on the test server: two named agents, GSM8K (or a copy of some of it), a small evaluation sample. */
function writeConfig(name: string, baseURL: string, overrides: { mode?: string; path?: string } = {}): string {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(
    path,
    [
      `name: ${name}`,
      `mode: ${overrides.mode ?? "debate"}`,
      `data: { source: benchmark, benchmark: gsm8k, maxPrompts: ${MAX_PROMPTS}${overrides.path === undefined ? "" : `, path: ${overrides.path}`} }`,
      `backend: { kind: openai, models: [solver-mini, guesser-mini], baseURL: "${baseURL}", apiKeyEnv: ${KEY_VARIABLE}, maxRetries: 0 }`,
      "prices:",
      "  solver-mini: { inputPerMillion: 1, outputPerMillion: 2 }",
      "  guesser-mini: { inputPerMillion: 1, outputPerMillion: 2 }",
      ...(overrides.mode === "route"
        ? []
        : [
            "debate:",
            "  agents: [{ name: solver, model: solver-mini }, { name: guesser, model: guesser-mini }]",
            "  maxRounds: 2",
            "sweep: { kind: budget, budgetsTokens: [256, 1024, 2048] }",
          ]),
      `seed: ${SEED}`,
      `output: ${join(scratch, name)}`,
    ].join("\n"),
  );
  return path;
}

const chatRequests = (server: OpenAICompatibleServer) =>
  server.requests.filter((request) => request.path.endsWith("/chat/completions")).length;

describe("gavel train debate (OpenAI-compatible test server)", () => {
  let server: OpenAICompatibleServer;
  let failingServer: OpenAICompatibleServer;
  /** The first 8 GSM8K problems: the 4-problem evaluation sample leaves 4 to draw the training split from. */
  const smallFile = join(scratch, "gsm8k-8.jsonl");

  beforeAll(async () => {
    const problems = await loadGsm8k();
    writeFileSync(
      smallFile,
      `${problems
        .slice(0, 8)
        .map((problem) => JSON.stringify(problem))
        .join("\n")}\n`,
    );
    /** The scripted agents answer the gold of the GSM8K question found in the request. */
    const goldOf = (body: ChatCompletionRequestBody): string | undefined => {
      const texts = body.messages.map((message) => (typeof message.content === "string" ? message.content : ""));
      return problems.find((problem) => texts.some((text) => text.includes(problem.question.trim())))?.final_answer;
    };
    server = await startOpenAICompatibleServer({
      replies: (body): ServerReply => ({
        content: `I worked it out step by step.\nAnswer: ${goldOf(body) ?? "unknown"}`,
        usage: USAGE,
      }),
    });
    failingServer = await startOpenAICompatibleServer({
      replies: () => ({ status: 500, error: { message: "scripted outage" } }),
    });
  });
  afterAll(async () => {
    await server.close();
    await failingServer.close();
  });

  it("fits α on questions outside the evaluation sample, counts the server's usage, saves reloadable α", async () => {
    const config = writeConfig("train", server.baseURL, { path: smallFile });
    const out = join(scratch, "alpha.json");
    const before = chatRequests(server);
    const { stdout, stderr, exitCode } = await gavel([
      "train",
      "debate",
      "--config",
      config,
      "--questions",
      "3",
      "--epochs",
      "2",
      "--out",
      out,
      "--json",
    ]);
    expect(stderr).not.toMatch(/error/);
    expect(exitCode).toBe(0);
    const training = JSON.parse(stdout) as DebateTraining;
    const requests = chatRequests(server) - before;

    // α: one per agent, written with serializeAggressiveness and reloaded with parseAggressiveness.
    const saved = parseAggressiveness(readFileSync(out, "utf8"));
    expect(Object.keys(saved).sort()).toEqual(["guesser", "solver"]);
    expect(saved).toEqual(training.aggressiveness);

    // One history entry per epoch, α after each; the default budget is the median of the sweep.
    expect(training.history.map((epoch) => epoch.epoch)).toEqual([0, 1]);
    expect(training.history.at(-1)?.aggressiveness).toEqual(saved);
    expect(training.budget).toBe(1024);

    // The split: 3 of the 4 problems outside the sample `gavel eval` evaluates with this config.
    const all = (await loadLiveTasks({ benchmark: "gsm8k", path: smallFile })).map((task) => task.promptId);
    const evaluation = (
      await loadLiveTasks({ benchmark: "gsm8k", path: smallFile, maxPrompts: MAX_PROMPTS, seed: SEED })
    ).map((task) => task.promptId);
    expect(training.split.evaluation).toEqual(evaluation);
    expect(training.split.training).toHaveLength(3);
    const rest = all.filter((promptId) => !evaluation.includes(promptId));
    expect(rest).toHaveLength(4);
    expect(training.split.training.every((promptId) => rest.includes(promptId))).toBe(true);

    // Tokens are the server's reported usage: every request it answered, nothing else.
    expect(requests).toBeGreaterThan(0);
    const perRequest = USAGE.prompt_tokens + USAGE.completion_tokens;
    expect(training.usage).toEqual({ tokens: perRequest * requests, calls: requests, estimated: false });
    const counted = training.history.reduce((sum, epoch) => sum + epoch.meanTokens * training.split.training.length, 0);
    expect(counted).toBeCloseTo(perRequest * requests);
    for (const epoch of training.history) {
      expect(epoch.meanTokens).toBeGreaterThan(0);
      expect(epoch.meanTokens).toBeLessThanOrEqual(training.budget);
      // Both agents answer the gold, and the GSM8K checker (async) says so.
      expect(epoch.accuracy).toBe(1);
      expect(epoch.meanReward).toBeCloseTo(1 - (0.5 * epoch.meanTokens) / training.budget);
    }
    // Progress: a start line and one line per epoch on stderr.
    expect(stderr).toContain("3 gsm8k questions outside the 4-question evaluation sample");
    expect(stderr).toMatch(/epoch 1\/2: accuracy 100\.0%/);
    expect(stderr).toMatch(/epoch 2\/2: accuracy 100\.0%/);
  }, 60_000);

  it("prints the epochs as a table and honours --budget", async () => {
    const config = writeConfig("table", server.baseURL);
    const out = join(scratch, "alpha-table.json");
    const { stdout, exitCode } = await gavel([
      "train",
      "debate",
      "--config",
      config,
      "--questions",
      "2",
      "--epochs",
      "1",
      "--budget",
      "2048",
      "--out",
      out,
    ]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("2 gsm8k training questions (none of the 4 evaluated), budget 2048 tokens per example");
    expect(stdout).toMatch(/│ epoch │ accuracy │ mean tokens │ mean reward │ α solver │ α guesser │/);
    expect(stdout).toMatch(/│\s+1 │\s+100\.0% │/);
    expect(stdout).toContain(`Saved ${out}`);
    expect(Object.keys(parseAggressiveness(readFileSync(out, "utf8"))).sort()).toEqual(["guesser", "solver"]);
  }, 60_000);

  it("exits with 1 and writes nothing when no call succeeds", async () => {
    const config = writeConfig("down", failingServer.baseURL);
    const out = join(scratch, "alpha-down.json");
    const { stderr, exitCode } = await gavel(["train", "debate", "--config", config, "--questions", "2", "--out", out]);
    expect(exitCode).toBe(EXIT_RUN_FAILED);
    expect(stderr).toMatch(/no call succeeded in the first epoch \(first error: .*scripted outage/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it("exits with 2 when the budget pays for no debate round, and writes nothing", async () => {
    const config = writeConfig("tiny-budget", server.baseURL);
    const out = join(scratch, "alpha-tiny.json");
    const before = chatRequests(server);
    const { stderr, exitCode } = await gavel(["train", "debate", "--config", config, "--budget", "64", "--out", out]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain("a budget of 64 tokens per example pays for no debate round of 2 agents");
    expect(chatRequests(server)).toBe(before);
    expect(existsSync(out)).toBe(false);
  });

  it("exits with 2 on a mode: route config, naming the key and the fix, before any call", async () => {
    const config = writeConfig("route", server.baseURL, { mode: "route" });
    const before = chatRequests(server);
    const { stderr, exitCode } = await gavel(["train", "debate", "--config", config]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(config);
    expect(stderr).toMatch(/mode: .*set mode: debate/);
    expect(chatRequests(server)).toBe(before);
  });

  it("exits with 2 on a missing config file and on a missing API key", async () => {
    const missing = join(scratch, "none.yaml");
    const absent = await gavel(["train", "debate", "--config", missing]);
    expect(absent.exitCode).toBe(EXIT_BAD_INPUT);
    expect(absent.stderr).toContain(missing);
    expect(absent.stderr).toContain("cannot read the file");

    const config = writeConfig("no-key", server.baseURL);
    const keyless = await gavel(["train", "debate", "--config", config], { env: {} });
    expect(keyless.exitCode).toBe(EXIT_BAD_INPUT);
    expect(keyless.stderr).toContain(KEY_VARIABLE);
  });
});
