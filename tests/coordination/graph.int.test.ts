import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTokenBudget } from "../../src/budget/index.js";
import { COORDINATOR_NAME, createBeliefCoordination } from "../../src/coordination/index.js";
import { extractFinalNumber } from "../../src/eval/data/checkers.js";
import { type OpenAICompatibleServer, startOpenAICompatibleServer } from "../helpers/openaiServer.js";
import { ScriptedHashingEmbeddings } from "../memory/scripted-embeddings.js";

/** Answers per model name, as an OpenAI-compatible endpoint would serve them. */
const EXECUTOR_ANSWERS: Record<string, string> = {
  "gpt-4o-mini": "Six rows of seven: 6 * 7 = 42.\nAnswer: 42",
  "gpt-4.1-nano": "Six and seven make 13.\nAnswer: 13",
  "gpt-4.1-mini": "Rows times bottles per row is 42.\nAnswer: 42",
};

function textOf(content: unknown): string {
  return typeof content === "string" ? content : JSON.stringify(content ?? "");
}

describe("belief coordination through ChatOpenAI over real HTTP", () => {
  let server: OpenAICompatibleServer;

  beforeAll(async () => {
    server = await startOpenAICompatibleServer({
      replies: (body) => {
        const prompt = body.messages.map((message) => textOf(message.content)).join("\n");
        if (prompt.includes("Write a strategy")) return "Multiply the number of rows by the bottles in each row.";
        if (prompt.includes("Commit the team")) {
          const candidate = /Answer favoured by the belief equilibrium: (.+)/.exec(prompt)?.[1]?.trim();
          return `The solvers agree on the product. Answer: ${candidate}`;
        }
        return EXECUTOR_ANSWERS[body.model ?? ""] ?? "Answer: 0";
      },
    });
  });
  afterAll(async () => {
    await server.close();
  });

  const chat = (model: string, fields: Record<string, unknown> = {}) =>
    new ChatOpenAI({ model, apiKey: "test", configuration: { baseURL: server.baseURL }, ...fields });

  it("coordinates real clients: caps, logprob confidence, real usage, budget", async () => {
    const budget = createTokenBudget({ limits: { run: { maxTokens: 5_000 } } });
    const graph = createBeliefCoordination({
      coordinator: chat("gpt-4o"), // no maxTokens: the graph builds a capped copy (max_tokens 50)
      executors: [
        { name: "mini", model: chat("gpt-4o-mini", { logprobs: true, maxTokens: 200 }) },
        { name: "nano", model: chat("gpt-4.1-nano", { logprobs: true, maxTokens: 200 }) },
        { name: "mini41", model: chat("gpt-4.1-mini", { maxTokens: 200 }) },
      ],
      embeddings: new ScriptedHashingEmbeddings(),
      parseAnswer: extractFinalNumber,
      maxRounds: 3,
      budget,
      budgetScopes: { run: "int-1" },
    });
    const before = server.requests.length;
    const result = await graph.invoke({ question: "A crate holds six rows of seven bottles. How many bottles?" });
    const requests = server.requests.slice(before);

    expect(result.answer).toBe("42");
    expect(result.stopReason).toBe("stable");
    expect(requests).toHaveLength(1 + 2 * 4); // strategy, then 2 rounds of 3 executors + 1 commitment

    const coordinatorRequests = requests.filter((request) => request.body?.model === "gpt-4o");
    expect(coordinatorRequests).toHaveLength(3);
    for (const request of coordinatorRequests) expect(request.body?.max_tokens).toBe(50);
    for (const request of requests.filter((entry) => entry.body?.model !== "gpt-4o")) {
      expect(request.body?.max_tokens).toBe(200);
      const prompt = request.body?.messages.map((message) => textOf(message.content)).join("\n") ?? "";
      for (const text of Object.values(EXECUTOR_ANSWERS)) expect(prompt).not.toContain(text.split("\n")[0]);
    }

    const sources = result.rounds[0]?.answers.map((answer) => answer.confidenceSource);
    expect(sources).toEqual(["logprobs", "logprobs", "default"]);

    // Usage per agent is the server's reported usage, not an estimate.
    expect(result.usage[COORDINATOR_NAME]).toMatchObject({ calls: 3, estimated: false });
    expect(result.usage.mini).toMatchObject({ calls: 2, estimated: false, model: "gpt-4o-mini" });
    const spent = budget.snapshot().find((account) => account.scope === "run")?.spentTokens;
    const counted = Object.values(result.usage).reduce((sum, usage) => sum + usage.inputTokens + usage.outputTokens, 0);
    expect(counted).toBe(spent);
    expect(spent).toBeLessThanOrEqual(5_000);
  });
});
