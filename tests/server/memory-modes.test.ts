/**
 * `gavel serve` with `router.mode: auto | memory` (issue 10), started from a config over recorded
 * RouterBench members (offline): a cold memory escalates, `POST /v1/gavel/feedback` records the
 * outcomes (OpenAI-shaped 400/404/409 for the refusals), a vectra memory loaded by
 * `gavel train router --outcomes` is read by memory bids and keeps what the gateway wrote after a
 * restart. Recorded answers are real; nothing here is a figure.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AUCTION_ID_HEADER } from "../../adapters/server/app.js";
import {
  type StartedGavelServer,
  type StartGavelServerOptions,
  startGavelServer,
} from "../../adapters/server/start.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createVectraStrategyMemory } from "../../adapters/vectra/memory.js";
import { trainCommand } from "../../src/cli/train.js";
import { hashingMemoryEmbeddings } from "../../src/cli/train-memory.js";
import { ConfigFileError } from "../../src/errors.js";
import { loadOutcomeIndex } from "../../src/eval/data/outcomes.js";
import { outcomeEntry } from "../../src/router/memory-bids/index.js";
import { ScriptedHashingEmbeddings } from "../../src/testing.js";
import { runGavel } from "../helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "gavel-serve-memory-"));
let folders = 0;
const fresh = (name: string) => join(scratch, `${name}-${folders++}`);

const POOL = [
  { name: "gpt-4", provider: "recorded", model: "gpt-4-1106-preview" },
  { name: "gpt-3.5", provider: "recorded", model: "gpt-3.5-turbo-1106" },
  { name: "mixtral", provider: "recorded", model: "mistralai/mixtral-8x7b-chat" },
] as const;

const index = await loadOutcomeIndex();
const promptOf = (id: string) => index.promptInfo(id)?.prompt as string;
const ARC = "arc-challenge.test.1108";

const servers: StartedGavelServer[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close();
});

async function start(router: Record<string, unknown>, ledgerPath: string): Promise<StartedGavelServer> {
  const config = { listen: { port: 0 }, pool: [...POOL], router, ledger: { path: ledgerPath } };
  const server = await startGavelServer({
    config: config as StartGavelServerOptions["config"],
    logSink: { write: () => undefined },
  });
  servers.push(server);
  return server;
}

async function ask(server: StartedGavelServer, prompt: string) {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "gavel/auto", messages: [{ role: "user", content: prompt }] }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { model: string };
  return { auctionId: response.headers.get(AUCTION_ID_HEADER) as string, body };
}

async function feedback(server: StartedGavelServer, body: unknown) {
  const response = await fetch(`${server.url}/v1/gavel/feedback`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  const answer = (await response.json()) as { error?: Record<string, unknown> } & Record<string, unknown>;
  return { status: response.status, body: answer };
}

describe("gavel serve, router.mode auto with an in-process memory", () => {
  it("a cold memory escalates from the cheapest member; feedback is recorded once, refusals are 400/404/409", async () => {
    const ledgerPath = fresh("ledger.db");
    const server = await start({ memory: { store: "memory" }, embedder: "hashing" }, ledgerPath);
    expect(server.config.router.mode).toBe("auto");

    const { auctionId } = await ask(server, promptOf(ARC));
    const ledger = createSqliteLedger({ path: ledgerPath, readonly: true });
    const auction = await ledger.getAuction(auctionId);
    await ledger.close();
    expect(auction?.metadata).toMatchObject({ path: "escalation" });
    const calls = auction?.metadata?.calls as string[];
    expect(calls[0]).toBe("mixtral"); // the cheapest member first

    const recorded = await feedback(server, { auction_id: auctionId, correct: true });
    expect(recorded).toEqual({
      status: 200,
      body: { object: "gavel.feedback", auction_id: auctionId, member: null, recorded: true },
    });
    const again = await feedback(server, { auction_id: auctionId, score: 0.5 });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "already_scored", type: "invalid_request_error" });
    const cheap = await feedback(server, { auction_id: auctionId, member: "mixtral", correct: false });
    expect(cheap.status).toBe(calls.at(-1) === "mixtral" ? 409 : 200);
    const notCalled = await feedback(server, { auction_id: auctionId, member: "nobody", correct: true });
    expect(notCalled.status).toBe(400);
    expect(notCalled.body.error).toMatchObject({ code: "member_not_called", param: "member" });
    const unknown = await feedback(server, { auction_id: "no-such-auction", correct: true });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: "auction_not_found", param: "auction_id" });
  });

  it("a malformed feedback body is a 400 naming the field", async () => {
    const server = await start({ memory: { store: "memory" }, embedder: "hashing" }, fresh("ledger.db"));
    const cases: Array<[unknown, string | null, string]> = [
      ["{", null, "invalid_json"],
      [{ auction_id: "a", correct: true, score: 1 }, "score", "invalid_value"],
      [{ auction_id: "a" }, "correct", "invalid_value"],
      [{ auction_id: "a", score: 2 }, "score", "invalid_value"],
      [{ auction_id: "", correct: true }, "auction_id", "invalid_value"],
      [{ auction_id: "a", correct: true, corect: true }, "corect", "invalid_value"],
    ];
    for (const [body, param, code] of cases) {
      const { status, body: answer } = await feedback(server, body);
      expect({ body, status, error: answer.error }).toMatchObject({
        body,
        status: 400,
        error: { type: "invalid_request_error", code, param },
      });
    }
  });
});

describe("gavel serve, router.mode memory on a vectra folder loaded by gavel train router", () => {
  it("bids from the loaded outcomes with one call, and keeps the gateway's entries across a restart", async () => {
    const folder = fresh("memory");
    // Two prompts' recorded outcomes for the three members, under the members' names.
    const train = await runGavel(
      (writers) => [trainCommand(writers)],
      [
        "train",
        "router",
        "--outcomes",
        join(import.meta.dirname, "..", "..", "data", "routerbench", "outcomes.jsonl.gz"),
        "--limit",
        "40",
        "--memory",
        folder,
        "--embedder",
        "hashing",
        ...POOL.flatMap((member) => ["--member", `${member.name}=${member.model}`]),
      ],
    );
    expect(train.exitCode).toBe(0);
    const loaded = index.promptIds[0] as string;
    const ledgerPath = fresh("ledger.db");
    // Without agreement cascades (router.memoryBids.cascades: false) a memory bid is one member: one call.
    const router = {
      mode: "memory",
      memory: { store: "vectra", folder },
      embedder: "hashing",
      memoryBids: { cascades: false },
    };
    const server = await start(router, ledgerPath);
    const { auctionId, body } = await ask(server, promptOf(loaded));
    const ledger = createSqliteLedger({ path: ledgerPath, readonly: true });
    const auction = await ledger.getAuction(auctionId);
    await ledger.close();
    expect(String(auction?.metadata?.reason)).toMatch(/^memory bids: .*evidence [1-9]/);
    expect(auction?.metadata).toMatchObject({ path: "memory", calls: [body.model] });
    expect((await feedback(server, { auction_id: auctionId, correct: true })).status).toBe(200);
    await server.close();
    servers.length = 0;

    const memory = await createVectraStrategyMemory({ folder, embeddings: hashingMemoryEmbeddings() });
    try {
      const entry = await memory.get(`${auctionId}:${body.model}`);
      expect(entry).toMatchObject({ outcome: 1, agent: body.model });
      expect(entry?.metadata).toMatchObject({ gavel: "outcome", called: true, embedder: "hashing-256" });
    } finally {
      await memory.close();
    }
  });
});

describe("gavel serve refuses, at start, a memory written with another embedder", () => {
  it("another embedder id, or vectors of another dimension: a ConfigFileError naming router.embedder", async () => {
    const embeddings = hashingMemoryEmbeddings();
    const other = fresh("memory");
    const memory = await createVectraStrategyMemory({ folder: other, embeddings });
    const [vector = []] = await embeddings.embedDocuments(["Add 2 and 3."]);
    await memory.add([
      outcomeEntry({
        auctionId: "a1",
        member: "mixtral",
        text: "Add 2 and 3.",
        vector,
        role: "single",
        called: true,
        costUsd: 0.001,
        embedderId: "OpenAIEmbeddings",
        kind: "",
        createdAt: 0,
        outcome: 1,
      }),
    ]);
    await memory.close();
    const router = { mode: "memory", memory: { store: "vectra", folder: other }, embedder: "hashing" };
    const error = await start(router, fresh("ledger.db")).catch((caught: unknown) => caught);
    expect(ConfigFileError.isInstance(error) && error.fields).toEqual(["router.embedder"]);
    expect(String((error as Error).message)).toContain('"OpenAIEmbeddings"');

    const narrow = fresh("memory");
    const small = await createVectraStrategyMemory({
      folder: narrow,
      embeddings: new ScriptedHashingEmbeddings({ dimensions: 16 }),
    });
    await small.add([
      {
        id: "x:a",
        auctionId: "x",
        task: "sort names",
        kind: "",
        agent: "mixtral",
        plan: "",
        role: "single",
        cost: 0,
        createdAt: 0,
      },
    ]);
    await small.close();
    const dimension = await start({ ...router, memory: { store: "vectra", folder: narrow } }, fresh("ledger.db")).catch(
      (caught: unknown) => caught,
    );
    expect(ConfigFileError.isInstance(dimension) && dimension.fields).toEqual(["router.embedder"]);
    expect(String((dimension as Error).message)).toContain("do not fit the router's embedder");
  });
});
