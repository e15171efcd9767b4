import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  ConfigFileError,
  experimentConfigSchema,
  KNOWN_KEYS,
  loadExperimentConfig,
  MissingApiKeyError,
  parseExperimentYaml,
  requireApiKey,
  unsupportedReason,
} from "../../../src/eval/experiment/config.js";

const configsFolder = join(import.meta.dirname, "..", "..", "..", "configs");
const scratch = mkdtempSync(join(tmpdir(), "gavel-config-"));

function writeYaml(name: string, text: string): string {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
}

async function errorOf(promise: Promise<unknown>): Promise<ConfigFileError> {
  try {
    await promise;
  } catch (error) {
    if (ConfigFileError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a ConfigFileError");
}

describe("the shipped configs", () => {
  // serve*.yaml configure `gavel serve` (tests/server/config.test.ts validates them); the rest are experiments.
  const files = readdirSync(configsFolder).filter((file) => file.endsWith(".yaml") && !file.startsWith("serve"));

  it("are the seven experiments the docs promise", () => {
    expect(files.sort()).toEqual(
      [
        "budget_sweep.yaml",
        "default.yaml",
        "gsm8k.yaml",
        "humaneval.yaml",
        "mmlu.yaml",
        "openrouter.yaml",
        "openrouter_debate.yaml",
      ].sort(),
    );
  });

  it.each(files)("%s validates", async (file) => {
    const config = await loadExperimentConfig(join(configsFolder, file));
    expect(config.name.length).toBeGreaterThan(0);
  });

  it("default.yaml is the recorded RouterBench job this version runs", async () => {
    const config = await loadExperimentConfig(join(configsFolder, "default.yaml"));
    expect(config).toMatchObject({ mode: "route", backend: { kind: "recorded" }, output: "reports" });
    expect(config.data).toMatchObject({ source: "recorded", split: "seeded", trainFraction: 0.5 });
    expect(config.data.source === "recorded" && config.data.outcomes).toBeUndefined(); // the shipped file
    expect(unsupportedReason(config)).toBeUndefined();
  });

  it.each(["gsm8k.yaml", "mmlu.yaml", "humaneval.yaml", "openrouter.yaml"])(
    "%s is a live benchmark run this version supports",
    async (file) => {
      const config = await loadExperimentConfig(join(configsFolder, file));
      expect(config.data.source).not.toBe("recorded");
      expect(unsupportedReason(config)).toBeUndefined();
    },
  );

  it.each(["budget_sweep.yaml", "openrouter_debate.yaml"])(
    "%s is a runnable debate sweep over the issue's token budgets",
    async (file) => {
      const config = await loadExperimentConfig(join(configsFolder, file));
      expect(config.mode).toBe("debate");
      expect(config.sweep).toMatchObject({ kind: "budget", budgetsTokens: [256, 512, 1024, 1536, 2048] });
      expect(config.debate?.mechanisms).toEqual(["intent", "full_draft", "full", "econ"]);
      expect(unsupportedReason(config)).toBeUndefined();
    },
  );
});

describe("loadExperimentConfig errors", () => {
  it("names an unknown key, the file and the line, and suggests the right key", async () => {
    const path = writeYaml("typo.yaml", "name: x\nbackend:\n  kind: openai\n  modles: [gpt-4o]\n");
    const error = await errorOf(loadExperimentConfig(path));
    expect(error.file).toBe(path);
    expect(error.fields).toContain("backend.modles");
    expect(error.message).toContain(`${path}:4:3: backend.modles: unknown key "modles" (did you mean "models"?)`);
    // the required key that the typo left out is reported too, at its parent
    expect(error.fields).toContain("backend.models");
  });

  it("names a top-level typo", async () => {
    const error = await errorOf(loadExperimentConfig(writeYaml("top.yaml", "name: x\nseeds: 3\n")));
    expect(error.issues[0]).toMatchObject({ field: "seeds", line: 2, column: 1 });
  });

  it("names a wrong type with its line", async () => {
    const error = await errorOf(
      loadExperimentConfig(writeYaml("type.yaml", "name: x\ndata:\n  source: recorded\n  trainFraction: half\n")),
    );
    expect(error.issues).toEqual([
      expect.objectContaining({
        field: "data.trainFraction",
        line: 4,
        message: expect.stringMatching(/expected number/),
      }),
    ]);
  });

  it("names an out-of-range value and a wrong enum", async () => {
    const error = await errorOf(loadExperimentConfig(writeYaml("range.yaml", "name: x\nseed: 1.5\nembedder: bert\n")));
    expect(error.fields.sort()).toEqual(["embedder", "seed"]);
  });

  it("names a missing required key", async () => {
    const error = await errorOf(loadExperimentConfig(writeYaml("missing.yaml", "seed: 1\n")));
    expect(error.issues[0]).toMatchObject({ field: "name", message: expect.stringMatching(/missing required key/) });
  });

  it("refuses recorded data with a live backend", async () => {
    const error = await errorOf(
      loadExperimentConfig(
        writeYaml("mix.yaml", "name: x\ndata:\n  source: recorded\nbackend:\n  kind: ollama\n  models: [a]\n"),
      ),
    );
    expect(error.issues[0]).toMatchObject({ field: "backend.kind", line: 5 });
  });

  it("reports YAML syntax errors with the line", async () => {
    const error = await errorOf(loadExperimentConfig(writeYaml("syntax.yaml", "name: x\nname: y\n")));
    expect(error.issues[0]).toMatchObject({ line: 2, message: expect.stringMatching(/YAML syntax/) });
  });

  it("reports a missing file", async () => {
    const error = await errorOf(loadExperimentConfig(join(scratch, "nope.yaml")));
    expect(error.message).toMatch(/nope\.yaml: cannot read the file/);
  });

  it("resolves input paths relative to the config file", async () => {
    const path = writeYaml("paths.yaml", "name: x\ndata:\n  source: recorded\n  outcomes: data/mine.jsonl\n");
    const config = await loadExperimentConfig(path);
    expect(config.data.source === "recorded" && config.data.outcomes).toBe(join(scratch, "data", "mine.jsonl"));
  });
});

describe("API keys", () => {
  const openai = parseExperimentYaml(
    "name: x\ndata: { source: benchmark, benchmark: gsm8k }\nbackend: { kind: openai, models: [gpt-4o] }\n",
  );
  const openrouter = parseExperimentYaml(
    "name: x\ndata: { source: benchmark, benchmark: mbpp }\nbackend: { kind: openrouter, models: [a/b] }\n",
  );

  it("a missing key is an error naming the variable", () => {
    expect(() => requireApiKey(openai.backend, {})).toThrow(MissingApiKeyError);
    expect(() => requireApiKey(openai.backend, { OPENAI_API_KEY: " " })).toThrow(
      /set the environment variable OPENAI_API_KEY/,
    );
    expect(() => requireApiKey(openrouter.backend, {})).toThrow(/OPENROUTER_API_KEY/);
  });

  it("reads the key from the environment, and keyless backends need none", () => {
    expect(requireApiKey(openai.backend, { OPENAI_API_KEY: "sk-test" })).toBe("sk-test");
    expect(requireApiKey(parseExperimentYaml("name: x\n").backend, {})).toBeUndefined();
  });

  it("honours apiKeyEnv", () => {
    const custom = parseExperimentYaml(
      "name: x\ndata: { source: benchmark, benchmark: gsm8k }\nbackend: { kind: openai, models: [m], apiKeyEnv: TOGETHER_API_KEY }\n",
    );
    expect(() => requireApiKey(custom.backend, { OPENAI_API_KEY: "sk" })).toThrow(/TOGETHER_API_KEY/);
  });
});

describe("KNOWN_KEYS, the keys a misspelt key is compared with", () => {
  /** Every property name in a JSON Schema, found by walking it (independently of the zod walk). */
  function jsonSchemaKeys(node: unknown, keys: Set<string> = new Set()): Set<string> {
    if (Array.isArray(node)) {
      for (const item of node) jsonSchemaKeys(item, keys);
    } else if (typeof node === "object" && node !== null) {
      for (const [key, value] of Object.entries(node)) {
        if (key === "properties" && typeof value === "object" && value !== null) {
          for (const [property, schema] of Object.entries(value)) {
            keys.add(property);
            jsonSchemaKeys(schema, keys);
          }
        } else {
          jsonSchemaKeys(value, keys);
        }
      }
    }
    return keys;
  }

  it("are exactly the keys of the schema, at every depth", () => {
    const fromJsonSchema = jsonSchemaKeys(
      z.toJSONSchema(experimentConfigSchema, { io: "input", unrepresentable: "any" }),
    );
    expect([...KNOWN_KEYS].sort()).toEqual([...fromJsonSchema].sort());
    expect(new Set(KNOWN_KEYS).size).toBe(KNOWN_KEYS.length);
  });

  it("suggest keys of nested objects too (debate agents' model, the debate's aggressiveness)", () => {
    const issues = (text: string) =>
      errorOfSync(() => parseExperimentYaml(text, "x.yaml")).issues.map((issue) => issue.message);
    expect(issues("name: x\ndebate:\n  aggresiveness: a.json\n")).toEqual([
      'unknown key "aggresiveness" (did you mean "aggressiveness"?)',
    ]);
    expect(issues("name: x\nseeed: 1\n")).toEqual(['unknown key "seeed" (did you mean "seed"?)']);
  });
});

function errorOfSync(run: () => unknown): ConfigFileError {
  try {
    run();
  } catch (error) {
    if (ConfigFileError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a ConfigFileError");
}
