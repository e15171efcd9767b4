/**
 * `startGavelServer`: everything `serve.yaml` describes, built and listening — the pool's members,
 * the router, the key verifier (config keys and the key database), the budgets in their store, the
 * metrics, the logger, the ledger, the app and the socket — and one `close()` that shuts them down
 * in order (stop accepting, drain in-flight requests and streams, then close the budgets, the keys,
 * the ledger and the local models). Signal handling is the CLI's (`gavel serve`), never this
 * module's: importing or calling it installs no process handler.
 *
 * Secrets are read here, once, from `env`: each member's `apiKeyEnv`, each key's `keyEnv`, a
 * `urlEnv`. A variable that is not set is a `ConfigFileError` naming the file and the field; no
 * message ever holds a value.
 */
import { dirname, resolve } from "node:path";
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { ChatOpenAI } from "@langchain/openai";
import { createPriceResolver, DEFAULT_PRICES } from "../../src/budget/prices.js";
import type { BudgetStore } from "../../src/budget/store.js";
import type { ModelPrice } from "../../src/budget/types.js";
import { ConfigFileError, type ConfigFileIssue } from "../../src/errors.js";
import type { AuctionLedger } from "../../src/ledger/types.js";
import { StrategyMemoryError } from "../../src/memory/errors.js";
import { createInMemoryStrategyMemory } from "../../src/memory/matrix-memory.js";
import type { StrategyMemory } from "../../src/memory/types.js";
import { modelName } from "../../src/models.js";
import { importPeer } from "../../src/peers.js";
import { embedderIdOf, MemoryEmbedderMismatchError, OUTCOME_ENTRY_MARKER } from "../../src/router/memory-bids/index.js";
import { createGavelApp, type GavelRouterOptions } from "./app.js";
import { createServerBudgets } from "./budgets.js";
import {
  DEFAULT_LLAMACPP_CONTEXT_SIZE,
  DEFAULT_OLLAMA_URL,
  DEFAULT_OPENAI_KEY_ENV,
  fieldPath,
  isLoopbackHost,
  loadServeConfig,
  parseServeConfig,
  type ServeConfig,
  type ServeConfigInput,
  type ServeMemberConfig,
} from "./config.js";
import { createKeyStore, createKeyVerifier, type KeyStore, type ServerKeyVerifier } from "./keys.js";
import { createJsonLogger, type LogSink } from "./logger.js";
import { createServerMetrics } from "./metrics.js";
import { createBodyLimit, createRateLimit, createRequestId } from "./middleware.js";
import { invalidRequest, type OpenAIHttpError } from "./openai.js";
import { type GavelServer, serveGavelApp } from "./server.js";
import type { ServerMember, ServerUpstream } from "./types.js";

/** How errors name a config given as an object (`startGavelServer({ config })`). */
const CONFIG_OBJECT = "startGavelServer options.config";

/** The built-in price table (RouterBench's models among them), by model id. */
const DEFAULT_PRICE_OF = createPriceResolver(DEFAULT_PRICES);

/** How long `close()` lets in-flight requests and streams finish before aborting them, by default. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;

/** Options of {@link startGavelServer}: a config (object or file) and the process's seams. */
export interface StartGavelServerOptions {
  /** The config as an object (validated here). Give this or `configPath`. */
  config?: ServeConfigInput;
  /** A `serve.yaml` file. Give this or `config`. */
  configPath?: string;
  /** Where secrets are read from (`apiKeyEnv`, `keyEnv`, `urlEnv`), once. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Listen host over `listen.host` (the CLI's `--host`); the loopback rule applies to it. */
  host?: string;
  /** Listen port over `listen.port` (the CLI's `--port`); 0 picks a free one. */
  port?: number;
  /** Where the JSON log lines go. Default `process.stderr`. */
  logSink?: LogSink;
  /** Default deadline of `close()`'s drain, in ms. Default {@link DEFAULT_SHUTDOWN_TIMEOUT_MS}. */
  shutdownTimeoutMs?: number;
}

/** A gateway started from a config: listening, with what it serves and one `close()` for all of it. */
export interface StartedGavelServer extends GavelServer {
  /** The validated config (defaults filled in, the listen overrides applied). */
  readonly config: ServeConfig;
  /** The pool as served (`GET /v1/models` lists `gavel/auto` and these). */
  readonly members: readonly ServerMember[];
  /** True when requests need a key (`Authorization: Bearer ...`). */
  readonly auth: boolean;
  /** How many keys verify at startup (config keys and active stored keys). */
  readonly keyCount: number;
  /**
   * Stop accepting, let in-flight requests and streams finish (up to `timeoutMs`, then they are
   * aborted and settled), then close the budgets, the key store, the ledger and the local models.
   * Calling it twice waits for the first.
   */
  close(options?: { timeoutMs?: number }): Promise<void>;
}

/**
 * Build and start the gateway a `serve.yaml` describes.
 *
 * @param options - `configPath` or `config`, `env`, listen overrides, the log sink.
 * @returns the listening server: its `url`, `members`, whether `auth` is on, and `close()`.
 * @throws ConfigFileError naming the file and the field: an invalid config, an unset `apiKeyEnv`
 *   / `keyEnv` / `urlEnv` variable, an unknown recorded model, a non-loopback host with no key.
 * @throws MissingPeerDependencyError when a feature's package is missing (better-sqlite3 for a
 *   SQLite ledger, pg for PostgreSQL, prom-client for the metrics, node-llama-cpp for GGUF files).
 * @example
 * ```ts
 * import { startGavelServer } from "langchain-gavel/server";
 *
 * const server = await startGavelServer({ configPath: "configs/serve.yaml", port: 0 });
 * console.log(server.url, server.members.map((member) => member.name), server.auth);
 * // ... later
 * await server.close();
 * ```
 * @example
 * ```ts
 * // In code, no file: one recorded member, offline.
 * const server = await startGavelServer({
 *   config: { listen: { port: 0 }, pool: [{ name: "gpt-4", provider: "recorded", model: "gpt-4-1106-preview" }] },
 * });
 * ```
 */
export async function startGavelServer(options: StartGavelServerOptions): Promise<StartedGavelServer> {
  const { env = process.env, logSink = process.stderr, shutdownTimeoutMs = DEFAULT_SHUTDOWN_TIMEOUT_MS } = options;
  const file = options.configPath ?? CONFIG_OBJECT;
  const config = await resolveConfig(options);
  const baseDirectory = options.configPath === undefined ? process.cwd() : dirname(resolve(options.configPath));
  checkSecrets(config, env, file);

  // Everything opened so far, closed in reverse order when a later step fails or on close().
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    const errors: unknown[] = [];
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (error) {
        errors.push(error);
      }
    }
    closers.length = 0;
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "gavel serve: several parts failed to close");
  };

  try {
    const { members, dispose } = await createServerMembers(config, { env, file, baseDirectory });
    closers.push(dispose);

    const ledger = await openLedger(config, env);
    if (ledger !== undefined) closers.push(() => ledger.close());

    const keyStore = await openKeyStore(config, ledger);
    if (keyStore !== undefined) closers.push(() => keyStore.close());
    const verifier: ServerKeyVerifier | undefined =
      keyStore !== undefined
        ? keyStore.verifier(config.keys, { env: { ...env } })
        : config.keys.length > 0
          ? createKeyVerifier({ keys: config.keys, env: { ...env } })
          : undefined;
    const keyCount = verifier?.size ?? 0;
    const auth = keyCount > 0;
    if (!auth && !isLoopbackHost(config.listen.host)) {
      throw new ConfigFileError(
        file,
        [
          {
            field: "listen.host",
            message: `"${config.listen.host}" is reachable from other machines and no key verifies (keys is empty and the key database holds no active key): add keys, create one with gavel keys create, or listen on 127.0.0.1`,
          },
        ],
        { what: "serve config" },
      );
    }

    const budgetStore = await openBudgetStore(config, env, ledger);
    const budgets = createServerBudgets({
      store: budgetStore,
      prices: priceTable(members),
      defaults: {
        ...(config.budgets.key && { keyBudget: config.budgets.key }),
        ...(config.budgets.user && { userBudget: config.budgets.user }),
        ...(config.budgets.window !== undefined && { budgetWindow: config.budgets.window }),
      },
    });
    closers.push(() => budgets.close());

    const routerMemory = await openRouterMemory(config, env);
    if (routerMemory !== undefined) {
      closers.push(() => routerMemory.memory.close());
      await checkMemoryEmbedder(routerMemory, file);
    }

    const metrics = createServerMetrics();
    const logger = createJsonLogger({ write: logSink, level: config.logs.level });
    const gateway = createGavelApp({
      members,
      router: routerOptions(config, routerMemory),
      ...(verifier !== undefined && auth && { keys: verifier }),
      budgets,
      metrics,
      logger,
      // Request id first: every response, a 413 from the body limit included, carries x-request-id.
      middleware: [createRequestId(), createBodyLimit({ maxBytes: config.limits.bodyBytes })],
      keyedMiddleware: [createRateLimit({ requestsPerMinute: config.limits.requestsPerMinute, metrics })],
      ...(ledger !== undefined && { ledger }),
      logPrompts: config.logs.prompts,
      ...(config.limits.requestTimeoutMs !== undefined && { timeoutMs: config.limits.requestTimeoutMs }),
    });

    const server = await serveGavelApp(gateway, { host: config.listen.host, port: config.listen.port });
    logger.log("info", "server.started", {
      url: server.url,
      members: members.map((member) => member.name),
      auth,
      keys: keyCount,
      budgets: config.budgets.store,
      ledger: ledger === undefined ? "none" : config.ledger?.path !== undefined ? "sqlite" : "postgres",
      router: config.router.mode,
      memory: config.router.memory?.store ?? "none",
    });

    let closing: Promise<void> | undefined;
    return {
      url: server.url,
      port: server.port,
      config,
      members,
      auth,
      keyCount,
      close({ timeoutMs = shutdownTimeoutMs } = {}) {
        closing ??= (async () => {
          try {
            await server.close({ timeoutMs });
          } finally {
            await closeAll();
            logger.log("info", "server.stopped", {});
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// The config and its secrets
// ---------------------------------------------------------------------------------------------

/** The config of the options, with the listen overrides applied (and the rules checked again). */
async function resolveConfig(options: StartGavelServerOptions): Promise<ServeConfig> {
  const { config: input, configPath, host, port } = options;
  if ((input === undefined) === (configPath === undefined)) {
    throw new TypeError("startGavelServer: give exactly one of config (an object) and configPath (a serve.yaml file)");
  }
  const file = configPath ?? CONFIG_OBJECT;
  const config = configPath !== undefined ? await loadServeConfig(configPath) : parseServeConfig(input, file);
  if (host === undefined && port === undefined) return config;
  return parseServeConfig(
    {
      ...config,
      listen: { ...config.listen, ...(host !== undefined && { host }), ...(port !== undefined && { port }) },
    },
    file,
  );
}

/** Every variable the config names must be set; the message names the field and the variable, never a value. */
function checkSecrets(config: ServeConfig, env: Readonly<Record<string, string | undefined>>, file: string): void {
  const issues: ConfigFileIssue[] = [];
  const need = (variable: string, path: PropertyKey[], what: string) => {
    const value = env[variable];
    if (value === undefined || value === "") {
      issues.push({
        field: fieldPath(path),
        message: `the environment variable ${variable} is not set: export ${what}`,
      });
    }
  };
  config.pool.forEach((member, index) => {
    if (member.provider !== "openai") return;
    need(member.apiKeyEnv ?? DEFAULT_OPENAI_KEY_ENV, ["pool", index, "apiKeyEnv"], `it with ${member.name}'s API key`);
  });
  config.keys.forEach((key, index) => {
    if (key.keyEnv !== undefined) need(key.keyEnv, ["keys", index, "keyEnv"], `it with the key (or give sha256)`);
  });
  if (config.ledger?.urlEnv !== undefined) need(config.ledger.urlEnv, ["ledger", "urlEnv"], "it with the ledger's URL");
  if (config.budgets.urlEnv !== undefined) need(config.budgets.urlEnv, ["budgets", "urlEnv"], "it with the URL");
  const memoryUrlEnv = config.router.memory?.urlEnv;
  if (memoryUrlEnv !== undefined) need(memoryUrlEnv, ["router", "memory", "urlEnv"], "it with the memory's URL");
  if (issues.length > 0) throw new ConfigFileError(file, issues, { what: "serve config" });
}

// ---------------------------------------------------------------------------------------------
// The members
// ---------------------------------------------------------------------------------------------

/** What {@link createServerMembers} needs besides the config. */
export interface ServerMembersContext {
  /** Where `apiKeyEnv` variables are read. */
  env: Readonly<Record<string, string | undefined>>;
  /** The config file, named in errors. */
  file: string;
  /** Relative input paths (`outcomes`, GGUF files) are resolved from here: the config file's folder. */
  baseDirectory: string;
}

/**
 * The pool of a config as the gateway serves it: `ChatOpenAI` for `openai` and `ollama` (built
 * with `streaming: false`; the gateway calls `.stream()` to stream), `LlamaCppChatModel` for a GGUF
 * file (loaded on first use), `RecordedChatModel` for `recorded` (RouterBench's real answers; the
 * outcomes are read once per file).
 *
 * @returns the members and `dispose()`, which frees the local models.
 * @throws ConfigFileError naming `pool[i].model` when a recorded model is not in the outcomes.
 * @example
 * ```ts
 * const config = await loadServeConfig("configs/serve.yaml");
 * const { members, dispose } = await createServerMembers(config, { env: process.env, file: "configs/serve.yaml", baseDirectory: "configs" });
 * ```
 */
export async function createServerMembers(
  config: ServeConfig,
  context: ServerMembersContext,
): Promise<{ members: ServerMember[]; dispose: () => Promise<void> }> {
  const { env, file, baseDirectory } = context;
  const recorded = createRecordedLoader(baseDirectory);
  const disposers: Array<() => Promise<void>> = [];
  const members: ServerMember[] = [];
  try {
    for (const [index, member] of config.pool.entries()) {
      const model = await buildModel(member, { env, recorded, baseDirectory, disposers, file, index });
      const upstream = upstreamOf(member, env);
      members.push({
        name: member.name,
        model,
        price: memberPrice(member, model),
        provider: member.provider,
        ...(upstream !== undefined && { upstream }),
      });
    }
  } catch (error) {
    await Promise.allSettled(disposers.map((dispose) => dispose()));
    throw error;
  }
  return {
    members,
    dispose: async () => {
      await Promise.allSettled(disposers.map((dispose) => dispose()));
    },
  };
}

interface BuildContext {
  env: Readonly<Record<string, string | undefined>>;
  recorded: RecordedLoader;
  baseDirectory: string;
  disposers: Array<() => Promise<void>>;
  file: string;
  index: number;
}

async function buildModel(member: ServeMemberConfig, context: BuildContext): Promise<BaseChatModel> {
  const { env, recorded, baseDirectory, disposers, file, index } = context;
  switch (member.provider) {
    case "openai":
    case "ollama": {
      const ollama = member.provider === "ollama";
      const baseURL = ollama ? ollamaBaseURL(member.baseURL ?? DEFAULT_OLLAMA_URL) : member.baseURL;
      return new ChatOpenAI({
        model: member.model,
        // Ollama takes any key; the client insists on one.
        apiKey: ollama ? "ollama" : env[member.apiKeyEnv ?? DEFAULT_OPENAI_KEY_ENV],
        // Never true: under a plain invoke it fetches tiktoken ranks (a hang offline). The gateway streams with .stream().
        streaming: false,
        ...(member.maxRetries !== undefined && { maxRetries: member.maxRetries }),
        ...(member.timeoutMs !== undefined && { timeout: member.timeoutMs }),
        ...(member.maxTokens !== undefined && { maxTokens: member.maxTokens }),
        ...(member.temperature !== undefined && { temperature: member.temperature }),
        ...(baseURL !== undefined && { configuration: { baseURL } }),
      });
    }
    case "llamacpp": {
      const { LlamaCppChatModel } = await import("../llamacpp/index.js");
      const model = new LlamaCppChatModel({
        modelPath: resolve(baseDirectory, member.model),
        contextSize: member.contextSize ?? DEFAULT_LLAMACPP_CONTEXT_SIZE,
        ...(member.concurrency !== undefined && { concurrency: member.concurrency }),
        ...(member.threads !== undefined && { threads: member.threads }),
        ...(member.gpu !== undefined && { gpu: member.gpu }),
        ...(member.maxTokens !== undefined && { maxTokens: member.maxTokens }),
        ...(member.temperature !== undefined && { temperature: member.temperature }),
      });
      disposers.push(() => model.dispose());
      return model;
    }
    case "recorded":
      return recorded.model(member, file, index);
  }
}

/** A member's price: the config's, else the built-in table's (by model id), else 0 (local models). */
function memberPrice(member: ServeMemberConfig, model: BaseChatModel): ModelPrice {
  if (member.price !== undefined) return member.price;
  return (
    DEFAULT_PRICE_OF(member.model) ?? DEFAULT_PRICE_OF(modelName(model)) ?? { inputPerMillion: 0, outputPerMillion: 0 }
  );
}

/** Model id and member name → price, for the budgets (they reserve by either). */
function priceTable(members: readonly ServerMember[]): Record<string, ModelPrice> {
  const table: Record<string, ModelPrice> = {};
  for (const member of members) {
    table[modelName(member.model)] = member.price;
    table[member.name] = member.price;
  }
  return table;
}

/** An Ollama URL with no path (`http://host:11434`) gets `/v1`, its OpenAI-compatible endpoint. */
/**
 * The OpenAI-compatible endpoint of an `openai` or `ollama` member, for the gateway's fast path
 * (pinned non-streamed calls go there over HTTP, as the member's `ChatOpenAI` would send them).
 */
function upstreamOf(
  member: ServeMemberConfig,
  env: Readonly<Record<string, string | undefined>>,
): ServerUpstream | undefined {
  if (member.provider !== "openai" && member.provider !== "ollama") return undefined;
  const ollama = member.provider === "ollama";
  const apiKey = ollama ? "ollama" : env[member.apiKeyEnv ?? DEFAULT_OPENAI_KEY_ENV];
  return {
    baseURL: ollama
      ? ollamaBaseURL(member.baseURL ?? DEFAULT_OLLAMA_URL)
      : (member.baseURL ?? env.OPENAI_BASE_URL ?? "https://api.openai.com/v1"),
    ...(apiKey !== undefined && { apiKey }),
    model: member.model,
    ...(member.maxTokens !== undefined && { maxTokens: member.maxTokens }),
    ...(member.temperature !== undefined && { temperature: member.temperature }),
    ...(member.timeoutMs !== undefined && { timeoutMs: member.timeoutMs }),
  };
}

function ollamaBaseURL(url: string): string {
  const parsed = new URL(url);
  return parsed.pathname === "/" || parsed.pathname === "" ? `${parsed.origin}/v1` : url.replace(/\/$/, "");
}

// ---------------------------------------------------------------------------------------------
// Recorded members
// ---------------------------------------------------------------------------------------------

interface RecordedLoader {
  model(member: ServeMemberConfig, file: string, index: number): Promise<BaseChatModel>;
}

/**
 * Recorded members share one outcome index (and one prompt lookup) per outcomes file. The replay
 * model lives with the evaluation harness (`src/eval/routing`), which adapters do not import
 * statically: it is loaded here, on first use, like a heavy adapter.
 */
function createRecordedLoader(baseDirectory: string): RecordedLoader {
  const pools = new Map<
    string,
    Promise<{ models: readonly string[]; build: (model: string, memberName: string) => BaseChatModel }>
  >();
  const poolOf = (outcomes: string | undefined) => {
    const path = outcomes === undefined ? "" : resolve(baseDirectory, outcomes);
    let pool = pools.get(path);
    if (pool === undefined) {
      pool = (async () => {
        const [{ loadOutcomeIndex }, { createPromptLookup, RecordedChatModel, RecordedUnavailableError }] =
          await Promise.all([
            import("../../src/eval/data/outcomes.js"),
            import("../../src/eval/routing/recorded-model.js"),
          ]);
        const index = await loadOutcomeIndex(path === "" ? {} : { path });
        const lookup = createPromptLookup(index);
        /**
         * A prompt the member has no record for is the client's 400 (never retried), not the
         * gateway's 500. Built from one fields object, so the gateway's rebuilt copies (the
         * request's `max_tokens`, from `lc_kwargs`) keep the member's name.
         */
        class ServedRecordedChatModel extends RecordedChatModel {
          readonly memberName: string;
          constructor(fields: ConstructorParameters<typeof RecordedChatModel>[0] & { memberName: string }) {
            super(fields);
            this.memberName = fields.memberName;
          }
          override async _generate(...args: Parameters<InstanceType<typeof RecordedChatModel>["_generate"]>) {
            try {
              return await super._generate(...args);
            } catch (error) {
              if (!RecordedUnavailableError.isInstance(error)) throw error;
              throw unrecordedPrompt(this.memberName, error.reason, error.promptId);
            }
          }
        }
        return {
          models: index.models,
          build: (model: string, memberName: string) =>
            new ServedRecordedChatModel({ model, index, lookup, memberName }),
        };
      })();
      pools.set(path, pool);
    }
    return pool;
  };
  return {
    async model(member, file, index) {
      const pool = await poolOf(member.outcomes);
      if (!pool.models.includes(member.model)) {
        throw new ConfigFileError(
          file,
          [
            {
              field: fieldPath(["pool", index, "model"]),
              message: `"${member.model}" has no recorded answers in ${member.outcomes ?? "the shipped RouterBench outcomes"}: use one of ${pool.models.join(", ")}`,
            },
          ],
          { what: "serve config" },
        );
      }
      return pool.build(member.model, member.name);
    },
  };
}

/**
 * 400 `invalid_request_error`, code `no_recorded_answer`, param `messages`: a recorded member was
 * asked a prompt it holds no answer for. A client error (the OpenAI client does not retry a 400),
 * naming the member, why, and the fix.
 */
function unrecordedPrompt(
  member: string,
  reason: "unknown_prompt" | "no_record",
  promptId: string | undefined,
): OpenAIHttpError {
  const why =
    reason === "unknown_prompt"
      ? "the last user message is not one of the recorded prompts"
      : `the recorded outcomes hold no answer of it for prompt "${promptId}"`;
  return invalidRequest(
    `'${member}' is a recorded model and ${why}. Recorded members replay real answers to recorded prompts only (send the exact text of one as the last user message), or pin a live member from GET /v1/models.`,
    "messages",
    "no_recorded_answer",
  );
}

// ---------------------------------------------------------------------------------------------
// The router, the ledger, the keys, the budget store
// ---------------------------------------------------------------------------------------------

/** The outcome memory of memory bids and its embedder, opened once and shared by every router of the gateway. */
interface RouterMemory {
  memory: StrategyMemory;
  embeddings: EmbeddingsInterface;
}

/**
 * The router options of the config (the app adds the pool, the key's budget and the ledger).
 * `router.lambda` is the plan auction's cost weight (`weights.cost`); memory bids' λ is
 * `router.memoryBids.lambda` (the router's `lambda`).
 */
function routerOptions(config: ServeConfig, routerMemory: RouterMemory | undefined): GavelRouterOptions {
  const { jury, fallback, lambda, entropyWeight, mode, memoryBids, ...rest } = config.router;
  const { memory: _memory, embedder: _embedder, ...settings } = rest;
  const { lambda: memoryLambda, ...bids } = memoryBids ?? {};
  return {
    ...settings,
    mode,
    ...(routerMemory !== undefined && { memory: routerMemory.memory, embeddings: routerMemory.embeddings }),
    ...(memoryLambda !== undefined && { lambda: memoryLambda }),
    ...(memoryBids !== undefined && { memoryBids: bids }),
    ...(jury !== undefined && { jury }),
    ...(fallback !== undefined && { fallback }),
    ...((lambda !== undefined || entropyWeight !== undefined) && {
      weights: { cost: lambda ?? 100, entropy: entropyWeight ?? 0.1, jury: {} },
    }),
  };
}

/**
 * The embedder `router.embedder` names: the built-in hashing one (id `hashing-256`, the same as
 * `gavel train router --embedder hashing`) or the bundled sentence encoder (USE-Lite, offline; its
 * packages load on the first embedding). Both are loaded here, on first use, like heavy adapters.
 */
async function routerEmbeddings(kind: "hashing" | "use-lite"): Promise<EmbeddingsInterface> {
  if (kind === "use-lite") {
    const { UniversalSentenceEncoderEmbeddings } = await import("../encoder/universal-sentence-encoder.js");
    return new UniversalSentenceEncoderEmbeddings();
  }
  const { createHashingEmbeddings } = await import("../../src/eval/routing/embedding.js");
  return createHashingEmbeddings();
}

/**
 * Refuse, at start, a memory written with another embedder than `router.embedder` (its outcome
 * entries carry another id, or its vectors another dimension): every request would fail with
 * `MemoryEmbedderMismatchError` otherwise. Looks at the entries nearest a probe text.
 */
async function checkMemoryEmbedder({ memory, embeddings }: RouterMemory, file: string): Promise<void> {
  if ((await memory.size()) === 0) return;
  const expected = embedderIdOf(embeddings);
  const refuse = (message: string, cause?: unknown) =>
    new ConfigFileError(file, [{ field: "router.embedder", message }], { what: "serve config", cause });
  let hits: Awaited<ReturnType<StrategyMemory["search"]>>;
  try {
    hits = await memory.search({ vector: await embeddings.embedQuery("gavel memory embedder check"), k: 32 });
  } catch (error) {
    if (StrategyMemoryError.isInstance(error) && error.reason === "dimension_mismatch") {
      throw refuse(new MemoryEmbedderMismatchError(expected, undefined, { reason: error.message }).message, error);
    }
    throw error;
  }
  for (const { entry } of hits) {
    const found = entry.metadata?.embedder;
    if (entry.metadata?.gavel === OUTCOME_ENTRY_MARKER && typeof found === "string" && found !== expected) {
      throw refuse(new MemoryEmbedderMismatchError(expected, found).message);
    }
  }
}

/** `router.memory` opened (in the process, a vectra folder, or PostgreSQL), or `undefined` without one. */
async function openRouterMemory(
  config: ServeConfig,
  env: Readonly<Record<string, string | undefined>>,
): Promise<RouterMemory | undefined> {
  const spec = config.router.memory;
  if (spec === undefined) return undefined;
  const embeddings = await routerEmbeddings(config.router.embedder ?? "use-lite");
  const bound = spec.maxEntries === undefined ? {} : { maxEntries: spec.maxEntries };
  const precision = spec.precision === undefined ? {} : { precision: spec.precision };
  switch (spec.store) {
    case "memory":
      return { memory: createInMemoryStrategyMemory({ embeddings, ...bound, ...precision }), embeddings };
    case "vectra": {
      await importPeer("vectra", "gavel serve's vectra memory", () => import("vectra"));
      const { createVectraStrategyMemory } = await import("../vectra/memory.js");
      const memory = await createVectraStrategyMemory({ folder: spec.folder as string, embeddings, ...bound });
      return { memory, embeddings };
    }
    case "postgres": {
      await importPeer("pg", "gavel serve's PostgreSQL memory", () => import("pg"));
      const { createPostgresStrategyMemory } = await import("../postgres/memory.js");
      const connectionString =
        spec.url ??
        (spec.urlEnv !== undefined ? env[spec.urlEnv] : undefined) ??
        config.ledger?.url ??
        (env[config.ledger?.urlEnv as string] as string);
      const schema = spec.schema ?? config.ledger?.schema;
      const memory = await createPostgresStrategyMemory({
        connectionString,
        embeddings,
        ...bound,
        ...precision,
        ...(schema !== undefined && { schema }),
      });
      return { memory, embeddings };
    }
  }
}

/** A SQLite ledger keeps its better-sqlite3 handle, which the key and budget stores can share. */
type OpenedLedger = AuctionLedger & { database?: unknown };

async function openLedger(
  config: ServeConfig,
  env: Readonly<Record<string, string | undefined>>,
): Promise<OpenedLedger | undefined> {
  const { ledger } = config;
  if (ledger === undefined) return undefined;
  if (ledger.path !== undefined) {
    await importPeer("better-sqlite3", "gavel serve's SQLite ledger", () => import("better-sqlite3"));
    const { createSqliteLedger } = await import("../sqlite/ledger.js");
    return createSqliteLedger({ path: ledger.path });
  }
  await importPeer("pg", "gavel serve's PostgreSQL ledger", () => import("pg"));
  const { createPostgresLedger } = await import("../postgres/ledger.js");
  const connectionString = ledger.url ?? (env[ledger.urlEnv as string] as string);
  return createPostgresLedger({ connectionString, ...(ledger.schema !== undefined && { schema: ledger.schema }) });
}

/** The key database: `keysDb`, else the SQLite ledger's file (sharing its handle); none with a PostgreSQL ledger. */
async function openKeyStore(config: ServeConfig, ledger: OpenedLedger | undefined): Promise<KeyStore | undefined> {
  if (config.keysDb !== undefined && config.keysDb !== config.ledger?.path) {
    await importPeer("better-sqlite3", "gavel serve's key database", () => import("better-sqlite3"));
    return createKeyStore({ path: config.keysDb });
  }
  if (config.ledger?.path !== undefined && ledger?.database !== undefined) {
    return createKeyStore({ database: ledger.database as Parameters<typeof createKeyStore>[0]["database"] });
  }
  return undefined;
}

async function openBudgetStore(
  config: ServeConfig,
  env: Readonly<Record<string, string | undefined>>,
  ledger: OpenedLedger | undefined,
): Promise<BudgetStore | undefined> {
  const { budgets } = config;
  if (budgets.store === "memory") return undefined;
  if (budgets.store === "sqlite") {
    await importPeer("better-sqlite3", "gavel serve's SQLite budget store", () => import("better-sqlite3"));
    const { createSqliteBudgetStore } = await import("../sqlite/budget-store.js");
    const path = budgets.path ?? (config.ledger?.path as string);
    if (path === config.ledger?.path && ledger?.database !== undefined) {
      return createSqliteBudgetStore({
        database: ledger.database as Parameters<typeof createSqliteBudgetStore>[0]["database"],
      });
    }
    return createSqliteBudgetStore({ path });
  }
  await importPeer("pg", "gavel serve's PostgreSQL budget store", () => import("pg"));
  const { createPostgresBudgetStore } = await import("../postgres/budget-store.js");
  const connectionString =
    budgets.url ??
    (budgets.urlEnv !== undefined ? env[budgets.urlEnv] : undefined) ??
    config.ledger?.url ??
    (env[config.ledger?.urlEnv as string] as string);
  const schema = budgets.schema ?? config.ledger?.schema;
  return createPostgresBudgetStore({ connectionString, ...(schema !== undefined && { schema }) });
}
