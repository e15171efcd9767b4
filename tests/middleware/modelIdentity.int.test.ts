/**
 * Identity for any model (issue 14, item 6): `tokenBudgetMiddleware` names, prices and caps the
 * models LangChain builds from a string — `initChatModel("openai:gpt-4o-mini")`, a configurable
 * `initChatModel()` and `createAgent({ model: "openai:gpt-4o-mini" })` — through the real
 * ChatOpenAI client over HTTP against loopback servers.
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { HumanMessage } from "@langchain/core/messages";
import { createAgent, initChatModel, tool } from "langchain";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { createTokenBudget, UnknownModelPriceError } from "../../src/budget/index.js";
import { ConfigError } from "../../src/errors.js";
import { type TokenBudgetCharge, tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { type OpenAICompatibleServer, type ServerReply, startOpenAICompatibleServer } from "../helpers/openaiServer.js";

const lookup = tool(async ({ city }) => `It is sunny in ${city}.`, {
  name: "lookup_weather",
  description: "Look up the weather of a city",
  schema: z.object({ city: z.string() }),
});

const replies: ServerReply[] = [
  {
    toolCalls: [{ id: "call_weather_1", name: "lookup_weather", arguments: { city: "Paris" } }],
    usage: { prompt_tokens: 87, completion_tokens: 17 },
  },
  { content: "It is sunny in Paris.", usage: { prompt_tokens: 131, completion_tokens: 8 } },
];

/** gpt-4o-mini: $0.15 / $0.60 per million input / output tokens. */
const miniUsd = (input: number, output: number) => (input * 0.15 + output * 0.6) / 1e6;

let server: OpenAICompatibleServer | undefined;
let responses: ResponsesServer | undefined;
const savedEnv = { OPENAI_BASE_URL: process.env.OPENAI_BASE_URL, OPENAI_API_KEY: process.env.OPENAI_API_KEY };
afterEach(async () => {
  await server?.close();
  await responses?.close();
  server = undefined;
  responses = undefined;
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

function chargesRecorder() {
  const charges: TokenBudgetCharge[] = [];
  return { charges, onCharge: (charge: TokenBudgetCharge) => void charges.push(charge) };
}

describe("tokenBudgetMiddleware with initChatModel", () => {
  it("names, prices and caps initChatModel('openai:gpt-4o-mini'), under a maxUsd limit", async () => {
    server = await startOpenAICompatibleServer({ replies });
    const model = await initChatModel("openai:gpt-4o-mini", {
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
      maxRetries: 0,
    });
    const { charges, onCharge } = chargesRecorder();
    const agent = createAgent({
      model,
      tools: [lookup],
      middleware: [tokenBudgetMiddleware({ runLimit: { maxUsd: 0.01 }, maxOutputTokens: 300, onCharge })],
    });
    // Before: UnknownModelPriceError("chat_model") from the first call, and no max_tokens sent.
    const result = await agent.invoke({ messages: [new HumanMessage("Weather in Paris?")] });

    expect(result.messages.at(-1)?.content).toBe("It is sunny in Paris.");
    expect(charges.map((charge) => charge.model)).toEqual(["gpt-4o-mini", "gpt-4o-mini"]);
    expect(charges.map((charge) => charge.provider)).toEqual(["openai", "openai"]);
    expect(charges.every((charge) => charge.outputCapEnforced)).toBe(true);
    expect(server.requests.map((request) => request.body?.max_tokens)).toEqual([300, 300]);
    expect(result.tokenBudget.runUsd).toBeCloseTo(miniUsd(87 + 131, 17 + 8), 12);
  });

  it("keeps the model's own max_tokens when it declares one", async () => {
    server = await startOpenAICompatibleServer({ replies });
    const model = await initChatModel("openai:gpt-4o-mini", {
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
      maxRetries: 0,
      maxTokens: 123,
    });
    const { charges, onCharge } = chargesRecorder();
    const agent = createAgent({ model, tools: [lookup], middleware: [tokenBudgetMiddleware({ onCharge })] });
    await agent.invoke({ messages: [new HumanMessage("Weather in Paris?")] });

    expect(server.requests.map((request) => request.body?.max_tokens)).toEqual([123, 123]);
    expect(charges.map((charge) => charge.outputCapEnforced)).toEqual([true, true]);
  });

  it("resolves a configurable model from the call's config (model and modelProvider chosen per invocation)", async () => {
    server = await startOpenAICompatibleServer({ replies });
    // Built for gpt-4o-mini; this invocation's config picks gpt-4o.
    const model = await initChatModel("openai:gpt-4o-mini", {
      configurableFields: ["model", "modelProvider"],
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
      maxRetries: 0,
    });
    const { charges, onCharge } = chargesRecorder();
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } } });
    const agent = createAgent({ model, tools: [lookup], middleware: [tokenBudgetMiddleware({ budget, onCharge })] });
    await agent.invoke(
      { messages: [new HumanMessage("Weather in Paris?")] },
      { configurable: { model: "gpt-4o", modelProvider: "openai" } },
    );

    expect(server.requests.map((request) => request.body?.model)).toEqual(["gpt-4o", "gpt-4o"]);
    expect(charges.map((charge) => charge.model)).toEqual(["gpt-4o", "gpt-4o"]);
    expect(budget.snapshot()[0]?.spentUsd).toBeCloseTo(((87 + 131) * 2.5 + (17 + 8) * 10) / 1e6, 12);
    expect(server.requests.every((request) => typeof request.body?.max_tokens === "number")).toBe(true);
  });

  it("accepts requirePrices: false, the advice UnknownModelPriceError gives for an unpriced model", async () => {
    server = await startOpenAICompatibleServer({
      replies: () => ({ content: "Hi.", usage: { prompt_tokens: 10, completion_tokens: 2 } }),
    });
    const model = await initChatModel("openai:my-finetune", {
      apiKey: "test",
      configuration: { baseURL: server.baseURL },
      maxRetries: 0,
    });
    const strict = createAgent({ model, middleware: [tokenBudgetMiddleware({ runLimit: { maxUsd: 0.01 } })] });
    const error = await strict.invoke({ messages: [new HumanMessage("Hi")] }).catch((caught: unknown) => caught);
    const original = (error as { cause?: unknown }).cause ?? error;
    expect(UnknownModelPriceError.isInstance(original)).toBe(true);
    expect((original as Error).message).toContain("requirePrices: false");

    const { charges, onCharge } = chargesRecorder();
    const lenient = createAgent({
      model,
      middleware: [tokenBudgetMiddleware({ runLimit: { maxUsd: 0.01 }, requirePrices: false, onCharge })],
    });
    const result = await lenient.invoke({ messages: [new HumanMessage("Hi")] });
    expect(result.messages.at(-1)?.content).toBe("Hi.");
    expect(charges[0]).toMatchObject({ model: "my-finetune", usd: undefined, tokens: 12 });
    expect(() => tokenBudgetMiddleware({ requirePrices: "no" as never })).toThrow(ConfigError);
  });
});

// ---------------------------------------------------------------------------
// createAgent({ model: "openai:…" }): LangChain builds a ChatOpenAI on the Responses API
// ---------------------------------------------------------------------------

interface ResponsesServer {
  baseURL: string;
  bodies: Array<Record<string, unknown>>;
  close(): Promise<void>;
}

/** A loopback server for OpenAI's Responses API (`POST /v1/responses`): one text answer per request. */
async function startResponsesServer(usage: { input_tokens: number; output_tokens: number }): Promise<ResponsesServer> {
  const bodies: Array<Record<string, unknown>> = [];
  const readBody = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  };
  const httpServer: Server = createServer((request, response) => {
    void readBody(request).then((text) => {
      const body = JSON.parse(text) as Record<string, unknown>;
      bodies.push(body);
      const id = `resp_${bodies.length}`;
      response.writeHead(200, { "content-type": "application/json" });
      response.end(
        JSON.stringify({
          id,
          object: "response",
          created_at: 1_700_000_000,
          status: "completed",
          model: `${String(body.model)}-2024-07-18`,
          output: [
            {
              type: "message",
              id: `msg_${bodies.length}`,
              status: "completed",
              role: "assistant",
              content: [{ type: "output_text", text: "Bonjour.", annotations: [] }],
            },
          ],
          usage: { ...usage, total_tokens: usage.input_tokens + usage.output_tokens },
        }),
      );
    });
  });
  await new Promise<void>((resolve) => httpServer.listen(0, "127.0.0.1", () => resolve()));
  const { port } = httpServer.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    bodies,
    close: () =>
      new Promise<void>((resolve) => {
        httpServer.closeAllConnections();
        httpServer.close(() => resolve());
      }),
  };
}

describe('tokenBudgetMiddleware with createAgent({ model: "openai:…" })', () => {
  it("names, prices and caps the model LangChain builds from the string", async () => {
    responses = await startResponsesServer({ input_tokens: 40, output_tokens: 3 });
    process.env.OPENAI_BASE_URL = responses.baseURL;
    process.env.OPENAI_API_KEY = "test";
    const { charges, onCharge } = chargesRecorder();
    const agent = createAgent({
      model: "openai:gpt-4o-mini",
      middleware: [tokenBudgetMiddleware({ runLimit: { maxUsd: 0.01 }, maxOutputTokens: 256, onCharge })],
    });
    const result = await agent.invoke({ messages: [new HumanMessage("Say hello in French.")] });

    expect(result.messages.at(-1)?.text).toBe("Bonjour.");
    expect(responses.bodies.map((body) => body.max_output_tokens)).toEqual([256]);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ model: "gpt-4o-mini", provider: "openai", tokens: 43, outputCapEnforced: true });
    expect(charges[0]?.usd).toBeCloseTo(miniUsd(40, 3), 12);
  });
});
