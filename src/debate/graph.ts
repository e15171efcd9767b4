/**
 * `createAuctionDebate`: the debate as a compiled LangGraph graph.
 *
 *   START → round ─┬─ (no stop reason) → round
 *                  └─ (stopped)        → finalize → END
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { END, START, StateGraph } from "@langchain/langgraph";
import { aggregateAnswers } from "./aggregation.js";
import { createModelCopies } from "./calls.js";
import { voteWeight } from "./gating.js";
import { type AuctionDebateOptions, parseDebateOptions } from "./options.js";
import { runRound } from "./round.js";
import { AuctionDebateState, type AuctionDebateStateType } from "./state.js";

/**
 * Builds an auction-gated debate: agents bid for the floor each round with a short intent, a
 * market mechanism picks the speakers, only they write their full message, and the loop stops
 * when the answers converge or after `maxRounds`. When the per-example token budget cannot pay
 * for a full round, the agents bid without intents (their reliability, previous answer and the
 * others' agreement: `selectSpeakers`, the replay's speaker auction) and the winners whose
 * messages fit speak; the debate stops with `"budget"` only when not even one message fits
 * (`"reserve"` when no bid meets the reserve price, `"no_bidders"` when every agent has heard
 * nothing new since it spoke). The final answer is a majority (or `weighted`: α × reliability,
 * `voteWeight`) vote.
 *
 * @param options see `AuctionDebateOptions`; only `agents` is required.
 * @returns a compiled LangGraph graph. Invoke it with `{ question }` (and optionally `budget`,
 *   `exampleId`); it is also usable as a node of a parent `StateGraph` that shares those keys.
 * @throws ConfigError naming each bad option.
 * @example
 * import { ChatOpenAI } from "@langchain/openai";
 * import { createAuctionDebate } from "langchain-gavel";
 *
 * const debate = createAuctionDebate({
 *   agents: [
 *     { name: "generalist", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *     { name: "math", role: "math", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *     { name: "critic", role: "skeptical reviewer", model: new ChatOpenAI({ model: "gpt-4o-mini" }) },
 *   ],
 *   mechanism: "second_price",
 *   budget: 1536,
 *   maxRounds: 3,
 * });
 * const result = await debate.invoke({ question: "What is 17 × 23?" });
 * result.finalAnswer; // "391"
 * result.spentTokens; // ≤ 1536
 * @example
 * // DALA's original (everyone drafts, losers are not broadcast) and the full-communication baseline:
 * const dala = createAuctionDebate({ agents, mode: "full_draft", budget: 1536 });
 * const everyone = createAuctionDebate({ agents, mode: "full", budget: 1536 });
 * @example
 * // A budget too small for every intent: the most reliable agent whose message fits answers alone.
 * const tight = createAuctionDebate({
 *   agents: [
 *     { name: "strong", model: strongModel, reliability: 0.9 },
 *     { name: "weak", model: weakModel, reliability: 0.6 },
 *   ],
 *   budget: 400,
 * });
 * const answer = await tight.invoke({ question: "What is 17 × 23?" });
 * answer.rounds[0]?.gating; // "prior_bids"
 * answer.rounds[0]?.speakers; // ["strong"]
 */
export function createAuctionDebate(options: AuctionDebateOptions) {
  const settings = parseDebateOptions(options);
  const modelFor = createModelCopies({
    logprobs: settings.utility === "logprob" || settings.utility === "entropy",
    topLogprobs: settings.topLogprobs,
  });
  const dependencies = { settings, modelFor };

  const weights: Record<string, number> = {};
  for (const agent of settings.agents) {
    weights[agent.name] = voteWeight(agent.reliability, settings.aggressiveness[agent.name]);
  }

  return new StateGraph(AuctionDebateState)
    .addNode("round", (state: AuctionDebateStateType, config?: RunnableConfig) => runRound(dependencies, state, config))
    .addNode("finalize", (state: AuctionDebateStateType) => {
      const { answer, votes } = aggregateAnswers(state.answers, settings.aggregation, weights, settings.seed);
      return { finalAnswer: answer, votes, stopReason: state.stopReason ?? "max_rounds" };
    })
    .addEdge(START, "round")
    .addConditionalEdges("round", (state: AuctionDebateStateType) => (state.stopReason ? "finalize" : "round"), [
      "round",
      "finalize",
    ])
    .addEdge("finalize", END)
    .compile({ name: settings.name });
}

/** The compiled debate graph. */
export type AuctionDebateGraph = ReturnType<typeof createAuctionDebate>;
