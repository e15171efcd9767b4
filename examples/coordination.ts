/**
 * Belief coordination (ECON-style), offline: a coordinator writes a ≤ 50-token strategy, three
 * executors answer without seeing each other, their beliefs (USE-Lite embeddings of their
 * answers + confidence) are refined by ECON's rule, and the coordinator commits until the
 * commitment is stable. Executor weights are fitted from a (scripted) training split, saved as
 * JSON and reloaded.
 *
 * The models here are SCRIPTED STAND-INS (ScriptedChatModel), so the example runs without a key:
 * the figures it prints show the wiring, not any model's quality. Swap in `new ChatOpenAI(...)`.
 *
 * Run: npx tsx examples/coordination.ts
 */
import {
  createBeliefCoordination,
  createTokenBudget,
  executorWeightsFromJson,
  executorWeightsToJson,
  fitExecutorWeights,
} from "langchain-gavel";
import { UniversalSentenceEncoderEmbeddings } from "langchain-gavel/encoder";
import { extractFinalNumber } from "langchain-gavel/eval";
import { ScriptedChatModel } from "langchain-gavel/testing";

/** Scripted stand-in executor: always gives `answer` with a stated confidence. */
function scriptedExecutor(answer: string, confidence: number, reasoning: string) {
  return new ScriptedChatModel({
    model: "gpt-4o-mini",
    replies: () => `${reasoning}\nAnswer: ${answer}\nConfidence: ${confidence}`,
  });
}

/** Scripted stand-in coordinator: a fixed strategy; commits to the belief candidate it is shown. */
const coordinator = new ScriptedChatModel({
  model: "gpt-4o",
  replies: ({ messages }) => {
    const prompt = messages.map((message) => message.text).join("\n");
    if (prompt.includes("Write a strategy")) return "Count the rows, count the bottles per row, multiply.";
    const candidate = /Answer favoured by the belief equilibrium: (.+)/.exec(prompt)?.[1] ?? "unknown";
    return `The weighted beliefs settle on the product. Answer: ${candidate}`;
  },
});

// 1. Fit per-executor weights on a training split (here: scripted outcomes), save, reload.
const trainingOutcomes = [
  ...Array.from({ length: 20 }, (_, index) => ({ executor: "careful", correct: index < 18 })),
  ...Array.from({ length: 20 }, (_, index) => ({ executor: "hasty", correct: index < 6 })),
  ...Array.from({ length: 20 }, (_, index) => ({ executor: "guesser", correct: index < 5 })),
];
const saved = executorWeightsToJson(fitExecutorWeights(trainingOutcomes)); // write this to a file
const weights = executorWeightsFromJson(saved);
console.log(
  "learned weights:",
  Object.fromEntries(Object.entries(weights.executors).map(([name, entry]) => [name, entry.weight.toFixed(3)])),
);

// 2. Coordinate under a token budget.
const budget = createTokenBudget({ limits: { run: { maxTokens: 4_000 } } });
const graph = createBeliefCoordination({
  coordinator,
  executors: [
    { name: "careful", model: scriptedExecutor("42", 0.9, "Six rows of seven bottles: 6 × 7 = 42.") },
    { name: "hasty", model: scriptedExecutor("13", 0.7, "Six plus seven bottles is 13.") },
    { name: "guesser", model: scriptedExecutor("13", 0.6, "Probably 13 bottles in total.") },
  ],
  embeddings: new UniversalSentenceEncoderEmbeddings(), // offline USE-Lite, 512-d
  parseAnswer: extractFinalNumber,
  weights,
  maxRounds: 4,
  budget,
  budgetScopes: { run: "example-1" },
});

const result = await graph.invoke({ question: "A crate holds six rows of seven bottles. How many bottles?" });

console.log(`strategy: ${result.strategy}`);
for (const round of result.rounds) {
  const tallies = round.selection.tallies.map(({ answer, score }) => `${answer}=${score.toFixed(3)}`).join(", ");
  console.log(
    `round ${round.round}: answers ${round.answers.map((answer) => `${answer.executor}:${answer.answer}`).join(" ")}; ` +
      `belief updates ${round.refinement.iterations} (${round.refinement.stoppedBy}); tallies ${tallies}; ` +
      `commitment "${round.commitment}"`,
  );
}
console.log(`answer: ${result.answer} (stopped: ${result.stopReason})`);
console.table(result.usage);
console.log("budget:", budget.remaining({ run: "example-1" }), "tokens left of 4000");
