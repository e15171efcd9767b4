import { AIMessage, type AIMessageChunk, HumanMessage } from "@langchain/core/messages";
import { tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { countMessageTokens, countTextTokens } from "../../src/budget/index.js";
import { cappedCopy, declaredOutputCap, modelName } from "../../src/models.js";
import { createScriptedRecorder, ScriptedChatModel } from "../helpers/scriptedChatModel.js";

const echo = tool(async ({ text }) => text, {
  name: "echo",
  description: "Echo",
  schema: z.object({ text: z.string() }),
});

describe("ScriptedChatModel", () => {
  it("answers an array script in order, records the calls, and fails clearly when it runs out", async () => {
    const model = new ScriptedChatModel({ model: "gpt-4o-mini", replies: ["one", { content: "two" }] });
    expect((await model.invoke([new HumanMessage("a")])).content).toBe("one");
    expect((await model.invoke([new HumanMessage("b")])).content).toBe("two");
    await expect(model.invoke([new HumanMessage("c")])).rejects.toThrow(/ran out of replies: 2 scripted, call #3/);
    expect(model.calls.map((call) => call.index)).toEqual([0, 1, 2]);
    expect(model.calls[1]?.messages.map((message) => message.content)).toEqual(["b"]);
  });

  it("answers from a function of the call, with tool calls that bindTools made possible", async () => {
    const model = new ScriptedChatModel({
      replies: (call) => ({ toolCalls: [{ name: call.toolNames[0] ?? "none", args: { text: "hi" } }] }),
    });
    const answer = await model.bindTools([echo]).invoke([new HumanMessage("call the tool")]);
    expect(answer.tool_calls).toEqual([{ type: "tool_call", id: "call_0_0", name: "echo", args: { text: "hi" } }]);
    expect(model.calls[0]?.toolNames).toEqual(["echo"]);
  });

  it("reports usage counted with the tokenizer, scripted usage, or none", async () => {
    const model = new ScriptedChatModel({
      model: "gpt-4o-mini",
      replies: [
        "hello world",
        { content: "x", usage: { inputTokens: 7, outputTokens: 3 } },
        { content: "y", usage: null },
      ],
    });
    const prompt = [new HumanMessage("count me")];
    const counted = await model.invoke(prompt);
    expect(counted.usage_metadata).toEqual({
      input_tokens: countMessageTokens(prompt, "gpt-4o-mini"),
      output_tokens: countTextTokens("hello world", "gpt-4o-mini"),
      total_tokens: countMessageTokens(prompt, "gpt-4o-mini") + countTextTokens("hello world", "gpt-4o-mini"),
    });
    expect((await model.invoke(prompt)).usage_metadata).toEqual({
      input_tokens: 7,
      output_tokens: 3,
      total_tokens: 10,
    });
    expect((await model.invoke(prompt)).usage_metadata).toBeUndefined();
  });

  it("caps reported output at maxTokens like a provider, unless told to ignore it", async () => {
    const reply = { content: "long", usage: { inputTokens: 5, outputTokens: 500 } };
    const capped = new ScriptedChatModel({ maxTokens: 64, replies: [reply] });
    const answer = await capped.invoke("go");
    expect(answer.usage_metadata?.output_tokens).toBe(64);
    expect(answer.response_metadata.finish_reason).toBe("length");
    const ignoring = new ScriptedChatModel({ maxTokens: 64, ignoreMaxTokens: true, replies: [reply] });
    expect((await ignoring.invoke("go")).usage_metadata?.output_tokens).toBe(500);
  });

  it("throws a scripted error after recording the call", async () => {
    const failure = new Error("scripted outage");
    const model = new ScriptedChatModel({ replies: [{ error: failure }] });
    await expect(model.invoke("x")).rejects.toBe(failure);
    expect(model.calls).toHaveLength(1);
  });

  it("streams its answer as one chunk with usage", async () => {
    const model = new ScriptedChatModel({
      replies: [{ content: "streamed", usage: { inputTokens: 2, outputTokens: 1 } }],
    });
    const chunks: AIMessageChunk[] = [];
    for await (const chunk of await model.stream("x")) chunks.push(chunk);
    expect(chunks.map((chunk) => chunk.content)).toEqual(["streamed"]);
    expect(chunks[0]?.usage_metadata).toMatchObject({ input_tokens: 2, output_tokens: 1 });
  });

  it("reports its name and cap, and a capped copy shares its script and its record", async () => {
    const model = new ScriptedChatModel({ model: "gpt-4.1-mini", replies: ["first", "second"] });
    expect(modelName(model)).toBe("gpt-4.1-mini");
    expect(declaredOutputCap(model)).toBeUndefined();
    const copy = cappedCopy(model, 128);
    expect(copy).toBeInstanceOf(ScriptedChatModel);
    expect(declaredOutputCap(copy as ScriptedChatModel)).toBe(128);
    expect((await model.invoke("a")).content).toBe("first");
    expect((await (copy as ScriptedChatModel).invoke("b")).content).toBe("second");
    expect(model.calls.map((call) => call.maxTokens)).toEqual([undefined, 128]);
  });

  it("lets several models share one recorder, each keeping its own script position", async () => {
    const recorder = createScriptedRecorder();
    const small = new ScriptedChatModel({ model: "gpt-4o-mini", replies: ["small"], recorder });
    const large = new ScriptedChatModel({ model: "gpt-4o", replies: [new AIMessage("large")], recorder });
    expect((await small.invoke("a")).content).toBe("small");
    expect((await large.invoke("b")).content).toBe("large");
    expect(recorder.calls.map((call) => call.index)).toEqual([0, 1]);
  });
});
