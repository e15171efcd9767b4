/**
 * LangChain's `ChatOpenAI` pointed at the gateway (which serves a pool of `ChatOpenAI` members
 * pointed at the loopback provider): invoke, stream, bindTools, withStructuredOutput.
 */
import type { AIMessageChunk } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { afterEach, describe, expect, it } from "vitest";
import { z } from "zod";
import { ROUTER_MODEL_ID } from "../../adapters/server/types.js";
import type { ChatCompletionRequestBody } from "../helpers/openaiServer.js";
import { type Gateway, kindOf, startGateway, TEST_KEY } from "./gateway-fixture.js";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function clientOf(model: string, baseURL: string): ChatOpenAI {
  return new ChatOpenAI({ model, apiKey: TEST_KEY, maxRetries: 0, configuration: { baseURL } });
}

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

/** Answers a forced tool call with the tool's arguments, a json_schema with JSON, else text. */
function structuredAnswers(body: ChatCompletionRequestBody) {
  const forced = body.tool_choice as { function?: { name?: string } } | undefined;
  if (forced?.function?.name) {
    return { toolCalls: [{ id: "call_s1", name: forced.function.name, arguments: { city: "Paris", population: 2 } }] };
  }
  if ((body.response_format as { type?: string } | undefined)?.type === "json_schema") {
    return '{"city":"Paris","population":2}';
  }
  if (body.tools !== undefined)
    return { toolCalls: [{ id: "call_w1", name: "get_weather", arguments: { city: "Oslo" } }] };
  return "Paris is the capital of France.";
}

const place = z.object({ city: z.string(), population: z.number() });

describe("ChatOpenAI against the gateway", () => {
  it("invoke on gavel/auto: the answer, the winner as model_name, the usage", async () => {
    gateway = await startGateway({ answer: structuredAnswers });
    const reply = await clientOf(ROUTER_MODEL_ID, gateway.baseURL).invoke("Capital of France?");
    expect(reply.content).toBe("Paris is the capital of France.");
    expect(["mini", "large"]).toContain(reply.response_metadata.model_name);
    expect(reply.usage_metadata?.total_tokens).toBeGreaterThan(0);
  });

  it("stream on a pinned member: the chunks add up to the answer, with the usage the provider billed", async () => {
    gateway = await startGateway({ answer: structuredAnswers });
    let gathered: AIMessageChunk | undefined;
    let chunks = 0;
    for await (const chunk of await clientOf("large", gateway.baseURL).stream("Capital of France?")) {
      gathered = gathered === undefined ? chunk : gathered.concat(chunk);
      chunks += 1;
    }
    expect(chunks).toBeGreaterThan(2);
    expect(gathered?.content).toBe("Paris is the capital of France.");
    const billed = gateway.provider.billing[0];
    expect(gathered?.usage_metadata).toMatchObject({
      input_tokens: billed?.promptTokens,
      output_tokens: billed?.completionTokens,
    });
  });

  it("bindTools: the tool call comes back parsed, through gavel/auto", async () => {
    gateway = await startGateway({ answer: structuredAnswers });
    const reply = await clientOf(ROUTER_MODEL_ID, gateway.baseURL).bindTools([weatherTool]).invoke("Weather in Oslo?");
    expect(reply.tool_calls).toEqual([
      { id: "call_w1", name: "get_weather", args: { city: "Oslo" }, type: "tool_call" },
    ]);
  });

  it("bindTools streamed: the tool call chunks merge into the call", async () => {
    gateway = await startGateway({ answer: structuredAnswers });
    let gathered: AIMessageChunk | undefined;
    for await (const chunk of await clientOf("mini", gateway.baseURL).bindTools([weatherTool]).stream("Weather?")) {
      gathered = gathered === undefined ? chunk : gathered.concat(chunk);
    }
    expect(gathered?.tool_calls?.[0]).toMatchObject({ name: "get_weather", args: { city: "Oslo" } });
    expect(gathered?.response_metadata.finish_reason).toBe("tool_calls");
  });

  it("withStructuredOutput (json schema) on a pinned member: the provider gets response_format, the client the object", async () => {
    gateway = await startGateway({ answer: structuredAnswers });
    const structured = clientOf("mini", gateway.baseURL).withStructuredOutput(place, {
      name: "place",
      method: "jsonSchema",
    });
    expect(await structured.invoke("Where?")).toEqual({ city: "Paris", population: 2 });
    const seen = gateway.provider.requests.at(-1)?.body;
    expect((seen?.response_format as { type?: string } | undefined)?.type).toBe("json_schema");
  });

  it("withStructuredOutput (json schema) on gavel/auto: the winner answers by a forced tool call, returned as JSON content", async () => {
    gateway = await startGateway({ answer: structuredAnswers });
    const structured = clientOf(ROUTER_MODEL_ID, gateway.baseURL).withStructuredOutput(place, {
      name: "place",
      method: "jsonSchema",
    });
    expect(await structured.invoke("Where?")).toEqual({ city: "Paris", population: 2 });
    const answers = gateway.provider.requests
      .map((request) => request.body)
      .filter((body): body is ChatCompletionRequestBody => body !== undefined && kindOf(body) === "answer");
    expect(answers).toHaveLength(1);
    expect(answers[0]?.tools?.[0]?.function.name).toBe("place");
    expect(answers[0]?.tool_choice).toEqual({ type: "function", function: { name: "place" } });
  });

  it("withStructuredOutput (function calling) on gavel/auto", async () => {
    gateway = await startGateway({ answer: structuredAnswers });
    const structured = clientOf(ROUTER_MODEL_ID, gateway.baseURL).withStructuredOutput(place, {
      name: "place",
      method: "functionCalling",
    });
    expect(await structured.invoke("Where?")).toEqual({ city: "Paris", population: 2 });
  });
});
