/**
 * `langchain-gavel/server`: the router and the budgets behind an OpenAI-compatible endpoint
 * (`gavel serve`, docs/server.md). Needs the optional packages `hono`, `@hono/node-server` and
 * `prom-client` (`npm install hono @hono/node-server prom-client`); `better-sqlite3` or `pg` for a
 * ledger, key database or budget store on disk.
 *
 * - From a config: {@link startGavelServer} (what `gavel serve` runs), {@link loadServeConfig},
 *   {@link serveConfigSchema}.
 * - By hand: {@link createGavelApp} (the Hono app: auth, routing, budgets, metrics, logs) and
 *   {@link serveGavelApp} (the socket, graceful shutdown), with the parts it takes:
 *   {@link createKeyStore} / {@link createKeyVerifier}, {@link createServerBudgets},
 *   {@link createServerMetrics}, {@link createJsonLogger}, {@link createBodyLimit},
 *   {@link createRequestId}, {@link createRateLimit}.
 *
 * Importing it changes nothing global: no process handler, no timer, no socket.
 *
 * @example
 * ```ts
 * import OpenAI from "openai";
 * import { startGavelServer } from "langchain-gavel/server";
 *
 * const server = await startGavelServer({ configPath: "configs/serve.yaml", port: 0 });
 * const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused-without-keys" });
 * const answer = await client.chat.completions.create({
 *   model: "gavel/auto",
 *   messages: [{ role: "user", content: "Write a function to multiply two integers." }],
 * });
 * await server.close();
 * ```
 */

export {
  ANONYMOUS_KEY,
  AUCTION_ID_HEADER,
  createGavelApp,
  DEFAULT_PINNED_MAX_TOKENS,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type GavelApp,
  type GavelAppEnv,
  type GavelAppOptions,
  type GavelRouterOptions,
  type RouterFactory,
  WINNER_HEADER,
} from "./app.js";
export {
  type BudgetWindow,
  budgetWindowSchema,
  createServerBudgets,
  parseBudgetWindow,
  type ServerBudgetsOptions,
} from "./budgets.js";
export {
  DEFAULT_LLAMACPP_CONTEXT_SIZE,
  DEFAULT_OLLAMA_URL,
  DEFAULT_OPENAI_KEY_ENV,
  DEFAULT_SERVE_HOST,
  DEFAULT_SERVE_PORT,
  isLoopbackHost,
  loadServeConfig,
  parseServeConfig,
  parseServeYaml,
  SERVE_PROVIDERS,
  type ServeConfig,
  type ServeConfigInput,
  type ServeMemberConfig,
  serveConfigSchema,
} from "./config.js";
export {
  type ConfigKeyInput,
  type CreateKeyInput,
  configKeySchema,
  createKeyStore,
  createKeyVerifier,
  DEFAULT_KEY_REFRESH_MS,
  KEY_PREFIX,
  type KeyRecord,
  type KeyStore,
  KeyStoreError,
  type KeyStoreOptions,
  type KeyVerifierOptions,
  keyDigest,
  type ServerKeyVerifier,
} from "./keys.js";
export { createJsonLogger, type JsonLoggerOptions, type LogLevel, type LogSink } from "./logger.js";
export {
  createServerMetrics,
  DEFAULT_DURATION_BUCKETS,
  NO_KEY_LABEL,
  type PrometheusServerMetrics,
  type ServerMetricsOptions,
} from "./metrics.js";
export {
  type BodyLimitOptions,
  createBodyLimit,
  createRateLimit,
  createRequestId,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_REQUESTS_PER_MINUTE,
  type GavelEnv,
  type RateLimitOptions,
  REQUEST_ID_HEADER,
} from "./middleware.js";
export {
  BUDGET_EXHAUSTED_STATUS,
  BUDGET_REMAINING_HEADER,
  BUDGET_RESETS_HEADER,
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  chatCompletionRequestSchema,
  type OpenAIErrorBody,
  type OpenAIErrorType,
} from "./openai.js";
export { type GavelServer, type ServeOptions, serveGavelApp } from "./server.js";
export {
  createServerMembers,
  DEFAULT_SHUTDOWN_TIMEOUT_MS,
  type ServerMembersContext,
  type StartedGavelServer,
  type StartGavelServerOptions,
  startGavelServer,
} from "./start.js";
export {
  type BudgetStanding,
  type GavelVariables,
  type KeyVerifier,
  type RequestObservation,
  ROUTER_MODEL_ID,
  type ServerBudgets,
  type ServerLogger,
  type ServerMember,
  type ServerMetrics,
  type VirtualKey,
} from "./types.js";
