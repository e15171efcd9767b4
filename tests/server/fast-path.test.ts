/**
 * The fast path of `gavel serve`: a pinned non-streamed request to a member with an `upstream`
 * goes to the provider with `fetch`, its body as the client sent it (the member's model and key,
 * the output cap at most the member's), and the provider's completion comes back as it is. Through
 * the official `openai` client, against the loopback provider (tests/helpers/openaiServer.ts).
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createServerMetrics } from "../../adapters/server/metrics.js";
import type { ChargeInput, LedgerWriter } from "../../src/ledger/types.js";
import type { RawCompletion } from "../helpers/openaiServer.js";
import { type Gateway, MINI_PRICE, startGateway, TEST_KEY } from "./gateway-fixture.js";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function client(baseURL: string): OpenAI {
  return new OpenAI({ apiKey: TEST_KEY, baseURL, maxRetries: 0 });
}

function recordingLedger(charges: ChargeInput[]): LedgerWriter {
  return {
    recordAuction: async () => undefined,
    recordCharge: async (charge: ChargeInput) => {
      charges.push(charge);
      return String(charges.length);
    },
  } as unknown as LedgerWriter;
}

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

/** A provider's completion, served unchanged. */
const RAW: RawCompletion = {
  object: "chat.completion",
  id: "chatcmpl-provider-123",
  created: 1_700_000_000,
  model: "gpt-4o-mini-2024-07-18",
  system_fingerprint: "fp_provider",
  choices: [
    {
      index: 0,
      message: {
        role: "assistant",
        content: "Checking.",
        refusal: null,
        tool_calls: [
          { id: "call_abc", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
        ],
      },
      logprobs: null,
      finish_reason: "tool_calls",
    },
  ],
  usage: { prompt_tokens: 57, completion_tokens: 13, total_tokens: 70 },
};

/** USD left on the test key's budget. */
async function usdLeft(gateway: Gateway): Promise<number> {
  return (await gateway.budgets.standing(await gateway.testKey(), undefined)).usd ?? Number.NaN;
}

function chatCalls(gateway: Gateway) {
  return gateway.provider.requests.filter((request) => request.path.endsWith("/chat/completions"));
}

describe("the fast path (pinned, non-streamed, OpenAI-compatible member)", () => {
  it("the client gets the provider's completion as it is; the provider gets the client's body, its model name and our key", async () => {
    const charges: ChargeInput[] = [];
    gateway = await startGateway({ fastPath: true, answer: () => RAW, app: { ledger: recordingLedger(charges) } });
    const responseFormat = {
      type: "json_schema" as const,
      json_schema: {
        name: "city",
        strict: true,
        schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
      },
    };
    const { data, response } = await client(gateway.baseURL)
      .chat.completions.create({
        model: "mini",
        messages: [{ role: "user", content: "Weather in Paris?" }],
        tools: [weather],
        tool_choice: "auto",
        response_format: responseFormat,
        max_tokens: 1_000,
        seed: 7,
      })
      .withResponse();

    const { object, ...rest } = RAW;
    expect(data).toEqual({ object, ...rest, model: "mini" });
    expect(response.headers.get("x-gavel-winner")).toBe("mini");

    const calls = chatCalls(gateway);
    expect(calls).toHaveLength(1);
    const sent = calls[0];
    expect(sent?.headers.authorization).toBe("Bearer provider-key");
    expect(sent?.body?.model).toBe("gpt-4o-mini");
    expect(sent?.body?.tools).toEqual([weather]);
    expect(sent?.body?.tool_choice).toBe("auto");
    expect(sent?.body?.response_format).toEqual(responseFormat);
    expect(sent?.body?.seed).toBe(7);
    expect(sent?.body?.max_tokens).toBe(256); // capped at the member's cap
    expect(sent?.body?.messages).toEqual([{ role: "user", content: "Weather in Paris?" }]);

    // Settled at the provider's bill, and charged once in the ledger.
    const billed = (57 * MINI_PRICE.inputPerMillion + 13 * MINI_PRICE.outputPerMillion) / 1e6;
    expect(await usdLeft(gateway)).toBeCloseTo(1 - billed, 9);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ inputTokens: 57, outputTokens: 13, estimated: false, agent: "mini" });
    expect(charges[0]?.usd).toBeCloseTo(billed, 12);
  });

  it("a request's own smaller max_completion_tokens is kept; the member's cap is sent when the request sets none", async () => {
    gateway = await startGateway({ fastPath: true });
    const openai = client(gateway.baseURL);
    await openai.chat.completions.create({
      model: "mini",
      messages: [{ role: "user", content: "Hi" }],
      max_completion_tokens: 20,
    });
    await openai.chat.completions.create({ model: "mini", messages: [{ role: "user", content: "Hi" }] });
    const [first, second] = chatCalls(gateway);
    expect(first?.body?.max_completion_tokens).toBe(20);
    expect(first?.body?.max_tokens).toBeUndefined();
    expect(second?.body?.max_tokens).toBe(256);
  });

  it("no usage from the provider: charged the reservation's prompt estimate and the counted answer, marked estimated", async () => {
    const charges: ChargeInput[] = [];
    const { usage: _usage, ...withoutUsage } = RAW;
    gateway = await startGateway({
      fastPath: true,
      answer: () => withoutUsage as RawCompletion,
      app: { ledger: recordingLedger(charges) },
    });
    const data = await client(gateway.baseURL).chat.completions.create({
      model: "mini",
      messages: [{ role: "user", content: "Weather in Paris?" }],
    });
    expect(charges).toHaveLength(1);
    expect(charges[0]?.estimated).toBe(true);
    expect(charges[0]?.inputTokens).toBeGreaterThan(0);
    expect(charges[0]?.outputTokens).toBeGreaterThan(0);
    expect(data.usage).toEqual({
      prompt_tokens: charges[0]?.inputTokens,
      completion_tokens: charges[0]?.outputTokens,
      total_tokens: (charges[0]?.inputTokens ?? 0) + (charges[0]?.outputTokens ?? 0),
    });
  });

  it("a provider's 400 passes through with its body; nothing is charged", async () => {
    gateway = await startGateway({
      fastPath: true,
      answer: () => ({
        status: 400,
        error: {
          message: "Invalid schema for function 'get_weather'.",
          type: "invalid_request_error",
          code: "bad_schema",
        },
      }),
    });
    const error = await client(gateway.baseURL)
      .chat.completions.create({ model: "mini", messages: [{ role: "user", content: "Hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.BadRequestError>).code).toBe("bad_schema");
    expect((error as Error).message).toContain("Invalid schema for function 'get_weather'.");
    expect(await usdLeft(gateway)).toBe(1);
  });

  it.each([
    [401, 502],
    [403, 502],
    [500, 502],
    [503, 502],
  ])("a provider's %i → %i provider_error (the provider's key is ours, not the client's)", async (upstream, status) => {
    gateway = await startGateway({
      fastPath: true,
      answer: () => ({ status: upstream, error: { message: "Incorrect API key provided: provider-key", type: "x" } }),
    });
    const error = await client(gateway.baseURL)
      .chat.completions.create({ model: "mini", messages: [{ role: "user", content: "Hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(status);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("provider_error");
    expect((error as Error).message).not.toContain("provider-key");
    expect(await usdLeft(gateway)).toBe(1);
  });

  it("a provider that hangs past the member's timeout → 504 provider_timeout, the reservation released", async () => {
    gateway = await startGateway({ fastPath: true, upstreamTimeoutMs: 200, generationMs: 10_000 });
    const error = await client(gateway.baseURL)
      .chat.completions.create({ model: "mini", messages: [{ role: "user", content: "Hi" }] })
      .catch((caught: unknown) => caught);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("provider_timeout");
    expect(await usdLeft(gateway)).toBe(1);
  });

  it("a provider that is down (connection refused) → 502 provider_error, the reservation released", async () => {
    gateway = await startGateway({ fastPath: true });
    await gateway.provider.close();
    gateway.provider = { ...gateway.provider, close: async () => undefined }; // closed already
    const error = await client(gateway.baseURL)
      .chat.completions.create({ model: "mini", messages: [{ role: "user", content: "Hi" }] })
      .catch((caught: unknown) => caught);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe("provider_error");
    expect(await usdLeft(gateway)).toBe(1);
  });

  it("a client that leaves mid-call: the call runs on and is settled at the provider's usage, counted in the USD metric", async () => {
    const charges: ChargeInput[] = [];
    const metrics = createServerMetrics({ processMetrics: false });
    gateway = await startGateway({
      fastPath: true,
      generationMs: 300,
      answer: () => RAW,
      app: { ledger: recordingLedger(charges), metrics },
    });
    const controller = new AbortController();
    const leaving = client(gateway.baseURL)
      .chat.completions.create(
        { model: "mini", messages: [{ role: "user", content: "Hi" }] },
        { signal: controller.signal },
      )
      .catch((caught: unknown) => caught);
    await vi.waitFor(() => expect(chatCalls(gateway as Gateway)).toHaveLength(1));
    controller.abort();
    expect(await leaving).toBeInstanceOf(Error);
    await vi.waitFor(() => expect(charges).toHaveLength(1), { timeout: 5_000 });
    const billed = (57 * MINI_PRICE.inputPerMillion + 13 * MINI_PRICE.outputPerMillion) / 1e6;
    expect(charges[0]).toMatchObject({ inputTokens: 57, outputTokens: 13, estimated: false });
    expect(charges[0]?.metadata?.abandoned).toBe(true);
    expect(await usdLeft(gateway)).toBeCloseTo(1 - billed, 9);
    const text = await metrics.render();
    expect(text).toMatch(/gavel_requests_total\{route="chat",status="499",path="pinned"\} 1/);
    const usd = Number(text.match(/gavel_usd_total\{member="mini",key="[^"]+"\} (\S+)/)?.[1]);
    expect(usd).toBeCloseTo(billed, 12);
    expect(text).toMatch(/gavel_tokens_total\{member="mini",key="[^"]+",direction="output"\} 13/);
  });

  it("streams keep the LangChain path (the provider is asked to stream)", async () => {
    gateway = await startGateway({ fastPath: true, answer: () => "Paris." });
    const stream = await client(gateway.baseURL).chat.completions.create({
      model: "mini",
      messages: [{ role: "user", content: "Capital of France?" }],
      stream: true,
    });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("Paris.");
    expect(chatCalls(gateway)[0]?.body?.stream).toBe(true);
  });
});
