/**
 * A gateway served on 127.0.0.1 (port 0) over a pool of real `ChatOpenAI` clients pointed at the
 * loopback OpenAI-compatible provider (tests/helpers/openaiServer.ts), with KEYS' key verifier and
 * per-key budgets. Each test scripts the provider's answers; plans and jury lines are scripted here.
 */
import { ChatOpenAI } from "@langchain/openai";
import { createGavelApp, type GavelApp, type GavelAppOptions } from "../../adapters/server/app.js";
import { createServerBudgets } from "../../adapters/server/budgets.js";
import { createKeyVerifier } from "../../adapters/server/keys.js";
import { type GavelServer, serveGavelApp } from "../../adapters/server/server.js";
import type { ServerBudgets, ServerMember, VirtualKey } from "../../adapters/server/types.js";
import { DEFAULT_PRICES } from "../../src/budget/index.js";
import type { BudgetLimits } from "../../src/budget/types.js";
import { JURY_RUBRIC, PLANNING_PROMPT, REFINEMENT_PROMPT } from "../../src/router/index.js";
import {
  type ChatCompletionRequestBody,
  type OpenAICompatibleServer,
  type ServerReply,
  startOpenAICompatibleServer,
} from "../helpers/openaiServer.js";

/** The bearer key of the fixture's key "test". */
export const TEST_KEY = "gvl-test-0123456789abcdef";
/** The bearer key of the fixture's key "broke" (a budget no call fits). */
export const BROKE_KEY = "gvl-broke-0123456789abcdef";

export const MINI_PRICE = DEFAULT_PRICES["gpt-4o-mini"] as { inputPerMillion: number; outputPerMillion: number };
export const LARGE_PRICE = DEFAULT_PRICES["gpt-4o"] as { inputPerMillion: number; outputPerMillion: number };

/** What a provider request is for. */
export function kindOf(body: ChatCompletionRequestBody): "plan" | "jury" | "answer" {
  const system = body.messages.find((message) => message.role === "system");
  const text = typeof system?.content === "string" ? system.content : "";
  if (text.startsWith(JURY_RUBRIC)) return "jury";
  if (text.startsWith(PLANNING_PROMPT) || text.includes(REFINEMENT_PROMPT)) return "plan";
  return "answer";
}

export interface Gateway {
  provider: OpenAICompatibleServer;
  gateway: GavelApp;
  server: GavelServer;
  budgets: ServerBudgets;
  /** `http://127.0.0.1:<port>/v1` */
  baseURL: string;
  /** The key record behind {@link TEST_KEY}. */
  testKey(): Promise<VirtualKey>;
  close(): Promise<void>;
}

export interface GatewayOptions {
  /** The answers (plans and jury lines are scripted). */
  answer?: (body: ChatCompletionRequestBody, index: number) => ServerReply | Promise<ServerReply>;
  generationMs?: number | ((body: ChatCompletionRequestBody, index: number) => number);
  /** The "test" key's budget. Default `{ maxUsd: 1 }`. */
  budget?: BudgetLimits;
  app?: Partial<GavelAppOptions>;
  /**
   * Give the members their `upstream` (the provider, key "provider-key"), so pinned non-streamed
   * calls take the fetch fast path. Default false: every call goes through `ChatOpenAI`.
   */
  fastPath?: boolean;
  /** The members' `upstream.timeoutMs` (with `fastPath`). */
  upstreamTimeoutMs?: number;
}

/** Start the loopback provider and the gateway over two members, "mini" (gpt-4o-mini) and "large" (gpt-4o). */
export async function startGateway(options: GatewayOptions = {}): Promise<Gateway> {
  const { answer = () => "Paris.", generationMs = 0, budget = { maxUsd: 1 } } = options;
  const provider = await startOpenAICompatibleServer({
    generationMs,
    replies: (body, index) => {
      const kind = kindOf(body);
      if (kind === "plan") return "Recall the capital, then state it in one word.";
      if (kind === "jury") return "A: SCORE: 4\nB: SCORE: 3";
      return answer(body, index);
    },
  });
  const member = (name: string, model: string, price: typeof MINI_PRICE): ServerMember => ({
    name,
    model: new ChatOpenAI({
      model,
      apiKey: "provider-key",
      maxTokens: 256,
      maxRetries: 0,
      configuration: { baseURL: provider.baseURL },
    }),
    price,
    provider: "openai",
    ...(options.fastPath === true && {
      upstream: {
        baseURL: provider.baseURL,
        apiKey: "provider-key",
        model,
        maxTokens: 256,
        ...(options.upstreamTimeoutMs !== undefined && { timeoutMs: options.upstreamTimeoutMs }),
      },
    }),
  });
  const keys = createKeyVerifier({
    keys: [
      { name: "test", keyEnv: "TEST_KEY", budget, budgetWindow: "1d" },
      { name: "broke", keyEnv: "BROKE_KEY", budget: { maxUsd: 0.000001 }, budgetWindow: "1d" },
    ],
    env: { TEST_KEY, BROKE_KEY },
    refreshMs: 0,
  });
  const budgets = createServerBudgets({});
  const gateway = createGavelApp({
    members: [member("mini", "gpt-4o-mini", MINI_PRICE), member("large", "gpt-4o", LARGE_PRICE)],
    router: { seed: 0 },
    keys,
    budgets,
    ...options.app,
  });
  const server = await serveGavelApp(gateway, { port: 0 });
  const started: Gateway = {
    provider,
    gateway,
    server,
    budgets,
    baseURL: `${server.url}/v1`,
    testKey: async () => (await keys.verify(TEST_KEY)) as VirtualKey,
    async close() {
      await server.close({ timeoutMs: 1_000 });
      await started.provider.close(); // a test may have stopped it (and replaced it)
      await budgets.close();
    },
  };
  return started;
}
