/**
 * One agent call under the example's budget: reserve the upper bound (prompt tokens counted by the
 * model itself when it can — `countPromptTokens`, as local models do — else with js-tiktoken,
 * + the call's output cap), call the model (tagged `nostream`) with a deadline (`runWithDeadline`:
 * abandoned at `timeoutMs` even when the model ignores its abort signal), settle to the real
 * usage (`usage_metadata`, or a tokenizer count marked estimated) — or, when the call throws,
 * release the reservation (nothing charged) and report the agent dropped; when it was abandoned
 * (deadline or the caller's abort), charge what the provider bills (`billAbandonedCalls`) and
 * report the agent dropped.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { closeAbandoned, settleAbandoned } from "../budget/abandoned.js";
import type { Reservation, TokenBudget } from "../budget/budget.js";
import type { ScopeIds } from "../budget/options.js";
import { releaseQuietly, type SharedTokenBudget, settleQuietly } from "../budget/shared.js";
import { usageFromMessage } from "../budget/tokens.js";
import type { Usage } from "../budget/types.js";
import { BudgetExhaustedError, describeError } from "../errors.js";
import type { ChargeInput, LedgerScope } from "../ledger/types.js";
import { callCopy, modelName, promptTokensOf } from "../models.js";
import { DeadlineExceededError, runWithDeadline } from "../timeouts.js";
import type { DebateAgent } from "./options.js";
import type { DebateCallPurpose } from "./prompts.js";
import type { DebateDrop } from "./state.js";

/** A successful call. */
export interface CallSuccess {
  ok: true;
  reply: AIMessage;
  text: string;
  usage: Usage;
}

/** A call that was not made (budget) or failed (error). */
export interface CallFailure {
  ok: false;
  drop: DebateDrop;
}

/** What every call of one round shares. */
export interface CallContext {
  readonly budget: TokenBudget;
  /** The app's budget, when the debate shares one (`sharedBudget`), and the scopes it charges. */
  readonly shared?: { readonly budget: SharedTokenBudget; readonly scopes: ScopeIds | undefined };
  readonly charges: ChargeInput[];
  readonly scope: LedgerScope;
  readonly auctionId: string | undefined;
  readonly config: RunnableConfig | undefined;
  /** Deadline of each call, ms. */
  readonly timeoutMs: number;
  /** Charge an abandoned call at what the provider bills (true) or release it at zero (false). */
  readonly billAbandonedCalls: boolean;
  /** The capped (and, for logprob/entropy, log-probability asking) copy of a model. */
  readonly modelFor: (agent: DebateAgent, maxTokens: number) => BaseChatModel;
}

/** The reservation a call with `prompt` and output cap `maxTokens` needs. */
export async function reservationSize(
  agent: DebateAgent,
  prompt: readonly BaseMessage[],
  maxTokens: number,
): Promise<number> {
  return (await promptTokensOf(agent.model, prompt)) + maxTokens;
}

/** Makes one budgeted call. Never throws for a model failure or a refused reservation. */
export async function callAgent(
  context: CallContext,
  agent: DebateAgent,
  purpose: DebateCallPurpose,
  prompt: BaseMessage[],
  maxTokens: number,
): Promise<CallSuccess | CallFailure> {
  const model = modelName(agent.model);
  const inputTokens = await promptTokensOf(agent.model, prompt);
  const label = `debate.${purpose}`;
  const base = {
    model,
    agent: agent.name,
    scope: context.scope,
    label,
    ...(context.auctionId !== undefined && { auctionId: context.auctionId }),
  };
  let reservation: Reservation;
  let sharedReservation: Reservation | undefined;
  try {
    reservation = context.budget.reserve({ model, inputTokens, maxOutputTokens: maxTokens, label });
    try {
      sharedReservation = await context.shared?.budget.reserve({
        model,
        inputTokens,
        maxOutputTokens: maxTokens,
        label,
        ...(context.shared.scopes && { scopes: context.shared.scopes }),
      });
    } catch (error) {
      context.budget.release(reservation);
      throw error;
    }
  } catch (error) {
    if (!BudgetExhaustedError.isInstance(error)) throw error;
    context.charges.push({ ...base, kind: "refuse", inputTokens, outputTokens: maxTokens, usd: 0 });
    return { ok: false, drop: { agent: agent.name, stage: purpose, reason: "budget", detail: error.message } };
  }
  const charge = { ...base, reservationId: reservation.id };
  context.charges.push({ ...charge, kind: "reserve", inputTokens, outputTokens: maxTokens, usd: reservation.usd });
  let reply: AIMessage;
  /** The call, when it was abandoned (deadline or the caller's abort) while the provider generated it. */
  let abandoned: Promise<AIMessage> | undefined;
  try {
    const copy = context.modelFor(agent, maxTokens);
    const signal = context.config?.signal;
    reply = await runWithDeadline(
      (callSignal) =>
        copy.invoke(prompt, {
          ...context.config,
          signal: callSignal,
          tags: [...(context.config?.tags ?? []), "nostream", `gavel:debate.${purpose}`],
          runName: `gavel.debate.${purpose}.${agent.name}`,
          metadata: { ...context.config?.metadata, gavel_purpose: purpose, gavel_agent: agent.name },
          maxTokens,
        } as Parameters<BaseChatModel["invoke"]>[1]) as Promise<AIMessage>,
      {
        timeoutMs: context.timeoutMs,
        ...(signal !== undefined && { signal }),
        label: `Debate agent "${agent.name}" ${purpose}`,
        onAbandoned: (pending) => {
          abandoned = pending;
        },
      },
    );
  } catch (error) {
    if (abandoned !== undefined) {
      return dropAbandoned(
        context,
        { agent, purpose, prompt, model, reservation, sharedReservation, charge },
        error,
        abandoned,
      );
    }
    context.budget.release(reservation);
    if (sharedReservation && context.shared) await releaseQuietly(context.shared.budget, sharedReservation);
    context.charges.push({ ...charge, kind: "release", inputTokens, outputTokens: maxTokens, usd: reservation.usd });
    return { ok: false, drop: { agent: agent.name, stage: purpose, reason: "error", detail: describeError(error) } };
  }
  const usage = usageFromMessage(reply, prompt, model);
  const settlement = context.budget.settle(reservation, usage);
  if (sharedReservation && context.shared) await settleQuietly(context.shared.budget, sharedReservation, usage);
  context.charges.push({
    ...charge,
    kind: "settle",
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    usd: settlement.usd,
    estimated: settlement.estimated,
    ...(settlement.overrun && { metadata: { overrun: true } }),
  });
  return { ok: true, reply, text: reply.text, usage };
}

/** What {@link dropAbandoned} needs of the call it closes. */
interface AbandonedCall {
  agent: DebateAgent;
  purpose: DebateCallPurpose;
  prompt: readonly BaseMessage[];
  model: string;
  reservation: Reservation;
  sharedReservation: Reservation | undefined;
  /** The fields every charge of this call shares. */
  charge: Omit<ChargeInput, "kind" | "inputTokens" | "outputTokens" | "usd">;
}

/**
 * Close a call abandoned at its deadline (or on the caller's abort) and report the agent dropped.
 * The provider still generates a non-streamed reply to the end and bills it, so with
 * `billAbandonedCalls` the round's budget is charged the whole reservation at once (prompt +
 * output cap, marked estimated: the round's spend must be known when the round ends), and the
 * shared budget is charged the late reply's usage when it arrives within the grace period, else
 * the whole reservation (`closeAbandoned`, not awaited: its reservation holds its room until
 * then). Without it both are released at zero.
 */
async function dropAbandoned(
  context: CallContext,
  call: AbandonedCall,
  error: unknown,
  pending: Promise<AIMessage>,
): Promise<CallFailure> {
  const { agent, purpose, prompt, model, reservation, sharedReservation, charge } = call;
  const bill = context.billAbandonedCalls;
  // No late usage is awaited here: the round's spend must be known when the round ends.
  const settlement = bill ? await settleAbandoned(context.budget, reservation) : undefined;
  if (settlement === undefined) {
    context.budget.release(reservation);
    context.charges.push({
      ...charge,
      kind: "release",
      inputTokens: reservation.inputTokens ?? 0,
      outputTokens: reservation.maxOutputTokens ?? 0,
      usd: reservation.usd,
    });
  } else {
    context.charges.push({
      ...charge,
      kind: "settle",
      inputTokens: settlement.usage.inputTokens,
      outputTokens: settlement.usage.outputTokens,
      usd: settlement.usd,
      estimated: true,
      metadata: { abandoned: true },
    });
  }
  if (sharedReservation && context.shared) {
    void closeAbandoned(context.shared.budget, sharedReservation, {
      bill,
      late: pending.then((late) => usageFromMessage(late, prompt as BaseMessage[], model)),
    });
  } else {
    pending.catch(() => undefined);
  }
  const reason = DeadlineExceededError.isInstance(error) ? "timeout" : "error";
  return { ok: false, drop: { agent: agent.name, stage: purpose, reason, detail: describeError(error) } };
}

/**
 * Builds the per-graph cache of model copies, by agent and output cap: `callCopy` of
 * `src/models.ts` (the agent's model rebuilt with `maxTokens` and, for the `logprob` and
 * `entropy` estimators, log-probabilities asked of clients that can return them; the model
 * itself when no copy can be built, the cap is still passed as a call option).
 */
export function createModelCopies({
  logprobs,
  topLogprobs,
}: {
  logprobs: boolean;
  topLogprobs: number;
}): (agent: DebateAgent, maxTokens: number) => BaseChatModel {
  const copies = new Map<string, BaseChatModel>();
  return function modelFor(agent: DebateAgent, maxTokens: number): BaseChatModel {
    const key = `${agent.name}:${maxTokens}`;
    const cached = copies.get(key);
    if (cached) return cached;
    const copy = callCopy(agent.model, { maxTokens, logprobs, topLogprobs });
    copies.set(key, copy);
    return copy;
  };
}
