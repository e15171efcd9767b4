/**
 * The tool side of `tokenBudgetMiddleware`: per-tool call limits, what a tool call costs, the
 * tool message that refuses a call, and the rule for a tool that throws. The hook itself
 * (`wrapToolCall`) lives in `tokenBudget.ts`, next to the model's.
 */
import { AIMessage, type BaseMessage, ToolMessage } from "@langchain/core/messages";
import { Command, isCommand, isGraphInterrupt } from "@langchain/langgraph";
import { ToolInvocationError } from "langchain";
import { z } from "zod";
import type { ToolPrice } from "../budget/index.js";

/**
 * Zod schema of `toolCallLimit`: tool name → `{ thread?, run? }` call counts; the key `"*"`
 * limits the calls of all priced or limited tools together.
 *
 * @example
 * ```ts
 * toolCallLimitSchema.safeParse({ web_search: { run: 3, thread: 10 } }).success; // true
 * toolCallLimitSchema.safeParse({ web_search: { perRun: 3 } }).success; // false: unknown key
 * ```
 */
export const toolCallLimitSchema = z.record(
  z.string().min(1),
  z
    .object({
      thread: z.number().int().nonnegative().optional(),
      run: z.number().int().nonnegative().optional(),
    })
    .strict(),
);

/** Per-tool call limits: `{ web_search: { run: 3, thread: 10 }, "*": { run: 20 } }`. */
export type ToolCallLimits = z.output<typeof toolCallLimitSchema>;

/** Key of {@link ToolCallLimits} that limits every tool's calls together. */
export const ALL_TOOLS = "*";

/** What one call of a tool costs: its token equivalent and USD (0 and 0 for a free tool). */
export interface ToolCost {
  tool: string;
  tokens: number;
  usd: number;
  /** True when the tool has a price. */
  priced: boolean;
}

/** The cost of one call of `tool` at `prices` (a tool without a price is free). */
export function toolCostOf(tool: string, prices: Readonly<Record<string, ToolPrice>>): ToolCost {
  const price = Object.hasOwn(prices, tool) ? prices[tool] : undefined;
  return { tool, tokens: price?.tokensPerCall ?? 0, usd: price?.usdPerCall ?? 0, priced: price !== undefined };
}

/** Call counts per tool in a thread and a run, as kept in the middleware's totals. */
export interface ToolCallCounts {
  thread: Readonly<Record<string, number>>;
  run: Readonly<Record<string, number>>;
}

/** A per-tool limit that refuses a call: which key (a tool or `"*"`), which scope, the limit and the calls made. */
export interface ToolCallLimitRefusal {
  key: string;
  scope: "thread" | "run";
  limit: number;
  calls: number;
}

const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((total, n) => total + n, 0);

/** The first limit of `limits` (the tool's own, then `"*"`; thread before run) that one more call of `tool` passes. */
export function toolCallLimitRefusal(
  tool: string,
  counts: ToolCallCounts,
  limits: ToolCallLimits | undefined,
): ToolCallLimitRefusal | undefined {
  if (!limits) return undefined;
  for (const key of [tool, ALL_TOOLS]) {
    const limit = Object.hasOwn(limits, key) ? limits[key] : undefined;
    if (!limit) continue;
    for (const scope of ["thread", "run"] as const) {
      const max = limit[scope];
      if (max === undefined) continue;
      const calls = key === ALL_TOOLS ? sum(counts[scope]) : (counts[scope][tool] ?? 0);
      if (calls + 1 > max) return { key, scope, limit: max, calls };
    }
  }
  return undefined;
}

/**
 * The tool calls that come before `toolCallId` in the model message that asked for it and have
 * no answer yet: they run in parallel with it (LangChain sends each as its own task, all seeing
 * the state before any of them), so their calls and spend are counted before this one's.
 */
export function earlierSiblings(
  messages: readonly BaseMessage[],
  toolCallId: string | undefined,
): Array<{ name: string; id?: string }> {
  if (toolCallId === undefined) return [];
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (!AIMessage.isInstance(message)) continue;
    const calls = message.tool_calls ?? [];
    const position = calls.findIndex((call) => call.id === toolCallId);
    if (position < 0) continue;
    const answered = new Set(
      messages
        .slice(index + 1)
        .filter(ToolMessage.isInstance)
        .map((answer) => answer.tool_call_id),
    );
    return calls.slice(0, position).filter((call) => call.id === undefined || !answered.has(call.id));
  }
  return [];
}

/**
 * True for an error after which the tool did not run, so its call is released, not charged:
 * arguments that failed the tool's schema (`ToolInvocationError`) and a human-in-the-loop
 * interrupt (the call runs again on resume).
 */
export function toolDidNotRun(error: unknown): boolean {
  return ToolInvocationError.isInstance(error) || isGraphInterrupt(error);
}

/**
 * The tool message for a tool that threw after it started: what LangChain's own tool node writes
 * for a tool error when no middleware wraps the call (`"<error>\n Please fix your mistakes."`,
 * status `"error"`), so the model sees the failure and the run goes on, as without the middleware.
 */
export function toolErrorMessage(error: unknown, toolCall: { id?: string; name: string }): ToolMessage {
  return new ToolMessage({
    content: `${error}\n Please fix your mistakes.`,
    tool_call_id: toolCall.id ?? "",
    name: toolCall.name,
    status: "error",
  });
}

/**
 * Key of `response_metadata` on the tool message of a call the middleware refused (a per-tool
 * limit or a budget limit): the details of the refusal.
 *
 * @example
 * ```ts
 * const refused = result.messages.filter(ToolMessage.isInstance).filter((m) => m.response_metadata?.[TOOL_CALL_REFUSED_METADATA_KEY]);
 * ```
 */
export const TOOL_CALL_REFUSED_METADATA_KEY = "tokenBudgetToolRefused";

/** The error tool message that refuses a call: why, and what the model should do instead. */
export function toolRefusalMessage(
  toolCall: { id?: string; name: string },
  reason: string,
  details: Record<string, unknown>,
): ToolMessage {
  return new ToolMessage({
    content: `${reason} The tool was not called. Do not call "${toolCall.name}" again; answer with what you have.`,
    tool_call_id: toolCall.id ?? "",
    name: toolCall.name,
    status: "error",
    response_metadata: { [TOOL_CALL_REFUSED_METADATA_KEY]: details },
  });
}

/** The text of a per-tool limit's refusal. */
export function limitReason(tool: string, refusal: ToolCallLimitRefusal): string {
  const which = refusal.key === ALL_TOOLS ? "Tools" : `"${tool}"`;
  return `Tool call limit reached: ${which} may be called ${refusal.limit} time${refusal.limit === 1 ? "" : "s"} per ${refusal.scope} and ${refusal.calls} ${refusal.calls === 1 ? "was" : "were"} made.`;
}

/**
 * The tool's result with `update` added to the state: a `Command` carrying the tool message (or
 * the tool's own `Command` with `update` merged in).
 */
export function withStateUpdate(result: ToolMessage | Command, update: Record<string, unknown>): Command {
  if (!isCommand(result) && ToolMessage.isInstance(result)) {
    return new Command({ update: { messages: [result], ...update } });
  }
  const command = result as Command;
  const own = command.update;
  const merged = Array.isArray(own)
    ? [...own, ...Object.entries(update)]
    : { ...((own as Record<string, unknown> | undefined) ?? {}), ...update };
  return new Command({
    update: merged,
    ...(command.goto !== undefined && { goto: command.goto }),
    ...(command.graph !== undefined && { graph: command.graph }),
    ...(command.resume !== undefined && { resume: command.resume }),
  });
}

/**
 * A line for the model's remaining-budget note: each priced or limited tool's price per call and
 * the calls it has left in this run / thread, e.g. `Tool calls: web_search $0.01 each, 2 left`.
 */
export function toolBudgetLine(
  prices: Readonly<Record<string, ToolPrice>>,
  limits: ToolCallLimits | undefined,
  counts: ToolCallCounts,
): string | undefined {
  const tools = new Set([...Object.keys(prices), ...Object.keys(limits ?? {}).filter((key) => key !== ALL_TOOLS)]);
  const parts: string[] = [];
  for (const tool of [...tools].sort()) {
    const price = Object.hasOwn(prices, tool) ? prices[tool] : undefined;
    let left: number | undefined;
    for (const key of [tool, ALL_TOOLS]) {
      const limit = limits && Object.hasOwn(limits, key) ? limits[key] : undefined;
      for (const scope of ["thread", "run"] as const) {
        const max = limit?.[scope];
        if (max === undefined) continue;
        const calls = key === ALL_TOOLS ? sum(counts[scope]) : (counts[scope][tool] ?? 0);
        left = Math.min(left ?? Number.POSITIVE_INFINITY, Math.max(0, max - calls));
      }
    }
    const cost = price ? `$${Number(price.usdPerCall.toPrecision(6))} each` : "free";
    parts.push(`${tool} ${cost}${left !== undefined ? `, ${left} call${left === 1 ? "" : "s"} left` : ""}`);
  }
  return parts.length > 0 ? `Tool calls: ${parts.join("; ")}` : undefined;
}
