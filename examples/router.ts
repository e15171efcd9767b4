/**
 * A strategy-auction router over a pool of two models, offline.
 *
 * The two pool members are SCRIPTED STAND-INS (ScriptedChatModel), not language models: they
 * answer planning, jury and execution calls from a script so this example runs with no key and
 * no network. With real models, build the pool from real clients instead:
 *
 *   import { ChatOpenAI } from "@langchain/openai";
 *   const pool = [
 *     { name: "mini", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *     { name: "large", model: new ChatOpenAI({ model: "gpt-4o" }) },
 *   ];
 *
 * Run: npx tsx examples/router.ts
 */
import { AuctionRouter, JURY_RUBRIC, PLANNING_PROMPT, type RouterMetadata } from "langchain-gavel";
import { ScriptedChatModel } from "langchain-gavel/testing";

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

const router = new AuctionRouter({
  pool: [
    {
      name: "mini",
      model: scriptedStandIn("mini", "Add 17·20 and 17·3.", "17 × 23 = 391"),
      price: { inputPerMillion: 0.15, outputPerMillion: 0.6 },
    },
    {
      name: "large",
      model: scriptedStandIn("large", "Long multiplication, then check by dividing 391 by 23.", "391"),
      price: { inputPerMillion: 2.5, outputPerMillion: 10 },
    },
  ],
});

const answer = await router.invoke("What is 17 * 23?");
const { auction, usage } = answer.response_metadata.gavel as RouterMetadata;

console.log(`answer: ${answer.text}  (winner: ${auction.winner})`);
for (const bid of auction.bids) {
  console.log(
    `  ${bid.bidder.padEnd(6)} C=${bid.cost.toFixed(4)} V=${bid.value.toFixed(3)} V−C=${bid.score.toFixed(3)}` +
      ` H=${bid.entropy.toFixed(2)} (${bid.entropySource}) jury=${JSON.stringify(bid.jury)}  "${bid.plan}"`,
  );
}
console.log(
  `tokens: ${answer.usage_metadata?.total_tokens} in all, ${usage.auction.total_tokens} for the auction ` +
    `(${(usage.auctionShare * 100).toFixed(1)}%), ${usage.execution.total_tokens} for the answer`,
);
