/**
 * `AuctionRouter`: a pool of chat models as one LangChain chat model. Per request the pool holds
 * a strategy auction (see `auction.ts`) and the winner answers, conditioned on its plan.
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
  SystemMessage,
  type UsageMetadata,
} from "@langchain/core/messages";
import type { ChatResult } from "@langchain/core/outputs";
import { ChatGenerationChunk } from "@langchain/core/outputs";
import type { Runnable } from "@langchain/core/runnables";
import { countMessageTokens, type Reservation } from "../budget/index.js";
import { parseConfig } from "../errors.js";
import type { OutcomeInput } from "../ledger/types.js";
import { declaredOutputCap, modelName } from "../models.js";
import {
  type AuctionCall,
  type AuctionRun,
  createStrategyAuctionEngine,
  type RouterAuctionRecord,
  type StrategyAuctionEngine,
  totalsOf,
} from "./auction.js";
import { AuctionRouterFailed } from "./errors.js";
import {
  type AuctionRouterOptions,
  auctionRouterOptionsSchema,
  type ResolvedMember,
  resolveSettings,
} from "./options.js";
import { executionPlanText } from "./prompts.js";

/** Call options of the router: the tools (and tool choice) bound for the winner. */
export interface AuctionRouterCallOptions extends BaseChatModelCallOptions {
  tools?: BindToolsInput[];
}

/** Token usage of a routed answer, split (`response_metadata.gavel.usage`). */
export interface RouterUsage {
  /** The winner's answer. */
  execution: UsageMetadata;
  /** Plans, jury and refinement calls together. */
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

/** The graded outcome of a routed answer, for {@link AuctionRouter.recordOutcome}. */
export type RouterOutcome = Omit<OutcomeInput, "auctionId">;

/** Most auction ids whose winner the router remembers for `recordOutcome`. */
const REMEMBERED_AUCTIONS = 10_000;

/**
 * A pool of chat models that routes each request by a SALE strategy auction: every member bids
 * with a short plan, plans are scored `V − C` (entropy, jury, plan cost), cheaper members may
 * refine their bid from the strategy memory, and the winner answers conditioned on its plan.
 * Use it anywhere a chat model goes: `invoke`, `stream` (only the winner's tokens stream),
 * `batch`, `bindTools`, `withStructuredOutput`, `createAgent({ model: router })`.
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
 */
export class AuctionRouter extends BaseChatModel<AuctionRouterCallOptions, AIMessageChunk> {
  static override lc_name(): string {
    return "AuctionRouter";
  }

  readonly #engine: StrategyAuctionEngine;
  readonly #winners = new Map<string, string>();

  /**
   * @param options the pool and the auction settings; see docs/router.md.
   * @throws GavelConfigError naming the field (duplicate member name, member without a price,
   *   unknown juror or fallback name, unknown option).
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
   * Record the graded outcome of a routed answer (a verifier callback or a benchmark label):
   * to the ledger, and as the winner's outcome in the strategy memory (`score`, else 1/0 from `correct`).
   *
   * @returns true when the memory entry of the winner was found and updated.
   */
  async recordOutcome(auctionId: string, outcome: RouterOutcome): Promise<boolean> {
    const { ledger, memory } = this.#engine.settings;
    if (ledger) await ledger.recordOutcome({ ...outcome, auctionId });
    let winner = this.#winners.get(auctionId);
    if (winner === undefined && ledger?.getAuction) winner = (await ledger.getAuction(auctionId))?.winners[0];
    const value = outcome.score ?? (outcome.correct === undefined ? undefined : outcome.correct ? 1 : 0);
    if (!memory || winner === undefined || value === undefined) return false;
    return memory.recordOutcome(`${auctionId}:${winner}`, value);
  }

  async _generate(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): Promise<ChatResult> {
    const auction = await this.#auction(messages, options, runManager);
    const { model, prompt } = this.#execution(auction, messages, options);
    const execution = await this.#execute(
      auction,
      prompt,
      async () => (await model.invoke(prompt, this.#executionConfig(options, runManager))) as AIMessage,
    );
    const reply = execution.reply;
    const gavel = await this.#finish(auction, execution.call);
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

  override async *_streamResponseChunks(
    messages: BaseMessage[],
    options: this["ParsedCallOptions"],
    runManager?: CallbackManagerForLLMRun,
  ): AsyncGenerator<ChatGenerationChunk> {
    const auction = await this.#auction(messages, options, runManager);
    const { model, prompt } = this.#execution(auction, messages, options);
    let reservation: Reservation | undefined;
    let gathered: AIMessageChunk | undefined;
    try {
      reservation = this.#reserveExecution(auction.winner, prompt);
      const stream = await model.stream(prompt, this.#executionConfig(options, runManager));
      for await (const piece of stream) {
        const chunk = piece as AIMessageChunk;
        gathered = gathered === undefined ? chunk : gathered.concat(chunk);
        const generation = new ChatGenerationChunk({ text: chunk.text, message: chunk });
        yield generation;
        await runManager?.handleLLMNewToken(chunk.text, undefined, undefined, undefined, undefined, {
          chunk: generation,
        });
      }
    } catch (error) {
      throw await this.#executionFailed(auction, reservation, error);
    }
    const full = new AIMessage({
      content: gathered?.content ?? "",
      tool_calls: gathered?.tool_calls ?? [],
      ...(gathered?.usage_metadata && { usage_metadata: gathered.usage_metadata }),
    });
    const call = this.#settleExecution(auction.winner, full, prompt, reservation);
    const gavel = await this.#finish(auction, call);
    // Chunks merge by summing usage: the winner's chunks carry its own usage; this last chunk adds
    // the auction's (and the execution's, when the winner reported none).
    const reportedExecution = gathered?.usage_metadata !== undefined;
    const extra = reportedExecution ? gavel.usage.auction : sumUsage(gavel.usage.execution, gavel.usage.auction);
    const last = new AIMessageChunk({ content: "", usage_metadata: extra, response_metadata: { gavel } });
    yield new ChatGenerationChunk({ text: "", message: last });
  }

  // -------------------------------------------------------------------------

  async #auction(messages: BaseMessage[], options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun) {
    return this.#engine.run({
      messages,
      ...childCallbacksOption(runManager, "gavel:auction"),
      ...(options.signal && { signal: options.signal }),
    });
  }

  /** The winner (with the tools of this call bound) and the prompt conditioned on its plan. */
  #execution(auction: AuctionRun, messages: BaseMessage[], options: this["ParsedCallOptions"]) {
    const tools = options.tools ?? [];
    const base = auction.winner.model;
    let model: Runnable = base;
    if (tools.length > 0) {
      if (typeof base.bindTools !== "function")
        throw new Error(`pool member "${auction.winner.name}" does not support tools`);
      model = base.bindTools(
        tools,
        options.tool_choice !== undefined ? ({ tool_choice: options.tool_choice } as never) : undefined,
      );
    }
    return { model, prompt: withPlan(messages, auction.plan) };
  }

  #executionConfig(options: this["ParsedCallOptions"], runManager?: CallbackManagerForLLMRun) {
    return {
      ...childCallbacksOption(runManager, "gavel:answer"),
      ...(options.signal && { signal: options.signal }),
      tags: ["nostream", "gavel:answer"],
      runName: "gavel.answer",
    };
  }

  async #execute(
    auction: AuctionRun,
    prompt: BaseMessage[],
    invoke: () => Promise<AIMessage>,
  ): Promise<{ reply: AIMessage; call: AuctionCall }> {
    let reservation: Reservation | undefined;
    let reply: AIMessage;
    try {
      reservation = this.#reserveExecution(auction.winner, prompt);
      reply = await invoke();
    } catch (error) {
      throw await this.#executionFailed(auction, reservation, error);
    }
    return { reply, call: this.#settleExecution(auction.winner, reply, prompt, reservation) };
  }

  /**
   * The winner's answer failed: release its reservation, record the auction (its calls were
   * spent), and return the error to throw — `AuctionRouterFailed` when the fallback was answering.
   */
  async #executionFailed(auction: AuctionRun, reservation: Reservation | undefined, error: unknown): Promise<unknown> {
    if (reservation) this.#engine.settings.budget?.release(reservation);
    try {
      await this.#engine.record(auction, undefined);
    } catch {
      // The answer's error is the one to report; the ledger's own failure must not hide it.
    }
    const { record } = auction;
    if (!record.fallback) return error;
    return new AuctionRouterFailed(record.auctionId, record.dropped, [...Object.values(record.dropped), error], {
      cause: error,
    });
  }

  #reserveExecution(winner: ResolvedMember, prompt: BaseMessage[]): Reservation | undefined {
    const { budget, budgetScopes, executionMaxTokens } = this.#engine.settings;
    if (!budget) return undefined;
    const name = modelName(winner.model);
    return budget.reserve({
      model: name,
      inputTokens: countMessageTokens(prompt, name),
      maxOutputTokens: declaredOutputCap(winner.model) ?? executionMaxTokens,
      label: "router.answer",
      ...(budgetScopes && { scopes: budgetScopes }),
    });
  }

  #settleExecution(
    winner: ResolvedMember,
    reply: AIMessage,
    prompt: BaseMessage[],
    reservation: Reservation | undefined,
  ): AuctionCall {
    const call = this.#engine.answerCall(winner, reply, prompt);
    if (reservation) this.#engine.settings.budget?.settle(reservation, call.usage);
    return call;
  }

  async #finish(auction: AuctionRun, execution: AuctionCall): Promise<RouterMetadata> {
    await this.#engine.record(auction, execution);
    this.#remember(auction.record.auctionId, auction.record.winner);
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

  #remember(auctionId: string, winner: string): void {
    this.#winners.set(auctionId, winner);
    if (this.#winners.size > REMEMBERED_AUCTIONS) {
      const oldest = this.#winners.keys().next().value;
      if (oldest !== undefined) this.#winners.delete(oldest);
    }
  }
}

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

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

/** The conversation with the winner's plan as a system message after the leading system messages. */
export function withPlan(messages: readonly BaseMessage[], plan: string): BaseMessage[] {
  if (plan.length === 0) return [...messages];
  let position = 0;
  while (position < messages.length && messages[position]?.type === "system") position += 1;
  return [...messages.slice(0, position), new SystemMessage(executionPlanText(plan)), ...messages.slice(position)];
}

function sumUsage(left: UsageMetadata, right: UsageMetadata): UsageMetadata {
  return {
    input_tokens: left.input_tokens + right.input_tokens,
    output_tokens: left.output_tokens + right.output_tokens,
    total_tokens: left.total_tokens + right.total_tokens,
  };
}
