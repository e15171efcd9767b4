/**
 * AuctionRouter's bidding modes, streamed (each path) and across a restart (a vectra memory folder
 * reopened by a new router routes from what the first one learned).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AIMessageChunk } from "@langchain/core/messages";
import { afterEach, describe, expect, it } from "vitest";
import { createVectraStrategyMemory } from "../../../adapters/vectra/index.js";
import { AuctionRouter, type RouterMetadata } from "../../../src/router/index.js";
import { MemoryEmbedderMismatchError } from "../../../src/router/memory-bids/index.js";
import { gavelOf, scriptedMember } from "../scripted-pool.js";
import { CAPITAL_QUESTIONS, hashingEmbeddings, learnPast, member, newMemory, PRICES, poolOf } from "./helpers.js";

const REQUEST = "What is the capital city of country number 40 in the atlas? Answer with one letter.";

/** The streamed chunks, their text, and the router's metadata (on the last chunk). */
async function streamed(router: AuctionRouter, input: string) {
  const chunks: AIMessageChunk[] = [];
  for await (const chunk of await router.stream(input)) chunks.push(chunk);
  const text = chunks.map((chunk) => chunk.text).join("");
  const gavel = chunks.at(-1)?.response_metadata.gavel as RouterMetadata;
  const total = chunks.reduce((sum, chunk) => sum + (chunk.usage_metadata?.total_tokens ?? 0), 0);
  return { chunks, text, gavel, total };
}

/**
 * The confidence rule of these tests' small memories (a dozen past requests): the fitted default
 * (`DEFAULT_CONFIDENCE_RULE`, 24 evidence) needs a memory of RouterBench's size.
 */
const SMALL_MEMORY_RULE = { minEvidence: 4, maxSpread: 0.1 };

describe("AuctionRouter bidding modes, streamed", () => {
  it("memory path: the winner's tokens stream, the metadata comes last", async () => {
    const embeddings = hashingEmbeddings();
    const memory = newMemory(embeddings);
    await learnPast(memory, embeddings, CAPITAL_QUESTIONS, { "tiny-x1": 1, "grand-x3": 0 });
    const tiny = member("tiny-x1", "The answer is B.");
    const grand = member("grand-x3", "C");
    const router = new AuctionRouter({
      pool: poolOf({ "tiny-x1": tiny, "grand-x3": grand }),
      memory,
      embeddings,
      memoryBids: { confidence: SMALL_MEMORY_RULE },
    });
    const result = await streamed(router, REQUEST);
    expect(result.text).toBe("The answer is B.");
    expect(result.gavel.auction).toMatchObject({ path: "memory", winner: "tiny-x1", calls: ["tiny-x1"] });
    expect(result.chunks[0]?.response_metadata.gavel_answer).toMatchObject({ winner: "tiny-x1" });
    expect(result.total).toBe(result.gavel.usage.execution.total_tokens + result.gavel.usage.auction.total_tokens);
  });

  it("escalation stopped on a rung: the answer in hand is one chunk, then the metadata chunk; no other call", async () => {
    const embeddings = hashingEmbeddings();
    const tiny = member("tiny-x1", "B");
    const mid = member("mid-x2", "(B)");
    const grand = member("grand-x3", "C");
    const router = new AuctionRouter({
      pool: poolOf({ "tiny-x1": tiny, "mid-x2": mid, "grand-x3": grand }),
      memory: newMemory(embeddings),
      embeddings,
    });
    const { chunks, text, gavel, total } = await streamed(router, REQUEST);
    expect(chunks).toHaveLength(2);
    expect(text).toBe("(B)");
    expect(gavel.auction).toMatchObject({ path: "escalation", winner: "mid-x2", calls: ["tiny-x1", "mid-x2"] });
    expect(chunks[0]?.response_metadata.gavel_answer).toMatchObject({ winner: "mid-x2" });
    expect([tiny.calls.length, mid.calls.length, grand.calls.length]).toEqual([1, 1, 0]);
    expect(total).toBe(gavel.usage.execution.total_tokens + gavel.usage.auction.total_tokens);
    expect(gavel.usage.auction.total_tokens).toBeGreaterThan(0);
  });

  it("escalation to the top: the top member's answer streams through the normal flow", async () => {
    const embeddings = hashingEmbeddings();
    const tiny = member("tiny-x1", "A");
    const mid = member("mid-x2", "B");
    const grand = member("grand-x3", "The answer is C.");
    const router = new AuctionRouter({
      pool: poolOf({ "tiny-x1": tiny, "mid-x2": mid, "grand-x3": grand }),
      memory: newMemory(embeddings),
      embeddings,
    });
    const { text, gavel } = await streamed(router, REQUEST);
    expect(text).toBe("The answer is C.");
    expect(gavel.auction).toMatchObject({ path: "escalation", winner: "grand-x3" });
    expect(gavel.auction.calls).toEqual(["tiny-x1", "mid-x2", "grand-x3"]);
  });

  it("plans path (plans mode): the winner streams after its plan auction", async () => {
    const small = scriptedMember("small", { plan: "Recall.", answer: "B" });
    const large = scriptedMember("large", { plan: "Recall and check.", answer: "B" });
    const router = new AuctionRouter({
      pool: [
        { name: "small", model: small, price: PRICES["tiny-x1"] },
        { name: "large", model: large, price: PRICES["grand-x3"] },
      ],
      jury: "none",
    });
    const { text, gavel } = await streamed(router, REQUEST);
    expect(text).toBe("B");
    expect(gavel.auction.path).toBe("plans");
    expect(gavel.auction.calls).toEqual([gavel.auction.winner]);
  });
});

describe("AuctionRouter bidding modes across restarts", () => {
  const folders: string[] = [];
  afterEach(async () => {
    for (const folder of folders.splice(0)) await rm(folder, { recursive: true, force: true });
  });

  it("a vectra memory written by one router is read by a new one: it routes from memory", async () => {
    const folder = await mkdtemp(join(tmpdir(), "gavel-modes-"));
    folders.push(folder);
    const embeddings = hashingEmbeddings();
    const pool = () =>
      poolOf({
        "tiny-x1": member("tiny-x1", "B"),
        "mid-x2": member("mid-x2", "B"),
        "grand-x3": member("grand-x3", "C"),
      });

    // First process: cold, every request escalates (tiny and mid agree); the verifier says both were right.
    const first = await createVectraStrategyMemory({ folder, embeddings });
    const learner = new AuctionRouter({
      pool: pool(),
      memory: first,
      embeddings,
      memoryBids: { confidence: SMALL_MEMORY_RULE },
    });
    const paths: (string | undefined)[] = [];
    for (const question of CAPITAL_QUESTIONS.slice(0, 8)) {
      const { auction } = gavelOf(await learner.invoke(question));
      paths.push(auction.path);
      for (const called of auction.calls ?? []) {
        await learner.recordOutcome(auction.auctionId, { member: called, correct: true });
      }
    }
    expect(paths[0]).toBe("escalation");
    await first.close();

    // Second process: the folder reopened; the same kind of request is answered from memory, one call.
    const reopened = await createVectraStrategyMemory({ folder, embeddings });
    const members = pool();
    // Members only: eight agreeing answers would let the cascade (tiny + mid → grand) outbid them.
    const router = new AuctionRouter({
      pool: members,
      memory: reopened,
      embeddings,
      memoryBids: { confidence: SMALL_MEMORY_RULE, cascades: false },
    });
    const { auction } = gavelOf(await router.invoke(REQUEST));
    expect(auction.path).toBe("memory");
    // The evidence the first router wrote (only the members it called were scored): grand has none.
    const evidenceOf = (name: string) =>
      auction.outcome.results.find((result) => result.bidder === name)?.meta?.evidence as number;
    expect(evidenceOf(auction.winner)).toBeGreaterThanOrEqual(4);
    expect(evidenceOf("grand-x3")).toBe(0);
    expect(members.reduce((sum, item) => sum + item.model.calls.length, 0)).toBe(1);
    await reopened.close();
  });

  it("refuses a memory written with another embedder, naming both", async () => {
    const folder = await mkdtemp(join(tmpdir(), "gavel-modes-"));
    folders.push(folder);
    const embeddings = hashingEmbeddings();
    const memory = await createVectraStrategyMemory({ folder, embeddings });
    await learnPast(memory, embeddings, CAPITAL_QUESTIONS, { "tiny-x1": 1 });
    const other = { ...hashingEmbeddings(), id: "another-embedder" };
    const router = new AuctionRouter({
      pool: poolOf({ "tiny-x1": member("tiny-x1", "B"), "grand-x3": member("grand-x3", "C") }),
      mode: "memory",
      memory,
      embeddings: other,
    });
    const failure = router.invoke(REQUEST);
    await expect(failure).rejects.toBeInstanceOf(MemoryEmbedderMismatchError);
    await expect(failure).rejects.toThrow(/hashing-256.*another-embedder|another-embedder.*hashing-256/);
    await memory.close();
  });
});
