import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evalCommand, sweepCommand } from "../../../src/cli/eval.js";
import { serializeAggressiveness } from "../../../src/debate/training.js";
import { loadExperimentConfig, unsupportedReason } from "../../../src/eval/experiment/config.js";
import { answerParserOf } from "../../../src/eval/multiagent/answers.js";
import {
  econExecutorCap,
  MIN_EXECUTOR_CAP,
  MULTI_AGENT_RUNS_FILE,
  type MultiAgentRunRecord,
  outputCaps,
} from "../../../src/eval/multiagent/run.js";
import type { EvalReport } from "../../../src/eval/report/results.js";
import { runGavel } from "../../helpers/cli.js";
import { type OpenAICompatibleServer, startOpenAICompatibleServer } from "../../helpers/openaiServer.js";

const configs = join(import.meta.dirname, "..", "..", "..", "configs");
const scratch = mkdtempSync(join(tmpdir(), "gavel-multiagent-"));
const MODELS = ["alpha-mini", "beta-mini", "gamma-mini"];

/** Every answer ends with a final answer line; usage is reported (small, so budgets hold). */
function scriptedReply(body: { messages: Array<{ content?: unknown }> }) {
  const text = JSON.stringify(body.messages);
  // ECON's coordinator is asked for a strategy or a commitment; executors and debaters for an answer.
  const content =
    /strategy/i.test(text) && !/Answer:/.test(text) ? "Add the parts, then subtract." : "I computed it.\nAnswer: 18";
  return { content, usage: { prompt_tokens: 40, completion_tokens: 8 } };
}

function gavel(args: string[], env: Record<string, string>) {
  const seams = { interactive: false, env, createEmbedder: () => "hashing" as const };
  return runGavel((writers) => [evalCommand({ ...writers, ...seams }), sweepCommand({ ...writers, ...seams })], args);
}

function writeConfig(
  name: string,
  baseURL: string,
  output: string,
  { debate = "{ maxRounds: 2 }", budgets = "[256, 1024]" }: { debate?: string; budgets?: string } = {},
): string {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(
    path,
    [
      `name: ${name}`,
      "mode: debate",
      "data: { source: benchmark, benchmark: gsm8k, maxPrompts: 4 }",
      `backend: { kind: openai, models: [${MODELS.join(", ")}], baseURL: "${baseURL}", concurrency: 2, maxRetries: 0 }`,
      "prices:",
      ...MODELS.map((model) => `  ${model}: { inputPerMillion: 1, outputPerMillion: 2 }`),
      `debate: ${debate}`,
      `sweep: { kind: budget, budgetsTokens: ${budgets} }`,
      "embedder: hashing",
      `output: ${output}`,
    ].join("\n"),
  );
  return path;
}

describe("gavel eval on a mode: debate budget sweep (OpenAI-compatible test server)", () => {
  let server: OpenAICompatibleServer;
  beforeAll(async () => {
    server = await startOpenAICompatibleServer({ replies: (body) => scriptedReply(body) });
  });
  afterAll(async () => {
    await server.close();
  });

  it("reports four mechanisms × two budgets with the server's real usage, within budget, exit 0", async () => {
    const output = join(scratch, "report");
    const config = writeConfig("sweep", server.baseURL, output);
    const { exitCode, stdout, stderr } = await gavel(["eval", "--config", config, "--quiet"], {
      OPENAI_API_KEY: "test",
    });
    expect(stderr).not.toMatch(/error/);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("gated-debate");

    const report = JSON.parse(readFileSync(join(output, "report.json"), "utf8")) as EvalReport;
    expect(report.policies.map((policy) => policy.name).sort()).toEqual(
      ["belief-coordination", "dala-full-draft", "full-debate", "gated-debate"].sort(),
    );
    for (const policy of report.policies) {
      expect(policy.points.map((point) => point.parameter)).toEqual([256, 1024]);
      for (const point of policy.points) {
        expect(point.prompts).toBe(4);
        expect(point.tokens?.estimated).toBe(false);
        const meanTokens = ((point.tokens?.input ?? 0) + (point.tokens?.output ?? 0)) / point.prompts;
        // A budget too small for any call spends nothing and answers nothing: efficiency 0.
        expect(point.costEfficiency).toBeCloseTo(meanTokens === 0 ? 0 : point.accuracy / (meanTokens / 1000));
      }
    }
    // Real tokens: every request the server answered reported 40 in / 8 out, and nothing else was counted.
    const records = readFileSync(join(output, MULTI_AGENT_RUNS_FILE), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as MultiAgentRunRecord);
    const requests = server.requests.filter((request) => request.path.endsWith("/chat/completions")).length;
    expect(records.reduce((sum, record) => sum + record.inputTokens, 0)).toBe(40 * requests);
    expect(records.reduce((sum, record) => sum + record.outputTokens, 0)).toBe(8 * requests);
    // 4 prompts × (the full debate once + 3 mechanisms × 2 budgets).
    expect(records).toHaveLength(4 * 7);
    for (const record of records) {
      if (record.budget !== null) expect(record.inputTokens + record.outputTokens).toBeLessThanOrEqual(record.budget);
    }
    // The bigger budget buys real work for every budgeted mechanism; the answer 18 is checked against GSM8K.
    for (const mechanism of ["intent", "full_draft", "econ"] as const) {
      const spent = records
        .filter((record) => record.mechanism === mechanism && record.budget === 1024)
        .reduce((sum, record) => sum + record.inputTokens + record.outputTokens, 0);
      expect(spent).toBeGreaterThan(0);
    }
    expect(records.filter((record) => record.answer !== null).every((record) => record.answer === "18")).toBe(true);

    // Belief coordination sizes its executors from what the budget leaves: at 1024 they answer (3 executor
    // calls a round, the cap recorded), within the budget; at 256 not even a 16-token round fits, so the
    // example is recorded unaffordable with no call at all (not even the coordinator's strategy).
    const econ = (budget: number) =>
      records.filter((record) => record.mechanism === "econ" && record.budget === budget);
    for (const record of econ(1024)) {
      expect(record.unaffordable).toBeUndefined();
      expect(record.rounds).toBeGreaterThanOrEqual(1);
      expect(record.calls).toBeGreaterThanOrEqual(1 + MODELS.length);
      expect(record.executorCap).toBeGreaterThanOrEqual(MIN_EXECUTOR_CAP);
      expect(record.answer).toBe("18");
      expect(record.inputTokens + record.outputTokens).toBeLessThanOrEqual(1024);
    }
    for (const record of econ(256)) {
      expect(record).toMatchObject({ unaffordable: true, stopReason: "budget", calls: 0, rounds: 0, answer: null });
      expect(record.inputTokens + record.outputTokens).toBe(0);
    }
    expect((report.notes ?? []).join("\n")).toMatch(
      /belief-coordination budget=256: .*4 of 4 example\(s\) did not fit/,
    );
    expect((report.notes ?? []).join("\n")).not.toMatch(/belief-coordination budget=1024: .*did not fit/);
    const full = report.policies.find((policy) => policy.name === "full-debate");
    expect(full?.kind).toBe("baseline");
    expect(full?.points[0]?.tokens).toEqual(full?.points[1]?.tokens);
    for (const file of ["report.md", "report.html", "pareto.svg", "accuracy-tokens.svg"]) {
      expect(existsSync(join(output, file))).toBe(true);
    }

    // A rerun asks nothing: every example comes from the cache.
    const before = server.requests.length;
    const again = await gavel(["sweep", "--config", config], { OPENAI_API_KEY: "test" });
    expect(again.exitCode).toBe(0);
    expect(server.requests.length).toBe(before);
    expect(again.stderr).toMatch(/0 run now, 28 from/);
  }, 40_000);

  it("bids with the α of debate.aggressiveness in the gated debates; the full debate keeps its cache", async () => {
    const output = join(scratch, "alpha");
    const settings = { budgets: "[1024]" };
    const records = () =>
      readFileSync(join(output, MULTI_AGENT_RUNS_FILE), "utf8")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line) as MultiAgentRunRecord);
    /** The agent that spoke: the one with more calls than an intent a round. */
    const speakers = (mechanism: string) =>
      records()
        .filter(
          (record) => record.mechanism === mechanism && record.agents.includes("|α=") === withAlpha && record.calls > 0,
        )
        .map((record) => Object.entries(record.callsByModel).sort((a, b) => b[1] - a[1])[0]?.[0]);
    let withAlpha = false;
    const plain = writeConfig("plain", server.baseURL, output, {
      ...settings,
      debate: "{ maxRounds: 2, mechanisms: [intent, full] }",
    });
    expect((await gavel(["sweep", "--config", plain], { OPENAI_API_KEY: "test" })).exitCode).toBe(0);
    // Without α the seeded tie-break picks the speaker; favour the agent that spoke least.
    const spoke = (model: string) => speakers("intent").filter((speaker) => speaker === model).length;
    const favoured = [...MODELS].sort((a, b) => spoke(a) - spoke(b))[0] ?? "";
    const debated = speakers("intent").length;
    expect(debated).toBeGreaterThan(0);
    expect(spoke(favoured)).toBeLessThan(debated);

    // α from `gavel train debate`: the favoured agent outbids the others in every round.
    const alphaFile = join(scratch, "alpha.json");
    writeFileSync(
      alphaFile,
      serializeAggressiveness(Object.fromEntries(MODELS.map((model) => [model, model === favoured ? 4 : 0.25]))),
    );
    const tuned = writeConfig("tuned", server.baseURL, output, {
      ...settings,
      debate: `{ maxRounds: 2, mechanisms: [intent, full], aggressiveness: ${alphaFile} }`,
    });
    const before = server.requests.length;
    const run = await gavel(["sweep", "--config", tuned], { OPENAI_API_KEY: "test" });
    expect(run.exitCode).toBe(0);
    expect(run.stderr).toMatch(/4 run now, 4 from/); // the intent lines again, the full debate's reused
    expect(server.requests.length).toBeGreaterThan(before);
    withAlpha = true;
    expect(speakers("intent")).toEqual(Array.from({ length: debated }, () => favoured));

    // α of agents this experiment does not have: exit 2 naming the key, no call.
    writeFileSync(alphaFile, serializeAggressiveness({ stranger: 2 }));
    const after = server.requests.length;
    const strange = await gavel(["sweep", "--config", tuned], { OPENAI_API_KEY: "test" });
    expect(strange.exitCode).toBe(2);
    expect(strange.stderr).toMatch(/debate\.aggressiveness.*stranger/);
    expect(server.requests.length).toBe(after);
  }, 40_000);

  it("exits with 2 before any call when the API key is missing", async () => {
    const before = server.requests.length;
    const output = join(scratch, "no-key");
    const { exitCode, stderr } = await gavel(["eval", "--config", writeConfig("nokey", server.baseURL, output)], {});
    expect(exitCode).toBe(2);
    expect(stderr).toMatch(/OPENAI_API_KEY/);
    expect(server.requests.length).toBe(before);
    expect(existsSync(join(output, MULTI_AGENT_RUNS_FILE))).toBe(false);
  });
});

describe("configs and helpers", () => {
  it("budget_sweep.yaml is a runnable debate sweep of three agents", async () => {
    const config = await loadExperimentConfig(join(configs, "budget_sweep.yaml"));
    expect(config.mode).toBe("debate");
    expect(unsupportedReason(config)).toBeUndefined();
    expect("models" in config.backend ? config.backend.models : []).toHaveLength(3);
    expect(config.sweep).toEqual({ kind: "budget", budgetsTokens: [256, 512, 1024, 1536, 2048] });
  });

  it("parses answers per benchmark and scales output caps down with the budget", () => {
    expect(answerParserOf("gsm8k")("So 9 × 2.\nAnswer: $18.")).toBe("18");
    expect(answerParserOf("mmlu")("Answer: (C)")).toBe("C");
    expect(answerParserOf("humaneval")("Answer: f")).toBeUndefined();
    expect(outputCaps(256, 3)).toEqual({ message: 42, intent: 21 });
    expect(outputCaps(null, 3)).toEqual({ message: 192, intent: 48 });
  });

  it("sizes belief coordination's executor cap from what the budget leaves after the prompts", () => {
    const question = "Tom has 7 apples and buys 11 more. How many apples does he have? End with #### <number>.";
    const executors = MODELS.map((model) => ({ name: model, model }));
    const capAt = (budget: number | null) =>
      econExecutorCap({ question, budget, coordinatorModel: MODELS[0] ?? "", executors });
    expect(capAt(256)).toBeUndefined();
    expect(capAt(null)).toBe(512);
    const at1024 = capAt(1024) ?? 0;
    const at1536 = capAt(1536) ?? 0;
    expect(at1024).toBeGreaterThanOrEqual(MIN_EXECUTOR_CAP);
    // Each extra token of budget is shared between the three executors.
    expect(at1536 - at1024).toBeGreaterThanOrEqual(Math.floor(512 / 3) - 1);
    expect(capAt(100_000)).toBe(512);
    // A longer question leaves less room.
    const longer = econExecutorCap({
      question: `${question} ${"Also note the apples are red. ".repeat(20)}`,
      budget: 1024,
      coordinatorModel: MODELS[0] ?? "",
      executors,
    });
    expect(longer ?? 0).toBeLessThan(at1024);
  });
});
