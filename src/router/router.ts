/**
 * `AuctionRouter`: a pool of chat models as one LangChain chat model. Per request the pool holds
 * an auction (see `auction/engine.ts`) — a SALE plan auction, memory bids, or auto's escalation —
 * and the winner answers (conditioned on its plan in a plan auction).
 */
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { CallbackManager, type CallbackManagerForLLMRun } from "@langchain/core/callbacks/manager";
import {
  BaseChatModel,
  type BaseChatModelCallOptions,
  type BindToolsInput,
} from "@langchain/core/language_models/chat_models";
import {
  AIMessage,
  AIMessageChunk,
  type BaseMessage,
  HumanMessage,
  type UsageMetadata,
} from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { ChatGenerationChunk } from "@langchain/core/outputs";
import type { Runnable, RunnableConfig } from "@langchain/core/runnables";
import { closeAbandoned, type SettleAbandonedOptions } from "../budget/abandoned.js";
import { countToolTokens, type Reservation, type ScopeIds } from "../budget/index.js";
import { releaseQuietly, settleQuietly } from "../budget/shared.js";
import { BudgetExhaustedError, describeError, parseConfig } from "../errors.js";
import { declaredOutputCap, modelName, promptTokensOf } from "../models.js";
import { runWithDeadline } from "../timeouts.js";
import {
  type AuctionCall,
  type AuctionRun,
  type BoughtAnswer,
  createStrategyAuctionEngine,
  type RouterAuctionRecord,
  recordAbandonedCharge,
  type StrategyAuctionEngine,
  totalsOf,
  withCalls,
  withFallbackAnswer,
} from "./auction/index.js";
import { AuctionRouterError } from "./errors.js";
import {
  type AuctionRouterOptions,
  auctionRouterOptionsSchema,
  type ResolvedMember,
  resolveSettings,
  scopesOfCall,
} from "./options.js";
import { type CalledMembers, RoutedOutcomes, type RouterOutcome } from "./outcomes.js";
import { executionPlanText } from "./prompts.js";

/** Call options of the router: the tools (and tool choice) bound for the winner, and the budget scopes. */
export interface AuctionRouterCallOptions extends BaseChatModelCallOptions {
  tools?: BindToolsInput[];
  /**
   * Budget scopes this call's auction and answer are charged to (budget accounts, ledger
   * charges), over `configurable.budgetScopes`, `configurable.thread_id`, `runId` and the
   * `budgetScopes` option, field by field (see docs/router.md, "Budgets").
   */
  budgetScopes?: ScopeIds;
}

/** Token usage of a routed answer, split (`response_metadata.gavel.usage`). */
export interface RouterUsage {
  /** The winner's answer. */
  execution: UsageMetadata;
  /** Plans, jury and refinement calls together, and the escalation answers that were not final. */
  auction: UsageMetadata;
  /** `auction.total_tokens / (auction + execution).total_tokens`. */
  auctionShare: number;
  /** USD of the answer and of the auction. */
  usd: { execution: number; auction: number };
  /** True when any part was counted with a tokenizer instead of reported by a provider. */
  estimated: boolean;
}

/** What the router adds to `response_metadata.gavel`. */
export interface RouterMetadata {
  auction: RouterAuctionRecord;
  usage: RouterUsage;
}

/** A streamed answer not settled yet: what it was asked with, what holds its room, what came. */
interface OpenStream {
  execution: { prompt: BaseMessage[]; tools: BindToolsInput[] };
  reservation?: Reservation;
  gathered?: AIMessageChunk;
}

/** The streamed chunks of an answer merged into one message (empty when nothing came). */
function answerOf(gathered: AIMessageChunk | undefined): AIMessage {
  return new AIMessage({
    content: gathered?.content ?? "",
    tool_calls: gathered?.tool_calls ?? [],
    ...(gathered?.usage_metadata && { usage_metadata: gathered.usage_metadata }),
  });
}

/**
 * A pool of chat models that routes each request by auction. Three bidding modes (`mode`):
 * - `"plans"` (the default without a memory and an embedder): SALE — every member bids with a short
 *   plan, plans are scored `V − C` (entropy, jury, plan cost), cheaper members may refine their bid
 *   from the strategy memory, and the winner answers conditioned on its plan;
 * - `"memory"`: each member bids the value its nearest past outcomes in `memory` predict for this
 *   request minus `lambda` × its normalised expected cost; no model call before the winner answers;
 * - `"auto"` (the default with `memory` and `embeddings`): memory bids when the memory is confident
 *   or when its winner is the cheapest member, else an escalation (the cheapest members first; two
 *   agreeing answers stop the climb; else the best bid of the rest answers) or a plan auction
 *   (`memoryBids.unsure`).
 * Every decision records its `path`, `reason` and the members `calls`ed
 * (`response_metadata.gavel.auction`); {@link AuctionRouter.recordOutcome} feeds graded answers back.
 * Use it anywhere a chat model goes: `invoke`, `stream` (only the final answer streams), `batch`,
 * `bindTools`, `withStructuredOutput`, `createAgent({ model: router })`.
 *
 * @example
 * ```ts
 * import { ChatOpenAI } from "@langchain/openai";
 * import { AuctionRouter } from "langchain-gavel";
 *
 * const router = new AuctionRouter({
 *   pool: [
 *     { name: "mini", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *     { name: "large", model: new ChatOpenAI({ model: "gpt-4o" }) },
 *   ],
 * });
 * const answer = await router.invoke("Sum the even numbers below 100.");
 * console.log(answer.response_metadata.gavel.auction.winner, answer.usage_metadata);
 * ```
 *
 * @example Memory bids that learn from feedback (auto mode)
 * ```ts
 * import { OpenAIEmbeddings } from "@langchain/openai";
 * import { AuctionRouter, createInMemoryStrategyMemory } from "langchain-gavel";
 *
 * const embeddings = new OpenAIEmbeddings();
 * const router = new AuctionRouter({ pool, memory: createInMemoryStrategyMemory({ embeddings }), embeddings });
 * const answer = await router.invoke("Which gas do plants absorb? A) O2 B) CO2");
 * const { auctionId, path, reason, calls } = answer.response_metadata.gavel.auction;
 * // cold: path "escalation", reason "evidence 0.0 < 4: cold; escalation: agreed: B = B (…)"
 * for (const member of calls) await router.recordOutcome(auctionId, { member, correct: verify(member) });
 * ```
 */
export class AuctionRouter extends BaseChatModel<AuctionRouterCallOptions, AIMessageChunk> {
  static override lc_name(): string {
    return "AuctionRouter";
  }

  readonly #engine: StrategyAuctionEngine;
  /** The last 10,000 auctions' members (who answered, whose answers were bought) and the answers graded. */
  readonly #outcomes = new RoutedOutcomes();

  /**
   * @param options the pool and the auction settings; see docs/router.md.
   * @throws ConfigError naming the field (duplicate member name, member without a price,
   *   unknown juror or fallback name, unknown option; `mode: "memory" | "auto"` without `memory`
   *   or `embeddings`, `lambda < 0`, `memoryBids.explorationRate` outside [0, 1], an unknown member
   *   in `memoryBids.priors`).
   */
  constructor(options: AuctionRouterOptions) {
    super({});
    const parsed = parseConfig("AuctionRouter options", auctionRouterOptionsSchema, options);
    this.#engine = createStrategyAuctionEngine(resolveSettings(parsed));
  }

  /** The pool members, prices resolved, in the order given. */
  get pool(): readonly ResolvedMember[] {
    return this.#engine.settings.pool;
  }

  _llmType(): string {
    return "gavel-auction-router";
  }

  override getLsParams(options: this["ParsedCallOptions"]) {
    return {
      ls_provider: "gavel",
      ls_model_name: "auction-router",
      ls_model_type: "chat" as const,
      ls_stop: options?.stop,
    };
  }

  /** Bind tools for the winner's answer (plans and jury calls never get tools). */
  override bindTools(
    tools: BindToolsInput[],
    kwargs?: Partial<AuctionRouterCallOptions>,
  ): Runnable<Parameters<BaseChatModel["invoke"]>[0], AIMessageChunk, AuctionRouterCallOptions> {
    return this.withConfig({ ...kwargs, tools } as Partial<AuctionRouterCallOptions>);
  }

  /**
   * Record the graded outcome of a routed answer (a verifier callback or a benchmark label) — bandit
   * feedback: only a member whose answer was bought in that auction can be scored, once.
   *
   * - `member` defaults to the member whose answer was final; it must be one the auction called
   *   (`response_metadata.gavel.auction.calls`: an escalation calls several).
   * - The ledger gets the outcome when `member` is the final one (the ledger grades an auction's answer).
   * - The memory gets `score` (else 1/0 from `correct`) as the outcome of entry `auctionId:member`.
   *
   * @returns true when the memory entry was updated; false when the router has no memory, the outcome
   *   has neither `score` nor `correct`, or the entry is gone (evicted).
   * @throws RouterOutcomeError — `"unknown_auction"` (neither among the last 10,000 auctions of this
   *   router nor in its ledger), `"member_not_called"`, `"already_scored"` (never a silent double count).
   * @example
   * ```ts
   * const answer = await router.invoke("What is 17 * 23?");
   * const { auctionId, calls } = answer.response_metadata.gavel.auction;
   * await router.recordOutcome(auctionId, { correct: answer.text.includes("391") }); // the final answer
   * for (const member of calls) if (member !== winner) await router.recordOutcome(auctionId, { member, correct: false });
   * ```
   */
  async recordOutcome(auctionId: string, outcome: RouterOutcome): Promise<boolean> {
    return this.#outcomes.record(auctionId, outcome, this.#engine.settings, (id) => this.#storedCalls(id));
  }

  /** Who answered in `auctionId`, from the ledger's record of it (an auction this router forgot, or another's). */
  async #storedCalls(auctionId: string): Promise<CalledMembers | undefined> {
    const { ledger } = this.#engine.settings;
    const stored = ledger?.getAuction ? await ledger.getAuction(auctionId) : undefined;
    if (stored === undefined) return undefined;
    const metadata = stored.metadata ?? {};
    const final = typeof metadata.winner === "string" ? metadata.winner : stored.winners[0];
    const calls = Array.isArray(metadata.calls) ? metadata.calls.filter((item) => typeof item === "string") : [];
    return { final, members: calls.length > 0 ? calls : final === undefined ? [] : [final] };
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const auction = await this.#auction(messages, options, runManager);
    // An escalation that stopped on a rung already bought the final answer: no other call.
    const { run, reply, call } =
      auction.answered === undefined
        ? await this.#answer(auction, messages, options, runManager)
        : { run: auction, reply: auction.answered.reply, call: auction.answered.call };
    const gavel = await this.#finish(run, call, reply.text);
    // An AIMessageChunk, the output type of this model (the base `withStructuredOutput` parser requires it).
    const message = new AIMessageChunk({
      content: reply.content,
      tool_calls: reply.tool_calls ?? [],
      additional_kwargs: reply.additional_kwargs,
      ...(reply.id !== undefined && { id: reply.id }),
      usage_metadata: sumUsage(gavel.usage.execution, gavel.usage.auction),
      response_metadata: { ...reply.response_metadata, gavel },
    });
    return { generations: [{ text: message.text, message }] };
  }

  /**
   * The winner's answer (not streamed): reserved, with its deadline, settled; when it fails before
   * it came back, the fallback answers instead (see {@link #afterFailedAnswer}).
   */
  async #answer(
    auction: AuctionRun,
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<{ run: AuctionRun; reply: AIMessage; call: AuctionCall }> {
    let run = auction;
    const errors: unknown[] = [];
    for (;;) {
      let reservation: Reservation | undefined;
      let execution: { model: Runnable; prompt: BaseMessage[]; tools: BindToolsInput[] } | undefined;
      /** What the provider may still bill, when the answer was abandoned (deadline or the caller's abort). */
      let abandoned: SettleAbandonedOptions | undefined;
      let reply: AIMessage;
      try {
        const current = this.#execution(run, messages, options);
        const winner = run.winner;
        execution = current;
        reservation = await this.#reserveExecution(run, current.prompt, current.tools);
        reply = await runWithDeadline(
          (signal) =>
            current.model.invoke(current.prompt, {
              ...this.#executionConfig(options, runManager),
              signal,
            }) as Promise<AIMessage>,
          {
            ...this.#answerDeadline(run, options),
            onAbandoned: (pending) => {
              // A reply that still comes is what the provider bills (else the whole reservation).
              // A failed late reply reports no usage (rule 3 applies); never an unhandled rejection.
              abandoned = {
                late: pending.then(
                  (late) => this.#answerUsage(winner, late, current),
                  () => undefined,
                ),
              };
            },
          },
        );
      } catch (error) {
        const next = await this.#afterFailedAnswer(run, reservation, error, options.signal, abandoned);
        if (next === undefined) throw await this.#answerFailed(run, errors, error);
        errors.push(error);
        run = next;
        continue;
      }
      // Settled outside the try: once the answer came back, nobody else answers.
      const call = await this.#settleExecution(run.winner, reply, execution.prompt, execution.tools, reservation);
      return { run, reply, call };
    }
  }

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    let run = await this.#auction(messages, options, runManager);
    if (run.answered !== undefined) {
      yield* this.#streamBought(run, run.answered, runManager);
      return;
    }
    const errors: unknown[] = [];
    /** The answer being streamed, until it is settled or its failure handled. */
    let open: OpenStream | undefined;
    /**
     * The answer settled because the caller aborted while this generator waited at a `yield`:
     * LangChain's stream then rejects the caller's read without resuming or closing this generator,
     * so its `catch` and `finally` may never run (the reservation stayed held for good).
     */
    let settledOnAbort: Promise<unknown> | undefined;
    const onAbort = () => {
      if (open?.gathered === undefined) return; // not streaming yet: the deadline race handles it
      const answer = open;
      open = undefined;
      settledOnAbort = this.#finishStream(run, answer).catch(() => undefined);
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        let reservation: Reservation | undefined;
        let gathered: AIMessageChunk | undefined;
        let execution: { model: Runnable; prompt: BaseMessage[]; tools: BindToolsInput[] } | undefined;
        let abandoned = false;
        try {
          const current = this.#execution(run, messages, options);
          execution = current;
          reservation = await this.#reserveExecution(run, current.prompt, current.tools);
          open = { execution, ...(reservation && { reservation }) };
          const stream = streamWithDeadline(
            (signal) => current.model.stream(current.prompt, { ...this.#executionConfig(options, runManager), signal }),
            {
              ...this.#answerDeadline(run, options),
              onAbandoned: () => {
                abandoned = true;
              },
            },
          );
          for await (const piece of stream) {
            const chunk = piece as AIMessageChunk;
            if (gathered === undefined) markAnswer(chunk, run);
            gathered = gathered === undefined ? chunk : gathered.concat(chunk);
            open.gathered = gathered;
            const generation = new ChatGenerationChunk({ text: chunk.text, message: chunk });
            yield generation;
            await runManager?.handleLLMNewToken(chunk.text, undefined, undefined, undefined, undefined, {
              chunk: generation,
            });
          }
        } catch (error) {
          const failed = open;
          open = undefined;
          if (failed === undefined && settledOnAbort !== undefined) {
            await settledOnAbort;
            throw error;
          }
          if (failed?.gathered !== undefined) {
            // Tokens streamed before the failure: the provider generated them, so they are settled and
            // recorded with the auction; nobody else may answer now.
            try {
              await this.#finishStream(run, failed);
            } catch {
              // The answer's error is the one to report; the ledger's own failure must not hide it.
            }
            throw this.#failureOf(run, errors, error);
          }
          // Abandoned before its first chunk: the provider read the prompt (and stops when the stream closes).
          const streamed = abandoned && { streamed: { inputTokens: reservation?.inputTokens ?? 0, outputTokens: 0 } };
          const next = await this.#afterFailedAnswer(run, reservation, error, options.signal, streamed || undefined);
          if (next === undefined) throw await this.#answerFailed(run, errors, error);
          errors.push(error);
          run = next;
          continue;
        }
        const settling = open;
        open = undefined;
        if (settling === undefined) {
          await settledOnAbort; // aborted as the answer ended: already settled and recorded
          return;
        }
        const gavel = await this.#finishStream(run, settling);
        // Chunks merge by summing usage: the winner's chunks carry its own usage; this last chunk adds
        // the auction's (and the execution's, when the winner reported none).
        const reportedExecution = gathered?.usage_metadata !== undefined;
        const extra = reportedExecution ? gavel.usage.auction : sumUsage(gavel.usage.execution, gavel.usage.auction);
        const last = new AIMessageChunk({ content: "", usage_metadata: extra, response_metadata: { gavel } });
        yield new ChatGenerationChunk({ text: "", message: last });
        return;
      }
    } finally {
      // The caller stopped reading mid-answer (`break` out of the stream): what was generated is
      // settled — the streamed text, counted with the tokenizer when no usage came — and the auction
      // recorded, so the reservation's room comes back and nothing spent goes unrecorded.
      options.signal?.removeEventListener("abort", onAbort);
      if (open !== undefined) await this.#finishStream(run, open);
    }
  }

  /**
   * Stream an answer the auction already bought (an escalation that stopped on a rung): recorded
   * first (it is paid for), then yielded as one chunk with its usage, then the usual last chunk with
   * `response_metadata.gavel` and the auction's usage.
   */
  async *#streamBought(
    run: AuctionRun,
    bought: BoughtAnswer,
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const { reply, call } = bought;
    const gavel = await this.#finish(run, call, reply.text);
    const chunk = new AIMessageChunk({
      content: reply.content,
      tool_calls: reply.tool_calls ?? [],
      additional_kwargs: reply.additional_kwargs,
      ...(reply.id !== undefined && { id: reply.id }),
      usage_metadata: gavel.usage.execution,
      response_metadata: { ...reply.response_metadata },
    });
    markAnswer(chunk, run);
    const generation = new ChatGenerationChunk({ text: chunk.text, message: chunk });
    yield generation;
    await runManager?.handleLLMNewToken(chunk.text, undefined, undefined, undefined, undefined, { chunk: generation });
    const last = new AIMessageChunk({ content: "", usage_metadata: gavel.usage.auction, response_metadata: { gavel } });
    yield new ChatGenerationChunk({ text: "", message: last });
  }

  /** Settle a streamed answer (what came of it) and record the auction. */
  async #finishStream(run: AuctionRun, answer: OpenStream): Promise<RouterMetadata> {
    const { execution, reservation, gathered } = answer;
    const reply = answerOf(gathered);
    const call = await this.#settleExecution(run.winner, reply, execution.prompt, execution.tools, reservation);
    return this.#finish(run, call, reply.text);
  }

  /**
   * The budget scopes of each call ride along with the call options: `configurable` and `runId`
   * are runnable config, which LangChain strips from the options `_generate` receives.
   */
  protected override _separateRunnableConfigFromCallOptionsCompat(
    options?: Partial<AuctionRouterCallOptions>,
  ): [RunnableConfig, this["ParsedCallOptions"]] {
    const [config, callOptions] = super._separateRunnableConfigFromCallOptionsCompat(options);
    const scopes = scopesOfCall(config, callOptions.budgetScopes);
    if (scopes === undefined) delete callOptions.budgetScopes;
    else callOptions.budgetScopes = scopes;
    return [config, callOptions];
  }

  // -------------------------------------------------------------------------

  async #auction(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun) {
    return this.#engine.run({
      messages,
      ...childCallbacksOption(runManager, "gavel:auction"),
      ...(options.signal && { signal: options.signal }),
      ...(options.budgetScopes && { scopes: options.budgetScopes }),
      ...(options.tools && options.tools.length > 0 && { tools: options.tools }),
      answerModel: (member) => answerModel(member, options),
    });
  }

  /** The winner (with the tools of this call bound) and the prompt conditioned on its plan. */
  #execution(auction: AuctionRun, messages: BaseMessage[], options: this["ParsedCallOptions"]) {
    const tools = options.tools ?? [];
    return { model: answerModel(auction.winner, options), prompt: withPlan(messages, auction.plan), tools };
  }

  /** The deadline of the answer of `run.winner`: `answerTimeoutMs`, and the caller's signal. */
  #answerDeadline(run: AuctionRun, options: this["ParsedCallOptions"]) {
    return {
      timeoutMs: this.#engine.settings.answerTimeoutMs,
      label: `Pool member "${run.winner.name}" answer`,
      ...(options.signal && { signal: options.signal }),
    };
  }

  /** The usage `reply` is charged at (for a reply that came after its answer was abandoned). */
  #answerUsage(winner: ResolvedMember, reply: AIMessage, execution: { prompt: BaseMessage[]; tools: unknown[] }) {
    const toolTokens = countToolTokens(execution.tools, modelName(winner.model));
    return this.#engine.answerCall(winner, reply, execution.prompt, toolTokens).usage;
  }

  #executionConfig(options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun) {
    return {
      ...childCallbacksOption(runManager, "gavel:answer"),
      ...(options.signal && { signal: options.signal }),
      tags: ["nostream", "gavel:answer"],
      runName: "gavel.answer",
    };
  }

  /**
   * The answer of `run.winner` failed before any token streamed (or its budget could not be
   * reserved): close its reservation — released when the model failed, settled at what the provider
   * bills when the answer was `abandoned` (its deadline passed or the caller aborted) — and return
   * the run in which the fallback answers instead, or undefined when the fallback was the one
   * answering or the caller aborted.
   */
  async #afterFailedAnswer(
    run: AuctionRun,
    reservation: Reservation | undefined,
    error: unknown,
    signal: AbortSignal | undefined,
    abandoned?: SettleAbandonedOptions,
  ): Promise<AuctionRun | undefined> {
    const { budget, billAbandonedCalls } = this.#engine.settings;
    if (reservation && budget) {
      if (abandoned === undefined) await releaseQuietly(budget, reservation);
      // Not awaited: a late reply is waited for (the reservation holds its room meanwhile), not the request.
      else {
        const { auctionId } = run.record;
        const call = { auctionId, member: run.winner.name, purpose: "answer" as const, scopes: run.scopes };
        void closeAbandoned(budget, reservation, { bill: billAbandonedCalls, ...abandoned }).then((settlement) =>
          recordAbandonedCharge(this.#engine.settings, call, settlement),
        );
      }
    }
    const { fallback } = this.#engine.settings;
    if (signal?.aborted || run.winner === fallback) return undefined;
    return withFallbackAnswer(
      run,
      fallback,
      `the winner "${run.winner.name}" failed to answer: ${describeError(error)}`,
    );
  }

  /**
   * Nobody could answer: record the auction (its calls were spent) and return the error to throw —
   * `BudgetExhaustedError` as the budget raised it (nothing more could be afforded), the caller's abort
   * as it is, `AuctionRouterError` when the fallback was answering, else the winner's error.
   */
  async #answerFailed(run: AuctionRun, errors: readonly unknown[], error: unknown): Promise<unknown> {
    try {
      await this.#engine.record(withCalls(run, undefined), undefined);
    } catch {
      // The answer's error is the one to report; the ledger's own failure must not hide it.
    }
    return this.#failureOf(run, errors, error);
  }

  /** The error to throw when nobody could answer (see {@link #answerFailed}); records nothing. */
  #failureOf(run: AuctionRun, errors: readonly unknown[], error: unknown): unknown {
    const { record } = run;
    if (BudgetExhaustedError.isInstance(error) || !record.fallback) return error;
    const reasons = { ...record.dropped };
    const failedWinner = record.outcome.winners[0];
    if (failedWinner !== undefined && failedWinner !== record.winner) {
      reasons[failedWinner] = `answer failed: ${describeError(errors[0])}`;
    }
    return new AuctionRouterError(record.auctionId, reasons, [...Object.values(record.dropped), ...errors, error], {
      cause: error,
    });
  }

  /**
   * Reserve the answer: its prompt (the model's own count when it offers one — a local model — else
   * js-tiktoken's, whichever is larger) plus the tools' schemas, and its output cap.
   */
  async #reserveExecution(
    run: AuctionRun,
    prompt: BaseMessage[],
    tools: readonly unknown[],
  ): Promise<Reservation | undefined> {
    const { budget, executionMaxTokens } = this.#engine.settings;
    if (!budget) return undefined;
    const name = modelName(run.winner.model);
    return budget.reserve({
      model: name,
      inputTokens: (await promptTokensOf(run.winner.model, prompt)) + countToolTokens(tools, name),
      maxOutputTokens: declaredOutputCap(run.winner.model) ?? executionMaxTokens,
      label: "router.answer",
      ...(run.scopes && { scopes: run.scopes }),
    });
  }

  async #settleExecution(
    winner: ResolvedMember,
    reply: AIMessage,
    prompt: BaseMessage[],
    tools: readonly unknown[],
    reservation: Reservation | undefined,
  ): Promise<AuctionCall> {
    const call = this.#engine.answerCall(winner, reply, prompt, countToolTokens(tools, modelName(winner.model)));
    const { budget } = this.#engine.settings;
    if (reservation && budget) await settleQuietly(budget, reservation, call.usage);
    return call;
  }

  async #finish(run: AuctionRun, execution: AuctionCall, answerText: string): Promise<RouterMetadata> {
    const auction = withCalls(run, execution);
    await this.#engine.record(auction, execution, answerText);
    this.#outcomes.remember(auction.record.auctionId, { final: execution.member, members: auction.record.calls ?? [] });
    const overhead = totalsOf(auction.calls);
    const executionUsage = totalsOf([execution]).usage;
    const total = overhead.usage.total_tokens + executionUsage.total_tokens;
    return {
      auction: auction.record,
      usage: {
        execution: executionUsage,
        auction: overhead.usage,
        auctionShare: total === 0 ? 0 : overhead.usage.total_tokens / total,
        usd: { execution: execution.usd, auction: overhead.usd },
        estimated: execution.usage.estimated === true || auction.calls.some((call) => call.usage.estimated === true),
      },
    };
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/**
 * The chunks of the stream `open(signal)` returns, given up at `timeoutMs` after the start or on
 * `signal` — even when the stream ignores its own signal (each wait for the next chunk races the
 * deadline, `runWithDeadline`). Giving up aborts the signal passed to `open`.
 */
async function* streamWithDeadline<T>(
  open: (signal: AbortSignal) => Promise<AsyncIterable<T>>,
  options: { timeoutMs: number; signal?: AbortSignal; label: string; onAbandoned: () => void },
): AsyncGenerator<T> {
  const { timeoutMs, signal, label, onAbandoned } = options;
  const controller = new AbortController();
  // The caller's abort closes the model's stream even while nobody reads it (a generator left at a `yield`).
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const started = performance.now();
  const step = <R>(work: () => Promise<R>): Promise<R> =>
    runWithDeadline(work, {
      timeoutMs: Math.max(1, Math.ceil(timeoutMs - (performance.now() - started))),
      label,
      ...(signal && { signal }),
      onAbandoned: () => {
        onAbandoned();
        controller.abort(signal?.aborted ? signal.reason : undefined);
      },
    });
  const iterator = (await step(() => open(controller.signal)))[Symbol.asyncIterator]();
  let done = false;
  try {
    for (;;) {
      const next = await step(() => iterator.next());
      if (next.done === true) {
        done = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // Stopped early (abandoned, failed, or the caller stopped reading): close the stream, without
    // waiting on a model that ignores its signal.
    signal?.removeEventListener("abort", onAbort);
    if (!done) {
      controller.abort();
      iterator.return?.().catch(() => undefined);
    }
  }
}

/**
 * `{ callbacks }` for calls made inside this model's run, or `{}` when the run has no handlers to
 * pass on (nothing would observe the calls, so no manager is built for them).
 */
function childCallbacksOption(
  runManager: CallbackManagerForLLMRun | undefined,
  tag: string,
): { callbacks?: CallbackManager } {
  const handlers = (runManager as unknown as { inheritableHandlers?: BaseCallbackHandler[] } | undefined)
    ?.inheritableHandlers;
  if (runManager === undefined || handlers === undefined || handlers.length === 0) return {};
  return { callbacks: childCallbacks(runManager, tag) };
}

/**
 * A callback manager for calls made inside this model's run (what `getChild` does for chain
 * runs; LLM run managers have none): the inheritable handlers, tags and metadata, plus `tag`.
 */
function childCallbacks(runManager: CallbackManagerForLLMRun, tag: string): CallbackManager {
  const parent = runManager as unknown as {
    runId: string;
    inheritableHandlers: BaseCallbackHandler[];
    inheritableTags: string[];
    inheritableMetadata: Record<string, unknown>;
  };
  const manager = new CallbackManager(parent.runId);
  manager.setHandlers(parent.inheritableHandlers);
  manager.addTags(parent.inheritableTags);
  manager.addMetadata(parent.inheritableMetadata);
  manager.addTags([tag], false);
  return manager;
}

/**
 * The conversation with the winner's plan as quoted data in a user turn — never a system message
 * (docs/router.md, "Plans are data"): a human message holding {@link executionPlanText}, placed
 * right before the last human message, or after the leading system messages when there is none.
 * Either place is before any AI message whose tool calls are answered later, so an AI message with
 * tool calls stays directly followed by its tool messages (OpenAI and Anthropic require it).
 *
 * @example
 * ```ts
 * withPlan([new SystemMessage("Be brief."), new HumanMessage("2 + 3?")], "Add.").map((message) => message.type);
 * // ["system", "human", "human"]: the plan's block, then the user's question
 * ```
 */
export function withPlan(messages: readonly BaseMessage[], plan: string): BaseMessage[] {
  if (plan.length === 0) return [...messages];
  let position = messages.findLastIndex((message) => message.type === "human");
  if (position < 0) {
    position = 0;
    while (position < messages.length && messages[position]?.type === "system") position += 1;
  }
  return [...messages.slice(0, position), new HumanMessage(executionPlanText(plan)), ...messages.slice(position)];
}

/**
 * Name the auction and the member answering on the first chunk of a streamed answer
 * (`response_metadata.gavel_answer`), so a caller learns who answers before the answer ends (the
 * gateway sends it as headers; `response_metadata.gavel` only comes with the last chunk).
 */
function markAnswer(chunk: AIMessageChunk, run: AuctionRun): void {
  chunk.response_metadata = {
    ...chunk.response_metadata,
    gavel_answer: { auctionId: run.record.auctionId, winner: run.winner.name },
  };
}

/** The model `member` answers with: its own, with the call's tools bound (and tool choice). */
function answerModel(member: ResolvedMember, options: AuctionRouterCallOptions): Runnable {
  const tools = options.tools ?? [];
  const base = member.model;
  if (tools.length === 0) return base;
  if (typeof base.bindTools !== "function") throw new Error(`pool member "${member.name}" does not support tools`);
  return base.bindTools(
    tools,
    options.tool_choice !== undefined ? ({ tool_choice: options.tool_choice } as never) : undefined,
  );
}

function sumUsage(left: UsageMetadata, right: UsageMetadata): UsageMetadata {
  return {
    input_tokens: left.input_tokens + right.input_tokens,
    output_tokens: left.output_tokens + right.output_tokens,
    total_tokens: left.total_tokens + right.total_tokens,
  };
}
