import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import { Annotation, END, START, StateGraph } from "@langchain/langgraph";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createMemoryBudgetStore, createTokenBudget } from "../../src/budget/index.js";
import {
  type AuctionDebateOptions,
  aggregateAnswers,
  createAuctionDebate,
  hasConverged,
  heuristicUtility,
  MESSAGE_INSTRUCTION,
  parseAnswerLine,
} from "../../src/debate/index.js";
import { parseSelfUtility } from "../../src/debate/utility.js";
import { ConfigError } from "../../src/errors.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";
import { GOLD, isIntentCall, scriptedAgents, usageCounter } from "./scripted-agents.js";

function messageCalls(recorder: { calls: Array<{ messages: BaseMessage[] }> }): number {
  return recorder.calls.filter((call) => call.messages.some((message) => message.text.includes(MESSAGE_INSTRUCTION)))
    .length;
}

async function runDebate(
  options: Omit<AuctionDebateOptions, "agents">,
  failing?: Parameters<typeof scriptedAgents>[0],
) {
  const { agents, recorders } = scriptedAgents(failing);
  const counter = usageCounter();
  const debate = createAuctionDebate({ agents, ...options });
  const result = await debate.invoke({ question: "What is 6 times 7?" }, { callbacks: [counter.handler] });
  return { result, recorders, counter };
}

describe("createAuctionDebate with scripted agents of different skills", () => {
  it("reaches the scripted consensus with fewer real tokens than full communication", async () => {
    const gated = await runDebate({ mode: "intent", budget: 4000, maxRounds: 4 });
    const full = await runDebate({ mode: "full", budget: 4000, maxRounds: 4 });
    expect(gated.result.finalAnswer).toBe(GOLD);
    expect(full.result.finalAnswer).toBe(GOLD);
    expect(gated.result.stopReason).toBe("converged");
    // Real tokens, as the provider reported them in usage_metadata, agree with the state's accounting.
    expect(gated.result.spentTokens).toBe(gated.counter.tokens);
    expect(full.result.spentTokens).toBe(full.counter.tokens);
    expect(gated.counter.tokens).toBeLessThan(full.counter.tokens * 0.8);
  });

  it("DALA's full-draft mode pays for every draft; intent mode does not", async () => {
    const gated = await runDebate({ mode: "intent", budget: 4000 });
    const drafts = await runDebate({ mode: "full_draft", budget: 4000 });
    expect(drafts.result.finalAnswer).toBe(GOLD);
    expect(messageCalls(drafts.recorders.guesser)).toBeGreaterThan(0);
    expect(gated.counter.tokens).toBeLessThan(drafts.counter.tokens);
    // Losers' drafts are private, not broadcast.
    for (const round of drafts.result.rounds) {
      expect(round.speakers).toEqual(round.outcome?.winners);
    }
    const last = drafts.result.rounds.at(-1);
    const losers = (last?.bids ?? []).map((bid) => bid.agent).filter((agent) => !last?.speakers.includes(agent));
    expect(losers.length).toBeGreaterThan(0);
    for (const agent of losers) expect(drafts.result.drafts[agent]).toContain("Answer:");
    expect(drafts.result.transcript.length).toBe(drafts.result.rounds.length); // topK 1: one broadcast per round
  });

  it("never generates a loser's full message in intent mode", async () => {
    const { result, recorders } = await runDebate({ mode: "intent", budget: 4000, topK: 1 });
    const wins = (agent: string) => result.rounds.filter((round) => round.speakers.includes(agent)).length;
    expect(result.rounds.length).toBeGreaterThanOrEqual(2);
    for (const [agent, recorder] of Object.entries(recorders)) {
      expect(messageCalls(recorder)).toBe(wins(agent));
      expect(recorder.calls.filter(isIntentCall).length).toBe(result.rounds.length);
    }
    expect(messageCalls(recorders.guesser)).toBe(0);
    expect(messageCalls(recorders.drifter)).toBe(0);
    for (const round of result.rounds) {
      expect(round.bids.map((bid) => bid.agent).sort()).toEqual(["drifter", "guesser", "solver"]);
      expect(round.outcome?.winners).toEqual(["solver"]);
      expect(round.prices.solver).toBeGreaterThan(0); // second price: the runner-up's bid
    }
  });

  it("records per-agent usage, bids, winners and clearing prices in the state", async () => {
    const { result, counter } = await runDebate({ mode: "intent", budget: 4000, mechanism: "first_price" });
    const usage = Object.values(result.usage);
    expect(usage.reduce((sum, agent) => sum + agent.promptTokens + agent.completionTokens, 0)).toBe(counter.tokens);
    expect(result.usage.solver?.messageCalls).toBe(result.rounds.length);
    expect(result.usage.guesser?.messageCalls).toBe(0);
    const first = result.rounds[0];
    expect(first?.bids.find((bid) => bid.agent === "solver")?.utilitySource).toBe("heuristic");
    expect(first?.prices.solver).toBe(first?.bids.find((bid) => bid.agent === "solver")?.amount);
    expect(result.remainingTokens).toBe(4000 - result.spentTokens);
  });

  it("never exceeds the budget, whatever the budget, seed, mechanism or mode", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom("first_price", "second_price", "softmax", "budgeted_vcg" as const),
        fc.constantFrom("intent", "full_draft", "full" as const),
        fc.integer({ min: 1, max: 3 }),
        async (budget, seed, mechanism, mode, topK) => {
          const { result, counter } = await runDebate({
            mode,
            mechanism,
            seed,
            topK,
            budget: Math.max(1, budget),
            maxRounds: 5,
          });
          expect(counter.tokens).toBeLessThanOrEqual(Math.max(1, budget));
          expect(result.spentTokens).toBe(counter.tokens);
          if (result.rounds.length === 0) expect(result.stopReason).toBe("budget");
        },
      ),
      { numRuns: 40, seed: 7 },
    );
  });

  it("stops with reason budget when the budget cannot pay for another round", async () => {
    const options = { mode: "intent", budget: 700, maxRounds: 5, aggregation: "weighted" } as const;
    const { result, counter } = await runDebate({ ...options, aggressiveness: { solver: 2 } });
    expect(result.stopReason).toBe("budget");
    // Round 2 cannot pay for every intent: a prior-bid auction lets one noisy agent speak (the solver,
    // who has heard nothing since its message, does not bid); it reads the solver and agrees. Then nothing fits.
    expect(result.rounds.map((round) => round.gating)).toEqual(["intents", "prior_bids"]);
    expect(result.rounds[1]?.bids.map((bid) => bid.agent).sort()).toEqual(["drifter", "guesser"]);
    expect(result.rounds[1]?.speakers).toHaveLength(1);
    expect(counter.tokens).toBeLessThanOrEqual(700);
    // The solver's 42 weighs α = 2, the converted agent's 42 one more, the other noisy guess 1.
    const unconverted = result.rounds[1]?.speakers[0] === "guesser" ? "48" : "41";
    // Unknown reliabilities weigh DEFAULT_RELIABILITY (0.5): α × 0.5 per vote.
    expect(result.votes).toEqual({ "42": 1.5, [unconverted]: 0.5 });
    expect(result.finalAnswer).toBe(GOLD);
    const tied = await runDebate({ ...options, aggregation: "majority" });
    expect(["41", "42", "48"]).toContain(tied.result.finalAnswer);
  });

  it("drops an agent that throws mid-round, releases its reservation and stays in budget", async () => {
    const failing = (call: { messages: BaseMessage[] }) =>
      call.messages.some((message) => message.text.includes("[round 1]"));
    const { result, counter } = await runDebate({ mode: "intent", budget: 3000, maxRounds: 3 }, { failing });
    const second = result.rounds[1];
    expect(second?.drops).toEqual([
      expect.objectContaining({
        agent: "drifter",
        stage: "intent",
        reason: "error",
        detail: expect.stringContaining("outage"),
      }),
    ]);
    expect(second?.bids.map((bid) => bid.agent).sort()).toEqual(["guesser", "solver"]);
    expect(result.finalAnswer).toBe(GOLD);
    expect(result.spentTokens).toBe(counter.tokens);
    expect(counter.tokens).toBeLessThanOrEqual(3000);
  });

  it("works as a subgraph of a parent StateGraph", async () => {
    const { agents } = scriptedAgents();
    const debate = createAuctionDebate({ agents, budget: 4000 });
    const Parent = Annotation.Root({
      task: Annotation<string>,
      question: Annotation<string>,
      finalAnswer: Annotation<string | undefined>,
      spentTokens: Annotation<number>,
      report: Annotation<string>,
    });
    const parent = new StateGraph(Parent)
      .addNode("prepare", (state: typeof Parent.State) => ({ question: `Compute: ${state.task}` }))
      .addNode("debate", debate)
      .addNode("write_report", (state: typeof Parent.State) => ({
        report: `${state.finalAnswer} for ${state.spentTokens} tokens`,
      }))
      .addEdge(START, "prepare")
      .addEdge("prepare", "debate")
      .addEdge("debate", "write_report")
      .addEdge("write_report", END)
      .compile();
    const result = await parent.invoke({ task: "6 times 7" });
    expect(result.finalAnswer).toBe(GOLD);
    expect(result.report).toMatch(/^42 for \d+ tokens$/);
    expect(result.spentTokens).toBeGreaterThan(0);
  });

  it("self utility: parses the agent's own estimate strictly, unparsed lines bid 0", async () => {
    const model = (utilityLine: string) =>
      new ScriptedChatModel({
        model: "gpt-4o-mini",
        replies: (call) =>
          isIntentCall(call) ? { content: `I know it.\nAnswer: 42\n${utilityLine}` } : { content: "Answer: 42" },
      });
    const debate = createAuctionDebate({
      agents: [
        { name: "sure", model: model("Utility: 0.9") },
        { name: "vague", model: model("Utility: very high") },
      ],
      utility: "self",
      aggressiveness: { sure: 2 },
      budget: 2000,
    });
    const result = await debate.invoke({ question: "6 × 7?" });
    const bids = result.rounds[0]?.bids ?? [];
    expect(bids.find((bid) => bid.agent === "sure")).toMatchObject({
      utility: 0.9,
      amount: 1.8,
      utilitySource: "self",
    });
    expect(bids.find((bid) => bid.agent === "vague")).toMatchObject({ utility: 0, utilitySource: "self_unparsed" });
    expect(result.rounds[0]?.speakers).toEqual(["sure"]);
  });

  it("logprob utility falls back to the heuristic, and says so, when the provider gives no log-probabilities", async () => {
    const { result } = await runDebate({ utility: "logprob", budget: 4000 });
    expect(result.rounds[0]?.bids.every((bid) => bid.utilitySource === "fallback_heuristic")).toBe(true);
    expect(result.finalAnswer).toBe(GOLD);
  });

  it("logprob utility reads response_metadata.logprobs when the provider gives them", async () => {
    const withLogprobs = (logprob: number) =>
      new ScriptedChatModel({
        model: "gpt-4o-mini",
        replies: () =>
          new AIMessage({
            content: "Answer: 7",
            response_metadata: { logprobs: { content: [{ token: "7", logprob, top_logprobs: [] }] } },
          }),
      });
    const debate = createAuctionDebate({
      agents: [
        { name: "likely", model: withLogprobs(-0.1) },
        { name: "unlikely", model: withLogprobs(-2) },
      ],
      utility: "logprob",
      budget: 2000,
    });
    const result = await debate.invoke({ question: "?" });
    const likely = result.rounds[0]?.bids.find((bid) => bid.agent === "likely");
    expect(likely?.utilitySource).toBe("logprob");
    expect(likely?.utility).toBeCloseTo(Math.exp(-0.1), 10);
    expect(result.rounds[0]?.speakers).toEqual(["likely"]);
  });

  it("rejects bad options naming the field", () => {
    const { agents } = scriptedAgents();
    expect(() => createAuctionDebate({ agents, budgt: 10 } as never)).toThrow(ConfigError);
    expect(() => createAuctionDebate({ agents, aggressiveness: { nobody: 1 } })).toThrow(/aggressiveness\.nobody/);
    expect(() => createAuctionDebate({ agents: [...agents, ...agents] })).toThrow(/unique/);
  });
});

describe("pure helpers", () => {
  it("parses answers and self utilities strictly", () => {
    expect(parseAnswerLine("reasoning\nAnswer: 42.")).toBe("42");
    expect(parseAnswerLine("no answer")).toBeUndefined();
    expect(parseSelfUtility("Answer: 1\nUtility: 0.75")).toBe(0.75);
    expect(parseSelfUtility("Utility: 1.5")).toBeUndefined();
    expect(parseSelfUtility("Utility: 0.5 or so")).toBeUndefined();
  });

  it("heuristic utility rewards novelty and confidence, penalises hedges", () => {
    expect(heuristicUtility("Clearly 42, verified.", "")).toBe(1);
    expect(heuristicUtility("Maybe 41, not sure.", "")).toBeLessThan(heuristicUtility("Clearly 41.", ""));
    expect(heuristicUtility("Clearly 42", "clearly 42")).toBeLessThan(heuristicUtility("Clearly 42", ""));
  });

  it("aggregates by majority or weight, and breaks ties by the seeded rule", () => {
    expect(aggregateAnswers({ a: "1", b: "1", c: "2" }, "majority", {}, 0).answer).toBe("1");
    expect(aggregateAnswers({ a: "1", b: "1", c: "2" }, "weighted", { c: 3 }, 0).answer).toBe("2");
    const tie = (seed: number) => aggregateAnswers({ a: "x", b: "y" }, "majority", {}, seed).answer;
    const reversed = (seed: number) => aggregateAnswers({ b: "y", a: "x" }, "majority", {}, seed).answer;
    for (let seed = 0; seed < 20; seed++) expect(tie(seed)).toBe(reversed(seed));
    expect(new Set(Array.from({ length: 20 }, (_, seed) => tie(seed))).size).toBe(2);
    expect(hasConverged({ a: "1", b: "1" }, ["a", "b"])).toBe(true);
    expect(hasConverged({ a: "1" }, ["a", "b"])).toBe(false);
  });
});

describe("createAuctionDebate with a budget shared with the app (sharedBudget)", () => {
  it("charges every call to the shared accounts too, and holds nothing after", async () => {
    const store = createMemoryBudgetStore();
    const sharedBudget = createTokenBudget({ limits: { global: { maxTokens: 100_000 }, run: {} }, store });
    const { result, counter } = await runDebate({
      mode: "intent",
      budget: 4000,
      sharedBudget,
      sharedBudgetScopes: { run: "debate-run-1" },
    });
    expect(result.spentTokens).toBe(counter.tokens);
    const accounts = await sharedBudget.snapshot();
    expect(accounts).toEqual([
      expect.objectContaining({ scope: "global", spentTokens: counter.tokens, reservedTokens: 0 }),
      expect.objectContaining({
        scope: "run",
        scopeId: "debate-run-1",
        spentTokens: counter.tokens,
        reservedTokens: 0,
      }),
    ]);
  });

  it("drops the calls the shared budget refuses, with the reason, and spends nothing on them", async () => {
    const sharedBudget = createTokenBudget({ limits: { global: { maxTokens: 10 } }, store: createMemoryBudgetStore() });
    const { result, counter } = await runDebate({ mode: "intent", budget: 4000, sharedBudget });
    expect(counter.tokens).toBe(0);
    const drops = result.rounds.flatMap((round) => round.drops);
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.every((drop) => drop.reason === "budget")).toBe(true);
    expect(await sharedBudget.remaining()).toEqual({ tokens: 10 });
  });
});
