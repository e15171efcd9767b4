/**
 * Overhead of `tokenBudgetMiddleware` per model call.
 *
 * The same `createAgent` loop (one tool call, then an answer: 2 model calls per invoke) over a
 * zero-latency scripted model, with and without the middleware; the figure is the difference of
 * the median invoke times divided by the model calls per invoke. Variants: state limits only; a
 * shared TokenBudget with the remaining budget injected into the system prompt; and a 200-message
 * history (the prompt is counted with js-tiktoken on every call; counts are cached per message).
 * The scripted model reports fixed usage, so no tokenizer runs inside it.
 */
import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { createAgent, tool } from "langchain";
import { z } from "zod";
import { ScriptedChatModel } from "../adapters/providers/scripted.js";
import { TokenBudget } from "../src/budget/index.js";
import { type TokenBudgetMiddlewareOptions, tokenBudgetMiddleware } from "../src/middleware/index.js";
import { type BenchResult, medianMicros } from "./harness.js";

const MODEL_CALLS_PER_INVOKE = 2;
const TARGET_MS_PER_CALL = 0.5;

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
    replies: (call) => {
      const last = call.messages.at(-1);
      return last && ToolMessage.isInstance(last)
        ? { content: "Sunny.", usage: { inputTokens: 120, outputTokens: 5 } }
        : { toolCalls: [{ name: "lookup_weather", args: { city: "Paris" } }], usage: { inputTokens: 100, outputTokens: 20 } };
    },
  });
}

/** A past conversation of `turns` question/answer pairs. */
function history(turns: number): BaseMessage[] {
  return Array.from({ length: turns }, (_, index) => [
    new HumanMessage(`Question ${index}: what was the weather in city number ${index} last week, roughly?`),
    new AIMessage(`Answer ${index}: mostly sunny with a few clouds, around ${10 + (index % 15)} degrees.`),
  ]).flat();
}

async function medianInvoke(
  name: string,
  middleware: TokenBudgetMiddlewareOptions | undefined,
  pastMessages: BaseMessage[],
): Promise<{ medianUs: number; samples: number }> {
  const agent = createAgent({
    model: zeroLatencyModel(),
    tools: [lookup],
    systemPrompt: "You are a weather assistant. Use the tool, then answer in one word.",
    middleware: middleware ? [tokenBudgetMiddleware(middleware)] : [],
  });
  const input = () => ({ messages: [...pastMessages, new HumanMessage("Weather in Paris?")] });
  const check = await agent.invoke(input());
  if (check.messages.at(-1)?.content !== "Sunny.") throw new Error(`${name}: the agent did not finish its loop`);
  return medianMicros(name, () => agent.invoke(input()), { time: 3_000, warmupTime: 500 });
}

async function overhead(label: string, options: () => TokenBudgetMiddlewareOptions, pastMessages: BaseMessage[]) {
  const baseline = await medianInvoke(`${label}.baseline`, undefined, pastMessages);
  const withBudget = await medianInvoke(`${label}.tokenBudget`, options(), pastMessages);
  const perCallMs = (withBudget.medianUs - baseline.medianUs) / MODEL_CALLS_PER_INVOKE / 1000;
  const details = {
    baselineMedianUs: Math.round(baseline.medianUs),
    withMiddlewareMedianUs: Math.round(withBudget.medianUs),
    samples: { baseline: baseline.samples, withMiddleware: withBudget.samples },
    modelCallsPerInvoke: MODEL_CALLS_PER_INVOKE,
    historyMessages: pastMessages.length,
  };
  const results: BenchResult[] = [
    { name: `${label}.invoke.baseline`, value: baseline.medianUs / 1000, unit: "ms" },
    { name: `${label}.invoke.tokenBudget`, value: withBudget.medianUs / 1000, unit: "ms" },
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
    ...(await overhead("middleware.tokenBudget.state", () => ({ runLimit: 1_000_000, threadLimit: { maxUsd: 100 } }), [])),
    ...(await overhead(
      "middleware.tokenBudget.shared_injected",
      () => ({
        budget: new TokenBudget({ limits: { global: { maxTokens: Number.MAX_SAFE_INTEGER }, run: { maxTokens: 1_000_000 } } }),
        runLimit: 1_000_000,
        injectRemainingBudget: true,
      }),
      [],
    )),
    ...(await overhead("middleware.tokenBudget.history200", () => ({ runLimit: 10_000_000 }), history(100))),
  ];
}
