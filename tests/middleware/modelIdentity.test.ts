/**
 * Model identity (issue 14, item 6) without a server: what `modelIdentity` reads off a model, and a
 * model known only by its LLM type named and priced from its reply's `response_metadata`.
 */
import { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent, initChatModel } from "langchain";
import { describe, expect, it } from "vitest";
import { type TokenBudgetCharge, tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { modelIdentity, resolveModel } from "../../src/models.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";

/** A chat model with no model field: only its replies say which model answered. */
class AnonymousChatModel extends BaseChatModel {
  calls = 0;
  _llmType(): string {
    return "anonymous";
  }
  override bindTools(): this {
    return this;
  }
  async _generate(_messages: BaseMessage[]): Promise<ChatResult> {
    this.calls += 1;
    const message = new AIMessage({
      content: "Hello.",
      response_metadata: { model_name: "gpt-4o-mini-2024-07-18", model_provider: "openai" },
      usage_metadata: { input_tokens: 1_000, output_tokens: 500, total_tokens: 1_500 },
    });
    return { generations: [{ text: "Hello.", message }] };
  }
}

describe("modelIdentity", () => {
  it("reads a client's own fields, and a configurable model's config", async () => {
    expect(modelIdentity(new ChatOpenAI({ model: "gpt-4o-mini", apiKey: "test" }))).toEqual({
      name: "gpt-4o-mini",
      provider: "openai",
      source: "fields",
    });
    const configurable = await initChatModel("openai:gpt-4.1-mini", { apiKey: "test" });
    // Before: "chat_model" (the configurable model's LLM type).
    expect(modelIdentity(configurable)).toEqual({ name: "gpt-4.1-mini", provider: "openai", source: "config" });
    const resolved = await resolveModel(configurable, { model: "gpt-4o" });
    expect(resolved).toBeInstanceOf(ChatOpenAI);
    expect(modelIdentity(resolved as ChatOpenAI).name).toBe("gpt-4o"); // model and modelProvider are configurable by default
  });

  it("says the name is only the LLM type, and names no provider for LangChain's default", () => {
    expect(modelIdentity(new AnonymousChatModel({}))).toEqual({
      name: "anonymous",
      provider: undefined,
      source: "type",
    });
    expect(modelIdentity(new ScriptedChatModel({ model: "gpt-4o-mini", replies: [] })).name).toBe("gpt-4o-mini");
  });
});

describe("tokenBudgetMiddleware and a model known only by its LLM type", () => {
  it("names and prices the charge from the reply's response_metadata, and prices later calls before they run", async () => {
    const charges: TokenBudgetCharge[] = [];
    const model = new AnonymousChatModel({});
    const agent = createAgent({
      model,
      middleware: [
        tokenBudgetMiddleware({
          threadLimit: { maxUsd: 0.01 },
          requirePrices: false,
          maxOutputTokens: 1_000,
          onCharge: (charge) => void charges.push(charge),
        }),
      ],
    });
    const first = await agent.invoke({ messages: [new HumanMessage("Hi")] });
    // Before: charged as "anonymous" with no USD, so the USD limit never saw the spend.
    expect(charges[0]).toMatchObject({ model: "gpt-4o-mini-2024-07-18", provider: "openai" });
    const usd = (1_000 * 0.15 + 500 * 0.6) / 1e6;
    expect(charges[0]?.usd).toBeCloseTo(usd, 12);
    expect(first.tokenBudget.runUsd).toBeCloseTo(usd, 12);

    await agent.invoke({ messages: [new HumanMessage("Hi again")] });
    expect(charges[1]?.model).toBe("gpt-4o-mini-2024-07-18");
    expect(charges[1]?.usd).toBeCloseTo(usd, 12);
    expect(model.calls).toBe(2);
  });
});
