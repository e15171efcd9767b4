/**
 * vectra's `LocalFileStorage` with crash-safe writes. vectra rewrites its whole index file on
 * every `endUpdate` with a plain `writeFile`, so a process killed mid-write leaves a truncated,
 * unreadable index. Here a file is written beside its target, flushed to disk, then renamed over
 * it: a reader sees the old file or the new one, never half of one. A process killed before the
 * rename leaves `<file>.<pid>.tmp` behind; the memory removes such orphans on open
 * (`temporary-files.ts`).
 */
import { open, rename, rm } from "node:fs/promises";
import { LocalFileStorage } from "vectra";
import { temporaryPathOf } from "./temporary-files.js";

/**
 * A vectra file storage whose `upsertFile` is atomic: write a temporary file, fsync, rename.
 *
 * @example
 * ```ts
 * const index = new LocalIndex(folder, undefined, new AtomicFileStorage(), new ProtobufCodec());
 * ```
 */
export class AtomicFileStorage extends LocalFileStorage {
  /** Takes no root folder: `upsertFile` uses paths as given. */
  // biome-ignore lint/complexity/noUselessConstructor: it narrows the signature so that no root folder can be passed.
  constructor() {
    super();
  }

  /** Writes `content` to `filePath` atomically (the old file or the new one, never half of one). */
  override async upsertFile(filePath: string, content: Buffer | string): Promise<void> {
    const temporary = temporaryPathOf(filePath);
    try {
      const handle = await open(temporary, "w");
      try {
        await handle.writeFile(content);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temporary, filePath);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }
}
