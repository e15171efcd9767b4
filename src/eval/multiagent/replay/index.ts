/**
 * Recorded-debate replay: replay the gated debate and Gavel's stopping and aggregation rules on
 * recorded multi-agent debates under a token-budget sweep, beside baselines (one agent, round-0
 * majority, ECON, the full debate), without calling any model. See docs/debate-replay.md.
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
  DEBATE_RECORD_KEYS,
  DEBATE_TASKS,
  type DebateRecord,
  type DebateRun,
  type DebateTask,
  debateRecordSchema,
  isCorrectAnswer,
  loadDebateRecords,
  loadDebateRun,
  parseDebateAnswer,
  parseDebateRecords,
  parseDebateRun,
} from "./records.js";
export {
  DEFAULT_DEBATE_BUDGETS,
  DEFAULT_TRAIN_FRACTION,
  type DebateReplayReport,
  type DebateReplayRow,
  type DebateReplayTarget,
  debateReplayTargets,
  fitReliability,
  gatedSettingsSchema,
  type ReplayDebatesOptions,
  replayDebates,
  replayDebatesOptionsSchema,
  splitDebates,
  TARGET_ACCURACY_GAP,
  TARGET_BUDGET_RANGE,
  TARGET_TOKEN_SHARE,
} from "./replay.js";
export {
  DEBATE_BASELINES,
  DEBATE_REPLAY_RULES,
  DEFAULT_GATED_SETTINGS,
  type DebateBaseline,
  type DebateReplayRowName,
  type DebateReplayRule,
  FULL_DEBATE,
  type GatedSettings,
  type PreparedDebate,
  type PreparedRound,
  type QuestionReplay,
  type ReplayStopReason,
  type RuleContext,
  replayBaseline,
  replayDebate,
  replayFullDebate,
  rowKind,
} from "./rules.js";
export {
  type DebateEmbedderKind,
  type DebateReplayRun,
  type DebateReplaySeams,
  runDebateReplay,
} from "./run.js";
export {
  type DebateRunReplay,
  type DebateRunsProgress,
  type DebateRunsReport,
  loadDebateRuns,
  replayDebateRuns,
  resolveDebateFiles,
  sumDebateReplayRows,
} from "./runs.js";
export {
  DEFAULT_TUNING_RESERVE_PRICES,
  type GatedTuningOptions,
  gatedTuningOptionsSchema,
  type TunedGating,
  tuneGating,
} from "./tune.js";
