/**
 * Recorded multi-agent debates: the JSON Lines format, its zod schema, and the task checkers that
 * read an answer out of a recorded text.
 *
 * One question a line:
 *
 * ```json
 * {"id": "q1", "task": "gsm8k", "question": "...", "gold": "18",
 *  "agents": [["round 0 text", "round 1 text"], ["...", "..."], ["...", "..."]], "model": "gpt-4o-mini"}
 * ```
 *
 * `agents[i][r]` is what agent i wrote in round r. Every agent has the same number of rounds. Agent i
 * is the same agent on every line (its reliability is learned by position). `model` names the
 * tokenizer the texts are counted with (default `o200k_base`); `choices` (MMLU only, optional) lets the
 * letter checker match a reply that quotes a choice's text.
 *
 * Any other key (a run id, a gold solution, a timestamp...) is kept on the record as `metadata` and
 * ignored by the replay; {@link loadDebateRun} lists those keys once per file.
 */
import { z } from "zod";
import type { JsonLine } from "../../../jsonl.js";
import { extractChoiceLetter, extractFinalNumber, normalizeNumber, numbersMatch } from "../../data/checkers.js";
import { parseNumberedJsonLines, readDataText } from "../../data/datasets.js";
import { DataError } from "../../errors.js";

/** The tasks a recorded debate can be checked against. */
export const DEBATE_TASKS = ["gsm8k", "mmlu", "arithmetic"] as const;

/** A task of {@link DEBATE_TASKS}. */
export type DebateTask = (typeof DEBATE_TASKS)[number];

const MMLU_LETTER = /^[A-D]$/;

/**
 * The keys a recorded debate line is read by; any other key is kept as {@link DebateRecord.metadata}.
 *
 * @example
 * ```ts
 * const line = { id: "q1", task: "gsm8k", question: "…", gold: "18", agents: [["…"]], run_id: "r1" };
 * Object.keys(line).filter((key) => !(DEBATE_RECORD_KEYS as readonly string[]).includes(key)); // ["run_id"]
 * ```
 */
export const DEBATE_RECORD_KEYS = ["id", "task", "question", "gold", "agents", "model", "choices"] as const;

/**
 * Zod schema of one recorded debate (one line of the file). A required field that is missing or
 * malformed fails; keys other than {@link DEBATE_RECORD_KEYS} (compared exactly, so `"ID"` is one of
 * them) are moved into `metadata`, present only when the line has some.
 */
export const debateRecordSchema = z
  .looseObject({
    id: z.union([z.string().min(1), z.number().int()]).transform(String),
    task: z.enum(DEBATE_TASKS),
    question: z.string().min(1),
    gold: z.union([z.string().min(1), z.number()]).transform(String),
    agents: z
      .array(
        z
          .array(z.string(), { error: "expected the agent's texts, one per round" })
          .min(1, "an agent needs at least one round"),
      )
      .min(1, "a debate needs at least one agent"),
    model: z.string().min(1).optional(),
    choices: z.array(z.string()).length(4).optional(),
  })
  .superRefine((record, context) => {
    const rounds = record.agents[0]?.length ?? 0;
    record.agents.forEach((texts, agent) => {
      if (texts.length !== rounds) {
        context.addIssue({
          code: "custom",
          path: ["agents", agent],
          message: `every agent must have the same number of rounds (agent 0 has ${rounds}, this one ${texts.length})`,
        });
      }
    });
    if (record.task === "mmlu" && !MMLU_LETTER.test(record.gold)) {
      context.addIssue({ code: "custom", path: ["gold"], message: "an mmlu gold answer is one letter A-D" });
    }
    if (record.task !== "mmlu" && normalizeNumber(record.gold) === undefined) {
      context.addIssue({ code: "custom", path: ["gold"], message: `a ${record.task} gold answer is a number` });
    }
    if (record.task !== "mmlu" && record.choices !== undefined) {
      context.addIssue({ code: "custom", path: ["choices"], message: "choices are for mmlu questions only" });
    }
  })
  .transform(({ id, task, question, gold, agents, model, choices, ...extra }): DebateRecord => {
    const record: DebateRecord = { id, task, question, gold, agents };
    if (model !== undefined) record.model = model;
    if (choices !== undefined) record.choices = choices;
    if (Object.keys(extra).length > 0) record.metadata = extra;
    return record;
  });

/** One recorded debate, as parsed (`id` and `gold` are strings). */
export interface DebateRecord {
  id: string;
  task: DebateTask;
  question: string;
  gold: string;
  /** `agents[i][r]`: what agent i wrote in round r. */
  agents: string[][];
  /** The model whose tokenizer counts the texts. */
  model?: string;
  /** MMLU only: the four choice texts. */
  choices?: string[];
  /** The line's other keys (run ids, solutions, timestamps...), as they were; the replay ignores them. */
  metadata?: Record<string, unknown>;
}

/** One file of recorded debates: one run (agents are positions within it). */
export interface DebateRun {
  /** The path (or name) it was read from. */
  file: string;
  /** Its debates, in file order. */
  debates: DebateRecord[];
  /** Keys kept as metadata on at least one line, sorted; empty when every line had only known keys. */
  ignoredKeys: string[];
}

/**
 * Parse one run of recorded debates from JSON Lines text. Empty lines are skipped; keys other than
 * {@link DEBATE_RECORD_KEYS} are kept as each record's `metadata` and listed once in `ignoredKeys`.
 * Prints nothing: warning about the ignored keys is the caller's choice.
 *
 * @param text - The whole file.
 * @param file - The file name used in errors and in the result.
 * @throws DataError naming the file, the 1-based line and the field of the first bad record
 *   (including a repeated `id`).
 * @example
 * ```ts
 * const run = parseDebateRun(
 *   '{"id":"q1","task":"arithmetic","question":"2+2?","gold":"4","agents":[["4"],["5"]],"run_id":"r7"}',
 *   "inline.jsonl",
 * );
 * run.ignoredKeys; // ["run_id"]
 * run.debates[0]?.metadata; // { run_id: "r7" }
 * ```
 */
export function parseDebateRun(text: string, file: string): DebateRun {
  const records = parseNumberedJsonLines(text, { schema: debateRecordSchema, file });
  rejectRepeatedIds(records, file);
  const debates = records.map((record) => record.value);
  const ignored = new Set(debates.flatMap((debate) => Object.keys(debate.metadata ?? {})));
  return { file, debates, ignoredKeys: [...ignored].sort() };
}

/**
 * Read one run of recorded debates from a `.jsonl` or `.jsonl.gz` file (see {@link parseDebateRun}).
 *
 * @throws DataError when the file cannot be read, or naming file, line and field of a bad record.
 * @example
 * ```ts
 * const { debates, ignoredKeys } = await loadDebateRun("data/debates/sample.jsonl");
 * if (ignoredKeys.length > 0) console.warn(`ignored keys ${ignoredKeys.join(", ")} (kept as metadata)`);
 * ```
 */
export async function loadDebateRun(path: string): Promise<DebateRun> {
  return parseDebateRun(await readDataText(path), path);
}

/**
 * Parse recorded debates from JSON Lines text: {@link parseDebateRun}'s debates.
 *
 * @param text - The whole file.
 * @param file - The file name used in error messages.
 * @throws DataError naming the file, the 1-based line and the field of the first bad record
 *   (including a repeated `id`).
 * @example
 * ```ts
 * const [debate] = parseDebateRecords(
 *   '{"id":"q1","task":"arithmetic","question":"2+2?","gold":"4","agents":[["4"],["5"]]}',
 *   "inline.jsonl",
 * );
 * ```
 */
export function parseDebateRecords(text: string, file: string): DebateRecord[] {
  return parseDebateRun(text, file).debates;
}

/**
 * Read recorded debates from a `.jsonl` or `.jsonl.gz` file: {@link loadDebateRun}'s debates.
 *
 * @throws DataError when the file cannot be read, or naming file, line and field of a bad record.
 * @example
 * ```ts
 * const debates = await loadDebateRecords("data/debates/sample.jsonl");
 * ```
 */
export async function loadDebateRecords(path: string): Promise<DebateRecord[]> {
  return (await loadDebateRun(path)).debates;
}

function rejectRepeatedIds(records: ReadonlyArray<JsonLine<DebateRecord>>, file: string): void {
  const seen = new Set<string>();
  for (const { line, value } of records) {
    if (seen.has(value.id)) {
      throw new DataError({ file, line, fields: ["id"], problem: `id "${value.id}" appears on an earlier line` });
    }
    seen.add(value.id);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading and checking answers
// ---------------------------------------------------------------------------------------------

/**
 * The answer a recorded text gives, by the task's checker: the final number (normalised, e.g.
 * `"$1,250.00"` → `"1250"`) for `gsm8k` and `arithmetic`, the letter A–D for `mmlu`.
 * `undefined` when none can be read.
 *
 * @example
 * ```ts
 * parseDebateAnswer("gsm8k", "9 * 2 = 18 dollars. #### 18"); // "18"
 * parseDebateAnswer("mmlu", "The answer is (C)."); // "C"
 * ```
 */
export function parseDebateAnswer(task: DebateTask, text: string, choices?: readonly string[]): string | undefined {
  return task === "mmlu" ? extractChoiceLetter(text, choices) : extractFinalNumber(text);
}

/** True when a parsed answer matches the gold answer under the task's checker. */
export function isCorrectAnswer(task: DebateTask, answer: string | undefined, gold: string): boolean {
  if (answer === undefined) return false;
  return task === "mmlu" ? answer === gold : numbersMatch(answer, gold);
}
