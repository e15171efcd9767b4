/**
 * The auction-gated debate over real local inference: three `LlamaCppChatModel` agents sharing
 * one node-llama-cpp runtime (CPU) on a tiny random-weight llama GGUF written by this file. The
 * text is gibberish; the token counts, the usage, the log-probabilities and the budget are real.
 *
 * What is checked, per mode: the usage the graph records per agent equals what the model reported
 * (seen through callbacks), every call's reservation was the exact prompt count (the model's own
 * tokenizer) + its cap and settled within it, the budget is never exceeded, who generated what
 * (in `intent` mode losers only write intents), and the documented fallbacks on gibberish
 * (`self_unparsed` bids, no parseable answer, so no convergence and a `max_rounds` stop).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { awaitAllCallbacks } from "@langchain/core/callbacks/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createLlamaCppRuntime,
  LlamaCppChatModel,
  type LlamaCppRuntime,
  type TinyLlamaGgufInfo,
  writeTinyLlamaGguf,
} from "../../adapters/llamacpp/index.js";
import {
  type AuctionDebateOptions,
  type AuctionDebateStateType,
  createAuctionDebate,
  INTENT_INSTRUCTION,
  MESSAGE_INSTRUCTION,
  parseAnswerLine,
} from "../../src/debate/index.js";
import { debatePrompt } from "../../src/debate/prompts.js";
import { parseSelfUtility } from "../../src/debate/utility.js";
import type { ChargeInput } from "../../src/ledger/types.js";
import { LocalModelCallRecorder, type ObservedCall } from "../helpers/llamacpp-calls.js";

const folder = mkdtempSync(join(tmpdir(), "gavel-debate-llamacpp-"));
const modelPath = join(folder, "tiny-llama.gguf");
/** Context of each sequence: round 2 prompts quote round 1's gibberish. */
const CONTEXT = 2048;
const INTENT_MAX_TOKENS = 8;
const MESSAGE_MAX_TOKENS = 16;
const AGENT_NAMES = ["ada", "bo", "cy"] as const;
const QUESTION = "What is 6 times 7?";

let info: TinyLlamaGgufInfo;
let runtime: LlamaCppRuntime;

/** A ledger that keeps the auctions and budget events in memory (the debate writes only these two). */
function recordingLedger() {
  const charges: ChargeInput[] = [];
  const auctions: unknown[] = [];
  const ledger = {
    recordAuction: async (input: { id: string }) => {
      auctions.push(input);
      return input.id;
    },
    recordCharges: async (inputs: readonly ChargeInput[]) => {
      charges.push(...inputs);
      return inputs.map((_, index) => String(index));
    },
  } as unknown as NonNullable<AuctionDebateOptions["ledger"]>;
  return { ledger, charges, auctions };
}

/** Three agents on the shared runtime: greedy (reproducible), different names so different texts. */
function localAgents() {
  return AGENT_NAMES.map((name) => ({
    name,
    model: new LlamaCppChatModel({ runtime, maxTokens: MESSAGE_MAX_TOKENS }),
  }));
}

/** Runs a debate with the recorder and the ledger attached. */
async function runDebate(options: Omit<AuctionDebateOptions, "agents" | "ledger">) {
  const recorder = new LocalModelCallRecorder("gavel_purpose");
  const { ledger, charges } = recordingLedger();
  const debate = createAuctionDebate({
    agents: localAgents(),
    intentMaxTokens: INTENT_MAX_TOKENS,
    messageMaxTokens: MESSAGE_MAX_TOKENS,
    ledger,
    ...options,
  });
  const result = await debate.invoke({ question: QUESTION }, { callbacks: [recorder] });
  await awaitAllCallbacks();
  return { result, calls: recorder, charges };
}

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

/**
 * What holds in every run: per-agent usage equals the reported usage, each call's cap was the
 * configured one, each reservation was the exact prompt + cap and the settlement fit in it, and
 * the spend is the sum of the calls and within the budget.
 */
function expectHonestAccounting(
  result: AuctionDebateStateType,
  recorder: LocalModelCallRecorder,
  charges: ChargeInput[],
  budget: number,
) {
  for (const call of recorder.calls) {
    const cap = call.kind === "intent" ? INTENT_MAX_TOKENS : MESSAGE_MAX_TOKENS;
    expect(call.maxTokens).toBe(cap);
    expect(call.usage.output_tokens).toBeGreaterThan(0);
    expect(call.usage.output_tokens).toBeLessThanOrEqual(cap);
    expect(call.usage.total_tokens).toBe(call.usage.input_tokens + call.usage.output_tokens);
  }
  for (const agent of AGENT_NAMES) {
    const calls = recorder.byAgent(agent);
    const usage = result.usage[agent];
    expect(usage?.promptTokens).toBe(sum(calls.map((call) => call.usage.input_tokens)));
    expect(usage?.completionTokens).toBe(sum(calls.map((call) => call.usage.output_tokens)));
    expect(usage?.calls).toBe(calls.length);
    expect(usage?.intentCalls).toBe(recorder.of("intent", agent).length);
    expect(usage?.messageCalls).toBe(calls.length - recorder.of("intent", agent).length);
    expect(usage?.estimatedCalls).toBe(0);
  }

  // Every reservation: the exact prompt (the model's tokenizer) + the cap; the settlement fits in it.
  // (Each round has its own budget, so a reservation id is paired with the latest reserve of that id.)
  const reserves = charges.filter((charge) => charge.kind === "reserve");
  const settles = charges.filter((charge) => charge.kind === "settle");
  expect(settles).toHaveLength(recorder.calls.length);
  expect(reserves).toHaveLength(settles.length);
  for (const settle of settles) {
    const before = charges.slice(0, charges.indexOf(settle));
    const reserve = before.findLast(
      (charge) => charge.kind === "reserve" && charge.reservationId === settle.reservationId,
    ) as ChargeInput;
    expect(settle.estimated).toBe(false);
    expect(settle.metadata?.overrun).toBeUndefined();
    expect(settle.inputTokens).toBe(reserve.inputTokens);
    expect(settle.outputTokens).toBeLessThanOrEqual(reserve.outputTokens);
  }
  expect(sum(settles.map((charge) => charge.inputTokens))).toBe(
    sum(recorder.calls.map((call) => call.usage.input_tokens)),
  );

  const spent = sum(recorder.calls.map((call) => call.usage.total_tokens));
  expect(result.spentTokens).toBe(spent);
  expect(sum(result.rounds.map((round) => round.tokens))).toBe(spent);
  expect(result.spentTokens).toBeLessThanOrEqual(budget);
  expect(result.remainingTokens).toBe(budget - spent);
}

/** Exact prompt tokens of one agent's round-0 call, as the model counts them. */
async function roundZeroPromptTokens(agent: string, purpose: "intent" | "message"): Promise<number> {
  const model = new LlamaCppChatModel({ runtime, maxTokens: MESSAGE_MAX_TOKENS });
  const prompt = debatePrompt({
    agent,
    role: undefined,
    question: QUESTION,
    transcript: [],
    purpose,
    utility: "logprob",
  });
  return model.countPromptTokens(prompt);
}

beforeAll(async () => {
  info = await writeTinyLlamaGguf({ path: modelPath, seed: 7, contextLength: CONTEXT });
  // threads: 1 keeps a tiny model fast on a busy 2-core machine; 3 sequences for the 3 agents.
  runtime = createLlamaCppRuntime({ modelPath, gpu: false, threads: 1, concurrency: 3, contextSize: CONTEXT });
  await runtime.load();
});

afterAll(async () => {
  await runtime?.dispose();
  rmSync(folder, { recursive: true, force: true });
});

describe("auction debate over three local node-llama-cpp agents", () => {
  it("intent mode: everyone bids with an intent, only the winner writes; self-utility falls back", async () => {
    const budget = 20_000;
    const { result, calls, charges } = await runDebate({
      mode: "intent",
      mechanism: "second_price",
      utility: "self",
      topK: 1,
      maxRounds: 2,
      budget,
    });

    expectHonestAccounting(result, calls, charges, budget);
    expect(result.rounds).toHaveLength(2);

    // Gibberish states no utility: every bid is the documented fallback, utility 0 (`self_unparsed`).
    for (const round of result.rounds) {
      expect(round.bids.map((bid) => bid.agent).sort()).toEqual([...AGENT_NAMES]);
      for (const bid of round.bids) {
        expect(parseSelfUtility(bid.text ?? "")).toBeUndefined();
        expect(bid).toMatchObject({ utility: 0, amount: 0, utilitySource: "self_unparsed" });
      }
      // All-zero bids still clear: one winner by the seeded tie rule, who speaks.
      expect(round.outcome?.winners).toHaveLength(1);
      expect(round.speakers).toEqual(round.outcome?.winners);
      expect(round.drops).toEqual([]);
    }

    // Calls per agent and kind: one intent per round each; a message only for the round's winner.
    const intents = calls.calls.filter((call) => call.kind === "intent");
    const messages = calls.calls.filter((call) => call.kind === "message");
    expect(calls.calls.filter((call) => call.kind === "draft")).toEqual([]);
    expect(intents).toHaveLength(AGENT_NAMES.length * 2);
    expect(messages.map((call) => call.agent)).toEqual(result.rounds.flatMap((round) => round.speakers));
    for (const agent of AGENT_NAMES) {
      const won = result.rounds.filter((round) => round.speakers.includes(agent)).length;
      expect(calls.of("intent", agent)).toHaveLength(2);
      expect(calls.of("message", agent)).toHaveLength(won);
      expect(result.usage[agent]).toMatchObject({ intentCalls: 2, messageCalls: won });
    }
    for (const call of intents) expect(call.prompt).toContain(INTENT_INSTRUCTION);
    for (const call of messages) expect(call.prompt).toContain(MESSAGE_INSTRUCTION);

    // Winners' messages are broadcast as written; round 2's prompts quote them, never a loser's intent.
    expect(result.transcript.map((entry) => entry.content)).toEqual(messages.map((call) => call.text));
    const [firstMessage] = messages;
    const lostIntents = intents
      .slice(0, AGENT_NAMES.length)
      .filter((call) => !result.rounds[0]?.speakers.includes(call.agent) && call.text.trim().length >= 4);
    expect(lostIntents.length).toBeGreaterThan(0);
    for (const call of calls.calls.slice(AGENT_NAMES.length + 1)) {
      expect(call.prompt).toContain(firstMessage?.text);
      for (const lost of lostIntents) expect(call.prompt).not.toContain(lost.text);
    }

    // No answer parses: nothing to vote on, no convergence, the debate ends on max_rounds.
    for (const call of calls.calls) expect(parseAnswerLine(call.text)).toBeUndefined();
    expect(result.answers).toEqual({});
    expect(result.stopReason).toBe("max_rounds");
    expect(result.finalAnswer).toBeUndefined();
    expect(result.votes).toEqual({});
  });

  it("full_draft mode: every agent drafts each round, bids 1 − H from the exact token entropies", async () => {
    const budget = 20_000;
    const { result, calls, charges } = await runDebate({
      mode: "full_draft",
      mechanism: "first_price",
      utility: "entropy",
      topK: 1,
      maxRounds: 2,
      budget,
    });

    expectHonestAccounting(result, calls, charges, budget);
    expect(result.rounds).toHaveLength(2);
    expect(calls.calls.every((call) => call.kind === "draft")).toBe(true);
    for (const agent of AGENT_NAMES) {
      expect(calls.of("draft", agent)).toHaveLength(2);
      expect(result.usage[agent]).toMatchObject({ intentCalls: 0, messageCalls: 2, calls: 2 });
    }

    result.rounds.forEach((round, index) => {
      const drafts = calls.calls.slice(index * AGENT_NAMES.length, (index + 1) * AGENT_NAMES.length);
      for (const bid of round.bids) {
        const draft = drafts.find((call) => call.agent === bid.agent) as ObservedCall;
        const entropies = draft.metadata.tokenEntropies ?? [];
        expect(entropies).toHaveLength(draft.usage.output_tokens);
        expect(draft.metadata.vocabularySize).toBe(info.vocabularySize);
        const normalised = sum(entropies) / entropies.length / Math.log(info.vocabularySize);
        expect(bid.utilitySource).toBe("entropy");
        expect(bid.utility).toBeCloseTo(1 - normalised, 12);
        expect(bid.amount).toBeCloseTo(bid.value, 12);
        expect(bid.text).toBe(draft.text);
      }
      // first_price: the highest 1 − H wins and its draft, already written, is what is broadcast.
      const best = [...round.bids].sort((left, right) => right.amount - left.amount)[0];
      expect(round.speakers).toEqual([best?.agent]);
      expect(result.transcript[index]?.content).toBe(best?.text);
    });
    expect(result.stopReason).toBe("max_rounds");
  });

  it("full mode: every agent writes and is broadcast each round, no auction", async () => {
    const budget = 20_000;
    const { result, calls, charges } = await runDebate({ mode: "full", maxRounds: 2, budget });

    expectHonestAccounting(result, calls, charges, budget);
    expect(calls.calls).toHaveLength(AGENT_NAMES.length * 2);
    expect(calls.calls.every((call) => call.kind === "message")).toBe(true);
    for (const round of result.rounds) {
      expect(round.bids).toEqual([]);
      expect(round.outcome).toBeUndefined();
      expect(round.speakers).toEqual([...AGENT_NAMES]);
    }
    // Broadcast in agent order, each message as its agent wrote it that round.
    expect(result.transcript.map((entry) => [entry.round, entry.agent])).toEqual(
      [0, 1].flatMap((round) => AGENT_NAMES.map((agent) => [round, agent])),
    );
    for (const entry of result.transcript) expect(entry.content).toBe(calls.byAgent(entry.agent)[entry.round]?.text);
    // Round 2 prompts quote every round 1 message.
    for (const call of calls.calls.slice(AGENT_NAMES.length)) {
      for (const spoken of calls.calls.slice(0, AGENT_NAMES.length)) expect(call.prompt).toContain(spoken.text);
    }
    expect(result.stopReason).toBe("max_rounds");
  });

  it("a tight budget, exact to the token: one round fits, the next does not", async () => {
    // Round 1's pre-flight in intent mode: every intent reservation + the cheapest message's.
    const intentReservations = await Promise.all(
      AGENT_NAMES.map(async (agent) => (await roundZeroPromptTokens(agent, "intent")) + INTENT_MAX_TOKENS),
    );
    const messageReservations = await Promise.all(
      AGENT_NAMES.map(async (agent) => (await roundZeroPromptTokens(agent, "message")) + MESSAGE_MAX_TOKENS),
    );
    const preflight = sum(intentReservations) + Math.min(...messageReservations);
    const options = { mode: "intent", utility: "logprob", topK: 1, maxRounds: 4 } as const;

    // One token short of the pre-flight: no intent is written; agents bid without one (prior bids)
    // and one winner writes its message, which fits.
    const short = await runDebate({ ...options, budget: preflight - 1 });
    const shortSpent = sum(short.calls.calls.map((call) => call.usage.total_tokens));
    expect(short.result.spentTokens).toBe(shortSpent);
    expect(shortSpent).toBeLessThanOrEqual(preflight - 1);
    expect(short.result.rounds[0]?.gating).toBe("prior_bids");
    expect(short.calls.calls.filter((call) => call.kind === "intent")).toEqual([]);
    expect(short.calls.calls.filter((call) => call.kind === "message").length).toBeGreaterThan(0);

    // One token short of the cheapest message: the debate stops before any call, the budget as its reason.
    const none = await runDebate({ ...options, budget: Math.min(...messageReservations) - 1 });
    expect(none.calls.calls).toEqual([]);
    expect(none.result).toMatchObject({ stopReason: "budget", spentTokens: 0, rounds: [] });
    expect(none.result.finalAnswer).toBeUndefined();

    // Room for every intent and any winner's message: round 1 runs in full; what is left cannot
    // pay for round 2, whose prompts quote round 1.
    const oneRound = sum(intentReservations) + Math.max(...messageReservations);
    const exact = await runDebate({ ...options, budget: oneRound });
    expectHonestAccounting(exact.result, exact.calls, exact.charges, oneRound);
    expect(exact.result.rounds).toHaveLength(1);
    expect(exact.result.stopReason).toBe("budget");
    expect(exact.calls.calls.filter((call) => call.kind === "intent")).toHaveLength(AGENT_NAMES.length);
    expect(exact.calls.calls.filter((call) => call.kind === "message")).toHaveLength(1);
    // logprob utility: the mean token probability of the intent, from the real log-probabilities.
    for (const bid of exact.result.rounds[0]?.bids ?? []) {
      const intent = exact.calls.of("intent", bid.agent)[0] as ObservedCall;
      const logprobs = (intent.metadata.logprobs?.content ?? []).map((entry) => entry.logprob);
      expect(logprobs).toHaveLength(intent.usage.output_tokens);
      expect(bid.utilitySource).toBe("logprob");
      expect(bid.utility).toBeCloseTo(Math.exp(sum(logprobs) / logprobs.length), 12);
    }
  });
});
