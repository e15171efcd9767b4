/**
 * Reading the vectra index file (`index.pb`) at open, loudly: a missing index is a new memory, but
 * an index that is empty (0 bytes), cut short, garbled or inconsistent is refused with
 * `StrategyMemoryError` (`reason: "corrupt"`, or `"dimension_mismatch"` for vectors of different
 * lengths), never read as an empty or smaller memory. Nothing in the folder is changed on refusal.
 *
 * Why 0 bytes is never an empty memory: the memory writes its index only through
 * `AtomicFileStorage` (temporary file, fsync, rename), and even an index of no entries encodes its
 * version, so a 0-byte `index.pb` is always damage (a truncation, a failed copy, a full disk under
 * another tool), whereas vectra's protobuf decoder reads it as an index of no items.
 */
import { stat } from "node:fs/promises";
import { basename, join } from "node:path";
import type { IndexItem, LocalIndex } from "vectra";
import { StrategyMemoryError } from "../../src/memory/errors.js";
import { acceptedChecksums, checksumPathOf } from "./checksums.js";

/** The index version the memory writes (vectra's `createIndex` default). */
export const INDEX_VERSION = 1;

/** How to get out of a refused open; part of every `corrupt` message about the index. */
function fixFor(indexPath: string, journalName: string): string {
  return (
    `The memory was not opened (a damaged index is never read as an empty memory) and nothing in the folder was changed. ` +
    `Restore ${basename(indexPath)} and ${basename(checksumPathOf(indexPath))} from a backup (${journalName} is replayed over them on the next open), ` +
    `or move the folder away to start an empty memory`
  );
}

/** A `corrupt` open failure about the index file, naming it and the fix. */
export function corruptIndexError(
  folder: string,
  indexPath: string,
  problem: string,
  { journalName, cause }: { journalName: string; cause?: unknown },
): StrategyMemoryError {
  // The cause's message is appended after the message: introduce it.
  const detail = cause instanceof Error ? ". The decoder said" : "";
  return new StrategyMemoryError(
    {
      operation: "open",
      reason: "corrupt",
      message: `${indexPath} ${problem}. ${fixFor(indexPath, journalName)}${detail}`,
      folder,
    },
    cause === undefined ? undefined : { cause },
  );
}

function hasErrorCode(error: unknown): boolean {
  return typeof (error as NodeJS.ErrnoException | undefined)?.code === "string";
}

/** Size of `path` in bytes, or undefined when it does not exist; other failures are `io`. */
export async function fileSize(path: string, folder: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StrategyMemoryError(
      { operation: "open", reason: "io", message: `cannot read ${path}`, folder },
      { cause: error },
    );
  }
}

/**
 * Reads every item of an existing index file and checks it: its checksum listed in
 * `index.pb.sha256` (when that file exists), decodable, the version the memory writes, unique
 * non-empty ids, non-empty finite vectors all of one length. `checksumOfLastRead` gives the
 * checksum of the bytes vectra read (from `AtomicFileStorage`).
 *
 * @throws StrategyMemoryError `corrupt` (naming the file and the fix), `dimension_mismatch`
 * (naming the item), or `io` when the file system fails.
 */
export async function readIndexItems(
  index: LocalIndex,
  {
    folder,
    journalName,
    checksumOfLastRead,
  }: { folder: string; journalName: string; checksumOfLastRead: (path: string) => string | undefined },
): Promise<IndexItem[]> {
  const indexPath = join(folder, index.indexName);
  const size = await fileSize(indexPath, folder);
  if (size === undefined) return [];
  if (size === 0) throw corruptIndexError(folder, indexPath, "is empty (0 bytes)", { journalName });
  let items: IndexItem[] = [];
  let version = INDEX_VERSION;
  let decodeFailure: unknown;
  try {
    items = await index.listItems();
    version = (await index.getIndexStats()).version;
  } catch (error) {
    // The file system's failures carry an errno code; the decoder's (protobufjs) do not.
    if (hasErrorCode(error)) {
      throw new StrategyMemoryError(
        { operation: "open", reason: "io", message: `cannot read ${indexPath}`, folder },
        { cause: error },
      );
    }
    decodeFailure = error;
  }
  // The checksum first: it says why a file does not decode, and catches damage that decodes.
  const accepted = await acceptedChecksums(indexPath, folder);
  const read = checksumOfLastRead(indexPath);
  if (accepted !== undefined && read !== undefined && !accepted.has(read)) {
    const checksumName = basename(checksumPathOf(indexPath));
    throw corruptIndexError(
      folder,
      indexPath,
      `does not match its checksum in ${checksumName}: its bytes changed after the memory wrote them ` +
        `(if you changed it on purpose with another tool, delete ${checksumName} and open again)`,
      { journalName },
    );
  }
  if (decodeFailure !== undefined) {
    throw corruptIndexError(folder, indexPath, `cannot be decoded (${size} bytes)`, {
      journalName,
      cause: decodeFailure,
    });
  }
  if (version !== INDEX_VERSION) {
    throw corruptIndexError(folder, indexPath, `has index version ${version}, expected ${INDEX_VERSION}`, {
      journalName,
    });
  }
  checkItems(items, { folder, indexPath, journalName });
  return items;
}

function checkItems(
  items: readonly IndexItem[],
  { folder, indexPath, journalName }: { folder: string; indexPath: string; journalName: string },
): void {
  const seen = new Set<string>();
  let dimensions: { length: number; id: string } | undefined;
  items.forEach((item, position) => {
    const corrupt = (problem: string) =>
      corruptIndexError(folder, indexPath, `item ${position} ${problem}`, { journalName });
    if (typeof item.id !== "string" || item.id.length === 0) throw corrupt("has no id");
    if (seen.has(item.id)) throw corrupt(`repeats the id ${JSON.stringify(item.id)}`);
    seen.add(item.id);
    const vector = item.vector;
    if (!Array.isArray(vector) || vector.length === 0) throw corrupt(`(${item.id}) has no vector`);
    if (!vector.every(Number.isFinite))
      throw corrupt(`(${item.id}) has a vector with a value that is not a finite number`);
    if (dimensions === undefined) dimensions = { length: vector.length, id: item.id };
    else if (vector.length !== dimensions.length) {
      throw new StrategyMemoryError({
        operation: "open",
        reason: "dimension_mismatch",
        message:
          `${indexPath} holds ${dimensions.length}-d vectors (${dimensions.id}) but item ${item.id} has a ${vector.length}-d one: ` +
          `entries of two embedders were mixed. Move the folder away to start an empty memory ` +
          `(or remove the odd items with vectra and delete ${basename(checksumPathOf(indexPath))})`,
        folder,
      });
    }
  });
}
