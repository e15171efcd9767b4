/**
 * Token budget overhead per model call: one reserve + settle on a budget with
 * global (tokens + USD) and run limits and 64 live run accounts; counting a
 * typical 4-message prompt with js-tiktoken; resolving a provider-prefixed,
 * dated model name. No targets in the issue: the figures show the budget is
 * negligible next to a model call (milliseconds to seconds).
 */
import { HumanMessage, SystemMessage } from "@langchain/core/messages";
import { countMessageTokens, createPriceResolver, createTokenBudget, DEFAULT_PRICES } from "../src/budget/index.js";
import { type BenchResult, medianMicros } from "./harness.js";

const RUNS = 64;

export async function run(): Promise<BenchResult[]> {
  const budget = createTokenBudget({
    limits: { global: { maxTokens: Number.MAX_SAFE_INTEGER, maxUsd: 1_000_000 }, run: { maxTokens: 1_000_000_000 } },
  });
  let call = 0;
  const reserveSettle = await medianMicros("budget.reserve_settle", () => {
    call += 1;
    const reservation = budget.reserve({
      model: "gpt-4o-mini",
      inputTokens: 900,
      maxOutputTokens: 512,
      scopes: { run: `run-${call % RUNS}` },
    });
    budget.settle(reservation, { inputTokens: 900, outputTokens: 240 });
  });

  const prompt = [
    new SystemMessage("You are a careful assistant. Answer with the final number only."),
    new HumanMessage(
      "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. " +
        "How many clips did Natalia sell altogether in April and May?",
    ),
    new SystemMessage("Plan: compute May as 48 / 2, then add April and May."),
    new HumanMessage("Answer now."),
  ];
  countMessageTokens(prompt, "gpt-4o"); // build the encoder outside the measurement
  const countPrompt = await medianMicros("budget.count_message_tokens", () => countMessageTokens(prompt, "gpt-4o"));

  const resolve = createPriceResolver(DEFAULT_PRICES);
  const resolvePrefixed = await medianMicros("budget.resolve_price", () =>
    resolve("openrouter/anthropic/claude-3.5-sonnet-20241022"),
  );

  return [
    {
      name: "budget.reserve_settle",
      value: reserveSettle.medianUs,
      unit: "us",
      details: { runAccounts: RUNS, accountsPerCall: 2 },
    },
    {
      name: "budget.count_message_tokens.4_messages",
      value: countPrompt.medianUs,
      unit: "us",
      details: { tokens: countMessageTokens(prompt, "gpt-4o"), encoding: "o200k_base" },
    },
    {
      name: "budget.resolve_price.prefixed_dated",
      value: resolvePrefixed.medianUs,
      unit: "us",
      details: { entries: Object.keys(DEFAULT_PRICES).length },
    },
  ];
}
