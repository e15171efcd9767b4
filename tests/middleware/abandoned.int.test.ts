/**
 * Budgets that match the bill, in the middleware (issue 14, item 3): agents over the real
 * `ChatOpenAI` client and the loopback provider, whose own billing counter counts what it
 * generated — also the replies of clients that aborted mid-generation. Under 50% client aborts the
 * provider's bill must stay within the shared budget's limit; and a call past the middleware's
 * `timeoutMs` is charged at the usage of its late reply.
 */
import { HumanMessage } from "@langchain/core/messages";
import { ChatOpenAI } from "@langchain/openai";
import { createAgent } from "langchain";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTokenBudget, DEFAULT_PRICES, type TokenBudget } from "../../src/budget/index.js";
import { ConfigError } from "../../src/errors.js";
import { budgetExhaustionOf, tokenBudgetMiddleware } from "../../src/middleware/index.js";
import { type OpenAICompatibleServer, startOpenAICompatibleServer } from "../helpers/openaiServer.js";

const MODEL = "gpt-4o-mini";
const PRICE = DEFAULT_PRICES[MODEL] as { inputPerMillion: number; outputPerMillion: number };
const LIMIT_USD = 0.01;
const REQUESTS = 90;
/** The answer: 401 tokens (o200k), under the model's 512-token cap. */
const ANSWER = `Answer:${" step".repeat(400)}`;

let server: OpenAICompatibleServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function openAI(baseURL: string) {
  return new ChatOpenAI({ model: MODEL, apiKey: "test", maxTokens: 512, maxRetries: 0, configuration: { baseURL } });
}

/**
 * REQUESTS agent invocations one after another, each its own run of one model call, on one
 * $0.01 budget. Every other invocation's client aborts as soon as the provider starts generating.
 */
async function runUnderAborts(billAbandonedCalls: boolean | undefined) {
  const controllers = new Map<number, AbortController>();
  server = await startOpenAICompatibleServer({
    generationMs: 15,
    replies: (body) => {
      const task = Number(/Task #(\d+)/.exec(JSON.stringify(body.messages))?.[1] ?? -1);
      if (task % 2 === 1) controllers.get(task)?.abort(new Error(`client of task ${task} left`));
      return ANSWER;
    },
  });
  const budget: TokenBudget = createTokenBudget({ limits: { global: { maxUsd: LIMIT_USD } } });
  const agent = createAgent({
    model: openAI(server.baseURL),
    middleware: [tokenBudgetMiddleware({ budget, ...(billAbandonedCalls !== undefined && { billAbandonedCalls }) })],
  });
  let answered = 0;
  let aborted = 0;
  let refused = 0;
  for (let task = 0; task < REQUESTS; task += 1) {
    const controller = new AbortController();
    controllers.set(task, controller);
    try {
      const result = await agent.invoke(
        { messages: [new HumanMessage(`Task #${task}: explain the steps.`)] },
        { signal: controller.signal },
      );
      if (budgetExhaustionOf(result.messages.at(-1))) refused += 1;
      else answered += 1;
    } catch {
      if (controller.signal.aborted) aborted += 1;
    }
  }
  await server.idle();
  await vi.waitFor(() => expect(budget.outstanding).toBe(0));
  return {
    billedUsd: server.billedUsd(PRICE),
    settledUsd: budget.snapshot()[0]?.spentUsd ?? 0,
    answered,
    aborted,
    refused,
    abortedBills: server.billing.filter((entry) => entry.clientGone).length,
  };
}

describe("tokenBudgetMiddleware: provider-billed spend under client aborts (ChatOpenAI, loopback provider)", () => {
  it("reproduces the overrun when aborted calls are released at zero (billAbandonedCalls: false)", async () => {
    const result = await runUnderAborts(false);
    console.info("middleware, billAbandonedCalls: false", result);

    expect(result.aborted).toBeGreaterThan(0);
    expect(result.abortedBills).toBeGreaterThan(0);
    expect(result.refused).toBeGreaterThan(0); // the budget was used up
    expect(result.settledUsd).toBeLessThanOrEqual(LIMIT_USD);
    expect(result.billedUsd).toBeGreaterThan(LIMIT_USD);
  });

  it("keeps the provider's bill within the limit by default: aborted calls are settled at what they bill", async () => {
    const result = await runUnderAborts(undefined);
    console.info("middleware, billAbandonedCalls: true (default)", result);

    expect(result.aborted).toBeGreaterThan(0);
    expect(result.answered).toBeGreaterThan(0);
    expect(result.refused).toBeGreaterThan(0);
    expect(result.abortedBills).toBeGreaterThan(0);
    expect(result.billedUsd).toBeLessThanOrEqual(LIMIT_USD);
    expect(result.settledUsd).toBeGreaterThanOrEqual(result.billedUsd - 1e-12);
  });
});

describe("tokenBudgetMiddleware timeoutMs", () => {
  it("abandons a call past its deadline and charges it (never less than the provider bills)", async () => {
    server = await startOpenAICompatibleServer({
      generationMs: 300,
      replies: () => ({ content: "Late.", usage: { prompt_tokens: 30, completion_tokens: 7 } }),
    });
    const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } } });
    const agent = createAgent({
      model: openAI(server.baseURL),
      middleware: [tokenBudgetMiddleware({ budget, timeoutMs: 50 })],
    });
    const error = await agent.invoke({ messages: [new HumanMessage("Hi")] }).catch((caught: unknown) => caught);
    const original = (error as { cause?: unknown }).cause ?? error;
    expect((original as Error).name).toBe("DeadlineExceededError");

    await server.idle();
    await vi.waitFor(() => expect(budget.outstanding).toBe(0));
    // The failed run aborts the request (LangGraph cancels the step), so no late reply reaches the
    // client: the call is charged at its whole reservation (prompt + the 512-token cap), which is
    // never less than the provider bills for a non-streamed reply. Before: released at zero.
    expect(server.billing).toMatchObject([{ promptTokens: 30, completionTokens: 7, clientGone: true }]);
    const spent = budget.snapshot()[0];
    expect(spent?.spentTokens).toBeGreaterThan(512);
    expect(spent?.spentUsd).toBeGreaterThanOrEqual(server.billedUsd(PRICE));
  });

  it("bounds timeoutMs to what Node can schedule", () => {
    expect(() => tokenBudgetMiddleware({ timeoutMs: 2 ** 31 })).toThrow(ConfigError);
    expect(() => tokenBudgetMiddleware({ timeoutMs: 2 ** 31 })).toThrow(/at most 2147483647 ms/);
    expect(() => tokenBudgetMiddleware({ billAbandonedCalls: "yes" as never })).toThrow(ConfigError);
  });
});
