/**
 * The map of the house (docs/architecture.md), enforced: which part of the source tree may import
 * which. These tests read the import statements of `src/` and `adapters/` and fail when an arrow
 * turns around.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

function sourceFiles(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith(".ts") ? [relative(root, path)] : [];
  });
}

/** Specifiers of the static `import`/`export ... from` statements of a file (not `import()`). */
function staticImportsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+["']([^"']+)["']/g)].map(
    (match) => match[1] ?? "",
  );
}

/** The repository path a relative specifier of `file` points to (`.js` read as `.ts`). */
function resolveRelative(file: string, specifier: string): string {
  return relative(root, resolve(root, dirname(file), specifier)).replace(/\.js$/, ".ts");
}

/**
 * The part of the tree a path belongs to: `adapters/<family>`, `src/<folder>`, or the base module
 * itself for the single files at the top of `src/` (`src/errors.ts` → `errors`).
 */
function partOf(path: string): string {
  const [top, second = ""] = path.split("/");
  if (top === "adapters") return `adapters/${second}`;
  if (top === "src") return second.endsWith(".ts") ? second.replace(/\.ts$/, "") : second;
  return top ?? path;
}

/**
 * The modules every part may use: errors, optional-peer loading, math, the entropy of a model's
 * answer, JSONL parsing, the deadlines of model calls.
 */
const BASE = ["errors", "peers", "math", "entropy", "jsonl", "timeouts"];

/**
 * What each part of `src/` may import (besides itself and `BASE`). The features sit on the market
 * core, budgets, the ledger and memory interfaces; the harness and the CLI sit on the features;
 * nothing in the engine imports the harness, the CLI or an adapter.
 */
const ALLOWED: Record<string, string[]> = {
  errors: [],
  peers: [],
  math: [],
  entropy: [],
  jsonl: [],
  timeouts: [],
  market: [],
  budget: ["market"],
  models: ["budget"],
  ledger: ["budget", "market"],
  memory: ["market"],
  router: ["budget", "ledger", "market", "memory", "models"],
  middleware: ["budget", "ledger", "market", "memory", "models", "router"],
  debate: ["budget", "ledger", "market", "memory", "models"],
  coordination: ["budget", "ledger", "market", "memory", "models"],
};

/** The entry points and the CLI: consumers, allowed to import anything, adapters included. */
const CONSUMERS = new Set(["index", "testing", "cli", "eval"]);

/** Packages the core entry point must never load statically (native, heavy, or CLI-only). */
const NOT_IN_CORE =
  /^(vega|vega-lite|better-sqlite3|pg|vectra|@energetic-ai\/|yaml|commander|cli-progress|cli-table3|tinyglobby|hono|@hono\/node-server|prom-client|highs|node-llama-cpp|@langchain\/community)(\/|$)/;

describe("module boundaries", () => {
  const files = sourceFiles(join(root, "src"));
  const adapterFiles = sourceFiles(join(root, "adapters"));

  it("finds the source tree", () => {
    expect(files.length).toBeGreaterThan(50);
    expect(adapterFiles.length).toBeGreaterThan(10);
  });

  it("every part of src/ imports only the parts it sits on", () => {
    const offenders = files.flatMap((file) => {
      const from = partOf(file);
      if (CONSUMERS.has(from)) return [];
      const allowed = ALLOWED[from];
      if (allowed === undefined) return [`${file}: part "${from}" is not on the map (tests/architecture.test.ts)`];
      return staticImportsOf(file)
        .filter((specifier) => specifier.startsWith("."))
        .map((specifier) => resolveRelative(file, specifier))
        .filter((target) => {
          const to = partOf(target);
          return to !== from && !BASE.includes(to) && !allowed.includes(to);
        })
        .map((target) => `${file} → ${target}`);
    });
    expect(offenders).toEqual([]);
  });

  it("the evaluation harness imports no CLI, and nothing imports the tests", () => {
    const offenders = [...files, ...adapterFiles].flatMap((file) =>
      staticImportsOf(file)
        .filter((specifier) => specifier.startsWith("."))
        .map((specifier) => resolveRelative(file, specifier))
        .filter((target) => target.startsWith("tests/") || (partOf(file) === "eval" && partOf(target) === "cli"))
        .map((target) => `${file} → ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  it("adapters import the engine, never the harness or the CLI", () => {
    const offenders = adapterFiles.flatMap((file) =>
      staticImportsOf(file)
        .filter((specifier) => specifier.startsWith("."))
        .map((specifier) => resolveRelative(file, specifier))
        .filter((target) => ["eval", "cli"].includes(partOf(target)))
        .map((target) => `${file} → ${target}`),
    );
    expect(offenders).toEqual([]);
  });

  it("the pure core (market, budget, math) does no I/O and loads no storage driver", () => {
    const forbidden = /^(node:|fs$|path$|better-sqlite3|vectra|@energetic-ai|@langchain\/openai)/;
    const offenders = files
      .filter((file) => ["market", "budget", "math"].includes(partOf(file)))
      .flatMap((file) =>
        staticImportsOf(file)
          .filter((specifier) => forbidden.test(specifier))
          .map((specifier) => `${file} → ${specifier}`),
      );
    expect(offenders).toEqual([]);
  });

  it("the core entry point's static import graph reaches no heavy or CLI-only package", () => {
    const seen = new Set<string>();
    const offenders: string[] = [];
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const specifier of staticImportsOf(file)) {
        if (specifier.startsWith(".")) visit(resolveRelative(file, specifier));
        else if (NOT_IN_CORE.test(specifier)) offenders.push(`${file} → ${specifier}`);
      }
    };
    visit("src/index.ts");
    expect(seen.size).toBeGreaterThan(50);
    expect([...seen].filter((file) => ["eval", "cli"].includes(partOf(file)))).toEqual([]);
    expect(offenders).toEqual([]);
  });
});
