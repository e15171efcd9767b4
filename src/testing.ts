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
 * The conformance suites of the storage interfaces, in the spirit of LangGraph's checkpointer
 * validation: a backend author runs a suite from a test file through a tiny setup,
 * `{ name, create, destroy? }`, the same shape for every suite.
 * - `describeLedgerWriterConformance`: a `LedgerWriter`, checked through what the writer answers
 *   (a backend with only the writer runs it); `describeLedgerReaderConformance`: a `LedgerReader`,
 *   reading back what the same backend's writer recorded; `describeAuctionLedgerConformance`: both.
 * - `describeStrategyMemoryConformance`: a `StrategyMemory`.
 *
 * The suites need vitest (an optional peer of langchain-gavel), which they import when they are
 * described, so importing this entry point never loads vitest: it works in a plain Node process,
 * under Jest, or in an app without vitest installed. The suites are therefore async; await them at
 * the top level of a test file.
 *
 * Everything here lives in `src/testing/`; no other entry point loads it.
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
 * @example
 * ```ts
 * // tests/ledger.test.ts of a ledger backend
 * import { describeAuctionLedgerConformance } from "langchain-gavel/testing";
 * import { createMyLedger } from "../src/index.js";
 *
 * await describeAuctionLedgerConformance({
 *   name: "my ledger",
 *   create: ({ key }) => createMyLedger({ database: key }),
 *   destroy: async (ledger, { key }) => {
 *     await ledger.close();
 *     await dropDatabase(key);
 *   },
 * });
 * ```
 *
 * @packageDocumentation
 */

export {
  type BudgetStoreConformanceSetup,
  describeBudgetStoreConformance,
} from "./testing/budget-store-conformance.js";
export type {
  ConformanceContext,
  ConformanceSetup,
} from "./testing/conformance.js";
export {
  createSampleOutcome,
  describeAuctionLedgerConformance,
  describeLedgerReaderConformance,
  describeLedgerWriterConformance,
  type LedgerConformanceSetup,
  type SampleBid,
} from "./testing/ledger-conformance.js";
export {
  createManualClock,
  describeStrategyMemoryConformance,
  type StrategyMemoryConformanceContext,
  type StrategyMemoryConformanceSetup,
  type StrategyMemoryPersistence,
} from "./testing/memory-conformance.js";
export {
  createScriptedRecorder,
  type ScriptedCall,
  ScriptedChatModel,
  type ScriptedChatModelCallOptions,
  type ScriptedChatModelFields,
  type ScriptedRecorder,
  type ScriptedReply,
  type ScriptedResponder,
  type ScriptedToolCall,
  type ScriptedTurn,
} from "./testing/scripted-chat-model.js";
export { ScriptedHashingEmbeddings } from "./testing/scripted-embeddings.js";
