import { AIMessage, ChatMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { tool } from "@langchain/core/tools";
import fc from "fast-check";
import { Tiktoken } from "js-tiktoken/lite";
import cl100k from "js-tiktoken/ranks/cl100k_base";
import o200k from "js-tiktoken/ranks/o200k_base";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import {
  countMessageTokens,
  countOutputTokens,
  countTextTokens,
  countToolTokens,
  encodingForModel,
  IMAGE_TOKEN_ESTIMATE,
  PromptTokenCounter,
  partsOf,
  REPLY_PRIMING_TOKENS,
  TOKENS_PER_MESSAGE,
  usageFromMessage,
} from "../../src/budget/tokens.js";

// OpenAI cookbook "How to count tokens with tiktoken": these six messages are
// 129 prompt tokens for gpt-3.5-turbo / gpt-4 (cl100k_base) and 124 for gpt-4o (o200k_base),
// as reported by the API itself.
const COOKBOOK_MESSAGES = [
  {
    role: "system",
    content: "You are a helpful, pattern-following assistant that translates corporate jargon into plain English.",
  },
  { role: "system", name: "example_user", content: "New synergies will help drive top-line growth." },
  { role: "system", name: "example_assistant", content: "Things working well together will increase revenue." },
  {
    role: "system",
    name: "example_user",
    content: "Let's circle back when we have more time to touch base on opportunities for increased leverage.",
  },
  {
    role: "system",
    name: "example_assistant",
    content: "Let's talk later when we're less busy about how to do better.",
  },
  {
    role: "user",
    content: "This late pivot means we don't have time to boil the ocean for the client deliverable.",
  },
];

describe("encodingForModel", () => {
  it.each([
    [undefined, "o200k_base"],
    ["gpt-4o", "o200k_base"],
    ["openai/gpt-4o-mini", "o200k_base"],
    ["gpt-4.1-nano", "o200k_base"],
    ["o3-mini", "o200k_base"],
    ["claude-3-5-sonnet", "o200k_base"],
    ["gpt-4", "cl100k_base"],
    ["gpt-4-turbo", "cl100k_base"],
    ["gpt-4-1106-preview", "cl100k_base"],
    ["gpt-3.5-turbo-1106", "cl100k_base"],
    ["text-embedding-3-small", "cl100k_base"],
    ["cl100k_base", "cl100k_base"],
  ] as const)("%s → %s", (model, encoding) => {
    expect(encodingForModel(model)).toBe(encoding);
  });
});

describe("countTextTokens", () => {
  it("counts known strings like tiktoken", () => {
    expect(countTextTokens("hello world", "cl100k_base")).toBe(2);
    expect(countTextTokens("hello world", "o200k_base")).toBe(2);
    expect(countTextTokens("hello world")).toBe(2);
    // The cookbook's example: "tiktoken is great!" is 6 tokens in cl100k_base.
    expect(countTextTokens("tiktoken is great!", "gpt-4")).toBe(6);
    expect(countTextTokens("", "gpt-4o")).toBe(0);
  });

  it("differs between encodings where the vocabularies differ", () => {
    const text = "Auction-gated communication: второй ценовой аукцион 第二价格拍卖";
    expect(countTextTokens(text, "gpt-4")).not.toBe(countTextTokens(text, "gpt-4o"));
  });

  it("counts special-token strings as plain text instead of throwing", () => {
    expect(countTextTokens("<|endoftext|> hi")).toBeGreaterThan(2);
  });

  // countTextTokens remembers each piece's count; js-tiktoken's own encode is the reference.
  const encoders = {
    o200k_base: new Tiktoken(o200k),
    cl100k_base: new Tiktoken(cl100k),
  };
  /** Fragments around the split pattern's edge cases: contractions, case runs, digit runs, space runs before words and line breaks. */
  const FRAGMENTS = [
    "a",
    "A",
    "Ab",
    "aB",
    "ABC",
    "é",
    "É",
    "e\u0301",
    "日本",
    "ß",
    "Ω",
    "1",
    "12",
    "1234",
    "٣",
    " ",
    "  ",
    "   ",
    "\t",
    "\n",
    "\r\n",
    "\n\n",
    " \n",
    "\u00a0",
    "\u200b",
    "'s",
    "'S",
    "'t",
    "'re",
    "'LL",
    "'d",
    "’s",
    "'",
    '"',
    ".",
    "...",
    "!?",
    ">",
    "</",
    "/",
    "//",
    "$",
    "-",
    "_",
    "🙂",
    "👍🏽",
    "<|endoftext|>",
    "<|im_start|>",
  ];
  const texts = fc.array(fc.constantFrom(...FRAGMENTS), { maxLength: 60 }).map((parts) => parts.join(""));

  it.each(["o200k_base", "cl100k_base"] as const)(
    "counts exactly as js-tiktoken's encode (%s), piece cache warm or cold",
    (encoding) => {
      fc.assert(
        fc.property(fc.oneof(texts, fc.string({ unit: "grapheme", maxLength: 80 })), (text) => {
          const expected = encoders[encoding].encode(text, [], []).length;
          expect(countTextTokens(text, encoding)).toBe(expected);
          expect(countTextTokens(text, encoding)).toBe(expected);
        }),
        { numRuns: 2_000, seed: 23 },
      );
    },
  );
});

describe("countMessageTokens", () => {
  it("matches the token counts the OpenAI API reports for the cookbook messages", () => {
    expect(countMessageTokens(COOKBOOK_MESSAGES, "gpt-3.5-turbo")).toBe(129);
    expect(countMessageTokens(COOKBOOK_MESSAGES, "gpt-4")).toBe(129);
    expect(countMessageTokens(COOKBOOK_MESSAGES, "gpt-4o")).toBe(124);
  });

  it("adds 3 per message and 3 for the reply priming", () => {
    expect(countMessageTokens([])).toBe(REPLY_PRIMING_TOKENS);
    // 3 priming + 3 per message + "user" (1) + "hello world" (2)
    expect(countMessageTokens([{ role: "user", content: "hello world" }])).toBe(
      REPLY_PRIMING_TOKENS + TOKENS_PER_MESSAGE + 1 + 2,
    );
  });

  it("counts LangChain messages like their role/content equivalents", () => {
    const langchain = [
      new SystemMessage("You are terse."),
      new HumanMessage("What is a second-price auction?"),
      new AIMessage("The winner pays the second-highest bid."),
      new ChatMessage("Agreed.", "critic"),
    ];
    const plain = [
      { role: "system", content: "You are terse." },
      { role: "user", content: "What is a second-price auction?" },
      { role: "assistant", content: "The winner pays the second-highest bid." },
      { role: "critic", content: "Agreed." },
    ];
    expect(countMessageTokens(langchain, "gpt-4o")).toBe(countMessageTokens(plain, "gpt-4o"));
    const named = new HumanMessage({ content: "New synergies will help drive top-line growth.", name: "example_user" });
    expect(countMessageTokens([named], "gpt-4o")).toBe(
      countMessageTokens(
        [{ role: "user", name: "example_user", content: "New synergies will help drive top-line growth." }],
        "gpt-4o",
      ),
    );
  });

  it("counts tool calls from their JSON and tool results as content", () => {
    const call = new AIMessage({
      content: "",
      tool_calls: [{ name: "search", args: { query: "Vickrey auction truthfulness" }, id: "call_1" }],
    });
    const withoutCalls = countMessageTokens([new AIMessage("")], "gpt-4o");
    const withCalls = countMessageTokens([call], "gpt-4o");
    expect(withCalls - withoutCalls).toBe(countTextTokens(JSON.stringify(call.tool_calls), "gpt-4o"));
    const result = new ToolMessage({ content: "William Vickrey, 1961", tool_call_id: "call_1" });
    expect(countMessageTokens([result], "gpt-4o")).toBe(
      REPLY_PRIMING_TOKENS + TOKENS_PER_MESSAGE + countTextTokens("tool") + countTextTokens("William Vickrey, 1961"),
    );
  });

  it("counts text blocks as text and an image as a fixed estimate, not its base64", () => {
    const image = `data:image/png;base64,${"A".repeat(100_000)}`;
    const message = new HumanMessage({
      content: [
        { type: "text", text: "What is in this picture?" },
        { type: "image_url", image_url: { url: image } },
      ],
    });
    const textOnly = countMessageTokens([new HumanMessage("What is in this picture?")], "gpt-4o");
    expect(countMessageTokens([message], "gpt-4o")).toBe(textOnly + IMAGE_TOKEN_ESTIMATE);
  });
});

describe("usageFromMessage", () => {
  const prompt = [new SystemMessage("Be brief."), new HumanMessage("hello world")];

  it("uses usage_metadata when the provider reports it", () => {
    const reply = new AIMessage({
      content: "Hi there!",
      usage_metadata: { input_tokens: 17, output_tokens: 4, total_tokens: 21 },
    });
    expect(usageFromMessage(reply, prompt, "gpt-4o")).toEqual({ inputTokens: 17, outputTokens: 4, estimated: false });
  });

  it("estimates with tiktoken, marked estimated, when usage_metadata is absent", () => {
    const reply = new AIMessage("Hi there!");
    expect(usageFromMessage(reply, prompt, "gpt-4o")).toEqual({
      inputTokens: countMessageTokens(prompt, "gpt-4o"),
      outputTokens: countTextTokens("Hi there!", "gpt-4o"),
      estimated: true,
    });
  });

  it("estimates when usage_metadata is all zeros for a non-empty reply (a provider that did not report)", () => {
    const reply = new AIMessage({
      content: "Hi there!",
      usage_metadata: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    });
    expect(usageFromMessage(reply, prompt, "gpt-4o").estimated).toBe(true);
    const empty = new AIMessage({
      content: "",
      usage_metadata: { input_tokens: 0, output_tokens: 0, total_tokens: 0 },
    });
    expect(usageFromMessage(empty, [], "gpt-4o")).toEqual({ inputTokens: 0, outputTokens: 0, estimated: false });
  });

  it("counts the tool calls of a reply as output", () => {
    const reply = new AIMessage({
      content: "",
      tool_calls: [{ name: "calculator", args: { expression: "2 + 2" }, id: "call_9" }],
    });
    const usage = usageFromMessage(reply, prompt, "gpt-4o");
    expect(usage.outputTokens).toBe(countOutputTokens(reply, "gpt-4o"));
    expect(usage.outputTokens).toBe(
      countTextTokens(JSON.stringify([{ name: "calculator", args: { expression: "2 + 2" } }]), "gpt-4o"),
    );
  });
});

describe("PromptTokenCounter", () => {
  /** Pieces that sit on or next to the tag boundaries where the counter cuts a text. */
  const PIECES = ["a", "é", "1", " ", "\n", "\n\n", "\r\n", "\t", ">", "<", "/", "'s", ">\n", ">\n\n", ">\n/", "> \n"];
  const MORE = ["日本", "🙂", "<|endoftext|>", "</plan>", '<plan id="A">\n', ">>\n", "\u200b", "\u00a0", "e\u0301"];
  const text = fc.array(fc.constantFrom(...PIECES, ...MORE), { maxLength: 40 }).map((pieces) => pieces.join(""));
  const MODELS = ["gpt-4o-mini", "gpt-3.5-turbo"];

  it("counts a text in parts exactly as countTextTokens counts it whole, in both encodings", () => {
    const counter = new PromptTokenCounter();
    fc.assert(
      fc.property(text, fc.constantFrom(...MODELS), (value, model) => {
        expect(partsOf(value).join("")).toBe(value);
        expect(counter.text(value, model)).toBe(countTextTokens(value, model));
        expect(counter.text(value, model)).toBe(countTextTokens(value, model)); // remembered
      }),
      { numRuns: 300, seed: 11 },
    );
  });

  it("counts messages exactly as countMessageTokens, names, tool calls and blocks included, call after call", () => {
    const counter = new PromptTokenCounter();
    fc.assert(
      fc.property(fc.array(text, { minLength: 1, maxLength: 4 }), fc.constantFrom(...MODELS), (texts, model) => {
        const messages = [
          new SystemMessage(texts[0] ?? ""),
          new HumanMessage({ content: texts[1] ?? "", name: "alice" }),
          new AIMessage({
            content: texts[2] ?? "",
            tool_calls: [{ name: "f", args: { a: 1 }, id: "1" }],
            usage_metadata: { input_tokens: 1, output_tokens: 7, total_tokens: 8 },
          }),
          new ToolMessage({ content: texts[3] ?? "", tool_call_id: "1" }),
          new HumanMessage({
            content: [
              { type: "text", text: texts[0] ?? "" },
              { type: "image_url", image_url: "x" },
            ],
          }),
        ];
        expect(counter.messages(messages, model)).toBe(countMessageTokens(messages, model));
        expect(counter.messages(messages, model)).toBe(countMessageTokens(messages, model));
      }),
      { numRuns: 100, seed: 5 },
    );
  });

  it("counts a message again after its content, tool calls or name was reassigned", () => {
    const counter = new PromptTokenCounter();
    const message = new AIMessage("hi");
    const history = [message];
    expect(counter.messages(history, "gpt-4o")).toBe(countMessageTokens(history, "gpt-4o"));
    message.content = "hi ".repeat(100);
    expect(counter.messages(history, "gpt-4o")).toBe(countMessageTokens(history, "gpt-4o"));
    message.tool_calls = [{ name: "search", args: { q: "auctions" }, id: "call_1" }];
    expect(counter.messages(history, "gpt-4o")).toBe(countMessageTokens(history, "gpt-4o"));
    message.name = "bidder";
    expect(counter.messages(history, "gpt-4o")).toBe(countMessageTokens(history, "gpt-4o"));
  });

  it("counts a system message and tool schemas like countMessageTokens and countToolTokens", () => {
    const counter = new PromptTokenCounter();
    const search = tool(async () => "", { name: "search", description: "Search", schema: z.object({ q: z.string() }) });
    expect(counter.systemMessage("Be brief.", "gpt-4o")).toBe(
      countMessageTokens([new SystemMessage("Be brief.")], "gpt-4o") - REPLY_PRIMING_TOKENS,
    );
    expect(counter.tools([search, "not a tool"], "gpt-4o")).toBe(countToolTokens([search], "gpt-4o"));
    expect(counter.tools([], "gpt-4o")).toBe(0);
  });

  it("with reportedOutputs, counts an answer whose provider reported its output as that many tokens", () => {
    const counter = new PromptTokenCounter({ reportedOutputs: true });
    const reported = new AIMessage({
      content: "A long answer.",
      usage_metadata: { input_tokens: 10, output_tokens: 42, total_tokens: 52 },
    });
    const unreported = new AIMessage("A long answer.");
    const role = countTextTokens("assistant", "gpt-4o");
    expect(counter.messages([reported], "gpt-4o")).toBe(REPLY_PRIMING_TOKENS + TOKENS_PER_MESSAGE + role + 42);
    expect(counter.messages([unreported], "gpt-4o")).toBe(countMessageTokens([unreported], "gpt-4o"));
  });

  it("with rememberIds, a history handed back as new objects with the same ids keeps its counts", () => {
    const counter = new PromptTokenCounter({ rememberIds: true });
    const history = [
      new HumanMessage({ content: "Weather in Paris?", id: "h1" }),
      new AIMessage({ content: "Sunny.", id: "a1" }),
    ];
    const first = counter.messages(history, "gpt-4o");
    expect(first).toBe(countMessageTokens(history, "gpt-4o"));
    const restored = [
      ...history.map((message) =>
        HumanMessage.isInstance(message)
          ? new HumanMessage({ content: message.content, id: message.id })
          : new AIMessage({ content: message.content, id: message.id }),
      ),
      new HumanMessage({ content: "And in Oslo?", id: "h2" }),
    ];
    expect(counter.messages(restored, "gpt-4o")).toBe(countMessageTokens(restored, "gpt-4o"));
    // The estimate it trades for speed: a message replaced under its id with content of the same length.
    const replaced = [new HumanMessage({ content: "Weather in Lille?", id: "h1" }), restored[1] as AIMessage];
    expect(counter.messages(replaced, "gpt-4o")).toBe(first);
  });
});
