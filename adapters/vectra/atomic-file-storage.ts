/**
 * vectra's `LocalFileStorage` with crash-safe, checksummed writes. vectra rewrites its whole index
 * file on every `endUpdate` with a plain `writeFile`, so a process killed mid-write leaves a
 * truncated, unreadable index. Here a file is written beside its target, flushed to disk, then
 * renamed over it: a reader sees the old file or the new one, never half of one. A process killed
 * before the rename leaves `<file>.<pid>.tmp` behind; the memory removes such orphans on open
 * (`temporary-files.ts`). Before the rename, `<file>.sha256` is written with the checksums of the
 * new and the old content (`checksums.ts`), so the next open can tell a damaged index from one this
 * storage wrote.
 */
import { open, rename, rm } from "node:fs/promises";
import { LocalFileStorage } from "vectra";
import { checksumFileText, checksumOf, checksumPathOf } from "./checksums.js";
import { temporaryPathOf } from "./temporary-files.js";

/** Writes `content` to a temporary file, fsyncs it, runs `beforeRename`, then renames it over `filePath`. */
async function writeAtomically(
  filePath: string,
  content: Buffer | string,
  beforeRename: () => Promise<void> = async () => undefined,
): Promise<void> {
  const temporary = temporaryPathOf(filePath);
  try {
    const handle = await open(temporary, "w");
    try {
      await handle.writeFile(content);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await beforeRename();
    await rename(temporary, filePath);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/**
 * A vectra file storage whose `upsertFile` is atomic (write a temporary file, fsync, rename) and
 * keeps a checksum file beside each file it writes.
 *
 * @example
 * ```ts
 * const index = new LocalIndex(folder, undefined, new AtomicFileStorage(), new ProtobufCodec());
 * ```
 */
export class AtomicFileStorage extends LocalFileStorage {
  /** Checksum of each file's content as last read or written here: the "old" one of the next write. */
  readonly #known = new Map<string, string>();

  /** Takes no root folder: `upsertFile` uses paths as given. */
  // biome-ignore lint/complexity/noUselessConstructor: it narrows the signature so that no root folder can be passed.
  constructor() {
    super();
  }

  /** Reads `filePath` and remembers its checksum. */
  override async readFile(filePath: string): Promise<Buffer> {
    const content = await super.readFile(filePath);
    this.#known.set(filePath, checksumOf(content));
    return content;
  }

  /** Checksum (SHA-256, hex) of what this storage last read from or wrote to `filePath`. */
  checksumOfLastRead(filePath: string): string | undefined {
    return this.#known.get(filePath);
  }

  /** Writes `content` to `filePath` atomically (the old file or the new one, never half of one). */
  override async upsertFile(filePath: string, content: Buffer | string): Promise<void> {
    const checksum = checksumOf(content);
    const previous = this.#known.get(filePath);
    await writeAtomically(filePath, content, () =>
      writeAtomically(checksumPathOf(filePath), checksumFileText(checksum, previous)),
    );
    this.#known.set(filePath, checksum);
  }
}
