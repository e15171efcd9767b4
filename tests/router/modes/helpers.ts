/**
 * Pools and memories for the bidding-mode tests: scripted members named by model, explicit prices
 * (names no price table knows: a cold-start pool), the hashing embedder of the eval, an in-memory
 * strategy memory, and outcome entries written the way `learnOutcomes` writes them.
 */
import { createHashingEmbeddings } from "../../../src/eval/routing/embedding.js";
import { createInMemoryStrategyMemory } from "../../../src/memory/index.js";
import type { StrategyMemory } from "../../../src/memory/types.js";
import { embedderIdOf, learnOutcomes } from "../../../src/router/memory-bids/index.js";
import { type ScriptedCall, ScriptedChatModel, type ScriptedReply } from "../../helpers/scriptedChatModel.js";

/** Prices of three models no price table knows (a cold-start pool). */
export const PRICES = {
  "tiny-x1": { inputPerMillion: 0.1, outputPerMillion: 0.2 },
  "mid-x2": { inputPerMillion: 0.5, outputPerMillion: 1.5 },
  "grand-x3": { inputPerMillion: 10, outputPerMillion: 30 },
} as const;

export type MemberName = keyof typeof PRICES;

/** The hashing embedder (256 dimensions). */
export function hashingEmbeddings() {
  return createHashingEmbeddings({ dimensions: 256 });
}

export type Embedder = ReturnType<typeof hashingEmbeddings>;

/** A scripted member answering every call with `answer` (a function: per call). */
export function member(name: string, answer: ScriptedReply | ((call: ScriptedCall) => ScriptedReply)) {
  return new ScriptedChatModel({
    model: name,
    replies: async (call) => (typeof answer === "function" ? answer(call) : answer),
  });
}

/** The pool option for the named members, with explicit prices. */
export function poolOf(models: Partial<Record<MemberName, ScriptedChatModel>>) {
  return Object.entries(models).map(([name, model]) => ({
    name,
    model: model as ScriptedChatModel,
    price: PRICES[name as MemberName],
  }));
}

export function newMemory(embeddings: Embedder): StrategyMemory {
  return createInMemoryStrategyMemory({ embeddings });
}

/** Past prompts like "capital question N" answered by members with the given correctness. */
export async function learnPast(
  memory: StrategyMemory,
  embeddings: Embedder,
  prompts: readonly string[],
  correct: Partial<Record<MemberName, number>>,
): Promise<void> {
  const records = prompts.flatMap((prompt, index) =>
    Object.entries(correct).map(([model, value]) => ({
      prompt_id: `past-${index}`,
      prompt,
      model,
      correct: value as number,
      cost_usd: (PRICES[model as MemberName].outputPerMillion * 100) / 1e6,
    })),
  );
  await learnOutcomes(memory, records, { embeddings, embedderId: embedderIdOf(embeddings) });
}

/** Questions about capitals (similar words), for a warm memory and the requests that find it. */
export const CAPITAL_QUESTIONS = Array.from(
  { length: 12 },
  (_, index) => `What is the capital city of country number ${index} in the atlas? Answer with one letter.`,
);
