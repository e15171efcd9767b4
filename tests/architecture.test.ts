/**
 * The arrows point one way: adapters → src, features → market core.
 * These tests read the import statements of the source tree and fail when an arrow turns around.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)].map(
    (match) => match[1] ?? "",
  );
}

/**
 * Files allowed to reach into adapters: the public entry points (`langchain-gavel` and
 * `langchain-gavel/testing`, which re-exports the scripted test double) and the CLI, all consumers.
 */
const entryPoints = new Set(["src/index.ts", "src/testing.ts"]);
const consumers = (file: string) => entryPoints.has(file) || file.startsWith("src/cli/");

describe("module boundaries", () => {
  const files = sourceFiles(join(root, "src")).map((file) => relative(root, file));

  it("finds the source tree", () => {
    expect(files.length).toBeGreaterThan(3);
  });

  it("src/ imports nothing from adapters/ (except the entry points and the CLI)", () => {
    const offenders = files
      .filter((file) => !consumers(file))
      .flatMap((file) =>
        importsOf(join(root, file))
          .filter((spec) => spec.includes("adapters/"))
          .map((spec) => `${file} → ${spec}`),
      );
    expect(offenders).toEqual([]);
  });

  it("the pure core (market, budget) does no I/O and loads no storage driver", () => {
    const forbidden = /^(node:|fs$|path$|better-sqlite3|vectra|@energetic-ai|@langchain\/openai)/;
    const offenders = files
      .filter((file) => file.startsWith("src/market/") || file.startsWith("src/budget/"))
      .flatMap((file) =>
        importsOf(join(root, file))
          .filter((spec) => forbidden.test(spec))
          .map((spec) => `${file} → ${spec}`),
      );
    expect(offenders).toEqual([]);
  });
});
