/**
 * The benchmark data shipped in `data/`, and the JSON Lines reader every loader goes through.
 *
 * Each data set has ONE zod schema; a loader reads a `.jsonl` or `.jsonl.gz` file, parses every
 * non-empty line with that schema and returns typed records. A bad line throws a `DataError`
 * naming the file, the 1-based line number and the invalid field.
 *
 * Read top to bottom: where the data lives, reading and writing JSON Lines, the schemas, the loaders.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import { z } from "zod";
import { parseConfig } from "../../errors.js";
import {
  type JsonLine,
  JsonLineError,
  type ParseJsonLinesOptions,
  parseJsonLines as parseCoreJsonLines,
} from "../../jsonl.js";
import { DataError } from "../errors.js";

const gunzipAsync = promisify(gunzip);
const gzipAsync = promisify(gzip);

// ---------------------------------------------------------------------------------------------
// Where the data lives
// ---------------------------------------------------------------------------------------------

/** Paths of the shipped files, relative to the data directory. */
export const DATA_FILES = {
  gsm8k: "gsm8k/test_normalized.jsonl.gz",
  mmluSubset500: "mmlu/mmlu_subset_500.jsonl.gz",
  mmluTestAll: "mmlu/mmlu_test_all.jsonl.gz",
  humanEval: "humaneval/HumanEval.jsonl.gz",
  mbppNormalized: "mbpp/mbpp_normalized.jsonl.gz",
  mbppSanitized: "mbpp/sanitized_mbpp.jsonl.gz",
  svamp: "svamp/svamp.jsonl.gz",
  routerBenchOutcomes: "routerbench/outcomes.jsonl.gz",
} as const;

/** Name of a shipped file, a key of {@link DATA_FILES}. */
export type DataFileName = keyof typeof DATA_FILES;

/**
 * The `data/` folder shipped with the package. It walks up from this module to the first folder
 * holding a `package.json`, so it works from `src/eval/data/` (tsx, vitest) and from `dist/src/eval/data/`
 * (after `tsc`) alike.
 *
 * @param from - A `file:` URL or path to start from; defaults to this module.
 * @returns The absolute path of the data directory.
 * @throws DataError when no `package.json` is found above `from`.
 * @example
 * ```ts
 * import { dataDirectory } from "langchain-gavel/eval";
 * console.log(dataDirectory()); // /path/to/node_modules/langchain-gavel/data
 * ```
 */
export function dataDirectory(from: string = import.meta.url): string {
  const start = from.startsWith("file:") ? fileURLToPath(from) : resolve(from);
  let folder = dirname(start);
  for (;;) {
    if (existsSync(join(folder, "package.json"))) return join(folder, "data");
    const parent = dirname(folder);
    if (parent === folder) {
      throw new DataError({ file: start, problem: "no package.json above this module, cannot locate data/" });
    }
    folder = parent;
  }
}

/** Absolute path of one shipped file. */
export function dataFilePath(name: DataFileName, directory: string = dataDirectory()): string {
  return join(directory, DATA_FILES[name]);
}

// ---------------------------------------------------------------------------------------------
// Reading and writing JSON Lines
// ---------------------------------------------------------------------------------------------

const GZIP_MAGIC_FIRST = 0x1f;
const GZIP_MAGIC_SECOND = 0x8b;

/**
 * The text of a `.jsonl` or `.jsonl.gz` file. Gzip is recognised by its magic bytes, not the name.
 * @throws DataError when the file cannot be read or decompressed.
 */
export async function readDataText(path: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new DataError({ file: path, problem: "cannot read the file" }, { cause: error });
  }
  if (bytes[0] === GZIP_MAGIC_FIRST && bytes[1] === GZIP_MAGIC_SECOND) {
    try {
      bytes = await gunzipAsync(bytes);
    } catch (error) {
      throw new DataError({ file: path, problem: "the gzip stream is corrupt" }, { cause: error });
    }
  }
  return bytes.toString("utf8");
}

/**
 * Parse JSON Lines text with `schema`, by the one JSONL rule of `src/jsonl.ts`: blank lines are
 * skipped, line numbers are 1-based and count them, the first bad line is an error.
 *
 * @param text - The whole file.
 * @param schema - The zod schema of one record.
 * @param file - The file name used in error messages.
 * @throws DataError on the first line that is not JSON or does not match the schema.
 * @example
 * ```ts
 * const rows = parseJsonLines(text, outcomeRecordSchema, "my-outcomes.jsonl");
 * ```
 */
export function parseJsonLines<T>(text: string, schema: z.ZodType<T>, file: string): T[] {
  return parseNumberedJsonLines(text, { schema, file }).map((record) => record.value);
}

/**
 * {@link parseJsonLines} keeping each record's line number, with the options of the core reader
 * (`torn` lines of a crash-safe cache). Errors are `DataError`s.
 */
export function parseNumberedJsonLines<T>(text: string, options: ParseJsonLinesOptions<T>): Array<JsonLine<T>> {
  try {
    return parseCoreJsonLines(text, options);
  } catch (error) {
    if (!JsonLineError.isInstance(error)) throw error;
    const { file, line, fields, problem } = error;
    throw new DataError({ file, line, fields, problem }, { cause: error.cause });
  }
}

/**
 * Read a `.jsonl` or `.jsonl.gz` file into records validated by `schema`.
 * @throws DataError naming the file, line and field of the first bad record.
 * @example
 * ```ts
 * const rows = await loadJsonLines("my-outcomes.jsonl.gz", outcomeRecordSchema);
 * ```
 */
export async function loadJsonLines<T>(path: string, schema: z.ZodType<T>): Promise<T[]> {
  return parseJsonLines(await readDataText(path), schema, path);
}

/**
 * Write records as JSON Lines, one object a line; gzip-compressed when the path ends in `.gz`.
 * Creates the parent folder. The gzip header carries no timestamp, so equal records give equal bytes.
 */
export async function writeJsonLines(path: string, records: Iterable<unknown>): Promise<void> {
  const lines: string[] = [];
  for (const record of records) lines.push(`${JSON.stringify(record)}\n`);
  const text = Buffer.from(lines.join(""), "utf8");
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, path.endsWith(".gz") ? await gzipAsync(text, { level: 9 }) : text);
}

// ---------------------------------------------------------------------------------------------
// Schemas: one per data set, mirroring the files
// ---------------------------------------------------------------------------------------------

/** GSM8K test problem (`gsm8k/test_normalized`): `final_answer` is the number after `####` in `answer`. */
export const gsm8kProblemSchema = z.object({
  id: z.string().min(1),
  question: z.string().min(1),
  answer: z.string().min(1),
  final_answer: z.string().min(1),
});
/** One GSM8K problem. */
export type Gsm8kProblem = z.output<typeof gsm8kProblemSchema>;

/** The four answer letters of MMLU. */
export const MMLU_LETTERS = ["A", "B", "C", "D"] as const;
/** One MMLU answer letter. */
export type MmluLetter = (typeof MMLU_LETTERS)[number];

/** MMLU question: four choices, the answer as a letter. */
export const mmluQuestionSchema = z.object({
  id: z.string().min(1),
  subject: z.string().min(1),
  question: z.string(),
  choices: z.array(z.string()).length(4),
  answer: z.enum(MMLU_LETTERS),
});
/** One MMLU question. */
export type MmluQuestion = z.output<typeof mmluQuestionSchema>;

/** HumanEval problem: `prompt` is the signature and docstring, `test` defines `check(candidate)`. */
export const humanEvalProblemSchema = z.object({
  task_id: z.string().min(1),
  prompt: z.string().min(1),
  canonical_solution: z.string(),
  test: z.string().min(1),
  entry_point: z.string().min(1),
});
/** One HumanEval problem. */
export type HumanEvalProblem = z.output<typeof humanEvalProblemSchema>;

/** The MBPP splits, by the paper's task id ranges (1–10 prompt, 11–510 test, 511–600 validation, 601–974 train). */
export const MBPP_SPLITS = ["prompt", "test", "validation", "train"] as const;
/** One MBPP split. */
export type MbppSplit = (typeof MBPP_SPLITS)[number];

/** MBPP problem as in `mbpp/mbpp_normalized`: `tests` are `assert` lines, `entry_point` the first `def`. */
export const mbppProblemSchema = z.object({
  task_id: z.number().int().positive(),
  split: z.enum(MBPP_SPLITS),
  prompt: z.string().min(1),
  tests: z.array(z.string()).min(1),
  test_setup_code: z.string(),
  challenge_tests: z.array(z.string()),
  entry_point: z.string().min(1),
  reference_code: z.string().min(1),
});
/** One MBPP problem (both variants load into this shape). */
export type MbppProblem = z.output<typeof mbppProblemSchema>;

/** The hand-checked MBPP subset as published (`sanitized_mbpp`); the loader maps it to {@link MbppProblem}. */
export const sanitizedMbppProblemSchema = z.object({
  source_file: z.string(),
  task_id: z.number().int().positive(),
  prompt: z.string().min(1),
  code: z.string().min(1),
  test_imports: z.array(z.string()),
  test_list: z.array(z.string()).min(1),
});
/** One record of `sanitized_mbpp` as published. */
export type SanitizedMbppProblem = z.output<typeof sanitizedMbppProblemSchema>;

/** SVAMP problem as published (`{ID, Body, Question, Equation, Answer, Type}`); the question asked is `Body + " " + Question`. */
export const svampProblemSchema = z.object({
  ID: z.string().min(1),
  Body: z.string(),
  Question: z.string().min(1),
  Equation: z.string(),
  Answer: z.number(),
  Type: z.string(),
});
/** One SVAMP problem. */
export type SvampProblem = z.output<typeof svampProblemSchema>;

// ---------------------------------------------------------------------------------------------
// Loaders
// ---------------------------------------------------------------------------------------------

const loadOptionsSchema = z
  .object({
    /** Read this file instead of the shipped one. */
    path: z.string().min(1).optional(),
    /** Look for the shipped file in this data directory instead of the package's `data/`. */
    directory: z.string().min(1).optional(),
  })
  .strict();

/** Options of every loader: read another file, or the shipped file from another data directory. */
export type LoadOptions = z.input<typeof loadOptionsSchema>;

/**
 * The file a loader reads: `options.path` when given, else the shipped file `name` inside
 * `options.directory` (default: the package's `data/`).
 * @throws ConfigError naming `where` when the options are invalid.
 */
export function resolveDataPath(where: string, name: DataFileName, options: LoadOptions = {}): string {
  const { path, directory } = parseConfig(where, loadOptionsSchema, options ?? {});
  return path ?? dataFilePath(name, directory ?? dataDirectory());
}

/**
 * The GSM8K test set (1,319 problems).
 * @example
 * ```ts
 * const problems = await loadGsm8k();
 * console.log(problems[0]?.question, problems[0]?.final_answer);
 * ```
 */
export async function loadGsm8k(options: LoadOptions = {}): Promise<Gsm8kProblem[]> {
  return loadJsonLines(resolveDataPath("loadGsm8k options", "gsm8k", options), gsm8kProblemSchema);
}

const mmluOptionsSchema = loadOptionsSchema
  .extend({
    /** `subset_500` (50 questions from each of 10 subjects) or `test_all` (all 14,042). */
    variant: z.enum(["subset_500", "test_all"]).default("subset_500"),
  })
  .strict();

/** Options of {@link loadMmlu}. */
export type MmluLoadOptions = z.input<typeof mmluOptionsSchema>;

/**
 * MMLU test questions: the 500-question subset by default, or the whole test set.
 * @example
 * ```ts
 * const subset = await loadMmlu(); // 500
 * const all = await loadMmlu({ variant: "test_all" }); // 14,042
 * ```
 */
export async function loadMmlu(options: MmluLoadOptions = {}): Promise<MmluQuestion[]> {
  const { variant, ...rest } = parseConfig("loadMmlu options", mmluOptionsSchema, options);
  const name = variant === "subset_500" ? "mmluSubset500" : "mmluTestAll";
  return loadJsonLines(resolveDataPath("loadMmlu options", name, rest), mmluQuestionSchema);
}

/**
 * The 164 HumanEval problems.
 * @example
 * ```ts
 * const problems = await loadHumanEval();
 * console.log(problems[0]?.entry_point); // has_close_elements
 * ```
 */
export async function loadHumanEval(options: LoadOptions = {}): Promise<HumanEvalProblem[]> {
  return loadJsonLines(resolveDataPath("loadHumanEval options", "humanEval", options), humanEvalProblemSchema);
}

const mbppOptionsSchema = loadOptionsSchema
  .extend({
    /** `normalized` (all 974 tasks) or `sanitized` (the hand-checked 427). */
    variant: z.enum(["normalized", "sanitized"]).default("normalized"),
  })
  .strict();

/** Options of {@link loadMbpp}. */
export type MbppLoadOptions = z.input<typeof mbppOptionsSchema>;

/** The split of an MBPP task id, by the paper's ranges. */
export function mbppSplitOf(taskId: number): MbppSplit {
  if (taskId <= 10) return "prompt";
  if (taskId <= 510) return "test";
  if (taskId <= 600) return "validation";
  return "train";
}

/** Name of the first top-level `def` in Python source, or `undefined`. */
export function firstFunctionName(code: string): string | undefined {
  return /^def\s+([A-Za-z_]\w*)\s*\(/m.exec(code)?.[1];
}

function sanitizedToProblem(record: SanitizedMbppProblem): MbppProblem {
  return {
    task_id: record.task_id,
    split: mbppSplitOf(record.task_id),
    prompt: record.prompt,
    tests: record.test_list,
    test_setup_code: record.test_imports.join("\n"),
    challenge_tests: [],
    entry_point: firstFunctionName(record.code) ?? "",
    reference_code: record.code,
  };
}

/**
 * MBPP problems. Both variants load into {@link MbppProblem}; for `sanitized`, `split` comes from the
 * task id, `test_setup_code` is the joined `test_imports`, `entry_point` the first `def` of `code`.
 * @example
 * ```ts
 * const test = (await loadMbpp()).filter((problem) => problem.split === "test"); // 500
 * const sanitized = await loadMbpp({ variant: "sanitized" }); // 427
 * ```
 */
export async function loadMbpp(options: MbppLoadOptions = {}): Promise<MbppProblem[]> {
  const { variant, ...rest } = parseConfig("loadMbpp options", mbppOptionsSchema, options);
  if (variant === "normalized") {
    return loadJsonLines(resolveDataPath("loadMbpp options", "mbppNormalized", rest), mbppProblemSchema);
  }
  const records = await loadJsonLines(
    resolveDataPath("loadMbpp options", "mbppSanitized", rest),
    sanitizedMbppProblemSchema,
  );
  return records.map(sanitizedToProblem);
}

/**
 * The 1,000 SVAMP problems. Ask `Body + " " + Question`; the answer is the number `Answer`.
 * @example
 * ```ts
 * const problems = await loadSvamp();
 * const first = problems[0];
 * if (first) console.log(`${first.Body} ${first.Question}`, first.Answer);
 * ```
 */
export async function loadSvamp(options: LoadOptions = {}): Promise<SvampProblem[]> {
  return loadJsonLines(resolveDataPath("loadSvamp options", "svamp", options), svampProblemSchema);
}
