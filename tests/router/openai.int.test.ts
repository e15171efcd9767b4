/**
 * The router over real `ChatOpenAI` clients talking HTTP to the OpenAI-compatible test server:
 * plans come back with `logprobs`, and H must be computed from the log-probabilities that
 * came over the wire.
 */
import { ChatOpenAI } from "@langchain/openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AuctionRouter, JURY_RUBRIC, PLANNING_PROMPT, type RouterMetadata } from "../../src/router/index.js";
import {
  type ChatCompletionRequestBody,
  type OpenAICompatibleServer,
  startOpenAICompatibleServer,
  type TokenLogprob,
} from "../helpers/openaiServer.js";

const PLANS: Record<string, string> = {
  "gpt-4o-mini": "Multiply 17 by 20, add 17 times 3.",
  "gpt-4o": "Use long multiplication, then verify by division.",
};

/** Served log-probabilities of a plan: one entry per word, three alternatives each. */
function servedLogprobs(plan: string, seed: number): TokenLogprob[] {
  return plan.split(" ").map((word, position) => {
    const top = [-0.05 - ((position + seed) % 3) * 0.4, -2 - (position % 2), -3.5];
    return {
      token: `${word} `,
      logprob: top[0] as number,
      bytes: null,
      top_logprobs: top.map((logprob, rank) => ({
        token: rank === 0 ? `${word} ` : `alt${rank}`,
        logprob,
        bytes: null,
      })),
    };
  });
}

/** Independent computation: renormalised top-k entropy per token / ln k, averaged. */
function expectedEntropy(entries: readonly TokenLogprob[]): number {
  const perToken = entries.map((entry) => {
    const probabilities = entry.top_logprobs.map((alternative) => Math.exp(alternative.logprob));
    const total = probabilities.reduce((sum, value) => sum + value, 0);
    const entropy = probabilities.reduce((sum, value) => sum - (value / total) * Math.log(value / total), 0);
    return entropy / Math.log(probabilities.length);
  });
  return perToken.reduce((sum, value) => sum + value, 0) / perToken.length;
}

function systemText(body: ChatCompletionRequestBody): string {
  const system = body.messages.find((message) => message.role === "system");
  return typeof system?.content === "string" ? system.content : "";
}

describe("AuctionRouter over ChatOpenAI and real HTTP", () => {
  let server: OpenAICompatibleServer;
  const served = new Map<string, TokenLogprob[]>();

  beforeAll(async () => {
    server = await startOpenAICompatibleServer({
      replies: (body) => {
        const model = body.model ?? "gpt-4o-mini";
        const system = systemText(body);
        if (system.startsWith(PLANNING_PROMPT)) {
          const plan = PLANS[model] ?? "plan";
          const logprobs = servedLogprobs(plan, model.length);
          served.set(model, logprobs);
          return { content: plan, logprobs, usage: { prompt_tokens: 60, completion_tokens: plan.split(" ").length } };
        }
        if (system.startsWith(JURY_RUBRIC)) {
          const labels = [...JSON.stringify(body.messages).matchAll(/<plan id=\\"([A-Z])\\">/g)].map(
            (match) => match[1],
          );
          return {
            content: labels.map((label) => `${label}: SCORE: 4`).join("\n"),
            usage: { prompt_tokens: 120, completion_tokens: 12 },
          };
        }
        return { content: "17 × 23 = 391.", usage: { prompt_tokens: 80, completion_tokens: 9 } };
      },
    });
  });

  afterAll(async () => {
    await server.close();
  });

  function client(model: string) {
    return new ChatOpenAI({ model, apiKey: "test", configuration: { baseURL: server.baseURL }, maxRetries: 0 });
  }

  it("computes H from the logprobs served over HTTP and routes to the cheaper equal plan", async () => {
    const router = new AuctionRouter({
      pool: [
        { name: "mini", model: client("gpt-4o-mini") },
        { name: "large", model: client("gpt-4o") },
      ],
      topLogprobs: 3,
    });
    const answer = await router.invoke("What is 17 * 23?");
    const gavel = answer.response_metadata.gavel as RouterMetadata;
    for (const bid of gavel.auction.bids) {
      const entries = served.get(bid.model);
      expect(entries).toBeDefined();
      expect(bid.entropySource).toBe("logprobs");
      expect(bid.entropyMethod).toBe("top_logprobs");
      expect(bid.entropy).toBeCloseTo(expectedEntropy(entries ?? []), 12);
    }
    expect(gavel.auction.winner).toBe("mini");
    expect(answer.text).toBe("17 × 23 = 391.");
    // Plans asked for logprobs and were capped; the answer did not ask for logprobs.
    const planRequests = server.requests.filter(
      (request) => request.body && systemText(request.body).startsWith(PLANNING_PROMPT),
    );
    expect(planRequests).toHaveLength(2);
    for (const request of planRequests) {
      expect(request.body?.logprobs).toBe(true);
      expect(request.body?.top_logprobs).toBe(3);
      expect(request.body?.max_tokens ?? request.body?.max_completion_tokens).toBe(128);
    }
    const answerRequest = server.requests.at(-1)?.body;
    expect(answerRequest?.logprobs ?? false).toBe(false);
    // Usage is what the server reported: 2 plans (60+n), 2 jury calls (132), the answer (89).
    const planTokens = Object.values(PLANS).reduce((sum, plan) => sum + 60 + plan.split(" ").length, 0);
    expect(gavel.usage.auction.total_tokens).toBe(planTokens + 2 * 132);
    expect(gavel.usage.execution.total_tokens).toBe(89);
    expect(answer.usage_metadata?.total_tokens).toBe(planTokens + 2 * 132 + 89);
  });

  it("streams the winner's tokens over SSE", async () => {
    const router = new AuctionRouter({
      pool: [
        { name: "mini", model: client("gpt-4o-mini") },
        { name: "large", model: client("gpt-4o") },
      ],
    });
    let text = "";
    for await (const chunk of await router.stream("What is 17 * 23?")) text += chunk.text;
    expect(text).toBe("17 × 23 = 391.");
  });
});
