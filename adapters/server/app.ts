/**
 * `createGavelApp`: the gateway as a Hono app — `POST /v1/chat/completions`, `POST /v1/gavel/feedback`,
 * `GET /v1/models`, `GET /health`, `GET /ready` (and `GET /metrics` with `metrics`). Standard
 * `Request`/`Response`: tests call `app.request(...)`, `server.ts` serves it with `@hono/node-server`.
 *
 * A request's way (see `types.ts`): middleware (body limit, request id) → auth → keyed middleware
 * (rate limit) → validate (`openai.ts`) → target (`gavel/auto`: the key's router; a member's name:
 * that member, reserved on the key's budget) → call → settle at the provider's usage → respond.
 *
 * This file is the assembly; the parts are beside it:
 * - `gateway.ts`: what the parts share (the pool, the routers per budget, the request books);
 * - `chat.ts`: the chat route (the router's path, pinned members, streams);
 * - `fast-path.ts` and `upstream.ts`: the calls that skip LangChain (one HTTP call to a member's provider);
 * - `routes.ts`: health, readiness, metrics, auth, models, feedback, and the fallbacks.
 */

import { Hono, type MiddlewareHandler } from "hono";
import type { SharedTokenBudget } from "../../src/budget/shared.js";
import type { LedgerWriter } from "../../src/ledger/types.js";
import type { AuctionRouterOptions } from "../../src/router/options.js";
import type { AuctionRouter } from "../../src/router/router.js";
import { MAX_TIMEOUT_MS } from "../../src/timeouts.js";
import { createChatRoute } from "./chat.js";
import { createGateway, RequestAborted, stopRequest } from "./gateway.js";
import { keyAuth, mountFallbacks, mountFeedback, mountModels, mountProbes, mountRequestCounter } from "./routes.js";
import type { GavelVariables, KeyVerifier, ServerBudgets, ServerLogger, ServerMember, ServerMetrics } from "./types.js";

export {
  ANONYMOUS_KEY,
  AUCTION_ID_HEADER,
  DEFAULT_PINNED_MAX_TOKENS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  WINNER_HEADER,
} from "./gateway.js";

/** The Hono environment of the gateway. */
export type GavelAppEnv = { Variables: GavelVariables };

/** Builds the router of one budget (`undefined` without budgets). Called once per budget, cached. */
export type RouterFactory = (budget: SharedTokenBudget | undefined) => AuctionRouter;

/** The router's options, without what the gateway supplies: the pool (the members) and the budget. */
export type GavelRouterOptions = Omit<AuctionRouterOptions, "pool" | "budget">;

/** Options of {@link createGavelApp}. */
export interface GavelAppOptions {
  /** The pool: listed by `GET /v1/models`, pinnable by name, and the router's bidders. */
  members: readonly ServerMember[];
  /**
   * The router behind `gavel/auto`: its options (the pool and the key's budget are added), or a
   * factory from a budget to a router. One router is built per distinct budget and reused by every
   * request of the keys that share it. Default `{}` (the router's defaults).
   */
  router?: GavelRouterOptions | RouterFactory;
  /** Verifies bearer keys. Absent: no auth (every request is the key {@link ANONYMOUS_KEY}) — loopback only. */
  keys?: KeyVerifier;
  /** Per-key (and per-user) budgets. Absent: nothing is reserved (the router still runs). */
  budgets?: ServerBudgets;
  metrics?: ServerMetrics;
  logger?: ServerLogger;
  /** Mounted before auth on `/v1/*`, in order (the body limit, the request id). */
  middleware?: readonly MiddlewareHandler[];
  /** Mounted after auth on `/v1/*`, in order: they see `c.get("gavelKey")` (the rate limit). */
  keyedMiddleware?: readonly MiddlewareHandler<GavelAppEnv>[];
  /**
   * Records the charge of every pinned call (`settle`, label `answer`, `metadata.path: "pinned"`).
   * The router records its own auctions and charges when built with a `ledger` (given in
   * `router`; with router options and no `ledger` there, this one is passed on).
   */
  ledger?: LedgerWriter;
  /** Log prompt and answer text in the request log line. Default false. */
  logPrompts?: boolean;
  /** Deadline of a whole chat request (auction and answer), in ms. Default {@link DEFAULT_REQUEST_TIMEOUT_MS}. */
  timeoutMs?: number;
  /**
   * Settle pinned calls cut short (client gone, deadline, shutdown) at what the provider bills
   * (`closeAbandoned`), per member provider. Default: true except for `llamacpp` and `ollama`
   * (local models bill nothing).
   */
  billAbandonedCalls?: (member: ServerMember) => boolean;
}

/** The gateway app, and its graceful drain. */
export interface GavelApp {
  app: Hono<GavelAppEnv>;
  /**
   * Stop accepting chat requests (`/ready` answers 503, new chat requests 503), wait up to
   * `timeoutMs` for in-flight requests and streams to finish, then abort the rest (their
   * reservations are settled at what was streamed / what the provider bills) and wait up to
   * `timeoutMs` more for those settlements.
   */
  drain(timeoutMs: number): Promise<void>;
  /** True once {@link GavelApp.drain} was called. */
  readonly draining: boolean;
  /** Requests (and streams) in flight now. */
  readonly inflight: number;
}

/**
 * Build the gateway app: the OpenAI chat-completions surface over a pool and its router, with
 * keys, budgets, metrics and logs.
 *
 * What a request's settings do:
 *
 * | setting | pinned member | `gavel/auto` |
 * |---|---|---|
 * | `tools`, `tool_choice` | bound (`bindTools`) | bound for the winner's answer; plans and jury get none |
 * | `response_format` json_schema | passed as is to a `ChatOpenAI` member (`response_format`); other members ignore it | the winner answers by a forced call of a tool whose parameters are the schema; its arguments are the content (`finish_reason: "stop"`); with `tools` too: 400 |
 * | `response_format` json_object | passed to a `ChatOpenAI` member | not enforced (the router has no such option) |
 * | `max_tokens` / `max_completion_tokens`, `temperature`, `top_p` | the member rebuilt with them (cached; never above its own cap), and the reservation uses that cap | the router's own settings apply |
 * | `stop`, `seed` | passed as call options (`seed`: `ChatOpenAI` only) | not passed on |
 * | `user` | the budget scopes (`budgets.scopesFor(key, user)`) | the same |
 * | `n` | only 1 | only 1 |
 *
 * A pinned non-streamed request to a member with an `upstream` (an OpenAI-compatible endpoint:
 * `openai` and `ollama` members) skips LangChain: its validated body goes to the provider as it is
 * (the member's model and key; `max_tokens` / `max_completion_tokens` capped at the member's cap)
 * and the provider's completion comes back as it is. Streams always take the LangChain path.
 *
 * `gavel/auto` has a fast path too, when the router is given as options (not a factory) in `memory`
 * or `auto` mode and every member has an `upstream`: a non-streamed request without `tools` or
 * `response_format` is decided by the router's own auction engine (the same decision, reservations,
 * deadline and fallback as `AuctionRouter`), the winner's answer is one HTTP call (`node:http`) of the request's
 * messages with the member's model, cap and temperature (a plan auction's winner, whose prompt
 * carries its plan, answers through its model), and the auction's ledger and memory writes run
 * after the response is sent — `drain` waits for them. Feedback on those auctions
 * (`POST /v1/gavel/feedback`) is recorded by the gateway as the router records its own.
 *
 * Every response names the member that answered (`model`, `x-gavel-winner`); a routed one also
 * carries `x-gavel-auction-id`. A stream's headers go out with its first chunk, so an error before
 * it is a plain OpenAI error, one after it is the stream's last event before `data: [DONE]`.
 * `timeoutMs` bounds the whole request, a stream included (504 `provider_timeout`).
 *
 * @param options - {@link GavelAppOptions}
 * @returns the Hono app and its `drain`.
 * @throws ConfigError when two members share a name, a member is named `gavel/auto`, or the router
 *   options are invalid.
 * @example
 * ```ts
 * import { ChatOpenAI } from "@langchain/openai";
 * import { createGavelApp, serveGavelApp } from "langchain-gavel/server";
 *
 * const { app, drain } = createGavelApp({
 *   members: [
 *     { name: "mini", model: new ChatOpenAI({ model: "gpt-4o-mini" }), price: { inputPerMillion: 0.15, outputPerMillion: 0.6 }, provider: "openai" },
 *     { name: "large", model: new ChatOpenAI({ model: "gpt-4o" }), price: { inputPerMillion: 2.5, outputPerMillion: 10 }, provider: "openai" },
 *   ],
 *   router: { jury: "all" },
 * });
 * const server = await serveGavelApp({ app, drain }, { port: 8080 });
 * // curl localhost:8080/v1/chat/completions -d '{"model":"gavel/auto","messages":[{"role":"user","content":"Hi"}]}'
 * ```
 */
export function createGavelApp(options: GavelAppOptions): GavelApp {
  const { middleware = [], keyedMiddleware = [] } = options;
  const gateway = createGateway(options);
  const app = new Hono<GavelAppEnv>();
  mountProbes(app, gateway); // /health, /ready, /metrics
  mountRequestCounter(app, gateway); // first on /v1/*: it also counts what the middleware refuses
  for (const handler of middleware) app.use("/v1/*", handler);
  app.use("/v1/*", keyAuth(gateway));
  for (const handler of keyedMiddleware) app.use("/v1/*", handler);
  mountModels(app, gateway);
  app.post("/v1/chat/completions", createChatRoute(gateway));
  mountFeedback(app, gateway);
  mountFallbacks(app, gateway);

  const { inflight, runningAbandoned, settlements } = gateway;
  return {
    app,
    get draining() {
      return gateway.draining;
    },
    get inflight() {
      return inflight.size;
    },
    async drain(drainTimeoutMs: number) {
      gateway.draining = true;
      // Until nothing is left: a request that ends while we wait may start a write (its auction's record).
      const waitAll = async (ms: number) => {
        const until = performance.now() + ms;
        for (;;) {
          const pending = [...[...inflight].map((state) => state.done), ...settlements];
          if (pending.length === 0) return true;
          if (!(await waitFor(pending, until - performance.now()))) return false;
        }
      };
      if (await waitAll(drainTimeoutMs)) return;
      for (const state of [...inflight, ...runningAbandoned]) stopRequest(state, new RequestAborted("shutdown"));
      await waitAll(Math.max(1_000, drainTimeoutMs));
    },
  };
}

/** True when every promise settled within `ms`. */
async function waitFor(promises: readonly Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.min(Math.max(0, ms), MAX_TIMEOUT_MS));
  });
  const all = Promise.allSettled(promises).then(() => true as const);
  const result = await Promise.race([all, timedOut]);
  clearTimeout(timer);
  return result;
}
