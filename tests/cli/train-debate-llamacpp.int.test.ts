/**
 * `gavel train debate` run in-process on local inference: the real command, config loading, live pool
 * (the CLI's own `createLlamaCppModel`, so `LlamaCppChatModel` over node-llama-cpp on the CPU), gated
 * debate, GSM8K checker and REINFORCE loop, with two agents on one tiny random-weight llama GGUF
 * written by this file. The answers are gibberish, so they are wrong; the token counts are real: every
 * call's usage is what llama.cpp's tokenizer counted, none is estimated.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HumanMessage } from "@langchain/core/messages";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LlamaCppChatModel, writeTinyLlamaGguf } from "../../adapters/llamacpp/index.js";
import { trainCommand } from "../../src/cli/train.js";
import { parseAggressiveness } from "../../src/debate/training.js";
import { loadGsm8k } from "../../src/eval/data/datasets.js";
import type { DebateTraining } from "../../src/eval/multiagent/index.js";
import { runGavel } from "../helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "gavel-train-debate-llamacpp-"));
const modelPath = join(scratch, "tiny-llama.gguf");
/** Tokens per sequence: a debate prompt spells a GSM8K problem in the tiny vocabulary's few words and bytes. */
const CONTEXT = 4096;
/** Tokens per example the debates are held to (the config's one-budget sweep). */
const BUDGET = 6000;
/** The evaluation sample the training questions are kept apart from. */
const MAX_PROMPTS = 2;
const QUESTIONS = 2;
/** The first 5 GSM8K problems: the 2-problem evaluation sample leaves 3 to draw the 2 training questions from. */
const PROBLEMS = 5;

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("gavel train debate (local llama.cpp model)", () => {
  const benchmarkFile = join(scratch, "gsm8k-5.jsonl");
  const configFile = join(scratch, "debate-llamacpp.yaml");
  let questions: string[] = [];

  beforeAll(async () => {
    await writeTinyLlamaGguf({ path: modelPath, seed: 11, contextLength: CONTEXT });
    const problems = (await loadGsm8k()).slice(0, PROBLEMS);
    questions = problems.map((problem) => problem.question);
    writeFileSync(benchmarkFile, `${problems.map((problem) => JSON.stringify(problem)).join("\n")}\n`);
    writeFileSync(
      configFile,
      [
        "name: debate-llamacpp",
        "mode: debate",
        `data: { source: benchmark, benchmark: gsm8k, maxPrompts: ${MAX_PROMPTS}, path: ${benchmarkFile} }`,
        // threads: 1 keeps a tiny model fast on a busy 2-core machine; 2 sequences for the 2 agents.
        `backend: { kind: llamacpp, models: [${modelPath}], contextSize: ${CONTEXT}, gpu: false, threads: 1, concurrency: 2 }`,
        "prices:",
        "  tiny-llama: { inputPerMillion: 1, outputPerMillion: 3 }",
        "debate:",
        // Two agents on the one local model: the pool names it after its file.
        "  agents: [{ name: ada, model: tiny-llama }, { name: bo, model: tiny-llama }]",
        "  maxRounds: 2",
        `sweep: { kind: budget, budgetsTokens: [${BUDGET}] }`,
        "seed: 5",
        `output: ${join(scratch, "out")}`,
      ].join("\n"),
    );
  });

  it("fits α on local debates, counts the model's own tokens, saves α that reloads", async () => {
    const out = join(scratch, "alpha.json");
    const { stdout, stderr, exitCode } = await runGavel(
      (writers) => [trainCommand({ ...writers, env: {} })],
      [
        "train",
        "debate",
        "--config",
        configFile,
        "--questions",
        String(QUESTIONS),
        "--epochs",
        "1",
        "--out",
        out,
        "--json",
      ],
    );
    expect(stderr).not.toMatch(/error/i);
    expect(exitCode).toBe(0);
    const training = JSON.parse(stdout) as DebateTraining & { out: string };

    // α: one per agent, written to --out and reloaded with parseAggressiveness.
    const saved = parseAggressiveness(readFileSync(out, "utf8"));
    expect(Object.keys(saved).sort()).toEqual(["ada", "bo"]);
    expect(saved).toEqual(training.aggressiveness);
    for (const alpha of Object.values(saved)) expect(Number.isFinite(alpha)).toBe(true);
    expect(training.out).toBe(out);
    expect(training.agents).toEqual([
      { name: "ada", model: "tiny-llama" },
      { name: "bo", model: "tiny-llama" },
    ]);

    // The split: 2 training questions, none of the 2-question evaluation sample; one epoch at the config's budget.
    expect(training.budget).toBe(BUDGET);
    expect(training.split.evaluation).toHaveLength(MAX_PROMPTS);
    expect(training.split.training).toHaveLength(QUESTIONS);
    expect(training.split.training.some((id) => training.split.evaluation.includes(id))).toBe(false);
    expect(training.history).toHaveLength(1);
    const [epoch] = training.history;
    expect(epoch?.aggressiveness).toEqual(saved);

    // Tokens: counted by the local model's tokenizer and reported as usage, none estimated. Every call's
    // prompt quotes a GSM8K problem, so it is at least as long as the shortest problem alone.
    expect(training.usage.estimated).toBe(false);
    expect(training.usage.calls).toBeGreaterThan(0);
    expect(training.usage.tokens).toBeGreaterThan(0);
    const tokenizer = new LlamaCppChatModel({
      modelPath,
      contextSize: CONTEXT,
      gpu: false,
      threads: 1,
      concurrency: 1,
    });
    let shortest: number;
    try {
      const counts = await Promise.all(
        questions.map((question) => tokenizer.countPromptTokens([new HumanMessage(question)])),
      );
      shortest = Math.min(...counts);
    } finally {
      await tokenizer.dispose();
    }
    expect(training.usage.tokens).toBeGreaterThan(training.usage.calls * shortest);
    // The epoch's mean is the run's tokens over its debates, each within the budget.
    expect((epoch?.meanTokens ?? 0) * QUESTIONS).toBeCloseTo(training.usage.tokens);
    expect(epoch?.meanTokens).toBeLessThanOrEqual(BUDGET);
    // Gibberish answers: whatever the checker made of them, accuracy is a fraction of the 2 questions.
    expect([0, 0.5, 1]).toContain(epoch?.accuracy);
    expect(stderr).toContain(`${QUESTIONS} gsm8k questions outside the ${MAX_PROMPTS}-question evaluation sample`);
  }, 60_000);
});
