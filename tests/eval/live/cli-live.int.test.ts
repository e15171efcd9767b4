/**
 * `gavel eval` on benchmark data with a live backend, end to end with no key and no network: the real
 * `ChatOpenAI` client talks to an OpenAI-compatible server on 127.0.0.1 that plays two "models" on
 * GSM8K (one always right, one always wrong, usage reported), then the routers replay the recording.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EvalCommandOptions, EXIT_BAD_INPUT, evalCommand } from "../../../src/cli/eval.js";
import { loadGsm8k } from "../../../src/eval/data/datasets.js";
import { LIVE_ERRORS_FILE, LIVE_OUTCOMES_FILE, mathPrompt } from "../../../src/eval/live/index.js";
import { runGavel } from "../../helpers/cli.js";
import { type OpenAICompatibleServer, startOpenAICompatibleServer } from "../../helpers/openaiServer.js";

const here = import.meta.dirname;
const configs = join(here, "..", "..", "..", "configs");
const scratch = mkdtempSync(join(tmpdir(), "gavel-live-cli-"));

/** Run `gavel eval <args>` in-process. */
function gavel(args: string[], seams: EvalCommandOptions = {}) {
  return runGavel((writers) => [evalCommand({ ...writers, interactive: false, env: {}, ...seams })], args);
}

interface Line {
  prompt_id: string;
  prompt: string;
  eval_name: string;
  model: string;
  correct: number;
  cost_usd: number;
  response: string;
  input_tokens: number;
  output_tokens: number;
}

const readLines = (path: string): Line[] =>
  readFileSync(path, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Line);

let server: OpenAICompatibleServer;
/** Prompt text → the GSM8K final answer, so the server's "solver" can answer right. */
const answers = new Map<string, string>();

beforeAll(async () => {
  for (const problem of await loadGsm8k()) answers.set(mathPrompt(problem.question), problem.final_answer);
  server = await startOpenAICompatibleServer({
    replies: (body) => {
      const prompt = String(body.messages.at(-1)?.content ?? "");
      const usage = { prompt_tokens: 100, completion_tokens: 10 };
      if (body.model === "solver") return { content: `Step by step.\n#### ${answers.get(prompt) ?? "?"}`, usage };
      return { content: "I guess.\n#### -98765", usage };
    },
  });
});

afterAll(async () => {
  await server?.close();
});

function writeConfig(name: string, output: string, extra = ""): string {
  const path = join(scratch, `${name}.yaml`);
  writeFileSync(
    path,
    [
      `name: ${name}`,
      "data: { source: benchmark, benchmark: gsm8k, maxPrompts: 12, trainFraction: 0.5 }",
      `backend: { kind: openai, models: [solver, guesser], baseURL: "${server.baseURL}", concurrency: 3, maxRetries: 0, temperature: 0 }`,
      "prices:",
      "  solver: { inputPerMillion: 1, outputPerMillion: 2 }",
      "  guesser: { inputPerMillion: 0.1, outputPerMillion: 0.2 }",
      "embedder: hashing",
      "embeddingCache: false",
      `output: ${output}`,
      extra,
    ].join("\n"),
  );
  return path;
}

describe("gavel eval on GSM8K with an OpenAI-compatible backend", () => {
  const output = join(scratch, "gsm8k");

  it("records every (prompt, model) answer with its checked flag and cost, then writes a report", async () => {
    const config = writeConfig("gsm8k-live", output);
    const { exitCode, stdout, stderr } = await gavel(["eval", "--config", config, "--json", "--no-ledger"], {
      env: { OPENAI_API_KEY: "test-key" },
    });
    expect(stderr).not.toMatch(/^error:/m);
    expect(exitCode).toBe(0);
    expect(server.requests.filter((request) => request.path.endsWith("/chat/completions"))).toHaveLength(24);
    expect(server.requests[0]?.headers.authorization).toBe("Bearer test-key");

    const lines = readLines(join(output, LIVE_OUTCOMES_FILE));
    expect(lines).toHaveLength(24);
    expect(new Set(lines.map((line) => line.prompt_id)).size).toBe(12);
    for (const line of lines) {
      expect(line.eval_name).toBe("gsm8k");
      expect(answers.has(line.prompt)).toBe(true);
      expect([line.input_tokens, line.output_tokens]).toEqual([100, 10]);
      if (line.model === "solver") {
        expect(line.correct).toBe(1);
        expect(line.cost_usd).toBeCloseTo((100 * 1 + 10 * 2) / 1e6, 12);
      } else {
        expect(line.model).toBe("guesser");
        expect(line.correct).toBe(0);
        expect(line.cost_usd).toBeCloseTo((100 * 0.1 + 10 * 0.2) / 1e6, 12);
      }
    }
    expect(existsSync(join(output, LIVE_ERRORS_FILE))).toBe(false);

    const result = JSON.parse(stdout);
    expect(result.strongModel).toBe("solver");
    expect(result.weakModel).toBe("guesser");
    expect(result.dataset.trainPrompts + result.dataset.testPrompts).toBe(12);
    const solverAlone = result.policies.find((policy: { name: string }) => policy.name === "single:solver");
    expect(solverAlone.points[0].accuracy).toBe(1);
    expect(existsSync(join(output, "report.json"))).toBe(true);
    expect(existsSync(join(output, "report.html"))).toBe(true);
  });

  it("asks nothing again on a rerun: the cache answers", async () => {
    const before = server.requests.length;
    const bytes = readFileSync(join(output, LIVE_OUTCOMES_FILE), "utf8");
    const { exitCode, stderr } = await gavel(["eval", "--config", join(scratch, "gsm8k-live.yaml"), "--no-ledger"], {
      env: { OPENAI_API_KEY: "test-key" },
    });
    expect(exitCode).toBe(0);
    expect(server.requests.length).toBe(before);
    expect(readFileSync(join(output, LIVE_OUTCOMES_FILE), "utf8")).toBe(bytes);
    expect(stderr).toMatch(/Live calls: 0 asked \(0 failed.*\), 24 from the cache/);
  });
});

describe("gavel eval: a live backend without its key", () => {
  it("exits with 2 and names the variable (openai)", async () => {
    const config = writeConfig("no-key", join(scratch, "no-key"));
    const { exitCode, stderr } = await gavel(["eval", "--config", config]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain("set the environment variable OPENAI_API_KEY");
    expect(existsSync(join(scratch, "no-key"))).toBe(false);
  });

  it.each([
    ["gsm8k.yaml", "OPENAI_API_KEY"],
    ["openrouter.yaml", "OPENROUTER_API_KEY"],
  ])("exits with 2 on the shipped %s and names %s", async (file, variable) => {
    const { exitCode, stderr } = await gavel(["eval", "--config", join(configs, file)]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`set the environment variable ${variable}`);
  });
});
