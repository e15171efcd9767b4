/**
 * The parts of `gavel serve` and how they meet. Types only: each part lives in its own file
 * (`config.ts`, `openai.ts`, `keys.ts`, `budgets.ts`, `metrics.ts`, `app.ts` and the files it
 * assembles, `server.ts`).
 *
 * A request's way through the gateway (`app.ts`, `chat.ts`):
 *   body limit → request id → auth (`KeyVerifier`) → rate limit (per key) → validate the OpenAI body
 *   (`openai.ts`) → pick the target (`gavel/auto`: the router; a member's name: that member) →
 *   reserve on the key's budget (`ServerBudgets`) → call → settle at the provider's usage (a stream
 *   the client abandons is settled with `closeAbandoned`) → ledger, metrics, one log line.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BudgetLimits, ModelPrice, ScopeIds, SharedTokenBudget } from "../../src/budget/index.js";

/** The model id a client asks for to be routed by the auction. */
export const ROUTER_MODEL_ID = "gavel/auto";

/** One pool member as the gateway serves it (also listed by `GET /v1/models`, and pinnable by name). */
export interface ServerMember {
  /** Unique name: the `model` a client sends to pin it, the bidder id in the router. */
  name: string;
  model: BaseChatModel;
  price: ModelPrice;
  /** Where the member is served from (`openai`, `ollama`, `llamacpp`, `scripted`), for `/v1/models`' `owned_by`. */
  provider: string;
  /**
   * The member's OpenAI-compatible endpoint, for the gateway's fast path: a pinned non-streaming
   * request is forwarded there (`node:http`) instead of going through `model` (streams still use
   * `model`); so is `gavel/auto`'s answer in `memory`/`auto` mode when every member has one (see
   * `createGavelApp`). Set for `openai` and `ollama` members; absent for the others.
   */
  upstream?: ServerUpstream;
}

/** An OpenAI-compatible endpoint a member is served from (see {@link ServerMember.upstream}). */
export interface ServerUpstream {
  /** Base URL of the API, e.g. `https://api.openai.com/v1` (`/chat/completions` is appended). */
  baseURL: string;
  /** Sent as `Authorization: Bearer <apiKey>` (never the client's key). Absent: no Authorization header. */
  apiKey?: string;
  /** The provider's model id (replaces the request's `model`). */
  model: string;
  /** The member's output cap: a request's `max_tokens` / `max_completion_tokens` is capped at it, and it is sent when the request sets none. */
  maxTokens?: number;
  /** The member's sampling temperature, sent when the request sets none. */
  temperature?: number;
  /** Per-call timeout in ms (504 when it passes). Absent: the request's own deadline only. */
  timeoutMs?: number;
}

/** A virtual API key, as the gateway knows it after verification. Never holds the key itself. */
export interface VirtualKey {
  /** Stable id (not secret): the budget account and the metrics label. */
  id: string;
  /** Human name, for logs and `gavel keys list`. */
  name: string;
  /** What the key may spend (per `budgetWindow` when set), over every user. */
  budget?: BudgetLimits;
  /** What each `user` of this key may spend (per `budgetWindow` when set). */
  userBudget?: BudgetLimits;
  /** Budget period, e.g. `"1d"`, `"30d"`; absent: the budget never resets. */
  budgetWindow?: string;
  /** Most requests per minute; absent: the server's default. */
  requestsPerMinute?: number;
}

/** Checks a presented bearer key: hashed, compared in constant time. */
export interface KeyVerifier {
  /** The key's record, or `undefined` for an unknown or revoked key. Never logs `presented`. */
  verify(presented: string): Promise<VirtualKey | undefined>;
}

/** How much is left, and when it resets (for 402/429 bodies and headers). */
export interface BudgetStanding {
  /** USD left (absent: no USD limit). */
  usd?: number;
  /** Tokens left (absent: no token limit). */
  tokens?: number;
  /** ISO time the window resets (absent: it never does). */
  resetsAt?: string;
  /** Which account is exhausted when refused: `"key"` or `"user"`. */
  scope?: "key" | "user";
}

/** The budgets of the gateway: one account per key and one per (key, user), in one store. */
export interface ServerBudgets {
  /** The budget a key's calls are reserved on (the router's `budget`, the pinned call's). */
  budgetFor(key: VirtualKey): SharedTokenBudget;
  /** The scopes of a request: the key's account, and the user's when the request names a `user`. */
  scopesFor(key: VirtualKey, user: string | undefined): ScopeIds;
  /** What is left for this key (and user). */
  standing(key: VirtualKey, user: string | undefined): Promise<BudgetStanding>;
  close(): Promise<void>;
}

/** What one finished request reports to the metrics (no prompt text, ever). */
export interface RequestObservation {
  route: "chat" | "models" | "other";
  status: number;
  /** Seconds from the request's arrival to its last byte. */
  durationSeconds: number;
  keyId?: string;
  /** The member that answered. */
  member?: string;
  /** `"router"` (an auction) or `"pinned"`. */
  path?: "router" | "pinned";
  inputTokens?: number;
  outputTokens?: number;
  usd?: number;
  stream?: boolean;
}

/** Prometheus metrics of the gateway (`GET /metrics`). */
export interface ServerMetrics {
  observe(observation: RequestObservation): void;
  /** A request refused for budget (`scope`) or rate (`"rate"`). */
  rejected(reason: "budget" | "rate", keyId: string | undefined): void;
  /** Prometheus text exposition format. */
  render(): Promise<string>;
  readonly contentType: string;
  /**
   * Tokens and USD charged after their request was counted by {@link ServerMetrics.observe} (a
   * non-streamed call whose client left, settled when its reply arrives): added to the token and
   * USD counters only, not to the request counts.
   */
  settledLate?(charge: {
    member: string;
    keyId?: string;
    inputTokens: number;
    outputTokens: number;
    usd: number;
  }): void;
  /** A streamed response started sending (the `gavel_inflight_streams` gauge goes up by one). */
  streamOpened?(): void;
  /** A streamed response ended, finished or abandoned (the gauge goes down by one). Call once per `streamOpened`. */
  streamClosed?(): void;
}

/**
 * The Hono context variables of the gateway (`new Hono<{ Variables: GavelVariables }>()`).
 * `requestId` is set by the request-id middleware (before auth); `gavelKey` by the auth
 * middleware once the bearer key is verified, read by the rate limit and the routes.
 */
export interface GavelVariables {
  requestId: string;
  /** The verified key (absent before auth, and on routes without auth such as `/health`). */
  gavelKey?: VirtualKey;
}

/** Structured log lines (JSON), one per request; prompt and answer text only when `logPrompts`. */
export interface ServerLogger {
  log(level: "info" | "warn" | "error", event: string, fields: Record<string, unknown>): void;
}
