/**
 * Named errors of Gavel. Every error carries structured fields and, where it
 * wraps another failure, the original as `cause`.
 *
 * `isInstance` checks a marker instead of `instanceof`, so an error still
 * matches when two copies of the package are loaded side by side.
 *
 * Also the two helpers every config schema uses: `parseConfig` (parse once,
 * throw `ConfigError`) and `functionSchema` (an injected function field).
 */
import { type ZodError, z } from "zod";

const MARKER = Symbol.for("langchain-gavel.error");

/**
 * Base class of every error Gavel throws.
 *
 * @example
 * ```ts
 * try {
 *   await agent.invoke({ messages: [{ role: "user", content: "Plan a trip to Lisbon." }] });
 * } catch (error) {
 *   if (!GavelError.isInstance(error)) throw error;
 *   console.error(error.name, error.message, error.cause); // e.g. "BudgetExhaustedError", ...
 * }
 * ```
 */
export class GavelError extends Error {
  /** The names of this error's class and of its Gavel ancestors, read by `isInstance`. */
  readonly [MARKER]: readonly string[];
  override readonly name: string = "GavelError";

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this[MARKER] = lineageOf(new.target);
  }

  /**
   * True when `error` is an instance of this class or of a subclass, from any copy of the package
   * (it compares class names, not prototypes). Every subclass inherits it.
   *
   * @example
   * BudgetExhaustedError.isInstance(error); // only budget refusals
   * GavelError.isInstance(error); // any Gavel error
   */
  static isInstance<T extends GavelError>(this: abstract new (...args: never[]) => T, error: unknown): error is T {
    if (typeof error !== "object" || error === null || !(MARKER in error)) return false;
    const lineage = (error as { [MARKER]?: unknown })[MARKER];
    // biome-ignore lint/complexity/noThisInStatic: `this` is the subclass isInstance was called on.
    return Array.isArray(lineage) && lineage.includes(this.name);
  }
}

/** The class names from `errorClass` up to `GavelError`. */
function lineageOf(errorClass: abstract new (...args: never[]) => unknown): string[] {
  const names: string[] = [];
  for (let current: unknown = errorClass; typeof current === "function"; current = Object.getPrototypeOf(current)) {
    names.push(current.name);
    if (current === GavelError) break;
  }
  return names;
}

/**
 * A configuration object failed validation. The message names every bad field
 * (as a dotted path) and says how to fix it; the `ZodError` is the `cause`.
 *
 * @example
 * ```ts
 * try {
 *   createTokenBudget({ limits: { run: { maxTokens: -1 } } });
 * } catch (error) {
 *   if (ConfigError.isInstance(error)) error.fields; // ["limits.run.maxTokens"]
 *   // error.message: "Invalid TokenBudget options:\n  - limits.run.maxTokens: Too small: expected number to be >=0"
 * }
 * ```
 */
export class ConfigError extends GavelError {
  override readonly name = "ConfigError";
  /** Dotted paths of the invalid fields, e.g. `["limits.run.maxTokens"]`. */
  readonly fields: string[];

  constructor(where: string, zodError: ZodError) {
    const lines = zodError.issues.map((issue) => {
      const path = issue.path.length > 0 ? issue.path.join(".") : "(root)";
      return `  - ${path}: ${issue.message}`;
    });
    super(`Invalid ${where}:\n${lines.join("\n")}`, { cause: zodError });
    this.fields = zodError.issues.map((issue) => issue.path.join("."));
  }
}

/** One problem in a config file (an experiment, `serve.yaml`). */
export interface ConfigFileIssue {
  /** Dotted key path, e.g. `backend.modles`; empty for the whole file. */
  field: string;
  /** 1-based line (and column) in the file, when the YAML parser knows it. */
  line?: number;
  column?: number;
  message: string;
}

/**
 * A config file (an experiment, `serve.yaml`) is not valid YAML or does not match the schema. The message lists every problem
 * as `file:line:column: key: problem`; `issues` holds them as data, `cause` the `ZodError` or YAML error.
 */
export class ConfigFileError extends GavelError {
  override readonly name = "ConfigFileError";
  readonly file: string;
  readonly issues: ConfigFileIssue[];
  /** Dotted key paths of the bad fields. */
  readonly fields: string[];

  /** `options.what` names the kind of file in the message (default `"experiment config"`; `gavel serve` says `"serve config"`). */
  constructor(file: string, issues: ConfigFileIssue[], options?: { cause?: unknown; what?: string }) {
    const lines = issues.map((issue) => {
      const where = issue.line === undefined ? file : `${file}:${issue.line}:${issue.column ?? 1}`;
      return `  - ${where}: ${issue.field === "" ? "" : `${issue.field}: `}${issue.message}`;
    });
    super(
      `Invalid ${options?.what ?? "experiment config"} ${file}:\n${lines.join("\n")}`,
      options && "cause" in options ? { cause: options.cause } : undefined,
    );
    this.file = file;
    this.issues = issues;
    this.fields = issues.map((issue) => issue.field);
  }
}

/** Which budget account refused, how large it is and what it already holds. */
export interface BudgetExhaustedDetails {
  /** Scope kind: `"global"`, `"thread"`, `"run"` or `"example"`. */
  scope: string;
  /** Id of the scope instance (thread id, run id, ...); `"*"` for global. */
  scopeId: string;
  /** Unit of the limit that was hit. */
  unit: "tokens" | "usd";
  /** The limit, in `unit`. */
  limit: number;
  /** Settled spend so far, in `unit`. */
  spent: number;
  /** Outstanding reservations, in `unit`. */
  reserved: number;
  /** What the refused request asked for, in `unit` (0 when the budget is simply spent). */
  requested: number;
}

/**
 * A budget cannot pay for the next call. Thrown by `TokenBudget.reserve` and
 * by `tokenBudgetMiddleware` when `exitBehavior` is `"error"`.
 *
 * @example
 * ```ts
 * const budget = createTokenBudget({ limits: { run: { maxTokens: 1_000 } } });
 * try {
 *   budget.reserve({ model: "gpt-4o-mini", inputTokens: 900, maxOutputTokens: 512, scopes: { run: "run-42" } });
 * } catch (error) {
 *   if (BudgetExhaustedError.isInstance(error)) [error.scope, error.scopeId, error.limit, error.requested]; // ["run", "run-42", 1000, 1412]
 * }
 * ```
 */
export class BudgetExhaustedError extends GavelError {
  override readonly name = "BudgetExhaustedError";
  readonly scope: string;
  readonly scopeId: string;
  readonly unit: "tokens" | "usd";
  readonly limit: number;
  readonly spent: number;
  readonly reserved: number;
  readonly requested: number;

  constructor(details: BudgetExhaustedDetails, options?: { cause?: unknown }) {
    const { scope, scopeId, unit, limit, spent, reserved, requested } = details;
    const id = scopeId === "*" ? "" : ` "${scopeId}"`;
    super(
      `Budget exhausted: ${scope}${id} limit is ${limit} ${unit}, ${spent} spent and ${reserved} reserved; ` +
        `the next call needs up to ${requested} ${unit}.`,
      options,
    );
    this.scope = scope;
    this.scopeId = scopeId;
    this.unit = unit;
    this.limit = limit;
    this.spent = spent;
    this.reserved = reserved;
    this.requested = requested;
  }
}

/** Parse `input` with `schema`, or throw a `ConfigError` naming `where`. */
export function parseConfig<T>(
  where: string,
  schema: { safeParse(input: unknown): { success: true; data: T } | { success: false; error: ZodError } },
  input: unknown,
): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new ConfigError(where, result.error);
  return result.data;
}

/** A zod schema that parses JSON text: a text that is not JSON fails with "not JSON: <the parser's message>". */
const jsonTextSchema = z.string().transform((text, context): unknown => {
  try {
    return JSON.parse(text);
  } catch (error) {
    context.addIssue({ code: "custom", message: `not JSON: ${(error as Error).message}` });
    return z.NEVER;
  }
});

/**
 * Parse JSON text (saved weights, a record) and validate it with `schema`: one `ConfigError`
 * naming `where` for both ways it can be wrong — the text is not JSON, or a field is.
 *
 * @example
 * const Saved = z.object({ version: z.literal(1) }).strict();
 * parseJsonConfig("saved weights", Saved, '{"version":1}'); // { version: 1 }
 * parseJsonConfig("saved weights", Saved, "{"); // throws ConfigError: "saved weights: not JSON: ..."
 */
export function parseJsonConfig<T>(
  where: string,
  schema: { safeParse(input: unknown): { success: true; data: T } | { success: false; error: ZodError } },
  text: string,
): T {
  return parseConfig(where, schema, parseConfig(where, jsonTextSchema, text));
}

/**
 * Zod schema of an injected function (a clock, an id generator, a listener): accepts any
 * function, typed as `T`; anything else fails with "must be a function".
 *
 * @example
 * const optionsSchema = z.object({ now: functionSchema<() => number>().optional() }).strict();
 * parseConfig("clock options", optionsSchema, { now: 42 }); // throws ConfigError: "now: must be a function"
 */
export function functionSchema<T extends (...args: never[]) => unknown>() {
  return z.custom<T>((value) => typeof value === "function", { message: "must be a function" });
}

/** `Name: message` of an error (the reason recorded when a call fails), or the thrown value as text. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
