/**
 * `serve.yaml`: one YAML file describes one gateway — where it listens, the pool it serves, how the
 * router runs, the budgets and where they are kept, the virtual keys, the ledger, the limits and
 * the logs. One zod schema, strict everywhere: a typo, a wrong type or a broken rule is a
 * `ConfigFileError` naming the file, the line and the field (`pool[1].price`), and saying the fix.
 *
 * Secrets are never written in the file: API keys and virtual keys are named by the environment
 * variable that holds them (`apiKeyEnv`, `keyEnv`), or given as a SHA-256 digest (`sha256`); an
 * inline `apiKey` or `key` is an error naming the alternative. Values are read from the environment
 * by `startGavelServer`, once; no error message ever holds one.
 *
 * Paths: input files (`outcomes` of a recorded member, a GGUF `model`) are relative to the config
 * file; databases (`ledger.path`, `budgets.path`, `keysDb`) are relative to the working directory,
 * like `gavel ledger --db`.
 *
 * Read top to bottom: defaults, the pool, the router, budgets, keys, the ledger, limits and logs,
 * the whole file and its cross-field rules, then the loader.
 */
import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from "yaml";
import { type ZodError, z } from "zod";
import { budgetLimitsSchema, createPriceResolver, DEFAULT_PRICES, modelPriceSchema } from "../../src/budget/index.js";
import { ConfigFileError, type ConfigFileIssue } from "../../src/errors.js";
import { memoryBidsSchema as routerMemoryBidsSchema } from "../../src/router/options.js";
import { timeoutMsSchema } from "../../src/timeouts.js";
import { budgetWindowSchema } from "./budgets.js";
import { configKeySchema } from "./keys.js";
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_REQUESTS_PER_MINUTE } from "./middleware.js";
import { ROUTER_MODEL_ID } from "./types.js";

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

/** Where the gateway listens when `listen.host` is omitted: loopback only. */
export const DEFAULT_SERVE_HOST = "127.0.0.1";
/** The port when `listen.port` is omitted. */
export const DEFAULT_SERVE_PORT = 4000;
/** Ollama's OpenAI-compatible endpoint on this machine. */
export const DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434/v1";
/** The variable an `openai` member reads its API key from when `apiKeyEnv` is omitted. */
export const DEFAULT_OPENAI_KEY_ENV = "OPENAI_API_KEY";
/** Context window of a local GGUF member when `contextSize` is omitted. */
export const DEFAULT_LLAMACPP_CONTEXT_SIZE = 4096;

/** Where a member is served from. `recorded`: replays real answers recorded in RouterBench (offline). */
export const SERVE_PROVIDERS = ["openai", "ollama", "llamacpp", "recorded"] as const;
/**
 * Router modes (docs/routing-modes.md): `plans` (the strategy auction), `memory` (memory bids: no
 * model call before the winner answers), `auto` (memory bids when the memory is confident, else an
 * escalation from the cheapest member).
 */
export const SERVE_ROUTER_MODES = ["plans", "memory", "auto"] as const;
/** Where the router's outcome memory is kept: in the process (lost on restart), a vectra folder, PostgreSQL. */
export const SERVE_MEMORY_STORES = ["memory", "vectra", "postgres"] as const;
/** The embedder of memory bids: the built-in hashing one (weak, instant) or the bundled sentence encoder. */
export const SERVE_EMBEDDERS = ["hashing", "use-lite"] as const;
/** Where the budgets are kept. */
export const SERVE_BUDGET_STORES = ["memory", "sqlite", "postgres"] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const envNameSchema = z
  .string()
  .regex(ENV_NAME, { message: "must be the name of an environment variable (letters, digits and _), not a value" });

/** A field that must never hold a value: a secret written inline. The message names the alternative. */
const inlineSecret = (alternative: string) =>
  z.never({ error: () => `secrets are never written in the config: remove it and use ${alternative}` }).optional();

// ---------------------------------------------------------------------------------------------
// The pool
// ---------------------------------------------------------------------------------------------

const memberSchema = z
  .object({
    /** What a client sends as `model` to pin this member; the bidder id in the router. */
    name: z
      .string()
      .min(1)
      .refine((name) => name !== ROUTER_MODEL_ID, {
        message: `"${ROUTER_MODEL_ID}" is the router's own model id: name the member something else`,
      }),
    provider: z.enum(SERVE_PROVIDERS, {
      error: () => `must be one of ${SERVE_PROVIDERS.join(", ")} (recorded: RouterBench's real answers, offline)`,
    }),
    /** The provider's model id; for `llamacpp` the GGUF file; for `recorded` a RouterBench model name. */
    model: z.string().min(1),
    /** OpenAI-compatible endpoint (`openai`: default api.openai.com; `ollama`: default {@link DEFAULT_OLLAMA_URL}). */
    baseURL: z.url({ message: "must be a URL such as http://127.0.0.1:8000/v1" }).optional(),
    /** The environment variable holding the member's API key (`openai`; default `OPENAI_API_KEY`). */
    apiKeyEnv: envNameSchema.optional(),
    apiKey: inlineSecret("apiKeyEnv: NAME_OF_A_VARIABLE (the environment variable holding the key)"),
    /** USD per million tokens. Required for `openai` members whose model is not in the built-in table. */
    price: modelPriceSchema.optional(),
    /** Deadline of one call to this member, in ms. */
    timeoutMs: timeoutMsSchema.optional(),
    /** Output cap of one call (also what a winner's answer is reserved at). */
    maxTokens: z.number().int().positive().optional(),
    temperature: z.number().min(0).max(2).optional(),
    /** Retries of a failed call (`openai`, `ollama`). Default 2. */
    maxRetries: z.number().int().min(0).max(10).optional(),
    /** `llamacpp`: context window in tokens. Default {@link DEFAULT_LLAMACPP_CONTEXT_SIZE}. */
    contextSize: z.number().int().positive().optional(),
    /** `llamacpp`: sequences decoded at once (concurrent requests). Default 2. */
    concurrency: z.number().int().positive().optional(),
    /** `llamacpp`: CPU threads. */
    threads: z.number().int().positive().optional(),
    /** `llamacpp`: GPU backend, or false for CPU only. Default `"auto"`. */
    gpu: z.union([z.literal(false), z.enum(["auto", "metal", "cuda", "vulkan"])]).optional(),
    /** `recorded`: canonical outcomes `.jsonl[.gz]`, relative to the config file. Default: the shipped RouterBench file. */
    outcomes: z.string().min(1).optional(),
  })
  .strict();

/** Fields that only some providers read: naming one on another provider is an error. */
const PROVIDER_FIELDS: Record<string, readonly (typeof SERVE_PROVIDERS)[number][]> = {
  baseURL: ["openai", "ollama"],
  apiKeyEnv: ["openai"],
  maxRetries: ["openai", "ollama"],
  timeoutMs: ["openai", "ollama", "llamacpp"],
  temperature: ["openai", "ollama", "llamacpp"],
  contextSize: ["llamacpp"],
  concurrency: ["llamacpp"],
  threads: ["llamacpp"],
  gpu: ["llamacpp"],
  outcomes: ["recorded"],
  // A recorded answer is what it was: no cap, no sampling (a request's max_tokens still sizes its reservation).
  maxTokens: ["openai", "ollama", "llamacpp"],
};

// ---------------------------------------------------------------------------------------------
// The router
// ---------------------------------------------------------------------------------------------

/** Where memory bids read and write outcomes (`router.memory`). */
const routerMemorySchema = z
  .object({
    /** `memory`: in this process, lost on restart; `vectra`: a folder; `postgres`: shared by replicas. */
    store: z.enum(SERVE_MEMORY_STORES, {
      error: () => `must be one of ${SERVE_MEMORY_STORES.join(", ")}`,
    }),
    /** `vectra`: the folder (relative to the working directory; created when missing). */
    folder: z.string().min(1).optional(),
    /** `postgres`: the server (no password in it). Default: the ledger's. */
    url: z.lazy(() => postgresUrlSchema).optional(),
    /** `postgres`: the environment variable holding the URL. */
    urlEnv: envNameSchema.optional(),
    /** `postgres`: the schema. Default `public`. */
    schema: z.string().min(1).optional(),
    /** Most entries kept; whole auctions are evicted beyond it, least recently used first. Default 10,000. */
    maxEntries: z.number().int().positive().optional(),
    /**
     * `memory`, `postgres`: how the in-process index holds its rows, `float32` (default) or `int8` (a
     * quarter of the RAM, about twice as fast to scan, scores approximate to ~0.002: docs/memory.md).
     */
    precision: z.enum(["float32", "int8"]).optional(),
  })
  .strict();

/** `router.memoryBids`: λ and the router's `memoryBids` settings (all optional; the router's defaults). */
const memoryBidsSchema = routerMemoryBidsSchema.extend({
  /** λ of memory bids: weight of the normalised expected cost against the predicted value. Default 0.15. */
  lambda: z.number().nonnegative().finite().optional(),
});

const routerSchema = z
  .object({
    /**
     * `plans`: the strategy auction of `AuctionRouter` — each member bids a plan, the jury scores
     * them, the best value for its cost answers. `memory`: memory bids (no call before the winner
     * answers). `auto`: memory bids when confident, else an escalation. Default: `auto` when
     * `memory` is given, else `plans` (docs/routing-modes.md).
     */
    mode: z
      .string()
      .refine((mode) => (SERVE_ROUTER_MODES as readonly string[]).includes(mode), {
        message: `must be one of ${SERVE_ROUTER_MODES.join(", ")} (docs/routing-modes.md)`,
      })
      .optional(),
    /** The outcome memory of memory bids (required by `memory` and `auto`; with `plans`, refinement reads it). */
    memory: routerMemorySchema.optional(),
    /** The embedder of the memory and of memory bids: `hashing` (weak, instant) or `use-lite` (default). */
    embedder: z.enum(SERVE_EMBEDDERS, { error: () => `must be one of ${SERVE_EMBEDDERS.join(", ")}` }).optional(),
    /** λ and the settings of memory bids. */
    memoryBids: memoryBidsSchema.optional(),
    /** Who scores the plans: every member (`all`, default), nobody (`none`), or these members. */
    jury: z.union([z.enum(["all", "none"]), z.array(z.string().min(1)).min(1)]).optional(),
    /** The member that answers when every bidder fails. Default: the cheapest member. */
    fallback: z.string().min(1).optional(),
    /** λ: weight of a plan's USD cost in its score (the router's `weights.cost`). Default 100. */
    lambda: z.number().nonnegative().finite().optional(),
    /** Weight of a plan's normalised entropy in its value. Default 0.1. */
    entropyWeight: z.number().finite().optional(),
    /** Output cap of a plan, in tokens. Default 128. */
    planMaxTokens: z.number().int().positive().optional(),
    /** Output cap of one jury call. Default 64 (+ 8 per plan). */
    juryMaxTokens: z.number().int().positive().optional(),
    /** Deadline of each plan and jury call, in ms. Default 60,000. */
    timeoutMs: timeoutMsSchema.optional(),
    /** Deadline of the winner's whole answer, in ms. Default 300,000. */
    answerTimeoutMs: timeoutMsSchema.optional(),
    /** Output cap reserved for a winner that declares none. Default 4096. */
    executionMaxTokens: z.number().int().positive().optional(),
    /** Settle calls dropped by a timeout or a disconnect at what the provider bills. Default true. */
    billAbandonedCalls: z.boolean().optional(),
    /** Seed of the tie rule and of the order plans are shown to jurors. Default 0. */
    seed: z.number().int().optional(),
  })
  .strict()
  // The mode as the router resolves it: auto when a memory is given, else plans.
  .transform((router) => ({
    ...router,
    mode: (router.mode ?? (router.memory === undefined ? "plans" : "auto")) as (typeof SERVE_ROUTER_MODES)[number],
  }));

// ---------------------------------------------------------------------------------------------
// Budgets, keys, ledger
// ---------------------------------------------------------------------------------------------

/** A PostgreSQL URL may not carry a password: that is a secret (use `urlEnv`, or PGPASSWORD). */
const postgresUrlSchema = z
  .string()
  .regex(/^postgres(ql)?:\/\//, { message: "must be a postgres:// (or postgresql://) URL" })
  .refine(
    (url) => {
      try {
        return new URL(url).password === "";
      } catch {
        return false;
      }
    },
    {
      message:
        "must not hold a password (a secret): put the whole URL in an environment variable and name it in urlEnv, or set PGPASSWORD",
    },
  );

const budgetsSchema = z
  .object({
    /** `memory` (one process, lost on restart), `sqlite` (a file, shared by the processes of a host), `postgres`. */
    store: z.enum(SERVE_BUDGET_STORES).default("memory"),
    /** `sqlite`: the file. Default: the ledger's file (`ledger.path`). */
    path: z.string().min(1).optional(),
    /** `postgres`: the server (no password in it). Default: the ledger's. */
    url: postgresUrlSchema.optional(),
    /** `postgres`: the environment variable holding the URL. */
    urlEnv: envNameSchema.optional(),
    /** `postgres`: the schema. Default `public`. */
    schema: z.string().min(1).optional(),
    /** Default budget of every key (a key's own `budget` wins). */
    key: budgetLimitsSchema.optional(),
    /** Default budget of every `user` of a key (a key's own `userBudget` wins). */
    user: budgetLimitsSchema.optional(),
    /** Default budget period (`"1d"`, `"30d"`); absent: budgets never reset. */
    window: budgetWindowSchema.optional(),
  })
  .strict();

const ledgerSchema = z
  .object({
    /** A SQLite ledger file (created if missing). */
    path: z.string().min(1).optional(),
    /** A PostgreSQL ledger (no password in the URL). */
    url: postgresUrlSchema.optional(),
    /** The environment variable holding the PostgreSQL URL. */
    urlEnv: envNameSchema.optional(),
    /** PostgreSQL schema. Default `public`. */
    schema: z.string().min(1).optional(),
  })
  .strict();

const limitsSchema = z
  .object({
    /** Largest request body, in bytes (413 above). Default 1 MiB. */
    bodyBytes: z.number().int().positive().default(DEFAULT_MAX_BODY_BYTES),
    /** Requests per minute per key (429 above), per server process. Default 600. */
    requestsPerMinute: z.number().int().positive().default(DEFAULT_REQUESTS_PER_MINUTE),
    /** Deadline of a whole chat request (auction and answer), in ms (504 after). Default 300,000 (5 minutes). */
    requestTimeoutMs: timeoutMsSchema.optional(),
  })
  .strict();

const logsSchema = z
  .object({
    /** Log prompt and answer text. Default false: never. */
    prompts: z.boolean().default(false),
    /** Least level written. Default `info`. */
    level: z.enum(["info", "warn", "error", "silent"]).default("info"),
  })
  .strict();

const listenSchema = z
  .object({
    /** Default 127.0.0.1 (this machine only). Another host needs `keys`. */
    host: z.string().min(1).default(DEFAULT_SERVE_HOST),
    /** 0: any free port. Default 4000. */
    port: z.number().int().min(0).max(65_535).default(DEFAULT_SERVE_PORT),
  })
  .strict();

// ---------------------------------------------------------------------------------------------
// The whole file
// ---------------------------------------------------------------------------------------------

/** True for a host only this machine reaches: `localhost`, `127.x.x.x`, `::1`. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, "").toLowerCase();
  return bare === "localhost" || bare === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}

const serveConfigFields = z
  .object({
    listen: listenSchema.prefault({}),
    pool: z.array(memberSchema).min(1, { message: "must list at least one member" }),
    router: routerSchema.prefault({}),
    budgets: budgetsSchema.prefault({}),
    /** Keys a client presents as `Authorization: Bearer ...` (see `configKeySchema`: `keyEnv` or `sha256`, never the key). */
    keys: z.array(configKeySchema).default([]),
    /** The key database (`gavel keys create`): a SQLite file. Default: the ledger's file when it is SQLite. */
    keysDb: z.string().min(1).optional(),
    /** Where auctions and charges are recorded. Absent: nothing is recorded. */
    ledger: ledgerSchema.optional(),
    limits: limitsSchema.prefault({}),
    logs: logsSchema.prefault({}),
  })
  .strict();

type ServeConfigFields = z.output<typeof serveConfigFields>;

/** The cross-field rules, each naming its field and the fix. */
function checkServeConfig(config: ServeConfigFields, context: z.RefinementCtx): void {
  const issue = (path: (string | number)[], message: string) => context.addIssue({ code: "custom", path, message });
  const priceOf = createPriceResolver(DEFAULT_PRICES);
  const names = new Set<string>();
  config.pool.forEach((member, index) => {
    if (names.has(member.name))
      issue(["pool", index, "name"], `two members are named "${member.name}": names must differ`);
    names.add(member.name);
    for (const [field, providers] of Object.entries(PROVIDER_FIELDS)) {
      if (member[field as keyof typeof member] !== undefined && !providers.includes(member.provider)) {
        issue(["pool", index, field], `applies to ${providers.join(", ")} members, not ${member.provider}`);
      }
    }
    const hosted = member.provider === "openai" || member.provider === "recorded";
    if (hosted && member.price === undefined && priceOf(member.model) === undefined) {
      issue(
        ["pool", index, "price"],
        `no price for "${member.model}": add price: { inputPerMillion, outputPerMillion } (USD per million tokens) so its calls can be charged`,
      );
    }
  });
  const checkName = (name: string, path: (string | number)[]) => {
    if (!names.has(name)) issue(path, `"${name}" is not a pool member name (${[...names].join(", ")})`);
  };
  if (config.router.fallback !== undefined) checkName(config.router.fallback, ["router", "fallback"]);
  if (Array.isArray(config.router.jury)) {
    for (const [index, name] of config.router.jury.entries()) checkName(name, ["router", "jury", index]);
  }
  checkRouterMemory(config, issue, checkName);

  const keyNames = new Set<string>();
  config.keys.forEach((key, index) => {
    if (keyNames.has(key.name)) issue(["keys", index, "name"], `two keys are named "${key.name}": names must differ`);
    keyNames.add(key.name);
  });

  const { ledger, budgets } = config;
  if (ledger !== undefined) {
    const given = [ledger.path, ledger.url, ledger.urlEnv].filter((value) => value !== undefined).length;
    if (given !== 1) issue(["ledger"], "give exactly one of path (a SQLite file), url or urlEnv (PostgreSQL)");
    if (ledger.schema !== undefined && ledger.path !== undefined) {
      issue(["ledger", "schema"], "applies to a PostgreSQL ledger (url or urlEnv), not to a file");
    }
  }
  if (budgets.store === "sqlite" && budgets.path === undefined && ledger?.path === undefined) {
    issue(
      ["budgets", "path"],
      "the sqlite store needs a file: set budgets.path (or ledger.path, which it then shares)",
    );
  }
  if (budgets.store === "postgres") {
    const own = budgets.url !== undefined || budgets.urlEnv !== undefined;
    const shared = ledger?.url !== undefined || ledger?.urlEnv !== undefined;
    if (!own && !shared) {
      issue(["budgets", "url"], "the postgres store needs a server: set budgets.url or budgets.urlEnv (or ledger.url)");
    }
    if (budgets.url !== undefined && budgets.urlEnv !== undefined) {
      issue(["budgets", "urlEnv"], "give one of url and urlEnv");
    }
  }
  if (budgets.store !== "sqlite" && budgets.path !== undefined) issue(["budgets", "path"], "applies to store: sqlite");
  if (budgets.store !== "postgres") {
    for (const field of ["url", "urlEnv", "schema"] as const) {
      if (budgets[field] !== undefined) issue(["budgets", field], "applies to store: postgres");
    }
  }

  // The key database (keysDb, else a SQLite ledger's file) may hold keys: startGavelServer checks it at start.
  const keyDatabase = config.keysDb ?? config.ledger?.path;
  if (!isLoopbackHost(config.listen.host) && config.keys.length === 0 && keyDatabase === undefined) {
    issue(
      ["listen", "host"],
      `"${config.listen.host}" is reachable from other machines and no key is configured: add keys (keys: [{ name, keyEnv }]) or a keysDb made with gavel keys create, or listen on 127.0.0.1`,
    );
  }
}

/** The rules of memory bids: a memory for `memory`/`auto`, its store's fields, known members in priors. */
function checkRouterMemory(
  config: ServeConfigFields,
  issue: (path: (string | number)[], message: string) => void,
  checkName: (name: string, path: (string | number)[]) => void,
): void {
  const { mode, memory, embedder, memoryBids } = config.router;
  if ((mode === "memory" || mode === "auto") && memory === undefined) {
    issue(
      ["router", "memory"],
      `mode ${mode} bids from an outcome memory: add memory: { store: memory } (in this process), { store: vectra, folder: .gavel/memory } or { store: postgres, urlEnv: ... }, or use mode: plans`,
    );
  }
  if (memory === undefined) {
    if (embedder !== undefined) issue(["router", "embedder"], "applies with router.memory (the memory's embedder)");
    if (memoryBids !== undefined && mode !== "memory" && mode !== "auto") {
      issue(["router", "memoryBids"], "applies to mode memory or auto (with router.memory)");
    }
    return;
  }
  if (memory.store === "vectra" && memory.folder === undefined) {
    issue(["router", "memory", "folder"], "the vectra store needs a folder, e.g. folder: .gavel/memory");
  }
  if (memory.store !== "vectra" && memory.folder !== undefined) {
    issue(["router", "memory", "folder"], "applies to store: vectra");
  }
  if (memory.store === "vectra" && memory.precision !== undefined) {
    issue(
      ["router", "memory", "precision"],
      "applies to store: memory or postgres (vectra keeps float32 rows: its compaction writes them back to the folder)",
    );
  }
  if (memory.store === "postgres") {
    const own = memory.url !== undefined || memory.urlEnv !== undefined;
    const shared = config.ledger?.url !== undefined || config.ledger?.urlEnv !== undefined;
    if (!own && !shared) {
      issue(["router", "memory", "url"], "the postgres store needs a server: set url or urlEnv (or ledger.url)");
    }
    if (memory.url !== undefined && memory.urlEnv !== undefined) {
      issue(["router", "memory", "urlEnv"], "give one of url and urlEnv");
    }
  } else {
    for (const field of ["url", "urlEnv", "schema"] as const) {
      if (memory[field] !== undefined) issue(["router", "memory", field], "applies to store: postgres");
    }
  }
  for (const name of Object.keys(memoryBids?.priors ?? {})) checkName(name, ["router", "memoryBids", "priors", name]);
}

/**
 * Zod schema of `serve.yaml` (see the file's header and docs/server.md). Strict: an unknown key is
 * an error; the cross-field rules (unique names, known fallback and jurors, prices of hosted
 * members, one key source per key, a key on a non-loopback host) run after the fields.
 *
 * @example
 * ```ts
 * const result = serveConfigSchema.safeParse({ pool: [{ name: "a", provider: "openai", model: "my-model" }] });
 * result.success; // false: pool[0].price (no price for "my-model")
 * ```
 */
export const serveConfigSchema = serveConfigFields.superRefine(checkServeConfig);

/** `serve.yaml` as written (defaults optional). */
export type ServeConfigInput = z.input<typeof serveConfigSchema>;
/** `serve.yaml` after validation, defaults filled in. */
export type ServeConfig = z.output<typeof serveConfigSchema>;
/** One pool member of a validated config. */
export type ServeMemberConfig = ServeConfig["pool"][number];
/** One key of a validated config. */
export type ServeKeyConfig = ServeConfig["keys"][number];

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** Most YAML alias resolutions a serve file may make; an alias bomb is refused. */
const MAX_ALIAS_COUNT = 100;
const WHAT = "serve config";

/** `pool[1].price` for `["pool", 1, "price"]`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += text === "" ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

/**
 * Validate a serve config object (already parsed from YAML, or built in code).
 *
 * @param input - The object.
 * @param file - The name errors give it.
 * @returns The config, defaults filled in.
 * @throws ConfigFileError naming every bad field (`pool[0].price`) and its fix.
 * @example
 * ```ts
 * const config = parseServeConfig({ pool: [{ name: "gpt-4", provider: "recorded", model: "gpt-4-1106-preview" }] });
 * config.listen; // { host: "127.0.0.1", port: 4000 }
 * ```
 */
export function parseServeConfig(input: unknown, file = WHAT): ServeConfig {
  const result = serveConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesOf(result.error).map(({ issue }) => issue);
  throw new ConfigFileError(file, issues, { cause: result.error, what: WHAT });
}

/**
 * Parse and validate serve YAML text.
 * @throws ConfigFileError naming `file`, the field and its line.
 */
export function parseServeYaml(text: string, file = WHAT): ServeConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const issues = document.errors.map((error) => ({
      field: "",
      line: error.linePos?.[0]?.line,
      column: error.linePos?.[0]?.col,
      message: `YAML syntax: ${(error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
    }));
    throw new ConfigFileError(file, issues, { cause: document.errors[0], what: WHAT });
  }
  let input: unknown;
  try {
    input = document.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {};
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigFileError(file, [{ field: "", message: `YAML aliases: ${reason} (expand them)` }], {
      cause: error,
      what: WHAT,
    });
  }
  const result = serveConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesOf(result.error).map(({ issue, path }) => {
    const offset = offsetOf(document.contents, path);
    if (offset === undefined) return issue;
    const { line, col } = lineCounter.linePos(offset);
    return { ...issue, line, column: col };
  });
  throw new ConfigFileError(file, issues, { cause: result.error, what: WHAT });
}

/**
 * Read, parse and validate a serve YAML file.
 *
 * @param path - The YAML file.
 * @returns The validated config, defaults filled in (paths as written: see the module header).
 * @throws ConfigFileError naming the file, the field and its line: unreadable file, YAML syntax,
 *   unknown key, wrong type, missing key, a broken rule, an inline secret.
 * @example
 * ```ts
 * const config = await loadServeConfig("configs/serve.yaml");
 * config.pool.map((member) => member.name); // ["gpt-4", "mixtral", ...]
 * ```
 */
export async function loadServeConfig(path: string): Promise<ServeConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigFileError(path, [{ field: "", message: `cannot read the file (${reason})` }], {
      cause: error,
      what: WHAT,
    });
  }
  return parseServeYaml(text, path);
}

/** One issue per bad field (an unknown-keys issue: one per key), with its path. Never quotes an input value. */
function issuesOf(error: ZodError): Array<{ issue: ConfigFileIssue; path: PropertyKey[] }> {
  return error.issues.flatMap((issue) => {
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => {
        const path = [...issue.path, key];
        return { issue: { field: fieldPath(path), message: `unknown key "${key}"` }, path };
      });
    }
    const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
    const message = missing ? `missing required key (${issue.message})` : issue.message;
    return [{ issue: { field: fieldPath(issue.path), message }, path: issue.path }];
  });
}

/** The offset of the deepest node of `path` the document has (map keys and sequence items). */
function offsetOf(root: unknown, path: readonly PropertyKey[]): number | undefined {
  let node = root as Node | null | undefined;
  let offset = node?.range?.[0];
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (pair === undefined) break;
      offset = (pair.key as Node).range?.[0] ?? offset;
      node = pair.value as Node | null;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment] as Node | undefined;
      if (item === undefined) break;
      offset = item.range?.[0] ?? offset;
      node = item;
    } else break;
  }
  return offset;
}
