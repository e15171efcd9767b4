/**
 * langchain-gavel/testing — test doubles for unit tests of apps built on Gavel, in the spirit of
 * LangChain's `@langchain/core/utils/testing` (`FakeListChatModel`).
 *
 * `ScriptedChatModel` is a chat model that answers from a script instead of a language model. It
 * records every call it receives (messages, bound tool names, output cap), reports
 * `usage_metadata` like a provider (counted with the real tokenizer unless the script gives the
 * usage; `usage: null` reports none), honours `maxTokens` like a provider's `max_tokens`, and
 * supports `bindTools` and tool calls, so a real `createAgent` loop, `tokenBudgetMiddleware`, the
 * router and the debate run on it offline. Copies a middleware makes of it (for example the capped
 * copy `tokenBudgetMiddleware` makes of a model without `maxTokens`) share its script and its
 * calls; pass one `ScriptedRecorder` to several models to see all their calls in order.
 *
 * It is a test double: nothing it produces is a measurement of any model, so no accuracy, cost or
 * token figure obtained with it may be reported as one. See docs/testing.md.
 *
 * This second entry point re-exports an adapter, so, like the main entry point (`src/index.ts`), it
 * is one of the files of `src/` allowed to import from `adapters/` (tests/architecture.test.ts).
 *
 * @example
 * ```ts
 * import { createAgent } from "langchain";
 * import { tokenBudgetMiddleware } from "langchain-gavel";
 * import { ScriptedChatModel } from "langchain-gavel/testing";
 *
 * const model = new ScriptedChatModel({
 *   model: "gpt-4o-mini",
 *   maxTokens: 256,
 *   replies: ["The answer is 42."],
 * });
 * const agent = createAgent({
 *   model,
 *   tools: [],
 *   middleware: [tokenBudgetMiddleware({ runLimit: { maxTokens: 2_000 }, exitBehavior: "end" })],
 * });
 * const result = await agent.invoke({ messages: [{ role: "user", content: "6 × 7?" }] });
 * result.messages.at(-1)?.text; // "The answer is 42."
 * model.calls.length; // 1
 * model.calls[0]?.maxTokens; // 256
 * ```
 *
 * @packageDocumentation
 */

export {
  type ScriptedCall,
  ScriptedChatModel,
  type ScriptedChatModelCallOptions,
  type ScriptedChatModelFields,
  ScriptedRecorder,
  type ScriptedReply,
  type ScriptedResponder,
  type ScriptedToolCall,
  type ScriptedTurn,
} from "../adapters/testing/scripted.js";
