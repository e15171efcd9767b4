/**
 * One owner per memory folder: a lock file created with `O_EXCL` and removed on close.
 *
 * The on-disk memory loads its folder into memory and rewrites it; two processes (or two open
 * memories in one process) writing the same folder would lose each other's entries. The lock
 * turns that into an immediate `StrategyMemoryError` with `reason: "locked"`. A lock left by a
 * process that died is taken over when its pid is no longer alive on this host (best effort: pid
 * reuse or two processes taking over the same stale lock at the same instant are not detected).
 */
import { open, readFile, rename, rm, stat } from "node:fs/promises";
import { hostname as currentHostname } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { StrategyMemoryError } from "../../src/memory/errors.js";

/** Name of the lock file inside the folder. */
export const LOCK_FILE_NAME = "owner.lock";

/** A held lock. */
export interface FolderLock {
  readonly path: string;
  /** Removes the lock file (once; later calls do nothing). */
  release(): Promise<void>;
}

/** How long an unreadable (half-written) lock file is respected before it counts as stale. */
const HALF_WRITTEN_GRACE_MS = 5_000;

async function olderThan(path: string, milliseconds: number): Promise<boolean> {
  try {
    return Date.now() - (await stat(path)).mtimeMs > milliseconds;
  } catch {
    return true;
  }
}

const lockOwnerSchema = z.object({ pid: z.number().int(), hostname: z.string(), since: z.string() });

/** True when a process with this pid exists on this host. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function readOwner(path: string): Promise<z.infer<typeof lockOwnerSchema> | undefined> {
  try {
    const parsed = lockOwnerSchema.safeParse(JSON.parse(await readFile(path, "utf8")));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock of `folder` or throws `StrategyMemoryError` (`reason: "locked"`).
 *
 * @example
 * ```ts
 * const lock = await acquireFolderLock(".gavel/memory");
 * try { ... } finally { await lock.release(); }
 * ```
 */
export async function acquireFolderLock(
  folder: string,
  { pid = process.pid, hostname = currentHostname(), isAlive = isProcessAlive } = {},
): Promise<FolderLock> {
  const path = join(folder, LOCK_FILE_NAME);
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(JSON.stringify({ pid, hostname, since: new Date().toISOString() }));
      } finally {
        await handle.close();
      }
      let released = false;
      return {
        path,
        async release() {
          if (released) return;
          released = true;
          await rm(path, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new StrategyMemoryError(
          { operation: "open", reason: "io", message: `cannot create ${path}`, folder },
          { cause: error },
        );
      }
    }
    const owner = await readOwner(path);
    // An unreadable lock is being written right now, or was left half-written by a crash long ago.
    const stale =
      owner === undefined
        ? await olderThan(path, HALF_WRITTEN_GRACE_MS)
        : owner.hostname === hostname && owner.pid !== pid && !isAlive(owner.pid);
    if (owner === undefined && !stale) {
      throw new StrategyMemoryError({
        operation: "open",
        reason: "locked",
        message: `${path} is being taken by another process`,
        folder,
      });
    }
    if (owner !== undefined && !stale) {
      const who =
        owner.pid === pid && owner.hostname === hostname ? "this process" : `process ${owner.pid} on ${owner.hostname}`;
      throw new StrategyMemoryError({
        operation: "open",
        reason: "locked",
        message: `the folder is already open by ${who} (since ${owner.since}); close that memory first, or delete ${path} if no process uses it`,
        folder,
      });
    }
    // Move the stale lock aside (atomic) and try once more.
    const aside = `${path}.stale-${pid}-${Date.now()}`;
    await rename(path, aside).catch(() => undefined);
    await rm(aside, { force: true });
  }
  throw new StrategyMemoryError({
    operation: "open",
    reason: "locked",
    message: `could not take over the stale lock ${path}`,
    folder,
  });
}
