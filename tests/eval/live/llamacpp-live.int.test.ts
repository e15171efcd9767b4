/**
 * The `llamacpp` backend records real local calls: a tiny random-weight GGUF (gibberish answers, real
 * tokenizer usage) answers 3 MMLU prompts through node-llama-cpp; the outcome file is well-formed.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LlamaCppChatModel, writeTinyLlamaGguf } from "../../../adapters/llamacpp/index.js";
import { outcomeRecordSchema } from "../../../src/eval/data/outcomes.js";
import { parseExperimentConfig } from "../../../src/eval/experiment/config.js";
import { LIVE_OUTCOMES_FILE, recordBenchmarkExperiment } from "../../../src/eval/live/index.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-live-llamacpp-"));

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe("live recording with the llamacpp backend", () => {
  it("asks a local GGUF 3 MMLU prompts and writes canonical lines with real usage and cost", async () => {
    const modelPath = join(folder, "tiny-llama.gguf");
    await writeTinyLlamaGguf({ path: modelPath, seed: 5, contextLength: 2048 });
    const config = parseExperimentConfig({
      name: "mmlu-tiny",
      data: { source: "benchmark", benchmark: "mmlu", maxPrompts: 3 },
      // threads: 1 keeps a tiny model fast on a busy 2-core machine.
      backend: {
        kind: "llamacpp",
        models: [modelPath],
        contextSize: 2048,
        maxTokens: 8,
        gpu: false,
        threads: 1,
        concurrency: 1,
      },
      prices: { "tiny-llama": { inputPerMillion: 1, outputPerMillion: 3 } },
      output: join(folder, "out"),
    });
    const live = await recordBenchmarkExperiment({
      config,
      env: {},
      createLlamaCppModel: (settings) => new LlamaCppChatModel(settings),
    });

    const text = readFileSync(join(folder, "out", LIVE_OUTCOMES_FILE), "utf8");
    const lines = text
      .trim()
      .split("\n")
      .map((line) => outcomeRecordSchema.parse(JSON.parse(line)));
    expect(lines).toHaveLength(3);
    expect(live.recording).toMatchObject({ asked: 3, reused: 0, failed: 0 });
    expect(live.index.models).toEqual(["tiny-llama"]);
    for (const line of lines) {
      expect(line.model).toBe("tiny-llama");
      expect(line.eval_name).toBe("mmlu");
      expect(line.prompt).toContain("A. ");
      expect(line.correct).toBe(0); // gibberish never names the right letter
      expect(line.input_tokens).toBeGreaterThan(20);
      expect(line.output_tokens).toBeGreaterThan(0);
      expect(line.output_tokens).toBeLessThanOrEqual(8);
      expect(line.cost_usd).toBeCloseTo(((line.input_tokens ?? 0) * 1 + (line.output_tokens ?? 0) * 3) / 1e6, 12);
      expect(typeof line.response).toBe("string");
    }
  });
});
