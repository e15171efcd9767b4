/**
 * `gavel train router --outcomes / --feedback --memory`: through the CLI, on temporary vectra folders
 * and SQLite ledgers, with the hashing embedder and tiny files written here (made-up prompts and
 * outcomes: the tests check what is written where, not any figure).
 */
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HumanMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createVectraStrategyMemory } from "../../adapters/vectra/memory.js";
import { EXIT_BAD_INPUT } from "../../src/cli/exit-codes.js";
import { trainCommand } from "../../src/cli/train.js";
import { hashingMemoryEmbeddings } from "../../src/cli/train-memory.js";
import { outcomeEntry, requestText } from "../../src/router/memory-bids/index.js";
import { createSampleOutcome, ScriptedHashingEmbeddings } from "../../src/testing.js";
import { runGavel } from "../helpers/cli.js";

const scratch = mkdtempSync(join(tmpdir(), "gavel-train-memory-"));
let folders = 0;
const freshFolder = () => join(scratch, `memory-${folders++}`);

/** `gavel train router <args>`; a memory run gets the hashing embedder unless the args name one (the default is USE-Lite). */
function gavel(args: string[]) {
  const embedder = args.includes("--memory") && !args.includes("--embedder") ? ["--embedder", "hashing"] : [];
  return runGavel((writers) => [trainCommand(writers)], ["train", "router", ...args, ...embedder]);
}

function writeLines(name: string, lines: unknown[]): string {
  const path = join(scratch, name);
  writeFileSync(path, `${lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n")}\n`);
  return path;
}

/** Two prompts, two models each: canonical outcome records. */
const outcomeLines = [
  {
    prompt_id: "p1",
    prompt: "Add 2 and 3.\nAnswer:",
    eval_name: "made-up",
    model: "mini",
    correct: true,
    cost_usd: 0.001,
  },
  {
    prompt_id: "p1",
    prompt: "Add 2 and 3.\nAnswer:",
    eval_name: "made-up",
    model: "large",
    correct: 1,
    cost_usd: 0.02,
  },
  {
    prompt_id: "p2",
    prompt: "Name a prime above 10.",
    eval_name: "made-up",
    model: "mini",
    correct: false,
    cost_usd: 0.001,
  },
  {
    prompt_id: "p2",
    prompt: "Name a prime above 10.",
    eval_name: "made-up",
    model: "large",
    correct: true,
    cost_usd: 0.03,
  },
];
const outcomesFile = writeLines("outcomes.jsonl", outcomeLines);

async function openMemory(folder: string) {
  return createVectraStrategyMemory({ folder, embeddings: hashingMemoryEmbeddings() });
}

describe("gavel train router --outcomes", () => {
  it("writes one called, scored outcome entry per record into a vectra folder and prints the counts", async () => {
    const folder = freshFolder();
    const { stdout, stderr, exitCode } = await gavel(["--outcomes", outcomesFile, "--memory", folder]);
    expect(stderr).not.toContain("error");
    expect(exitCode).toBe(0);
    expect(stdout).toContain("4 records → 2 auctions, 4 outcome entries written");
    expect(stdout).toContain("The memory holds 4 entries.");
    expect(stdout).toContain("embedder hashing-256");

    const memory = await openMemory(folder);
    try {
      expect(await memory.size()).toBe(4);
      const mini = await memory.get("train:p2:mini");
      expect(mini).toMatchObject({ agent: "mini", outcome: 0, cost: 0.001, auctionId: "train:p2", kind: "" });
      expect(mini?.metadata).toMatchObject({ gavel: "outcome", embedder: "hashing-256", called: true });
      // The text the router embeds for the same request: the prompt through promptTail.
      expect(mini?.task).toBe(requestText([new HumanMessage("Name a prime above 10.")]));
      expect((await memory.get("train:p1:large"))?.outcome).toBe(1);
    } finally {
      await memory.close();
    }
  });

  it("--limit keeps the first N prompts; --json prints the summary", async () => {
    const folder = freshFolder();
    const { stdout, exitCode } = await gavel([
      "--outcomes",
      outcomesFile,
      "--memory",
      folder,
      "--limit",
      "1",
      "--json",
    ]);
    expect(exitCode).toBe(0);
    const summary = JSON.parse(stdout);
    expect(summary.outcomes).toEqual({ file: outcomesFile, records: 2, auctions: 1, entries: 2 });
    expect(summary.size).toBe(2);
  });

  it("--member NAME=MODEL files a recorded model's outcomes under the router's member name, and loads only named models", async () => {
    const folder = freshFolder();
    const { stdout, exitCode } = await gavel([
      "--outcomes",
      outcomesFile,
      "--memory",
      folder,
      "--member",
      "small=mini",
      "--json",
    ]);
    expect(exitCode).toBe(0);
    expect(JSON.parse(stdout).outcomes).toMatchObject({ records: 2, auctions: 2, entries: 2 });
    const memory = await openMemory(folder);
    try {
      expect((await memory.get("train:p1:small"))?.agent).toBe("small");
      expect(await memory.get("train:p1:mini")).toBeUndefined();
      expect(await memory.get("train:p1:large")).toBeUndefined();
    } finally {
      await memory.close();
    }
    const none = await gavel(["--outcomes", outcomesFile, "--memory", freshFolder(), "--member", "x=gpt-5"]);
    expect(none.exitCode).toBe(EXIT_BAD_INPUT);
    expect(none.stderr).toContain("no record of the models named by --member (gpt-5)");
  });

  it("says when the memory's bound evicted entries", async () => {
    const { stdout, exitCode } = await gavel([
      "--outcomes",
      outcomesFile,
      "--memory",
      freshFolder(),
      "--max-entries",
      "3",
    ]);
    expect(exitCode).toBe(0);
    expect(stdout).toContain("It is at its bound of 3: the least recently used auctions were evicted.");
  });

  it("a bad line exits 2 naming the file, the line and the field, and writes nothing", async () => {
    const folder = freshFolder();
    const bad = writeLines("bad-outcomes.jsonl", [outcomeLines[0], { ...outcomeLines[1], cost_usd: -1 }]);
    const { stderr, exitCode } = await gavel(["--outcomes", bad, "--memory", folder]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${bad}:2`);
    expect(stderr).toContain("cost_usd");
    expect(existsSync(folder)).toBe(false);
  });

  it("refuses a memory written with another embedder, naming both", async () => {
    const folder = freshFolder();
    const embeddings = hashingMemoryEmbeddings();
    const memory = await createVectraStrategyMemory({ folder, embeddings });
    const [vector = []] = await embeddings.embedDocuments(["Add 2 and 3."]);
    await memory.add([
      outcomeEntry({
        auctionId: "a1",
        member: "mini",
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
    const { stderr, exitCode } = await gavel(["--outcomes", outcomesFile, "--memory", folder]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain('"OpenAIEmbeddings"');
    expect(stderr).toContain('"hashing-256"');
    const reopened = await openMemory(folder);
    expect(await reopened.size()).toBe(1);
    await reopened.close();
  });

  it("refuses a memory whose vectors have another dimension, with the reason", async () => {
    const folder = freshFolder();
    const memory = await createVectraStrategyMemory({
      folder,
      embeddings: new ScriptedHashingEmbeddings({ dimensions: 16 }),
    });
    await memory.add([
      {
        id: "x:a",
        auctionId: "x",
        task: "sort names",
        kind: "",
        agent: "a",
        plan: "",
        role: "single",
        cost: 0,
        createdAt: 0,
      },
    ]);
    await memory.close();
    const { stderr, exitCode } = await gavel(["--outcomes", outcomesFile, "--memory", folder]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain("do not fit the router's embedder");
    expect(stderr).toMatch(/16|256/);
  });
});

/** A ledger with three routed auctions as the router records them (metadata.calls, winner, task, charges). */
async function writeLedger(path: string): Promise<void> {
  const ledger = createSqliteLedger({ path });
  const auctions = [
    // Escalation: mini then large called, large final.
    { id: "esc", task: "Add 2 and 3.\nAnswer:", calls: ["mini", "large"], winner: "large" },
    // Memory path: only mini called.
    { id: "mem", task: "Name a prime above 10.", calls: ["mini"], winner: "mini" },
    // Another memory-path auction whose entry the memory never saw.
    { id: "new", task: "Spell 'cat' backwards.", calls: ["large"], winner: "large" },
  ];
  for (const [index, auction] of auctions.entries()) {
    await ledger.recordAuction({
      id: auction.id,
      kind: "route",
      createdAt: 1_000 + index,
      task: auction.task,
      outcome: createSampleOutcome({ bids: [{ bidder: auction.winner, amount: 0.5 }] }),
      metadata: { calls: auction.calls, winner: auction.winner, path: "memory" },
    });
    await ledger.recordCharges(
      auction.calls.map((member) => ({
        kind: "settle" as const,
        model: member,
        agent: member,
        auctionId: auction.id,
        inputTokens: 10,
        outputTokens: 5,
        usd: member === "large" ? 0.02 : 0.001,
        label: member === auction.winner ? "answer" : "escalation",
      })),
    );
  }
  await ledger.close();
}

/** The outcome entries the router would have written for `esc` and `mem` (no outcome yet). */
async function writeRoutedEntries(folder: string): Promise<void> {
  const embeddings = hashingMemoryEmbeddings();
  const memory = await createVectraStrategyMemory({ folder, embeddings });
  const entries = [
    { auctionId: "esc", member: "mini", text: "Add 2 and 3.", role: "losing" as const, costUsd: 0.001 },
    { auctionId: "esc", member: "large", text: "Add 2 and 3.", role: "winning" as const, costUsd: 0.02 },
    { auctionId: "mem", member: "mini", text: "Name a prime above 10.", role: "single" as const, costUsd: 0.001 },
  ];
  for (const entry of entries) {
    const [vector = []] = await embeddings.embedDocuments([entry.text]);
    await memory.add([
      outcomeEntry({ ...entry, vector, called: true, embedderId: "hashing-256", kind: "", createdAt: 1_000 }),
    ]);
  }
  await memory.close();
}

describe("gavel train router --feedback --ledger", () => {
  it("records each line once, for called members only, and reports the others by line", async () => {
    const folder = freshFolder();
    const ledgerPath = join(scratch, `ledger-${folders}.db`);
    await writeLedger(ledgerPath);
    await writeRoutedEntries(folder);
    const feedback = writeLines("feedback.jsonl", [
      { auction_id: "esc", correct: true }, // 1: the final member, large
      { auction_id: "esc", correct: false, member: "mini" }, // 2: the escalation's cheap rung
      { auction_id: "esc", score: 0.5 }, // 3: large again: already scored
      { auction_id: "mem", score: 0.25, member: "large" }, // 4: large was not called in "mem"
      { auction_id: "nope", correct: true }, // 5: unknown auction
      "", // 6: blank lines are skipped
      { auction_id: "new", correct: true, label: "thumbs up" }, // 7: no entry in the memory: added from the ledger
      { auction_id: "mem", correct: true }, // 8: mini
    ]);
    const first = await gavel(["--feedback", feedback, "--ledger", ledgerPath, "--memory", folder, "--json"]);
    expect(first.stderr).not.toContain("error");
    expect(first.exitCode).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary.feedback).toMatchObject({ lines: 7, recorded: 3, added: 1, refusedCount: 3 });
    expect(summary.feedback.refused).toEqual([
      { line: 3, auctionId: "esc", member: "large", reason: "already_scored" },
      { line: 4, auctionId: "mem", member: "large", reason: "member_not_called" },
      { line: 5, auctionId: "nope", reason: "unknown_auction" },
    ]);

    const memory = await openMemory(folder);
    try {
      expect((await memory.get("esc:large"))?.outcome).toBe(1);
      expect((await memory.get("esc:mini"))?.outcome).toBe(0);
      expect((await memory.get("mem:mini"))?.outcome).toBe(1);
      // Never a guess for a member that was not called.
      expect(await memory.get("mem:large")).toBeUndefined();
      const added = await memory.get("new:large");
      expect(added).toMatchObject({
        outcome: 1,
        agent: "large",
        cost: 0.02,
        role: "single",
        task: "Spell 'cat' backwards.",
      });
      expect(added?.metadata).toMatchObject({ gavel: "outcome", called: true, embedder: "hashing-256" });
    } finally {
      await memory.close();
    }

    // The same file again: nothing is counted twice.
    const second = await gavel(["--feedback", feedback, "--ledger", ledgerPath, "--memory", folder]);
    expect(second.exitCode).toBe(0);
    expect(second.stdout).toContain("7 lines → 0 recorded, 0 added from the ledger, 7 refused");
    expect(second.stdout).toContain(`${feedback}:1: member "large" of auction "esc" is already scored`);
    expect(second.stdout).toContain(`${feedback}:5: auction "nope" is not in the ledger`);
    const reopened = await openMemory(folder);
    expect((await reopened.get("esc:mini"))?.outcome).toBe(0);
    await reopened.close();
  });

  it.each([
    [{ auction_id: "esc" }, "correct"],
    [{ auction_id: "esc", correct: true, score: 1 }, "score"],
    [{ auction_id: "esc", score: 1.5 }, "score"],
    [{ auction_id: "", correct: true }, "auction_id"],
    [{ auction_id: "esc", corect: true }, "corect"],
    ["{not json", "not valid JSON"],
  ])("a malformed line %j exits 2 naming the file, line 2 and %s", async (line, field) => {
    const folder = freshFolder();
    const ledgerPath = join(scratch, `ledger-bad-${folders}.db`);
    await writeLedger(ledgerPath);
    const feedback = writeLines(`bad-feedback-${folders}.jsonl`, [{ auction_id: "esc", correct: true }, line]);
    const { stderr, exitCode } = await gavel(["--feedback", feedback, "--ledger", ledgerPath, "--memory", folder]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${feedback}:2`);
    expect(stderr).toContain(field);
    expect(existsSync(folder)).toBe(false);
  });

  it("a ledger that does not exist, or is no ledger, exits 2 before the memory is opened", async () => {
    const folder = freshFolder();
    const feedback = writeLines("one-line.jsonl", [{ auction_id: "esc", correct: true }]);
    const missing = await gavel(["--feedback", feedback, "--ledger", join(scratch, "none.db"), "--memory", folder]);
    expect(missing.exitCode).toBe(EXIT_BAD_INPUT);
    expect(missing.stderr).toContain("no ledger database at");
    const garbage = writeLines("garbage.db", ["not a database"]);
    const broken = await gavel(["--feedback", feedback, "--ledger", garbage, "--memory", folder]);
    expect(broken.exitCode).toBe(EXIT_BAD_INPUT);
    expect(broken.stderr).toContain("cannot read the ledger");
    expect(existsSync(folder)).toBe(false);
  });

  it.each([
    [["--feedback", "f.jsonl", "--memory", "m"], "--feedback needs --ledger"],
    [["--ledger", "l.db", "--outcomes", "o.jsonl", "--memory", "m"], "--ledger applies to --feedback"],
    [["--outcomes", "o.jsonl"], "--memory FOLDER|postgres://… is required"],
    [["--tasks", "t.jsonl", "--outcomes", "o.jsonl", "--memory", "m"], "not both"],
    [["--memory", "m"], "--memory needs --outcomes"],
    [["--outcomes", "o.jsonl", "--memory", "m", "--seed", "3"], "--seed applies to --tasks"],
    [["--tasks", "t.jsonl", "--embedder", "hashing"], "--embedder applies to --outcomes"],
    [[], "give --tasks FILE"],
  ])("bad options %j exit 2: %s", async (args, message) => {
    const { stderr, exitCode } = await gavel(args);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(message);
  });

  it("an unknown --embedder is a usage error naming the choices (the binary exits 2 on it)", async () => {
    const { stderr, exitCode } = await gavel(["--outcomes", "o.jsonl", "--memory", "m", "--embedder", "word2vec"]);
    expect(exitCode).not.toBe(0);
    expect(stderr).toContain("expected one of hashing, use-lite, use");
  });
});
