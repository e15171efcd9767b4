/**
 * Experiment files: one YAML file describes one evaluation — the data, the backend and its models,
 * prices and budget, the routers and their sweep, the seed and where the report goes. One zod schema,
 * strict everywhere, so a typo is an error that names the key, the file and the line.
 *
 * Read top to bottom: the schema (data, backend, routers, sweep, the whole file), the errors, the
 * loader, then the helpers the CLI uses (API keys, what this version can run).
 */

import { readFile } from "node:fs/promises";
import { dirname, isAbsolute, resolve } from "node:path";
import { isMap, isScalar, LineCounter, type Node, parseDocument } from "yaml";
import { type ZodError, z } from "zod";
import { ConfigFileError, type ConfigFileIssue, GavelError } from "../../errors.js";
import { MECHANISM_NAMES } from "../../market/options.js";
import { DEFAULT_DEBATE_BUDGETS } from "../multiagent/replay/replay.js";

// ---------------------------------------------------------------------------------------------
// The schema
// ---------------------------------------------------------------------------------------------

/** The benchmarks a `benchmark` data source can name. */
export const BENCHMARK_NAMES = ["gsm8k", "mmlu", "humaneval", "mbpp", "svamp"] as const;
/** The backends an experiment can use. */
export const BACKEND_KINDS = ["openai", "openrouter", "ollama", "llamacpp", "recorded", "scripted"] as const;
/** The environment variable each keyed backend reads by default. */
export const DEFAULT_API_KEY_VARIABLES = { openai: "OPENAI_API_KEY", openrouter: "OPENROUTER_API_KEY" } as const;
/** The bidding modes of the shipped `AuctionRouter` an experiment evaluates (plans mode needs models that write plans). */
export const ROUTER_NAMES = ["memory", "auto"] as const;
/** The protocols every router is measured under: `batch` (frozen training memory) and `online` (learning). */
export const PROTOCOL_NAMES = ["batch", "online"] as const;
/** Where reports go when the file does not say. */
export const DEFAULT_OUTPUT_DIRECTORY = "reports";
/** Where embeddings are cached when the file does not say (relative to the working directory). */
export const DEFAULT_EMBEDDING_CACHE = ".gavel-cache/embeddings";

const positiveList = z.array(z.number().nonnegative()).min(1);

/** Recorded outcomes in the canonical format. `outcomes` omitted: the shipped RouterBench file. */
const recordedDataSchema = z
  .object({
    source: z.literal("recorded"),
    /** Canonical outcomes `.jsonl[.gz]`, relative to the config file; default the shipped RouterBench data. */
    outcomes: z.string().min(1).optional(),
    /**
     * Train on this file and evaluate on all of `outcomes`; `none`: no training at all (every prompt
     * evaluated, the routers start from an empty memory); otherwise a deterministic split of `outcomes`.
     */
    train: z.string().min(1).optional(),
    split: z.enum(["auto", "field", "seeded"]).default("auto"),
    trainFraction: z.number().gt(0).lt(1).default(0.5),
    /** Evaluate a seeded sample of this many prompts. */
    maxPrompts: z.number().int().positive().optional(),
  })
  .strict();

/** A shipped benchmark (questions and checker), answered live by the backend's models. */
const benchmarkDataSchema = z
  .object({
    source: z.literal("benchmark"),
    benchmark: z.enum(BENCHMARK_NAMES),
    /** Another copy of the benchmark file, relative to the config file. */
    path: z.string().min(1).optional(),
    /** Keep the first N problems of the file only (before sampling). */
    limit: z.number().int().positive().optional(),
    /** Ask a seeded sample of this many problems (seed: `seed`); default all (after `limit`). */
    maxPrompts: z.number().int().positive().optional(),
    trainFraction: z.number().gt(0).lt(1).default(0.5),
  })
  .strict();

const dataSchema = z.discriminatedUnion("source", [recordedDataSchema, benchmarkDataSchema]);

const modelList = z.array(z.string().min(1)).min(1);
const apiKeyVariable = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "expected an environment variable name");
/** Default number of live calls in flight. */
export const DEFAULT_LIVE_CONCURRENCY = 4;
/** Default retries of a failed hosted call (429, 5xx, network) before it is recorded as an error. */
export const DEFAULT_LIVE_MAX_RETRIES = 2;
/** Ollama's OpenAI-compatible endpoint on this machine. */
export const DEFAULT_OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1";
const generation = {
  temperature: z.number().min(0).max(2).optional(),
  maxTokens: z.number().int().positive().optional(),
  timeoutMs: z.number().int().positive().optional(),
  /** Live calls in flight at once while recording outcomes. */
  concurrency: z.number().int().positive().default(DEFAULT_LIVE_CONCURRENCY),
};
/** Retries of the OpenAI-compatible client (hosted and Ollama backends). */
const retries = { maxRetries: z.number().int().nonnegative().default(DEFAULT_LIVE_MAX_RETRIES) };

const backendSchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("recorded"),
      /** Only these recorded models take part; default all in the data. */
      models: modelList.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("openai"),
      models: modelList,
      /** Any OpenAI-compatible endpoint (vLLM, Together, ...); default OpenAI's. */
      baseURL: z.url().optional(),
      apiKeyEnv: apiKeyVariable.default(DEFAULT_API_KEY_VARIABLES.openai),
      ...generation,
      ...retries,
    })
    .strict(),
  z
    .object({
      kind: z.literal("openrouter"),
      models: modelList,
      baseURL: z.url().default("https://openrouter.ai/api/v1"),
      apiKeyEnv: apiKeyVariable.default(DEFAULT_API_KEY_VARIABLES.openrouter),
      ...generation,
      ...retries,
    })
    .strict(),
  z
    .object({
      kind: z.literal("ollama"),
      models: modelList,
      /** Ollama's OpenAI-compatible endpoint; a URL with no path (`http://host:11434`) gets `/v1`. */
      baseURL: z.url().default(DEFAULT_OLLAMA_BASE_URL),
      ...generation,
      ...retries,
    })
    .strict(),
  z
    .object({
      kind: z.literal("llamacpp"),
      /** Paths of GGUF files, relative to the config file. */
      models: modelList,
      contextSize: z.number().int().positive().default(4096),
      /** CPU threads per model; default node-llama-cpp's choice. */
      threads: z.number().int().positive().optional(),
      /** GPU backend, or `false` for CPU only; default `auto`. */
      gpu: z.union([z.literal(false), z.enum(["auto", "metal", "cuda", "vulkan"])]).optional(),
      ...generation,
    })
    .strict(),
  z
    .object({
      kind: z.literal("scripted"),
      models: modelList,
    })
    .strict(),
]);

const priceSchema = z
  .object({ inputPerMillion: z.number().nonnegative(), outputPerMillion: z.number().nonnegative() })
  .strict();

const budgetSchema = z
  .object({
    /** USD ceiling of the live recording: every call in the experiment's cache counts, earlier runs included. */
    maxUsd: z.number().positive().optional(),
    /** Token ceiling (input + output) of the live recording, counted the same way. */
    maxTokens: z.number().int().positive().optional(),
  })
  .strict();

const routersSchema = z
  .object({
    use: z
      .array(z.enum(ROUTER_NAMES))
      .min(1)
      .default([...ROUTER_NAMES]),
    /** The RouteLLM pair and the target's reference. */
    strongModel: z.string().min(1).optional(),
    weakModel: z.string().min(1).optional(),
    /** Protocols to measure each router under. Default both. */
    protocols: z
      .array(z.enum(PROTOCOL_NAMES))
      .min(1)
      .default([...PROTOCOL_NAMES]),
    /** Neighbours read from memory per member and prompt (the router's `memoryBids.neighbours`). */
    k: z.number().int().positive().optional(),
    /** The router's `memoryBids.priorStrength`. */
    priorStrength: z.number().nonnegative().optional(),
    /** The router's exploration rate in the online protocol. */
    onlineExploration: z.number().min(0).max(1).optional(),
    /** λ at which `auto`'s confidence rule is fitted on the training part. */
    confidenceLambda: z.number().nonnegative().optional(),
    /** λ grid of the per-task static baseline (accuracy per USD per prompt). */
    staticLambdas: positiveList.optional(),
  })
  .strict();

const sweepSchema = z.discriminatedUnion("kind", [
  z
    .object({
      kind: z.literal("lambda"),
      /** λ grid of the shipped router's memory bids. */
      lambdas: positiveList.optional(),
    })
    .strict(),
  z
    .object({
      kind: z.literal("budget"),
      /** Token budgets per example to sweep (`mode: debate`). */
      budgetsTokens: z.array(z.number().int().positive()).min(1).optional(),
      /** USD budgets per prompt to sweep (routers; not implemented in this version). */
      budgetsUsd: z.array(z.number().positive()).min(1).optional(),
    })
    .strict()
    .refine((sweep) => sweep.budgetsTokens !== undefined || sweep.budgetsUsd !== undefined, {
      message: "a budget sweep needs budgetsTokens (tokens per example) or budgetsUsd",
      path: ["budgetsTokens"],
    }),
]);

/** The multi-agent mechanisms a `mode: debate` experiment can run. */
export const MULTI_AGENT_MECHANISMS = ["intent", "full_draft", "full", "econ"] as const;
/** Rounds of a debate (and of belief coordination) when the file does not say. */
export const DEFAULT_EXPERIMENT_DEBATE_ROUNDS = 3;

const debateAgentSchema = z
  .object({
    /** Bidder id: letters, digits, `_`, `.`, `-`. */
    name: z.string().regex(/^[\w.-]+$/, "letters, digits, _ . - only"),
    /** A model of `backend.models` (for llamacpp: the file name without `.gguf`). */
    model: z.string().min(1),
    role: z.string().min(1).optional(),
  })
  .strict();

/** What a `mode: debate` experiment runs: mechanisms, agents, rounds, auction rule. */
const debateSettingsSchema = z
  .object({
    mechanisms: z
      .array(z.enum(MULTI_AGENT_MECHANISMS))
      .min(1)
      .default([...MULTI_AGENT_MECHANISMS]),
    /** Default: one agent per `backend.models` entry. */
    agents: z
      .array(debateAgentSchema)
      .min(1)
      .refine((agents) => new Set(agents.map((agent) => agent.name)).size === agents.length, {
        message: "agent names must be unique",
      })
      .optional(),
    maxRounds: z.number().int().min(1).max(7).default(DEFAULT_EXPERIMENT_DEBATE_ROUNDS),
    /** Clearing rule of the gated debates' auctions. */
    auction: z.enum(MECHANISM_NAMES).default("second_price"),
    /** Speakers per round of the gated debates. */
    topK: z.number().int().positive().default(1),
    /**
     * α per agent saved by `gavel train debate` (a JSON file, relative to this config): the gated debates
     * (`intent`, `full_draft`) bid with it. Default: α = 1 for every agent.
     */
    aggressiveness: z.string().min(1).optional(),
  })
  .strict();

const targetsSchema = z
  .object({
    /** At least this share of the strong model's accuracy ... */
    accuracyShare: z.number().gt(0).max(1).default(0.95),
    /** ... at most this share of its cost. */
    costShare: z.number().gt(0).max(1).default(0.15),
    /** The parity target: at least the strong model's accuracy at most this share of its cost. */
    parityCostShare: z.number().gt(0).max(1).default(0.5),
  })
  .strict();

/**
 * The schema of an experiment file. Every object is strict: an unknown key is an error.
 *
 * | key | default | meaning |
 * |---|---|---|
 * | `name` | — (required) | short id of the experiment |
 * | `title` | from the runner | report title |
 * | `mode` | `route` | `route` (routers and baselines) or `debate` (multi-agent mechanisms over a token-budget sweep, docs/multiagent-evaluation.md) |
 * | `data` | recorded, shipped RouterBench | `{ source: recorded, outcomes?, train?, split, trainFraction, maxPrompts? }` or `{ source: benchmark, benchmark, path?, limit?, maxPrompts?, trainFraction }` |
 * | `backend` | `{ kind: recorded }` | `recorded`, `openai`, `openrouter`, `ollama`, `llamacpp` or `scripted`, with `models`; live ones take `baseURL`, `temperature`, `maxTokens`, `timeoutMs`, `concurrency`, `maxRetries` |
 * | `prices` | — | model → `{ inputPerMillion, outputPerMillion }` (live backends; over the built-in table) |
 * | `budget` | — | `{ maxUsd?, maxTokens? }` ceiling of the live recording (its whole cache) |
 * | `routers` | memory and auto, both protocols | `{ use, protocols?, strongModel?, weakModel?, k?, priorStrength?, onlineExploration?, confidenceLambda?, staticLambdas? }` |
 * | `sweep` | λ grid of the runner; debate: 256–2048 tokens | `{ kind: lambda, lambdas? }` or `{ kind: budget, budgetsTokens?, budgetsUsd? }` |
 * | `debate` | all four, pool agents | `{ mechanisms, agents?, maxRounds, auction, topK, aggressiveness? }` of `mode: debate` |
 * | `targets` | 95% / 15% / parity at 50% | `{ accuracyShare, costShare, parityCostShare }` |
 * | `embedder` | `use-lite` | `use-lite` (offline sentence encoder) or `hashing` (fast, weak) |
 * | `embeddingCache` | `.gavel-cache/embeddings` | folder of cached embeddings, or `false` |
 * | `seed` | `0` | split, sampling and tie-break seed |
 * | `output` | `reports` | report folder, relative to the working directory |
 */
export const experimentConfigSchema = z
  .object({
    name: z.string().min(1),
    title: z.string().min(1).optional(),
    description: z.string().optional(),
    mode: z.enum(["route", "debate"]).default("route"),
    data: dataSchema.default({ source: "recorded", split: "auto", trainFraction: 0.5 }),
    backend: backendSchema.default({ kind: "recorded" }),
    prices: z.record(z.string().min(1), priceSchema).optional(),
    budget: budgetSchema.optional(),
    routers: routersSchema.default({ use: [...ROUTER_NAMES], protocols: [...PROTOCOL_NAMES] }),
    sweep: sweepSchema.optional(),
    debate: debateSettingsSchema.optional(),
    targets: targetsSchema.default({ accuracyShare: 0.95, costShare: 0.15, parityCostShare: 0.5 }),
    embedder: z.enum(["use-lite", "hashing"]).default("use-lite"),
    embeddingCache: z.union([z.string().min(1), z.literal(false)]).default(DEFAULT_EMBEDDING_CACHE),
    seed: z.number().int().default(0),
    output: z.string().min(1).default(DEFAULT_OUTPUT_DIRECTORY),
  })
  .strict()
  .superRefine((config, context) => {
    const recordedData = config.data.source === "recorded";
    const recordedBackend = config.backend.kind === "recorded";
    if (recordedData !== recordedBackend) {
      context.addIssue({
        code: "custom",
        path: ["backend", "kind"],
        message: recordedBackend
          ? "the recorded backend replays recorded outcomes: use data.source: recorded"
          : `recorded data is replayed by the recorded backend, not "${config.backend.kind}": use backend.kind: recorded`,
      });
    }
    const poolModels = "models" in config.backend ? config.backend.models : undefined;
    if (config.debate?.agents !== undefined && poolModels !== undefined) {
      const known = new Set(config.backend.kind === "llamacpp" ? poolModels.map(ggufName) : poolModels);
      config.debate.agents.forEach((agent, index) => {
        if (!known.has(agent.model)) {
          context.addIssue({
            code: "custom",
            path: ["debate", "agents", index, "model"],
            message: `"${agent.model}" is not a model of backend.models (${[...known].join(", ")})`,
          });
        }
      });
    }
  });

/** `qwen-7b` for `models/qwen-7b.gguf`: how a llamacpp model is named in outcomes and agent lists. */
function ggufName(path: string): string {
  return (path.split(/[\\/]/).pop() ?? path).replace(/\.gguf$/i, "");
}

/** An experiment file as written (defaults optional). */
export type ExperimentConfigInput = z.input<typeof experimentConfigSchema>;
/** An experiment after validation, defaults filled in; input paths are absolute (see {@link loadExperimentConfig}). */
export type ExperimentConfig = z.output<typeof experimentConfigSchema>;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

// `ConfigFileError` and `ConfigFileIssue` live in src/errors.ts (adapters use them too); re-exported here.
export { ConfigFileError, type ConfigFileIssue } from "../../errors.js";

/** A keyed backend's environment variable is not set. */
export class MissingApiKeyError extends GavelError {
  override readonly name = "MissingApiKeyError";
  /** The variable that must be set, e.g. `OPENAI_API_KEY`. */
  readonly variable: string;
  readonly backend: string;

  constructor(backend: string, variable: string) {
    super(`The ${backend} backend needs an API key: set the environment variable ${variable}.`);
    this.backend = backend;
    this.variable = variable;
  }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/**
 * Validate an experiment object (already parsed from YAML or built in code).
 * @param input - The object.
 * @param file - Name used in error messages.
 * @throws ConfigFileError naming every bad key.
 */
export function parseExperimentConfig(input: unknown, file = "experiment config"): ExperimentConfig {
  const result = experimentConfigSchema.safeParse(input);
  if (!result.success) throw new ConfigFileError(file, issuesOf(result.error), { cause: result.error });
  return result.data;
}

/**
 * Read, parse and validate an experiment YAML file. Input paths in it (`data.outcomes`, `data.train`,
 * `data.path`, llamacpp model files) are resolved relative to the file and returned absolute.
 *
 * @param path - The YAML file.
 * @returns The validated experiment, defaults filled in.
 * @throws ConfigFileError naming the file, the key and its line: unreadable file, YAML syntax error,
 *   unknown key, wrong type, missing key.
 * @example
 * ```ts
 * const config = await loadExperimentConfig("configs/default.yaml");
 * console.log(config.data.source, config.backend.kind, config.output); // recorded recorded reports
 * ```
 */
export async function loadExperimentConfig(path: string): Promise<ExperimentConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigFileError(path, [{ field: "", message: `cannot read the file (${reason})` }], {
      cause: error,
    });
  }
  const config = parseExperimentYaml(text, path);
  return resolveInputPaths(config, dirname(resolve(path)));
}

/**
 * Most YAML alias resolutions an experiment file may make (the `yaml` package's `maxAliasCount`); an
 * alias bomb that would expand past it is refused with a {@link ConfigFileError}.
 */
export const MAX_YAML_ALIAS_COUNT = 100;

/**
 * Parse and validate experiment YAML text (no path resolution).
 * @throws ConfigFileError naming `file`, the key and its line.
 */
export function parseExperimentYaml(text: string, file = "experiment config"): ExperimentConfig {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigFileError(
      file,
      document.errors.map((error) => {
        const position = error.linePos?.[0];
        return {
          field: "",
          line: position?.line,
          column: position?.col,
          message: `YAML syntax: ${(error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
        };
      }),
      { cause: document.errors[0] },
    );
  }
  let input: unknown;
  try {
    // An alias bomb ("billion laughs") is refused here, not expanded: the `yaml` package stops at
    // MAX_YAML_ALIAS_COUNT resolved aliases and throws a ReferenceError.
    input = document.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT }) ?? {};
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ConfigFileError(
      file,
      [{ field: "", message: `YAML aliases: ${reason} (an experiment file needs few or no aliases; expand them)` }],
      { cause: error },
    );
  }
  const result = experimentConfigSchema.safeParse(input);
  if (result.success) return result.data;
  const issues = issuesOf(result.error).map((issue) => {
    const offset = offsetOf(document.contents, issue.field === "" ? [] : issue.field.split("."));
    if (offset === undefined) return issue;
    const { line, col } = lineCounter.linePos(offset);
    return { ...issue, line, column: col };
  });
  throw new ConfigFileError(file, issues, { cause: result.error });
}

/** One issue per bad key; an unknown-keys issue becomes one issue per unknown key. */
function issuesOf(error: ZodError): ConfigFileIssue[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path.map(String);
    if (issue.code === "unrecognized_keys") {
      return issue.keys.map((key) => ({
        field: [...base, key].join("."),
        message: `unknown key "${key}"${suggestionFor(key)}`,
      }));
    }
    const missing = issue.code === "invalid_type" && issue.message.endsWith("received undefined");
    return [{ field: base.join("."), message: missing ? `missing required key (${issue.message})` : issue.message }];
  });
}

/**
 * Every key an experiment file can hold, at any depth, derived from {@link experimentConfigSchema}
 * (the shapes of its objects, through optionals, defaults, arrays, records and unions): the
 * suggestions for a misspelt key can never drift from the schema.
 */
export const KNOWN_KEYS: readonly string[] = Object.freeze([...schemaKeys(experimentConfigSchema)]);

/** The keys of every object inside a zod schema. */
function schemaKeys(schema: z.ZodType, keys: Set<string> = new Set()): Set<string> {
  if (schema instanceof z.ZodObject) {
    for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      keys.add(key);
      schemaKeys(field, keys);
    }
  } else if (
    schema instanceof z.ZodOptional ||
    schema instanceof z.ZodNullable ||
    schema instanceof z.ZodDefault ||
    schema instanceof z.ZodReadonly
  ) {
    schemaKeys(schema.unwrap() as z.ZodType, keys);
  } else if (schema instanceof z.ZodArray) {
    schemaKeys(schema.element as z.ZodType, keys);
  } else if (schema instanceof z.ZodRecord) {
    schemaKeys(schema.valueType as z.ZodType, keys);
  } else if (schema instanceof z.ZodUnion) {
    for (const option of schema.options as readonly z.ZodType[]) schemaKeys(option, keys);
  } else if (schema instanceof z.ZodIntersection) {
    schemaKeys(schema.def.left as z.ZodType, keys);
    schemaKeys(schema.def.right as z.ZodType, keys);
  } else if (schema instanceof z.ZodPipe) {
    schemaKeys(schema.in as z.ZodType, keys);
  }
  return keys;
}

/** ` (did you mean "models"?)` when a known key is one or two edits away. */
function suggestionFor(key: string): string {
  let best: { key: string; distance: number } | undefined;
  for (const known of KNOWN_KEYS) {
    const distance = editDistance(key.toLowerCase(), known.toLowerCase());
    if (distance <= 2 && (best === undefined || distance < best.distance)) best = { key: known, distance };
  }
  return best === undefined ? "" : ` (did you mean "${best.key}"?)`;
}

/** Edit distance where swapping two neighbouring letters counts as one edit (`modles` → `models` is 1). */
function editDistance(left: string, right: string): number {
  const rows: number[][] = [];
  for (let row = 0; row <= left.length; row++) {
    rows.push([row]);
    for (let column = 1; column <= right.length; column++) {
      if (row === 0) {
        (rows[0] as number[]).push(column);
        continue;
      }
      const current = rows[row] as number[];
      const above = rows[row - 1] as number[];
      let best = Math.min(
        (above[column] as number) + 1,
        (current[column - 1] as number) + 1,
        (above[column - 1] as number) + (left[row - 1] === right[column - 1] ? 0 : 1),
      );
      if (row > 1 && column > 1 && left[row - 1] === right[column - 2] && left[row - 2] === right[column - 1]) {
        best = Math.min(best, ((rows[row - 2] as number[])[column - 2] as number) + 1);
      }
      current.push(best);
    }
  }
  return (rows[left.length] as number[])[right.length] as number;
}

/**
 * Character offset of the key at `path` in the YAML tree (the key itself, so the line is where it is
 * written), or of the deepest existing ancestor when the key is missing.
 */
function offsetOf(root: unknown, path: string[]): number | undefined {
  let node = root as Node | null | undefined;
  let offset = node?.range?.[0];
  for (const segment of path) {
    if (!isMap(node)) break;
    const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === segment);
    if (pair === undefined) break;
    offset = (pair.key as Node).range?.[0] ?? offset;
    node = pair.value as Node | null;
  }
  return offset;
}

function resolveInputPaths(config: ExperimentConfig, base: string): ExperimentConfig {
  const absolute = (path: string) => (isAbsolute(path) ? path : resolve(base, path));
  const data =
    config.data.source === "recorded"
      ? {
          ...config.data,
          ...(config.data.outcomes === undefined ? {} : { outcomes: absolute(config.data.outcomes) }),
          ...(config.data.train === undefined || config.data.train === "none"
            ? {}
            : { train: absolute(config.data.train) }),
        }
      : { ...config.data, ...(config.data.path === undefined ? {} : { path: absolute(config.data.path) }) };
  const backend =
    config.backend.kind === "llamacpp"
      ? { ...config.backend, models: config.backend.models.map(absolute) }
      : config.backend;
  const debate =
    config.debate?.aggressiveness === undefined
      ? config.debate
      : { ...config.debate, aggressiveness: absolute(config.debate.aggressiveness) };
  return { ...config, data, backend, ...(debate === undefined ? {} : { debate }) };
}

// ---------------------------------------------------------------------------------------------
// What the CLI needs
// ---------------------------------------------------------------------------------------------

/** The environment variable holding the backend's API key, or `undefined` for keyless backends. */
export function apiKeyVariableOf(backend: ExperimentConfig["backend"]): string | undefined {
  return backend.kind === "openai" || backend.kind === "openrouter" ? backend.apiKeyEnv : undefined;
}

/**
 * The backend's API key, read from `env` (read once, here, never deep inside the runner).
 * @returns The key, or `undefined` for keyless backends (recorded, scripted, ollama, llamacpp).
 * @throws MissingApiKeyError naming the variable when it is unset or empty.
 * @example
 * ```ts
 * const key = requireApiKey(config.backend, process.env); // throws "set the environment variable OPENAI_API_KEY"
 * ```
 */
export function requireApiKey(
  backend: ExperimentConfig["backend"],
  env: Readonly<Record<string, string | undefined>>,
): string | undefined {
  const variable = apiKeyVariableOf(backend);
  if (variable === undefined) return undefined;
  const value = env[variable];
  if (value === undefined || value.trim() === "") throw new MissingApiKeyError(backend.kind, variable);
  return value;
}

/**
 * Why this version cannot run an experiment, or `undefined` when it can. This version runs routing on
 * recorded outcomes, and on benchmark data answered live by the `openai`, `openrouter`, `ollama` or
 * `llamacpp` backend ("record, then route": see docs/live-evaluation.md), with a λ sweep; and
 * multi-agent experiments (`mode: debate`) on benchmark data answered live, over a sweep of token
 * budgets per example (docs/multiagent-evaluation.md). USD budget sweeps of routers and the tests-only
 * `scripted` backend validate but do not run.
 */
export function unsupportedReason(config: ExperimentConfig): string | undefined {
  const reasons: string[] = [];
  if (config.backend.kind === "scripted") reasons.push("the scripted backend (tests only)");
  if (config.mode === "route" && config.sweep?.kind === "budget") {
    reasons.push("budget sweeps of routers (mode: route; token budget sweeps run with mode: debate)");
  }
  if (config.mode === "debate") {
    if (config.data.source !== "benchmark") {
      reasons.push('mode "debate" on recorded outcomes (debates need live agents: data.source: benchmark)');
    }
    if (config.sweep?.kind === "lambda") reasons.push('a λ sweep in mode "debate" (use sweep.kind: budget)');
    if (config.sweep?.kind === "budget" && config.sweep.budgetsTokens === undefined) {
      reasons.push('USD budgets per example in mode "debate" (use sweep.budgetsTokens)');
    }
  }
  if (reasons.length === 0) return undefined;
  return `${reasons.join(", ")}: not implemented in this version. This version evaluates routers on recorded outcomes (data.source: recorded, backend.kind: recorded) and on benchmark data answered live (data.source: benchmark with backend.kind openai, openrouter, ollama or llamacpp) with a λ sweep, and multi-agent debates (mode: debate) on benchmark data answered live over token budgets (sweep.budgetsTokens); the file is valid and will run once these land.`;
}

/** The token budgets per example a `mode: debate` experiment sweeps: `sweep.budgetsTokens`, or {@link DEFAULT_DEBATE_BUDGETS}. */
export function debateBudgetsOf(config: ExperimentConfig): number[] {
  const budgets = config.sweep?.kind === "budget" ? config.sweep.budgetsTokens : undefined;
  return [...new Set(budgets ?? DEFAULT_DEBATE_BUDGETS)].sort((left, right) => left - right);
}
