/**
 * Recorded runs built in a temporary folder for the run-by-run tests: run A has 2 agents and 8
 * questions, run B 3 agents and 4 questions, and their agents are right on different questions, so
 * the two runs' accuracies differ and a pooled or unweighted sum would show.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** One arithmetic question of `agents` agents over 2 rounds; agent `wrong` answers gold + 1 throughout. */
function question(run: string, index: number, agents: number, wrong: ReadonlySet<number>): Record<string, unknown> {
  const gold = 10 + index;
  const texts = (agent: number) => {
    const answer = wrong.has(agent) ? gold + 1 : gold;
    return [`I think the answer is ${answer}`, `After reading the others, the answer is ${answer}`];
  };
  return {
    id: `${run}-q${index}`,
    task: "arithmetic",
    question: `What is ${gold} + 0?`,
    gold,
    agents: Array.from({ length: agents }, (_, agent) => texts(agent)),
  };
}

/** Run A: 2 agents, 8 questions; on odd questions both agents are wrong. */
export const runA = Array.from({ length: 8 }, (_, index) =>
  question("a", index, 2, new Set(index % 2 === 1 ? [0, 1] : [])),
);

/** Run B: 3 agents, 4 questions; agent 3 is always wrong, the majority always right. */
export const runB = Array.from({ length: 4 }, (_, index) => question("b", index, 3, new Set([2])));

const lines = (records: readonly object[]) => `${records.map((record) => JSON.stringify(record)).join("\n")}\n`;

/**
 * A folder `runs/` with `a.jsonl` (run A) and `b.jsonl` (run B), plus files a folder replay must skip:
 * `notes.txt` and `nested/c.jsonl` (not directly in the folder); and an empty folder `empty/` holding
 * only `readme.md`.
 */
export function writeRuns(): { root: string; runs: string; a: string; b: string; empty: string } {
  const root = mkdtempSync(join(tmpdir(), "gavel-debate-runs-"));
  const runs = join(root, "runs");
  mkdirSync(join(runs, "nested"), { recursive: true });
  writeFileSync(join(runs, "b.jsonl"), lines(runB));
  writeFileSync(join(runs, "a.jsonl"), lines(runA));
  writeFileSync(join(runs, "notes.txt"), "not a run\n");
  writeFileSync(join(runs, "nested", "c.jsonl"), "not read\n");
  const empty = join(root, "empty");
  mkdirSync(empty);
  writeFileSync(join(empty, "readme.md"), "no runs here\n");
  return { root, runs, a: join(runs, "a.jsonl"), b: join(runs, "b.jsonl"), empty };
}
