/**
 * The CLI loads heavy modules lazily: `gavel --help` and the commands' help never load the sentence
 * encoder, better-sqlite3, vectra, vega or node-llama-cpp (nor the adapters that wrap them).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const run = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
const HEAVY =
  /\/node_modules\/(better-sqlite3|vectra|vega|vega-lite|node-llama-cpp|@energetic-ai)\/|\/adapters\/(sqlite|vectra|encoder|llamacpp)\//;

/** The modules `gavel <args>` resolved. */
async function modulesLoadedBy(args: string[]): Promise<string[]> {
  const file = join(mkdtempSync(join(tmpdir(), "gavel-loads-")), "loads.txt");
  await run(
    process.execPath,
    [
      "--import",
      join(root, "tests", "cli", "fixtures", "record-loads.mjs"),
      "--import",
      "tsx",
      join(root, "src", "cli", "main.ts"),
      ...args,
    ],
    { cwd: root, env: { ...process.env, GAVEL_LOADS_FILE: file }, timeout: 60_000 },
  );
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "");
}

describe("gavel loads heavy modules only where they are used", () => {
  it.each([[["--help"]], [["eval", "--help"]], [["ledger", "--help"]], [["train", "--help"]]])(
    "gavel %j loads none of them",
    async (args) => {
      const loaded = await modulesLoadedBy(args);
      expect(loaded.some((url) => url.includes("/src/cli/eval.ts"))).toBe(true);
      expect(loaded.filter((url) => HEAVY.test(url))).toEqual([]);
    },
    60_000,
  );
});
