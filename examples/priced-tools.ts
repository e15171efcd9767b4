/**
 * Tool calls on the budget: `npx tsx examples/priced-tools.ts`.
 *
 * A paid search tool sits in the same price table as the models (`"tool:web_search"`), so every call
 * of it is reserved and settled on the shared budget like a model call, counted against a per-run
 * limit of calls, and recorded in the ledger (`spend({ by: "tool" })`, or
 * `gavel ledger spend --by tool` on a SQLite file).
 *
 * Runs offline. The model is a SCRIPTED STAND-IN (`ScriptedChatModel`): it asks for a search on every
 * turn, then answers; it is not a language model. The search tool is a local function standing in
 * for a paid API. For a real model, use e.g. `new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 256 })`.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HumanMessage, ToolMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { createBudgetEventRecorder, createTokenBudget, tokenBudgetMiddleware } from "langchain-gavel";
import { createSqliteLedger } from "langchain-gavel/sqlite";
import { ScriptedChatModel } from "langchain-gavel/testing";
import { z } from "zod";

const prices = {
  "tool:web_search": { usdPerCall: 0.01 }, // what the search API bills per call
};

let searches = 0;
const webSearch = tool(
  async ({ query }) => {
    searches += 1;
    return `Top result for "${query}": an encyclopedia article.`;
  },
  { name: "web_search", description: "Search the web", schema: z.object({ query: z.string() }) },
);

/** Scripted stand-in: searches on its first four turns (the limit stops the fourth), then answers. */
const model = new ScriptedChatModel({
  model: "gpt-4o-mini",
  maxTokens: 256,
  replies: (call) =>
    call.index < 4
      ? { toolCalls: [{ name: "web_search", args: { query: `auction theory, part ${call.index + 1}` } }] }
      : { content: "Vickrey auctions make truthful bidding a dominant strategy." },
});

const path = join(mkdtempSync(join(tmpdir(), "gavel-tools-")), "ledger.db");
const ledger = createSqliteLedger({ path });
const recorder = createBudgetEventRecorder(ledger); // every reserve / settle / release as a ledger charge
const budget = createTokenBudget({ limits: { global: { maxUsd: 1 } }, prices, onEvent: recorder.onEvent });

const agent = createAgent({
  model,
  tools: [webSearch],
  middleware: [
    tokenBudgetMiddleware({
      budget,
      prices,
      toolCallLimit: { web_search: { run: 3 } }, // at most three searches per invocation
      injectRemainingBudget: true, // the model sees "Tool calls: web_search $0.01 each, N calls left"
    }),
  ],
});

const result = await agent.invoke({ messages: [new HumanMessage("What is a Vickrey auction?")] });
const refused = result.messages.filter((message) => ToolMessage.isInstance(message) && message.status === "error");
console.log(`answer: ${result.messages.at(-1)?.content}`);
console.log(`searches run: ${searches}; refused by the per-run limit: ${refused.length}`);
console.log(`  the model was told: ${refused[0]?.content ?? "(nothing)"}`);

await recorder.flush();
for (const row of await ledger.spend({ by: "tool" })) {
  console.log(`ledger, by tool: ${row.key ?? "(model calls)"} — ${row.calls} calls, $${row.usd.toFixed(4)}`);
}
console.log(`budget left: $${budget.remaining().usd?.toFixed(4)}`);
console.log(`read it again: npx gavel ledger spend --db ${path} --by tool`);
await ledger.close();
