/**
 * `auctionRouterMiddleware`: the strategy auction as `createAgent` middleware. It swaps
 * `request.model` for the auction's winner (`handler({ ...request, model: winner })`) and gives
 * the winner its plan as a quoted user-turn block (`withPlan`; never in the system prompt).
 *
 * What is auctioned in a multi-step agent run (`auctionEvery`):
 * - `"run"` (default): the first model call of an invocation holds the auction; the winner and
 *   its plan are kept in agent state (`auctionRouter`) and answer every later model call of that
 *   invocation (tool-call turns), so one auction is paid per run and the plan stays coherent.
 *   The next invocation (e.g. the next user turn) holds a new auction.
 * - `"call"`: every model call holds its own auction (more overhead, adapts mid-run).
 *
 * Bidding modes (`mode`, as `AuctionRouter`): `"plans"` (the SALE auction above), `"memory"` (memory
 * bids pick the member, then `handler` runs with it: one model call) and `"auto"` (memory bids when
 * the memory is confident; else the escalation calls `handler` once per rung — LangChain lets a
 * `wrapModelCall` call its handler several times, as `modelRetryMiddleware` does — and the rung whose
 * answer is final is returned without another call; with `memoryBids.unsure: "plans"`, a plan
 * auction). The rungs' answers pass through the rest of the chain (`tokenBudgetMiddleware` charges
 * them); with an agent streamed in `"messages"` mode, a rung's tokens stream too. The middleware
 * writes outcome entries to `memory` like the router; it has no `recordOutcome` (use the router's, or
 * `memory.recordOutcome("<auctionId>:<member>", value)` for a member in `gavel.auction.calls`).
 *
 * Budget: with `budget`, only the auction's own calls (plans, jury, refinements) are charged
 * here; the winner's answer goes through the rest of the middleware chain, so put
 * `tokenBudgetMiddleware` after this one to charge it. The auction still keeps room for that
 * answer (conversation, system prompt, plan, tool schemas, output cap) and excludes bidders whose
 * answer the budget could not afford. Calls are charged to the scopes `tokenBudgetMiddleware`
 * uses: `configurable.thread_id`, `context.tokenBudget.{runId, exampleId}`, then
 * `configurable.budgetScopes`, over the `budgetScopes` option.
 */
import { AIMessage } from "@langchain/core/messages";
import { Command } from "@langchain/langgraph";
import { createMiddleware } from "langchain";
import { z } from "zod";
import { z as zodV3 } from "zod/v3";
import { parseConfig } from "../errors.js";
import { type AuctionCall, createStrategyAuctionEngine, totalsOf, withCalls } from "../router/auction/index.js";
import { auctionRouterFieldsSchema, checkPool, resolveSettings, scopesOfCall } from "../router/options.js";
import { withPlan } from "../router/router.js";

/**
 * Zod schema of the middleware options: the router's, plus `auctionEvery`.
 *
 * @example
 * ```ts
 * const result = auctionRouterMiddlewareOptionsSchema.safeParse({ pool: [], auctionEvery: "call" });
 * result.success; // false
 * result.error?.issues[0]?.message; // "Too small: expected array to have >=1 items" (at "pool")
 * ```
 */
export const auctionRouterMiddlewareOptionsSchema = auctionRouterFieldsSchema
  .extend({
    /** `"run"` (default): one auction per invocation, winner cached in state; `"call"`: one per model call. */
    auctionEvery: z.enum(["run", "call"]).optional(),
  })
  .superRefine(checkPool);

/** Options of {@link auctionRouterMiddleware}. */
export type AuctionRouterMiddlewareOptions = z.input<typeof auctionRouterMiddlewareOptionsSchema>;

/**
 * Key of the middleware's agent state.
 *
 * @example
 * ```ts
 * const state = await agent.invoke({ messages: [{ role: "user", content: "Sum the even numbers below 100." }] });
 * state[AUCTION_ROUTER_STATE_KEY]?.winner; // e.g. "mini" (the key is "auctionRouter")
 * ```
 */
export const AUCTION_ROUTER_STATE_KEY = "auctionRouter";

/** The winner cached for the current run (`state.auctionRouter`). */
export interface AuctionRouterState {
  auctionId: string;
  winner: string;
  plan: string;
  /** Model calls of this run answered by the winner so far. */
  calls: number;
}

function isRouterState(value: unknown): value is AuctionRouterState | null {
  if (value === null) return true;
  if (typeof value !== "object") return false;
  const state = value as Record<string, unknown>;
  return typeof state.auctionId === "string" && typeof state.winner === "string" && typeof state.plan === "string";
}

/** Agent state: `auctionRouter` (zod/v3, like `tokenBudgetStateSchema`, for LangChain's per-call re-parse cost). */
const auctionRouterStateSchema = zodV3.object({
  auctionRouter: zodV3
    .custom<AuctionRouterState | null>(isRouterState, { message: "expected the auction router state" })
    .default(() => null),
});

/**
 * Creates a middleware that routes an agent's model calls by strategy auction over `pool`.
 *
 * @param options the router options (see `AuctionRouterOptions`) plus `auctionEvery`.
 * @returns a middleware for `createAgent({ middleware: [...] })`. Its state key `auctionRouter`
 *   holds the cached winner; each routed AIMessage carries `response_metadata.gavel`.
 * @throws ConfigError at construction when an option is invalid.
 * @example
 * ```ts
 * import { createAgent } from "langchain";
 * import { ChatOpenAI } from "@langchain/openai";
 * import { auctionRouterMiddleware, tokenBudgetMiddleware } from "langchain-gavel";
 *
 * const mini = new ChatOpenAI({ model: "gpt-4o-mini" });
 * const agent = createAgent({
 *   model: mini, // replaced by each auction's winner
 *   tools: [search],
 *   middleware: [
 *     auctionRouterMiddleware({ pool: [{ name: "mini", model: mini }, { name: "large", model: new ChatOpenAI({ model: "gpt-4o" }) }] }),
 *     tokenBudgetMiddleware({ runLimit: 20_000 }),
 *   ],
 * });
 * ```
 * @example Memory bids (auto mode: memory when confident, else the escalation through the handler)
 * ```ts
 * const embeddings = new OpenAIEmbeddings();
 * const memory = await createVectraStrategyMemory({ folder: ".gavel/memory", embeddings });
 * const agent = createAgent({
 *   model: mini,
 *   middleware: [auctionRouterMiddleware({ pool, memory, embeddings, mode: "auto" })],
 * });
 * const state = await agent.invoke({ messages: [{ role: "user", content: "Which gas do plants absorb?" }] });
 * state.messages.at(-1)?.response_metadata.gavel.auction; // { path, reason, calls, … }
 * ```
 */
export function auctionRouterMiddleware(options: AuctionRouterMiddlewareOptions) {
  const parsed = parseConfig("auctionRouterMiddleware options", auctionRouterMiddlewareOptionsSchema, options);
  const { auctionEvery = "run" } = parsed;
  const engine = createStrategyAuctionEngine(resolveSettings(parsed));
  const members = new Map(engine.settings.pool.map((member) => [member.name, member]));

  return createMiddleware({
    name: "AuctionRouterMiddleware",
    stateSchema: auctionRouterStateSchema,

    beforeAgent: () => ({ auctionRouter: null }),

    wrapModelCall: async (request, handler) => {
      const cached =
        auctionEvery === "run" ? (request.state as { auctionRouter?: AuctionRouterState | null }).auctionRouter : null;
      const cachedMember = cached ? members.get(cached.winner) : undefined;
      if (cached && cachedMember) {
        const response = await handler({
          ...request,
          model: cachedMember.model as typeof request.model,
          messages: withPlan(request.messages, cached.plan),
        });
        annotate(response, { auctionId: cached.auctionId, winner: cached.winner, cached: true });
        return new Command({ update: { auctionRouter: { ...cached, calls: cached.calls + 1 } } });
      }

      const runtime = request.runtime as
        | { signal?: AbortSignal; configurable?: Record<string, unknown>; context?: unknown }
        | undefined;
      const signal = runtime?.signal;
      const scopes = runtime
        ? scopesOfCall({ configurable: runtime.configurable, context: runtime.context })
        : undefined;
      const auction = await engine.run({
        messages: request.messages,
        ...(signal && { signal }),
        ...(scopes && { scopes }),
        ...(request.tools.length > 0 && { tools: request.tools }),
        ...(request.systemPrompt && { systemPrompt: request.systemPrompt }),
        // auto's escalation rungs answer through the rest of the chain (charged there, like any answer).
        askMember: async (member) => handler({ ...request, model: member.model as typeof request.model }),
      });
      let response: AIMessage;
      let execution: AuctionCall;
      if (auction.answered !== undefined) {
        // The escalation stopped on a rung: its answer is final, no other call.
        response = auction.answered.reply;
        execution = auction.answered.call;
      } else {
        try {
          response = await handler({
            ...request,
            model: auction.winner.model as typeof request.model,
            messages: withPlan(request.messages, auction.plan),
          });
        } catch (error) {
          await engine.record(withCalls(auction, undefined), undefined).catch(() => undefined);
          throw error;
        }
        execution = engine.answerCall(auction.winner, response, []);
      }
      const recorded = withCalls(auction, execution);
      await engine.record(recorded, execution, response.text);
      const overhead = totalsOf(auction.calls);
      annotate(response, {
        auctionId: auction.record.auctionId,
        winner: auction.winner.name,
        cached: false,
        auction: recorded.record,
        usage: { auction: overhead.usage, usd: overhead.usd },
      });
      const state: AuctionRouterState = {
        auctionId: auction.record.auctionId,
        winner: auction.winner.name,
        plan: auction.plan,
        calls: 1,
      };
      return new Command({ update: { auctionRouter: state } });
    },
  });
}

/** Attach the routing record to the winner's reply (`response_metadata.gavel`). */
function annotate(response: AIMessage, gavel: Record<string, unknown>): void {
  if (AIMessage.isInstance(response)) response.response_metadata = { ...response.response_metadata, gavel };
}
