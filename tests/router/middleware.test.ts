import type { AIMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { auctionRouterMiddleware } from "../../src/router/index.js";
import { CHEAP, callsOf, DEAR, scriptedMember } from "./scripted-pool.js";

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

describe("auctionRouterMiddleware", () => {
  it('auctionEvery "run": one auction on the first model call, the winner answers every call of the run', async () => {
    const { small, large } = pool();
    const agent = createAgent({
      model: large,
      tools: [add],
      middleware: [
        auctionRouterMiddleware({
          pool: [
            { name: "small", model: small, price: CHEAP },
            { name: "large", model: large, price: DEAR },
          ],
        }),
      ],
    });
    const result = await agent.invoke({ messages: [{ role: "user", content: "2 + 3?" }] });
    expect(result.messages.at(-1)?.text).toBe("2 + 3 = 5");
    expect(callsOf(small, "plan")).toHaveLength(1);
    expect(callsOf(large, "plan")).toHaveLength(1);
    expect(callsOf(small, "answer")).toHaveLength(2);
    expect(callsOf(large, "answer")).toHaveLength(0);
    // Tools reached the winner; its plan is in the system prompt.
    const answerCall = callsOf(small, "answer")[0];
    expect(answerCall?.toolNames).toEqual(["add"]);
    expect(answerCall?.messages[0]?.text).toContain("Call add, then report.");
    const aiMessages = result.messages.filter((message) => message.type === "ai") as AIMessage[];
    const gavel = aiMessages.map((message) => message.response_metadata.gavel as { cached: boolean; winner: string });
    expect(gavel.map((entry) => entry.cached)).toEqual([false, true]);
    expect(result.auctionRouter).toMatchObject({ winner: "small", calls: 2 });
  });

  it('auctionEvery "call": every model call holds an auction', async () => {
    const { small, large } = pool();
    const agent = createAgent({
      model: large,
      tools: [add],
      middleware: [
        auctionRouterMiddleware({
          pool: [
            { name: "small", model: small, price: CHEAP },
            { name: "large", model: large, price: DEAR },
          ],
          auctionEvery: "call",
        }),
      ],
    });
    await agent.invoke({ messages: [{ role: "user", content: "2 + 3?" }] });
    expect(callsOf(small, "plan")).toHaveLength(2);
    expect(callsOf(small, "answer")).toHaveLength(2);
  });

  it("streams only the winner's tokens in the agent's messages stream", async () => {
    const { small, large } = pool();
    const agent = createAgent({
      model: large,
      tools: [add],
      middleware: [
        auctionRouterMiddleware({
          pool: [
            { name: "small", model: small, price: CHEAP },
            { name: "large", model: large, price: DEAR },
          ],
        }),
      ],
    });
    const texts: string[] = [];
    for await (const [message] of await agent.stream(
      { messages: [{ role: "user", content: "2 + 3?" }] },
      { streamMode: "messages" },
    )) {
      if (message.type === "ai" || message.type === "AIMessageChunk") texts.push(message.text);
    }
    expect(texts.join("")).toBe("2 + 3 = 5");
    expect(texts.join("")).not.toContain("Call add, then report.");
  });
});
