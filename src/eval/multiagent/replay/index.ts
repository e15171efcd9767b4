/**
 * Recorded-debate replay: compare Gavel's stopping and aggregation rules with the recorded full
 * multi-agent debate under a token-budget sweep, without calling any model. See docs/debate-replay.md.
 *
 * @example
 * ```ts
 * import { createHashingEmbeddings, loadDebateRecords, replayDebates } from "langchain-gavel/eval";
 *
 * const debates = await loadDebateRecords("data/debates/sample.jsonl");
 * const report = await replayDebates({ debates, embeddings: createHashingEmbeddings() });
 * console.table(report.rows);
 * ```
 */
export {
  DEBATE_TASKS,
  type DebateRecord,
  type DebateTask,
  debateRecordSchema,
  isCorrectAnswer,
  loadDebateRecords,
  parseDebateAnswer,
  parseDebateRecords,
} from "./records.js";
export {
  DEFAULT_DEBATE_BUDGETS,
  DEFAULT_TRAIN_FRACTION,
  type DebateReplayReport,
  type DebateReplayRow,
  fitReliability,
  type ReplayDebatesOptions,
  replayDebates,
  replayDebatesOptionsSchema,
  splitDebates,
} from "./replay.js";
export {
  DEBATE_REPLAY_RULES,
  type DebateReplayRule,
  FULL_DEBATE,
  type PreparedDebate,
  type PreparedRound,
  type QuestionReplay,
  type ReplayStopReason,
  type RuleContext,
  replayDebate,
  replayFullDebate,
} from "./rules.js";
export {
  type DebateEmbedderKind,
  type DebateReplayRun,
  type DebateReplaySeams,
  runDebateReplay,
} from "./run.js";
