/**
 * One budget, many processes: 4 Node processes × 250 concurrent agent calls through
 * `tokenBudgetMiddleware` (real `ChatOpenAI` against the loopback test server: replies of random
 * length, some failing with 500, a fifth aborted by the caller) on one account of each shared
 * store. Then `kill -9` of a replica that holds a reservation: its lease expires, the money
 * returns, and the ledger records the release.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createPostgresBudgetStore } from "../../adapters/postgres/budget-store.js";
import { createSqliteBudgetStore } from "../../adapters/sqlite/budget-store.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { type BudgetStore, createTokenBudget } from "../../src/budget/index.js";
import { createBudgetEventRecorder } from "../../src/ledger/index.js";
import { type OpenAICompatibleServer, startOpenAICompatibleServer } from "../helpers/openaiServer.js";
import { freshSchema, POSTGRES_URL } from "../helpers/postgres.js";
import type { ReplicaReport, ReplicaSettings } from "./fixtures/replica.js";

const REPLICA = join(import.meta.dirname, "fixtures", "replica.ts");
const ROOT = join(import.meta.dirname, "..", "..");
const REPLICAS = 4;
const CALLS = 250;
const LIMIT = 25_000; // about 40,000 tokens are asked for: the limit is always reached

function startReplica(settings: ReplicaSettings): { child: ChildProcess; output: Promise<string> } {
  const child = spawn(process.execPath, ["--import", "tsx", REPLICA, JSON.stringify(settings)], {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr += chunk;
  });
  const output = new Promise<string>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      if (code === 0 || signal === "SIGKILL") resolve(stdout);
      else reject(new Error(`replica ${settings.replica} exited with ${code ?? signal}: ${stderr}`));
    });
  });
  return { child, output };
}

/** The first stdout line of a replica, once printed. */
function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.stdout?.on("data", (chunk: string) => {
      buffer += chunk;
      const end = buffer.indexOf("\n");
      if (end >= 0) resolve(buffer.slice(0, end));
    });
    child.on("close", () => reject(new Error(`replica exited before printing: ${buffer}`)));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Backend {
  name: string;
  available: boolean;
  setup(): Promise<{ store: ReplicaSettings["store"]; open(): Promise<BudgetStore>; drop(): Promise<void> }>;
}

const folder = mkdtempSync(join(tmpdir(), "gavel-scaling-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const BACKENDS: Backend[] = [
  {
    name: "SQLite (one file, processes of one host)",
    available: true,
    async setup() {
      const path = join(folder, `budget-${Math.random().toString(36).slice(2)}.db`);
      await createSqliteBudgetStore({ path }).close();
      return {
        store: { kind: "sqlite", path },
        open: async () => createSqliteBudgetStore({ path }),
        drop: async () => {},
      };
    },
  },
  {
    name: "PostgreSQL (replicas on many hosts)",
    available: POSTGRES_URL !== undefined,
    async setup() {
      const url = POSTGRES_URL as string;
      const schema = await freshSchema(url, "scaling");
      await (await createPostgresBudgetStore({ connectionString: url, schema: schema.schema })).close();
      return {
        store: { kind: "postgres", url, schema: schema.schema },
        open: () => createPostgresBudgetStore({ connectionString: url, schema: schema.schema }),
        drop: schema.drop,
      };
    },
  },
];

let server: OpenAICompatibleServer;
beforeAll(async () => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) >>> 0;
    return seed / 4_294_967_296;
  };
  server = await startOpenAICompatibleServer({
    replies: async () => {
      await sleep(5 + random() * 40); // slow enough for some aborts to land mid-call
      if (random() < 0.1) return { status: 500, error: { message: "upstream overloaded" } };
      const words = 1 + Math.floor(random() * 25); // replies of random length, under the 64-token cap (≤ 2 tokens a word)
      return { content: Array.from({ length: words }, (_, index) => `word${index}`).join(" ") };
    },
  });
});
afterAll(async () => {
  await server?.close();
});

for (const backend of BACKENDS) {
  const suite = backend.available || process.env.GAVEL_REQUIRE_POSTGRES === "1" ? describe : describe.skip;
  if (!backend.available && suite === describe.skip) {
    console.warn(`skipped "${backend.name}": no PostgreSQL server: run \`npm run db:start\``);
  }
  suite(`one budget across processes: ${backend.name}`, () => {
    it(`${REPLICAS} processes × ${CALLS} concurrent calls: never over the limit, nothing charged twice, nothing left held`, async () => {
      const target = await backend.setup();
      try {
        const replicas = Array.from({ length: REPLICAS }, (_, index) =>
          startReplica({
            mode: "calls",
            replica: `r${index}`,
            store: target.store,
            limitTokens: LIMIT,
            leaseMs: 600_000,
            baseURL: server.baseURL,
            calls: CALLS,
            seed: index + 1,
          }),
        );
        const reports = (await Promise.all(replicas.map((replica) => replica.output))).map(
          (output) => JSON.parse(output.trim()) as ReplicaReport,
        );
        const store = await target.open();
        try {
          const [global] = await store.accounts([{ scope: "global", scopeId: "*" }]);
          const settledTokens = reports.flatMap((report) => Object.values(report.settled)).reduce((a, b) => a + b, 0);
          const reserved = reports.flatMap((report) => report.reserved);
          const closed = reports.flatMap((report) => [...Object.keys(report.settled), ...report.released]);
          const outcomes = (key: keyof ReplicaReport["outcomes"]) =>
            reports.reduce((sum, report) => sum + report.outcomes[key], 0);

          // Every call came back one way or another, and each way happened.
          expect(["answered", "refused", "aborted", "failed"].map((key) => outcomes(key as "answered"))).toSatisfy(
            (counts: number[]) =>
              counts.every((count) => count > 0) && counts.reduce((a, b) => a + b) === REPLICAS * CALLS,
          );
          // Never over the limit; the store's spend is exactly the sum of the settlements (none doubled).
          expect(global?.spentTokens).toBeLessThanOrEqual(LIMIT);
          expect(global?.spentTokens).toBe(settledTokens);
          expect(reports.reduce((sum, report) => sum + report.overruns, 0)).toBe(0);
          // Every reservation ended settled or released, once; nothing is held.
          expect(new Set(reserved).size).toBe(reserved.length);
          expect([...closed].sort()).toEqual([...reserved].sort());
          expect(global?.reservedTokens).toBe(0);
          const states = await Promise.all(reserved.map((id) => store.reservationState(id)));
          expect(states.every((state) => state === "settled" || state === "released")).toBe(true);
        } finally {
          await store.close();
        }
      } finally {
        await target.drop();
      }
    }, 240_000);

    it("kill -9 of a replica holding a reservation: the lease expires, the money returns, the ledger shows it", async () => {
      const target = await backend.setup();
      const ledger = createSqliteLedger({ path: join(folder, `ledger-${Math.random().toString(36).slice(2)}.db`) });
      try {
        const { child, output } = startReplica({
          mode: "hold",
          replica: "doomed",
          store: target.store,
          limitTokens: 1_500,
          leaseMs: 1_500,
        });
        const { held } = JSON.parse(await firstLine(child)) as { held: string };
        child.kill("SIGKILL");
        await output;

        const store = await target.open();
        const recorder = createBudgetEventRecorder(ledger);
        const budget = createTokenBudget({
          limits: { global: { maxTokens: 1_500 } },
          store,
          onEvent: recorder.onEvent,
        });
        try {
          expect(await budget.remaining()).toEqual({ tokens: 500 }); // 1,000 held by the dead replica
          expect(
            await budget.tryReserve({ model: "gpt-4o-mini", inputTokens: 500, maxOutputTokens: 500 }),
          ).toBeUndefined();
          await sleep(1_600);
          const reservation = await budget.reserve({ model: "gpt-4o-mini", inputTokens: 500, maxOutputTokens: 500 });
          await budget.release(reservation);
          expect(await budget.remaining()).toEqual({ tokens: 1_500 });
          expect(await store.reservationState(held)).toBe("expired");
          await recorder.flush();
          const release = ledger.database
            .prepare("SELECT kind, input_tokens, metadata FROM charges WHERE reservation_id = ?")
            .get(held) as { kind: string; input_tokens: number; metadata: string };
          expect(release).toMatchObject({ kind: "release", input_tokens: 1_000 });
          expect(JSON.parse(release.metadata)).toMatchObject({ reason: "lease_expired" });
        } finally {
          await store.close();
        }
      } finally {
        await ledger.close();
        await target.drop();
      }
    }, 60_000);
  });
}
