import { AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { createHashingEmbeddings } from "../../../src/eval/routing/embedding.js";
import { promptTail as evalPromptTail } from "../../../src/eval/routing/index.js";
import { createInMemoryStrategyMemory } from "../../../src/memory/index.js";
import type { StrategySearchHit } from "../../../src/memory/types.js";
import {
  estimateMembers,
  type LearnableOutcome,
  learnOutcomes,
  outcomeEntry,
  promptTail,
  requestText,
} from "../../../src/router/memory-bids/index.js";

const FEW_SHOT = 'Q1?\nA) x\nB) y\nPrint only a single choice from "A" or "B" without explanation.\nAnswer:\nA\n\n';

/** The hashing embedder as a LangChain Embeddings (the memory also embeds text queries). */
function hashingEmbeddings() {
  const hashing = createHashingEmbeddings({ dimensions: 64 });
  const calls: string[][] = [];
  return {
    id: hashing.id,
    calls,
    embedDocuments: async (texts: string[]) => {
      calls.push(texts);
      return hashing.embedDocuments(texts);
    },
    embedQuery: async (text: string) => (await hashing.embedDocuments([text]))[0] as number[],
  };
}

describe("requestText", () => {
  it("embeds the last human message's tail", () => {
    const messages = [
      new SystemMessage("Be brief."),
      new HumanMessage("Hello"),
      new AIMessage("Hi"),
      new HumanMessage(`${FEW_SHOT}Which gas do plants absorb?\nA) O2\nB) CO2\nAnswer:`),
    ];
    expect(requestText(messages)).toBe("Which gas do plants absorb?\nA) O2\nB) CO2");
    expect(requestText([new SystemMessage("  only a system prompt ")])).toBe("only a system prompt");
    expect(requestText([])).toBe("");
  });

  it("is the same promptTail the eval re-exports", () => {
    expect(evalPromptTail).toBe(promptTail);
  });
});

describe("outcomeEntry", () => {
  it("keys the entry by auction and member and marks it as an outcome of this embedder", () => {
    const entry = outcomeEntry({
      auctionId: "a1",
      member: "mini",
      text: "2 + 3?",
      vector: [1, 0],
      role: "losing",
      called: false,
      costUsd: 0,
      embedderId: "hashing-64",
      kind: "chat",
      createdAt: 5,
    });
    expect(entry).toEqual({
      id: "a1:mini",
      auctionId: "a1",
      task: "2 + 3?",
      kind: "chat",
      agent: "mini",
      plan: "",
      role: "losing",
      cost: 0,
      createdAt: 5,
      metadata: { gavel: "outcome", embedder: "hashing-64", called: false },
      vector: [1, 0],
    });
    const answered = outcomeEntry({
      auctionId: "a1",
      member: "large",
      text: "2 + 3?",
      vector: [1, 0],
      role: "winning",
      called: true,
      costUsd: 0.01,
      embedderId: "hashing-64",
      kind: "chat",
      createdAt: 5,
      plan: "Add.",
      answer: "5",
    });
    expect(answered).toMatchObject({ plan: "Add.", metadata: { called: true, answer: "5" } });
    expect(answered.outcome).toBeUndefined();
  });
});

const PROMPTS = {
  p1: `${FEW_SHOT}Which gas do green plants absorb from the air for photosynthesis?\nA) oxygen\nB) carbon dioxide\nAnswer:`,
  p2: `${FEW_SHOT}Which gas do green plants release into the air during photosynthesis?\nA) oxygen\nB) carbon dioxide\nAnswer:`,
  p3: "Write a python function to add two numbers.",
};

function record(
  promptId: keyof typeof PROMPTS,
  model: string,
  correct: number,
  costUsd: number,
  response = "B",
): LearnableOutcome {
  return { prompt_id: promptId, prompt: PROMPTS[promptId], model, correct, cost_usd: costUsd, response };
}

describe("learnOutcomes", () => {
  it("writes one auction per prompt, one called entry per record, embedding each prompt's text once", async () => {
    const embeddings = hashingEmbeddings();
    const memory = createInMemoryStrategyMemory({ embeddings });
    const records = [
      record("p1", "good", 1, 0.01),
      record("p1", "bad", 0, 0.001, "I do"),
      record("p2", "good", 1, 0.012),
      record("p2", "bad", 0, 0.001),
      record("p3", "good", 1, 0.02, "def add(a, b):\n    return a + b"),
    ];
    const progress: Array<[number, number]> = [];
    const counts = await learnOutcomes(memory, records, {
      embeddings,
      batchSize: 2,
      createdAt: 7,
      onProgress: (done, total) => progress.push([done, total]),
    });
    expect(counts).toEqual({ auctions: 3, entries: 5 });
    expect(await memory.size()).toBe(5);
    expect(embeddings.calls).toEqual([[promptTail(PROMPTS.p1), promptTail(PROMPTS.p2)], [PROMPTS.p3]]);
    expect(progress).toEqual([
      [0, 3],
      [2, 3],
      [3, 3],
    ]);
    expect(await memory.get("train:p1:good")).toMatchObject({
      auctionId: "train:p1",
      agent: "good",
      task: promptTail(PROMPTS.p1),
      kind: "",
      role: "single",
      plan: "",
      outcome: 1,
      cost: 0.01,
      createdAt: 7,
      metadata: { gavel: "outcome", embedder: "hashing-64", called: true, answer: "B" },
    });
    expect((await memory.get("train:p1:bad"))?.metadata).toEqual({
      gavel: "outcome",
      embedder: "hashing-64",
      called: true,
    });
    expect((await memory.get("train:p3:good"))?.metadata?.answer).toBeUndefined();
  });

  it("gives estimateMembers the evidence: the member that was right on similar prompts is worth more", async () => {
    const embeddings = hashingEmbeddings();
    const memory = createInMemoryStrategyMemory({ embeddings });
    await learnOutcomes(
      memory,
      [
        record("p1", "good", 1, 0.01),
        record("p1", "bad", 0, 0.001),
        record("p3", "good", 0, 0.02),
        record("p3", "bad", 1, 0.002),
      ],
      { embeddings },
    );
    const text = requestText([new HumanMessage(PROMPTS.p2)]);
    const [vector] = await embeddings.embedDocuments([text]);
    const members = [
      { name: "good", price: { inputPerMillion: 1, outputPerMillion: 1 } },
      { name: "bad", price: { inputPerMillion: 1, outputPerMillion: 1 } },
    ];
    const hits = new Map<string, StrategySearchHit[]>();
    for (const { name } of members)
      hits.set(name, await memory.search({ vector: vector as number[], k: 8, filter: { agent: name } }));
    const [good, bad] = estimateMembers({
      hits,
      members,
      promptTokens: 40,
      settings: { priorStrength: 1, expectedOutputTokens: 1, priors: { good: 0.5, bad: 0.5 } },
      embedderId: "hashing-64",
    });
    // p2 shares most words with p1 (good right, bad wrong) and few with p3 (the reverse).
    expect(good?.evidence).toBeGreaterThan(0.5);
    expect(good?.neighbours).toBe(2);
    expect(good?.value).toBeGreaterThan(0.6);
    expect(bad?.value).toBeLessThan(0.4);
    // The learned costs pull the expected cost towards what each member cost on similar prompts.
    expect(good?.expectedCostUsd).toBeGreaterThan(bad?.expectedCostUsd as number);
    expect(bad?.normalisedCost).toBeLessThan(0.5);
  });

  it("refuses a bad batch size", async () => {
    const embeddings = hashingEmbeddings();
    await expect(
      learnOutcomes(createInMemoryStrategyMemory({ embeddings }), [], { embeddings, batchSize: 0 }),
    ).rejects.toThrow(/batchSize/);
  });
});
