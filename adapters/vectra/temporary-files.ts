/**
 * The temporary files of the on-disk memory's atomic writes, and their cleanup.
 *
 * `AtomicFileStorage` writes `<file>.<pid>.tmp` beside its target, fsyncs it and renames it over the
 * target. A process killed before the rename leaves that file behind (a 10,000-entry index is
 * ~20 MB), and nothing else would ever remove it. `removeOrphanedTemporaryFiles` runs on open,
 * while the folder lock is held, and removes exactly those files: only names of this pattern, for
 * the files the memory writes, and only when the pid in the name is dead or is this process (which
 * holds the lock and has not written yet, so the file is a leftover of an earlier process that had
 * the same pid). A file whose pid belongs to another live process is left alone.
 *
 * This module does not import vectra, so the cleanup can run before the optional peer loads.
 */
import { readdir, rm } from "node:fs/promises";
import { basename, join } from "node:path";

/** The temporary file an atomic write of `filePath` by process `pid` goes through. */
export function temporaryPathOf(filePath: string, pid: number = process.pid): string {
  return `${filePath}.${pid}.tmp`;
}

/** The pid in `name` when it is a temporary file of `target` (`<target>.<pid>.tmp`), else undefined. */
export function temporaryFileOwner(name: string, target: string): number | undefined {
  const prefix = `${basename(target)}.`;
  if (!name.startsWith(prefix) || !name.endsWith(".tmp")) return undefined;
  const digits = name.slice(prefix.length, -".tmp".length);
  if (!/^[1-9][0-9]{0,9}$/.test(digits)) return undefined;
  return Number(digits);
}

/** Temporary files of `targets` (file names inside `folder`) present in `folder`, by name. */
export async function temporaryFilesIn(folder: string, targets: readonly string[]): Promise<string[]> {
  const names = await readdir(folder);
  return names.filter((name) => targets.some((target) => temporaryFileOwner(name, target) !== undefined)).sort();
}

/**
 * Removes the temporary files of `targets` left in `folder` by processes that died mid-write.
 * Call it only while holding the folder lock, before the first write. Best effort: a file that
 * cannot be removed stays (the next open tries again). Returns the names removed.
 *
 * @example
 * ```ts
 * const lock = await acquireFolderLock(folder);
 * await removeOrphanedTemporaryFiles(folder, ["index.pb"], { isAlive: isProcessAlive });
 * ```
 */
export async function removeOrphanedTemporaryFiles(
  folder: string,
  targets: readonly string[],
  { pid = process.pid, isAlive }: { pid?: number; isAlive: (pid: number) => boolean },
): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await temporaryFilesIn(folder, targets)) {
    const owner = targets.map((target) => temporaryFileOwner(name, target)).find((found) => found !== undefined);
    if (owner === undefined || (owner !== pid && isAlive(owner))) continue;
    try {
      await rm(join(folder, name), { force: true });
      removed.push(name);
    } catch {
      // Best effort: a leftover that cannot be removed now is tried again on the next open.
    }
  }
  return removed;
}
