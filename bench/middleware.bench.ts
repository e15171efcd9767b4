/**
 * Overhead of `tokenBudgetMiddleware` per model call.
 *
 * The same `createAgent` loop (one tool call, then an answer: 2 model calls per invoke) over a
 * zero-latency scripted model, with and without the middleware; the figure is the median of the
 * per-round differences of the median invoke times, divided by the model calls per invoke. Variants: state limits only; a
 * shared TokenBudget with the remaining budget injected into the system prompt; and a 200-message
 * history handed over as new message objects with the same ids on every invoke (as a
 * checkpointer does): counts are cached per message id and history prefix, so a run counts only
 * its new messages with js-tiktoken, not the whole history.
 * The scripted model reports fixed usage, so no tokenizer runs inside it.
 */
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { createTokenBudget } from "../src/budget/index.js";
import { type TokenBudgetMiddlewareOptions, tokenBudgetMiddleware } from "../src/middleware/index.js";
import { ScriptedChatModel } from "../src/testing/scripted-chat-model.js";
import { type BenchResult, medianMicros } from "./harness.js";

const MODEL_CALLS_PER_INVOKE = 2;
const TARGET_MS_PER_CALL = 0.5;
const WARMUP_INVOKES = 300;

const lookup = tool(async ({ city }) => `It is sunny in ${city}.`, {
  name: "lookup_weather",
  description: "Look up the weather of a city",
  schema: z.object({ city: z.string() }),
});

/** Zero-latency model: a tool call, then an answer, with fixed usage. */
function zeroLatencyModel(): ScriptedChatModel {
  return new ScriptedChatModel({
    model: "gpt-4o-mini",
    maxTokens: 256,
    recordCalls: false,
    replies: (call) => {
      const last = call.messages.at(-1);
      return last && ToolMessage.isInstance(last)
        ? { content: "Sunny.", usage: { inputTokens: 120, outputTokens: 5 } }
        : {
            toolCalls: [{ name: "lookup_weather", args: { city: "Paris" } }],
            usage: { inputTokens: 100, outputTokens: 20 },
          };
    },
  });
}

/**
 * A past conversation of `turns` question/answer pairs, as new objects with stable ids: what a
 * checkpointer hands back on every invocation of a thread.
 */
function history(turns: number): BaseMessage[] {
  return Array.from({ length: turns }, (_, index) => [
    new HumanMessage({
      id: `question-${index}`,
      content: `Question ${index}: what was the weather in city number ${index} last week, roughly?`,
    }),
    new AIMessage({
      id: `answer-${index}`,
      content: `Answer ${index}: mostly sunny with a few clouds, around ${10 + (index % 15)} degrees.`,
    }),
  ]).flat();
}

/** An agent over the zero-latency model, with or without the middleware, and its input. */
function buildAgent(middleware: TokenBudgetMiddlewareOptions | undefined, pastMessages: () => BaseMessage[]) {
  const agent = createAgent({
    model: zeroLatencyModel(),
    tools: [lookup],
    systemPrompt: "You are a weather assistant. Use the tool, then answer in one word.",
    middleware: middleware ? [tokenBudgetMiddleware(middleware)] : [],
  });
  const invoke = () => agent.invoke({ messages: [...pastMessages(), new HumanMessage("Weather in Paris?")] });
  return { invoke };
}

const median = (values: number[]) =>
  [...values].sort((left, right) => left - right)[Math.floor(values.length / 2)] ?? 0;

/**
 * Median invoke time with and without the middleware. The machine is shared and its load
 * drifts, so the two are measured in many short alternating rounds: each invoke figure is the
 * median of its rounds' medians, and the overhead is the median of the per-round differences
 * (each round's two measurements are taken back to back).
 */
async function overhead(
  label: string,
  options: TokenBudgetMiddlewareOptions,
  pastMessages: () => BaseMessage[] = () => [],
  rounds = 11,
) {
  const baseline = buildAgent(undefined, pastMessages);
  const withBudget = buildAgent(options, pastMessages);
  for (const agent of [baseline, withBudget]) {
    const state = await agent.invoke();
    if (state.messages.at(-1)?.content !== "Sunny.") throw new Error(`${label}: the agent did not finish its loop`);
    for (let warmup = 0; warmup < WARMUP_INVOKES; warmup += 1) await agent.invoke(); // let the JIT settle
  }
  const baselineRounds: number[] = [];
  const withRounds: number[] = [];
  let samples = 0;
  for (let round = 0; round < rounds; round += 1) {
    const plain = await medianMicros(`${label}.baseline`, baseline.invoke, { time: 300, warmupTime: 50 });
    const budgeted = await medianMicros(`${label}.tokenBudget`, withBudget.invoke, { time: 300, warmupTime: 50 });
    baselineRounds.push(plain.medianUs);
    withRounds.push(budgeted.medianUs);
    samples += plain.samples + budgeted.samples;
  }
  const baselineUs = median(baselineRounds);
  const withUs = median(withRounds);
  const differences = withRounds.map((withMiddleware, round) => withMiddleware - (baselineRounds[round] ?? 0));
  const perCallMs = median(differences) / MODEL_CALLS_PER_INVOKE / 1000;
  const details = {
    baselineMedianUs: Math.round(baselineUs),
    withMiddlewareMedianUs: Math.round(withUs),
    baselineRoundsUs: baselineRounds.map(Math.round),
    withMiddlewareRoundsUs: withRounds.map(Math.round),
    samples,
    modelCallsPerInvoke: MODEL_CALLS_PER_INVOKE,
    historyMessages: pastMessages().length,
  };
  const results: BenchResult[] = [
    { name: `${label}.invoke.baseline`, value: baselineUs / 1000, unit: "ms" },
    { name: `${label}.invoke.tokenBudget`, value: withUs / 1000, unit: "ms" },
    {
      name: `${label}.overhead_per_model_call`,
      value: perCallMs,
      unit: "ms",
      target: { op: "<=", value: TARGET_MS_PER_CALL },
      details,
    },
  ];
  return results;
}

export async function run(): Promise<BenchResult[]> {
  return [
    ...(await overhead("middleware.tokenBudget.state", { runLimit: 1_000_000, threadLimit: { maxUsd: 100 } })),
    ...(await overhead("middleware.tokenBudget.shared_injected", {
      budget: createTokenBudget({ limits: { global: { maxTokens: Number.MAX_SAFE_INTEGER } } }),
      runLimit: 1_000_000,
      injectRemainingBudget: true,
    })),
    // New message objects with the same ids on every invoke, as a checkpointer hands them back.
    ...(await overhead("middleware.tokenBudget.history200", { runLimit: 10_000_000 }, () => history(100))),
  ];
}
