/**
 * The gateway through the official `openai` npm client, served on 127.0.0.1, over a pool of real
 * `ChatOpenAI` members pointed at the loopback OpenAI-compatible provider.
 */
import OpenAI from "openai";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ROUTER_MODEL_ID } from "../../adapters/server/types.js";
import type { ChargeInput, LedgerWriter } from "../../src/ledger/types.js";
import { type Gateway, kindOf, LARGE_PRICE, MINI_PRICE, startGateway, TEST_KEY } from "./gateway-fixture.js";

let gateway: Gateway | undefined;
afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

function client(baseURL: string): OpenAI {
  return new OpenAI({ apiKey: TEST_KEY, baseURL, maxRetries: 0 });
}

const weather = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "The weather in a city.",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
  },
};

describe("the official openai client against the gateway", () => {
  it("gavel/auto, non-streamed: the winner answers and is named by model, x-gavel-winner and the auction id", async () => {
    gateway = await startGateway({ answer: () => "Paris." });
    const { data, response } = await client(gateway.baseURL)
      .chat.completions.create({ model: ROUTER_MODEL_ID, messages: [{ role: "user", content: "Capital of France?" }] })
      .withResponse();

    expect(data.object).toBe("chat.completion");
    expect(data.id).toMatch(/^chatcmpl-/);
    expect(data.choices[0]?.message.content).toBe("Paris.");
    expect(data.choices[0]?.finish_reason).toBe("stop");
    expect(["mini", "large"]).toContain(data.model);
    expect(response.headers.get("x-gavel-winner")).toBe(data.model);
    expect(response.headers.get("x-gavel-auction-id")).toMatch(/\S/);
    // The usage covers the auction (plans, jury) and the answer: more than the answer's call alone.
    const calls = gateway.provider.requests.filter((request) => request.path.endsWith("/chat/completions"));
    const answerIndex = calls.findIndex((request) => request.body !== undefined && kindOf(request.body) === "answer");
    expect(calls.length).toBeGreaterThan(2); // plans and jury calls before the answer
    const answerBill = gateway.provider.billing.find((entry) => entry.index === answerIndex);
    expect(answerBill).toBeDefined();
    expect(data.usage?.total_tokens).toBeGreaterThan(
      (answerBill?.promptTokens ?? 0) + (answerBill?.completionTokens ?? 0),
    );
    expect(data.usage?.total_tokens).toBe((data.usage?.prompt_tokens ?? 0) + (data.usage?.completion_tokens ?? 0));
  });

  it("gavel/auto, streamed with include_usage: chunks, a last usage chunk with empty choices, [DONE] ends the iteration", async () => {
    const answer = "The capital of France is Paris, on the Seine.";
    gateway = await startGateway({ answer: () => answer });
    const { data: stream, response } = await client(gateway.baseURL)
      .chat.completions.create({
        model: ROUTER_MODEL_ID,
        messages: [{ role: "user", content: "Capital of France?" }],
        stream: true,
        stream_options: { include_usage: true },
      })
      .withResponse();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const winner = response.headers.get("x-gavel-winner");
    expect(["mini", "large"]).toContain(winner);
    expect(response.headers.get("x-gavel-auction-id")).toMatch(/\S/);
    expect(chunks.length).toBeGreaterThan(3);
    expect(chunks.every((chunk) => chunk.object === "chat.completion.chunk" && chunk.model === winner)).toBe(true);
    expect(new Set(chunks.map((chunk) => chunk.id)).size).toBe(1);
    expect(chunks[0]?.choices[0]?.delta.role).toBe("assistant");
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe(answer);
    const finishes = chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason)).filter(Boolean);
    expect(finishes).toEqual(["stop"]);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage?.completion_tokens).toBeGreaterThan(0);
    expect(last?.usage?.total_tokens).toBe((last?.usage?.prompt_tokens ?? 0) + (last?.usage?.completion_tokens ?? 0));
  });

  it("without include_usage no usage chunk is sent", async () => {
    gateway = await startGateway({ answer: () => "Paris." });
    const stream = await client(gateway.baseURL).chat.completions.create({
      model: "mini",
      messages: [{ role: "user", content: "Capital of France?" }],
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((chunk) => chunk.choices.length === 1 && chunk.usage == null)).toBe(true);
    expect(chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("")).toBe("Paris.");
  });

  it("tools: a tool call round trip through gavel/auto (the plans get no tools, the answer does)", async () => {
    gateway = await startGateway({
      answer: (body) =>
        body.messages.some((message) => message.role === "tool")
          ? "It is sunny in Paris."
          : { toolCalls: [{ id: "call_w1", name: "get_weather", arguments: { city: "Paris" } }] },
    });
    const openai = client(gateway.baseURL);
    const first = await openai.chat.completions.create({
      model: ROUTER_MODEL_ID,
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [weather],
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe("tool_calls");
    expect(first.choices[0]?.message.content).toBeNull();
    expect(call?.type === "function" && call.function.name).toBe("get_weather");
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ city: "Paris" });

    const second = await openai.chat.completions.create({
      model: ROUTER_MODEL_ID,
      messages: [
        { role: "user", content: "Weather in Paris?" },
        first.choices[0]?.message as OpenAI.Chat.ChatCompletionMessageParam,
        { role: "tool", tool_call_id: call?.id ?? "", content: '{"sky":"sunny"}' },
      ],
      tools: [weather],
    });
    expect(second.choices[0]?.message.content).toBe("It is sunny in Paris.");

    const bodies = gateway.provider.requests.map((request) => request.body).filter((body) => body !== undefined);
    const answers = bodies.filter((body) => kindOf(body) === "answer");
    expect(answers).toHaveLength(2);
    expect(answers.every((body) => body.tools?.[0]?.function.name === "get_weather")).toBe(true);
    expect(bodies.filter((body) => kindOf(body) !== "answer").every((body) => body.tools === undefined)).toBe(true);
    // The provider saw the assistant's tool call and the tool's answer, linked by the call id.
    const replayed = answers[1]?.messages ?? [];
    const assistant = replayed.find((message) => message.role === "assistant");
    expect(JSON.stringify(assistant?.tool_calls)).toContain("call_w1");
    expect(replayed.find((message) => message.role === "tool")).toMatchObject({ tool_call_id: "call_w1" });
  });

  it("response_format json_schema on a pinned member reaches the provider as it was sent", async () => {
    gateway = await startGateway({ answer: () => '{"city":"Paris","country":"France"}' });
    const format = {
      type: "json_schema" as const,
      json_schema: {
        name: "place",
        strict: true,
        schema: {
          type: "object",
          properties: { city: { type: "string" }, country: { type: "string" } },
          required: ["city", "country"],
          additionalProperties: false,
        },
      },
    };
    const completion = await client(gateway.baseURL).chat.completions.create({
      model: "mini",
      messages: [{ role: "user", content: "Where is the Eiffel tower?" }],
      response_format: format,
    });
    expect(JSON.parse(completion.choices[0]?.message.content ?? "")).toEqual({ city: "Paris", country: "France" });
    const seen = gateway.provider.requests.at(-1)?.body?.response_format as typeof format | undefined;
    expect(seen?.type).toBe("json_schema");
    expect(seen?.json_schema.name).toBe("place");
    expect(seen?.json_schema.schema).toEqual(format.json_schema.schema);
  });

  it("pins a member by name: no auction, that member answers, the key's budget and the ledger are charged what the provider billed", async () => {
    const charges: ChargeInput[] = [];
    const ledger = {
      recordCharge: async (input: ChargeInput) => {
        charges.push(input);
        return `c${charges.length}`;
      },
      recordCharges: async () => [],
      recordAuction: async () => "a",
      recordAuctions: async () => [],
      recordOutcome: async () => undefined,
      recordBudget: async () => undefined,
      recordBudgetSnapshot: async () => undefined,
      close: async () => undefined,
    } as unknown as LedgerWriter;
    gateway = await startGateway({ answer: () => "Paris, on the Seine.", app: { ledger } });
    const { data, response } = await client(gateway.baseURL)
      .chat.completions.create({
        model: "mini",
        messages: [{ role: "user", content: "Capital of France?" }],
        max_tokens: 64,
        temperature: 0.2,
        user: "alice",
      })
      .withResponse();
    expect(data.model).toBe("mini");
    expect(response.headers.get("x-gavel-winner")).toBe("mini");
    expect(response.headers.get("x-gavel-auction-id")).toBeNull();
    const requests = gateway.provider.requests.filter((request) => request.path.endsWith("/chat/completions"));
    expect(requests).toHaveLength(1);
    expect(requests[0]?.body).toMatchObject({ model: "gpt-4o-mini", max_tokens: 64, temperature: 0.2 });
    const billed = gateway.provider.billing[0];
    expect(data.usage).toMatchObject({
      prompt_tokens: billed?.promptTokens,
      completion_tokens: billed?.completionTokens,
    });

    const standing = await gateway.budgets.standing(await gateway.testKey(), "alice");
    expect(1 - (standing.usd ?? 0)).toBeCloseTo(gateway.provider.billedUsd(MINI_PRICE), 9);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({
      kind: "settle",
      model: "gpt-4o-mini",
      agent: "mini",
      label: "answer",
      inputTokens: billed?.promptTokens,
      outputTokens: billed?.completionTokens,
      estimated: false,
      metadata: { path: "pinned", keyId: (await gateway.testKey()).id },
    });
    expect(charges[0]?.usd).toBeCloseTo(gateway.provider.billedUsd(MINI_PRICE), 12);
  });

  it("a client that leaves mid-stream: the upstream call stops and the reservation is settled once, at what was streamed", async () => {
    const answer = `Answer:${" step".repeat(300)}`;
    gateway = await startGateway({ answer: () => answer, generationMs: 3_000 });
    const controller = new AbortController();
    const stream = await client(gateway.baseURL).chat.completions.create(
      { model: "mini", messages: [{ role: "user", content: "Count." }], stream: true },
      { signal: controller.signal },
    );
    let received = 0;
    try {
      for await (const chunk of stream) {
        received += (chunk.choices[0]?.delta.content ?? "").length;
        if (received > 40) controller.abort();
      }
    } catch {
      // An aborted read may end the iteration or throw, depending on when it lands.
    }
    expect(received).toBeGreaterThan(40);
    expect(received).toBeLessThan(answer.length);
    await gateway.provider.idle();
    const bill = gateway.provider.billing[0];
    expect(bill?.clientGone).toBe(true);
    expect(bill?.completionTokens).toBeLessThan(300);
    const key = await gateway.testKey();
    await vi.waitFor(async () => expect((await gateway?.budgets.standing(key, undefined))?.usd).toBeLessThan(1));
    await vi.waitFor(() => expect(gateway?.gateway.inflight).toBe(0));
    const spent = 1 - ((await gateway.budgets.standing(key, undefined)).usd ?? 0);
    // Settled at the prompt and the tokens streamed (tokenizer-counted): close to the provider's
    // bill, far below the reservation (prompt + 256-token cap), and only once.
    const reservationUsd =
      ((bill?.promptTokens ?? 0) * MINI_PRICE.inputPerMillion + 256 * MINI_PRICE.outputPerMillion) / 1e6;
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThan(reservationUsd);
  });

  it("a client that leaves a pinned non-streamed call: the call finishes and is charged the usage the provider reports", async () => {
    const answer = `Answer:${" step".repeat(40)}`;
    let leave: (() => void) | undefined;
    gateway = await startGateway({
      answer: () => {
        leave?.(); // the client leaves while the provider generates
        return answer;
      },
      generationMs: 500,
    });
    const controller = new AbortController();
    leave = () => controller.abort();
    await expect(
      client(gateway.baseURL).chat.completions.create(
        { model: "mini", messages: [{ role: "user", content: "Count." }] },
        { signal: controller.signal },
      ),
    ).rejects.toThrow();
    await gateway.provider.idle();
    const bill = gateway.provider.billing[0];
    expect(bill?.clientGone).toBe(false); // the gateway kept the provider's connection: the reply came
    expect(bill?.completionTokens).toBeLessThan(100);
    const key = await gateway.testKey();
    const billed = gateway.provider.billedUsd(MINI_PRICE);
    // Settled (the standing counts the reservation while it is held) at exactly the bill, not at the
    // reservation's output cap (256 tokens).
    await vi.waitFor(async () => {
      const standing = await gateway?.budgets.standing(key, undefined);
      expect(1 - (standing?.usd ?? 1)).toBeCloseTo(billed, 12);
    });
  });

  it("response_format json_schema on gavel/auto, streamed: the forced tool call's arguments stream as content", async () => {
    gateway = await startGateway({
      answer: (body) => ({
        toolCalls: [
          {
            id: "call_p",
            name: (body.tool_choice as { function: { name: string } }).function.name,
            arguments: { city: "Paris" },
          },
        ],
      }),
    });
    const stream = await client(gateway.baseURL).chat.completions.create({
      model: ROUTER_MODEL_ID,
      messages: [{ role: "user", content: "Where is the Eiffel tower?" }],
      response_format: {
        type: "json_schema",
        json_schema: { name: "place", schema: { type: "object", properties: { city: { type: "string" } } } },
      },
      stream: true,
    });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const text = chunks.map((chunk) => chunk.choices[0]?.delta.content ?? "").join("");
    expect(JSON.parse(text)).toEqual({ city: "Paris" });
    expect(chunks.some((chunk) => chunk.choices[0]?.delta.tool_calls !== undefined)).toBe(false);
    expect(chunks.flatMap((chunk) => chunk.choices.map((choice) => choice.finish_reason)).filter(Boolean)).toEqual([
      "stop",
    ]);
  });

  it("a client that leaves a routed stream: the router settles it and the request ends", async () => {
    const answer = `Answer:${" step".repeat(300)}`;
    gateway = await startGateway({
      answer: () => answer,
      generationMs: (body) => (kindOf(body) === "answer" ? 3_000 : 0),
    });
    const controller = new AbortController();
    const stream = await client(gateway.baseURL).chat.completions.create(
      { model: ROUTER_MODEL_ID, messages: [{ role: "user", content: "Count." }], stream: true },
      { signal: controller.signal },
    );
    let received = 0;
    try {
      for await (const chunk of stream) {
        received += (chunk.choices[0]?.delta.content ?? "").length;
        if (received > 40) controller.abort();
      }
    } catch {
      // An aborted read may end the iteration or throw, depending on when it lands.
    }
    expect(received).toBeLessThan(answer.length);
    await gateway.provider.idle();
    const answerBill = gateway.provider.billing.find((entry) => entry.stream);
    expect(answerBill?.clientGone).toBe(true);
    await vi.waitFor(() => expect(gateway?.gateway.inflight).toBe(0));
    const key = await gateway.testKey();
    const spent = 1 - ((await gateway.budgets.standing(key, undefined)).usd ?? 1);
    // The plans, the jury and the streamed part of the answer, as the provider billed them (the
    // streamed part tokenizer-counted by the router): close to the bill, not the answer's whole cap.
    const billed = gateway.provider.billing.reduce((total, entry) => {
      const price = entry.model === "gpt-4o" ? LARGE_PRICE : MINI_PRICE;
      return (
        total + (entry.promptTokens * price.inputPerMillion + entry.completionTokens * price.outputPerMillion) / 1e6
      );
    }, 0);
    expect(spent).toBeGreaterThan(billed * 0.8);
    expect(spent).toBeLessThan(billed * 1.2);
  });

  it("models.list: gavel/auto and every member", async () => {
    gateway = await startGateway();
    const ids = [];
    for await (const model of client(gateway.baseURL).models.list()) ids.push(model);
    expect(ids.map((model) => model.id)).toEqual([ROUTER_MODEL_ID, "mini", "large"]);
    expect(ids.map((model) => model.owned_by)).toEqual(["gavel", "openai", "openai"]);
    expect(ids.every((model) => model.object === "model")).toBe(true);
    expect((await client(gateway.baseURL).models.retrieve(ROUTER_MODEL_ID)).owned_by).toBe("gavel");
    expect((await client(gateway.baseURL).models.retrieve("large")).id).toBe("large");
    await expect(client(gateway.baseURL).models.retrieve("nope")).rejects.toMatchObject({ status: 404 });
  });
});
