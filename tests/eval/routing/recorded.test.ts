import { describe, expect, it } from "vitest";
import { indexOutcomes, type OutcomeRecord } from "../../../src/eval/data/outcomes.js";
import {
  createRecordedPool,
  RecordedChatModel,
  RecordedUnavailableError,
} from "../../../src/eval/routing/recorded-model.js";

const records: OutcomeRecord[] = [
  {
    prompt_id: "p1",
    prompt: "What is 2 + 3?",
    eval_name: "math",
    model: "small",
    correct: 0,
    cost_usd: 0.001,
    response: "6",
  },
  {
    prompt_id: "p1",
    prompt: "What is 2 + 3?",
    eval_name: "math",
    model: "large",
    correct: 1,
    cost_usd: 0.01,
    response: "5",
    input_tokens: 12,
    output_tokens: 1,
  },
  {
    prompt_id: "p2",
    prompt: "Capital of France?",
    eval_name: "qa",
    model: "large",
    correct: 1,
    cost_usd: 0.02,
    response: "Paris",
  },
];
const index = indexOutcomes(records);

describe("RecordedChatModel", () => {
  it("replays the recorded answer of the last human message, with recorded usage and cost", async () => {
    const large = new RecordedChatModel({ model: "large", index });
    const reply = await large.invoke([
      ["system", "be brief"],
      ["human", "What is 2 + 3?"],
    ]);
    expect(reply.content).toBe("5");
    expect(reply.usage_metadata).toEqual({ input_tokens: 12, output_tokens: 1, total_tokens: 13 });
    expect(reply.response_metadata.cost_usd).toBe(0.01);
    expect(reply.response_metadata.estimatedUsage).toBe(false);
  });

  it("finds the prompt by metadata.prompt_id and counts tokens when none were recorded", async () => {
    const pool = createRecordedPool({ index });
    expect(Object.keys(pool).sort()).toEqual(["large", "small"]);
    const reply = await pool.small?.invoke("anything", { metadata: { prompt_id: "p1" } });
    expect(reply?.content).toBe("6");
    expect(reply?.usage_metadata?.input_tokens).toBeGreaterThan(0);
    expect(reply?.usage_metadata?.output_tokens).toBe(1);
    expect(reply?.response_metadata.estimatedUsage).toBe(true);
    expect(reply?.response_metadata.cost_usd).toBe(0.001);
  });

  it("throws RecordedUnavailableError for a missing (prompt, model) pair and for an unknown prompt", async () => {
    const small = new RecordedChatModel({ model: "small", index });
    const missing = await small.invoke("Capital of France?").catch((error: unknown) => error);
    expect(RecordedUnavailableError.isInstance(missing)).toBe(true);
    expect(missing).toMatchObject({ model: "small", promptId: "p2", reason: "no_record" });
    const unknown = await small.invoke("Never recorded").catch((error: unknown) => error);
    expect(unknown).toMatchObject({ name: "RecordedUnavailableError", reason: "unknown_prompt" });
  });
});
