/**
 * The conversation as the auction shows it to bidders and jurors, and the task it is keyed by in
 * the memory and the ledger. Pure functions.
 */
import type { BaseMessage } from "@langchain/core/messages";

/** Most characters of the conversation shown to bidders and jurors. */
const TRANSCRIPT_LIMIT = 6_000;

/** The conversation as plain text (role: content), the most recent part when it is long. */
export function transcriptOf(messages: readonly BaseMessage[]): string {
  const lines = messages.map((message) => {
    const role = message.type === "human" ? "user" : message.type === "ai" ? "assistant" : message.type;
    const calls =
      "tool_calls" in message && Array.isArray(message.tool_calls) && message.tool_calls.length > 0
        ? ` [tool calls: ${message.tool_calls.map((toolCall: { name: string }) => toolCall.name).join(", ")}]`
        : "";
    return `${role}: ${message.text}${calls}`;
  });
  const text = lines.length === 1 && messages[0]?.type === "human" ? messages[0].text : lines.join("\n");
  return text.length > TRANSCRIPT_LIMIT ? text.slice(text.length - TRANSCRIPT_LIMIT) : text;
}

/** The text of the last human message (the task key of the memory and the ledger). */
export function lastHumanText(messages: readonly BaseMessage[]): string {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index] as BaseMessage;
    if (message.type === "human") return message.text;
  }
  return messages.at(-1)?.text ?? "";
}
