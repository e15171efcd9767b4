/**
 * Reports and metrics: the `EvalReport` every run produces (`results.ts`), the metrics it is built
 * from (pure functions, `metrics.ts`), and its renderers — `report.json`, a Markdown table
 * (`report.md`), a Pareto plot (`pareto.svg`, vega-lite rendered offline; vega is an optional peer)
 * and a self-contained `report.html`. The renderers are pure functions returning strings;
 * {@link writeReport} writes the folder. See docs/reports.md and docs/evaluation.md.
 *
 * The public surface of the folder; formatting and escaping helpers stay inside it.
 */
export { renderHtml } from "./html.js";
export { renderMarkdown } from "./markdown.js";
export {
  averagePerformanceGapRecovered,
  bestRandomMixtureAtCost,
  type CostAccuracyPoint,
  callPerformanceThreshold,
  costEfficiency,
  type Decisions,
  dearestModel,
  evaluateDecisions,
  type GapRecoveredPoint,
  gapRecoveredCurve,
  operatingPointFromDecisions,
  operatingPointsFromCosts,
  operatingPointsFromScores,
  oracle,
  oracleChoice,
  type ParetoAreaOptions,
  type PerformanceGap,
  type PolicyEvaluation,
  type PolicyOptions,
  paretoArea,
  paretoFrontier,
  performanceGapRecovered,
  type RandomMixtureResult,
  type RunSummary,
  randomMixtureAtCost,
  type ServedRequest,
  type StaticChoiceResult,
  type StrongSharePoint,
  singleModelBaselines,
  splitPromptIds,
  staticPerTaskChoice,
  summarizeRun,
  type WeakStrongCurve,
} from "./metrics.js";
export {
  type ParetoPlotData,
  paretoPlotData,
  paretoPlotSpec,
  renderParetoSvg,
} from "./plot.js";
export type { EvalReport, LeaveOutRow, OperatingPoint, PolicyResult } from "./results.js";
export {
  datasetTable,
  kindOf,
  leaveOutTable,
  operatingPointsTable,
  type ReportTable,
  routerMetricsTable,
  targetsTable,
} from "./tables.js";
export {
  checkReportFolder,
  evalReportSchema,
  OVERWRITE_FLAG,
  REPORT_FILES,
  readReport,
  renderJson,
  renderReportFiles,
  type WriteReportOptions,
  type WrittenReport,
  writeReport,
} from "./write.js";
