/**
 * auctionRouterMiddleware's bidding modes: memory (the picked member answers through the handler,
 * one model call) and auto's escalation (the handler called once per rung; the rung whose answer is
 * final is returned without another call).
 */
import type { AIMessage } from "@langchain/core/messages";
import { tool } from "langchain";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import type { RouterAuctionRecord } from "../../../src/router/index.js";
import {
  askThroughMiddleware,
  CAPITAL_QUESTIONS,
  coldMemory,
  hashingEmbeddings,
  learnPast,
  member,
  newMemory,
  poolOf,
  trio,
  trioPool,
} from "./helpers.js";

function auctionOf(message: AIMessage): RouterAuctionRecord {
  return (message.response_metadata.gavel as { auction: RouterAuctionRecord }).auction;
}

describe("auctionRouterMiddleware bidding modes", () => {
  it("memory mode: memory bids pick the member, which answers through the handler (one model call)", async () => {
    const embeddings = hashingEmbeddings();
    const memory = newMemory(embeddings);
    await learnPast(memory, embeddings, CAPITAL_QUESTIONS, { "tiny-x1": 1, "grand-x3": 0 });
    const tiny = member("tiny-x1", "B");
    const grand = member("grand-x3", "C");
    const { last } = await askThroughMiddleware(grand, {
      pool: poolOf({ "tiny-x1": tiny, "grand-x3": grand }),
      mode: "memory",
      memory,
      embeddings,
    });
    expect(last.text).toBe("B");
    expect(auctionOf(last)).toMatchObject({ path: "memory", winner: "tiny-x1", calls: ["tiny-x1"] });
    expect([tiny.calls.length, grand.calls.length]).toEqual([1, 0]);
    expect((await memory.get(`${auctionOf(last).auctionId}:tiny-x1`))?.metadata).toMatchObject({ called: true });
  });

  it("auto, cold: the escalation calls the handler per rung and returns the agreeing rung's answer", async () => {
    const members = trio({ tiny: "B", mid: "The answer is B.", grand: "C" });
    const { tiny, mid, grand } = members;
    const { messages, last } = await askThroughMiddleware(grand, { pool: trioPool(members), ...coldMemory() });
    expect(last.text).toBe("The answer is B.");
    expect(auctionOf(last)).toMatchObject({ path: "escalation", winner: "mid-x2", calls: ["tiny-x1", "mid-x2"] });
    expect([tiny.calls.length, mid.calls.length, grand.calls.length]).toEqual([1, 1, 0]);
    // One AI message in the conversation: the rungs' answers are not appended.
    expect(messages.filter((message) => message.type === "ai")).toHaveLength(1);
  });

  it("auto, cold, disagreeing rungs: the top member answers through the handler", async () => {
    const members = trio({ tiny: "A", mid: "B", grand: "C" });
    const { tiny, mid, grand } = members;
    const { last } = await askThroughMiddleware(tiny, { pool: trioPool(members), ...coldMemory() });
    expect(last.text).toBe("C");
    expect(auctionOf(last).calls).toEqual(["tiny-x1", "mid-x2", "grand-x3"]);
    expect([tiny.calls.length, mid.calls.length, grand.calls.length]).toEqual([1, 1, 1]);
  });

  it('memory mode with auctionEvery "run": one decision, the chosen member answers every call of the run', async () => {
    const embeddings = hashingEmbeddings();
    const memory = newMemory(embeddings);
    await learnPast(memory, embeddings, CAPITAL_QUESTIONS, { "tiny-x1": 1, "grand-x3": 0 });
    const lookup = tool(async () => "Paris", {
      name: "lookup",
      description: "Look a capital up",
      schema: z.object({ country: z.string() }),
    });
    let turns = 0;
    const tiny = member("tiny-x1", () => {
      turns += 1;
      return turns === 1 ? { toolCalls: [{ name: "lookup", args: { country: "40" } }] } : "B";
    });
    const grand = member("grand-x3", "C");
    const { messages, last } = await askThroughMiddleware(
      grand,
      { pool: poolOf({ "tiny-x1": tiny, "grand-x3": grand }), mode: "memory", memory, embeddings },
      [lookup],
    );
    expect(last.text).toBe("B");
    expect([tiny.calls.length, grand.calls.length]).toEqual([2, 0]);
    expect(tiny.calls[0]?.toolNames).toEqual(["lookup"]);
    const gavel = messages
      .filter((message) => message.type === "ai")
      .map((message) => (message as AIMessage).response_metadata.gavel as { cached: boolean });
    expect(gavel.map((entry) => entry.cached)).toEqual([false, true]);
    expect(await memory.size()).toBe(CAPITAL_QUESTIONS.length * 2 + 1);
  });
});
