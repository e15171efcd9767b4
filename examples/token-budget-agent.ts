/**
 * A LangChain agent under a token budget: `npx tsx examples/token-budget-agent.ts`.
 *
 * Runs offline. The model is a SCRIPTED STAND-IN (`ScriptedChatModel`): it replays canned
 * answers and reports token usage like a provider; it is not a language model. To use a real
 * model, replace `scriptedWeatherModel(...)` with, for example:
 *
 *   import { ChatOpenAI } from "@langchain/openai";
 *   const model = new ChatOpenAI({ model: "gpt-4o-mini", maxTokens: 256 }); // reads OPENAI_API_KEY
 *   // any OpenAI-compatible endpoint (vLLM, Ollama, OpenRouter, ...):
 *   // new ChatOpenAI({ model: "...", maxTokens: 256, configuration: { baseURL: "http://localhost:8000/v1" } })
 */
import { HumanMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import { createAgent, tool } from "langchain";
import { budgetExhaustionOf, createTokenBudget, tokenBudgetMiddleware } from "langchain-gavel";
import { ScriptedChatModel } from "langchain-gavel/testing";
import { z } from "zod";

const weather = tool(async ({ city }) => `It is sunny and 21°C in ${city}.`, {
  name: "get_weather",
  description: "Current weather of a city",
  schema: z.object({ city: z.string() }),
});

/** Scripted stand-in: looks up every city it is asked about, one tool call per turn, then answers. */
function scriptedWeatherModel(cities: string[]) {
  return new ScriptedChatModel({
    model: "gpt-4o-mini", // priced as gpt-4o-mini; usage is reported per call like a real provider
    maxTokens: 256, // the output cap: the budget reserves prompt + 256 tokens before each call
    replies: (call) => {
      const city = cities[call.index % (cities.length + 1)];
      return city
        ? { toolCalls: [{ name: "get_weather", args: { city } }] }
        : { content: `Sunny everywhere: ${cities.join(", ")}.` };
    },
  });
}

// 1. Thread and run limits kept in agent state, with the remaining budget shown to the model.
const agent = createAgent({
  model: scriptedWeatherModel(["Paris", "Oslo", "Lima"]),
  tools: [weather],
  systemPrompt: "You are a weather assistant.",
  checkpointer: new MemorySaver(),
  middleware: [
    tokenBudgetMiddleware({
      runLimit: 2_000, // tokens per invocation
      threadLimit: { maxTokens: 1_500, maxUsd: 0.01 }, // per conversation (kept by the checkpointer)
      injectRemainingBudget: true, // "Remaining token budget: N tokens (~$X)" in the system prompt
      onCharge: (charge) =>
        console.log(`  charged ${charge.tokens} tokens ($${charge.usd?.toFixed(6)}) for ${charge.model}`),
    }),
  ],
});

const config = { configurable: { thread_id: "demo-thread" } };
console.log("First question:");
const first = await agent.invoke({ messages: [new HumanMessage("Weather in Paris, Oslo and Lima?")] }, config);
console.log(`  answer: ${first.messages.at(-1)?.content}`);
console.log(`  run: ${first.tokenBudget.runTokens} tokens, thread: ${first.tokenBudget.threadTokens} tokens`);

console.log("Second question, same thread (the thread limit of 1,500 tokens stops it):");
const second = await agent.invoke({ messages: [new HumanMessage("And again?")] }, config);
console.log(`  answer: ${second.messages.at(-1)?.content}`);
console.log(`  stopped by: ${budgetExhaustionOf(second.messages.at(-1))?.scope} limit`);

// 2. One TokenBudget shared by concurrent agents: per-example and global limits, never exceeded.
//    Each call reserves its upper bound (prompt + maxTokens) first, so while other calls are in
//    flight a call may be refused although the final spend ends well below the limit.
const shared = createTokenBudget({ limits: { global: { maxTokens: 1_000 }, example: { maxTokens: 600 } } });
const runs = await Promise.all(
  ["gsm8k-1", "gsm8k-2", "gsm8k-3", "gsm8k-4"].map((exampleId) => {
    const worker = createAgent({
      model: scriptedWeatherModel(["Rome", "Cairo"]),
      tools: [weather],
      middleware: [tokenBudgetMiddleware({ budget: shared })],
    });
    return worker.invoke(
      { messages: [new HumanMessage("Weather in Rome and Cairo?")] },
      { context: { tokenBudget: { exampleId } } },
    );
  }),
);
console.log("Four concurrent agents on one budget:");
for (const [index, run] of runs.entries()) {
  const stopped = budgetExhaustionOf(run.messages.at(-1));
  console.log(
    `  gsm8k-${index + 1}: ${run.tokenBudget.runTokens} tokens${stopped ? ` (stopped: ${stopped.scope} limit)` : ""}`,
  );
}
console.log(`  why gsm8k-4 stopped: ${runs[3]?.messages.at(-1)?.content}`);
const global = shared.snapshot().find((account) => account.scope === "global");
console.log(`  global: ${global?.spentTokens} of 1000 tokens spent, ${shared.outstanding} reservations open`);
