/**
 * What the parts of `createGavelApp` share, built once per app by {@link createGateway}: the pool,
 * the routers and the fast path's engines (one per budget), the request books (requests in flight,
 * background settlements, one metrics observation and one log line when a request ends), the ledger
 * charge of a pinned call, and the HTTP error of a failed chat request. The chat route (`chat.ts`),
 * the fast paths (`fast-path.ts`) and the other routes (`routes.ts`) read it; `app.ts` assembles them.
 *
 * Read top to bottom: constants → a chat request → the gateway (`createGateway`) → checking the
 * members → helpers.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessage } from "@langchain/core/messages";
import { ZodError } from "zod";
import { closeAbandoned } from "../../src/budget/abandoned.js";
import type { Reservation, ScopeIds, Settlement, Usage } from "../../src/budget/index.js";
import { costUsd } from "../../src/budget/index.js";
import { releaseQuietly, type SharedTokenBudget, settleQuietly } from "../../src/budget/shared.js";
import { PromptTokenCounter } from "../../src/budget/tokens.js";
import { BudgetExhaustedError, ConfigError, describeError, GavelError, parseConfig } from "../../src/errors.js";
import { ledgerScopeOf } from "../../src/ledger/budget-events.js";
import { countsOwnPrompt, modelName, promptTokensOf, rebuiltWith } from "../../src/models.js";
import { createStrategyAuctionEngine } from "../../src/router/auction/index.js";
import { AuctionRouterError } from "../../src/router/errors.js";
import { auctionRouterOptionsSchema, resolveSettings } from "../../src/router/options.js";
import { RoutedOutcomes } from "../../src/router/outcomes.js";
import { AuctionRouter } from "../../src/router/router.js";
import { DeadlineExceededError, MAX_TIMEOUT_MS, runWithDeadline } from "../../src/timeouts.js";
import type { GavelAppOptions, GavelRouterOptions, RouterFactory } from "./app.js";
import { createAuctionOwners } from "./feedback.js";
import {
  budgetExhausted,
  type CompletionUsage,
  internalError,
  OpenAIHttpError,
  providerError,
  providerTimeout,
  shuttingDown,
} from "./openai.js";
import { type RequestObservation, ROUTER_MODEL_ID, type ServerMember, type VirtualKey } from "./types.js";

// ---------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// A chat request
// ---------------------------------------------------------------------------

/** Why a request's upstream call was aborted (the reason of its controller). */
export class RequestAborted extends Error {
  override readonly name = "RequestAborted";
  constructor(readonly why: "client" | "shutdown") {
    super(why === "client" ? "The client closed the connection." : "The gateway is shutting down.");
  }
}

/** One chat request, from arrival to its last byte. */
export interface ChatRequestState {
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

/** Stop a request and its upstream call (deadline, shutdown). */
export function stopRequest(state: ChatRequestState, reason: unknown): void {
  if (!state.controller.signal.aborted) state.controller.abort(reason);
  if (!state.hardStop.signal.aborted) state.hardStop.abort(reason);
}

export function deadlineError(timeoutMs: number): DeadlineExceededError {
  return new DeadlineExceededError(timeoutMs, Promise.resolve(undefined), { label: "The request" });
}

// ---------------------------------------------------------------------------
// The gateway
// ---------------------------------------------------------------------------

/** What a pinned call charges: `account(usage, settlement, abandoned)` records it and returns its USD. */
export type PinnedAccount = (usage: Usage, settlement: Settlement | undefined, abandoned?: boolean) => number;

/** The state and the books every part of the app shares (see the module comment and {@link createGateway}). */
export type Gateway = ReturnType<typeof createGateway>;

/**
 * The shared state of one app: checks the members and the timeout, builds the routers (one per
 * budget; router options are checked at once when there are no budgets) and the fast path's engines.
 *
 * @param options - the app's options ({@link GavelAppOptions}).
 * @returns the {@link Gateway} the routes read.
 * @throws ConfigError when two members share a name, a member is named `gavel/auto`, two members
 *   price one model otherwise, or the router options are invalid.
 * @example
 * ```ts
 * const gateway = createGateway({ members, router: { mode: "memory", memory, embeddings } });
 * gateway.routerFor(ANONYMOUS_KEY); // the router of the keys without a budget
 * ```
 */
export function createGateway(options: GavelAppOptions) {
  const {
    members,
    router: routerOption = {},
    keys,
    budgets,
    metrics,
    logger,
    ledger,
    logPrompts = false,
    timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS,
    billAbandonedCalls = (member: ServerMember) => member.provider !== "llamacpp" && member.provider !== "ollama",
  } = options;
  checkMembers(members, timeoutMs);
  const byName = new Map(members.map((member) => [member.name, member]));
  const modelIds = [ROUTER_MODEL_ID, ...members.map((member) => member.name)];
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
      ...(error !== undefined && { error: describeError(error) }),
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
      .catch((error: unknown) =>
        log("warn", "ledger.failed", { requestId: state.requestId, error: describeError(error) }),
      );
  };

  /** What a pinned call charges: its settlement (or the cost at the member's price), recorded in the ledger. */
  function pinnedAccount(
    state: ChatRequestState,
    member: ServerMember,
    scopes: ScopeIds | undefined,
    reservation: Reservation | undefined,
  ): PinnedAccount {
    return (usage, settlement, abandoned = false) => {
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
      account: PinnedAccount;
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
      account: PinnedAccount;
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
    members,
    /** The members by name. */
    byName,
    /** Each member's model id (what budgets and the ledger price), by member name. */
    names,
    /** `gavel/auto` and every member's name (what a request's `model` may be). */
    modelIds,
    keys,
    budgets,
    metrics,
    logPrompts,
    /** Deadline of a whole chat request, in ms. */
    timeoutMs,
    billAbandonedCalls,
    /** The router of a key (one per budget). */
    routerFor,
    /** Whether `gavel/auto` has its fast path (router options in memory or auto mode, every member on an upstream). */
    fastRouted,
    /** The fast path's auction engine of a key (one per budget). */
    engineFor,
    /** Auctions the fast path decided (the last 10,000): their feedback is recorded here, not by a router. */
    fastOutcomes,
    /** With keys, which key each auction was routed for (feedback is key-scoped); without keys, none. */
    owners,
    /** `member` rebuilt with a request's sampling settings (cached), or undefined when it cannot be. */
    samplingCopy,
    /** The prompt tokens a reservation counts for `prompt` on `model`. */
    reservedPromptTokens,
    /** Chat requests in flight (and streams). */
    inflight,
    /** Pinned calls still running after their client left (stopped at their deadline or on shutdown). */
    runningAbandoned,
    /** Settlements and writes that run after a response (`drain` waits for them). */
    settlements,
    trackSettlement,
    /** Set by `drain`: new chat requests are refused (503), `/ready` answers 503. */
    draining: false as boolean,
    /** Contexts of the requests the chat route counts itself; `countRequest` counts the others. */
    countedByChat: new WeakSet<object>(),
    log,
    complete,
    pinnedAccount,
    callAndSettle,
    toHttpError,
  };
}

// ---------------------------------------------------------------------------
// Checking the members
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

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** A call's usage as an OpenAI completion's `usage`. */
export function completionUsage(usage: Usage): CompletionUsage {
  return {
    prompt_tokens: usage.inputTokens,
    completion_tokens: usage.outputTokens,
    total_tokens: usage.inputTokens + usage.outputTokens,
  };
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
