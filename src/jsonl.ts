/**
 * The one JSON Lines reader. Pure: text in, validated records out (the caller reads the file).
 *
 * The rule, for every JSONL file Gavel reads (data sets, recorded outcomes, debates, training tasks,
 * caches, journals):
 *
 * 1. Lines end with `\n` (a `\r` before it is ignored); a line is trimmed before it is read.
 * 2. Blank lines are skipped. Line numbers are 1-based and count every line, blank ones included, so
 *    they match an editor's.
 * 3. Every other line must be one JSON value that matches the schema. The first line that does not is
 *    an error, {@link JsonLineError}, naming `file:line`, the invalid fields and the problem.
 * 4. Unless the caller opts into skipping lines a crash cut short (`torn`):
 *    - `"last"` (append-only journals and caches): text after the last newline that is not JSON — a
 *      write cut short — is dropped; every other line follows rule 3;
 *    - `"any"` (caches that are rebuilt by asking again, where a torn line can end up mid-file once
 *      later runs append after it): any line that is not JSON is dropped, and reported to `onSkip`.
 *    A line that is JSON but does not match the schema is an error in every mode.
 */
import type { z } from "zod";
import { GavelError } from "./errors.js";

/** Which lines that are not JSON (cut short by a crash) are dropped instead of refused. */
export type TornLines = "none" | "last" | "any";

/** Options of {@link parseJsonLines}. */
export interface ParseJsonLinesOptions<T> {
  /** The zod schema of one record. */
  schema: z.ZodType<T>;
  /** The file name used in errors, e.g. the path the text was read from. */
  file: string;
  /** Lines cut short by a crash that are dropped: none (default), the unterminated last one, or any. */
  torn?: TornLines;
  /** Told about every line dropped under `torn` (1-based line number and the JSON error). */
  onSkip?: (line: number, error: SyntaxError) => void;
}

/** One record and the 1-based line it was read from. */
export interface JsonLine<T> {
  line: number;
  value: T;
}

/** Where a JSON Lines text went wrong: the file, the 1-based line and the invalid fields. */
export interface JsonLineErrorDetails {
  file: string;
  line: number;
  /** Dotted paths of the invalid fields (`"(record)"` for the record itself); empty when the line is not JSON. */
  fields: string[];
  /** What is wrong, in words. */
  problem: string;
}

/**
 * A line of a JSON Lines text is not JSON or does not match its schema. The message reads
 * `file:line: field "x": problem`; the `SyntaxError` or `ZodError` is the `cause`.
 */
export class JsonLineError extends GavelError {
  override readonly name: string = "JsonLineError";
  readonly file: string;
  readonly line: number;
  readonly fields: string[];
  readonly problem: string;

  constructor(details: JsonLineErrorDetails, options?: { cause?: unknown }) {
    const { file, line, fields, problem } = details;
    const what = fields.length > 0 ? ` field ${fields.map((field) => `"${field}"`).join(", ")}:` : "";
    super(`${file}:${line}:${what} ${problem}`, options);
    this.file = file;
    this.line = line;
    this.fields = fields;
    this.problem = problem;
  }
}

/**
 * Parse JSON Lines text with a schema, by the rule in this module's header.
 *
 * @param text - The whole text of the file.
 * @param options - The record schema, the file name for errors, and which torn lines to drop.
 * @returns The records in file order, each with its line number.
 * @throws JsonLineError naming file, line and fields of the first bad line.
 * @example
 * ```ts
 * import { z } from "zod";
 * const Row = z.object({ executor: z.string(), correct: z.boolean() });
 * const rows = parseJsonLines('{"executor":"a","correct":true}\n\n{"executor":"b","correct":false}\n', {
 *   schema: Row,
 *   file: "records.jsonl",
 * });
 * // [{ line: 1, value: { executor: "a", correct: true } }, { line: 3, value: { executor: "b", correct: false } }]
 * ```
 * @example
 * ```ts
 * // An append-only journal after a crash: the unterminated last line is dropped.
 * parseJsonLines('{"op":"evict","ids":[]}\n{"op":"ad', { schema: JournalRecord, file: "journal.jsonl", torn: "last" });
 * ```
 */
export function parseJsonLines<T>(text: string, options: ParseJsonLinesOptions<T>): Array<JsonLine<T>> {
  const { schema, file, torn = "none", onSkip } = options;
  const lines = text.split("\n");
  const records: Array<JsonLine<T>> = [];
  for (const [index, raw] of lines.entries()) {
    const content = raw.trim();
    if (content === "") continue;
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (error) {
      const syntax = error as SyntaxError;
      const unterminated = index === lines.length - 1;
      if (torn === "any" || (torn === "last" && unterminated)) {
        onSkip?.(line, syntax);
        continue;
      }
      throw new JsonLineError(
        { file, line, fields: [], problem: `not valid JSON (${syntax.message})` },
        { cause: error },
      );
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      const issues = parsed.error.issues;
      throw new JsonLineError(
        {
          file,
          line,
          fields: issues.map((issue) => (issue.path.length > 0 ? issue.path.join(".") : "(record)")),
          problem: issues.map((issue) => issue.message).join("; "),
        },
        { cause: parsed.error },
      );
    }
    records.push({ line, value: parsed.data });
  }
  return records;
}
