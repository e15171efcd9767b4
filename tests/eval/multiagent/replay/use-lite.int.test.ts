/** The replay with the real offline sentence encoder (USE-Lite) behind econ-commitment. */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { UniversalSentenceEncoderEmbeddings } from "../../../../adapters/encoder/universal-sentence-encoder.js";
import { FULL_DEBATE, loadDebateRecords, replayDebates } from "../../../../src/eval/multiagent/replay/index.js";

const samplePath = join(import.meta.dirname, "..", "..", "..", "..", "data", "debates", "sample.jsonl");

describe("econ-commitment with USE-Lite on the sample file", () => {
  it("replays within budget and stops some debates on a stable commitment", async () => {
    const debates = await loadDebateRecords(samplePath);
    const report = await replayDebates({
      debates,
      budgets: [512, 2048],
      rules: ["econ-commitment"],
      embeddings: new UniversalSentenceEncoderEmbeddings(),
    });
    for (const { budget, rule, questions } of report.replays) {
      if (rule === FULL_DEBATE) continue;
      for (const question of questions) expect(question.tokens).toBeLessThanOrEqual(budget);
    }
    const econ = report.rows.find((row) => row.budget === 2048 && row.rule === "econ-commitment");
    const full = report.rows.find((row) => row.budget === 2048 && row.rule === FULL_DEBATE);
    expect(econ?.stoppedByRuleShare).toBeGreaterThan(0);
    expect(econ?.meanTokens).toBeLessThan(full?.meanTokens ?? 0);
  }, 120_000);
});
