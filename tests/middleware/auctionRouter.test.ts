import type { AIMessage } from "@langchain/core/messages";
import { type AgentMiddleware, createAgent, tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { type BudgetEvent, createTokenBudget } from "../../src/budget/index.js";
import { type AuctionRouterMiddlewareOptions, auctionRouterMiddleware } from "../../src/middleware/auctionRouter.js";
import { tokenBudgetMiddleware } from "../../src/middleware/tokenBudget.js";
import { CHEAP, callsOf, DEAR, scriptedMember } from "../router/scripted-pool.js";

const add = tool(async ({ a, b }) => String(a + b), {
  name: "add",
  description: "Add two numbers",
  schema: z.object({ a: z.number(), b: z.number() }),
});

/** A pool where "small" wins (equal jury scores, cheaper) and answers with a tool call, then text. */
function pool() {
  let answers = 0;
  const small = scriptedMember("small", {
    plan: "Call add, then report.",
    score: () => 4,
    answer: () => {
      answers += 1;
      return answers % 2 === 1 ? { toolCalls: [{ name: "add", args: { a: 2, b: 3 } }] } : "2 + 3 = 5";
    },
  });
  const large = scriptedMember("large", { plan: "Call add, then report.", score: () => 4 });
  return { small, large };
}

/**
 * An agent on `large` with the `add` tool and the router middleware over {@link pool}'s members
 * (`options` added), then `after` (more middleware).
 */
function routedAgent(
  { small, large }: ReturnType<typeof pool>,
  options: Omit<AuctionRouterMiddlewareOptions, "pool"> = {},
  after: AgentMiddleware[] = [],
) {
  return createAgent({
    model: large,
    tools: [add],
    middleware: [
      auctionRouterMiddleware({
        pool: [
          { name: "small", model: small, price: CHEAP },
          { name: "large", model: large, price: DEAR },
        ],
        ...options,
      }),
      ...after,
    ],
  });
}

/** The agent's input: a fresh object per call. */
function question() {
  return { messages: [{ role: "user", content: "2 + 3?" }] };
}

describe("auctionRouterMiddleware", () => {
  it('auctionEvery "run": one auction on the first model call, the winner answers every call of the run', async () => {
    const { small, large } = pool();
    const agent = routedAgent({ small, large });
    const result = await agent.invoke(question());
    expect(result.messages.at(-1)?.text).toBe("2 + 3 = 5");
    expect(callsOf(small, "plan")).toHaveLength(1);
    expect(callsOf(large, "plan")).toHaveLength(1);
    expect(callsOf(small, "answer")).toHaveLength(2);
    expect(callsOf(large, "answer")).toHaveLength(0);
    // Tools reached the winner; its plan is a quoted user-turn block before the question, not in a system message.
    const answerCall = callsOf(small, "answer")[0];
    expect(answerCall?.toolNames).toEqual(["add"]);
    expect(answerCall?.messages[0]?.type).toBe("human");
    expect(answerCall?.messages[0]?.text).toContain("<plan>\nCall add, then report.\n</plan>");
    expect(answerCall?.messages.filter((message) => message.type === "system")).toEqual([]);
    const aiMessages = result.messages.filter((message) => message.type === "ai") as AIMessage[];
    const gavel = aiMessages.map((message) => message.response_metadata.gavel as { cached: boolean; winner: string });
    expect(gavel.map((entry) => entry.cached)).toEqual([false, true]);
    expect(result.auctionRouter).toMatchObject({ winner: "small", calls: 2 });
  });

  it('auctionEvery "call": every model call holds an auction', async () => {
    const { small, large } = pool();
    const agent = routedAgent({ small, large }, { auctionEvery: "call" });
    await agent.invoke(question());
    expect(callsOf(small, "plan")).toHaveLength(2);
    expect(callsOf(small, "answer")).toHaveLength(2);
  });

  it("streams only the winner's tokens in the agent's messages stream", async () => {
    const { small, large } = pool();
    const agent = routedAgent({ small, large });
    const texts: string[] = [];
    for await (const [message] of await agent.stream(question(), { streamMode: "messages" })) {
      if (message.type === "ai" || message.type === "AIMessageChunk") texts.push(message.text);
    }
    expect(texts.join("")).toBe("2 + 3 = 5");
    expect(texts.join("")).not.toContain("Call add, then report.");
  });

  it("charges the auction to the scopes tokenBudgetMiddleware uses: thread_id and context.tokenBudget.runId", async () => {
    const { small, large } = pool();
    const events: BudgetEvent[] = [];
    const budget = createTokenBudget({
      limits: { thread: {}, run: { maxTokens: 50_000 } },
      prices: { small: CHEAP, large: DEAR },
      onEvent: (event) => events.push(event),
    });
    const agent = routedAgent({ small, large }, { budget }, [tokenBudgetMiddleware({ budget })]);
    await agent.invoke(question(), {
      configurable: { thread_id: "thread-7" },
      context: { tokenBudget: { runId: "run-7" } },
    });
    const reserved = events.flatMap((event) =>
      event.type === "reserve" ? [{ label: event.reservation.label, scopes: event.reservation.scopes }] : [],
    );
    const routerCalls = reserved.filter((entry) => entry.label?.startsWith("router."));
    expect(routerCalls.map((entry) => entry.label).sort()).toEqual([
      "router.jury",
      "router.jury",
      "router.plan",
      "router.plan",
    ]);
    // The auction and the answers (charged by tokenBudgetMiddleware) land in the same accounts.
    for (const entry of reserved) expect(entry.scopes).toEqual({ thread: "thread-7", run: "run-7" });
    const run = budget.snapshot().find((account) => account.scope === "run");
    const settled = events.reduce((sum, event) => sum + (event.type === "settle" ? event.settlement.tokens : 0), 0);
    expect(run).toMatchObject({ scopeId: "run-7", spentTokens: settled, reservedTokens: 0 });
  });
});
