/**
 * The auction-gated debate under budgets too small for a full round, offline.
 *
 * When the budget cannot pay for every agent's intent (or, in `full` mode, every message), the
 * agents bid without one: α × their reliability (learned on training questions; 0.5 when unknown),
 * or once they have answered, α × reliability × (1 − the others' agreement with them). The winners
 * whose messages fit speak; the debate stops with "budget" only when no message fits at all.
 *
 * The three agents are SCRIPTED STAND-INS (ScriptedChatModel), not language models: "solver"
 * answers 42; "guesser" and "drifter" guess 41 and 48 until the solver's answer is in the
 * transcript, then agree. Token figures are what the stand-ins report (tokenizer counts): they
 * show the rule, not a model's cost.
 *
 * Run: npx tsx examples/debate-tight-budget.ts
 */
import { createAuctionDebate, type DebateMode, INTENT_INSTRUCTION } from "langchain-gavel";
import { ScriptedChatModel } from "langchain-gavel/testing";

/** A scripted stand-in: `knows` answers right away; the others guess until the solver has spoken. */
function scriptedStandIn(guess: string, knows: boolean): ScriptedChatModel {
  return new ScriptedChatModel({
    model: "gpt-4o-mini",
    replies: ({ messages }) => {
      const prompt = messages.at(-1)?.text ?? "";
      const answer = knows || prompt.includes("solver:") ? "42" : guess;
      if (prompt.includes(INTENT_INSTRUCTION)) return `I would check the product.\nAnswer: ${answer}`;
      return answer === "42"
        ? "7+7+7+7+7+7 = 42, checked.\nAnswer: 42"
        : `Roughly ${guess}, I think.\nAnswer: ${guess}`;
    },
  });
}

// Listed weakest first: the auction, not the order, picks who speaks.
const agents = [
  { name: "drifter", model: scriptedStandIn("48", false), reliability: 0.3 },
  { name: "guesser", model: scriptedStandIn("41", false), reliability: 0.6 },
  { name: "solver", role: "math", model: scriptedStandIn("42", true), reliability: 0.9 },
];

for (const mode of ["intent", "full"] satisfies DebateMode[]) {
  for (const budget of [150, 250, 400, 550, 800, 1200]) {
    const debate = createAuctionDebate({ agents, mode, budget, maxRounds: 3 });
    const result = await debate.invoke({ question: "What is 6 times 7?" });
    const rounds = result.rounds.map((round) => `${round.gating}: ${round.speakers.join("+") || "-"}`).join(" | ");
    console.log(
      `${mode.padEnd(6)} budget ${String(budget).padStart(4)}  answer ${(result.finalAnswer ?? "none").padEnd(4)} ` +
        `tokens ${String(result.spentTokens).padStart(4)}  ${(result.stopReason ?? "").padEnd(9)}  ${rounds || "(no round)"}`,
    );
  }
}
