/**
 * Key-scoped feedback: with keys, `POST /v1/gavel/feedback` grades an auction only with the key it
 * was routed for; any other key gets the same 404 `auction_not_found` as an auction nobody knows —
 * for auctions the gateway remembers (the router's, streamed or not, and the fast path's) and for
 * auctions it finds only in the ledger after a restart (the ledger keeps the key as the auction's run
 * scope). Real servers on 127.0.0.1 over the loopback provider.
 */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AUCTION_ID_HEADER } from "../../adapters/server/app.js";
import { createKeyVerifier } from "../../adapters/server/keys.js";
import { createSqliteLedger, type SqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createHashingEmbeddings } from "../../src/eval/routing/embedding.js";
import { createInMemoryStrategyMemory } from "../../src/memory/index.js";
import { type Gateway, type GatewayOptions, startGateway } from "./gateway-fixture.js";

const ALICE = "gvl-alice-0123456789abcdef";
const BOB = "gvl-bob-0123456789abcdef";

/** Two keys, alice (a budget in a daily window) and bob (no limit). */
function twoKeys() {
  return createKeyVerifier({
    keys: [
      { name: "alice", keyEnv: "ALICE_KEY", budget: { maxUsd: 1 }, budgetWindow: "1d" },
      { name: "bob", keyEnv: "BOB_KEY" },
    ],
    env: { ALICE_KEY: ALICE, BOB_KEY: BOB },
    refreshMs: 0,
  });
}

const scratch = mkdtempSync(join(tmpdir(), "gavel-feedback-keys-"));
let files = 0;

const gateways: Gateway[] = [];
const ledgers: SqliteLedger[] = [];
afterEach(async () => {
  for (const gateway of gateways.splice(0)) await gateway.close();
  for (const ledger of ledgers.splice(0)) await ledger.close();
});

async function start(options: GatewayOptions): Promise<Gateway> {
  const gateway = await startGateway(options);
  gateways.push(gateway);
  return gateway;
}

function openLedger(path: string): SqliteLedger {
  const ledger = createSqliteLedger({ path });
  ledgers.push(ledger);
  return ledger;
}

function headers(key: string | undefined): Record<string, string> {
  return { "content-type": "application/json", ...(key !== undefined && { authorization: `Bearer ${key}` }) };
}

/** A `gavel/auto` request under `key`; its auction id. */
async function route(gateway: Gateway, key: string | undefined, stream = false): Promise<string> {
  const response = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: "POST",
    headers: headers(key),
    body: JSON.stringify({
      model: "gavel/auto",
      messages: [{ role: "user", content: "What is the capital of France?" }],
      ...(stream && { stream: true }),
    }),
  });
  expect(response.status).toBe(200);
  await response.text(); // the whole answer (a stream: to its [DONE])
  const auctionId = response.headers.get(AUCTION_ID_HEADER);
  expect(auctionId).toEqual(expect.any(String));
  return auctionId as string;
}

async function feedback(gateway: Gateway, key: string | undefined, auctionId: string) {
  const response = await fetch(`${gateway.baseURL}/gavel/feedback`, {
    method: "POST",
    headers: headers(key),
    body: JSON.stringify({ auction_id: auctionId, correct: true }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * The answer `key` gets for `auctionId` is exactly the answer for an auction nobody routed (the
 * message names the id it was given, so the ids are blanked before comparing).
 */
async function expectUnknown(gateway: Gateway, key: string, auctionId: string): Promise<void> {
  const foreign = await feedback(gateway, key, auctionId);
  const nobodys = await feedback(gateway, key, "no-such-auction");
  expect(foreign.status).toBe(404);
  expect(foreign.body.error).toMatchObject({ code: "auction_not_found", param: "auction_id" });
  expect(JSON.stringify(foreign.body).replaceAll(auctionId, "<id>")).toBe(
    JSON.stringify(nobodys.body).replaceAll("no-such-auction", "<id>"),
  );
}

const graded = (auctionId: string) => ({
  status: 200,
  body: { object: "gavel.feedback", auction_id: auctionId, member: null, recorded: false },
});

describe("feedback with keys: only the key an auction was routed for grades it", () => {
  it("the router's auctions (one router shared by both keys: no budgets), streamed or not", async () => {
    const path = join(scratch, `ledger-${files++}.db`);
    const ledger = openLedger(path);
    const gateway = await start({ app: { keys: twoKeys(), budgets: undefined, ledger } });
    const invoked = await route(gateway, ALICE);
    const streamed = await route(gateway, ALICE, true);

    // The ledger keeps which key each auction ran for, as its run scope (no budgets: no window).
    expect((await ledger.getAuction(invoked))?.scope).toEqual({ kind: "run", id: "key:cfg_alice" });

    for (const auctionId of [invoked, streamed]) {
      await expectUnknown(gateway, BOB, auctionId);
      expect(await feedback(gateway, ALICE, auctionId)).toEqual(graded(auctionId));
    }
    // Bob's own auctions are his to grade, and not alice's.
    const bobs = await route(gateway, BOB);
    await expectUnknown(gateway, ALICE, bobs);
    expect(await feedback(gateway, BOB, bobs)).toEqual(graded(bobs));
  });

  it("the fast path's auctions (memory mode, members on an upstream)", async () => {
    const memory = createInMemoryStrategyMemory({ embeddings: createHashingEmbeddings() });
    const gateway = await start({
      fastPath: true,
      app: { keys: twoKeys(), router: { mode: "memory", memory, embeddings: createHashingEmbeddings(), seed: 0 } },
    });
    const auctionId = await route(gateway, ALICE);
    await expectUnknown(gateway, BOB, auctionId);
    expect(await feedback(gateway, ALICE, auctionId)).toEqual({
      ...graded(auctionId),
      body: { ...graded(auctionId).body, recorded: true },
    });
  });

  it("after a restart, from the ledger alone: its run scope names the key (in any budget window)", async () => {
    const path = join(scratch, `ledger-${files++}.db`);
    const before = createSqliteLedger({ path });
    const first = await start({ app: { keys: twoKeys(), ledger: before } });
    const alices = await route(first, ALICE); // alice's budget window: scope key:cfg_alice:<window start>
    const bobs = await route(first, BOB);
    await first.close();
    gateways.length = 0;
    await before.close();

    const ledger = openLedger(path);
    expect((await ledger.getAuction(alices))?.scope?.id).toMatch(/^key:cfg_alice:\d{4}-\d\d-\d\dT00:00:00\.000Z$/);
    const second = await start({ app: { keys: twoKeys(), ledger } });
    await expectUnknown(second, BOB, alices);
    await expectUnknown(second, ALICE, bobs);
    expect(await feedback(second, ALICE, alices)).toEqual(graded(alices));
    expect(await feedback(second, BOB, bobs)).toEqual(graded(bobs));
  });

  it("an auction the ledger holds with no key (routed by a gateway without keys) is graded by no key", async () => {
    const path = join(scratch, `ledger-${files++}.db`);
    const before = createSqliteLedger({ path });
    const open = await start({ app: { keys: undefined, budgets: undefined, ledger: before } });
    const auctionId = await route(open, undefined);
    await open.close();
    gateways.length = 0;
    await before.close();

    const keyed = await start({ app: { keys: twoKeys(), ledger: openLedger(path) } });
    await expectUnknown(keyed, ALICE, auctionId);
    await expectUnknown(keyed, BOB, auctionId);
  });
});

describe("feedback without keys (an open gateway) is unchanged", () => {
  it("any request grades any auction", async () => {
    const gateway = await start({ app: { keys: undefined } });
    const auctionId = await route(gateway, undefined);
    expect(await feedback(gateway, undefined, auctionId)).toEqual(graded(auctionId));
  });
});
