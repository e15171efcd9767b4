/** Building the live pool from a config: keys, prices, Ollama's endpoint, GGUF names; and the benchmark tasks. */
import { ChatOpenAI } from "@langchain/openai";
import { describe, expect, it } from "vitest";
import { MissingApiKeyError, parseExperimentConfig, unsupportedReason } from "../../../src/eval/experiment/config.js";
import { createLivePool, loadLiveTasks } from "../../../src/eval/live/index.js";
import { isLiveBackend, ollamaBaseURL } from "../../../src/eval/live/pool.js";

const backendOf = (backend: Record<string, unknown>, prices?: Record<string, unknown>) => {
  const config = parseExperimentConfig({
    name: "x",
    data: { source: "benchmark", benchmark: "gsm8k" },
    backend,
    ...(prices === undefined ? {} : { prices }),
  });
  if (!isLiveBackend(config.backend)) throw new Error("expected a live backend");
  return { backend: config.backend, prices: config.prices, config };
};

describe("createLivePool", () => {
  it("names the missing key variable", () => {
    expect(() => createLivePool({ ...backendOf({ kind: "openai", models: ["gpt-4o"] }), env: {} })).toThrow(
      MissingApiKeyError,
    );
    expect(() => createLivePool({ ...backendOf({ kind: "openrouter", models: ["openai/gpt-4o"] }), env: {} })).toThrow(
      /OPENROUTER_API_KEY/,
    );
  });

  it("prices models from the config over the built-in table, and refuses an unpriced hosted model", () => {
    const pool = createLivePool({
      ...backendOf(
        { kind: "openai", models: ["gpt-4o-mini", "mine"] },
        { mine: { inputPerMillion: 3, outputPerMillion: 4 } },
      ),
      env: { OPENAI_API_KEY: "k" },
    });
    expect(pool.models.map((entry) => [entry.name, entry.price])).toEqual([
      ["gpt-4o-mini", { inputPerMillion: 0.15, outputPerMillion: 0.6 }],
      ["mine", { inputPerMillion: 3, outputPerMillion: 4 }],
    ]);
    expect(pool.models[0]?.model).toBeInstanceOf(ChatOpenAI);
    expect(() =>
      createLivePool({ ...backendOf({ kind: "openai", models: ["unknown-model"] }), env: { OPENAI_API_KEY: "k" } }),
    ).toThrow(/prices: no price for "unknown-model"/);
  });

  it("talks to Ollama's OpenAI-compatible endpoint without a key; local models without a price cost 0", () => {
    const pool = createLivePool({ ...backendOf({ kind: "ollama", models: ["llama3.2:1b"] }), env: {} });
    expect(pool.baseURL).toBe("http://127.0.0.1:11434/v1");
    expect(pool.models[0]).toMatchObject({ unpriced: true, price: { inputPerMillion: 0, outputPerMillion: 0 } });
    expect(ollamaBaseURL("http://gpu-box:11434")).toBe("http://gpu-box:11434/v1");
    expect(ollamaBaseURL("http://gpu-box:11434/v1/")).toBe("http://gpu-box:11434/v1");
  });

  it("names GGUF models by their file name and refuses two files with the same name", () => {
    const created: string[] = [];
    const createLlamaCppModel = (settings: { modelPath: string }) => {
      created.push(settings.modelPath);
      return { invoke: async () => ({ content: "" }) };
    };
    const pool = createLivePool({
      ...backendOf({ kind: "llamacpp", models: ["/m/a.gguf", "/m/b.gguf"] }),
      env: {},
      createLlamaCppModel,
    });
    expect(pool.models.map((entry) => entry.name)).toEqual(["a", "b"]);
    expect(created).toEqual(["/m/a.gguf", "/m/b.gguf"]);
    expect(() =>
      createLivePool({
        ...backendOf({ kind: "llamacpp", models: ["/m/a.gguf", "/n/a.gguf"] }),
        env: {},
        createLlamaCppModel,
      }),
    ).toThrow(/two GGUF files are named "a"/);
  });

  it("benchmark data with a live backend is runnable, and so is a debate", () => {
    expect(unsupportedReason(backendOf({ kind: "openai", models: ["gpt-4o"] }).config)).toBeUndefined();
    const debate = parseExperimentConfig({
      name: "x",
      mode: "debate",
      data: { source: "benchmark", benchmark: "gsm8k" },
      backend: { kind: "openai", models: ["gpt-4o"] },
    });
    expect(unsupportedReason(debate)).toBeUndefined();
  });
});

describe("loadLiveTasks", () => {
  it("samples with the seed, prefixes ids and checks answers", async () => {
    const tasks = await loadLiveTasks({ benchmark: "gsm8k", maxPrompts: 5, seed: 3 });
    const again = await loadLiveTasks({ benchmark: "gsm8k", maxPrompts: 5, seed: 3 });
    expect(tasks.map((task) => task.promptId)).toEqual(again.map((task) => task.promptId));
    expect(tasks).toHaveLength(5);
    expect(tasks.every((task) => task.promptId.startsWith("gsm8k-test-"))).toBe(true);
    const all = await loadLiveTasks({ benchmark: "gsm8k", limit: 1 });
    expect(all[0]?.prompt).toContain('"#### <number>"');
    expect(await all[0]?.check("so #### 18")).toBe(true);
    expect(await all[0]?.check("#### 17")).toBe(false);
    const humanEval = await loadLiveTasks({
      benchmark: "humaneval",
      limit: 1,
      pythonRunner: { run: async () => ({ status: "passed" }) } as never,
    });
    expect(humanEval[0]?.promptId).toBe("humaneval.0");
  });
});
