/**
 * Evaluation reports: from an `EvalReport`, `report.json`, a Markdown table (`report.md`), a Pareto
 * plot (`pareto.svg`, vega-lite rendered offline) and a self-contained `report.html`. The renderers are
 * pure functions returning strings; {@link writeReport} writes the folder. See docs/reports.md.
 */
export { escapeHtml, renderHtml } from "./html.js";
export { markdownTable, renderMarkdown } from "./markdown.js";
export {
  FRONTIER_SERIES,
  LAYER_NAMES,
  type ParetoPlotData,
  paretoPlotData,
  paretoPlotSpec,
  RANDOM_SERIES,
  renderParetoSvg,
} from "./plot.js";
export {
  datasetTable,
  displayName,
  formatAccuracy,
  formatShare,
  formatUsdSmall,
  formatUsdTotal,
  operatingPointsTable,
  type ReportTable,
  routerMetricsTable,
  singleModelPoint,
  targetsTable,
} from "./tables.js";
export {
  EvalReportSchema,
  REPORT_FILES,
  readReport,
  renderJson,
  renderReportFiles,
  type WrittenReport,
  writeReport,
} from "./write.js";
