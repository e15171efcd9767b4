/**
 * The fast paths of `createGavelApp`: calls that skip LangChain and go to a member's
 * OpenAI-compatible `upstream` with one HTTP call (`upstream.ts`).
 *
 * - `gavel/auto` ({@link FastPaths.routedUpstream}): with router options (not a factory) in
 *   `memory` or `auto` mode and every member on an upstream, a non-streamed request without `tools`
 *   or `response_format` is decided by the router's own auction engine (the same decision,
 *   reservations, deadline and fallback as `AuctionRouter`), the winner answers with one HTTP call,
 *   and the auction's ledger and memory writes run after the response is sent (`drain` waits).
 * - a pinned member ({@link FastPaths.pinnedUpstream}): a non-streamed request's validated body goes
 *   to the provider as it is, and the provider's completion comes back as it is.
 *
 * Read top to bottom: `createFastPaths` → the routed answer → the winner's call → the pinned call.
 */
import type { BindToolsInput } from "@langchain/core/language_models/chat_models";
import type { AIMessage, BaseMessage } from "@langchain/core/messages";
import { closeAbandoned } from "../../src/budget/abandoned.js";
import type { Reservation, ScopeIds, Usage } from "../../src/budget/index.js";
import { countMessageTokens, countOutputTokens, countToolTokens } from "../../src/budget/index.js";
import { releaseQuietly, settleQuietly } from "../../src/budget/shared.js";
import { describeError } from "../../src/errors.js";
import { declaredOutputCap, modelName } from "../../src/models.js";
import {
  type AuctionCall,
  type AuctionRun,
  recordAbandonedCharge,
  type StrategyAuctionEngine,
  totalsOf,
  withCalls,
  withFallbackAnswer,
} from "../../src/router/auction/index.js";
import type { ResolvedMember } from "../../src/router/options.js";
import { withPlan } from "../../src/router/router.js";
import { runWithDeadline } from "../../src/timeouts.js";
import {
  AUCTION_ID_HEADER,
  type ChatRequestState,
  completionUsage,
  DEFAULT_PINNED_MAX_TOKENS,
  type Gateway,
  nowSeconds,
  WINNER_HEADER,
} from "./gateway.js";
import { type ChatCompletionRequest, completionId, textOf, toChatCompletion } from "./openai.js";
import type { ServerMember, ServerUpstream } from "./types.js";
import { answeredAs, callMember, replyMessage, replyOf, reportedUsage, type UpstreamCompletion } from "./upstream.js";

/** The fast paths of one app: `routedUpstream` (`gavel/auto`) and `pinnedUpstream` (a pinned member). */
export type FastPaths = ReturnType<typeof createFastPaths>;

/**
 * The fast paths over `gateway`'s members, books and settlements.
 *
 * @example
 * ```ts
 * const { routedUpstream } = createFastPaths(gateway);
 * return routedUpstream(state, request, messages, gateway.engineFor(state.key), scopes);
 * ```
 */
export function createFastPaths(gateway: Gateway) {
  const {
    byName,
    names,
    budgets,
    logPrompts,
    billAbandonedCalls,
    fastOutcomes,
    owners,
    reservedPromptTokens,
    trackSettlement,
    complete,
    pinnedAccount,
    callAndSettle,
  } = gateway;

  /**
   * The fast path of `gavel/auto` (non-streamed, no tools, no response_format; memory or auto mode,
   * every member on an upstream): `engine.run` decides as the router would (memory bids; auto's
   * escalation or plan auction when unsure), then the winner answers as in the router — reserved
   * at its prompt and output cap, under `answerTimeoutMs` and the request's signal, the fallback
   * answering when it fails — but with one HTTP call of the request's messages (a plan auction's
   * winner, whose prompt carries its plan, through its LangChain model). The provider's completion
   * goes back as it is (`model`: the winner). The auction's ledger and memory writes
   * (`engine.record`) run after the response is sent; `drain` waits for them.
   */
  async function routedUpstream(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    messages: BaseMessage[],
    engine: StrategyAuctionEngine,
    scopes: ScopeIds | undefined,
  ): Promise<Response> {
    const { settings } = engine;
    const signal = state.controller.signal;
    let run = await engine.run({ messages, signal, ...(scopes !== undefined && { scopes }) });
    let answer: { call: AuctionCall; reply: AIMessage; completion?: UpstreamCompletion };
    if (run.answered !== undefined) {
      // An escalation rung's answer is final: no other call.
      answer = { call: run.answered.call, reply: run.answered.reply };
    } else {
      for (;;) {
        const attempt = await answerRouted(run, request, messages, engine, signal);
        if ("call" in attempt) {
          answer = attempt;
          break;
        }
        const { error } = attempt;
        if (signal.aborted || run.winner === settings.fallback) {
          trackSettlement(engine.record(withCalls(run, undefined), undefined));
          throw error;
        }
        run = withFallbackAnswer(
          run,
          settings.fallback,
          `the winner "${run.winner.name}" failed to answer: ${describeError(error)}`,
        );
      }
    }
    const { call, reply, completion } = answer;
    const recorded = withCalls(run, call);
    const { auctionId } = recorded.record;
    const winner = call.member;
    const text = completion === undefined ? textOf(reply.content) : (completion.choices[0]?.message?.content ?? "");
    // After the response: the ledger and memory writes (never thrown: the engine reports failures),
    // from the next turn of the event loop, so the response's bytes are written before their work.
    const written = new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
      engine.record(recorded, call, text),
    );
    trackSettlement(written);
    owners?.remember(auctionId, state.key);
    fastOutcomes.remember(auctionId, {
      final: winner,
      members: recorded.record.calls ?? [winner],
      written: written.catch(() => undefined),
    });
    const overhead = totalsOf(run.calls);
    const usage = completionUsage(call.usage);
    Object.assign(state.observation, {
      member: winner,
      inputTokens: usage.prompt_tokens,
      outputTokens: usage.completion_tokens,
      usd: call.usd + overhead.usd,
    });
    state.log.auctionId = auctionId;
    if (logPrompts) state.log.answer = text;
    const headers = { "content-type": "application/json", [WINNER_HEADER]: winner, [AUCTION_ID_HEADER]: auctionId };
    const body =
      completion === undefined
        ? toChatCompletion(reply, { id: completionId(), model: winner, created: nowSeconds(), usage })
        : answeredAs(completion, winner, usage);
    complete(state, 200);
    return new Response(JSON.stringify(body), { headers });
  }

  /**
   * One answer of `run.winner` on the fast path: reserved (its prompt, its output cap), called under
   * `answerTimeoutMs` and `signal`, settled at its usage; on failure the reservation is released — or,
   * when the call was abandoned (deadline, the client's abort), settled at what the provider bills
   * and charged in the ledger — and the error is returned for the fallback decision.
   */
  async function answerRouted(
    run: AuctionRun,
    request: ChatCompletionRequest,
    messages: BaseMessage[],
    engine: StrategyAuctionEngine,
    signal: AbortSignal,
  ): Promise<{ call: AuctionCall; reply: AIMessage; completion?: UpstreamCompletion } | { error: unknown }> {
    const { settings } = engine;
    const { budget } = settings;
    const winner: ResolvedMember = run.winner;
    const member = byName.get(winner.name);
    const upstream = run.plan === "" ? member?.upstream : undefined;
    const prompt = run.plan === "" ? messages : withPlan(messages, run.plan);
    const name = names.get(winner.name) ?? modelName(winner.model);
    const maxOutputTokens = declaredOutputCap(winner.model) ?? settings.executionMaxTokens;
    let reservation: Reservation | undefined;
    let abandoned: Promise<{ reply: AIMessage; completion?: UpstreamCompletion }> | undefined;
    try {
      if (budget !== undefined) {
        reservation = await budget.reserve({
          model: name,
          inputTokens: await reservedPromptTokens(winner.model, prompt),
          maxOutputTokens,
          label: "router.answer",
          ...(run.scopes !== undefined && { scopes: run.scopes }),
        });
      }
      const got = await runWithDeadline(
        async (callSignal): Promise<{ reply: AIMessage; completion?: UpstreamCompletion }> => {
          if (upstream === undefined) {
            return { reply: (await winner.model.invoke(prompt, { signal: callSignal })) as AIMessage };
          }
          const body: Record<string, unknown> = {
            model: upstream.model,
            messages: request.messages,
            max_tokens: upstream.maxTokens ?? maxOutputTokens,
            ...(upstream.temperature !== undefined && { temperature: upstream.temperature }),
          };
          const completion = await callMember(upstream, JSON.stringify(body), callSignal, winner.name);
          return { reply: replyMessage(completion), completion };
        },
        {
          timeoutMs: settings.answerTimeoutMs,
          label: `Pool member "${winner.name}" answer`,
          signal,
          onAbandoned: (pending) => {
            abandoned = pending;
          },
        },
      );
      const call = engine.answerCall(winner, got.reply, prompt);
      if (reservation !== undefined && budget !== undefined) await settleQuietly(budget, reservation, call.usage);
      return { call, ...got };
    } catch (error) {
      if (reservation !== undefined && budget !== undefined) {
        const pending = abandoned as typeof abandoned; // assigned in onAbandoned
        if (pending === undefined) await releaseQuietly(budget, reservation);
        else {
          const { auctionId } = run.record;
          const charged = { auctionId, member: winner.name, purpose: "answer" as const, scopes: run.scopes };
          trackSettlement(
            closeAbandoned(budget, reservation, {
              bill: settings.billAbandonedCalls,
              late: pending.then(
                (late) => engine.answerCall(winner, late.reply, prompt).usage,
                () => undefined,
              ),
            }).then((settlement) => recordAbandonedCharge(settings, charged, settlement)),
          );
        }
      }
      return { error };
    }
  }

  /**
   * The fast path of a pinned non-streamed call to a member with an OpenAI-compatible `upstream`:
   * the validated body goes to `${baseURL}/chat/completions` as it is (the member's model, the
   * output cap at most the member's, the member's key), and the provider's `chat.completion` comes
   * back as it is (`model`: the member's name). Reserved, settled, charged and counted as
   * the LangChain path does, without building LangChain messages of the reply. Provider errors: 4xx
   * pass through with the provider's body, except 401/403 (the key is the gateway's) → 502; 5xx and
   * a failed connection → 502; the member's `timeoutMs` → 504.
   */
  async function pinnedUpstream(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    messages: BaseMessage[],
    member: ServerMember,
    upstream: ServerUpstream,
    scopes: ScopeIds | undefined,
  ): Promise<Response> {
    const name = names.get(member.name) ?? member.name;
    const cap = upstream.maxTokens;
    const requested = request.max_completion_tokens ?? request.max_tokens ?? undefined;
    const outputCap = requested !== undefined && (cap === undefined || requested < cap) ? requested : cap;
    const body: Record<string, unknown> = { ...request, model: upstream.model };
    if (cap !== undefined) {
      if (typeof request.max_completion_tokens === "number") {
        body.max_completion_tokens = Math.min(request.max_completion_tokens, cap);
      }
      if (typeof request.max_tokens === "number") body.max_tokens = Math.min(request.max_tokens, cap);
    }
    // The reserved cap always goes upstream: a provider never generates more than was reserved.
    if (requested === undefined) body.max_tokens = outputCap ?? DEFAULT_PINNED_MAX_TOKENS;
    // Never forwarded: `store`/`metadata` would keep the completion on the operator's account.
    delete body.store;
    delete body.metadata;
    delete body.stream_options;
    if (typeof request.temperature !== "number" && upstream.temperature !== undefined) {
      body.temperature = upstream.temperature;
    }
    const budget = budgets?.budgetFor(state.key);
    let reservation: Reservation | undefined;
    let promptTokens: number | undefined;
    if (budget !== undefined) {
      // Counted once per request: the reservation's count is also the estimate when no usage comes back.
      const tools = (request.tools ?? []) as BindToolsInput[];
      promptTokens = (await reservedPromptTokens(member.model, messages)) + countToolTokens(tools, name);
      reservation = await budget.reserve({
        model: name,
        inputTokens: promptTokens,
        maxOutputTokens: outputCap ?? DEFAULT_PINNED_MAX_TOKENS,
        label: "server.answer",
        ...(scopes !== undefined && { scopes }),
      });
    }
    const usageOfCompletion = (completion: UpstreamCompletion): Usage => {
      const reported = reportedUsage(completion);
      const counted = () => countOutputTokens(replyOf(completion), name);
      if (reported !== undefined) {
        const allZero = reported.prompt_tokens === 0 && reported.completion_tokens === 0;
        if (!allZero || counted() === 0) {
          return { inputTokens: reported.prompt_tokens, outputTokens: reported.completion_tokens, estimated: false };
        }
      }
      return {
        inputTokens: promptTokens ?? countMessageTokens(messages, name),
        outputTokens: counted(),
        estimated: true,
      };
    };
    const account = pinnedAccount(state, member, scopes, reservation);
    const payload = JSON.stringify(body);
    const { result: completion, usage } = await callAndSettle(
      state,
      member,
      { budget, reservation, bill: billAbandonedCalls(member), account },
      // On `hardStop` (and the member's timeout): a client that leaves stops the wait, not the call.
      () => callMember(upstream, payload, state.hardStop.signal, member.name),
      usageOfCompletion,
    );
    if (logPrompts) state.log.answer = completion.choices[0]?.message?.content ?? "";
    const answer = answeredAs(completion, member.name, completionUsage(usage));
    complete(state, 200);
    return new Response(JSON.stringify(answer), {
      headers: { "content-type": "application/json", [WINNER_HEADER]: member.name },
    });
  }

  return { routedUpstream, pinnedUpstream };
}
