/**
 * `gavel serve` in one file, offline: the gateway over a pool of two members, called with the
 * official `openai` client — routed (`gavel/auto`), pinned by name, and streamed.
 *
 * The two pool members are SCRIPTED STAND-INS (ScriptedChatModel), not language models: they
 * answer planning, jury and answer calls from a script, so this example runs with no key and no
 * network. With real models, the members are real clients (or let `gavel serve --config` build them):
 *
 *   import { ChatOpenAI } from "@langchain/openai";
 *   const members = [
 *     { name: "mini", model: new ChatOpenAI({ model: "gpt-4o-mini" }), price: { inputPerMillion: 0.15, outputPerMillion: 0.6 }, provider: "openai" },
 *     { name: "large", model: new ChatOpenAI({ model: "gpt-4o" }), price: { inputPerMillion: 2.5, outputPerMillion: 10 }, provider: "openai" },
 *   ];
 *
 * Run: npx tsx examples/server.ts
 */
import { JURY_RUBRIC, PLANNING_PROMPT } from "langchain-gavel";
import { createGavelApp, serveGavelApp } from "langchain-gavel/server";
import { ScriptedChatModel } from "langchain-gavel/testing";
import OpenAI from "openai";

/** A scripted stand-in: a plan, a jury that likes plans that check their work, an answer. */
function scriptedStandIn(name: string, plan: string, answer: string): ScriptedChatModel {
  return new ScriptedChatModel({
    model: name,
    replies: ({ messages }) => {
      const system = messages.find((message) => message.type === "system")?.text ?? "";
      if (system.startsWith(PLANNING_PROMPT)) return plan;
      if (system.startsWith(JURY_RUBRIC)) {
        const prompt = messages.at(-1)?.text ?? "";
        const blocks = [...prompt.matchAll(/<plan id="([A-Z])">\n([\s\S]*?)\n<\/plan>/g)];
        return blocks.map(([, label, text]) => `${label}: SCORE: ${text?.includes("check") ? 5 : 3}`).join("\n");
      }
      return answer;
    },
  });
}

const gateway = createGavelApp({
  members: [
    {
      name: "mini",
      model: scriptedStandIn("mini", "Add 17·20 and 17·3.", "17 × 23 = 391"),
      price: { inputPerMillion: 0.15, outputPerMillion: 0.6 },
      provider: "scripted",
    },
    {
      name: "large",
      model: scriptedStandIn("large", "Long multiplication, then check by dividing 391 by 23.", "391"),
      price: { inputPerMillion: 2.5, outputPerMillion: 10 },
      provider: "scripted",
    },
  ],
  router: { seed: 0 },
});
// Loopback and no keys: any local client may call it. Beyond loopback, `gavel serve` requires keys.
const server = await serveGavelApp(gateway, { host: "127.0.0.1", port: 0 });
const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "no-key-on-loopback" });

const { data: routed, response } = await openai.chat.completions
  .create({ model: "gavel/auto", messages: [{ role: "user", content: "What is 17 * 23?" }] })
  .withResponse();
console.log(`gavel/auto: ${routed.choices[0]?.message.content}`);
console.log(`  winner: ${routed.model} (x-gavel-winner: ${response.headers.get("x-gavel-winner")})`);
console.log(`  auction: ${response.headers.get("x-gavel-auction-id") === null ? "none" : "x-gavel-auction-id set"}`);
console.log(`  usage: ${JSON.stringify(routed.usage)} (the plans and the jury included)`);

const pinned = await openai.chat.completions.create({
  model: "mini",
  messages: [{ role: "user", content: "What is 17 * 23?" }],
});
console.log(`mini (pinned): ${pinned.choices[0]?.message.content}  usage: ${JSON.stringify(pinned.usage)}`);

const stream = await openai.chat.completions.create({
  model: "gavel/auto",
  messages: [{ role: "user", content: "What is 17 * 23?" }],
  stream: true,
  stream_options: { include_usage: true },
});
let text = "";
let winner = "";
let usage: OpenAI.CompletionUsage | null | undefined;
for await (const chunk of stream) {
  text += chunk.choices[0]?.delta.content ?? "";
  winner = chunk.model;
  usage = chunk.usage ?? usage;
}
console.log(`gavel/auto (streamed): ${text}  winner: ${winner}  usage: ${JSON.stringify(usage)}`);

const models = await openai.models.list();
console.log(`models: ${models.data.map((model) => model.id).join(", ")}`);

await server.close({ timeoutMs: 1_000 });
