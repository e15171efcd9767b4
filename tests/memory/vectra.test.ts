import { spawnSync } from "node:child_process";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LocalIndex, ProtobufCodec } from "vectra";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { acquireFolderLock, LOCK_FILE_NAME } from "../../adapters/vectra/folder-lock.js";
import { decodeVector, encodeVector, JOURNAL_FILE_NAME } from "../../adapters/vectra/journal.js";
import { createVectraStrategyMemory } from "../../adapters/vectra/memory.js";
import { ConfigError } from "../../src/errors.js";
import { StrategyMemoryError } from "../../src/memory/errors.js";
import type { StrategyEntry, StrategyMemory } from "../../src/memory/types.js";
import { describeStrategyMemoryConformance } from "../../src/testing.js";
import { ScriptedHashingEmbeddings } from "./scripted-embeddings.js";

const root = await mkdtemp(join(tmpdir(), "gavel-vectra-test-"));
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

for (const compactEvery of [1_000, 1]) {
  await describeStrategyMemoryConformance({
    name: `vectra on disk (compactEvery ${compactEvery})`,
    create({ key, embeddings, maxEntries, now }) {
      return createVectraStrategyMemory({
        folder: join(root, key),
        embeddings,
        compactEvery,
        ...(maxEntries === undefined ? {} : { maxEntries }),
        ...(now === undefined ? {} : { now }),
      });
    },
    async destroy(memory, { key }) {
      await memory.close();
      await rm(join(root, key), { recursive: true, force: true });
    },
    persistence: { keepsSize: true, keepsOutcomes: true },
  });
}

function entry(id: string, task: string, extra: Partial<StrategyEntry> = {}): StrategyEntry {
  return { id, auctionId: id, task, kind: "k", agent: "a", plan: "p", role: "single", cost: 1, createdAt: 1, ...extra };
}

describe("vectra strategy memory: on-disk behaviour", () => {
  const open: StrategyMemory[] = [];
  let counter = 0;
  const folderFor = () => join(root, `specific-${counter++}`);
  const embeddings = new ScriptedHashingEmbeddings();

  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((memory) => memory.close()));
  });

  async function openAt(folder: string, options: { compactEvery?: number } = {}) {
    const memory = await createVectraStrategyMemory({ folder, embeddings, ...options });
    open.push(memory);
    return memory;
  }

  it("writes a plain vectra protobuf index that vectra itself can read", async () => {
    const folder = folderFor();
    const memory = await openAt(folder);
    await memory.add([
      entry("one", "add two numbers", { outcome: 1, metadata: { tokens: 3 } }),
      entry("two", "sort names"),
    ]);
    await memory.close();
    const files = await readdir(folder);
    expect(files).toContain("index.pb");
    expect(files).not.toContain(LOCK_FILE_NAME);
    expect((await readFile(join(folder, JOURNAL_FILE_NAME), "utf8")).length).toBe(0);

    const index = new LocalIndex(folder, undefined, undefined, new ProtobufCodec());
    const items = await index.listItems();
    expect(items.map((item) => item.id).sort()).toEqual(["one", "two"]);
    const one = items.find((item) => item.id === "one");
    expect(one?.metadata).toMatchObject({
      task: "add two numbers",
      outcome: 1,
      metadataJson: '{"tokens":3}',
      role: "single",
    });
    expect(one?.vector).toHaveLength(embeddings.dimensions);
    const results = await index.queryItems(embeddings.vectorOf("sort names"), "", 1);
    expect(results[0]?.item.id).toBe("two");
  });

  it("appends to the journal between compactions and compacts every compactEvery records", async () => {
    const folder = folderFor();
    const memory = await openAt(folder, { compactEvery: 3 });
    await memory.add([entry("a", "first task")]);
    await memory.add([entry("b", "second task")]);
    const journal = await readFile(join(folder, JOURNAL_FILE_NAME), "utf8");
    expect(journal.trim().split("\n")).toHaveLength(2);
    const before = await stat(join(folder, "index.pb"));
    await memory.add([entry("c", "third task")]);
    expect(await readFile(join(folder, JOURNAL_FILE_NAME), "utf8")).toBe("");
    const after = await stat(join(folder, "index.pb"));
    expect(after.size).toBeGreaterThan(before.size);
  });

  it("recovers from a crash: replays the journal and ignores a line cut short", async () => {
    const folder = folderFor();
    const memory = await openAt(folder);
    await memory.add([entry("kept", "a task that was journaled")]);
    await memory.recordOutcome("kept", 1);
    // Simulate a crash: the process dies without close() (no compaction, lock left behind by a dead pid)
    // while writing a line.
    await appendFile(join(folder, JOURNAL_FILE_NAME), '{"op":"add","entry":{"id":"half');
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    await writeFile(
      join(folder, LOCK_FILE_NAME),
      JSON.stringify({ pid: dead, hostname: (await import("node:os")).hostname(), since: "then" }),
    );
    open.splice(open.indexOf(memory), 1);

    const reopened = await openAt(folder);
    expect(await reopened.size()).toBe(1);
    expect((await reopened.get("kept"))?.outcome).toBe(1);
    // The journal was folded into the index at open and starts clean.
    expect(await readFile(join(folder, JOURNAL_FILE_NAME), "utf8")).toBe("");
    await reopened.add([entry("next", "another task")]);
    await reopened.close();
    const third = await openAt(folder);
    expect(await third.size()).toBe(2);
  });

  it("refuses a corrupt journal line that is not the last", async () => {
    const folder = folderFor();
    const memory = await openAt(folder);
    await memory.add([entry("x", "task")]);
    await memory.close();
    await writeFile(join(folder, JOURNAL_FILE_NAME), 'not json\n{"op":"evict","ids":[]}\n');
    const failure = await createVectraStrategyMemory({ folder, embeddings }).catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: "StrategyMemoryError", reason: "corrupt" });
    expect((failure as Error).message).toContain(`${JOURNAL_FILE_NAME}:1`);
    // The failed open released the lock.
    expect(await readdir(folder)).not.toContain(LOCK_FILE_NAME);
  });

  it("allows one open memory per folder, across processes too", async () => {
    const folder = folderFor();
    await openAt(folder);
    const second = await createVectraStrategyMemory({ folder, embeddings }).catch((error: unknown) => error);
    expect(StrategyMemoryError.isInstance(second)).toBe(true);
    expect(second).toMatchObject({ reason: "locked", operation: "open" });
    expect((second as Error).message).toContain("this process");

    // Another live process (pid 1 here) holds the lock of a second folder.
    const otherFolder = folderFor();
    await mkdir(otherFolder, { recursive: true });
    const other = await acquireFolderLock(otherFolder, { pid: 1, isAlive: () => true });
    const refused = await createVectraStrategyMemory({ folder: otherFolder, embeddings }).catch(
      (error: unknown) => error,
    );
    expect(refused).toMatchObject({ reason: "locked" });
    expect((refused as Error).message).toContain("process 1 on");
    await other.release();
    open.push(await createVectraStrategyMemory({ folder: otherFolder, embeddings }));
  });

  it("takes over a lock left by a dead process", async () => {
    const folder = folderFor();
    await mkdir(folder, { recursive: true });
    const dead = spawnSync(process.execPath, ["-e", ""]).pid;
    const stale = await acquireFolderLock(folder, { pid: dead });
    expect(stale.path).toBe(join(folder, LOCK_FILE_NAME));
    const memory = await createVectraStrategyMemory({ folder, embeddings }).catch((error: unknown) => error);
    // The child process has exited, so its lock is stale and taken over.
    expect(StrategyMemoryError.isInstance(memory)).toBe(false);
    open.push(memory as StrategyMemory);
  });

  it("refuses a folder built with another vector length", async () => {
    const folder = folderFor();
    const memory = await openAt(folder);
    await memory.add([entry("x", "task")]);
    await memory.close();
    const other = await createVectraStrategyMemory({
      folder,
      embeddings: new ScriptedHashingEmbeddings({ dimensions: 32 }),
    });
    open.push(other);
    await expect(other.search({ text: "task" })).rejects.toMatchObject({ reason: "dimension_mismatch" });
    await expect(other.add([entry("y", "other task")])).rejects.toMatchObject({ reason: "dimension_mismatch" });
  });

  it("validates its options", async () => {
    await expect(createVectraStrategyMemory({ folder: "" })).rejects.toThrow(ConfigError);
    await expect(createVectraStrategyMemory({ folder: folderFor(), compactEvery: 0, embeddings })).rejects.toThrow(
      /compactEvery/,
    );
    await expect(
      createVectraStrategyMemory({ folder: folderFor(), embeddings, maxEntrys: 5 } as unknown as { folder: string }),
    ).rejects.toThrow(/maxEntrys/);
  });

  it("encodes vectors losslessly as float32", () => {
    const vector = Float32Array.from([0.1, -2.5, 3e-8, 0]);
    expect(decodeVector(encodeVector(vector))).toEqual(vector);
  });
});
