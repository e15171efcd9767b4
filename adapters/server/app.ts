/**
 * `createGavelApp`: the gateway as a Hono app — `POST /v1/chat/completions`, `GET /v1/models`,
 * `GET /health`, `GET /ready` (and `GET /metrics` with `metrics`). Standard `Request`/`Response`:
 * tests call `app.request(...)`, `server.ts` serves it with `@hono/node-server`.
 *
 * A request's way (see `types.ts`): middleware (body limit, request id) → auth → keyed middleware
 * (rate limit) → validate (`openai.ts`) → target (`gavel/auto`: the key's router; a member's name:
 * that member, reserved on the key's budget) → call → settle at the provider's usage → respond.
 */

import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { BaseChatModel, BindToolsInput } from "@langchain/core/language_models/chat_models";
import { AIMessage, type AIMessageChunk, type BaseMessage } from "@langchain/core/messages";
import type { Runnable } from "@langchain/core/runnables";
import { Hono, type MiddlewareHandler } from "hono";
import { ZodError } from "zod";
import { closeAbandoned } from "../../src/budget/abandoned.js";
import type { Reservation, ScopeIds, Settlement, Usage } from "../../src/budget/index.js";
import {
  costUsd,
  countMessageTokens,
  countOutputTokens,
  countToolTokens,
  usageFromMessage,
} from "../../src/budget/index.js";
import { releaseQuietly, type SharedTokenBudget, settleQuietly } from "../../src/budget/shared.js";
import { PromptTokenCounter } from "../../src/budget/tokens.js";
import { BudgetExhaustedError, ConfigError, GavelError, parseConfig } from "../../src/errors.js";
import type { LedgerScope, LedgerWriter } from "../../src/ledger/types.js";
import { countsOwnPrompt, declaredOutputCap, modelName, promptTokensOf, rebuiltWith } from "../../src/models.js";
import {
  type AuctionCall,
  type AuctionRun,
  createStrategyAuctionEngine,
  recordAbandonedCharge,
  type StrategyAuctionEngine,
  totalsOf,
  withCalls,
  withFallbackAnswer,
} from "../../src/router/auction/index.js";
import { AuctionRouterError } from "../../src/router/errors.js";
import {
  type AuctionRouterOptions,
  auctionRouterOptionsSchema,
  type ResolvedMember,
  resolveSettings,
} from "../../src/router/options.js";
import { RoutedOutcomes, type RouterOutcome } from "../../src/router/outcomes.js";
import { AuctionRouter, type RouterMetadata, withPlan } from "../../src/router/router.js";
import { DeadlineExceededError, MAX_TIMEOUT_MS, runWithDeadline } from "../../src/timeouts.js";
import { keyRunId } from "./budgets.js";
import { createAuctionOwners, FEEDBACK_PATH, handleFeedback, keyScoped, type OutcomeRecorder } from "./feedback.js";
import {
  budgetExhausted,
  type ChatCompletionRequest,
  type CompletionUsage,
  completionId,
  createChunkEncoder,
  internalError,
  invalidApiKey,
  invalidRequest,
  modelNotFound,
  type OpenAIErrorBody,
  OpenAIHttpError,
  parseChatRequest,
  providerError,
  providerTimeout,
  SSE_DONE,
  shuttingDown,
  sseEvent,
  textOf,
  toChatCompletion,
  toLangChainMessages,
  usageOf,
} from "./openai.js";
import {
  type GavelVariables,
  type KeyVerifier,
  type RequestObservation,
  ROUTER_MODEL_ID,
  type ServerBudgets,
  type ServerLogger,
  type ServerMember,
  type ServerMetrics,
  type ServerUpstream,
  type VirtualKey,
} from "./types.js";

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

/** The key of every request when the gateway runs without `keys`. */
export const ANONYMOUS_KEY: Readonly<VirtualKey> = Object.freeze({ id: "anonymous", name: "anonymous" });

/** Default deadline of a chat request: 5 minutes. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;

/** Output cap reserved for a pinned member that declares none and a request that sets none. */
export const DEFAULT_PINNED_MAX_TOKENS = 4096;

/** Header naming the member that answered. */
export const WINNER_HEADER = "x-gavel-winner";
/** Header carrying the auction id (`gavel/auto` only). */
export const AUCTION_ID_HEADER = "x-gavel-auction-id";

/** Most rebuilt copies of members (other `max_tokens` / `temperature` / `top_p`) kept. */
const MAX_SAMPLING_COPIES = 256;

/**
 * One `T` per budget (one for the keys without a budget), found by key id: routers and the fast
 * path's engines are shared by the keys that share a budget.
 */
function perBudget<T>(
  budgets: { budgetFor(key: VirtualKey): SharedTokenBudget | undefined } | undefined,
  build: (budget: SharedTokenBudget | undefined) => T,
): (key: VirtualKey) => T {
  const byKey = new Map<string, T>();
  const byBudget = new WeakMap<SharedTokenBudget, T>();
  let unbudgeted: T | undefined;
  return (key) => {
    const cached = byKey.get(key.id);
    if (cached !== undefined) return cached;
    const budget = budgets?.budgetFor(key);
    let built = budget === undefined ? unbudgeted : byBudget.get(budget);
    if (built === undefined) {
      built = build(budget);
      if (budget === undefined) unbudgeted = built;
      else byBudget.set(budget, built);
    }
    byKey.set(key.id, built);
    return built;
  };
}

/** Why a request's upstream call was aborted (the reason of its controller). */
class RequestAborted extends Error {
  override readonly name = "RequestAborted";
  constructor(readonly why: "client" | "shutdown") {
    super(why === "client" ? "The client closed the connection." : "The gateway is shutting down.");
  }
}

/** One chat request, from arrival to its last byte. */
interface ChatRequestState {
  requestId: string;
  key: VirtualKey;
  /** The request's `user`, once read. */
  user?: string;
  started: number;
  /** Aborted when the request stops: the client left, the deadline passed, or shutdown. */
  controller: AbortController;
  /**
   * Aborted only at the deadline or on shutdown: a pinned non-streamed call keeps running after
   * its client left, so it is settled at the usage the provider reports (it bills the reply anyway).
   */
  hardStop: AbortController;
  observation: RequestObservation;
  log: Record<string, unknown>;
  /** Resolves once the request is done (response sent, books closed). */
  done: Promise<void>;
  finish: () => void;
}

/** A prepared call: who answers, how, and how its books are closed. */
interface Target {
  path: "router" | "pinned";
  /** The member (pinned) or `gavel/auto` until the auction names the winner. */
  member: string;
  runnable: Runnable;
  callOptions: Record<string, unknown>;
  /** json_schema on `gavel/auto`: the answer is a forced tool call, turned into content. */
  toolAsContent: boolean;
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
  const {
    members,
    router: routerOption = {},
    keys,
    budgets,
    metrics,
    logger,
    middleware = [],
    keyedMiddleware = [],
    ledger,
    logPrompts = false,
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
    billAbandonedCalls = (member: ServerMember) => member.provider !== "llamacpp" && member.provider !== "ollama",
  } = options;
  checkMembers(members, timeoutMs);
  const byName = new Map(members.map((member) => [member.name, member]));
  const modelIds = [ROUTER_MODEL_ID, ...members.map((member) => member.name)];
  const created = Math.floor(Date.now() / 1000);
  const modelEntries = [
    { id: ROUTER_MODEL_ID, object: "model", created, owned_by: "gavel" },
    ...members.map((member) => ({ id: member.name, object: "model", created, owned_by: member.provider })),
  ];
  const modelsBody = JSON.stringify({ object: "list", data: modelEntries });
  const names = new Map(members.map((member) => [member.name, modelName(member.model)]));

  // --- routers: one per budget, found by key id -----------------------------------------------
  /** The router's options for the keys that share `budget`. */
  const routerOptionsFor = (budget: SharedTokenBudget | undefined) => ({
    ...(ledger !== undefined && { ledger }),
    ...(routerOption as GavelRouterOptions),
    pool: members.map(({ name, model, price }) => ({ name, model, price })),
    ...(budget !== undefined && { budget }),
  });
  const buildRouter: RouterFactory =
    typeof routerOption === "function" ? routerOption : (budget) => new AuctionRouter(routerOptionsFor(budget));
  const routerFor = perBudget(budgets, buildRouter);
  if (typeof routerOption !== "function" && budgets === undefined) routerFor(ANONYMOUS_KEY); // fail fast on bad options

  // --- the fast path of gavel/auto: the router's engine decides, the gateway calls the winner ---
  // With router options (not a factory) in memory or auto mode and every member on an
  // OpenAI-compatible upstream, a non-streamed request without tools or response_format is decided
  // by the same auction engine the router runs (one per budget, like the routers), the winner is
  // called as a pinned member is on its fast path, and the auction's ledger and memory writes
  // run after the response (tracked: `drain` waits for them).
  const fastRouted =
    typeof routerOption !== "function" &&
    (routerOption.mode === "memory" || routerOption.mode === "auto") &&
    members.every((member) => member.upstream !== undefined);
  // The router's own validation and defaults (`new AuctionRouter` runs the same two steps).
  const engineFor = perBudget(budgets, (budget) =>
    createStrategyAuctionEngine(
      resolveSettings(parseConfig("AuctionRouter options", auctionRouterOptionsSchema, routerOptionsFor(budget))),
    ),
  );
  /** Auctions the fast path decided (the last 10,000): their feedback is recorded here, not by a router. */
  const fastOutcomes = new RoutedOutcomes();
  /**
   * With keys, which key each auction was routed for: feedback is key-scoped. Forgotten auctions are
   * looked up in the routers' ledger (a factory's routers: the `ledger` option).
   */
  const owners =
    keys === undefined
      ? undefined
      : createAuctionOwners({
          ledger: (typeof routerOption === "function" ? undefined : routerOption.ledger) ?? ledger,
        });

  // --- members rebuilt with a request's sampling settings ---------------------------------------
  const samplingCopies = new Map<string, BaseChatModel>();
  const samplingCopy = (member: ServerMember, settings: Record<string, number>): BaseChatModel | undefined => {
    const cacheKey = `${member.name}\u0000${JSON.stringify(settings)}`;
    const cached = samplingCopies.get(cacheKey);
    if (cached !== undefined) return cached;
    const copy = rebuiltWith(member.model, settings);
    if (copy === undefined) return undefined;
    if (samplingCopies.size >= MAX_SAMPLING_COPIES) {
      const oldest = samplingCopies.keys().next().value;
      if (oldest !== undefined) samplingCopies.delete(oldest);
    }
    samplingCopies.set(cacheKey, copy);
    return copy;
  };

  // --- the prompt count of a reservation ---------------------------------------------------------
  // The router's counter: the same counts as `promptTokensOf`, with the counts of recently seen texts
  // kept (a system prompt or few-shot prefix that every request repeats is tokenized once).
  const promptCounter = new PromptTokenCounter();
  const reservedPromptTokens = (model: BaseChatModel, prompt: readonly BaseMessage[]): Promise<number> | number =>
    countsOwnPrompt(model) ? promptTokensOf(model, prompt) : promptCounter.messages(prompt, modelName(model));

  // --- in-flight requests and background settlements, for drain --------------------------------
  const inflight = new Set<ChatRequestState>();
  /** Pinned calls still running after their client left (stopped at their deadline or on shutdown). */
  const runningAbandoned = new Set<ChatRequestState>();
  const settlements = new Set<Promise<unknown>>();
  const trackSettlement = (work: Promise<unknown>) => {
    const tracked = work.catch(() => undefined).finally(() => settlements.delete(tracked));
    settlements.add(tracked);
  };
  let draining = false;

  const log = (level: "info" | "warn" | "error", event: string, fields: Record<string, unknown>) => {
    try {
      logger?.log(level, event, fields);
    } catch {
      // A logger that fails must not fail the request.
    }
  };

  /** Record a request's end once: metrics and one log line. */
  const complete = (state: ChatRequestState, status: number, error?: unknown) => {
    if (!inflight.has(state)) return;
    inflight.delete(state);
    const durationSeconds = (performance.now() - state.started) / 1000;
    const observation = { ...state.observation, status, durationSeconds };
    try {
      metrics?.observe(observation);
    } catch {
      // Metrics must not fail the request.
    }
    const level = status >= 500 ? "error" : status >= 400 ? "warn" : "info";
    log(level, "chat.completion", {
      requestId: state.requestId,
      keyId: state.key.id,
      status,
      durationMs: Math.round(durationSeconds * 1000),
      ...state.log,
      member: observation.member,
      path: observation.path,
      stream: observation.stream,
      inputTokens: observation.inputTokens,
      outputTokens: observation.outputTokens,
      usd: observation.usd,
      ...(error !== undefined && { error: describe(error) }),
    });
    state.finish();
  };

  /** The ledger charge of a pinned call. */
  const recordCharge = (
    state: ChatRequestState,
    member: ServerMember,
    usage: Usage,
    usd: number,
    scopes: ScopeIds | undefined,
    extra: { reservationId?: string; abandoned?: boolean },
  ) => {
    if (ledger === undefined) return;
    const scope = ledgerScopeOf(scopes);
    ledger
      .recordCharge({
        kind: "settle",
        model: names.get(member.name) ?? member.name,
        agent: member.name,
        ...(scope && { scope }),
        inputTokens: usage.inputTokens,
        outputTokens: usage.outputTokens,
        usd,
        estimated: usage.estimated === true,
        ...(extra.reservationId !== undefined && { reservationId: extra.reservationId }),
        label: "answer",
        metadata: {
          path: "pinned",
          keyId: state.key.id,
          requestId: state.requestId,
          ...(extra.abandoned && { abandoned: true }),
        },
      })
      .catch((error: unknown) => log("warn", "ledger.failed", { requestId: state.requestId, error: describe(error) }));
  };

  // --- the app ---------------------------------------------------------------------------------
  const app = new Hono<GavelAppEnv>();

  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", (c) => (draining ? c.json({ status: "draining" }, 503) : c.json({ status: "ready" })));
  if (metrics !== undefined) {
    app.get("/metrics", async (c) => {
      // With keys, the metrics (key ids, spend) need a valid gateway key too.
      if (keys !== undefined) {
        const header = c.req.header("authorization");
        const presented = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
        if (presented === undefined) return invalidApiKey(header !== undefined).toResponse();
        if ((await keys.verify(presented)) === undefined) return invalidApiKey(true).toResponse();
      }
      return c.body(await metrics.render(), 200, { "content-type": metrics.contentType });
    });
  }

  /** Contexts of the requests the chat route counts itself; `countRequest` counts the others. */
  const countedByChat = new WeakSet<object>();
  if (metrics !== undefined) {
    // First on /v1/*: also counts what the middleware refuses (413, 401, 429), /v1/models, and a
    // chat request refused while draining (503).
    app.use("/v1/*", async function countRequest(c, next) {
      const started = performance.now();
      await next();
      if (countedByChat.has(c)) return;
      const path = c.req.path;
      const route = path === "/v1/chat/completions" ? "chat" : path.startsWith("/v1/models") ? "models" : "other";
      const keyId = c.get("gavelKey")?.id;
      try {
        metrics.observe({
          route,
          status: c.res.status,
          durationSeconds: (performance.now() - started) / 1000,
          ...(keyId !== undefined && { keyId }),
        });
      } catch {
        // Metrics must not fail the request.
      }
    });
  }
  for (const handler of middleware) app.use("/v1/*", handler);
  app.use("/v1/*", async function gavelAuth(c, next) {
    if (keys === undefined) {
      c.set("gavelKey", ANONYMOUS_KEY);
      return next();
    }
    const header = c.req.header("authorization");
    const presented = header?.match(/^Bearer\s+(\S+)\s*$/i)?.[1];
    if (presented === undefined) return invalidApiKey(header !== undefined).toResponse();
    const key = await keys.verify(presented);
    if (key === undefined) return invalidApiKey(true).toResponse();
    c.set("gavelKey", key);
    return next();
  });
  for (const handler of keyedMiddleware) app.use("/v1/*", handler);

  app.get("/v1/models", () => new Response(modelsBody, { headers: { "content-type": "application/json" } }));
  app.get("/v1/models/*", (c) => {
    const raw = c.req.path.slice("/v1/models/".length);
    let id: string;
    try {
      id = decodeURIComponent(raw);
    } catch {
      id = raw; // a malformed escape names no model
    }
    const model = modelEntries.find((entry) => entry.id === id);
    return model === undefined ? modelNotFound(id, modelIds).toResponse() : c.json(model);
  });

  app.post("/v1/chat/completions", async (c) => {
    const key = c.get("gavelKey") ?? ANONYMOUS_KEY;
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    if (draining) return shuttingDown().toResponse();
    countedByChat.add(c);
    let finish!: () => void;
    const done = new Promise<void>((resolve) => {
      finish = resolve;
    });
    const state: ChatRequestState = {
      requestId,
      key,
      started: performance.now(),
      controller: new AbortController(),
      hardStop: new AbortController(),
      observation: { route: "chat", status: 0, durationSeconds: 0, keyId: key.id },
      log: {},
      done,
      finish,
    };
    inflight.add(state);
    const clientSignal = c.req.raw.signal;
    const onClientGone = () => state.controller.abort(new RequestAborted("client"));
    if (clientSignal.aborted) onClientGone();
    else clientSignal.addEventListener("abort", onClientGone, { once: true });
    const deadline = setTimeout(() => stopRequest(state, deadlineError(timeoutMs)), timeoutMs);
    deadline.unref?.();
    void done.finally(() => {
      clearTimeout(deadline);
      clientSignal.removeEventListener("abort", onClientGone);
    });
    try {
      const response = await handleChat(state, await c.req.text(), c.req.header("content-type"));
      return response;
    } catch (error) {
      const http = await toHttpError(error, state);
      complete(state, http.status, http.status >= 500 ? error : undefined);
      return http.toResponse(state.observation.member ? { [WINNER_HEADER]: state.observation.member } : {});
    }
  });

  // --- feedback (issue 10): a client grades a routed answer; the key's router records it -------
  app.post(FEEDBACK_PATH, async (c) =>
    handleFeedback(await c.req.text(), outcomeRecorder(c.get("gavelKey") ?? ANONYMOUS_KEY)),
  );

  app.notFound((c) =>
    c.json(
      {
        error: {
          message: `No route ${c.req.method} ${c.req.path}. The gateway serves POST /v1/chat/completions, POST /v1/gavel/feedback, GET /v1/models (and /v1/models/{id}), GET /health, GET /ready and GET /metrics.`,
          type: "invalid_request_error",
          code: "not_found",
          param: null,
        },
      },
      404,
    ),
  );
  app.onError((error, c) => {
    const requestId = c.get("requestId") ?? crypto.randomUUID();
    log("error", "request.failed", { requestId, path: c.req.path, error: describe(error) });
    return internalError(requestId).toResponse();
  });

  // --- chat ------------------------------------------------------------------------------------

  async function handleChat(state: ChatRequestState, text: string, contentType: string | undefined) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch (error) {
      const hint = contentType?.includes("json") ? "" : " (send it with Content-Type: application/json)";
      throw invalidRequest(
        `We could not parse the JSON body of your request: ${error instanceof Error ? error.message : String(error)}. Send a JSON object${hint}.`,
        null,
        "invalid_json",
      );
    }
    const { request, ignoredFields } = parseChatRequest(body);
    if (ignoredFields.length > 0) state.log.ignoredFields = ignoredFields;
    state.log.model = request.model;
    if (logPrompts) state.log.messages = request.messages;
    const stream = request.stream === true;
    state.observation.stream = stream;
    const messages = toLangChainMessages(request.messages); // also validates tool calls' arguments
    const user = request.user;
    if (user !== undefined) state.user = user;
    // With keys and no budgets, calls still run under the key's run scope: the ledger records which
    // key each auction ran for (feedback after a restart is key-scoped by it).
    const scopes =
      budgets?.scopesFor(state.key, user) ?? (keys === undefined ? undefined : { run: keyRunId(state.key) });
    if (request.model === ROUTER_MODEL_ID) {
      state.observation.path = "router";
      if (fastRouted && !stream && (request.tools ?? []).length === 0 && request.response_format === undefined) {
        return routedUpstream(state, request, messages, engineFor(state.key), scopes);
      }
      const target = routerTarget(state, request, scopes);
      return stream ? streamRouted(state, request, messages, target) : invokeRouted(state, messages, target);
    }
    const member = byName.get(request.model);
    if (member === undefined) throw modelNotFound(request.model, modelIds);
    state.observation.path = "pinned";
    state.observation.member = member.name;
    if (member.upstream !== undefined && !stream) {
      return pinnedUpstream(state, request, messages, member, member.upstream, scopes);
    }
    return pinned(state, request, messages, member, scopes);
  }

  function routerTarget(state: ChatRequestState, request: ChatCompletionRequest, scopes: ScopeIds | undefined): Target {
    const router = routerFor(state.key);
    const format = request.response_format;
    const tools = (request.tools ?? []) as BindToolsInput[];
    let toolAsContent = false;
    let runnable: Runnable = router;
    if (format?.type === "json_schema") {
      if (tools.length > 0) {
        throw invalidRequest(
          "Invalid value for 'response_format': gavel/auto cannot combine tools with a json_schema response format; pin a model for both, or drop one.",
          "response_format",
        );
      }
      // The winner answers by a forced call of a tool whose parameters are the schema; its
      // arguments are the content (the way LangChain's withStructuredOutput works on any model).
      const { name, description, schema } = format.json_schema;
      const tool = {
        type: "function",
        function: {
          name,
          ...(description !== undefined && { description }),
          parameters: schema ?? { type: "object" },
        },
      };
      runnable = router.bindTools([tool], { tool_choice: { type: "function", function: { name } } } as never);
      toolAsContent = true;
    } else if (tools.length > 0) {
      runnable = router.bindTools(
        tools,
        request.tool_choice !== undefined ? ({ tool_choice: request.tool_choice } as never) : undefined,
      );
    }
    return {
      path: "router",
      member: ROUTER_MODEL_ID,
      runnable,
      callOptions: { ...(scopes !== undefined && { budgetScopes: scopes }) },
      toolAsContent,
    };
  }

  async function invokeRouted(state: ChatRequestState, messages: BaseMessage[], target: Target): Promise<Response> {
    const reply = (await target.runnable.invoke(messages, {
      ...target.callOptions,
      signal: state.controller.signal,
    })) as AIMessageChunk;
    const gavel = reply.response_metadata?.gavel as RouterMetadata | undefined;
    const winner = gavel?.auction.winner ?? ROUTER_MODEL_ID;
    const auctionId = gavel?.auction.auctionId;
    const usage = usageOf(reply);
    Object.assign(state.observation, {
      member: winner,
      inputTokens: usage.prompt_tokens,
      outputTokens: usage.completion_tokens,
      ...(gavel !== undefined && { usd: gavel.usage.usd.execution + gavel.usage.usd.auction }),
    });
    if (auctionId !== undefined) {
      state.log.auctionId = auctionId;
      owners?.remember(auctionId, state.key);
    }
    const answer = target.toolAsContent ? toolCallAsContent(reply) : reply;
    if (logPrompts) state.log.answer = textOf(answer.content);
    const completion = toChatCompletion(answer, { id: completionId(), model: winner, created: nowSeconds(), usage });
    complete(state, 200);
    return Response.json(completion, {
      headers: { [WINNER_HEADER]: winner, ...(auctionId !== undefined && { [AUCTION_ID_HEADER]: auctionId }) },
    });
  }

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
          `the winner "${run.winner.name}" failed to answer: ${describe(error)}`,
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
    const usage = {
      prompt_tokens: call.usage.inputTokens,
      completion_tokens: call.usage.outputTokens,
      total_tokens: call.usage.inputTokens + call.usage.outputTokens,
    };
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
        : {
            ...completion,
            model: winner,
            ...((completion.usage === undefined || completion.usage === null) && { usage }),
          };
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
          const url = `${upstream.baseURL.replace(/\/+$/, "")}/chat/completions`;
          const timed =
            upstream.timeoutMs === undefined
              ? callSignal
              : eitherSignal(callSignal, AbortSignal.timeout(upstream.timeoutMs));
          const completion = await callUpstream(url, upstream.apiKey, JSON.stringify(body), timed, winner.name);
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
   * Feedback on an auction of the fast path is recorded as `AuctionRouter.recordOutcome` records it
   * (the same rule and refusals), once the auction's writes are done; auctions the fast path did not
   * decide go to the key's router. With keys, only the key the auction was routed for may grade it.
   */
  const outcomeRecorder = (key: VirtualKey): OutcomeRecorder => {
    const recorder: OutcomeRecorder = {
      recordOutcome: (auctionId: string, outcome: RouterOutcome) =>
        fastOutcomes.has(auctionId)
          ? fastOutcomes.record(auctionId, outcome, engineFor(key).settings)
          : routerFor(key).recordOutcome(auctionId, outcome),
    };
    return owners === undefined ? recorder : keyScoped(recorder, owners, key);
  };

  async function streamRouted(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    messages: BaseMessage[],
    target: Target,
  ): Promise<Response> {
    const iterator = (
      await target.runnable.stream(messages, { ...target.callOptions, signal: state.controller.signal })
    )[Symbol.asyncIterator]() as AsyncIterator<AIMessageChunk>;
    return sendStream(state, request, iterator, {
      toolAsContent: target.toolAsContent,
      whoAnswers(first) {
        const marked = first.response_metadata?.gavel_answer as { auctionId?: string; winner?: string } | undefined;
        const winner = marked?.winner ?? ROUTER_MODEL_ID;
        if (marked?.auctionId !== undefined) {
          state.log.auctionId = marked.auctionId;
          owners?.remember(marked.auctionId, state.key);
        }
        return {
          member: winner,
          headers: {
            [WINNER_HEADER]: winner,
            ...(marked?.auctionId !== undefined && { [AUCTION_ID_HEADER]: marked.auctionId }),
          },
        };
      },
      // The router settles its own reservations, also for a stream the caller stops reading.
      async close(gathered) {
        const gavel = gathered?.response_metadata?.gavel as RouterMetadata | undefined;
        const usage = gathered === undefined ? undefined : usageOf(gathered);
        Object.assign(state.observation, {
          ...(usage && { inputTokens: usage.prompt_tokens, outputTokens: usage.completion_tokens }),
          ...(gavel !== undefined && { usd: gavel.usage.usd.execution + gavel.usage.usd.auction }),
        });
        await iterator.return?.()?.catch(() => undefined);
        return usage;
      },
    });
  }

  /** A call pinned to `member`: reserved on the key's budget, settled at the provider's usage. */
  async function pinned(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    messages: BaseMessage[],
    member: ServerMember,
    scopes: ScopeIds | undefined,
  ): Promise<Response> {
    const name = names.get(member.name) ?? member.name;
    const { model, maxOutputTokens } = pinnedModel(member, request);
    const tools = (request.tools ?? []) as BindToolsInput[];
    let runnable: Runnable = model;
    if (tools.length > 0) {
      if (typeof model.bindTools !== "function") {
        throw invalidRequest(`Invalid value for 'tools': the model '${member.name}' does not support tools.`, "tools");
      }
      runnable = model.bindTools(tools, {
        ...(request.tool_choice !== undefined && { tool_choice: request.tool_choice }),
        ...(request.parallel_tool_calls !== undefined && { parallel_tool_calls: request.parallel_tool_calls }),
      } as never);
    }
    const isOpenAI = model._llmType() === "openai";
    const stop = request.stop === undefined || request.stop === null ? undefined : [request.stop].flat();
    const callOptions: Record<string, unknown> = {
      ...(stop !== undefined && { stop }),
      ...(isOpenAI && request.response_format !== undefined && { response_format: request.response_format }),
      ...(isOpenAI && typeof request.seed === "number" && { seed: request.seed }),
    };
    const budget = budgets?.budgetFor(state.key);
    const bill = billAbandonedCalls(member);
    let reservation: Reservation | undefined;
    if (budget !== undefined) {
      const inputTokens = (await reservedPromptTokens(model, messages)) + countToolTokens(tools, name);
      reservation = await budget.reserve({
        model: name,
        inputTokens,
        maxOutputTokens,
        label: "server.answer",
        ...(scopes !== undefined && { scopes }),
      });
    }
    const account = pinnedAccount(state, member, scopes, reservation);
    const headers = { [WINNER_HEADER]: member.name };

    if (request.stream === true) {
      let iterator: AsyncIterator<AIMessageChunk>;
      try {
        // The request's own signal: a client that leaves later still aborts the upstream stream.
        const signal = state.controller.signal;
        iterator = (await raceAbort(runnable.stream(messages, { ...callOptions, signal }), signal))[
          Symbol.asyncIterator
        ]() as AsyncIterator<AIMessageChunk>;
      } catch (error) {
        if (reservation !== undefined && budget !== undefined) await releaseQuietly(budget, reservation);
        throw error;
      }
      return sendStream(state, request, iterator, {
        toolAsContent: false,
        whoAnswers: () => ({ member: member.name, headers }),
        async close(gathered, how) {
          void iterator.return?.()?.catch(() => undefined);
          const streamed = gathered ?? undefined;
          const usage = usageFromMessage(
            {
              content: streamed?.content ?? "",
              tool_calls: streamed?.tool_calls ?? [],
              usage_metadata: streamed?.usage_metadata,
            },
            messages,
            name,
          );
          let settlement: Settlement | undefined;
          if (reservation !== undefined && budget !== undefined) {
            if (how === "complete") settlement = await settleQuietly(budget, reservation, usage);
            else if (how === "failed" && gathered === undefined) await releaseQuietly(budget, reservation);
            else {
              // Cut short (client gone, deadline, shutdown, a failure mid-stream): the provider
              // generated what was streamed, and stopped when the connection closed.
              settlement = await closeAbandoned(budget, reservation, {
                bill,
                streamed: usage,
              });
            }
          }
          const usd = how === "failed" && gathered === undefined ? 0 : account(usage, settlement, how !== "complete");
          Object.assign(state.observation, {
            inputTokens: usage.inputTokens,
            outputTokens: usage.outputTokens,
            usd,
          });
          return {
            prompt_tokens: usage.inputTokens,
            completion_tokens: usage.outputTokens,
            total_tokens: usage.inputTokens + usage.outputTokens,
          };
        },
      });
    }

    // The call runs on `hardStop`: a client that leaves stops the wait, not the call.
    const upstream = state.hardStop.signal;
    const { result: reply, usage } = await callAndSettle(
      state,
      member,
      { budget, reservation, bill, account },
      () => runnable.invoke(messages, { ...callOptions, signal: upstream }) as Promise<AIMessage>,
      (answer) => usageFromMessage(answer, messages, name),
    );
    if (logPrompts) state.log.answer = textOf(reply.content);
    const completion = toChatCompletion(reply, {
      id: completionId(),
      model: member.name,
      created: nowSeconds(),
      usage: {
        prompt_tokens: usage.inputTokens,
        completion_tokens: usage.outputTokens,
        total_tokens: usage.inputTokens + usage.outputTokens,
      },
    });
    complete(state, 200);
    return Response.json(completion, { headers });
  }

  /** What a pinned call charges: its settlement (or the cost at the member's price), recorded in the ledger. */
  function pinnedAccount(
    state: ChatRequestState,
    member: ServerMember,
    scopes: ScopeIds | undefined,
    reservation: Reservation | undefined,
  ) {
    return (usage: Usage, settlement: Settlement | undefined, abandoned = false): number => {
      const usd = settlement?.usd ?? costUsd(member.price, usage);
      recordCharge(state, member, usage, usd, scopes, {
        ...(reservation !== undefined && { reservationId: reservation.id }),
        abandoned,
      });
      return usd;
    };
  }

  /**
   * Run a non-streamed pinned call under the request's deadline and close its reservation: settled
   * at the reply's usage; released when the call failed; when its wait was abandoned (client gone,
   * deadline, shutdown), left to {@link settleAbandonedCall}. The LangChain path and the fast path
   * both call it.
   */
  async function callAndSettle<T>(
    state: ChatRequestState,
    member: ServerMember,
    held: {
      budget: SharedTokenBudget | undefined;
      reservation: Reservation | undefined;
      bill: boolean;
      account: (usage: Usage, settlement: Settlement | undefined, abandoned?: boolean) => number;
    },
    call: () => Promise<T>,
    usageOf: (result: T) => Usage,
  ): Promise<{ result: T; usage: Usage }> {
    const { budget, reservation, bill, account } = held;
    let abandoned: Promise<T> | undefined;
    let result: T;
    try {
      result = await runWithDeadline(call, {
        signal: state.controller.signal,
        onAbandoned: (pending) => {
          abandoned = pending;
        },
      });
    } catch (error) {
      if (reservation !== undefined && budget !== undefined) {
        const pending = abandoned as Promise<T> | undefined; // assigned in onAbandoned
        if (pending === undefined) await releaseQuietly(budget, reservation);
        else settleAbandonedCall(state, member, budget, reservation, { bill, late: pending.then(usageOf), account });
      }
      throw error;
    }
    const usage = usageOf(result);
    const settlement =
      reservation !== undefined && budget !== undefined ? await settleQuietly(budget, reservation, usage) : undefined;
    const usd = account(usage, settlement);
    Object.assign(state.observation, { inputTokens: usage.inputTokens, outputTokens: usage.outputTokens, usd });
    return { result, usage };
  }

  /**
   * Settle a non-streamed pinned call whose wait was abandoned (client gone, deadline, shutdown):
   * the provider bills the reply it still generates. A client's leaving lets the call finish (up to
   * the request's deadline), so it is charged at the usage of its reply; a call stopped at the
   * deadline or on shutdown is charged the whole reservation (docs/budgets.md, "What is billed and
   * what is settled"). The charge reaches the metrics (`settledLate`) once the request was counted.
   */
  function settleAbandonedCall(
    state: ChatRequestState,
    member: ServerMember,
    budget: SharedTokenBudget,
    held: Reservation,
    how: {
      bill: boolean;
      late: Promise<Usage>;
      account: (usage: Usage, settlement: Settlement | undefined, abandoned: boolean) => number;
    },
  ): void {
    const remaining = Math.max(1, Math.ceil(timeoutMs - (performance.now() - state.started)));
    const timer = setTimeout(() => stopRequest(state, deadlineError(timeoutMs)), remaining);
    timer.unref?.();
    runningAbandoned.add(state);
    trackSettlement(
      closeAbandoned(budget, held, {
        bill: how.bill,
        graceMs: remaining + 1_000,
        late: how.late.catch(() => undefined),
      })
        .then((settlement) => {
          if (settlement === undefined) return;
          const usd = how.account(settlement.usage, settlement, true);
          const { inputTokens, outputTokens } = settlement.usage;
          if (inflight.has(state)) {
            Object.assign(state.observation, { inputTokens, outputTokens, usd }); // counted when it ends
            return;
          }
          try {
            metrics?.settledLate?.({ member: member.name, keyId: state.key.id, inputTokens, outputTokens, usd });
          } catch {
            // Metrics must not fail the settlement.
          }
        })
        .finally(() => {
          clearTimeout(timer);
          runningAbandoned.delete(state);
        }),
    );
  }

  /**
   * The fast path of a pinned non-streamed call to a member with an OpenAI-compatible `upstream`:
   * the validated body goes to `${baseURL}/chat/completions` as it is (the member's model, the
   * output cap at most the member's, the member's key), and the provider's `chat.completion` comes
   * back as it is (`model`: the member's name). Reserved, settled, charged and counted as
   * {@link pinned} does, without building LangChain messages of the reply. Provider errors: 4xx
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
      const reported = completion.usage;
      const counted = () => countOutputTokens(replyOf(completion), name);
      if (
        reported !== undefined &&
        reported !== null &&
        isCount(reported.prompt_tokens) &&
        isCount(reported.completion_tokens)
      ) {
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
    const url = `${upstream.baseURL.replace(/\/+$/, "")}/chat/completions`;
    const payload = JSON.stringify(body);
    // The call runs on `hardStop` (and the member's timeout): a client that leaves stops the wait, not the call.
    const callSignal =
      upstream.timeoutMs === undefined
        ? state.hardStop.signal
        : eitherSignal(state.hardStop.signal, AbortSignal.timeout(upstream.timeoutMs));
    const { result: completion, usage } = await callAndSettle(
      state,
      member,
      { budget, reservation, bill: billAbandonedCalls(member), account },
      () => callUpstream(url, upstream.apiKey, payload, callSignal, member.name),
      usageOfCompletion,
    );
    if (logPrompts) state.log.answer = completion.choices[0]?.message?.content ?? "";
    const answer = {
      ...completion,
      model: member.name,
      ...((completion.usage === undefined || completion.usage === null) && {
        usage: {
          prompt_tokens: usage.inputTokens,
          completion_tokens: usage.outputTokens,
          total_tokens: usage.inputTokens + usage.outputTokens,
        },
      }),
    };
    complete(state, 200);
    return new Response(JSON.stringify(answer), {
      headers: { "content-type": "application/json", [WINNER_HEADER]: member.name },
    });
  }

  /**
   * The member to call for `request` and the output cap to reserve: rebuilt (cached) with the
   * request's `max_tokens` / `max_completion_tokens` (never above the member's own cap),
   * `temperature` and `top_p` when the member takes them at construction (as `ChatOpenAI` does).
   */
  function pinnedModel(member: ServerMember, request: ChatCompletionRequest) {
    const declared = declaredOutputCap(member.model);
    const requested = request.max_completion_tokens ?? request.max_tokens ?? undefined;
    const settings: Record<string, number> = {};
    const fields = member.model as unknown as Record<string, unknown>;
    if (requested !== undefined && (declared === undefined || requested < declared)) settings.maxTokens = requested;
    // No cap anywhere: the reserved default goes upstream, so usage never exceeds the reservation.
    else if (declared === undefined) settings.maxTokens = DEFAULT_PINNED_MAX_TOKENS;
    if (
      typeof request.temperature === "number" &&
      "temperature" in fields &&
      fields.temperature !== request.temperature
    )
      settings.temperature = request.temperature;
    if (typeof request.top_p === "number" && "topP" in fields && fields.topP !== request.top_p)
      settings.topP = request.top_p;
    if (Object.keys(settings).length === 0) {
      return { model: member.model, maxOutputTokens: declared ?? DEFAULT_PINNED_MAX_TOKENS };
    }
    const copy = samplingCopy(member, settings);
    if (copy === undefined) return { model: member.model, maxOutputTokens: declared ?? DEFAULT_PINNED_MAX_TOKENS };
    return { model: copy, maxOutputTokens: declaredOutputCap(copy) ?? declared ?? DEFAULT_PINNED_MAX_TOKENS };
  }

  /**
   * Send a LangChain stream as OpenAI server-sent events. Waits for the first chunk before sending
   * headers (errors before it are plain OpenAI errors; for `gavel/auto` the auction is decided by
   * then). A client that leaves aborts the upstream call; `close` runs once, whatever ends the stream.
   */
  async function sendStream(
    state: ChatRequestState,
    request: ChatCompletionRequest,
    iterator: AsyncIterator<AIMessageChunk>,
    plan: {
      toolAsContent: boolean;
      whoAnswers(first: AIMessageChunk): { member: string; headers: Record<string, string> };
      close(
        gathered: AIMessageChunk | undefined,
        how: "complete" | "abandoned" | "failed",
      ): Promise<CompletionUsage | undefined>;
    },
  ): Promise<Response> {
    const signal = state.controller.signal;
    let first: IteratorResult<AIMessageChunk>;
    try {
      first = await nextOrAbort(iterator, signal);
    } catch (error) {
      await plan.close(undefined, signal.aborted ? "abandoned" : "failed");
      throw error;
    }
    const { member, headers } = first.done
      ? { member: state.observation.member ?? ROUTER_MODEL_ID, headers: {} }
      : plan.whoAnswers(first.value);
    state.observation.member = member;
    const encoder = createChunkEncoder({
      id: completionId(),
      model: member,
      created: nowSeconds(),
      includeUsage: request.stream_options?.include_usage === true,
    });
    const bytes = new TextEncoder();
    let gathered: AIMessageChunk | undefined;
    let closing: Promise<CompletionUsage | undefined> | undefined;
    const closeOnce = (how: "complete" | "abandoned" | "failed") => {
      if (closing === undefined) {
        closing = plan.close(gathered, how);
        trackSettlement(closing); // drain waits for it
      }
      return closing;
    };
    const take = (chunk: AIMessageChunk) => {
      gathered = gathered === undefined ? chunk : gathered.concat(chunk);
      return encoder.chunk(plan.toolAsContent ? toolChunkAsContent(chunk) : chunk);
    };
    let opened = false;
    let pulling = false;
    let streamController: ReadableStreamDefaultController<Uint8Array> | undefined;
    const ended = (status: number, error?: unknown) => {
      signal.removeEventListener("abort", onStopped);
      if (opened) metrics?.streamClosed?.();
      opened = false;
      complete(state, status, error);
    };
    // A deadline, shutdown or leaving client while no pull is pending (a client that stopped
    // reading: the socket is backpressured, pull is not called): settle here, end the stream.
    const onStopped = () => {
      if (pulling) return; // the pending pull settles and ends the stream
      const reason: unknown = signal.reason;
      void closeOnce("abandoned").then(async () => {
        const status =
          reason instanceof RequestAborted && reason.why === "client" ? 499 : (await toHttpError(reason, state)).status;
        ended(status, status >= 500 ? reason : undefined);
        try {
          streamController?.error(reason);
        } catch {
          // Already closed.
        }
      });
    };
    if (signal.aborted) queueMicrotask(onStopped);
    else signal.addEventListener("abort", onStopped, { once: true });
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        streamController = controller;
        opened = true;
        metrics?.streamOpened?.();
        if (!first.done) controller.enqueue(bytes.encode(take(first.value)));
      },
      async pull(controller) {
        pulling = true;
        try {
          // Read until there is something to send: a pull that enqueues nothing is not called again.
          for (;;) {
            const next = first.done ? first : await nextOrAbort(iterator, signal);
            if (next.done) {
              const usage = (await closeOnce("complete")) ?? usageOf(gathered ?? { usage_metadata: undefined });
              controller.enqueue(bytes.encode(encoder.end(usage)));
              controller.close();
              ended(200);
              return;
            }
            const events = take(next.value);
            if (events.length > 0) {
              controller.enqueue(bytes.encode(events));
              return;
            }
          }
        } catch (error) {
          const how = signal.aborted ? "abandoned" : "failed";
          await closeOnce(how);
          const reason = signal.aborted ? signal.reason : error;
          if (reason instanceof RequestAborted && reason.why === "client") {
            ended(499);
            try {
              controller.close();
            } catch {
              // Already ended.
            }
            return;
          }
          // Headers are sent: the error goes in the stream, as OpenAI sends one.
          const http = await toHttpError(reason, state);
          try {
            controller.enqueue(bytes.encode(sseEvent(http.body) + SSE_DONE));
            controller.close();
          } catch {
            // The client is gone.
          }
          ended(http.status, reason);
        } finally {
          pulling = false;
        }
      },
      async cancel(reason) {
        if (!signal.aborted) state.controller.abort(new RequestAborted("client"));
        await closeOnce("abandoned");
        ended(499, undefined);
        void reason;
      },
    });
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache",
        connection: "keep-alive",
        "x-accel-buffering": "no",
        ...headers,
      },
    });
  }

  /** The error response of a failed chat request. */
  async function toHttpError(error: unknown, state: ChatRequestState): Promise<OpenAIHttpError> {
    const reason = state.controller.signal.aborted ? state.controller.signal.reason : undefined;
    const cause = reason instanceof RequestAborted || DeadlineExceededError.isInstance(reason) ? reason : error;
    if (cause instanceof OpenAIHttpError) return cause;
    const member = state.observation.member ?? ROUTER_MODEL_ID;
    if (BudgetExhaustedError.isInstance(cause)) {
      metrics?.rejected("budget", state.key.id);
      const standing = budgets ? await budgets.standing(state.key, state.user).catch(() => ({})) : {};
      return budgetExhausted(standing, `the next call needs up to ${cause.requested} ${cause.unit}`);
    }
    if (cause instanceof RequestAborted) {
      return cause.why === "shutdown"
        ? shuttingDown()
        : new OpenAIHttpError(499, {
            message: "The client closed the connection.",
            type: "invalid_request_error",
            code: "client_closed_request",
            param: null,
          });
    }
    if (DeadlineExceededError.isInstance(cause) || isTimeout(cause)) {
      return providerTimeout(member, DeadlineExceededError.isInstance(cause) ? cause.timeoutMs : undefined);
    }
    if (AuctionRouterError.isInstance(cause)) {
      const inner = cause.errors;
      // Every member refused the request itself (e.g. 400 no_recorded_answer): a retry cannot help.
      if (inner.length > 0 && inner.every((e) => e instanceof OpenAIHttpError && e.status < 500)) {
        return inner[inner.length - 1] as OpenAIHttpError;
      }
      return cause.errors.every((inner) => DeadlineExceededError.isInstance(inner) || isTimeout(inner))
        ? providerTimeout(member)
        : providerError(member);
    }
    if (ConfigError.isInstance(cause) || GavelError.isInstance(cause)) return internalError(state.requestId);
    const status = providerStatus(cause);
    if (status !== undefined || isProviderFailure(cause)) return providerError(member, status);
    return internalError(state.requestId);
  }

  return {
    app,
    get draining() {
      return draining;
    },
    get inflight() {
      return inflight.size;
    },
    async drain(drainTimeoutMs: number) {
      draining = true;
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

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

function checkMembers(members: readonly ServerMember[], timeoutMs: number): void {
  const seen = new Set<string>();
  for (const [index, member] of members.entries()) {
    if (member.name === ROUTER_MODEL_ID || seen.has(member.name)) {
      throw configError(
        `members[${index}].name`,
        member.name === ROUTER_MODEL_ID
          ? `"${ROUTER_MODEL_ID}" is the router's id; name the member otherwise`
          : `duplicate member name "${member.name}"; names must be unique`,
      );
    }
    seen.add(member.name);
  }
  // Budgets price a reservation by model id: two members of one model must share its price.
  const priceOfModel = new Map<string, { name: string; price: ServerMember["price"] }>();
  for (const [index, member] of members.entries()) {
    const id = modelName(member.model);
    const other = priceOfModel.get(id);
    if (other === undefined) priceOfModel.set(id, { name: member.name, price: member.price });
    else if (JSON.stringify(other.price) !== JSON.stringify(member.price)) {
      throw configError(
        `members[${index}].price`,
        `member "${member.name}" calls model "${id}" as "${other.name}" does, at another price; the budgets price a model once: give both the same price`,
      );
    }
  }
  if (members.length === 0) throw configError("members", "give at least one member");
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    throw configError("timeoutMs", `must be a whole number of ms in 1..${MAX_TIMEOUT_MS}`);
  }
}

function configError(path: string, message: string): ConfigError {
  const segments = path
    .split(/[.[\]]+/)
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
  return new ConfigError(
    "createGavelApp options",
    new ZodError([{ code: "custom", path: segments, message, input: undefined }]),
  );
}

/** Stop a request and its upstream call (deadline, shutdown). */
function stopRequest(state: ChatRequestState, reason: unknown): void {
  if (!state.controller.signal.aborted) state.controller.abort(reason);
  if (!state.hardStop.signal.aborted) state.hardStop.abort(reason);
}

function deadlineError(timeoutMs: number): DeadlineExceededError {
  return new DeadlineExceededError(timeoutMs, Promise.resolve(undefined), { label: "The request" });
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** `iterator.next()`, rejected with the signal's reason as soon as it aborts (even if the stream ignores it). */
function nextOrAbort<T>(iterator: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  return signal.aborted ? Promise.reject(signal.reason) : raceAbort(iterator.next(), signal);
}

/** `work`, rejected with the signal's reason as soon as it aborts (even if `work` ignores it). */
function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
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

/** The narrowest scope of a call, for its ledger charge. */
function ledgerScopeOf(scopes: ScopeIds | undefined): LedgerScope | undefined {
  if (scopes === undefined) return undefined;
  for (const kind of ["example", "run", "thread"] as const) {
    const id = scopes[kind];
    if (id !== undefined) return { kind, id };
  }
  return undefined;
}

/** A forced tool call's arguments as the answer's content (json_schema on `gavel/auto`). */
function toolCallAsContent(reply: AIMessageChunk): AIMessageChunk {
  const call = reply.tool_calls?.[0];
  const content = call === undefined ? textOf(reply.content) : JSON.stringify(call.args ?? {});
  return Object.assign(Object.create(Object.getPrototypeOf(reply)), reply, {
    content,
    tool_calls: [],
    tool_call_chunks: [],
    response_metadata: { ...reply.response_metadata, finish_reason: "stop" },
  }) as AIMessageChunk;
}

/** A chunk of a forced tool call, as a content delta (json_schema on `gavel/auto`, streamed). */
function toolChunkAsContent(chunk: AIMessageChunk): AIMessageChunk {
  const args = (chunk.tool_call_chunks ?? []).map((call) => call.args ?? "").join("");
  const finish = chunk.response_metadata?.finish_reason;
  return Object.assign(Object.create(Object.getPrototypeOf(chunk)), chunk, {
    content: args,
    tool_calls: [],
    tool_call_chunks: [],
    response_metadata: { ...chunk.response_metadata, ...(finish !== undefined && { finish_reason: "stop" }) },
  }) as AIMessageChunk;
}

/** A signal aborted with the first of `a`, `b` to abort (`AbortSignal.any`, which Node 20.0–20.2 lack). */
function eitherSignal(a: AbortSignal, b: AbortSignal): AbortSignal {
  if (typeof AbortSignal.any === "function") return AbortSignal.any([a, b]);
  const controller = new AbortController();
  for (const signal of [a, b]) {
    if (signal.aborted) controller.abort(signal.reason);
    else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  }
  return controller.signal;
}

/** A provider's `chat.completion`, as far as the fast path reads it (the rest passes through). */
interface UpstreamCompletion {
  choices: Array<{
    message?: {
      content?: string | null;
      tool_calls?: Array<{ id?: string; function?: { name?: string; arguments?: string } }>;
    };
  }>;
  usage?: { prompt_tokens?: number; completion_tokens?: number } | null;
  [field: string]: unknown;
}

/** Keep-alive connections to the members' providers, shared by every gateway of the process. */
const UPSTREAM_AGENTS = {
  http: new HttpAgent({ keepAlive: true }),
  https: new HttpsAgent({ keepAlive: true }),
};

/**
 * POST `body` to `url` with `node:http(s)` on a keep-alive agent: `{ status, text }` once the whole
 * answer is read. Lighter than `fetch` (no web streams, no copy of the body kept for a redirect),
 * which cost the fast paths about a tenth of the gateway's CPU. An abort of `signal` rejects with its
 * reason, as `fetch` does.
 */
function postJson(
  url: string,
  headers: Record<string, string>,
  body: string,
  signal: AbortSignal,
): Promise<{ status: number; text: string }> {
  if (signal.aborted) return Promise.reject(signal.reason);
  const secure = url.startsWith("https:");
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener("abort", onAbort);
      reject(error);
    };
    const onResponse = (response: IncomingMessage) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", fail);
      response.on("close", () => fail(new Error(`socket closed before the answer of ${url} was read`)));
      response.on("end", () => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        resolve({ status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") });
      });
    };
    const outgoing = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: "POST",
        agent: secure ? UPSTREAM_AGENTS.https : UPSTREAM_AGENTS.http,
        headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      },
      onResponse,
    );
    const onAbort = () => {
      fail(signal.reason);
      outgoing.destroy();
    };
    signal.addEventListener("abort", onAbort, { once: true });
    outgoing.on("error", fail);
    outgoing.end(body);
  });
}

/**
 * POST `payload` to an OpenAI-compatible `url` ({@link postJson}: `node:http`, keep-alive). A
 * provider's 4xx passes through with its own body, except 401/403 (the gateway's key was refused)
 * → 502; 5xx and an unreadable answer → 502.
 */
async function callUpstream(
  url: string,
  apiKey: string | undefined,
  payload: string,
  signal: AbortSignal,
  member: string,
): Promise<UpstreamCompletion> {
  const response = await postJson(
    url,
    {
      "content-type": "application/json",
      accept: "application/json",
      ...(apiKey !== undefined && { authorization: `Bearer ${apiKey}` }),
    },
    payload,
    signal,
  );
  const { text } = response;
  if (!(response.status >= 200 && response.status < 300)) {
    const status = response.status;
    if (status < 400 || status >= 500 || status === 401 || status === 403) throw providerError(member, status);
    const error = parsedJson(text)?.error as Record<string, unknown> | undefined;
    throw new OpenAIHttpError(status, {
      message:
        typeof error?.message === "string"
          ? error.message
          : `The provider of '${member}' refused the request (HTTP ${status}).`,
      type: (typeof error?.type === "string"
        ? error.type
        : "invalid_request_error") as OpenAIErrorBody["error"]["type"],
      code: typeof error?.code === "string" ? error.code : null,
      param: typeof error?.param === "string" ? error.param : null,
    });
  }
  const completion = parsedJson(text);
  if (completion === undefined || !Array.isArray(completion.choices)) throw providerError(member);
  return completion as UpstreamCompletion;
}

function parsedJson(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A provider's completion as the message the router's accounting reads (content, tool calls, usage). */
function replyMessage(completion: UpstreamCompletion): AIMessage {
  const { content, tool_calls } = replyOf(completion);
  const reported = completion.usage;
  const usage_metadata =
    reported !== undefined &&
    reported !== null &&
    isCount(reported.prompt_tokens) &&
    isCount(reported.completion_tokens)
      ? {
          input_tokens: reported.prompt_tokens,
          output_tokens: reported.completion_tokens,
          total_tokens: reported.prompt_tokens + reported.completion_tokens,
        }
      : undefined;
  return new AIMessage({ content, tool_calls, ...(usage_metadata !== undefined && { usage_metadata }) });
}

/** A provider's reply as `countOutputTokens` reads it (content and tool calls). */
function replyOf(completion: UpstreamCompletion): Pick<AIMessage, "content" | "tool_calls"> {
  const message = completion.choices[0]?.message;
  const tool_calls = (message?.tool_calls ?? []).map((call) => ({
    name: call.function?.name ?? "",
    args: (parsedJson(call.function?.arguments ?? "") ?? {}) as Record<string, unknown>,
    ...(call.id !== undefined && { id: call.id }),
  }));
  return { content: message?.content ?? "", tool_calls };
}

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isInteger(value) && value >= 0;
}

/** The HTTP status a provider answered with, on the error or its causes. */
function providerStatus(error: unknown): number | undefined {
  for (let current = error, depth = 0; current instanceof Object && depth < 5; depth += 1) {
    const status = (current as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 600) return status;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** A timeout raised by a client library (the OpenAI SDK's `APIConnectionTimeoutError`, a fetch `TimeoutError`). */
function isTimeout(error: unknown): boolean {
  return error instanceof Error && /timeout/i.test(error.name + (error.constructor?.name ?? ""));
}

/** A failure of the provider's connection (refused, reset) rather than of the gateway. */
function isProviderFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /connection|ECONNREFUSED|ECONNRESET|fetch failed|socket|network/i.test(`${error.name} ${error.message}`);
}

/** An error's name and message, for a log line (never sent to the client). */
function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
