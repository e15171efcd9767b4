/**
 * tokenBudgetMiddleware through the real ChatOpenAI client, over real HTTP, against the
 * OpenAI-compatible test server on 127.0.0.1.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, tool } from "langchain";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTokenBudget } from "../../src/budget/index.js";
import { budgetExhaustionOf, type TokenBudgetCharge, tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { type OpenAICompatibleServer, type ServerReply, startOpenAICompatibleServer } from "../helpers/openaiServer.js";

const lookup = tool(async ({ city }) => `It is sunny in ${city}.`, {
  name: "lookup_weather",
  description: "Look up the weather of a city",
  schema: z.object({ city: z.string() }),
});

/** Recorded-style replies: a tool call, then an answer, each with the usage the server reports. */
const replies: ServerReply[] = [
  {
    toolCalls: [{ id: "call_weather_1", name: "lookup_weather", arguments: { city: "Paris" } }],
    usage: { prompt_tokens: 87, completion_tokens: 17 },
  },
  { content: "It is sunny in Paris.", usage: { prompt_tokens: 131, completion_tokens: 8 } },
];

let server: OpenAICompatibleServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function openAI(baseURL: string, fields: { maxTokens?: number; streaming?: boolean } = {}) {
  return new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: { baseURL }, maxRetries: 0, ...fields });
}

describe("tokenBudgetMiddleware with ChatOpenAI over HTTP", () => {
  it("charges exactly the usage the server returned, and sends the model's max_tokens", async () => {
    server = await startOpenAICompatibleServer({ replies });
    const charges: TokenBudgetCharge[] = [];
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } } });
    const agent = createAgent({
      model: openAI(server.baseURL, { maxTokens: 200 }),
      tools: [lookup],
      middleware: [
        tokenBudgetMiddleware({ runLimit: 10_000, budget, onCharge: (charge) => void charges.push(charge) }),
      ],
    });
    const result = await agent.invoke({ messages: [new HumanMessage("Weather in Paris?")] });

    expect(result.messages.at(-1)?.content).toBe("It is sunny in Paris.");
    expect(charges.map((charge) => charge.usage)).toEqual([
      { inputTokens: 87, outputTokens: 17, estimated: false },
      { inputTokens: 131, outputTokens: 8, estimated: false },
    ]);
    expect(result.tokenBudget.runTokens).toBe(87 + 17 + 131 + 8);
    expect(result.tokenBudget.runUsd).toBeCloseTo(((87 + 131) * 0.15 + (17 + 8) * 0.6) / 1e6, 12);
    expect(budget.snapshot()[0]?.spentTokens).toBe(243);
    expect(budget.outstanding).toBe(0);

    const bodies = server.requests.map((request) => request.body);
    expect(bodies).toHaveLength(2);
    expect(bodies.every((body) => body?.max_tokens === 200)).toBe(true);
    expect(bodies[0]?.tools?.map((definition) => definition.function.name)).toEqual(["lookup_weather"]);
  });

  it("sends max_tokens for a ChatOpenAI built without one (the capped copy), and reserves that cap", async () => {
    server = await startOpenAICompatibleServer({ replies });
    const charges: TokenBudgetCharge[] = [];
    const agent = createAgent({
      model: openAI(server.baseURL),
      tools: [lookup],
      middleware: [
        tokenBudgetMiddleware({
          runLimit: 10_000,
          maxOutputTokens: 321,
          onCharge: (charge) => void charges.push(charge),
        }),
      ],
    });
    await agent.invoke({ messages: [new HumanMessage("Weather in Paris?")] });

    expect(server.requests.map((request) => request.body?.max_tokens)).toEqual([321, 321]);
    expect(charges.every((charge) => charge.outputCapEnforced)).toBe(true);
    expect(charges.map((charge) => charge.tokens)).toEqual([104, 139]);
  });

  it("reads the usage of a streamed answer (stream_options.include_usage) while the agent streams tokens", async () => {
    server = await startOpenAICompatibleServer({ replies });
    const charges: TokenBudgetCharge[] = [];
    const agent = createAgent({
      model: openAI(server.baseURL, { maxTokens: 200, streaming: true }),
      tools: [lookup],
      middleware: [tokenBudgetMiddleware({ runLimit: 10_000, onCharge: (charge) => void charges.push(charge) })],
    });
    // Streamed through the agent ("messages" mode), as an app streaming tokens would. (A plain
    // invoke of a `streaming: true` ChatOpenAI also counts the prompt with tiktoken ranks it
    // downloads, which this offline machine cannot do.)
    let runTokens: number | undefined;
    let finalAnswer: unknown;
    const streamedText: string[] = [];
    const stream = await agent.stream(
      { messages: [new HumanMessage("Weather in Paris?")] },
      { streamMode: ["messages", "values"] },
    );
    for await (const [mode, payload] of stream) {
      if (mode === "values") {
        runTokens = payload.tokenBudget.runTokens;
        finalAnswer = payload.messages.at(-1)?.content;
      } else if (mode === "messages") {
        streamedText.push(String(payload[0].content));
      }
    }

    expect(server.requests.every((request) => request.body?.stream === true)).toBe(true);
    expect(server.requests.every((request) => request.body?.stream_options?.include_usage === true)).toBe(true);
    expect(streamedText.join("")).toContain("It is sunny in Paris.");
    expect(charges.map((charge) => charge.tokens)).toEqual([104, 139]);
    expect(charges.every((charge) => !charge.estimated)).toBe(true);
    expect(runTokens).toBe(243);
    expect(finalAnswer).toBe("It is sunny in Paris.");
  });

  it("stops before sending a request the run limit cannot afford", async () => {
    server = await startOpenAICompatibleServer({ replies });
    const agent = createAgent({
      model: openAI(server.baseURL, { maxTokens: 200 }),
      tools: [lookup],
      middleware: [tokenBudgetMiddleware({ runLimit: 400 })],
    });
    const result = await agent.invoke({ messages: [new HumanMessage("Weather in Paris?")] });
    // First call: ~90 prompt + 200 cap fits in 400; it spends 104; the second needs ~130 + 200 > 296.
    expect(server.requests).toHaveLength(1);
    expect(result.tokenBudget.runTokens).toBe(104);
    expect(budgetExhaustionOf(result.messages.at(-1))).toMatchObject({ scope: "run", limit: 400, spent: 104 });
  });
});
