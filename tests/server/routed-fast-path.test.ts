/**
 * The fast path of `gavel/auto` (issue 12): in memory mode with every member on an upstream, a
 * non-streamed request is decided by the router's auction engine and the winner is called with
 * `fetch` (not through `ChatOpenAI`); the auction's ledger and memory writes run after the response,
 * and a graceful drain waits for them. Against the loopback provider (tests/helpers/openaiServer.ts).
 */
import { afterEach, describe, expect, it } from "vitest";
import { AUCTION_ID_HEADER, WINNER_HEADER } from "../../adapters/server/app.js";
import { createHashingEmbeddings } from "../../src/eval/routing/embedding.js";
import type { AuctionInput, ChargeInput, LedgerWriter, OutcomeInput } from "../../src/ledger/types.js";
import { createInMemoryStrategyMemory } from "../../src/memory/index.js";
import type { StrategyMemory } from "../../src/memory/types.js";
import { type Gateway, startGateway, TEST_KEY } from "./gateway-fixture.js";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

interface RecordingLedger extends LedgerWriter {
  auctions: AuctionInput[];
  charges: ChargeInput[];
  outcomes: OutcomeInput[];
}

function recordingLedger(): RecordingLedger {
  const auctions: AuctionInput[] = [];
  const charges: ChargeInput[] = [];
  const outcomes: OutcomeInput[] = [];
  return {
    auctions,
    charges,
    outcomes,
    recordAuction: async (input: AuctionInput) => {
      auctions.push(input);
      return input.id ?? String(auctions.length);
    },
    recordCharge: async (input: ChargeInput) => {
      charges.push(input);
      return String(charges.length);
    },
    recordCharges: async (inputs: readonly ChargeInput[]) => {
      charges.push(...inputs);
      return inputs.map((_, index) => String(charges.length - inputs.length + index + 1));
    },
    recordOutcome: async (input: OutcomeInput) => {
      outcomes.push(input);
    },
  } as unknown as RecordingLedger;
}

/** A memory whose writes wait for `open()` (reads go straight through). */
function gatedMemory(memory: StrategyMemory): { memory: StrategyMemory; open(): void; pendingWrites(): number } {
  let open!: () => void;
  const gate = new Promise<void>((resolve) => {
    open = resolve;
  });
  let pending = 0;
  const gated: StrategyMemory = Object.assign(Object.create(memory) as StrategyMemory, {
    add: async (entries: Parameters<StrategyMemory["add"]>[0]) => {
      pending += 1;
      await gate;
      pending -= 1;
      return memory.add(entries);
    },
  });
  return { memory: gated, open, pendingWrites: () => pending };
}

function memoryRouter(memory: StrategyMemory) {
  return { mode: "memory" as const, memory, embeddings: createHashingEmbeddings(), seed: 0 };
}

async function ask(baseURL: string, content = "What is the capital of France?") {
  const response = await fetch(`${baseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
    body: JSON.stringify({ model: "gavel/auto", messages: [{ role: "user", content }], temperature: 1.5 }),
  });
  return { response, body: (await response.json()) as Record<string, unknown> & { model: string } };
}

async function feedback(baseURL: string, body: unknown) {
  const response = await fetch(`${baseURL}/gavel/feedback`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${TEST_KEY}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Let pending callbacks and microtasks run (no clock involved). */
async function settle(): Promise<void> {
  for (let round = 0; round < 20; round += 1) await new Promise((resolve) => setImmediate(resolve));
}

describe("gavel/auto's fast path (memory mode, members on an upstream)", () => {
  it("one call through fetch: the provider gets the messages, the winner's model and cap; the client the provider's completion named by the winner", async () => {
    const ledger = recordingLedger();
    const memory = createInMemoryStrategyMemory({ embeddings: createHashingEmbeddings() });
    gateway = await startGateway({
      fastPath: true,
      answer: () => ({ content: "Paris.", usage: { prompt_tokens: 21, completion_tokens: 2 } }),
      app: { router: memoryRouter(memory), ledger },
    });
    const key = await gateway.testKey();
    const before = (await gateway.budgets.standing(key, undefined)).usd ?? Number.NaN;
    const { response, body } = await ask(gateway.baseURL);
    expect(response.status).toBe(200);
    const winner = response.headers.get(WINNER_HEADER) as string;
    const auctionId = response.headers.get(AUCTION_ID_HEADER) as string;
    expect(["mini", "large"]).toContain(winner);
    expect(auctionId).toMatch(/\S/);
    expect(body.model).toBe(winner);
    expect(body.usage).toEqual({ prompt_tokens: 21, completion_tokens: 2, total_tokens: 23 });

    const calls = gateway.provider.requests.filter((request) => request.path.endsWith("/chat/completions"));
    expect(calls).toHaveLength(1);
    const [call] = calls;
    // fetch, not the OpenAI SDK (which sends its x-stainless-* headers); the router's settings, not the request's.
    expect(call?.headers["x-stainless-lang"]).toBeUndefined();
    expect(call?.headers.authorization).toBe("Bearer provider-key");
    expect(call?.body?.model).toBe(winner === "mini" ? "gpt-4o-mini" : "gpt-4o");
    expect(call?.body?.messages).toEqual([{ role: "user", content: "What is the capital of France?" }]);
    expect(call?.body?.max_tokens).toBe(256);
    expect(call?.body?.temperature).toBeUndefined();

    await gateway.gateway.drain(5_000);
    expect(ledger.auctions.map((auction) => auction.id)).toEqual([auctionId]);
    expect(ledger.auctions[0]?.metadata?.path).toBe("memory");
    expect(ledger.charges).toHaveLength(1);
    expect(ledger.charges[0]).toMatchObject({ agent: winner, inputTokens: 21, outputTokens: 2, auctionId });
    const entry = await memory.get(`${auctionId}:${winner}`);
    expect(entry?.agent).toBe(winner);
    const after = (await gateway.budgets.standing(key, undefined)).usd ?? Number.NaN;
    expect(before - after).toBeCloseTo(ledger.charges[0]?.usd ?? Number.NaN, 12);
    expect(before - after).toBeGreaterThan(0);
  });

  it("the auction's writes run after the response, and a graceful drain waits for them", async () => {
    const ledger = recordingLedger();
    const inner = createInMemoryStrategyMemory({ embeddings: createHashingEmbeddings() });
    const gated = gatedMemory(inner);
    gateway = await startGateway({ fastPath: true, app: { router: memoryRouter(gated.memory), ledger } });
    const { response } = await ask(gateway.baseURL);
    expect(response.status).toBe(200);
    const auctionId = response.headers.get(AUCTION_ID_HEADER) as string;
    const winner = response.headers.get(WINNER_HEADER) as string;
    // Answered while the memory write still waits.
    await settle();
    expect(gated.pendingWrites()).toBe(1);
    expect(await inner.size()).toBe(0);

    let drained = false;
    const draining = gateway.gateway.drain(30_000).then(() => {
      drained = true;
    });
    await settle();
    expect(drained).toBe(false);
    gated.open();
    await draining;
    expect(await inner.size()).toBe(1);
    expect((await inner.get(`${auctionId}:${winner}`))?.agent).toBe(winner);
    expect(ledger.auctions.map((auction) => auction.id)).toEqual([auctionId]);
  });

  it("a drain that starts while the request is in flight also waits for the writes the request starts when it ends", async () => {
    const inner = createInMemoryStrategyMemory({ embeddings: createHashingEmbeddings() });
    const gated = gatedMemory(inner);
    let received!: () => void;
    const arrived = new Promise<void>((resolve) => {
      received = resolve;
    });
    let answer!: () => void;
    const answered = new Promise<void>((resolve) => {
      answer = resolve;
    });
    gateway = await startGateway({
      fastPath: true,
      answer: async () => {
        received();
        await answered;
        return "Paris.";
      },
      app: { router: memoryRouter(gated.memory) },
    });
    const asked = ask(gateway.baseURL);
    await arrived;
    let drained = false;
    const draining = gateway.gateway.drain(30_000).then(() => {
      drained = true;
    });
    answer();
    const { response } = await asked;
    expect(response.status).toBe(200);
    await settle();
    expect(gated.pendingWrites()).toBe(1);
    expect(drained).toBe(false);
    gated.open();
    await draining;
    expect(await inner.size()).toBe(1);
  });

  it("feedback on a fast-path auction is recorded once (waiting for its writes); refusals are 400/404/409", async () => {
    const ledger = recordingLedger();
    const inner = createInMemoryStrategyMemory({ embeddings: createHashingEmbeddings() });
    const gated = gatedMemory(inner);
    gateway = await startGateway({ fastPath: true, app: { router: memoryRouter(gated.memory), ledger } });
    const { response } = await ask(gateway.baseURL);
    const auctionId = response.headers.get(AUCTION_ID_HEADER) as string;
    const winner = response.headers.get(WINNER_HEADER) as string;
    const other = winner === "mini" ? "large" : "mini";

    const graded = feedback(gateway.baseURL, { auction_id: auctionId, correct: true });
    await settle();
    gated.open(); // the grade waits for the entry to be written
    expect(await graded).toEqual({
      status: 200,
      body: { object: "gavel.feedback", auction_id: auctionId, member: null, recorded: true },
    });
    expect((await inner.get(`${auctionId}:${winner}`))?.outcome).toBe(1);
    expect(ledger.outcomes).toEqual([expect.objectContaining({ auctionId, correct: true })]);

    const again = await feedback(gateway.baseURL, { auction_id: auctionId, correct: false });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: "already_scored" });
    const notCalled = await feedback(gateway.baseURL, { auction_id: auctionId, member: other, score: 0.5 });
    expect(notCalled.status).toBe(400);
    expect(notCalled.body.error).toMatchObject({ code: "member_not_called", param: "member" });
    const unknown = await feedback(gateway.baseURL, { auction_id: "no-such-auction", correct: true });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ code: "auction_not_found" });
  });

  it("auto mode, cold memory: the escalation's rungs answer (through their models); the final rung's answer is returned, nothing more is called", async () => {
    const ledger = recordingLedger();
    const memory = createInMemoryStrategyMemory({ embeddings: createHashingEmbeddings() });
    // "large" wins the auction: a cheapest winner ("mini") would answer alone, with no climb.
    const memoryBids = { priors: { large: 0.99, mini: 0.01 } };
    gateway = await startGateway({
      fastPath: true,
      answer: () => ({ content: "The answer is B.", usage: { prompt_tokens: 21, completion_tokens: 5 } }),
      app: { router: { ...memoryRouter(memory), mode: "auto" as const, memoryBids }, ledger },
    });
    const { response, body } = await ask(gateway.baseURL);
    expect(response.status).toBe(200);
    const winner = response.headers.get(WINNER_HEADER) as string;
    expect(body.model).toBe(winner);
    const choices = body.choices as Array<{ message: { content: string } }>;
    expect(choices[0]?.message.content).toBe("The answer is B.");
    await gateway.gateway.drain(5_000);
    const [auction] = ledger.auctions;
    expect(auction?.metadata?.path).toBe("escalation");
    const called = auction?.metadata?.calls as string[];
    // Each rung was called once; the final one is the winner (no call after the climb).
    const calls = gateway.provider.requests.filter((request) => request.path.endsWith("/chat/completions"));
    expect(calls).toHaveLength(called.length);
    expect(called).toContain(winner);
    expect(ledger.charges.map((charge) => charge.agent).sort()).toEqual([...called].sort());
  });

  it("a winner whose provider fails: the fallback answers, the failed reservation is released", async () => {
    const ledger = recordingLedger();
    const memory = createInMemoryStrategyMemory({ embeddings: createHashingEmbeddings() });
    // The fallback is the cheapest member ("mini"); "large" wins the auction (the router's fallback names it).
    gateway = await startGateway({
      fastPath: true,
      answer: (body) =>
        body.model === "gpt-4o"
          ? { status: 500, error: { message: "overloaded", type: "server_error" } }
          : { content: "Paris.", usage: { prompt_tokens: 21, completion_tokens: 2 } },
      app: { router: { ...memoryRouter(memory), memoryBids: { priors: { large: 0.99, mini: 0.01 } } }, ledger },
    });
    const key = await gateway.testKey();
    const before = (await gateway.budgets.standing(key, undefined)).usd ?? Number.NaN;
    const { response, body } = await ask(gateway.baseURL);
    expect(response.status).toBe(200);
    expect(response.headers.get(WINNER_HEADER)).toBe("mini");
    expect(body.model).toBe("mini");
    const models = gateway.provider.requests
      .filter((request) => request.path.endsWith("/chat/completions"))
      .map((request) => request.body?.model);
    expect(models).toEqual(["gpt-4o", "gpt-4o-mini"]);
    await gateway.gateway.drain(5_000);
    expect(ledger.auctions[0]?.metadata?.fallback).toMatchObject({ member: "mini" });
    expect(ledger.charges.map((charge) => charge.agent)).toEqual(["mini"]);
    const after = (await gateway.budgets.standing(key, undefined)).usd ?? Number.NaN;
    // Only mini's answer was charged: large's reservation was released.
    expect(before - after).toBeCloseTo(ledger.charges[0]?.usd ?? Number.NaN, 12);
  });
});
