/**
 * The auction's model calls and what they are charged: every internal call (plan, jury, refine)
 * checks the answer's reserve, reserves, runs with a timeout and settles or releases; the winner's
 * answer is charged the same way by the router or the middleware (`answerCall`).
 *
 * Read top to bottom: the calls factory (charging, one call, the planning copies), then the
 * totals and the timeout.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessage, BaseMessage, UsageMetadata } from "@langchain/core/messages";
import { costUsd, type Reservation, usageFromMessage } from "../../budget/index.js";
import { releaseQuietly, settleQuietly } from "../../budget/shared.js";
import { BudgetExhaustedError, describeError } from "../../errors.js";
import { callCopy, countsOwnPrompt, promptTokensOf } from "../../models.js";
import type { BudgetScreen } from "../budget-screen.js";
import { RouterCallTimeoutError } from "../errors.js";
import type { ResolvedMember } from "../options.js";
import type { AuctionCall, AuctionState, CallPurpose, EngineContext } from "./records.js";

/** What one internal call gave: the reply, or why it failed (`dispatched`: the model was called). */
export type CallResult = { reply: AIMessage } | { failure: string; dispatched: boolean };

/** The calls of one engine. */
export interface AuctionCalls {
  /**
   * One internal call: check the answer's reserve, reserve, call (nostream, with timeout), settle
   * or release. `dispatched` is false when the budget refused it before the model was called.
   */
  call(
    member: ResolvedMember,
    purpose: Exclude<CallPurpose, "answer">,
    prompt: BaseMessage[],
    maxTokens: number,
    state: AuctionState,
  ): Promise<CallResult>;
  /**
   * The winner's answer to `prompt` as charged: usage (reported, or counted and marked estimated,
   * then with `toolTokens` — the bound tools' schemas — added to the input) and USD.
   */
  answerCall(
    winner: ResolvedMember,
    reply: AIMessage,
    prompt: readonly BaseMessage[],
    toolTokens?: number,
  ): AuctionCall;
}

/** Build the calls of one engine; `screen` holds the budget arithmetic (used only with a budget). */
export function createAuctionCalls({ settings, nameOf }: EngineContext, screen: BudgetScreen): AuctionCalls {
  /** Planning copies by model, then by output cap (plans, first-round and refinement juries differ). */
  const planningCopies = new WeakMap<BaseChatModel, Map<number, BaseChatModel>>();

  /** One call as charged: usage (reported, or counted and marked estimated) and USD. */
  function chargedCall(
    member: ResolvedMember,
    purpose: CallPurpose,
    reply: AIMessage,
    prompt: readonly BaseMessage[],
    model = nameOf(member),
  ): AuctionCall {
    const usage = usageFromMessage(reply, prompt as BaseMessage[], model);
    return { member: member.name, model, purpose, usage, usd: costUsd(member.price, usage) };
  }

  async function call(
    member: ResolvedMember,
    purpose: Exclude<CallPurpose, "answer">,
    prompt: BaseMessage[],
    maxTokens: number,
    state: AuctionState,
  ): Promise<CallResult> {
    const name = nameOf(member);
    const { request } = state;
    let reservation: Reservation | undefined;
    if (settings.budget) {
      // A local model counts its own prompt exactly; js-tiktoken undercounts it several times over.
      const inputTokens = countsOwnPrompt(member.model)
        ? await promptTokensOf(member.model, prompt)
        : screen.promptTokens(prompt, name);
      const refusal = await screen.callRefusal(member, inputTokens, maxTokens, state);
      if (refusal !== undefined) return { failure: refusal, dispatched: false };
      try {
        reservation = await settings.budget.reserve({
          model: name,
          inputTokens,
          maxOutputTokens: maxTokens,
          label: `router.${purpose}`,
          ...(state.scopes && { scopes: state.scopes }),
        });
      } catch (error) {
        if (BudgetExhaustedError.isInstance(error)) return { failure: `budget: ${error.message}`, dispatched: false };
        throw error;
      }
    }
    let reply: AIMessage;
    try {
      const model = planningCopy(member.model, maxTokens);
      reply = (await withTimeout(
        (signal) =>
          model.invoke(prompt, {
            ...(signal !== undefined && { signal }),
            ...(request.callbacks !== undefined && { callbacks: request.callbacks }),
            tags: ["nostream", `gavel:${purpose}`],
            runName: `gavel.${purpose}.${member.name}`,
            metadata: { gavel_purpose: purpose, gavel_member: member.name },
            maxTokens,
          } as Parameters<BaseChatModel["invoke"]>[1]),
        request.signal,
        settings.timeoutMs,
        () => new RouterCallTimeoutError(member.name, purpose, settings.timeoutMs ?? 0),
      )) as AIMessage;
    } catch (error) {
      if (reservation && settings.budget) await releaseQuietly(settings.budget, reservation);
      if (request.signal?.aborted) throw error;
      return { failure: describeError(error), dispatched: true };
    }
    // Settled outside the try: the provider answered (and bills the call), so it is never released.
    const charged = chargedCall(member, purpose, reply, prompt, name);
    state.calls.push(charged);
    // A store that stays unreachable leaves the reservation to its lease; the auction still records the call.
    if (reservation && settings.budget) await settleQuietly(settings.budget, reservation, charged.usage);
    return { reply };
  }

  /**
   * The model used for plans and jury calls, cached: `callCopy` of `src/models.ts` (a copy with
   * the output cap and, for clients that have a `logprobs` field such as ChatOpenAI,
   * `logprobs: true, topLogprobs`; the model itself when no copy can be built).
   */
  function planningCopy(model: BaseChatModel, maxTokens: number): BaseChatModel {
    let byCap = planningCopies.get(model);
    if (byCap === undefined) {
      byCap = new Map();
      planningCopies.set(model, byCap);
    }
    const cached = byCap.get(maxTokens);
    if (cached !== undefined) return cached;
    const copy = callCopy(model, { maxTokens, logprobs: true, topLogprobs: settings.topLogprobs });
    byCap.set(maxTokens, copy);
    return copy;
  }

  function answerCall(
    winner: ResolvedMember,
    reply: AIMessage,
    prompt: readonly BaseMessage[],
    toolTokens = 0,
  ): AuctionCall {
    const charged = chargedCall(winner, "answer", reply, prompt);
    if (toolTokens === 0 || charged.usage.estimated !== true) return charged;
    const usage = { ...charged.usage, inputTokens: charged.usage.inputTokens + toolTokens };
    return { ...charged, usage, usd: costUsd(winner.price, usage) };
  }

  return { call, answerCall };
}

/** Tokens and USD of `calls`, summed (the auction's overhead, or one answer). */
export function totalsOf(calls: readonly AuctionCall[]): { usage: UsageMetadata; usd: number } {
  let input = 0;
  let output = 0;
  let usd = 0;
  for (const call of calls) {
    input += call.usage.inputTokens;
    output += call.usage.outputTokens;
    usd += call.usd;
  }
  return { usage: { input_tokens: input, output_tokens: output, total_tokens: input + output }, usd };
}

/**
 * Run `task` with an AbortSignal that fires on the caller's signal or after `timeoutMs`, and
 * settle as soon as either fires even if the model ignores its signal. With neither, `task`
 * gets no signal and runs as it is.
 */
async function withTimeout<T>(
  task: (signal: AbortSignal | undefined) => Promise<T>,
  parent: AbortSignal | undefined,
  timeoutMs: number | undefined,
  timeoutError: () => Error,
): Promise<T> {
  // Nothing can abort the call: no controller, no timer, no race.
  if (timeoutMs === undefined && parent === undefined) return task(undefined);
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onParentAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onParentAbort = () => {
      controller.abort(parent?.reason);
      reject(parent?.reason ?? new Error("aborted"));
    };
    if (parent?.aborted) onParentAbort();
    else parent?.addEventListener("abort", onParentAbort, { once: true });
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        const error = timeoutError();
        controller.abort(error);
        reject(error);
      }, timeoutMs);
    }
  });
  aborted.catch(() => undefined);
  try {
    return await Promise.race([task(controller.signal), aborted]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    if (onParentAbort) parent?.removeEventListener("abort", onParentAbort);
  }
}
