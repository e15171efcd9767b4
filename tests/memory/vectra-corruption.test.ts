/**
 * A damaged memory folder is refused loudly, never read as an empty or smaller memory (issue 14,
 * item 7): each test first writes a real memory of a few hundred entries to a temporary folder,
 * then truncates, garbles or plants files the way a crash, a full disk or a careless copy would.
 */
import { spawnSync } from "node:child_process";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalIndex, ProtobufCodec } from "vectra";
import { afterAll, describe, expect, it } from "vitest";
import { checksumFileText, checksumOf } from "../../adapters/vectra/checksums.js";
import { acquireFolderLock, LOCK_FILE_NAME } from "../../adapters/vectra/folder-lock.js";
import { encodeVector, JOURNAL_FILE_NAME } from "../../adapters/vectra/journal.js";
import { createVectraStrategyMemory } from "../../adapters/vectra/memory.js";
import { StrategyMemoryError } from "../../src/memory/errors.js";
import type { StrategyEntry } from "../../src/memory/types.js";
import { ScriptedHashingEmbeddings } from "./scripted-embeddings.js";

const INDEX_FILE = "index.pb";
const CHECKSUM_FILE = "index.pb.sha256";
const ENTRIES = 600;

const root = await mkdtemp(join(tmpdir(), "gavel-vectra-corruption-"));
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

const embeddings = new ScriptedHashingEmbeddings();
let counter = 0;

function entry(id: string, task: string, extra: Partial<StrategyEntry> = {}): StrategyEntry {
  return { id, auctionId: id, task, kind: "k", agent: "a", plan: "p", role: "single", cost: 1, createdAt: 1, ...extra };
}

/** A closed memory of `count` entries (150 auctions of 4 for the default 600), compacted into the index. */
async function writtenMemory(count = ENTRIES): Promise<string> {
  const folder = join(root, `memory-${counter++}`);
  const memory = await createVectraStrategyMemory({ folder, embeddings });
  const entries = Array.from({ length: count }, (_, index) =>
    entry(`e${index}`, `task number ${Math.floor(index / 4)}`, { auctionId: `a${Math.floor(index / 4)}` }),
  );
  await memory.add(entries);
  expect(await memory.size()).toBe(count);
  await memory.close();
  return folder;
}

async function openFailure(folder: string, options: { embeddings?: ScriptedHashingEmbeddings } = {}) {
  const outcome = await createVectraStrategyMemory({ folder, embeddings, ...options }).then(
    async (memory) => {
      const size = await memory.size();
      await memory.close();
      return `opened with ${size} entries`;
    },
    (error: unknown) => error,
  );
  return outcome;
}

/** A dead pid: a child process that has already exited. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ["-e", ""]).pid;
  if (pid === undefined) throw new Error("could not spawn a child process");
  return pid;
}

describe("vectra strategy memory: a damaged index is refused", () => {
  it("refuses a 0-byte index instead of opening an empty memory, and changes nothing", async () => {
    const folder = await writtenMemory();
    await truncate(join(folder, INDEX_FILE), 0);

    const failure = await openFailure(folder);
    expect(StrategyMemoryError.isInstance(failure)).toBe(true);
    expect(failure).toMatchObject({ operation: "open", reason: "corrupt", folder });
    const message = (failure as Error).message;
    expect(message).toContain(join(folder, INDEX_FILE));
    expect(message).toContain("0 bytes");
    expect(message).toMatch(/backup/);
    expect(message).toMatch(/move the folder/);
    // Nothing was repaired or replaced: the file is still empty, the lock is released, and a
    // second open refuses the same way (no silent "fix" on the first attempt).
    expect((await stat(join(folder, INDEX_FILE))).size).toBe(0);
    expect(await readdir(folder)).not.toContain(LOCK_FILE_NAME);
    expect(await openFailure(folder)).toMatchObject({ reason: "corrupt" });
  });

  it("refuses an index cut short", async () => {
    const folder = await writtenMemory();
    const path = join(folder, INDEX_FILE);
    const { size } = await stat(path);
    await truncate(path, Math.floor(size / 2) + 3);
    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "corrupt" });
    expect((failure as Error).message).toContain(path);
  });

  it("refuses a garbled index", async () => {
    const folder = await writtenMemory();
    const path = join(folder, INDEX_FILE);
    const bytes = await readFile(path);
    bytes.fill(0xff, 0, 64);
    await writeFile(path, bytes);
    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "corrupt" });
    expect((failure as Error).message).toContain(path);
  });

  it("refuses an index with flipped bytes that still decodes", async () => {
    const folder = await writtenMemory();
    const path = join(folder, INDEX_FILE);
    const bytes = await readFile(path);
    // Flip one bit in the middle of the file: a vector value or a metadata string changes, and the
    // protobuf still decodes (checked below with vectra alone).
    const middle = Math.floor(bytes.length / 2);
    bytes[middle] = (bytes[middle] ?? 0) ^ 0x01;
    await writeFile(path, bytes);
    const decoded = await new LocalIndex(folder, undefined, undefined, new ProtobufCodec()).listItems();
    expect(decoded).toHaveLength(ENTRIES);

    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "corrupt" });
    expect((failure as Error).message).toContain(CHECKSUM_FILE);
    expect((failure as Error).message).toContain(path);
  });

  it("opens an index killed between its checksum and its rename, and a folder without checksums", async () => {
    const folder = await writtenMemory(40);
    const path = join(folder, INDEX_FILE);
    // The writer listed the new index's checksum, then died before renaming it over the old one.
    const old = checksumOf(await readFile(path));
    await writeFile(join(folder, CHECKSUM_FILE), checksumFileText(checksumOf("the new index, never renamed"), old));
    let memory = await createVectraStrategyMemory({ folder, embeddings });
    expect(await memory.size()).toBe(40);
    await memory.add([entry("late", "a later task")]);
    await memory.close();
    // A folder written before checksums existed opens unchecked and gets one at its next write.
    await rm(join(folder, CHECKSUM_FILE));
    memory = await createVectraStrategyMemory({ folder, embeddings });
    expect(await memory.size()).toBe(41);
    await memory.add([entry("later", "yet another task")]);
    await memory.close();
    const listed = (await readFile(join(folder, CHECKSUM_FILE), "utf8")).trim().split("\n");
    expect(listed[0]).toBe(checksumOf(await readFile(path)));
  });

  it("refuses a journal whose index was deleted", async () => {
    const folder = join(root, `memory-${counter++}`);
    const memory = await createVectraStrategyMemory({ folder, embeddings });
    await memory.add([entry("x", "journaled but not compacted")]);
    // A crash leaves the journal; then someone deletes the index.
    await rm(join(folder, INDEX_FILE));
    await rm(join(folder, LOCK_FILE_NAME));
    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "corrupt" });
    expect((failure as Error).message).toContain(JOURNAL_FILE_NAME);
    await expect(readdir(folder)).resolves.not.toContain(INDEX_FILE);
    await memory.close().catch(() => undefined);
  });

  it("refuses a folder whose index was deleted after a clean close", async () => {
    const folder = await writtenMemory();
    await rm(join(folder, INDEX_FILE));
    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "corrupt" });
    expect((failure as Error).message).toContain(CHECKSUM_FILE);
    await expect(readdir(folder)).resolves.not.toContain(INDEX_FILE);
  });

  it("opens a new folder whose first open was killed before the empty index was renamed into place", async () => {
    const folder = join(root, `memory-${counter++}`);
    await createVectraStrategyMemory({ folder, embeddings }).then((memory) => memory.close());
    // What that kill leaves: the checksum file of the empty index, its temp file, no index.
    await rm(join(folder, INDEX_FILE));
    await writeFile(join(folder, `${INDEX_FILE}.${deadPid()}.tmp`), "");
    const memory = await createVectraStrategyMemory({ folder, embeddings });
    expect(await memory.size()).toBe(0);
    await memory.close();
    expect((await readdir(folder)).filter((name) => name.endsWith(".tmp"))).toEqual([]);
  });

  it("still opens a new folder, and an existing empty folder, as an empty memory", async () => {
    const fresh = join(root, `memory-${counter++}`);
    const existing = join(root, `memory-${counter++}`);
    await mkdir(existing);
    for (const folder of [fresh, existing]) {
      const memory = await createVectraStrategyMemory({ folder, embeddings });
      expect(await memory.size()).toBe(0);
      await memory.close();
      // The empty index written at first open is a valid one: it reopens, still empty.
      const again = await createVectraStrategyMemory({ folder, embeddings });
      expect(await again.size()).toBe(0);
      await again.close();
      expect((await stat(join(folder, INDEX_FILE))).size).toBeGreaterThan(0);
    }
  });
});

describe("vectra strategy memory: vectors of the wrong length", () => {
  it("refuses an index whose vectors have different lengths with dimension_mismatch", async () => {
    const folder = await writtenMemory(200);
    const index = new LocalIndex(folder, undefined, undefined, new ProtobufCodec());
    const metadata = { auctionId: "short", task: "a 32-d entry", kind: "k", agent: "a", plan: "p", role: "single" };
    await index.insertItem({
      id: "short",
      vector: new Array(32).fill(0.1),
      metadata: { ...metadata, cost: 1, createdAt: 1, lastUsedAt: 1 },
    });

    // Written behind the memory's back, so the checksum no longer matches: refused as corrupt...
    const changed = await openFailure(folder);
    expect(changed).toMatchObject({ operation: "open", reason: "corrupt" });
    expect((changed as Error).message).toContain(`delete ${CHECKSUM_FILE}`);
    // ...and once the operator accepts the change as the message says, the mixed lengths are named.
    await rm(join(folder, CHECKSUM_FILE));
    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "dimension_mismatch" });
    expect((failure as Error).message).toContain("short");
    expect((failure as Error).message).toContain(INDEX_FILE);
  });

  it("refuses a journal line whose vector length differs from the index's", async () => {
    const folder = await writtenMemory(200);
    const line = {
      op: "add",
      entry: entry("odd", "odd task"),
      vector: encodeVector(new Float32Array(32)),
      lastUsedAt: 1,
    };
    await appendFile(join(folder, JOURNAL_FILE_NAME), `${JSON.stringify(line)}\n`);

    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "dimension_mismatch" });
    expect((failure as Error).message).toContain(`${JOURNAL_FILE_NAME}:1`);
  });

  it("refuses a journal line whose vector is not whole float32 values", async () => {
    const folder = await writtenMemory(8);
    const line = { op: "add", entry: entry("odd", "odd task"), vector: "AAAA//8=", lastUsedAt: 1 };
    await appendFile(join(folder, JOURNAL_FILE_NAME), `${JSON.stringify(line)}\n`);
    const failure = await openFailure(folder);
    expect(failure).toMatchObject({ operation: "open", reason: "corrupt" });
    expect((failure as Error).message).toContain(`${JOURNAL_FILE_NAME}:1`);
  });
});

describe("vectra strategy memory: temporary files left by a killed writer", () => {
  it("removes orphaned index temp files on open, and only those", async () => {
    const folder = await writtenMemory();
    const dead = deadPid();
    const orphan = join(folder, `${INDEX_FILE}.${dead}.tmp`);
    // A crash of an earlier process that had this process's pid (pid reuse, e.g. in containers):
    // this process holds the lock and has not written yet, so that file is not being written.
    const ownPid = join(folder, `${INDEX_FILE}.${process.pid}.tmp`);
    await writeFile(orphan, Buffer.alloc(4 * 1024 * 1024, 7));
    await writeFile(ownPid, "half an index");
    const keep = [
      `${INDEX_FILE}.1.tmp`, // pid 1 is alive: not orphaned
      `${INDEX_FILE}.abc.tmp`,
      `${INDEX_FILE}.${dead}.tmp.bak`,
      `other.pb.${dead}.tmp`,
      `notes.tmp`,
    ];
    for (const name of keep) await writeFile(join(folder, name), "not ours to delete");

    const memory = await createVectraStrategyMemory({ folder, embeddings });
    expect(await memory.size()).toBe(ENTRIES);
    const files = await readdir(folder);
    expect(files).not.toContain(`${INDEX_FILE}.${dead}.tmp`);
    expect(files).not.toContain(`${INDEX_FILE}.${process.pid}.tmp`);
    for (const name of keep) expect(files).toContain(name);
    await memory.close();
  });

  it("leaves temp files alone while another process holds the folder", async () => {
    const folder = await writtenMemory(8);
    const dead = deadPid();
    const planted = join(folder, `${INDEX_FILE}.${dead}.tmp`);
    await writeFile(planted, "written by the holder, maybe");
    const holder = await acquireFolderLock(folder, { pid: 1, isAlive: () => true });
    try {
      await expect(openFailure(folder)).resolves.toMatchObject({ reason: "locked" });
      expect(await readFile(planted, "utf8")).toBe("written by the holder, maybe");
    } finally {
      await holder.release();
    }
  });

  it("does not clean anything in a folder whose index is refused", async () => {
    const folder = await writtenMemory(8);
    await truncate(join(folder, INDEX_FILE), 0);
    const planted = join(folder, `${INDEX_FILE}.${deadPid()}.tmp`);
    await writeFile(planted, "maybe the only good copy");
    await expect(openFailure(folder)).resolves.toMatchObject({ reason: "corrupt" });
    expect(await readFile(planted, "utf8")).toBe("maybe the only good copy");
  });
});
