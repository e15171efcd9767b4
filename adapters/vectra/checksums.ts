/**
 * The index's checksum file, `index.pb.sha256`: proof that `index.pb` holds the bytes the memory
 * wrote. Without it a bit flip, a cut at an item boundary or a garbled vector decodes "fine" and
 * would be read as a smaller or different memory.
 *
 * The file lists the SHA-256 (hex) of the index just written and of the one it replaces, one per
 * line. It is written (atomically) after the new index is on disk under its temporary name and
 * before that is renamed over the index, so a kill at any point leaves an index whose checksum is
 * listed: the old one before the rename, the new one after. A folder without the file (written
 * before it existed, or by vectra's own tools) is not checked; the next compaction writes it.
 *
 * This module does not import vectra, so it loads with the memory before the optional peer does.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { StrategyMemoryError } from "../../src/memory/errors.js";

/** Suffix of the checksum file of a file the memory writes (`index.pb` → `index.pb.sha256`). */
export const CHECKSUM_SUFFIX = ".sha256";

/** Path of the checksum file of `filePath`. */
export function checksumPathOf(filePath: string): string {
  return `${filePath}${CHECKSUM_SUFFIX}`;
}

/** SHA-256 of `content`, hex. */
export function checksumOf(content: Buffer | string): string {
  return createHash("sha256").update(content).digest("hex");
}

/** The checksum file's text: the new checksum, then the one it replaces (when known). */
export function checksumFileText(current: string, previous: string | undefined): string {
  return previous === undefined || previous === current ? `${current}\n` : `${current}\n${previous}\n`;
}

/**
 * The checksums accepted for `filePath`, or undefined when it has no checksum file.
 *
 * @throws StrategyMemoryError `io` when the checksum file exists but cannot be read.
 */
export async function acceptedChecksums(filePath: string, folder: string): Promise<Set<string> | undefined> {
  const path = checksumPathOf(filePath);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new StrategyMemoryError(
      { operation: "open", reason: "io", message: `cannot read ${path}`, folder },
      { cause: error },
    );
  }
  return new Set(
    text
      .split("\n")
      .map((line) => line.trim())
      .filter((line) => line.length > 0),
  );
}
