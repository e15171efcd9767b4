/**
 * The OpenAI-compatible test server (tests/helpers/openaiServer.ts), driven by the real
 * ChatOpenAI client: non-stream and stream answers, usage, logprobs, tool calls, errors.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { afterEach, describe, expect, it } from "vitest";
import {
  type OpenAICompatibleServer,
  startOpenAICompatibleServer,
  type TokenLogprob,
} from "../helpers/openaiServer.js";

let server: OpenAICompatibleServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** The `logprobs.content` entries ChatOpenAI puts in `response_metadata`. */
const logprobsOf = (metadata: unknown) =>
  (metadata as { logprobs?: { content?: TokenLogprob[] } } | undefined)?.logprobs?.content;

const client = (baseURL: string, fields: Record<string, unknown> = {}) =>
  new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test", configuration: { baseURL }, maxRetries: 0, ...fields });

describe("OpenAI-compatible test server", () => {
  it("serves a recorded answer with usage, and records the request", async () => {
    server = await startOpenAICompatibleServer({
      replies: [{ content: "Paris.", usage: { prompt_tokens: 11, completion_tokens: 2 } }],
    });
    const answer = await client(server.baseURL, { maxTokens: 16 }).invoke([new HumanMessage("Capital of France?")]);
    expect(answer.content).toBe("Paris.");
    expect(answer.usage_metadata).toMatchObject({ input_tokens: 11, output_tokens: 2, total_tokens: 13 });
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]?.path).toBe("/v1/chat/completions");
    expect(server.requests[0]?.headers.authorization).toBe("Bearer test");
    expect(server.requests[0]?.body?.messages).toEqual([{ role: "user", content: "Capital of France?" }]);
    expect(server.requests[0]?.body?.max_tokens).toBe(16);
  });

  it("counts usage with the tokenizer when the reply does not script it", async () => {
    server = await startOpenAICompatibleServer({ replies: ["hello world"] });
    const answer = await client(server.baseURL).invoke([new HumanMessage("hi")]);
    // prompt: 3 priming + (3 + "user" + "hi"); completion: "hello world" = 2 tokens.
    expect(answer.usage_metadata).toMatchObject({ input_tokens: 8, output_tokens: 2 });
  });

  it("answers from a handler function with the request body", async () => {
    server = await startOpenAICompatibleServer({
      replies: (body, index) => ({
        content: `#${index}: ${body.messages.length} messages`,
        usage: { prompt_tokens: 1, completion_tokens: 1 },
      }),
    });
    const model = client(server.baseURL);
    expect((await model.invoke([new HumanMessage("a")])).content).toBe("#0: 1 messages");
    expect((await model.invoke([new HumanMessage("a"), new HumanMessage("b")])).content).toBe("#1: 2 messages");
  });

  it("streams chunks and a final usage chunk when stream_options.include_usage is set", async () => {
    server = await startOpenAICompatibleServer({
      replies: [
        {
          content: "A fairly long streamed answer, cut in pieces.",
          usage: { prompt_tokens: 9, completion_tokens: 10 },
        },
      ],
    });
    const model = client(server.baseURL, { streaming: true });
    const chunks: string[] = [];
    let usage: unknown;
    for await (const chunk of await model.stream([new HumanMessage("Stream please")])) {
      chunks.push(String(chunk.content));
      if (chunk.usage_metadata) usage = chunk.usage_metadata;
    }
    expect(chunks.join("")).toBe("A fairly long streamed answer, cut in pieces.");
    expect(chunks.filter((text) => text.length > 0).length).toBeGreaterThan(1);
    expect(usage).toMatchObject({ input_tokens: 9, output_tokens: 10 });
    expect(server.requests[0]?.body?.stream_options).toEqual({ include_usage: true });
  });

  it("returns logprobs.content with top_logprobs when asked, deterministic for a seed", async () => {
    const reply = { content: "Blue is calm.", usage: { prompt_tokens: 5, completion_tokens: 4 } };
    server = await startOpenAICompatibleServer({ replies: [reply, reply], seed: 7 });
    const model = client(server.baseURL, { logprobs: true, topLogprobs: 3 });
    const first = await model.invoke([new HumanMessage("Colour?")]);
    const second = await model.invoke([new HumanMessage("Colour?")]);
    const entries = logprobsOf(first.response_metadata);
    expect(server.requests[0]?.body?.logprobs).toBe(true);
    expect(server.requests[0]?.body?.top_logprobs).toBe(3);
    expect(entries?.map((entry) => entry.token).join("")).toBe("Blue is calm.");
    for (const entry of entries ?? []) {
      expect(entry.logprob).toBeLessThanOrEqual(0);
      expect(entry.top_logprobs).toHaveLength(3);
      expect(entry.top_logprobs[0]?.token).toBe(entry.token);
    }
    expect(logprobsOf(second.response_metadata)).toEqual(entries);
  });

  it("streams logprobs per token", async () => {
    server = await startOpenAICompatibleServer({ replies: ["one two three"] });
    const model = client(server.baseURL, { streaming: true, logprobs: true, topLogprobs: 2 });
    const tokens: string[] = [];
    for await (const chunk of await model.stream([new HumanMessage("Count")])) {
      for (const entry of logprobsOf(chunk.response_metadata) ?? []) tokens.push(entry.token);
    }
    expect(tokens.join("")).toBe("one two three");
  });

  it("serves tool calls, non-stream and stream", async () => {
    const reply = { toolCalls: [{ id: "call_1", name: "lookup", arguments: { city: "Oslo" } }] };
    server = await startOpenAICompatibleServer({ replies: [reply, reply] });
    const tools = [
      { type: "function" as const, function: { name: "lookup", parameters: { type: "object", properties: {} } } },
    ];
    const plain = await client(server.baseURL)
      .bindTools(tools)
      .invoke([new HumanMessage("Weather?")]);
    expect(plain.tool_calls).toEqual([{ id: "call_1", name: "lookup", args: { city: "Oslo" }, type: "tool_call" }]);
    let streamed: { name?: string; args?: unknown }[] = [];
    const streaming = client(server.baseURL, { streaming: true }).bindTools(tools);
    let merged: Awaited<ReturnType<typeof streaming.invoke>> | undefined;
    for await (const chunk of await streaming.stream([new HumanMessage("Weather?")])) {
      merged = merged ? merged.concat(chunk) : chunk;
    }
    streamed = merged?.tool_calls ?? [];
    expect(streamed).toMatchObject([{ name: "lookup", args: { city: "Oslo" } }]);
  });

  it("serves a recorded raw chat.completion unchanged", async () => {
    const raw = {
      id: "chatcmpl-recorded",
      object: "chat.completion" as const,
      created: 1_700_000_000,
      model: "gpt-4o-mini-2024-07-18",
      choices: [
        { index: 0, message: { role: "assistant", content: "Recorded." }, logprobs: null, finish_reason: "stop" },
      ],
      usage: { prompt_tokens: 21, completion_tokens: 3, total_tokens: 24 },
    };
    server = await startOpenAICompatibleServer({ replies: [raw] });
    const answer = await client(server.baseURL).invoke([new HumanMessage("?")]);
    expect(answer.content).toBe("Recorded.");
    expect(answer.id).toBe("chatcmpl-recorded");
    expect(answer.usage_metadata).toMatchObject({ input_tokens: 21, output_tokens: 3 });
  });

  it("serves scripted HTTP errors and reports an exhausted recording as a 500", async () => {
    server = await startOpenAICompatibleServer({
      replies: [{ status: 429, error: { message: "slow down", type: "rate_limit_error" } }],
    });
    const model = client(server.baseURL);
    await expect(model.invoke([new HumanMessage("a")])).rejects.toThrow(/slow down/);
    await expect(model.invoke([new HumanMessage("b")])).rejects.toThrow(/no recorded reply left/);
    expect(server.requests).toHaveLength(2);
  });
});
