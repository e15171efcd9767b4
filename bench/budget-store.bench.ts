/**
 * The shared budget stores: reserve + settle pairs per second, and the p99 latency of one pair, at
 * 1, 4 and 16 concurrent callers, for
 * - the plain synchronous budget (`createTokenBudget({ limits })`, no store), for reference;
 * - the in-process store (`createMemoryBudgetStore`);
 * - SQLite, with N worker *processes* on one file (the store is synchronous inside a process, so
 *   its concurrency is processes);
 * - PostgreSQL, with N concurrent callers in this process on a pool of N connections.
 *
 * Every pair reserves on two accounts, the global one (a limit far away, so nothing is refused: the
 * hot row every call locks) and the caller's own run, then settles. Each figure is the median of
 * three one-second windows after a warm-up. Targets (issue 11): PostgreSQL ≥ 2,000 pairs/s at 16
 * callers, SQLite with several processes ≥ 5,000 pairs/s.
 *
 * PostgreSQL needs the server of `npm run db:start` (or `GAVEL_TEST_POSTGRES_URL`); without one its
 * rows are left out and stderr says so. Run as `node --import tsx bench/budget-store.bench.ts
 * --sqlite-worker <file>`, this file is one SQLite worker (the benchmark spawns them).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { createSqliteBudgetStore } from "../adapters/sqlite/budget-store.js";
import { type BudgetStore, createMemoryBudgetStore, type StoreReservation } from "../src/budget/store.js";
import { type BenchResult, median } from "./harness.js";

const LEVELS = [1, 4, 16] as const;
const REPETITIONS = 3;
const WINDOW_MS = 1_000;
const WARMUP_PAIRS = 200;
const LEASE_MS = 600_000;

/** One measurement window: pairs completed, its length, and every pair's latency (ms). */
interface Window {
  pairs: number;
  elapsedMs: number;
  latencies: number[];
}

/** Pairs per second and p99 latency (ms), medians over the repetitions. */
interface Figure {
  pairsPerSecond: number;
  p99Ms: number;
}

function p99(latencies: readonly number[]): number {
  const sorted = [...latencies].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? Number.NaN;
}

function summarise(windows: readonly Window[]): Figure {
  return {
    pairsPerSecond: median(windows.map((window) => (window.pairs * 1_000) / window.elapsedMs)),
    p99Ms: median(windows.map((window) => p99(window.latencies))),
  };
}

let sequence = 0;
/** A reservation of ~1,400 tokens on the global account and the caller's run. */
function reservationFor(caller: string): StoreReservation {
  sequence += 1;
  const now = Date.now();
  return {
    id: `${caller}-${process.pid}-${sequence}-${randomBytes(4).toString("hex")}`,
    accounts: [
      { scope: "global", scopeId: "*", maxTokens: Number.MAX_SAFE_INTEGER, maxNanoUsd: Number.MAX_SAFE_INTEGER },
      { scope: "run", scopeId: `run-${caller}` },
    ],
    tokens: 1_412,
    nanoUsd: 442_000,
    model: "gpt-4o-mini",
    createdAt: now,
    expiresAt: now + LEASE_MS,
  };
}

/** One reserve + settle on a store. */
async function storePair(store: BudgetStore, caller: string): Promise<void> {
  const reservation = reservationFor(caller);
  const { refusal } = await store.reserve(reservation, Date.now());
  if (refusal) throw new Error(`refused: ${JSON.stringify(refusal)}`);
  await store.settle(reservation.id, { tokens: 1_140, nanoUsd: 279_000 }, Date.now());
}

/** `callers` loops in this process, each running `pair` back to back for `windowMs`. */
async function window(
  callers: number,
  windowMs: number,
  pair: (caller: string) => Promise<void> | void,
): Promise<Window> {
  const latencies: number[] = [];
  const start = performance.now();
  const end = start + windowMs;
  await Promise.all(
    Array.from({ length: callers }, async (_, index) => {
      const caller = `c${index}`;
      while (performance.now() < end) {
        const before = performance.now();
        await pair(caller);
        latencies.push(performance.now() - before);
      }
    }),
  );
  return { pairs: latencies.length, elapsedMs: performance.now() - start, latencies };
}

async function inProcess(callers: number, pair: (caller: string) => Promise<void> | void): Promise<Figure> {
  await window(callers, 100, pair); // warm-up
  const windows: Window[] = [];
  for (let repetition = 0; repetition < REPETITIONS; repetition += 1)
    windows.push(await window(callers, WINDOW_MS, pair));
  return summarise(windows);
}

// ---------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------

// The budget and PostgreSQL are imported where they are measured, so a SQLite worker process loads
// only the SQLite store.
async function plainBudget(callers: number): Promise<Figure> {
  const { createTokenBudget } = await import("../src/budget/budget.js");
  const budget = createTokenBudget({
    limits: {
      global: { maxTokens: Number.MAX_SAFE_INTEGER, maxUsd: 1e9 },
      run: { maxTokens: Number.MAX_SAFE_INTEGER },
    },
  });
  return inProcess(callers, (caller) => {
    const reservation = budget.reserve({
      model: "gpt-4o-mini",
      inputTokens: 900,
      maxOutputTokens: 512,
      scopes: { run: `run-${caller}` },
    });
    budget.settle(reservation, { inputTokens: 900, outputTokens: 240 });
  });
}

async function memoryStore(callers: number): Promise<Figure> {
  const store = createMemoryBudgetStore();
  try {
    return await inProcess(callers, (caller) => storePair(store, caller));
  } finally {
    await store.close();
  }
}

async function postgresStore(url: string, callers: number): Promise<Figure> {
  const { createPostgresBudgetStore } = await import("../adapters/postgres/budget-store.js");
  const { default: pg } = await import("pg");
  const schema = `bench_budget_${randomBytes(5).toString("hex")}`;
  const store = await createPostgresBudgetStore({ connectionString: url, schema, maxConnections: callers });
  try {
    for (let index = 0; index < WARMUP_PAIRS; index += 1) await storePair(store, "warm-up");
    return await inProcess(callers, (caller) => storePair(store, caller));
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await client.end();
  }
}

/** `processes` workers on one SQLite file, started, warmed up, then measured together window after window. */
async function sqliteProcesses(processes: number): Promise<Figure> {
  const folder = mkdtempSync(join(tmpdir(), "gavel-bench-budget-"));
  const path = join(folder, "budget.db");
  const store = createSqliteBudgetStore({ path });
  await store.close(); // created and migrated once, before the workers race
  const self = fileURLToPath(import.meta.url);
  const workers = Array.from({ length: processes }, (_, index) => startWorker(self, path, `w${index}`));
  try {
    await Promise.all(workers.map((worker) => worker.next())); // "ready"
    const windows: Window[] = [];
    for (let repetition = 0; repetition < REPETITIONS; repetition += 1) {
      for (const worker of workers) worker.send(`go ${WINDOW_MS}`);
      const results = (await Promise.all(workers.map((worker) => worker.next()))).map(
        (line) => JSON.parse(line) as Window,
      );
      windows.push({
        // Each worker's rate, summed: the windows run side by side.
        pairs: results.reduce((sum, result) => sum + (result.pairs * WINDOW_MS) / result.elapsedMs, 0),
        elapsedMs: WINDOW_MS,
        latencies: results.flatMap((result) => result.latencies),
      });
    }
    return summarise(windows);
  } finally {
    for (const worker of workers) worker.stop();
    await Promise.all(workers.map((worker) => worker.exited));
    rmSync(folder, { recursive: true, force: true });
  }
}

function startWorker(script: string, path: string, name: string) {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script, "--sqlite-worker", path, name], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const queue: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  lines.on("line", (line) => {
    const resolve = waiting.shift();
    if (resolve) resolve(line);
    else queue.push(line);
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  return {
    next: () =>
      new Promise<string>((resolve, reject) => {
        const line = queue.shift();
        if (line !== undefined) resolve(line);
        else {
          waiting.push(resolve);
          exited.then(() => reject(new Error(`SQLite worker ${name} exited`)));
        }
      }),
    send: (command: string) => child.stdin?.write(`${command}\n`),
    /** End its input: the worker closes its store and exits. */
    stop: () => child.stdin?.end(),
    exited,
  };
}

/** The worker: open the file, warm up, then run a window on every "go <ms>" until its input ends. */
async function sqliteWorker(path: string, name: string): Promise<void> {
  const store = createSqliteBudgetStore({ path, busyTimeoutMs: 60_000 });
  for (let index = 0; index < WARMUP_PAIRS; index += 1) await storePair(store, name);
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin })) {
    const windowMs = Number(line.split(" ")[1]);
    const result = await window(1, windowMs, () => storePair(store, name));
    const latencies = result.latencies.map((latency) => Math.round(latency * 1_000) / 1_000);
    process.stdout.write(`${JSON.stringify({ ...result, latencies })}\n`);
  }
  await store.close();
}

function postgresUrl(): string | undefined {
  if (process.env.GAVEL_TEST_POSTGRES_URL) return process.env.GAVEL_TEST_POSTGRES_URL;
  const file = join(import.meta.dirname, "..", ".tmp", "postgres", "env");
  if (!existsSync(file)) return undefined;
  return /^GAVEL_TEST_POSTGRES_URL=(.+)$/m.exec(readFileSync(file, "utf8"))?.[1]?.trim();
}

// ---------------------------------------------------------------------------
// The benchmark
// ---------------------------------------------------------------------------

const TARGETS: Record<string, number> = {
  "postgres.c16": 2_000,
  "sqlite_processes.c4": 5_000,
  "sqlite_processes.c16": 5_000,
};

export async function run(): Promise<BenchResult[]> {
  const url = postgresUrl();
  if (!url)
    process.stderr.write("budget-store bench: no PostgreSQL server (npm run db:start); its rows are left out\n");
  const backends: Array<[string, (callers: number) => Promise<Figure>]> = [
    ["plain_budget", plainBudget],
    ["memory_store", memoryStore],
    ...(url
      ? [
          ["postgres", (callers: number) => postgresStore(url, callers)] as [
            string,
            (callers: number) => Promise<Figure>,
          ],
        ]
      : []),
    // Last: its processes leave the disk busy writing back their file, which slows fsyncs for a while.
    ["sqlite_processes", sqliteProcesses],
  ];
  // BENCH_BUDGET_STORES=postgres,sqlite_processes measures only those backends.
  const only = process.env.BENCH_BUDGET_STORES?.split(",");
  const chosen = only ? backends.filter(([name]) => only.includes(name)) : backends;
  const results: BenchResult[] = [];
  const table: string[] = [
    `| backend | ${LEVELS.map((level) => `${level} caller${level > 1 ? "s" : ""}: pairs/s, p99`).join(" | ")} |`,
  ];
  table.push(`| --- | ${LEVELS.map(() => "---:").join(" | ")} |`);
  for (const [backend, measure] of chosen) {
    const cells: string[] = [];
    for (const level of LEVELS) {
      const figure = await measure(level);
      process.stderr.write(
        `  ${backend} × ${level}: ${Math.round(figure.pairsPerSecond)} pairs/s, p99 ${figure.p99Ms.toFixed(2)} ms\n`,
      );
      const key = `${backend}.c${level}`;
      const target = TARGETS[key];
      results.push(
        {
          name: `budget_store.${key}.pairs_per_s`,
          value: figure.pairsPerSecond,
          unit: "pairs/s",
          ...(target !== undefined && { target: { op: ">=" as const, value: target } }),
          details: { callers: level, repetitions: REPETITIONS, windowMs: WINDOW_MS },
        },
        { name: `budget_store.${key}.p99_ms`, value: figure.p99Ms, unit: "ms", details: { callers: level } },
      );
      cells.push(`${Math.round(figure.pairsPerSecond).toLocaleString("en-US")}, ${figure.p99Ms.toFixed(2)} ms`);
    }
    table.push(`| ${backend} | ${cells.join(" | ")} |`);
  }
  process.stderr.write(`${table.join("\n")}\n`);
  return results;
}

if (process.argv[2] === "--sqlite-worker") {
  const [path, name] = process.argv.slice(3);
  if (!path || !name) throw new Error("usage: --sqlite-worker <file> <name>");
  await sqliteWorker(path, name);
}
