/**
 * Named errors of the evaluation harness. They extend `GavelError`, so `GavelError.isInstance`
 * matches them too.
 */
import { GavelError } from "../errors.js";

/** Where a data file went wrong: the file, the 1-based line (when known) and the bad fields. */
export interface DataErrorDetails {
  /** Path of the file, as it was given to the loader. */
  file: string;
  /** 1-based line number of the bad record; `undefined` when the file as a whole is wrong. */
  line?: number;
  /** Dotted paths of the invalid fields, e.g. `["choices.2"]`; empty when the line is not JSON. */
  fields?: string[];
  /** What is wrong, in words. */
  problem: string;
}

/**
 * A data file could not be read or a record in it does not match its schema. The message reads
 * `file:line: field "x": problem`; the underlying `ZodError`, `SyntaxError` or I/O error is the `cause`.
 */
export class DataError extends GavelError {
  override readonly name = "DataError";
  readonly file: string;
  readonly line: number | undefined;
  readonly fields: string[];

  constructor(details: DataErrorDetails, options?: { cause?: unknown }) {
    const { file, line, fields = [], problem } = details;
    const where = line === undefined ? file : `${file}:${line}`;
    const what = fields.length > 0 ? ` field ${fields.map((field) => `"${field}"`).join(", ")}:` : "";
    super(`${where}:${what} ${problem}`, options);
    this.file = file;
    this.line = line;
    this.fields = fields;
  }
}

/** A metric was asked for something it cannot compute (for example no gap between a weak and a strong model). */
export class MetricError extends GavelError {
  override readonly name = "MetricError";
}

/** The Python interpreter needed to run candidate code could not be found or started. */
export class PythonUnavailableError extends GavelError {
  override readonly name = "PythonUnavailableError";
  /** The command that was tried, e.g. `python3`. */
  readonly command: string;

  constructor(command: string, options?: { cause?: unknown }) {
    super(`Cannot start Python with "${command}": install python3 or pass the interpreter as \`python\`.`, options);
    this.command = command;
  }
}

/**
 * The experiment is valid but needs something this version does not implement (a USD budget sweep of
 * routers, benchmark data with the recorded runner...). `gavel` exits with code 3 on it.
 */
export class NotImplementedError extends GavelError {
  override readonly name: string = "NotImplementedError";
}
