/**
 * A ledger that refuses every write must not fail a request that has been answered (issue 14,
 * item 2). Before, `AuctionRouter.invoke` (and the debate) awaited the ledger's rejection and threw
 * it after the answer had been generated and charged. Now the router, its middleware's engine and the
 * debate catch the failure at their write sites and report it: to the ledger's `reportWriteFailure`
 * (the SQLite ledger counts it and calls `onWriteFailure`), else as a process warning.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAgent } from "langchain";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteLedger, type SqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createAuctionDebate } from "../../src/debate/index.js";
import { LedgerError } from "../../src/ledger/errors.js";
import type { LedgerWriteFailure, LedgerWriter } from "../../src/ledger/types.js";
import { auctionRouterMiddleware } from "../../src/middleware/auctionRouter.js";
import { AuctionRouter } from "../../src/router/index.js";
import { scriptedAgents } from "../debate/scripted-agents.js";
import { CHEAP, DEAR, gavelOf, scriptedMember } from "./scripted-pool.js";

function pool() {
  return [
    { name: "small", model: scriptedMember("small", { answer: "2450." }), price: CHEAP },
    { name: "large", model: scriptedMember("large", { answer: "2450, by a loop." }), price: DEAR },
  ];
}

const folder = mkdtempSync(join(tmpdir(), "gavel-ledger-failure-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A real ledger file opened read-only: every write is refused by SQLite (SQLITE_READONLY). */
async function readOnlyLedger(name: string, failures: LedgerWriteFailure[]): Promise<SqliteLedger> {
  const path = join(folder, `${name}.db`);
  await createSqliteLedger({ path }).close();
  return createSqliteLedger({ path, readonly: true, onWriteFailure: (failure) => failures.push(failure) });
}

/** A writer with no reporting channel of its own, whose writes all reject. */
function refusingWriter(): LedgerWriter {
  const refuse = async () => {
    throw new Error("the ledger service is down");
  };
  return {
    recordAuction: refuse,
    recordAuctions: refuse,
    recordCharge: refuse,
    recordCharges: refuse,
    recordOutcome: refuse,
    recordBudget: refuse,
    recordBudgetSnapshot: refuse,
    close: async () => {},
  };
}

describe("a ledger that refuses every write", () => {
  it("the router answers (invoke and stream) and reports each refused write to the ledger", async () => {
    const failures: LedgerWriteFailure[] = [];
    const ledger = await readOnlyLedger("router", failures);
    const router = new AuctionRouter({ pool: pool(), ledger });

    const reply = await router.invoke("Sum the even numbers below 100");
    expect(reply.text).toMatch(/2450/);
    let streamed = "";
    for await (const chunk of await router.stream("Sum the even numbers below 100")) streamed += chunk.text;
    expect(streamed).toMatch(/2450/);

    // Per answered request: the auction and its charges, each reported once.
    expect(failures.map(({ kind, operation }) => `${kind} ${operation}`)).toEqual([
      "failed recordAuction",
      "failed recordCharges",
      "failed recordAuction",
      "failed recordCharges",
    ]);
    expect(failures[0]?.error.message).toContain(gavelOf(reply).auction.auctionId);
    expect(failures.every((failure) => LedgerError.isInstance(failure.error))).toBe(true);
    expect(ledger.writeStats()).toMatchObject({ failed: 4, dropped: 0 });
    await ledger.close();
  });

  it("the router reports through a process warning when the ledger has no channel of its own", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on("warning", onWarning);
    try {
      const router = new AuctionRouter({ pool: pool(), ledger: refusingWriter() });
      const reply = await router.invoke("Sum the even numbers below 100");
      expect(reply.text).toMatch(/2450/);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on the next tick
      expect(warnings.map((warning) => [warning.name, (warning as Error & { code?: string }).code])).toEqual([
        ["GavelLedgerWarning", "GAVEL_LEDGER_FAILED"],
        ["GavelLedgerWarning", "GAVEL_LEDGER_FAILED"],
      ]);
      expect(warnings[1]?.message).toMatch(/the ledger service is down/);
    } finally {
      process.off("warning", onWarning);
    }
  });

  it("an agent with auctionRouterMiddleware answers and the refused writes are reported", async () => {
    const failures: LedgerWriteFailure[] = [];
    const ledger = await readOnlyLedger("middleware", failures);
    const members = pool();
    const agent = createAgent({
      model: members[1]?.model as ReturnType<typeof scriptedMember>,
      middleware: [auctionRouterMiddleware({ pool: members, ledger })],
    });
    const result = await agent.invoke({ messages: [{ role: "user", content: "Sum the even numbers below 100" }] });
    expect(result.messages.at(-1)?.text).toMatch(/2450/);
    expect(failures.map(({ kind, operation }) => `${kind} ${operation}`)).toEqual([
      "failed recordAuction",
      "failed recordCharges",
    ]);
    await ledger.close();
  });

  it("the debate finishes every round and reports each refused write", async () => {
    const failures: LedgerWriteFailure[] = [];
    const ledger = await readOnlyLedger("debate", failures);
    const { agents } = scriptedAgents();
    const result = await createAuctionDebate({ agents, budget: 4000, ledger }).invoke({
      question: "What is 6 times 7?",
      exampleId: "example-1",
    });
    expect(result.rounds.length).toBeGreaterThan(1);
    const auctions = result.rounds.filter((round) => round.auctionId !== undefined).length;
    expect(failures.filter((failure) => failure.operation === "recordAuction")).toHaveLength(auctions);
    expect(failures.filter((failure) => failure.operation === "recordCharges").length).toBeGreaterThan(0);
    expect(ledger.writeStats().failed).toBe(failures.length);
    await ledger.close();
  });
});
