/**
 * An auction-gated debate against full communication, offline, on one token budget.
 *
 * The three agents are SCRIPTED STAND-INS (ScriptedChatModel), not language models: "solver"
 * answers 42 confidently; "guesser" and "drifter" ramble towards wrong guesses until the solver's
 * answer is in the transcript, then agree. The token figures are what the stand-ins report as
 * usage_metadata (tokenizer counts), so they show the mechanism, not a model's cost.
 * With real models, use real clients instead:
 *
 *   import { ChatOpenAI } from "@langchain/openai";
 *   const agents = [
 *     { name: "solver", role: "math", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *     { name: "guesser", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *   ];
 *
 * Then it fits each agent's bid aggressiveness α by REINFORCE on accuracy − λ · tokens/budget
 * (what `gavel train debate` does over a config's live agents), saves α as JSON and debates with it.
 *
 * Run: npx tsx examples/debate.ts
 */
import {
  createAuctionDebate,
  type DebateMode,
  INTENT_INSTRUCTION,
  parseAggressiveness,
  serializeAggressiveness,
  trainAggressiveness,
} from "langchain-gavel";
import { ScriptedChatModel } from "langchain-gavel/testing";

const RAMBLING =
  "Let me think it through: I round both factors, multiply the rounded numbers, and correct the result " +
  "by a term I am not sure about; then I reread the question for a trick and settle on a plausible number.";

/** A scripted stand-in: `knows` answers right away; the others guess until the solver has spoken. */
function scriptedStandIn(guess: string, knows: boolean): ScriptedChatModel {
  return new ScriptedChatModel({
    model: "gpt-4o-mini",
    replies: ({ messages }) => {
      const prompt = messages.at(-1)?.text ?? "";
      const intent = prompt.includes(INTENT_INSTRUCTION);
      const answer = knows || prompt.includes("solver:") ? "42" : guess;
      if (knows) return intent ? "Clearly 42; I verified it.\nAnswer: 42" : "7+7+7+7+7+7 = 42, checked.\nAnswer: 42";
      if (intent) return answer === "42" ? "I agree with the solver.\nAnswer: 42" : `Maybe ${guess}?\nAnswer: ${guess}`;
      return answer === "42" ? `I reread the solver's sum and agree.\nAnswer: 42` : `${RAMBLING}\nAnswer: ${guess}`;
    },
  });
}

const agents = [
  { name: "solver", role: "math", model: scriptedStandIn("42", true) },
  { name: "guesser", model: scriptedStandIn("41", false) },
  { name: "drifter", model: scriptedStandIn("48", false) },
];

for (const mode of ["intent", "full_draft", "full"] satisfies DebateMode[]) {
  const debate = createAuctionDebate({ agents, mode, mechanism: "second_price", budget: 2048, maxRounds: 4 });
  const result = await debate.invoke({ question: "What is 6 times 7?" });
  const speakers = result.rounds.map((round) => round.speakers.join("+") || "-").join(" | ");
  console.log(
    `${mode.padEnd(10)} answer ${result.finalAnswer}  rounds ${result.rounds.length} (${result.stopReason})  ` +
      `tokens ${result.spentTokens}/2048  speakers ${speakers}`,
  );
}

// Fit α per agent (REINFORCE, seeded), save it as JSON, reload it, and debate with it.
const { aggressiveness, history } = await trainAggressiveness({
  agents: agents.map((agent) => agent.name),
  questions: [1, 2, 3, 4].map(() => ({ question: "What is 6 times 7?", gold: "42" })),
  budget: 2048,
  epochs: 3,
  runDebate: (alpha, question) =>
    createAuctionDebate({ agents, aggressiveness: alpha, budget: 2048, maxRounds: 4 }).invoke({ question }),
});
for (const epoch of history) {
  const alpha = Object.entries(epoch.aggressiveness).map(([name, value]) => `${name} ${value.toFixed(2)}`);
  console.log(
    `α epoch ${epoch.epoch + 1}: accuracy ${epoch.accuracy.toFixed(2)}, mean tokens ${epoch.meanTokens.toFixed(0)}, reward ${epoch.meanReward.toFixed(3)}; α ${alpha.join(", ")}`,
  );
}
const saved = serializeAggressiveness(aggressiveness); // write it anywhere
const tuned = createAuctionDebate({ agents, aggressiveness: parseAggressiveness(saved), budget: 2048, maxRounds: 4 });
const result = await tuned.invoke({ question: "What is 6 times 7?" });
console.log(`with the fitted α: answer ${result.finalAnswer}, tokens ${result.spentTokens}/2048`);
