/**
 * Route every model call of a `createAgent` tool loop through a strategy auction, offline, with a
 * token budget on the winner's calls and the auctions recorded in a SQLite ledger.
 *
 * The two pool members are SCRIPTED STAND-INS (ScriptedChatModel), not language models: they
 * answer planning, jury and execution calls from a script so this example runs with no key and
 * no network. With real models, put real clients in the pool (`new ChatOpenAI({ model: ... })`).
 *
 * What it shows: with `auctionEvery: "run"` (the default) the first model call of an invocation
 * holds the auction and the winner answers every later call of that run (here: a tool call, then
 * the final answer); the next invocation holds a new auction. `tokenBudgetMiddleware` after the
 * router charges the winner's calls against the run limit.
 *
 * Run: npx tsx examples/route-agent.ts
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { auctionRouterMiddleware, JURY_RUBRIC, PLANNING_PROMPT, tokenBudgetMiddleware } from "langchain-gavel";
import { createSqliteLedger } from "langchain-gavel/sqlite";
import { ScriptedChatModel } from "langchain-gavel/testing";
import { z } from "zod";

const multiply = tool(async ({ a, b }) => String(a * b), {
  name: "multiply",
  description: "Multiply two integers",
  schema: z.object({ a: z.number().int(), b: z.number().int() }),
});

/** A scripted stand-in: a plan, a jury that prefers plans that use the tool, a tool call then an answer. */
function scriptedStandIn(name: string, plan: string): ScriptedChatModel {
  return new ScriptedChatModel({
    model: name,
    replies: ({ messages }) => {
      const system = messages.find((message) => message.type === "system")?.text ?? "";
      if (system.startsWith(PLANNING_PROMPT)) return plan;
      if (system.startsWith(JURY_RUBRIC)) {
        const prompt = messages.at(-1)?.text ?? "";
        const blocks = [...prompt.matchAll(/<plan id="([A-Z])">\n([\s\S]*?)\n<\/plan>/g)];
        return blocks.map(([, label, text]) => `${label}: SCORE: ${text?.includes("multiply") ? 5 : 2}`).join("\n");
      }
      const result = messages.findLast((message) => ToolMessage.isInstance(message));
      if (result === undefined) return { toolCalls: [{ name: "multiply", args: { a: 17, b: 23 } }] };
      return `17 × 23 = ${result.text}`;
    },
  });
}

const folder = mkdtempSync(join(tmpdir(), "gavel-route-agent-"));
const ledger = createSqliteLedger({ path: join(folder, "ledger.db") });
const mini = scriptedStandIn("gpt-4o-mini", "Call multiply(17, 23) and report the product.");
const large = scriptedStandIn("gpt-4o", "Multiply by hand: 17·20 + 17·3, then verify.");

const agent = createAgent({
  model: mini, // replaced by each auction's winner
  tools: [multiply],
  middleware: [
    auctionRouterMiddleware({
      pool: [
        { name: "mini", model: mini, price: { inputPerMillion: 0.15, outputPerMillion: 0.6 } },
        { name: "large", model: large, price: { inputPerMillion: 2.5, outputPerMillion: 10 } },
      ],
      ledger,
    }),
    tokenBudgetMiddleware({ runLimit: 20_000 }), // after the router: it charges the winner's calls
  ],
});

for (const turn of [1, 2]) {
  const result = await agent.invoke({ messages: [new HumanMessage("What is 17 * 23?")] });
  const routed = result.messages.filter((message): message is AIMessage => AIMessage.isInstance(message));
  console.log(`run ${turn}: ${routed.length} model calls, final answer "${routed.at(-1)?.text}"`);
  for (const message of routed) {
    // The middleware's record on each routed reply: the auction, its winner, and whether the winner was cached.
    const gavel = message.response_metadata.gavel as { auctionId: string; winner: string; cached: boolean };
    const what = message.tool_calls?.length ? `tool call ${message.tool_calls[0]?.name}` : "answer";
    console.log(
      `  ${what.padEnd(18)} by ${gavel.winner} (auction ${gavel.auctionId.slice(0, 8)}, ${gavel.cached ? "cached winner" : "new auction"})`,
    );
  }
  console.log(`  run tokens charged by tokenBudgetMiddleware: ${result.tokenBudget.runTokens}`);
}

const wins = await ledger.winRates({ kind: "route" });
console.log("ledger win rates:", wins.map((row) => `${row.bidder} ${row.wins}/${row.auctions}`).join(", "));
await ledger.close();
rmSync(folder, { recursive: true, force: true });
