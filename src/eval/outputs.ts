/**
 * The rule of every file the harness and the `gavel` CLI write: never destroy what Gavel did not
 * create. A file already at an output path is replaced only when Gavel recognisably wrote it — a
 * report that parses as one, a rendering that carries the `GAVEL_MARKER`, weights in Gavel's format,
 * a SQLite file with the ledger's schema. Anything else is refused with an {@link OutputConflictError}
 * naming the path and the flag that forces the write (where one does).
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { GavelError } from "../errors.js";
import { GAVEL_MARKER_COMMENT, GAVEL_MARKER_META } from "./report/marker.js";

export { GAVEL_MARKER, GAVEL_MARKER_COMMENT, GAVEL_MARKER_META } from "./report/marker.js";

/** Largest file read to recognise it (a report or a plot is well below; a bigger file is not Gavel's). */
const MAX_RECOGNISED_BYTES = 64 * 1024 * 1024;

/**
 * An output path holds a file Gavel did not write (or, for a ledger, a Gavel file that may only be
 * replaced with a flag). Nothing was written. `gavel` exits with code 2 on it.
 *
 * @example
 * ```ts
 * try {
 *   await writeReport(report, "docs");
 * } catch (error) {
 *   if (OutputConflictError.isInstance(error)) console.error(error.path, error.flag);
 * }
 * ```
 */
export class OutputConflictError extends GavelError {
  override readonly name = "OutputConflictError";
  /** The path that was not written. */
  readonly path: string;
  /** The command-line flag that forces the write, when there is one (`--overwrite`, `--replace-ledger`). */
  readonly flag: string | undefined;

  constructor(path: string, problem: string, options: { flag?: string; fix?: string; cause?: unknown } = {}) {
    const fix = options.fix ?? (options.flag === undefined ? undefined : `pass ${options.flag} to replace it`);
    super(`${path}: ${problem}; nothing was written${fix === undefined ? "" : ` (${fix})`}.`, {
      cause: options.cause,
    });
    this.path = path;
    this.flag = options.flag;
  }
}

/** How {@link assertReplaceable} decides and what it says. */
export interface ReplaceableOptions {
  /** What the file should be, in words: `"a Gavel report (report.md)"`. */
  what: string;
  /** True when the existing file's text is one Gavel wrote. */
  isGavels: (text: string) => boolean;
  /** Replace it anyway. Default: false. */
  overwrite?: boolean;
  /** The flag that sets `overwrite`, named in the error. */
  flag?: string;
}

/**
 * Throw an {@link OutputConflictError} unless `path` is free (missing) or holds a file Gavel wrote
 * (or `overwrite` is set). A folder at `path` is always refused.
 *
 * @example
 * ```ts
 * assertReplaceable("reports/report.md", {
 *   what: "a Gavel report (report.md)",
 *   isGavels: hasGavelMarker,
 *   flag: "--overwrite",
 * });
 * ```
 */
export function assertReplaceable(path: string, options: ReplaceableOptions): void {
  if (!existsSync(path)) return;
  const stats = statSync(path);
  if (stats.isDirectory()) throw new OutputConflictError(path, `is a folder, expected ${options.what}`);
  if (options.overwrite === true) return;
  const text = stats.size > MAX_RECOGNISED_BYTES ? undefined : readFileSync(path, "utf8");
  if (text !== undefined && options.isGavels(text)) return;
  throw new OutputConflictError(path, `exists and is not ${options.what} (Gavel did not write it)`, {
    ...(options.flag === undefined ? {} : { flag: options.flag }),
  });
}

/**
 * True when a Markdown, HTML or SVG text carries Gavel's marker.
 *
 * @example
 * ```ts
 * hasGavelMarker(`# Title\n\n${GAVEL_MARKER_COMMENT}\n`); // true
 * ```
 */
export function hasGavelMarker(text: string): boolean {
  return text.includes(GAVEL_MARKER_COMMENT) || text.includes(GAVEL_MARKER_META);
}

/**
 * `text` parses as a JSON object whose `field` is `value` (the format tag of Gavel's JSON files).
 *
 * @example
 * ```ts
 * isTaggedJson('{"format": "gavel-router-weights", "version": 1}', "format", "gavel-router-weights"); // true
 * isTaggedJson("my notes", "format", "gavel-router-weights"); // false
 * ```
 */
export function isTaggedJson(text: string, field: string, value: string): boolean {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null && (parsed as Record<string, unknown>)[field] === value;
  } catch {
    return false;
  }
}
