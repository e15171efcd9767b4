/**
 * Pools and memories for the bidding-mode tests: scripted members named by model, explicit prices
 * (names no price table knows: a cold-start pool), the hashing embedder of the eval, an in-memory
 * strategy memory, and outcome entries written the way `learnOutcomes` writes them.
 */
import type { AIMessage } from "@langchain/core/messages";
import { createAgent } from "langchain";
import { createSqliteLedger } from "../../../adapters/sqlite/ledger.js";
import { createHashingEmbeddings } from "../../../src/eval/routing/embedding.js";
import type { LedgerReader } from "../../../src/ledger/types.js";
import { createInMemoryStrategyMemory } from "../../../src/memory/index.js";
import type { StrategyMemory } from "../../../src/memory/types.js";
import { type AuctionRouterMiddlewareOptions, auctionRouterMiddleware } from "../../../src/middleware/auctionRouter.js";
import { AuctionRouter, type AuctionRouterOptions } from "../../../src/router/index.js";
import { embedderIdOf, learnOutcomes } from "../../../src/router/memory-bids/index.js";
import { type ScriptedCall, ScriptedChatModel, type ScriptedReply } from "../../helpers/scriptedChatModel.js";

/** The request of these tests: like the memory's capital questions, in none of them. */
export const REQUEST = "What is the capital city of country number 40 in the atlas? Answer with one letter.";

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

/** The hashing embedder and an empty memory on it: a cold start. */
export function coldMemory(): { embeddings: Embedder; memory: StrategyMemory } {
  const embeddings = hashingEmbeddings();
  return { embeddings, memory: newMemory(embeddings) };
}

/** The three members, tiny, mid and grand. */
export interface Trio {
  tiny: ScriptedChatModel;
  mid: ScriptedChatModel;
  grand: ScriptedChatModel;
}

/** The three members answering `answers` to every call (by default tiny "B", mid "B", grand "C"). */
export function trio(answers: { tiny?: string; mid?: string; grand?: string } = {}): Trio {
  return {
    tiny: member("tiny-x1", answers.tiny ?? "B"),
    mid: member("mid-x2", answers.mid ?? "B"),
    grand: member("grand-x3", answers.grand ?? "C"),
  };
}

/** The pool option of the three members, in the order tiny, mid, grand. */
export function trioPool({ tiny, mid, grand }: Trio) {
  return poolOf({ "tiny-x1": tiny, "mid-x2": mid, "grand-x3": grand });
}

/** An AuctionRouter over the three members (pool: {@link trioPool}) with `options`, and the members. */
export function trioRouter(members: Trio, options: Omit<AuctionRouterOptions, "pool">) {
  return { router: new AuctionRouter({ pool: trioPool(members), ...options }), ...members };
}

/** A private in-memory SQLite ledger. */
export function memoryLedger() {
  return createSqliteLedger({ path: ":memory:" });
}

/** The charges the ledger holds for an auction, as sorted `label:agent` (undefined: no such auction). */
export async function chargeLabels(ledger: LedgerReader, auctionId: string): Promise<string[] | undefined> {
  const stored = await ledger.getAuction(auctionId);
  return stored?.charges.map((charge) => `${charge.label}:${charge.agent}`).sort();
}

/**
 * An agent on `model` with the router middleware (`options`) asked {@link REQUEST}: its messages and
 * the last one.
 */
export async function askThroughMiddleware(
  model: ScriptedChatModel,
  options: AuctionRouterMiddlewareOptions,
  tools?: Parameters<typeof createAgent>[0]["tools"],
) {
  const middleware = [auctionRouterMiddleware(options)];
  const agent = tools === undefined ? createAgent({ model, middleware }) : createAgent({ model, tools, middleware });
  const result = await agent.invoke({ messages: [{ role: "user", content: REQUEST }] });
  return { messages: result.messages, last: result.messages.at(-1) as AIMessage };
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
