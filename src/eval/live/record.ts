/**
 * Record, the first half of "record, then route": ask every pool model every task once, check the
 * answer, and append one canonical outcome line per (prompt, model) to a JSONL cache.
 *
 * - Resumable: a (prompt, model) pair already in the cache is never asked again (it was paid for).
 * - A failed call is appended to a separate errors file and the model is UNAVAILABLE for that prompt
 *   (no outcome line: never wrong, never free); the next run asks it again.
 * - `cost_usd` is the price × the `usage_metadata` the provider reported (counted with the tokenizer,
 *   and flagged `usage_estimated`, only when a provider reports none).
 * - At most `concurrency` calls in flight; a budget over the whole cache stops new calls; a model that
 *   fails `maxConsecutiveErrors` times in a row stops the recording (a server down, a wrong model id).
 *
 * Read top to bottom: the lines, reading the cache, the recorder.
 */
import { existsSync, statSync } from "node:fs";
import { appendFile, mkdir, readFile, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { z } from "zod";
import { costUsd } from "../../budget/prices.js";
import { countTextTokens } from "../../budget/tokens.js";
import { createConcurrencyLimiter } from "../concurrency.js";
import { parseNumberedJsonLines, readDataText } from "../data/datasets.js";
import { type OutcomeRecord, outcomeRecordSchema } from "../data/outcomes.js";
import { DataError } from "../errors.js";
import { OutputConflictError } from "../outputs.js";
import type { EvaluationProgress } from "../routing/options.js";
import { LiveBackendError, LiveBudgetReachedError } from "./errors.js";
import type { LivePool } from "./pool.js";
import type { LiveTask } from "./tasks.js";

// ---------------------------------------------------------------------------------------------
// The lines
// ---------------------------------------------------------------------------------------------

/** A canonical outcome line as the recorder writes it (`usage_estimated` only when the provider reported no usage). */
export type LiveOutcomeRecord = OutcomeRecord & { usage_estimated?: true };

/** A failed call, one line of the errors file. Not an outcome: the model is unavailable for that prompt. */
export interface LiveErrorRecord {
  prompt_id: string;
  eval_name: string;
  model: string;
  /** The error's name and message. */
  error: string;
  /** ISO time of the failure. */
  at: string;
  /** The answer, when the call succeeded but its check failed (e.g. Python could not start). */
  response?: string;
}

/** The text of a chat answer: a string, or the text parts of a content array. */
export function responseText(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) =>
        typeof part === "string"
          ? part
          : typeof part === "object" && part !== null && "text" in part && typeof part.text === "string"
            ? part.text
            : "",
      )
      .join("");
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Reading the cache
// ---------------------------------------------------------------------------------------------

const pairKey = (promptId: string, model: string) => `${promptId}\u0000${model}`;

/** An outcome line of the cache, keeping the `usage_estimated` flag the canonical schema does not know. */
const cachedOutcomeSchema = outcomeRecordSchema.extend({ usage_estimated: z.unknown().optional() });

/**
 * The outcome lines of a cache file (none when it does not exist), by the one JSONL rule
 * (`src/jsonl.ts`) with `torn: "last"`: a last line cut short (a run killed mid-write) is dropped; any
 * other bad line is an error naming the file and line.
 * @throws DataError on a bad line.
 */
export async function readOutcomeCache(path: string): Promise<LiveOutcomeRecord[]> {
  if (!existsSync(path)) return [];
  const text = await readDataText(path);
  return parseNumberedJsonLines(text, { schema: cachedOutcomeSchema, file: path, torn: "last" }).map(({ value }) => {
    const { usage_estimated, ...record } = value;
    return usage_estimated === true ? { ...record, usage_estimated: true } : record;
  });
}

/** An error line as the recorder writes it (see {@link LiveErrorRecord}); other fields are allowed. */
const liveErrorRecordSchema = z.object({
  prompt_id: z.string(),
  eval_name: z.string(),
  model: z.string(),
  error: z.string(),
  at: z.string(),
  response: z.string().optional(),
});

/** What a file the recorder appends to must hold, in words and as a schema. */
interface AppendedFile {
  /** `"live outcomes cache"`, `"live errors file"`. */
  what: string;
  /** `"an outcome record"`, `"a failed call's record"`. */
  record: string;
  schema: z.ZodType;
}

const OUTCOME_LINES: AppendedFile = {
  what: "live outcomes cache",
  record: "an outcome record",
  schema: cachedOutcomeSchema,
};
const ERROR_LINES: AppendedFile = {
  what: "live errors file",
  record: "a failed call's record",
  schema: liveErrorRecordSchema,
};

/**
 * How every line the recorder writes starts (`JSON.stringify` keeps key order: outcome and error
 * lines both begin with `prompt_id`). A torn last line that does not start like this is not ours.
 */
const GAVEL_LINE_START = '{"prompt_id":';

/**
 * End a file's last line before appending to it, touching only a file Gavel wrote. A run killed
 * mid-write leaves a last line without its newline: a complete record gets its newline, a cut-off
 * fragment of a record (which the reader skips) is cut off, so the next record starts a line of its
 * own instead of gluing onto the fragment. Anything else is someone else's file, refused untouched:
 * a complete line that is not JSON or not a record of `lines.schema`, or a last line that is neither
 * a record nor the start of one (`{"prompt_id":`).
 * @throws OutputConflictError naming the path, the line, and `--out` (record in another folder).
 */
async function endLastLine(path: string, lines: AppendedFile): Promise<void> {
  if (!existsSync(path)) return;
  const refuse = (why: string, cause?: unknown) =>
    new OutputConflictError(path, `exists and is not a Gavel ${lines.what} (${why})`, {
      flag: OUTPUT_FLAG,
      fix: `move it away, or pass ${OUTPUT_FLAG} <dir> to record in another folder`,
      ...(cause === undefined ? {} : { cause }),
    });
  if (statSync(path).isDirectory()) throw refuse("it is a folder");
  const text = await readFile(path, "utf8");
  const start = text.lastIndexOf("\n") + 1;
  const complete = text.slice(0, start).split("\n");
  for (const [index, line] of complete.entries()) {
    if (line.trim() === "") continue;
    const problem = recordProblem(line, lines);
    if (problem !== undefined) throw refuse(`line ${index + 1} ${problem.text}`, problem.cause);
  }
  const tail = text.slice(start);
  if (tail.trim() === "") return;
  const problem = recordProblem(tail, lines);
  if (problem === undefined) {
    await appendFile(path, "\n"); // a complete record that only lacks its newline
    return;
  }
  if (problem.json || !tail.trimStart().startsWith(GAVEL_LINE_START)) {
    throw refuse(
      problem.json ? `line ${complete.length} ${problem.text}` : "its last line, cut short, is not a Gavel record",
      problem.cause,
    );
  }
  await truncate(path, Buffer.byteLength(text.slice(0, start))); // our own record, cut short by a crash
}

/** Why a line is not a record of `lines` (`json`: it is JSON, of another shape), or `undefined`. */
function recordProblem(line: string, lines: AppendedFile): { text: string; json: boolean; cause: unknown } | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return { text: "is not JSON", json: false, cause: error };
  }
  const parsed = lines.schema.safeParse(value);
  if (parsed.success) return undefined;
  const fields = parsed.error.issues.map((issue) => issue.path.join(".") || "(record)");
  return {
    text: `is not ${lines.record}: ${[...new Set(fields)].map((field) => `"${field}"`).join(", ")}`,
    json: true,
    cause: parsed.error,
  };
}

/** The `gavel eval` flag that puts the live files in another folder, named when a file is refused. */
const OUTPUT_FLAG = "--out";

// ---------------------------------------------------------------------------------------------
// The recorder
// ---------------------------------------------------------------------------------------------

/** Default failures in a row of one model that stop the recording. */
export const DEFAULT_MAX_CONSECUTIVE_ERRORS = 5;

/** Options of {@link recordLiveOutcomes}. */
export interface RecordLiveOutcomesOptions {
  tasks: readonly LiveTask[];
  pool: Pick<LivePool, "backend" | "models">;
  /** The cache of canonical outcome lines (appended to). */
  outcomesPath: string;
  /** Failed calls (appended to). */
  errorsPath: string;
  /** Calls in flight at once. Default 4. */
  concurrency?: number;
  /** Ceiling over the whole cache (earlier runs included). */
  budget?: { maxUsd?: number | undefined; maxTokens?: number | undefined };
  /** Failures in a row of one model that stop the recording. Default 5. */
  maxConsecutiveErrors?: number;
  /** Progress of the calls (`phase: "load"`, `policy: "live calls"`). */
  onProgress?: (event: EvaluationProgress) => void;
  /** Clock of the error lines. Default `() => new Date()`. */
  now?: () => Date;
}

/** What a recording did. */
export interface LiveRecording {
  /** The outcome of every (task, pool model) pair that has one, cached or new, in task then pool order. */
  records: LiveOutcomeRecord[];
  /** Pairs asked in this run (answered or failed). */
  asked: number;
  /** Pairs answered from the cache. */
  reused: number;
  /** Calls that failed in this run (each in the errors file). */
  failed: number;
  /** USD spent by this run's calls. */
  spentUsd: number;
  /** USD of the whole cache after this run. */
  cacheUsd: number;
}

/**
 * Ask every pool model every task that the cache does not answer yet; append the outcomes.
 *
 * @throws DataError when the cache holds another prompt text under a task's id (the prompt changed:
 *   use another output folder).
 * @throws LiveBudgetReachedError when the budget stops the recording (after in-flight calls finish).
 * @throws LiveBackendError when a model fails `maxConsecutiveErrors` times in a row.
 * @example
 * ```ts
 * const recording = await recordLiveOutcomes({ tasks, pool, outcomesPath: "reports/gsm8k/live-outcomes.jsonl", errorsPath: "reports/gsm8k/live-errors.jsonl" });
 * console.log(recording.asked, recording.reused, recording.spentUsd);
 * ```
 */
export async function recordLiveOutcomes(options: RecordLiveOutcomesOptions): Promise<LiveRecording> {
  const {
    tasks,
    pool,
    outcomesPath,
    errorsPath,
    concurrency = 4,
    budget = {},
    maxConsecutiveErrors = DEFAULT_MAX_CONSECUTIVE_ERRORS,
    onProgress,
    now = () => new Date(),
  } = options;

  // First of all: a file Gavel did not write is refused untouched, before it is read or any call is made.
  await endLastLine(outcomesPath, OUTCOME_LINES);
  await endLastLine(errorsPath, ERROR_LINES);
  const cached = await readOutcomeCache(outcomesPath);
  const byPair = new Map<string, LiveOutcomeRecord>();
  let cacheUsd = 0;
  let cacheTokens = 0;
  for (const record of cached) {
    byPair.set(pairKey(record.prompt_id, record.model), record);
    cacheUsd += record.cost_usd;
    cacheTokens += (record.input_tokens ?? 0) + (record.output_tokens ?? 0);
  }
  for (const task of tasks) {
    for (const entry of pool.models) {
      const record = byPair.get(pairKey(task.promptId, entry.name));
      if (record !== undefined && record.prompt !== task.prompt) {
        throw new DataError({
          file: outcomesPath,
          fields: ["prompt"],
          problem: `prompt "${task.promptId}" was recorded with another prompt text (the template or the data changed): use another output folder, or delete the file to ask again`,
        });
      }
    }
  }

  const pending = tasks.flatMap((task) =>
    pool.models.filter((entry) => !byPair.has(pairKey(task.promptId, entry.name))).map((entry) => ({ task, entry })),
  );
  const total = pending.length;
  const report = (done: number) => onProgress?.({ phase: "load", policy: "live calls", done, total });

  await mkdir(dirname(outcomesPath), { recursive: true });
  await mkdir(dirname(errorsPath), { recursive: true });
  // One write at a time, in completion order, so lines never interleave.
  let writes: Promise<void> = Promise.resolve();
  const append = (path: string, line: unknown) => {
    writes = writes.then(() => appendFile(path, `${JSON.stringify(line)}\n`));
    return writes;
  };

  const abort = new AbortController();
  let stop: Error | undefined;
  let done = 0;
  let asked = 0;
  let failed = 0;
  let spentUsd = 0;
  const failuresInARow = new Map<string, number>();
  const limit = createConcurrencyLimiter(concurrency);
  report(0);

  const budgetReached = (): LiveBudgetReachedError | undefined => {
    const remaining = total - done;
    if (budget.maxUsd !== undefined && cacheUsd >= budget.maxUsd) {
      return new LiveBudgetReachedError({
        unit: "usd",
        limit: budget.maxUsd,
        spent: cacheUsd,
        remaining,
        cache: outcomesPath,
      });
    }
    if (budget.maxTokens !== undefined && cacheTokens >= budget.maxTokens) {
      return new LiveBudgetReachedError({
        unit: "tokens",
        limit: budget.maxTokens,
        spent: cacheTokens,
        remaining,
        cache: outcomesPath,
      });
    }
    return undefined;
  };

  const ask = async ({ task, entry }: (typeof pending)[number]): Promise<void> => {
    if (stop !== undefined) return;
    stop = budgetReached();
    if (stop !== undefined) return;
    asked += 1;
    let response: string;
    let usage: { input_tokens: number; output_tokens: number } | undefined;
    try {
      const answer = await entry.model.invoke([["human", task.prompt]], {
        signal: abort.signal,
        metadata: { prompt_id: task.promptId },
      });
      response = responseText(answer.content);
      usage = answer.usage_metadata;
    } catch (error) {
      failed += 1;
      done += 1;
      report(done);
      if (abort.signal.aborted) return;
      await append(errorsPath, errorLine(task, entry.name, error, now()));
      const inARow = (failuresInARow.get(entry.name) ?? 0) + 1;
      failuresInARow.set(entry.name, inARow);
      if (inARow >= maxConsecutiveErrors && stop === undefined) {
        stop = new LiveBackendError(
          {
            backend: pool.backend,
            model: entry.name,
            problem: `${inARow} calls failed in a row, the last with: ${describe(error)}. The failures are in ${errorsPath}; the answers so far stay in ${outcomesPath}.`,
          },
          { cause: error },
        );
        abort.abort(stop);
      }
      return;
    }
    failuresInARow.set(entry.name, 0);
    const estimated = usage === undefined;
    const inputTokens = usage?.input_tokens ?? countTextTokens(task.prompt, entry.name);
    const outputTokens = usage?.output_tokens ?? countTextTokens(response, entry.name);
    const cost = costUsd(entry.price, { inputTokens, outputTokens });
    // The call is paid for whatever the checker says: count it before checking.
    cacheUsd += cost;
    cacheTokens += inputTokens + outputTokens;
    spentUsd += cost;
    let correct: boolean;
    try {
      correct = await task.check(response);
    } catch (error) {
      await append(errorsPath, { ...errorLine(task, entry.name, error, now()), response });
      stop ??= error instanceof Error ? error : new Error(String(error));
      abort.abort(stop);
      done += 1;
      report(done);
      return;
    }
    const record: LiveOutcomeRecord = {
      prompt_id: task.promptId,
      prompt: task.prompt,
      eval_name: task.evalName,
      model: entry.name,
      correct: correct ? 1 : 0,
      cost_usd: cost,
      response,
      input_tokens: inputTokens,
      output_tokens: outputTokens,
      ...(estimated ? { usage_estimated: true as const } : {}),
    };
    await append(outcomesPath, record);
    byPair.set(pairKey(task.promptId, entry.name), record);
    done += 1;
    report(done);
  };

  await Promise.all(pending.map((item) => limit(() => ask(item))));
  await writes;
  if (stop !== undefined) throw stop;

  const records = tasks.flatMap((task) =>
    pool.models.flatMap((entry) => byPair.get(pairKey(task.promptId, entry.name)) ?? []),
  );
  return { records, asked, reused: tasks.length * pool.models.length - total, failed, spentUsd, cacheUsd };
}

function errorLine(task: LiveTask, model: string, error: unknown, at: Date): LiveErrorRecord {
  return { prompt_id: task.promptId, eval_name: task.evalName, model, error: describe(error), at: at.toISOString() };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
