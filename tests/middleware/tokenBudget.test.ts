import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { convertToOpenAITool } from "@langchain/core/utils/function_calling";
import { MemorySaver } from "@langchain/langgraph";
import { createAgent, tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  countJsonTokens,
  countMessageTokens,
  countOutputTokens,
  createTokenBudget,
  UnknownModelPriceError,
} from "../../src/budget/index.js";
import { BudgetExhaustedError, ConfigError } from "../../src/errors.js";
import {
  BUDGET_EXHAUSTED_METADATA_KEY,
  budgetExhaustionOf,
  ModelWithoutOutputCapError,
  type TokenBudgetCharge,
  type TokenBudgetMiddlewareOptions,
  tokenBudgetMiddleware,
} from "../../src/middleware/index.js";
import { ScriptedChatModel, type ScriptedReply, type ScriptedResponder } from "../helpers/scriptedChatModel.js";

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

const lookup = tool(async ({ city }) => `It is sunny in ${city}.`, {
  name: "lookup_weather",
  description: "Look up the weather of a city",
  schema: z.object({ city: z.string() }),
});

/** A model that calls the tool `toolTurns` times, then answers. Every turn reports `usage`. */
function toolLoop(
  toolTurns: number,
  usage: { inputTokens: number; outputTokens: number } | null = { inputTokens: 100, outputTokens: 20 },
): ScriptedResponder {
  return (call) =>
    call.index < toolTurns
      ? { toolCalls: [{ name: "lookup_weather", args: { city: `city-${call.index}` } }], usage }
      : { content: "Done.", usage };
}

/** A model that never stops calling the tool. */
const endlessTools: ScriptedResponder = (call) => ({
  toolCalls: [{ name: "lookup_weather", args: { city: `city-${call.index}` } }],
  usage: { inputTokens: 100, outputTokens: 20 },
});

function scripted(replies: ScriptedReply[] | ScriptedResponder, fields: { model?: string; maxTokens?: number } = {}) {
  return new ScriptedChatModel({ model: "gpt-4o-mini", maxTokens: 50, ...fields, replies });
}

function buildAgent(
  model: ScriptedChatModel,
  options: TokenBudgetMiddlewareOptions,
  extra: { checkpointer?: MemorySaver; systemPrompt?: string } = {},
) {
  const charges: TokenBudgetCharge[] = [];
  const middleware = tokenBudgetMiddleware({
    ...options,
    onCharge: async (charge) => {
      charges.push(charge);
      await options.onCharge?.(charge);
    },
  });
  const agent = createAgent({ model, tools: [lookup], middleware: [middleware], ...extra });
  return { agent, charges };
}

const ask = (content: string) => ({ messages: [new HumanMessage(content)] });
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

// ---------------------------------------------------------------------------
// Construction
// ---------------------------------------------------------------------------

describe("tokenBudgetMiddleware options", () => {
  const invalid: Array<[string, unknown, string]> = [
    ["a negative limit", { runLimit: -5 }, "runLimit"],
    ["a non-numeric limit", { threadLimit: "lots" }, "threadLimit"],
    ["a negative maxUsd", { runLimit: { maxUsd: -1 } }, "runLimit"],
    ["a typo'd key in a limit", { runLimit: { maxTokns: 10 } }, "runLimit"],
    ["a typo'd option", { runLimt: 10 }, "runLimt"],
    ["a zero maxOutputTokens", { maxOutputTokens: 0 }, "maxOutputTokens"],
    ["an unknown exit behaviour", { exitBehavior: "stop" }, "exitBehavior"],
    ["a budget that is not a TokenBudget", { budget: { limit: 5 } }, "budget"],
    ["downgrade without downgrade models", { exitBehavior: "downgrade" }, "downgradeModels"],
    [
      "a downgrade model without a price",
      {
        runLimit: { maxUsd: 1 },
        exitBehavior: "downgrade",
        downgradeModels: [scripted([], { model: "my-local-model" })],
      },
      "downgradeModels.0",
    ],
    [
      "a price entry with a negative price",
      { prices: { mine: { inputPerMillion: -1, outputPerMillion: 1 } } },
      "prices",
    ],
  ];

  it.each(invalid)("rejects %s at construction, naming the field", (_label, options, field) => {
    let caught: unknown;
    try {
      tokenBudgetMiddleware(options as TokenBudgetMiddlewareOptions);
    } catch (error) {
      caught = error;
    }
    expect(ConfigError.isInstance(caught)).toBe(true);
    const error = caught as ConfigError;
    expect(error.message).toContain(field);
    expect(error.message).toContain("tokenBudgetMiddleware options");
  });

  it("accepts a downgrade model priced through `prices`", () => {
    const local = scripted([], { model: "my-local-model" });
    expect(() =>
      tokenBudgetMiddleware({
        exitBehavior: "downgrade",
        downgradeModels: [local],
        prices: { "my-local-model": { inputPerMillion: 0, outputPerMillion: 0 } },
      }),
    ).not.toThrow();
  });

  it("fails the first call of a model without a price when a USD limit is set", async () => {
    const model = scripted(["hi"], { model: "my-local-model" });
    const { agent } = buildAgent(model, { runLimit: { maxUsd: 1 } });
    const error = await agent.invoke(ask("hello")).catch((caught: unknown) => caught);
    // LangChain wraps errors thrown inside wrapModelCall; the original is the cause.
    const original = (error as { cause?: unknown }).cause ?? error;
    expect(UnknownModelPriceError.isInstance(original)).toBe(true);
    expect((original as UnknownModelPriceError).model).toBe("my-local-model");
    expect(model.calls).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------
// Charging
// ---------------------------------------------------------------------------

describe("charging", () => {
  it("charges every call of a tool loop at the usage the provider reported", async () => {
    const model = scripted(toolLoop(2));
    const { agent, charges } = buildAgent(model, { runLimit: 10_000 });
    const result = await agent.invoke(ask("Weather in two cities?"));

    expect(model.calls).toHaveLength(3);
    expect(charges.map((charge) => charge.tokens)).toEqual([120, 120, 120]);
    expect(charges.every((charge) => !charge.estimated && !charge.overrun)).toBe(true);
    expect(charges[0]?.usage).toEqual({ inputTokens: 100, outputTokens: 20, estimated: false });
    expect(result.tokenBudget.runTokens).toBe(360);
    expect(result.tokenBudget.threadTokens).toBe(360);
    // gpt-4o-mini: $0.15 / $0.60 per million tokens.
    expect(result.tokenBudget.runUsd).toBeCloseTo(3 * (100 * 0.15 + 20 * 0.6) * 1e-6, 12);
    expect(result.messages.at(-1)?.content).toBe("Done.");
  });

  it("estimates usage with the tokenizer when the provider reports none, and marks it estimated", async () => {
    const model = scripted(toolLoop(1, null));
    const { agent, charges } = buildAgent(model, { runLimit: 10_000 }, { systemPrompt: "Answer briefly." });
    const result = await agent.invoke(ask("Weather in Paris?"));

    expect(charges).toHaveLength(2);
    expect(charges.every((charge) => charge.estimated && charge.usage.estimated === true)).toBe(true);
    const toolTokens = countJsonTokens(convertToOpenAITool(lookup), "gpt-4o-mini");
    const aiMessages = result.messages.filter((message): message is AIMessage => AIMessage.isInstance(message));
    model.calls.forEach((call, index) => {
      const expectedInput = countMessageTokens(call.messages, "gpt-4o-mini") + toolTokens;
      const answer = aiMessages[index];
      if (!answer) throw new Error("missing answer");
      expect(charges[index]?.usage.inputTokens).toBe(expectedInput);
      expect(charges[index]?.usage.outputTokens).toBe(countOutputTokens(answer, "gpt-4o-mini"));
    });
    expect(result.tokenBudget.runTokens).toBe(sum(charges.map((charge) => charge.tokens)));
  });

  it("estimates from the real history on every call of a checkpointed thread (cached counts stay exact)", async () => {
    // A tool call after each question, then an answer; no usage reported.
    const model = scripted((call) =>
      HumanMessage.isInstance(call.messages.at(-1))
        ? { toolCalls: [{ name: "lookup_weather", args: { city: `city-${call.index}` } }], usage: null }
        : { content: `Answer ${call.index}.`, usage: null },
    );
    const checkpointer = new MemorySaver();
    const { agent, charges } = buildAgent(model, { threadLimit: 100_000 }, { checkpointer, systemPrompt: "Be brief." });
    const config = { configurable: { thread_id: "estimates" } };
    await agent.invoke(ask("Weather in Paris?"), config);
    // The second run gets the history back from the checkpointer as new message objects.
    await agent.invoke(ask("And in Oslo?"), config);

    const toolTokens = countJsonTokens(convertToOpenAITool(lookup), "gpt-4o-mini");
    expect(model.calls).toHaveLength(4);
    model.calls.forEach((call, index) => {
      expect(charges[index]?.estimated).toBe(true);
      expect(charges[index]?.usage.inputTokens).toBe(countMessageTokens(call.messages, "gpt-4o-mini") + toolTokens);
    });
  });

  it("calls a capped copy of a model that declares no maxTokens, and reserves that cap", async () => {
    const model = new ScriptedChatModel({ model: "gpt-4o-mini", replies: toolLoop(1) });
    const { agent, charges } = buildAgent(model, { runLimit: 10_000, maxOutputTokens: 64 });
    await agent.invoke(ask("Weather?"));

    expect(model.calls.map((call) => call.maxTokens)).toEqual([64, 64]);
    expect(charges.every((charge) => charge.outputCapEnforced)).toBe(true);
    const firstPromptTokens = countMessageTokens(model.calls[0]?.messages ?? [], "gpt-4o-mini");
    const toolTokens = countJsonTokens(convertToOpenAITool(lookup), "gpt-4o-mini");
    expect(charges[0]?.reservedTokens).toBe(firstPromptTokens + toolTokens + 64);
  });

  it('with uncappedModels "reserve" calls the model as is and flags the cap as not enforced', async () => {
    const model = new ScriptedChatModel({ model: "gpt-4o-mini", replies: toolLoop(0) });
    const { agent, charges } = buildAgent(model, { runLimit: 10_000, uncappedModels: "reserve", maxOutputTokens: 64 });
    await agent.invoke(ask("Hi"));
    expect(model.calls[0]?.maxTokens).toBeUndefined();
    expect(charges[0]?.outputCapEnforced).toBe(false);
  });

  it('with uncappedModels "error" refuses a model without maxTokens before calling it', async () => {
    const model = new ScriptedChatModel({ model: "gpt-4o-mini", replies: ["hi"] });
    const { agent } = buildAgent(model, { runLimit: 10_000, uncappedModels: "error" });
    const error = await agent.invoke(ask("Hi")).catch((caught: unknown) => caught);
    const original = (error as { cause?: unknown }).cause ?? error;
    expect(ModelWithoutOutputCapError.isInstance(original)).toBe(true);
    expect(model.calls).toHaveLength(0);
  });

  it("flags an overrun when the provider ignores the cap, and refuses the next call that no longer fits", async () => {
    const model = new ScriptedChatModel({
      model: "gpt-4o-mini",
      maxTokens: 10,
      ignoreMaxTokens: true,
      replies: (call) => ({
        toolCalls: [{ name: "lookup_weather", args: { city: `city-${call.index}` } }],
        usage: { inputTokens: 10, outputTokens: 500 },
      }),
    });
    const { agent, charges } = buildAgent(model, { runLimit: 600 });
    const result = await agent.invoke(ask("Go"));
    expect(charges).toHaveLength(1);
    expect(charges[0]?.overrun).toBe(true);
    expect(charges[0]?.tokens).toBeGreaterThan(charges[0]?.reservedTokens ?? 0);
    expect(result.tokenBudget.runTokens).toBe(510);
    expect(budgetExhaustionOf(result.messages.at(-1))).toMatchObject({ scope: "run", spent: 510 });
  });
});

// ---------------------------------------------------------------------------
// Exit behaviours
// ---------------------------------------------------------------------------

describe("a model that counts its own prompt (the local llama.cpp model's countPromptTokens)", () => {
  /** A scripted test double of a small-vocabulary local model: its prompts are 3× js-tiktoken's count. */
  class SelfCountingScriptedModel extends ScriptedChatModel {
    async countPromptTokens(messages: readonly BaseMessage[]): Promise<number> {
      return 3 * countMessageTokens(messages, "gpt-4o-mini");
    }
  }
  const selfCounting = (replies: ScriptedResponder) =>
    new SelfCountingScriptedModel({ model: "gpt-4o-mini", maxTokens: 20, replies });
  const systemPrompt = "Answer briefly.";
  const ownCount = (question: string) =>
    3 * countMessageTokens([new SystemMessage(systemPrompt), new HumanMessage(question)], "gpt-4o-mini");

  it("reserves the model's own count, so the usage it reports never overruns the reservation", async () => {
    const question = "Weather in Paris?";
    const model = selfCounting(() => ({
      content: "Sunny.",
      usage: { inputTokens: ownCount(question), outputTokens: 5 },
    }));
    const charges: TokenBudgetCharge[] = [];
    const middleware = tokenBudgetMiddleware({ runLimit: 10_000, onCharge: (charge) => void charges.push(charge) });
    await createAgent({ model, tools: [], systemPrompt, middleware: [middleware] }).invoke(ask(question));
    expect(charges).toHaveLength(1);
    expect(charges[0]?.reservedTokens).toBe(ownCount(question) + 20);
    expect(charges[0]?.overrun).toBe(false);
  });

  it("refuses a call the tiktoken count would have let through, before calling the model", async () => {
    const question = "Weather in Paris?";
    const model = selfCounting(() => ({
      content: "Sunny.",
      usage: { inputTokens: ownCount(question), outputTokens: 5 },
    }));
    // Room for the tiktoken estimate (a third of the real prompt) + the cap, not for the real prompt.
    const limit = ownCount(question) / 3 + 20 + 10;
    expect(limit).toBeLessThan(ownCount(question) + 20);
    const agent = createAgent({
      model,
      tools: [],
      systemPrompt,
      middleware: [tokenBudgetMiddleware({ runLimit: limit })],
    });
    const result = await agent.invoke(ask(question));
    expect(model.calls).toHaveLength(0);
    expect(budgetExhaustionOf(result.messages.at(-1))).toMatchObject({ scope: "run" });
  });
});

describe('exitBehavior "end"', () => {
  it("ends the agent with a message naming the limit and the spend, never passing the limit", async () => {
    const model = scripted(endlessTools);
    const { agent, charges } = buildAgent(model, { runLimit: 1_000 });
    const result = await agent.invoke(ask("Loop forever"), { recursionLimit: 200 });

    const last = result.messages.at(-1);
    const details = budgetExhaustionOf(last);
    expect(details).toMatchObject({ scope: "run", unit: "tokens", limit: 1_000 });
    expect(details?.spent).toBe(result.tokenBudget.runTokens);
    expect(String(last?.content)).toContain("run limit is 1000 tokens");
    expect(String(last?.content)).toContain(`${result.tokenBudget.runTokens} tokens are spent`);
    expect(result.tokenBudget.runTokens).toBeLessThanOrEqual(1_000);
    expect(charges.length).toBe(model.calls.length);
    expect(model.calls.length).toBeGreaterThan(1);
    // The refused call would have needed more than what was left.
    expect((details?.spent ?? 0) + (details?.requested ?? 0)).toBeGreaterThan(1_000);
  });

  it("stops without calling the model when a limit is already used up", async () => {
    const model = scripted([{ content: "First answer.", usage: { inputTokens: 150, outputTokens: 50 } }]);
    const checkpointer = new MemorySaver();
    const { agent } = buildAgent(model, { threadLimit: 200 }, { checkpointer });
    const config = { configurable: { thread_id: "used-up" } };
    const first = await agent.invoke(ask("First"), config);
    expect(first.tokenBudget.threadTokens).toBe(200);

    const second = await agent.invoke(ask("Second"), config);
    expect(model.calls).toHaveLength(1);
    expect(budgetExhaustionOf(second.messages.at(-1))).toMatchObject({
      scope: "thread",
      scopeId: "used-up",
      spent: 200,
      limit: 200,
    });
  });
});

describe('exitBehavior "error"', () => {
  it("throws BudgetExhaustedError (unwrapped) when the next call cannot fit", async () => {
    const model = scripted(endlessTools);
    const { agent } = buildAgent(model, { runLimit: 1_000, exitBehavior: "error" });
    const error = await agent.invoke(ask("Loop"), { recursionLimit: 200 }).catch((caught: unknown) => caught);
    expect(BudgetExhaustedError.isInstance(error)).toBe(true);
    const exhausted = error as BudgetExhaustedError;
    expect(exhausted.scope).toBe("run");
    expect(exhausted.unit).toBe("tokens");
    expect(exhausted.limit).toBe(1_000);
    expect(exhausted.spent + exhausted.requested).toBeGreaterThan(1_000);
  });

  it("throws BudgetExhaustedError before calling the model when the thread limit is used up", async () => {
    const model = scripted([{ content: "First answer.", usage: { inputTokens: 150, outputTokens: 50 } }]);
    const checkpointer = new MemorySaver();
    const { agent } = buildAgent(model, { threadLimit: 200, exitBehavior: "error" }, { checkpointer });
    const config = { configurable: { thread_id: "t-error" } };
    await agent.invoke(ask("First"), config);
    const error = await agent.invoke(ask("Second"), config).catch((caught: unknown) => caught);
    expect(BudgetExhaustedError.isInstance(error)).toBe(true);
    expect(error).toMatchObject({ scope: "thread", scopeId: "t-error", spent: 200, limit: 200 });
    expect(model.calls).toHaveLength(1);
  });
});

describe('exitBehavior "downgrade"', () => {
  it("switches to the cheapest affordable model for the rest of the run once the current one cannot be afforded", async () => {
    const large = scripted(endlessTools, { model: "gpt-4o", maxTokens: 400 });
    const small = scripted(toolLoop(2), { model: "gpt-4o-mini", maxTokens: 100 });
    const medium = scripted([], { model: "gpt-4.1-mini", maxTokens: 100 });
    // gpt-4o: 2.5 / 10 $ per M; a call reserves ≈ 200 input + 400 output ≈ $0.0045.
    const { agent, charges } = buildAgent(large, {
      runLimit: { maxUsd: 0.01 },
      exitBehavior: "downgrade",
      downgradeModels: [medium, small],
    });
    const result = await agent.invoke(ask("Work"), { recursionLimit: 200 });

    expect(large.calls.length).toBeGreaterThan(0);
    expect(small.calls.length).toBe(3);
    expect(medium.calls).toHaveLength(0);
    expect(result.tokenBudget.downgradedTo).toBe("gpt-4o-mini");
    expect(result.messages.at(-1)?.content).toBe("Done.");
    const downgraded = charges.filter((charge) => charge.downgradedFrom !== undefined);
    expect(downgraded.map((charge) => charge.model)).toEqual(["gpt-4o-mini", "gpt-4o-mini", "gpt-4o-mini"]);
    expect(downgraded.every((charge) => charge.downgradedFrom === "gpt-4o")).toBe(true);
    expect(result.tokenBudget.runUsd).toBeLessThanOrEqual(0.01);
  });

  it("ends with a message when no downgrade model fits either", async () => {
    const large = scripted(endlessTools, { model: "gpt-4o", maxTokens: 400 });
    const small = scripted(endlessTools, { model: "gpt-4o-mini", maxTokens: 100 });
    const { agent } = buildAgent(large, {
      runLimit: { maxUsd: 0.001 },
      exitBehavior: "downgrade",
      downgradeModels: [small],
    });
    const result = await agent.invoke(ask("Work"), { recursionLimit: 500 });
    expect(String(result.messages.at(-1)?.content)).toContain("no downgrade model fits");
    expect(result.tokenBudget.runUsd).toBeLessThanOrEqual(0.001);
    expect(small.calls.length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------------------
// Scopes, context, awareness
// ---------------------------------------------------------------------------

describe("thread and run scopes", () => {
  it("keeps thread totals across invocations with a checkpointer and resets run totals", async () => {
    // Each invocation: one tool call, then an answer; 120 tokens per call.
    const model = scripted((call) =>
      call.index % 2 === 0
        ? {
            toolCalls: [{ name: "lookup_weather", args: { city: "Oslo" } }],
            usage: { inputTokens: 100, outputTokens: 20 },
          }
        : { content: "ok", usage: { inputTokens: 100, outputTokens: 20 } },
    );
    const checkpointer = new MemorySaver();
    const { agent } = buildAgent(model, { threadLimit: 10_000, runLimit: 1_000 }, { checkpointer });
    const config = { configurable: { thread_id: "conversation-1" } };

    const first = await agent.invoke(ask("One"), config);
    expect(first.tokenBudget.runTokens).toBe(240);
    expect(first.tokenBudget.threadTokens).toBe(240);

    const second = await agent.invoke(ask("Two"), config);
    expect(second.tokenBudget.runTokens).toBe(240);
    expect(second.tokenBudget.threadTokens).toBe(480);

    const otherThread = await agent.invoke(ask("Three"), { configurable: { thread_id: "conversation-2" } });
    expect(otherThread.tokenBudget.threadTokens).toBe(240);
  });

  it("lets the thread limit stop a run whose own limit still has room", async () => {
    const model = scripted(endlessTools);
    const checkpointer = new MemorySaver();
    const { agent } = buildAgent(model, { threadLimit: 600, runLimit: 5_000 }, { checkpointer });
    const config = { configurable: { thread_id: "t" }, recursionLimit: 200 };
    const first = await agent.invoke(ask("One"), config);
    const second = await agent.invoke(ask("Two"), config);
    expect(second.tokenBudget.threadTokens).toBeLessThanOrEqual(600);
    expect(first.tokenBudget.threadTokens).toBeGreaterThan(0);
    expect(budgetExhaustionOf(second.messages.at(-1))?.scope).toBe("thread");
  });

  it("takes per-invocation limit overrides and an example id from the context", async () => {
    const budget = createTokenBudget({ limits: { example: { maxTokens: 100_000 } } });
    const model = scripted(endlessTools);
    const { agent } = buildAgent(model, { runLimit: 100_000, budget });
    const result = await agent.invoke(ask("Go"), {
      recursionLimit: 200,
      context: { tokenBudget: { runLimit: 500, exampleId: "gsm8k-17" } },
    });
    expect(budgetExhaustionOf(result.messages.at(-1))).toMatchObject({ scope: "run", limit: 500 });
    const example = budget.snapshot().find((account) => account.scope === "example");
    expect(example).toMatchObject({
      scopeId: "gsm8k-17",
      spentTokens: result.tokenBudget.runTokens,
      reservedTokens: 0,
    });
  });
});

describe("injectRemainingBudget", () => {
  const systemText = (messages: BaseMessage[]) => {
    const first = messages[0];
    return first && SystemMessage.isInstance(first) ? first.text : "";
  };

  it("appends the remaining tokens and dollars to the system prompt the model sees", async () => {
    const model = scripted(toolLoop(1));
    const { agent } = buildAgent(
      model,
      { runLimit: { maxTokens: 5_000, maxUsd: 0.5 }, injectRemainingBudget: true },
      { systemPrompt: "You are a weather bot." },
    );
    await agent.invoke(ask("Weather?"));
    const [first, second] = model.calls.map((call) => systemText(call.messages));
    expect(first).toBe("You are a weather bot.\n\nRemaining token budget: 5000 tokens (~$0.5000)");
    const spentUsd = (100 * 0.15 + 20 * 0.6) * 1e-6;
    expect(second).toBe(
      `You are a weather bot.\n\nRemaining token budget: 4880 tokens (~$${(0.5 - spentUsd).toFixed(4)})`,
    );
  });

  it("adds a system prompt when the agent has none, and counts it in the reservation", async () => {
    const model = scripted(toolLoop(0));
    const { agent, charges } = buildAgent(model, { runLimit: 2_000, injectRemainingBudget: true });
    await agent.invoke(ask("Hi"));
    const seen = model.calls[0]?.messages ?? [];
    expect(systemText(seen)).toBe("Remaining token budget: 2000 tokens");
    const toolTokens = countJsonTokens(convertToOpenAITool(lookup), "gpt-4o-mini");
    expect(charges[0]?.reservedTokens).toBe(countMessageTokens(seen, "gpt-4o-mini") + toolTokens + 50);
  });

  it("leaves the system prompt alone when disabled", async () => {
    const model = scripted(toolLoop(0));
    const { agent } = buildAgent(model, { runLimit: 2_000 }, { systemPrompt: "Plain." });
    await agent.invoke(ask("Hi"));
    expect(systemText(model.calls[0]?.messages ?? [])).toBe("Plain.");
  });
});

// ---------------------------------------------------------------------------
// Shared TokenBudget
// ---------------------------------------------------------------------------

describe("shared TokenBudget", () => {
  it("releases the reservation when the model throws, charges nothing, and rethrows", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 10_000 } } });
    const failure = new Error("provider is down");
    const model = scripted([{ error: failure }]);
    const { agent, charges } = buildAgent(model, { budget, runLimit: 5_000 });
    const error = await agent.invoke(ask("Hi")).catch((caught: unknown) => caught);
    expect((error as { cause?: unknown }).cause ?? error).toBe(failure);
    expect(budget.outstanding).toBe(0);
    expect(budget.snapshot()[0]).toMatchObject({ spentTokens: 0, reservedTokens: 0 });
    expect(charges).toHaveLength(0);
    expect(model.calls).toHaveLength(1);
  });

  it("is never exceeded by 20 concurrent agent invocations sharing it", async () => {
    const limit = 6_000;
    let heldAtMost = 0;
    let inFlightAtMost = 0;
    const budget = createTokenBudget({
      limits: { global: { maxTokens: limit }, run: { maxTokens: 2_000 } },
      onEvent: () => {
        inFlightAtMost = Math.max(inFlightAtMost, budget.outstanding);
        const global = budget.snapshot().find((account) => account.scope === "global");
        if (global) heldAtMost = Math.max(heldAtMost, global.spentTokens + global.reservedTokens);
      },
    });
    // Each call waits a different number of macrotasks, so the 20 runs interleave.
    const model = scripted(async (call) => {
      for (let tick = 0; tick < call.index % 5; tick += 1) await new Promise((resolve) => setImmediate(resolve));
      return call.index % 7 === 6
        ? { content: "Done.", usage: { inputTokens: 90, outputTokens: 10 } }
        : {
            toolCalls: [{ name: "lookup_weather", args: { city: `c${call.index}` } }],
            usage: { inputTokens: 100, outputTokens: 20 },
          };
    });
    const { agent, charges } = buildAgent(model, { budget });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, index) =>
        agent.invoke(ask(`Task ${index}`), {
          recursionLimit: 500,
          context: { tokenBudget: { runId: `run-${index}` } },
        }),
      ),
    );

    const global = budget.snapshot().find((account) => account.scope === "global");
    expect(global?.spentTokens).toBe(sum(charges.map((charge) => charge.tokens)));
    expect(global?.spentTokens).toBeLessThanOrEqual(limit);
    expect(heldAtMost).toBeLessThanOrEqual(limit);
    expect(inFlightAtMost).toBeGreaterThan(1); // the runs really overlapped
    expect(budget.outstanding).toBe(0);
    // Each run was charged to its own run account (named by the context), each within its limit.
    const runs = budget.snapshot().filter((account) => account.scope === "run");
    expect(runs).toHaveLength(20);
    for (const [index, result] of results.entries()) {
      const account = runs.find((run) => run.scopeId === `run-${index}`);
      expect(account?.spentTokens).toBe(result.tokenBudget.runTokens);
      expect(account?.spentTokens).toBeLessThanOrEqual(2_000);
      budget.closeScope("run", `run-${index}`);
    }
    expect(budget.snapshot().filter((account) => account.scope === "run")).toHaveLength(0);
    expect(sum(results.map((result) => result.tokenBudget.runTokens))).toBe(global?.spentTokens);
    // The budget was the binding constraint: some runs were stopped by it.
    expect(results.some((result) => budgetExhaustionOf(result.messages.at(-1))?.scope === "global")).toBe(true);
    expect(charges.length).toBe(model.calls.length);
  });

  it("marks the stopping message with the exhausted account", async () => {
    const budget = createTokenBudget({ limits: { global: { maxTokens: 300 } } });
    const model = scripted(endlessTools);
    const { agent } = buildAgent(model, { budget });
    const result = await agent.invoke(ask("Go"), { recursionLimit: 100 });
    const last = result.messages.at(-1);
    expect(AIMessage.isInstance(last)).toBe(true);
    expect((last as AIMessage).response_metadata[BUDGET_EXHAUSTED_METADATA_KEY]).toMatchObject({
      scope: "global",
      scopeId: "*",
      unit: "tokens",
      limit: 300,
    });
    expect(budget.snapshot()[0]?.spentTokens).toBeLessThanOrEqual(300);
  });
});
