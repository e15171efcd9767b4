/**
 * The live debate under a tight budget: when the budget cannot pay for a full round, the speaker
 * auction of `gating.ts` (bids from what each agent knows before speaking: reliability, its
 * previous answer and the others' agreement) decides who speaks; the debate stops with "budget"
 * only when not even one agent's message fits. Before, a round that could not pay for every
 * intent (or every message) stopped the debate with no answer at all.
 */
import { describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { reservationSize } from "../../src/debate/calls.js";
import {
  type AuctionDebateOptions,
  createAuctionDebate,
  DEFAULT_INTENT_MAX_TOKENS,
  DEFAULT_MESSAGE_MAX_TOKENS,
  type DebateAgent,
  type DebateMode,
  type TranscriptEntry,
} from "../../src/debate/index.js";
import { type DebateCallPurpose, debatePrompt } from "../../src/debate/prompts.js";
import { ScriptedChatModel } from "../helpers/scriptedChatModel.js";
import { GOLD, scriptedAgents, usageCounter } from "./scripted-agents.js";

const QUESTION = "What is 6 times 7?";

/** The reservation of one call of `agent` (prompt + output cap), as the round computes it. */
function reservation(
  agent: Pick<DebateAgent, "name" | "role" | "model">,
  purpose: DebateCallPurpose,
  transcript: readonly TranscriptEntry[] = [],
): Promise<number> {
  const prompt = debatePrompt({
    agent: agent.name,
    role: agent.role,
    question: QUESTION,
    transcript,
    purpose,
    utility: "heuristic",
  });
  const cap = purpose === "intent" ? DEFAULT_INTENT_MAX_TOKENS : DEFAULT_MESSAGE_MAX_TOKENS;
  return reservationSize(agent as DebateAgent, prompt, cap);
}

const sum = (values: readonly number[]) => values.reduce((total, value) => total + value, 0);

/** The scripted agents of different skills, with reliabilities (the solver last, so order does not pick it). */
function reliableAgents(reliability: Record<string, number>, roles: Record<string, string> = {}) {
  const { agents, recorders } = scriptedAgents();
  const byName = new Map(agents.map((agent) => [agent.name, agent]));
  const ordered = ["guesser", "drifter", "solver"].map((name) => {
    const agent = byName.get(name) as (typeof agents)[number];
    return { ...agent, role: roles[name] ?? agent.role, reliability: reliability[name] as number };
  });
  return { agents: ordered, recorders };
}

async function debateOnce(agents: AuctionDebateOptions["agents"], options: Omit<AuctionDebateOptions, "agents">) {
  const counter = usageCounter();
  const debate = createAuctionDebate({ agents, ...options });
  const result = await debate.invoke({ question: QUESTION }, { callbacks: [counter.handler] });
  return { result, counter };
}

const RELIABILITY = { solver: 0.9, guesser: 0.6, drifter: 0.3 };

describe("the live debate under a tight budget", () => {
  it("answers when the budget fits one agent's message but not every intent (it stopped with no answer before)", async () => {
    const { agents, recorders } = reliableAgents(RELIABILITY);
    const messages = await Promise.all(agents.map((agent) => reservation(agent, "message")));
    const intents = await Promise.all(agents.map((agent) => reservation(agent, "intent")));
    const budget = Math.max(...messages);
    // The old pre-flight stopped here: every intent + the cheapest message does not fit.
    expect(sum(intents) + Math.min(...messages)).toBeGreaterThan(budget);

    const { result, counter } = await debateOnce(agents, { mode: "intent", budget, maxRounds: 3 });
    expect(result.finalAnswer).toBe(GOLD);
    expect(result.spentTokens).toBe(counter.tokens);
    expect(counter.tokens).toBeLessThanOrEqual(budget);
    const first = result.rounds[0];
    expect(first?.gating).toBe("prior_bids");
    expect(first?.speakers).toEqual(["solver"]); // the most reliable agent, last in the list
    expect(first?.bids.map((bid) => [bid.agent, bid.source, bid.amount])).toEqual([
      ["guesser", "reliability", 0.6],
      ["drifter", "reliability", 0.3],
      ["solver", "reliability", 0.9],
    ]);
    // No intent was written: only the speaker was called.
    expect(recorders.solver.calls.length).toBe(1);
    expect(recorders.guesser.calls.length + recorders.drifter.calls.length).toBe(0);
    // Nothing else fits afterwards: the next round's auction finds no speaker and the debate stops.
    expect(result.stopReason).toBe("budget");
  });

  it("lets a cheaper agent speak when the most reliable agent's message does not fit", async () => {
    const longRole = `meticulous ${"step-by-step arithmetic ".repeat(12)}specialist`;
    const { agents } = reliableAgents(RELIABILITY, { solver: longRole });
    const [guesser, drifter, solver] = await Promise.all(agents.map((agent) => reservation(agent, "message")));
    const budget = Math.max(guesser as number, drifter as number);
    expect(solver).toBeGreaterThan(budget);

    const { result, counter } = await debateOnce(agents, { mode: "intent", budget, maxRounds: 3 });
    expect(counter.tokens).toBeLessThanOrEqual(budget);
    const first = result.rounds[0];
    expect(first?.gating).toBe("prior_bids");
    expect(first?.speakers).toEqual(["guesser"]); // the most reliable of those that fit
    expect(result.finalAnswer).toBe("41");
  });

  it.each(["intent", "full_draft", "full"] satisfies DebateMode[])(
    "%s: a budget too small for any message makes no call and gives no answer",
    async (mode) => {
      const { agents, recorders } = reliableAgents(RELIABILITY);
      const messages = await Promise.all(agents.map((agent) => reservation(agent, "message")));
      const { result, counter } = await debateOnce(agents, { mode, budget: Math.min(...messages) - 1 });
      expect(result.stopReason).toBe("budget");
      expect(result.finalAnswer).toBeUndefined();
      expect(result.rounds).toEqual([]);
      expect(counter.calls).toBe(0);
      for (const recorder of Object.values(recorders)) expect(recorder.calls).toEqual([]);
    },
  );

  it("stops with reserve (was: budget) when no prior bid meets the reserve price, recording the auction", async () => {
    const { agents, recorders } = reliableAgents(RELIABILITY);
    const budget = Math.max(...(await Promise.all(agents.map((agent) => reservation(agent, "message")))));
    const { result } = await debateOnce(agents, { mode: "intent", budget, reservePrice: 0.95 });
    expect(result.stopReason).toBe("reserve");
    expect(result.finalAnswer).toBeUndefined();
    expect(result.rounds).toHaveLength(1);
    expect(result.rounds[0]).toMatchObject({ gating: "prior_bids", speakers: [], tokens: 0 });
    expect(result.rounds[0]?.outcome?.winners).toEqual([]);
    for (const recorder of Object.values(recorders)) expect(recorder.calls).toEqual([]);
  });

  it("in a prior-bid round the agent that disagrees bids more than those that agree", async () => {
    const fixed = (answer: string) =>
      new ScriptedChatModel({ model: "gpt-4o-mini", replies: () => `Answer: ${answer}` });
    const agents = [
      { name: "ann", model: fixed("42") },
      { name: "bob", model: fixed("42") },
      { name: "cat", model: fixed("48") },
    ];
    const messages = await Promise.all(agents.map((agent) => reservation(agent, "message")));
    // Round 0 fits exactly: everyone speaks. Round 1 cannot pay for three messages again.
    const { result, counter } = await debateOnce(agents, { mode: "full", budget: sum(messages), maxRounds: 2 });
    expect(counter.tokens).toBeLessThanOrEqual(sum(messages));
    const [first, second] = result.rounds;
    expect(first?.gating).toBe("everyone");
    expect(first?.bids).toEqual([]);
    expect(second?.gating).toBe("prior_bids");
    const bid = (agent: string) => second?.bids.find((candidate) => candidate.agent === agent);
    // Default reliability 0.5: ann agrees with bob (half the others' weight), cat with nobody.
    expect(bid("ann")).toMatchObject({ source: "disagreement", amount: 0.25 });
    expect(bid("bob")).toMatchObject({ source: "disagreement", amount: 0.25 });
    expect(bid("cat")).toMatchObject({ source: "disagreement", amount: 0.5 });
    expect(second?.speakers[0]).toBe("cat");
    expect(second?.outcome?.winners[0]).toBe("cat");
  });

  it("an agent that has heard nothing since it spoke does not bid again; a dissenter that read it speaks", async () => {
    const { agents } = reliableAgents(RELIABILITY);
    const intents = await Promise.all(agents.map((agent) => reservation(agent, "intent")));
    const messages = await Promise.all(agents.map((agent) => reservation(agent, "message")));
    const budget = sum(intents) + 2 * Math.max(...messages);
    const { result, counter } = await debateOnce(agents, { mode: "intent", budget, maxRounds: 2 });
    expect(counter.tokens).toBeLessThanOrEqual(budget);
    const [first, second] = result.rounds;
    expect(first?.gating).toBe("intents");
    expect(first?.speakers).toEqual(["solver"]);
    expect(second?.gating).toBe("prior_bids");
    // The solver's message is the last word: speaking again would repeat it, so it does not bid.
    expect(second?.bids.map((bid) => [bid.agent, bid.source, bid.amount])).toEqual([
      ["guesser", "disagreement", 0.6],
      ["drifter", "disagreement", 0.3],
    ]);
    expect(second?.speakers).toEqual(["guesser"]);
    expect(second?.answers).toEqual({ guesser: GOLD }); // it read the solver's message
    expect(result.finalAnswer).toBe(GOLD);
  });

  it("never spends more than the budget, and answers whenever one message fits", async () => {
    const { agents } = reliableAgents(RELIABILITY);
    const cheapest = Math.min(...(await Promise.all(agents.map((agent) => reservation(agent, "message")))));
    const modes = ["intent", "full_draft", "full"] satisfies DebateMode[];
    const mechanisms = ["first_price", "second_price", "softmax", "budgeted_vcg"] as const;
    let answeredBelowFullRound = 0;
    for (let budget = 50; budget <= 2600; budget += 85) {
      for (const [index, mode] of modes.entries()) {
        const mechanism = mechanisms[(budget + index) % mechanisms.length] as (typeof mechanisms)[number];
        const topK = 1 + ((budget + index) % 3);
        const { agents: fresh } = reliableAgents(RELIABILITY);
        const { result, counter } = await debateOnce(fresh, { mode, mechanism, topK, budget, maxRounds: 4 });
        const label = `${mode} ${mechanism} top-${topK} budget ${budget}`;
        expect(counter.tokens, label).toBeLessThanOrEqual(budget);
        expect(result.spentTokens, label).toBe(counter.tokens);
        expect(result.finalAnswer !== undefined, label).toBe(budget >= cheapest);
        if (result.rounds[0]?.gating === "prior_bids" && result.finalAnswer !== undefined) answeredBelowFullRound++;
      }
    }
    expect(answeredBelowFullRound).toBeGreaterThan(0);
  });

  it("records the prior-bid auction in the ledger", async () => {
    const ledger = createSqliteLedger({ path: ":memory:" });
    const { agents } = reliableAgents(RELIABILITY);
    const budget = Math.max(...(await Promise.all(agents.map((agent) => reservation(agent, "message")))));
    const debate = createAuctionDebate({ agents, budget, ledger });
    const result = await debate.invoke({ question: QUESTION, exampleId: "tight-1" });
    const first = result.rounds[0];
    expect(first?.gating).toBe("prior_bids");
    const stored = await ledger.getAuction(first?.auctionId ?? "");
    expect(stored?.kind).toBe("debate");
    expect(stored?.scope).toEqual({ kind: "example", id: "tight-1" });
    expect(stored?.winners).toEqual(["solver"]);
    expect(stored?.bids.map((bid) => [bid.bidder, bid.value]).sort()).toEqual([
      ["drifter", 0.3],
      ["guesser", 0.6],
      ["solver", 0.9],
    ]);
    expect(stored?.metadata).toMatchObject({ gating: "prior_bids", speakers: ["solver"] });
    expect(stored?.charges.filter((charge) => charge.kind === "settle").map((charge) => charge.agent)).toEqual([
      "solver",
    ]);
    await ledger.close();
  });
});

describe("full_draft, stop reasons and who bids (review of issue 13)", () => {
  it("broadcasts the winner's draft when the drafts are long (a paid draft costs nothing to broadcast)", async () => {
    const messageMaxTokens = 40;
    const draft = `Answer: 42.${" step".repeat(32)}`;
    const long = () => new ScriptedChatModel({ model: "gpt-4o-mini", replies: () => draft });
    const agents = [
      { name: "ann", model: long() },
      { name: "bob", model: long() },
      { name: "cat", model: long() },
    ];
    const prompt = (agent: (typeof agents)[number]) =>
      debatePrompt({
        agent: agent.name,
        role: undefined,
        question: QUESTION,
        transcript: [],
        purpose: "message",
        utility: "heuristic",
      });
    const messages = await Promise.all(
      agents.map((agent) => reservationSize(agent as DebateAgent, prompt(agent), messageMaxTokens)),
    );
    // A full round + 10: after the drafts, fewer tokens are left than one draft is long. Before, the
    // drafts were priced at their length against that rest: nobody spoke and the debate stopped with "budget".
    const budget = sum(messages) + 10;
    const { result, counter } = await debateOnce(agents, {
      mode: "full_draft",
      budget,
      messageMaxTokens,
      maxRounds: 1,
    });
    expect(counter.tokens).toBeLessThanOrEqual(budget);
    const [first] = result.rounds;
    expect(first?.gating).toBe("intents");
    expect(first?.bids.map((bid) => bid.tokens)).toEqual([0, 0, 0]);
    expect(first?.speakers).toHaveLength(1);
    expect(result.transcript).toEqual([{ round: 0, agent: first?.speakers[0], content: draft }]);
    expect(result.stopReason).toBe("converged");
  });

  it("stops with no_bidders when every agent left has heard nothing new since it spoke", async () => {
    const agents = [
      { name: "solo", model: new ScriptedChatModel({ model: "gpt-4o-mini", replies: () => "I cannot tell." }) },
    ];
    const message = await reservation(agents[0] as DebateAgent, "message");
    // Round 0 fits (no parseable answer: no convergence); round 1 cannot pay for a whole round, and
    // the only agent has heard nothing since its own message.
    const { result } = await debateOnce(agents, { mode: "full", budget: message, maxRounds: 3 });
    expect(result.rounds).toHaveLength(1);
    expect(result.stopReason).toBe("no_bidders");
  });
});
