/**
 * Wiring proof: the debate over real `ChatOpenAI` clients talking HTTP to the OpenAI-compatible
 * test server on 127.0.0.1. Intents are capped and ask for log-probabilities; the utility comes
 * from the log-probabilities that came over the wire; only the winner's full message is requested.
 */
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createAuctionDebate, INTENT_INSTRUCTION, MESSAGE_INSTRUCTION } from "../../src/debate/index.js";
import {
  type ChatCompletionRequestBody,
  type OpenAICompatibleServer,
  startOpenAICompatibleServer,
  type TokenLogprob,
} from "../helpers/openaiServer.js";

const USAGE = { prompt_tokens: 40, completion_tokens: 12 };

function lastUserText(body: ChatCompletionRequestBody): string {
  const last = body.messages.at(-1);
  return typeof last?.content === "string" ? last.content : "";
}

function logprobs(logprob: number, count: number): TokenLogprob[] {
  return Array.from({ length: count }, (_, position) => ({
    token: `t${position}`,
    logprob,
    bytes: null,
    top_logprobs: [{ token: `t${position}`, logprob, bytes: null }],
  }));
}

describe("auction debate over ChatOpenAI and real HTTP", () => {
  let server: OpenAICompatibleServer;

  beforeAll(async () => {
    server = await startOpenAICompatibleServer({
      replies: (body) => {
        const solver = body.model === "solver-model";
        const intent = lastUserText(body).includes(INTENT_INSTRUCTION);
        const answer = solver || lastUserText(body).includes("solver:") ? "42" : "41";
        if (intent) {
          return {
            content: `I would show the product.\nAnswer: ${answer}`,
            usage: USAGE,
            logprobs: logprobs(solver ? -0.05 : -1.5, 6),
          };
        }
        return { content: `Six sevens make ${answer}.\nAnswer: ${answer}`, usage: USAGE };
      },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  it("bids from served log-probabilities, and only the winner writes", async () => {
    const agent = (name: string, model: string) => ({
      name,
      model: new ChatOpenAI({ model, apiKey: "test", configuration: { baseURL: server.baseURL } }),
    });
    const debate = createAuctionDebate({
      agents: [agent("solver", "solver-model"), agent("guesser", "guesser-model")],
      utility: "logprob",
      mechanism: "second_price",
      budget: 2000,
      maxRounds: 3,
    });
    const result = await debate.invoke({ question: "What is 6 times 7?" });

    expect(result.finalAnswer).toBe("42");
    expect(result.stopReason).toBe("converged");
    const first = result.rounds[0];
    expect(first?.bids.map((bid) => bid.utilitySource)).toEqual(["logprob", "logprob"]);
    expect(first?.bids.find((bid) => bid.agent === "solver")?.utility).toBeCloseTo(Math.exp(-0.05), 10);
    expect(first?.outcome?.winners).toEqual(["solver"]);
    expect(first?.prices.solver).toBeCloseTo(Math.exp(-1.5), 10);

    const bodies = server.requests.map((request) => request.body as ChatCompletionRequestBody);
    const cap = (body: ChatCompletionRequestBody) => body.max_tokens ?? body.max_completion_tokens;
    const intents = bodies.filter((body) => lastUserText(body).includes(INTENT_INSTRUCTION));
    const messages = bodies.filter((body) => lastUserText(body).includes(MESSAGE_INSTRUCTION));
    expect(intents.length).toBe(2 * result.rounds.length);
    expect(intents.every((body) => body.logprobs === true && cap(body) === 48)).toBe(true);
    expect(messages.map((body) => body.model)).toEqual(result.rounds.map(() => "solver-model"));
    expect(messages.every((body) => cap(body) === 192)).toBe(true);
    // Accounting from the usage that came over the wire.
    expect(result.spentTokens).toBe(bodies.length * (USAGE.prompt_tokens + USAGE.completion_tokens));
    expect(result.usage.guesser?.messageCalls).toBe(0);
  });
});
