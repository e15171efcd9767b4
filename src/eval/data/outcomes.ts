/**
 * Recorded outcomes: what real models answered on real prompts, whether it was correct and what it cost.
 *
 * The canonical format is JSON Lines, one (prompt, model) pair a line:
 * `{prompt_id, prompt, eval_name, model, correct, cost_usd, response?, input_tokens?, output_tokens?, split?}`.
 * A (prompt, model) pair with no line means the model is UNAVAILABLE for that prompt: it is never
 * counted as wrong, nor as free.
 *
 * Read top to bottom: the canonical schema and loader, the index by prompt and model, the RouterBench converter.
 */
import { z } from "zod";
import { DataError } from "../errors.js";
import { type DataFileName, type LoadOptions, loadJsonLines, resolveDataPath } from "./datasets.js";

// ---------------------------------------------------------------------------------------------
// The canonical line
// ---------------------------------------------------------------------------------------------

/**
 * One canonical recorded outcome. `correct` is a number in [0, 1] (1 correct, 0 wrong, fractions
 * for partial credit); `true`/`false` are accepted and read as 1/0. `split` is an optional extension
 * naming the data split the prompt belongs to (RouterBench's `routerdc_split`).
 */
export const outcomeRecordSchema = z.object({
  prompt_id: z.string().min(1),
  prompt: z.string(),
  eval_name: z.string().min(1),
  model: z.string().min(1),
  correct: z.union([z.boolean().transform((value) => (value ? 1 : 0)), z.number().min(0).max(1)]),
  cost_usd: z.number().nonnegative(),
  response: z.string().optional(),
  input_tokens: z.number().int().nonnegative().optional(),
  output_tokens: z.number().int().nonnegative().optional(),
  split: z.string().min(1).optional(),
});

/** One canonical recorded outcome, after parsing (`correct` is always a number). */
export type OutcomeRecord = z.output<typeof outcomeRecordSchema>;

/** The shipped RouterBench outcomes, converted to the canonical format. */
const SHIPPED_OUTCOMES: DataFileName = "routerBenchOutcomes";

/**
 * Read a canonical outcomes file (`.jsonl` or `.jsonl.gz`); by default the shipped RouterBench outcomes
 * (2,218 prompts, 24,340 rows, 11 models).
 * @throws DataError naming the file, line and field of the first bad line, or the file when it holds no record.
 * @example
 * ```ts
 * const rows = await loadRecordedOutcomes();
 * const mine = await loadRecordedOutcomes({ path: "my-run.jsonl" });
 * ```
 */
export async function loadRecordedOutcomes(options: LoadOptions = {}): Promise<OutcomeRecord[]> {
  const path = resolveDataPath("loadRecordedOutcomes options", SHIPPED_OUTCOMES, options);
  const records = await loadJsonLines(path, outcomeRecordSchema);
  if (records.length === 0) {
    throw new DataError({
      file: path,
      problem: "no outcome records (the file is empty); give one canonical outcome JSON object per line",
    });
  }
  return records;
}

// ---------------------------------------------------------------------------------------------
// The index by prompt and model
// ---------------------------------------------------------------------------------------------

/** What a missing (prompt, model) cell reads as. */
export const UNAVAILABLE = "unavailable";

/** The marker of a missing (prompt, model) cell. */
export type Unavailable = typeof UNAVAILABLE;

/** What is known about a prompt regardless of the model. */
export interface PromptInfo {
  prompt_id: string;
  prompt: string;
  eval_name: string;
  split?: string;
}

/** Recorded outcomes indexed by prompt and by model. Immutable. */
export interface OutcomeIndex {
  /** Prompt ids in the order they first appear. */
  readonly promptIds: readonly string[];
  /** Model names, sorted. */
  readonly models: readonly string[];
  /** Number of (prompt, model) rows. */
  readonly rowCount: number;
  /** The prompt's text, task and split; `undefined` for an unknown id. */
  promptInfo(promptId: string): PromptInfo | undefined;
  /** The recorded outcome, or `"unavailable"` when that model has none for that prompt (or the prompt is unknown). */
  outcome(promptId: string, model: string): OutcomeRecord | Unavailable;
  /** Every recorded outcome of one prompt, by model (empty for an unknown id). */
  outcomesOf(promptId: string): ReadonlyMap<string, OutcomeRecord>;
}

/**
 * Index canonical outcomes by prompt and model.
 *
 * @param records - Canonical outcomes, e.g. from {@link loadRecordedOutcomes}.
 * @param source - Name used in error messages (a file name).
 * @throws DataError when a (prompt, model) pair appears twice, or one prompt id carries two
 *   different texts, tasks or splits.
 * @example
 * ```ts
 * const index = indexOutcomes(await loadRecordedOutcomes());
 * const cell = index.outcome("arc-challenge.test.1108", "gpt-4-1106-preview");
 * if (cell !== "unavailable") console.log(cell.correct, cell.cost_usd);
 * ```
 */
export function indexOutcomes(records: readonly OutcomeRecord[], source = "recorded outcomes"): OutcomeIndex {
  const prompts = new Map<string, PromptInfo>();
  const cells = new Map<string, Map<string, OutcomeRecord>>();
  const modelNames = new Set<string>();

  records.forEach((record, position) => {
    const where = { file: source, problem: "" };
    const known = prompts.get(record.prompt_id);
    if (known === undefined) {
      const info: PromptInfo = { prompt_id: record.prompt_id, prompt: record.prompt, eval_name: record.eval_name };
      if (record.split !== undefined) info.split = record.split;
      prompts.set(record.prompt_id, info);
      cells.set(record.prompt_id, new Map());
    } else if (known.eval_name !== record.eval_name || known.prompt !== record.prompt || known.split !== record.split) {
      throw new DataError({
        ...where,
        problem: `record ${position + 1}: prompt "${record.prompt_id}" appears with a different prompt, eval_name or split`,
      });
    }
    const byModel = cells.get(record.prompt_id) as Map<string, OutcomeRecord>;
    if (byModel.has(record.model)) {
      throw new DataError({
        ...where,
        problem: `record ${position + 1}: (prompt "${record.prompt_id}", model "${record.model}") appears twice`,
      });
    }
    byModel.set(record.model, record);
    modelNames.add(record.model);
  });

  const promptIds = Object.freeze([...prompts.keys()]);
  const models = Object.freeze([...modelNames].sort());
  const empty: ReadonlyMap<string, OutcomeRecord> = new Map();
  return {
    promptIds,
    models,
    rowCount: records.length,
    promptInfo: (promptId) => prompts.get(promptId),
    outcome: (promptId, model) => cells.get(promptId)?.get(model) ?? UNAVAILABLE,
    outcomesOf: (promptId) => cells.get(promptId) ?? empty,
  };
}

/**
 * Load and index canonical outcomes in one step; by default the shipped RouterBench outcomes.
 * @example
 * ```ts
 * const index = await loadOutcomeIndex();
 * console.log(index.promptIds.length, index.models.length); // 2218 11
 * ```
 */
export async function loadOutcomeIndex(options: LoadOptions = {}): Promise<OutcomeIndex> {
  const file = resolveDataPath("loadOutcomeIndex options", SHIPPED_OUTCOMES, options);
  return indexOutcomes(await loadJsonLines(file, outcomeRecordSchema), file);
}

// ---------------------------------------------------------------------------------------------
// The RouterBench converter
// ---------------------------------------------------------------------------------------------

/** A line of RouterBench's `prompts.jsonl` (as split by RouterDC). */
export const routerBenchPromptSchema = z.object({
  prompt_id: z.string().min(1),
  eval_name: z.string().min(1),
  routerdc_split: z.string().min(1).optional(),
  prompt: z.string(),
});
/** One RouterBench prompt. */
export type RouterBenchPrompt = z.output<typeof routerBenchPromptSchema>;

/** A line of RouterBench's `outcomes_long.jsonl`: one (prompt, model) outcome. */
export const routerBenchOutcomeSchema = z.object({
  prompt_id: z.string().min(1),
  eval_name: z.string().min(1),
  model: z.string().min(1),
  correct: z.number().min(0).max(1),
  cost_usd: z.number().nonnegative(),
  response: z.string().optional(),
});
/** One RouterBench outcome row. */
export type RouterBenchOutcome = z.output<typeof routerBenchOutcomeSchema>;

/** Input of {@link convertRouterBench}: the parsed records of the two RouterBench files. */
export interface RouterBenchTables {
  prompts: readonly RouterBenchPrompt[];
  outcomes: readonly RouterBenchOutcome[];
  /** Names used in error messages. */
  promptsFile?: string;
  outcomesFile?: string;
}

/**
 * Convert RouterBench prompts and long-format outcomes to canonical outcomes. Pure.
 *
 * Rows come out grouped by prompt (in the order of `prompts`), models sorted by name inside a prompt.
 * `routerdc_split` becomes `split`; missing (prompt, model) pairs stay missing; nothing is invented.
 *
 * @throws DataError when an outcome names an unknown prompt or a different `eval_name`, or a
 *   (prompt, model) pair or a prompt id appears twice.
 * @example
 * ```ts
 * const records = convertRouterBench({ prompts, outcomes });
 * await writeJsonLines("outcomes.jsonl.gz", records);
 * ```
 */
export function convertRouterBench(tables: RouterBenchTables): OutcomeRecord[] {
  const { prompts, outcomes, promptsFile = "prompts.jsonl", outcomesFile = "outcomes_long.jsonl" } = tables;
  const byPrompt = new Map<string, { prompt: RouterBenchPrompt; rows: RouterBenchOutcome[] }>();
  prompts.forEach((prompt, position) => {
    if (byPrompt.has(prompt.prompt_id)) {
      throw new DataError({
        file: promptsFile,
        fields: ["prompt_id"],
        problem: `record ${position + 1}: prompt "${prompt.prompt_id}" appears twice`,
      });
    }
    byPrompt.set(prompt.prompt_id, { prompt, rows: [] });
  });

  outcomes.forEach((row, position) => {
    const entry = byPrompt.get(row.prompt_id);
    if (entry === undefined) {
      throw new DataError({
        file: outcomesFile,
        fields: ["prompt_id"],
        problem: `record ${position + 1}: prompt "${row.prompt_id}" is not in ${promptsFile}`,
      });
    }
    if (entry.prompt.eval_name !== row.eval_name) {
      throw new DataError({
        file: outcomesFile,
        fields: ["eval_name"],
        problem: `record ${position + 1}: "${row.eval_name}" but ${promptsFile} says "${entry.prompt.eval_name}"`,
      });
    }
    if (entry.rows.some((other) => other.model === row.model)) {
      throw new DataError({
        file: outcomesFile,
        fields: ["model"],
        problem: `record ${position + 1}: (prompt "${row.prompt_id}", model "${row.model}") appears twice`,
      });
    }
    entry.rows.push(row);
  });

  const records: OutcomeRecord[] = [];
  for (const { prompt, rows } of byPrompt.values()) {
    const sorted = [...rows].sort((left, right) => (left.model < right.model ? -1 : left.model > right.model ? 1 : 0));
    for (const row of sorted) {
      const record: OutcomeRecord = {
        prompt_id: prompt.prompt_id,
        prompt: prompt.prompt,
        eval_name: prompt.eval_name,
        model: row.model,
        correct: row.correct,
        cost_usd: row.cost_usd,
      };
      if (row.response !== undefined) record.response = row.response;
      if (prompt.routerdc_split !== undefined) record.split = prompt.routerdc_split;
      records.push(record);
    }
  }
  return records;
}

/**
 * Read RouterBench's `prompts.jsonl` and `outcomes_long.jsonl` (plain or gzipped) and convert them.
 * @example
 * ```ts
 * const records = await convertRouterBenchFiles({
 *   promptsPath: "routerbench/prompts.jsonl",
 *   outcomesPath: "routerbench/outcomes_long.jsonl",
 * });
 * ```
 */
export async function convertRouterBenchFiles(options: {
  promptsPath: string;
  outcomesPath: string;
}): Promise<OutcomeRecord[]> {
  const { promptsPath, outcomesPath } = options;
  const [prompts, outcomes] = await Promise.all([
    loadJsonLines(promptsPath, routerBenchPromptSchema),
    loadJsonLines(outcomesPath, routerBenchOutcomeSchema),
  ]);
  return convertRouterBench({ prompts, outcomes, promptsFile: promptsPath, outcomesFile: outcomesPath });
}
