/**
 * The on-disk memory's write-ahead journal: one JSON object per line, appended on every write.
 *
 * vectra rewrites its whole index file on every update (20 MB at 10,000 entries of 512-d,
 * ~0.25 s), so writing it on every `add` would make each add cost as much as the whole memory.
 * Instead an add appends a few kilobytes here, and the journal is folded into the vectra index
 * ("compaction") every `compactEvery` records and on close. Replaying the journal over the index
 * is idempotent, so a crash at any point loses at most the line being written.
 *
 * Vectors are stored as base64 of little-endian float32 (2.7 KB for 512-d).
 */
import { appendFile, readFile, writeFile } from "node:fs/promises";
import { z } from "zod";
import { type JsonLine, JsonLineError, parseJsonLines } from "../../src/jsonl.js";
import { parseStoredEntry } from "../../src/memory/entry-schema.js";
import { StrategyMemoryError } from "../../src/memory/errors.js";
import type { MemoryChange } from "../../src/memory/matrix-memory.js";
import type { StoredRecord } from "../../src/memory/matrix-store.js";

/** Name of the journal file inside the folder. */
export const JOURNAL_FILE_NAME = "journal.jsonl";

const journalRecordSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("add"), entry: z.unknown(), vector: z.string(), lastUsedAt: z.number() }),
  z.object({ op: z.literal("evict"), ids: z.array(z.string()) }),
  z.object({ op: z.literal("outcome"), id: z.string(), outcome: z.number() }),
  z.object({ op: z.literal("use"), marks: z.array(z.tuple([z.string(), z.number()])) }),
]);

type JournalRecord = z.infer<typeof journalRecordSchema>;

/** Float32 vector → base64 of its little-endian bytes. */
export function encodeVector(vector: Float32Array): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((value, index) => {
    bytes.writeFloatLE(value, index * 4);
  });
  return bytes.toString("base64");
}

/** base64 of little-endian float32 bytes → vector. */
export function decodeVector(text: string): Float32Array {
  const bytes = Buffer.from(text, "base64");
  const vector = new Float32Array(Math.floor(bytes.length / 4));
  for (let index = 0; index < vector.length; index += 1) vector[index] = bytes.readFloatLE(index * 4);
  return vector;
}

/** The journal lines of one change, each ending in a newline. */
export function journalLines(change: MemoryChange): string[] {
  const records: JournalRecord[] = [
    ...change.added.map(({ entry, vector, lastUsedAt }) => ({
      op: "add" as const,
      entry,
      vector: encodeVector(vector),
      lastUsedAt,
    })),
    ...(change.evicted.length > 0 ? [{ op: "evict" as const, ids: change.evicted }] : []),
    ...change.outcomes.map(({ id, outcome }) => ({ op: "outcome" as const, id, outcome })),
    ...(change.used.length > 0
      ? [{ op: "use" as const, marks: change.used.map(({ id, at }): [string, number] => [id, at]) }]
      : []),
  ];
  return records.map((record) => `${JSON.stringify(record)}\n`);
}

/** Appends lines in one write. */
export async function appendJournal(path: string, lines: string[]): Promise<void> {
  if (lines.length > 0) await appendFile(path, lines.join(""), "utf8");
}

/** Empties the journal (after a compaction). */
export async function clearJournal(path: string): Promise<void> {
  await writeFile(path, "", "utf8");
}

/** What a replay changed, so that the caller can fold exactly that into the index. */
export interface JournalReplay {
  /** False when the file is missing or empty. */
  hadContent: boolean;
  /** Ids added, updated or marked used (and still present). */
  changed: Set<string>;
  /** Ids evicted (and not added again). */
  removed: Set<string>;
}

/**
 * Replays the journal at `path` onto `records` (in place), read by the one JSONL reader
 * (`src/jsonl.ts`, `torn: "last"`). A last line cut short by a crash is ignored; any other bad line
 * throws `StrategyMemoryError` (`reason: "corrupt"`) naming `file:line`.
 */
export async function replayJournal(
  path: string,
  records: Map<string, StoredRecord>,
  folder: string,
): Promise<JournalReplay> {
  const replay: JournalReplay = { hadContent: false, changed: new Set(), removed: new Set() };
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return replay;
    throw new StrategyMemoryError(
      { operation: "open", reason: "io", message: `cannot read ${path}`, folder },
      { cause: error },
    );
  }
  replay.hadContent = text.length > 0;
  // The one JSONL rule, crash-safe: an unterminated last line that is not JSON was cut short by a
  // crash and is skipped; any other bad line means the journal is corrupt.
  let lines: Array<JsonLine<JournalRecord>>;
  try {
    lines = parseJsonLines(text, { schema: journalRecordSchema, file: path, torn: "last" });
  } catch (error) {
    if (!JsonLineError.isInstance(error)) throw error;
    throw new StrategyMemoryError(
      { operation: "open", reason: "corrupt", message: error.message, folder },
      { cause: error },
    );
  }
  for (const { line, value } of lines) apply(value, records, { where: `${path}:${line}`, folder }, replay);
  for (const id of replay.changed) if (!records.has(id)) replay.changed.delete(id);
  return replay;
}

/**
 * The vector of an `add` line, checked: whole float32 values, finite, and as long as the vectors
 * already held (the index's, or earlier lines').
 */
function vectorOf(
  text: string,
  records: Map<string, StoredRecord>,
  { where, folder }: { where: string; folder: string },
): Float32Array {
  const bytes = Buffer.from(text, "base64").length;
  const vector = decodeVector(text);
  if (bytes === 0 || bytes % 4 !== 0 || !vector.every(Number.isFinite)) {
    throw new StrategyMemoryError({
      operation: "open",
      reason: "corrupt",
      message: `${where}: the vector is not a list of finite float32 values (${bytes} bytes)`,
      folder,
    });
  }
  const held = records.values().next().value?.vector.length;
  if (held !== undefined && held !== vector.length) {
    throw new StrategyMemoryError({
      operation: "open",
      reason: "dimension_mismatch",
      message: `${where}: a ${vector.length}-d vector, but the memory holds ${held}-d vectors (was it written with another embedder?)`,
      folder,
    });
  }
  return vector;
}

function apply(
  record: JournalRecord,
  records: Map<string, StoredRecord>,
  context: { where: string; folder: string },
  replay: JournalReplay,
): void {
  switch (record.op) {
    case "add": {
      const entry = parseStoredEntry(record.entry, "open", context.where);
      records.set(entry.id, {
        entry,
        vector: vectorOf(record.vector, records, context),
        lastUsedAt: record.lastUsedAt,
      });
      replay.changed.add(entry.id);
      replay.removed.delete(entry.id);
      return;
    }
    case "evict":
      for (const id of record.ids) {
        records.delete(id);
        replay.removed.add(id);
        replay.changed.delete(id);
      }
      return;
    case "outcome": {
      const stored = records.get(record.id);
      if (stored === undefined) return;
      records.set(record.id, { ...stored, entry: { ...stored.entry, outcome: record.outcome } });
      replay.changed.add(record.id);
      return;
    }
    case "use":
      for (const [id, at] of record.marks) {
        const stored = records.get(id);
        if (stored === undefined) continue;
        records.set(id, { ...stored, lastUsedAt: Math.max(stored.lastUsedAt, at) });
        replay.changed.add(id);
      }
      return;
  }
}
