/**
 * `createJsonLogger`: the structured logs of `gavel serve`, one JSON object per line, with the
 * secrets taken out before anything is written.
 */
import type { ServerLogger } from "./types.js";

/** The levels a {@link createJsonLogger} writes, least severe first; `"silent"` writes nothing. */
export type LogLevel = "info" | "warn" | "error" | "silent";

const SEVERITY: Record<LogLevel, number> = { info: 0, warn: 1, error: 2, silent: 3 };

/** Where log lines go: anything with a `write(text)` (a stream, or a function collecting lines in a test). */
export interface LogSink {
  write(text: string): unknown;
}

/** Options of {@link createJsonLogger}. */
export interface JsonLoggerOptions {
  /** Where lines are written. Default `process.stderr`. */
  write?: LogSink;
  /** The least severe level written. Default `"info"`. */
  level?: LogLevel;
  /** The clock of the `time` field. Default `() => new Date()`. */
  now?: () => Date;
}

/**
 * Field names that are dropped wherever they occur (also nested, e.g. in `headers`): they name key
 * material or credentials. `keyId` and `inputTokens` are kept (ids and counts are not secrets).
 */
const SECRET_NAME =
  /^(authorization|proxy-authorization|cookie|set-cookie|x-api-key|api[-_]?key|apikey|bearer|key|presented|secret|client[-_]?secret|password|passwd|access[-_]?token|refresh[-_]?token|id[-_]?token|token)$|secret|password|api[-_]?key|apikey|authorization/i;

/** Bearer credentials and OpenAI-style keys inside a string value are replaced by `[redacted]`. */
const SECRET_VALUE = /\bBearer\s+[^\s"',;]+|\bsk-[A-Za-z0-9_-]{8,}|\bgvl-[A-Za-z0-9_-]{16,}/gi;

/** Names the logger sets itself; a field with one of them is written as `field.<name>`. */
const RESERVED = new Set(["time", "level", "event"]);

const MAX_DEPTH = 6;

/**
 * Create the gateway's JSON logger: `log(level, event, fields)` writes one line
 * `{"time":"…","level":"info","event":"request",…fields}`.
 *
 * What is written is sanitised: a field named like a credential (`authorization`, `api_key`,
 * `apiKey`, `x-api-key`, `key`, `secret`, `password`, `token`, …) is dropped at any depth, and a
 * `Bearer …` or `sk-…` string inside any value is replaced by `[redacted]`. Errors are written as
 * `{ name, message }` (and `code`, `cause` when they have them). Prompt and answer text is written
 * only when the caller passes it in `fields` — the gateway does so only with `logPrompts`.
 *
 * @param options - {@link JsonLoggerOptions}
 * @returns a {@link ServerLogger}; a line that cannot be written is dropped (logging never throws).
 * @example
 * ```ts
 * import { createJsonLogger } from "langchain-gavel/server";
 *
 * const logger = createJsonLogger({ level: "info" });
 * logger.log("info", "request", { requestId: "9f1c…", keyId: "team-a", status: 200, member: "gpt-4o-mini" });
 * // {"time":"2026-12-04T16:00:00.000Z","level":"info","event":"request","requestId":"9f1c…","keyId":"team-a",…}
 * ```
 * @example
 * ```ts
 * // collect the lines in a test
 * const lines: string[] = [];
 * const logger = createJsonLogger({ write: { write: (text) => lines.push(text) } });
 * ```
 */
export function createJsonLogger(options: JsonLoggerOptions = {}): ServerLogger {
  const { write = process.stderr, level = "info", now = () => new Date() } = options;
  if (!(level in SEVERITY)) {
    throw new TypeError(`createJsonLogger: level must be one of info, warn, error, silent (got ${String(level)})`);
  }
  const threshold = SEVERITY[level];
  return {
    log(lineLevel, event, fields) {
      if (SEVERITY[lineLevel] < threshold) return;
      const line: Record<string, unknown> = { time: now().toISOString(), level: lineLevel, event };
      const safe = sanitise(fields, 0, new WeakSet()) as Record<string, unknown>;
      for (const [name, value] of Object.entries(safe)) {
        line[RESERVED.has(name) ? `field.${name}` : name] = value;
      }
      try {
        write.write(`${JSON.stringify(line)}\n`);
      } catch {
        // A log line that cannot be written is lost; the request it describes is not failed for it.
      }
    },
  };
}

/** A copy of `value` without credentials, with errors as plain objects, safe to `JSON.stringify`. */
function sanitise(value: unknown, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === "string") return value.replace(SECRET_VALUE, "[redacted]");
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "function" || typeof value === "symbol") return undefined;
  if (typeof value === "number") return Number.isFinite(value) ? value : String(value);
  if (value === null || typeof value !== "object") return value;
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[nested]";
  seen.add(value);
  try {
    if (value instanceof Date) return value.toISOString();
    if (value instanceof Error) {
      const { code, cause } = value as Error & { code?: unknown };
      return sanitise(
        {
          name: value.name,
          message: value.message,
          ...(code !== undefined ? { code } : {}),
          ...(cause !== undefined ? { cause } : {}),
        },
        depth + 1,
        seen,
      );
    }
    if (Array.isArray(value)) return value.map((item) => sanitise(item, depth + 1, seen));
    const copy: Record<string, unknown> = {};
    for (const [name, item] of Object.entries(value)) {
      if (SECRET_NAME.test(name)) continue;
      const clean = sanitise(item, depth + 1, seen);
      if (clean !== undefined) copy[name] = clean;
    }
    return copy;
  } finally {
    seen.delete(value);
  }
}
