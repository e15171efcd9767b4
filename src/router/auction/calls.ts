/**
 * The auction's model calls and what they are charged: every internal call (plan, jury, refine)
 * checks the answer's reserve, reserves, runs with a deadline (`runWithDeadline`: a model that
 * ignores its signal is abandoned all the same) and settles, releases (the model failed) or
 * settles as abandoned (dropped by the timeout or the caller's abort: `settleAbandoned`); the
 * winner's answer is charged the same way by the router or the middleware (`answerCall`).
 *
 * Read top to bottom: the calls factory (charging, one call, the planning copies), then the totals.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessage, BaseMessage, UsageMetadata } from "@langchain/core/messages";
import { closeAbandoned } from "../../budget/abandoned.js";
import { costUsd, countToolTokens, type Reservation, type Usage, usageFromMessage } from "../../budget/index.js";
import { releaseQuietly, settleQuietly } from "../../budget/shared.js";
import { BudgetExhaustedError, describeError } from "../../errors.js";
import { callCopy, countsOwnPrompt, declaredOutputCap, promptTokensOf } from "../../models.js";
import { DeadlineExceededError, runWithDeadline } from "../../timeouts.js";
import type { BudgetScreen } from "../budget-screen.js";
import { RouterCallTimeoutError } from "../errors.js";
import type { ResolvedMember } from "../options.js";
import { recordAbandonedCharge } from "./persistence.js";
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
  /**
   * An answer bought during the auction (an escalation rung): the request's conversation, no plan, the
   * call's tools bound; refused when it would eat the room `state.floor` keeps (the top member's
   * answer); reserved at its prompt and output cap, `answerTimeoutMs` deadline, settled (purpose
   * `"escalation"`) — or released / settled as abandoned when it fails. Not pushed on `state.calls`.
   */
  answer(
    member: ResolvedMember,
    state: AuctionState,
  ): Promise<{ reply: AIMessage; call: AuctionCall } | { failure: string }>;
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

  /**
   * Reserve room (label `router.<purpose>`) for one call of `member` whose prompt counts
   * `inputTokens`: the screen's refusal or the budget's exhaustion comes back as `{ refused }`.
   */
  async function reserveCall(
    budget: NonNullable<typeof settings.budget>,
    member: ResolvedMember,
    purpose: Exclude<CallPurpose, "answer">,
    inputTokens: number | Promise<number>,
    maxTokens: number,
    state: AuctionState,
  ): Promise<{ reservation: Reservation } | { refused: string }> {
    const tokens = typeof inputTokens === "number" ? inputTokens : await inputTokens;
    const refusal = await screen.callRefusal(member, tokens, maxTokens, state);
    if (refusal !== undefined) return { refused: refusal };
    try {
      const reservation = await budget.reserve({
        model: nameOf(member),
        inputTokens: tokens,
        maxOutputTokens: maxTokens,
        label: `router.${purpose}`,
        ...(state.scopes && { scopes: state.scopes }),
      });
      return { reservation };
    } catch (error) {
      if (BudgetExhaustedError.isInstance(error)) return { refused: `budget: ${error.message}` };
      throw error;
    }
  }

  /**
   * Run the call `start` builds under `deadline` (and the request's abort signal) with `reservation` held. When it
   * fails the reservation is released, or, when the call was abandoned while the provider generated
   * it, closed as abandoned (the late reply's usage by `lateUsage`, else the whole reservation) and
   * that charge recorded. Rethrows when the caller aborted; otherwise the error comes back as `{ error }`.
   * Settling a reply is the caller's (it charges it).
   */
  async function runReserved(
    member: ResolvedMember,
    purpose: Exclude<CallPurpose, "answer">,
    state: AuctionState,
    reservation: Reservation | undefined,
    start: () => (signal: AbortSignal) => Promise<AIMessage>,
    deadline: { timeoutMs?: number; label?: string },
    lateUsage: (late: AIMessage) => Usage,
  ): Promise<{ reply: AIMessage } | { error: unknown }> {
    const { request } = state;
    /** The call, when it was abandoned (timeout or the caller's abort) while the provider generated it. */
    let abandoned: Promise<AIMessage> | undefined;
    try {
      const reply = await runWithDeadline(start(), {
        ...deadline,
        ...(request.signal !== undefined && { signal: request.signal }),
        onAbandoned: (pending) => {
          abandoned = pending;
        },
      });
      return { reply };
    } catch (error) {
      if (reservation && settings.budget) {
        if (abandoned === undefined) await releaseQuietly(settings.budget, reservation);
        else {
          // The provider bills what it generated: charge the reply if it still comes (not awaited: the
          // reservation keeps holding its room until then), else the whole reservation.
          void closeAbandoned(settings.budget, reservation, {
            bill: settings.billAbandonedCalls,
            late: abandoned.then(lateUsage),
          }).then((settlement) =>
            recordAbandonedCharge(
              settings,
              { auctionId: state.auctionId, member: member.name, purpose, scopes: state.scopes },
              settlement,
            ),
          );
        }
      }
      if (request.signal?.aborted) throw error;
      return { error };
    }
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
        ? promptTokensOf(member.model, prompt)
        : screen.promptTokens(prompt, name);
      const reserved = await reserveCall(settings.budget, member, purpose, inputTokens, maxTokens, state);
      if ("refused" in reserved) return { failure: reserved.refused, dispatched: false };
      ({ reservation } = reserved);
    }
    const result = await runReserved(
      member,
      purpose,
      state,
      reservation,
      () => {
        const model = planningCopy(member.model, maxTokens);
        return (signal) =>
          model.invoke(prompt, {
            signal,
            ...(request.callbacks !== undefined && { callbacks: request.callbacks }),
            tags: ["nostream", `gavel:${purpose}`],
            runName: `gavel.${purpose}.${member.name}`,
            metadata: { gavel_purpose: purpose, gavel_member: member.name },
            maxTokens,
          } as Parameters<BaseChatModel["invoke"]>[1]) as Promise<AIMessage>;
      },
      settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {},
      (late) => usageFromMessage(late, prompt, name),
    );
    if ("error" in result) {
      const failure = DeadlineExceededError.isInstance(result.error)
        ? new RouterCallTimeoutError(member.name, purpose, result.error.timeoutMs)
        : result.error;
      return { failure: describeError(failure), dispatched: true };
    }
    // Settled outside the deadline: the provider answered (and bills the call), so it is never released.
    const charged = chargedCall(member, purpose, result.reply, prompt, name);
    state.calls.push(charged);
    // A store that stays unreachable leaves the reservation to its lease; the auction still records the call.
    if (reservation && settings.budget) await settleQuietly(settings.budget, reservation, charged.usage);
    return { reply: result.reply };
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

  async function answer(
    member: ResolvedMember,
    state: AuctionState,
  ): Promise<{ reply: AIMessage; call: AuctionCall } | { failure: string }> {
    const { request } = state;
    const name = nameOf(member);
    const prompt = [...request.messages];
    const tools = request.tools ?? [];
    const toolTokens = countToolTokens(tools, name);
    let reservation: Reservation | undefined;
    if (settings.budget) {
      const inputTokens = (await promptTokensOf(member.model, prompt)) + toolTokens;
      const maxTokens = declaredOutputCap(member.model) ?? settings.executionMaxTokens;
      const reserved = await reserveCall(settings.budget, member, "escalation", inputTokens, maxTokens, state);
      if ("refused" in reserved) return { failure: reserved.refused };
      ({ reservation } = reserved);
    }
    const result = await runReserved(
      member,
      "escalation",
      state,
      reservation,
      () => {
        const model = request.answerModel?.(member) ?? member.model;
        return (signal) =>
          model.invoke(prompt, {
            signal,
            ...(request.callbacks !== undefined && { callbacks: request.callbacks }),
            tags: ["nostream", "gavel:escalation"],
            runName: `gavel.escalation.${member.name}`,
            metadata: { gavel_purpose: "escalation", gavel_member: member.name },
          }) as Promise<AIMessage>;
      },
      { timeoutMs: settings.answerTimeoutMs, label: `Pool member "${member.name}" answer` },
      (late) => answerCall(member, late, prompt, toolTokens).usage,
    );
    if ("error" in result) return { failure: describeError(result.error) };
    const charged = { ...answerCall(member, result.reply, prompt, toolTokens), purpose: "escalation" as const };
    if (reservation && settings.budget) await settleQuietly(settings.budget, reservation, charged.usage);
    return { reply: result.reply, call: charged };
  }

  return { call, answerCall, answer };
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
