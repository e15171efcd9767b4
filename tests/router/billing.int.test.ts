/**
 * Budgets that match the bill: the router over real `ChatOpenAI` clients and the loopback
 * provider, whose own billing counter (`server.billing`) counts what it generated — including the
 * replies of clients that aborted mid-generation, which a provider bills all the same. Under 50%
 * client aborts, what the provider billed must stay within the budget's limit.
 */
import { ChatOpenAI } from "@langchain/openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createTokenBudget, DEFAULT_PRICES, type TokenBudget } from "../../src/budget/index.js";
import { AuctionRouter, JURY_RUBRIC, PLANNING_PROMPT, REFINEMENT_PROMPT } from "../../src/router/index.js";
import {
  type ChatCompletionRequestBody,
  type OpenAICompatibleServer,
  startOpenAICompatibleServer,
} from "../helpers/openaiServer.js";

const MODEL = "gpt-4o-mini";
const PRICE = DEFAULT_PRICES[MODEL] as { inputPerMillion: number; outputPerMillion: number };
const LIMIT_USD = 0.01;
const REQUESTS = 120;
/** The answer: 401 tokens (o200k), under the members' 512-token cap. */
const ANSWER = `Answer:${" step".repeat(400)}`;

function systemText(body: ChatCompletionRequestBody): string {
  const system = body.messages.find((message) => message.role === "system");
  return typeof system?.content === "string" ? system.content : "";
}

function kindOf(body: ChatCompletionRequestBody): "plan" | "jury" | "answer" {
  const system = systemText(body);
  if (system.startsWith(JURY_RUBRIC)) return "jury";
  if (system.startsWith(PLANNING_PROMPT) || system.includes(REFINEMENT_PROMPT)) return "plan";
  return "answer";
}

/** Which request of the run a call belongs to (the user turn names it). */
function taskOf(body: ChatCompletionRequestBody): number {
  const match = /Task #(\d+)/.exec(JSON.stringify(body.messages));
  return match ? Number(match[1]) : -1;
}

interface RunResult {
  billedUsd: number;
  settledUsd: number;
  answered: number;
  aborted: number;
  refused: number;
  abortedBills: number;
}

/**
 * Send REQUESTS requests one after another through a router with a $0.01 budget. Half are aborted
 * by their client as soon as the provider starts generating: task k ≡ 1 (mod 4) during its plans,
 * k ≡ 3 (mod 4) during its answer. Returns the provider's bill and the budget's settled spend.
 */
async function runUnderAborts(
  server: () => OpenAICompatibleServer,
  controllers: Map<number, AbortController>,
  billAbandonedCalls: boolean | undefined,
): Promise<RunResult> {
  const budget: TokenBudget = createTokenBudget({ limits: { global: { maxUsd: LIMIT_USD } } });
  const member = (name: string) => ({
    name,
    model: new ChatOpenAI({
      model: MODEL,
      apiKey: "test",
      maxTokens: 512,
      maxRetries: 0,
      configuration: { baseURL: server().baseURL },
    }),
  });
  const router = new AuctionRouter({
    pool: [member("a"), member("b")],
    jury: "none",
    budget,
    ...(billAbandonedCalls !== undefined && { billAbandonedCalls }),
  });
  let answered = 0;
  let aborted = 0;
  let refused = 0;
  for (let task = 0; task < REQUESTS; task += 1) {
    const controller = new AbortController();
    controllers.set(task, controller);
    try {
      await router.invoke(`Task #${task}: explain the steps.`, { signal: controller.signal });
      answered += 1;
    } catch {
      if (controller.signal.aborted) aborted += 1;
      else refused += 1;
    }
  }
  await server().idle();
  // Abandoned calls are settled off the request path: wait until nothing is held.
  await vi.waitFor(() => expect(budget.outstanding).toBe(0));
  const global = budget.snapshot()[0];
  return {
    billedUsd: server().billedUsd(PRICE),
    settledUsd: global?.spentUsd ?? 0,
    answered,
    aborted,
    refused,
    abortedBills: server().billing.filter((entry) => entry.clientGone).length,
  };
}

/**
 * The same through `router.stream`: every other request's client aborts after 20 chunks of the
 * answer. The provider stops generating when it notices the client left, and bills what it generated.
 */
async function streamUnderAborts(server: OpenAICompatibleServer): Promise<RunResult> {
  const budget: TokenBudget = createTokenBudget({ limits: { global: { maxUsd: LIMIT_USD } } });
  const member = (name: string) => ({
    name,
    model: new ChatOpenAI({
      model: MODEL,
      apiKey: "test",
      maxTokens: 512,
      maxRetries: 0,
      streamUsage: true,
      configuration: { baseURL: server.baseURL },
    }),
  });
  const router = new AuctionRouter({ pool: [member("a"), member("b")], jury: "none", budget });
  let answered = 0;
  let aborted = 0;
  let refused = 0;
  for (let task = 0; task < REQUESTS; task += 1) {
    const controller = new AbortController();
    let chunks = 0;
    try {
      for await (const chunk of await router.stream(`Task #${task}: explain the steps.`, {
        signal: controller.signal,
      })) {
        if (chunk.text.length > 0) chunks += 1;
        if (task % 2 === 1 && chunks === 20) controller.abort(new Error(`client of task ${task} left`));
      }
      answered += 1;
    } catch {
      if (controller.signal.aborted) aborted += 1;
      else refused += 1;
    }
  }
  await server.idle();
  await vi.waitFor(() => expect(budget.outstanding).toBe(0));
  const answerBills = server.billing.filter((entry) => entry.stream && entry.clientGone);
  const settledAnswers = budget.snapshot()[0];
  return {
    billedUsd: server.billedUsd(PRICE),
    settledUsd: settledAnswers?.spentUsd ?? 0,
    answered,
    aborted,
    refused,
    abortedBills: answerBills.length,
  };
}

describe("provider-billed spend under client aborts (router, ChatOpenAI, loopback provider)", () => {
  let server: OpenAICompatibleServer | undefined;
  const controllers = new Map<number, AbortController>();

  async function start(): Promise<OpenAICompatibleServer> {
    controllers.clear();
    server = await startOpenAICompatibleServer({
      generationMs: 15,
      replies: (body) => {
        const kind = kindOf(body);
        const task = taskOf(body);
        // The client leaves while the provider generates: during the plans, or during the answer.
        if ((kind === "plan" && task % 4 === 1) || (kind === "answer" && task % 4 === 3)) {
          controllers.get(task)?.abort(new Error(`client of task ${task} left`));
        }
        if (kind === "plan") return "Outline the steps, then check each one.";
        if (kind === "jury") return "A: SCORE: 3";
        return ANSWER;
      },
    });
    return server;
  }

  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it("reproduces the overrun when abandoned calls are released at zero (billAbandonedCalls: false)", async () => {
    await start();
    const result = await runUnderAborts(() => server as OpenAICompatibleServer, controllers, false);
    console.info("billAbandonedCalls: false", result);

    expect(result.aborted).toBeGreaterThan(0);
    expect(result.refused).toBeGreaterThan(0); // the budget was used up
    expect(result.abortedBills).toBeGreaterThan(0);
    expect(result.settledUsd).toBeLessThanOrEqual(LIMIT_USD);
    // The provider billed the aborted replies the budget released: more than the limit.
    expect(result.billedUsd).toBeGreaterThan(LIMIT_USD);
  });

  it("keeps the provider's bill within the limit when streamed answers are aborted mid-way (settled at the tokens streamed)", async () => {
    server = await startOpenAICompatibleServer({
      generationMs: (body) => (kindOf(body) === "answer" ? 300 : 15),
      replies: (body) => (kindOf(body) === "plan" ? "Outline the steps, then check each one." : ANSWER),
    });
    const result = await streamUnderAborts(server);
    console.info("streamed, billAbandonedCalls: true (default)", result);

    expect(result.aborted).toBeGreaterThan(0);
    expect(result.answered).toBeGreaterThan(0);
    expect(result.refused).toBeGreaterThan(0);
    expect(result.abortedBills).toBeGreaterThan(0);
    expect(result.billedUsd).toBeLessThanOrEqual(LIMIT_USD);
  });

  it("keeps the provider's bill within the limit by default: abandoned calls are settled at what they bill", async () => {
    await start();
    const result = await runUnderAborts(() => server as OpenAICompatibleServer, controllers, undefined);
    console.info("billAbandonedCalls: true (default)", result);

    expect(result.aborted).toBeGreaterThan(0);
    expect(result.answered).toBeGreaterThan(0);
    expect(result.refused).toBeGreaterThan(0); // the budget was used up
    expect(result.abortedBills).toBeGreaterThan(0);
    expect(result.billedUsd).toBeLessThanOrEqual(LIMIT_USD);
    // Non-streamed calls are settled at the whole reservation when nothing better is known:
    // the budget never counts less than the provider bills.
    expect(result.settledUsd).toBeGreaterThanOrEqual(result.billedUsd - 1e-12);
  });
});
