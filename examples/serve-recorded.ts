/**
 * startGavelServer from a config, offline: the gateway over three RECORDED members (each replays the real
 * answers its model gave on RouterBench's prompts, shipped in data/routerbench), called with the
 * official `openai` client — routed, pinned and streamed — until the key's budget refuses (402), then
 * the metrics. examples/server.ts builds the same gateway by hand, over scripted stand-ins.
 *
 *   npx tsx examples/serve-recorded.ts
 *
 * Recorded members cannot write plans, so every auction falls back to `router.fallback`; live members
 * (configs/serve.openai.yaml) are needed for real routing. See docs/server.md.
 */

import { startGavelServer } from "langchain-gavel/server";
import OpenAI from "openai";

const server = await startGavelServer({
  config: {
    listen: { port: 0 }, // any free port
    pool: [
      { name: "gpt-4", provider: "recorded", model: "gpt-4-1106-preview" },
      { name: "mixtral", provider: "recorded", model: "mistralai/mixtral-8x7b-chat" },
    ],
    router: { fallback: "mixtral", jury: "none" },
    budgets: { key: { maxUsd: 0.13 }, window: "1d" }, // what each key may spend per UTC day
    logs: { level: "silent" },
  },
});
console.log(`gateway on ${server.url}; models: gavel/auto, ${server.members.map((member) => member.name).join(", ")}`);

const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused-without-keys" });
const prompt = "Write a function to multiply two integers."; // a RouterBench (MBPP) prompt

const { data: routed, response } = await client.chat.completions
  .create({ model: "gavel/auto", messages: [{ role: "user", content: prompt }] })
  .withResponse();
console.log(`\ngavel/auto → ${routed.model} (auction ${response.headers.get("x-gavel-auction-id")})`);
console.log(`  ${routed.choices[0]?.message.content?.split("\n")[0]}`);
console.log(`  usage: ${JSON.stringify(routed.usage)}`);

const stream = await client.chat.completions.create({
  model: "gpt-4",
  messages: [{ role: "user", content: prompt }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let streamedTokens = 0;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta?.content ?? "";
  streamedTokens = chunk.usage?.total_tokens ?? streamedTokens;
}
console.log(`\ngpt-4 (pinned, streamed): ${text.split("\n")[0]}  [${streamedTokens} tokens]`);

// The key (here the anonymous one) has $0.13 a day. A GPT-4 call reserves its worst case first
// (4,096 output tokens at $30 per million: $0.12; a recorded answer has no cap) and is settled at its
// usage: keep asking until what is left cannot hold the next reservation.
for (let call = 1; call <= 10; call++) {
  try {
    await client.chat.completions.create({
      model: "gpt-4",
      messages: [{ role: "user", content: prompt }],
      max_tokens: 300,
    });
  } catch (error) {
    if (!(error instanceof OpenAI.APIError)) throw error;
    console.log(
      `\ncall ${call}: HTTP ${error.status} ${error.code}: ${error.message.replace(/^\d+ /, "").split(". ")[0]}`,
    );
    console.log(
      `  remaining: ${error.headers?.get("x-gavel-budget-remaining-usd")} USD, resets ${error.headers?.get("x-gavel-budget-resets-at")}`,
    );
    break;
  }
}

const metrics = await (await fetch(`${server.url}/metrics`)).text();
console.log("\n/metrics:");
for (const line of metrics.split("\n").filter((line) => /^gavel_(requests|auctions)_total/.test(line)))
  console.log(`  ${line}`);

await server.close();
