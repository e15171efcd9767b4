/**
 * Token budgets, offline: a budget with a per-run token limit and a global USD
 * limit; scripted model calls whose prompts are counted with js-tiktoken;
 * reserve → call → settle; a refused call; the accounts at the end.
 *
 * Run: npx tsx examples/budget.ts
 */
import { AIMessage, type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import {
  BudgetExhaustedError,
  countMessageTokens,
  createTokenBudget,
  type ReserveRequest,
  usageFromMessage,
  withReservation,
} from "langchain-gavel";

const budget = createTokenBudget({
  limits: {
    run: { maxTokens: 400 }, // per agent run
    global: { maxUsd: 0.0038 }, // for the whole process
  },
});

/** Scripted stand-in for a chat model call (offline): a canned answer; only "gpt-4o" reports usage_metadata. */
async function scriptedCall(model: string, messages: BaseMessage[], answer: string): Promise<AIMessage> {
  await new Promise((resolve) => setTimeout(resolve, 5));
  if (model !== "gpt-4o") return new AIMessage(answer); // no usage_metadata: the budget estimates it
  const inputTokens = countMessageTokens(messages, model);
  return new AIMessage({
    content: answer,
    usage_metadata: { input_tokens: inputTokens, output_tokens: 41, total_tokens: inputTokens + 41 },
  });
}

const calls = [
  {
    run: "run-1",
    model: "gpt-4o",
    question: "What is a second-price auction?",
    answer: "The highest bidder wins and pays the second-highest bid, so bidding your true value is optimal.",
  },
  {
    run: "run-1",
    model: "gpt-4o-mini",
    question: "Why is it truthful?",
    answer: "Your bid decides whether you win, never what you pay.",
  },
  {
    run: "run-1",
    model: "gpt-4o-mini",
    question: "Give an example.",
    answer: "Bids 10, 7, 3: the first bidder wins and pays 7.",
  },
  {
    run: "run-2",
    model: "gpt-4o",
    question: "Summarise DALA in one line.",
    answer: "Agents bid for the right to speak; only winners spend tokens.",
  },
  {
    run: "run-2",
    model: "gpt-4o",
    question: "And ECON?",
    answer: "A coordinator steers executors toward a shared belief.",
  },
];

for (const { run, model, question, answer } of calls) {
  const messages = [new SystemMessage("You explain auction theory briefly."), new HumanMessage(question)];
  let request: ReserveRequest = {
    model,
    inputTokens: countMessageTokens(messages, model),
    maxOutputTokens: 300, // the call's max_tokens: the most it may generate
    scopes: { run },
  };
  // One exhaustion policy: downgrade to the cheapest model when the preferred one no longer fits.
  if (!budget.canAfford(request)) request = { ...request, model: "gpt-4o-mini" };
  try {
    const { settlement } = await withReservation(
      budget,
      request,
      () => scriptedCall(request.model, messages, answer),
      (reply) => usageFromMessage(reply, messages, request.model),
    );
    const downgraded = request.model === model ? "" : ` (downgraded from ${model}: global USD too low)`;
    console.log(
      `${run} ${request.model.padEnd(11)} reserved ${request.inputTokens}+${request.maxOutputTokens}, ` +
        `settled ${settlement.tokens} tokens / $${settlement.usd.toFixed(6)}` +
        `${settlement.estimated ? " estimated" : ""}${downgraded}`,
    );
  } catch (error) {
    if (!BudgetExhaustedError.isInstance(error)) throw error;
    const { scope, scopeId, unit, limit, spent, reserved, requested } = error;
    console.log(`${run} refused: ${error.message}`);
    console.log(`  ${JSON.stringify({ scope, scopeId, unit, limit, spent, reserved, requested })}`);
  }
}

console.log("\nAccounts:");
console.table(budget.snapshot().map(({ limits, ...account }) => ({ ...account, limits: JSON.stringify(limits) })));
console.log("Remaining for run-2:", budget.remaining({ run: "run-2" }), "| open reservations:", budget.outstanding);
