/**
 * `report.md`: the report as GitHub-flavoured Markdown — the data, the targets with their verdicts,
 * the router measures, every operating point, the notes, and a link to the plot beside it.
 */
import { GAVEL_MARKER_COMMENT } from "./marker.js";
import type { EvalReport } from "./results.js";
import {
  datasetTable,
  leaveOutTable,
  operatingPointsTable,
  type ReportTable,
  routerMetricsTable,
  targetsTable,
} from "./tables.js";

/** A table cell: pipes escaped, line breaks flattened. */
function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ");
}

/** One {@link ReportTable} as a Markdown table (right-aligned numeric columns). */
export function markdownTable(table: ReportTable): string {
  const header = `| ${table.head.map(cell).join(" | ")} |`;
  const rule = `| ${table.head.map((_, index) => (table.alignRight.includes(index) ? "---:" : "---")).join(" | ")} |`;
  const rows = table.rows.map((row) => `| ${row.map(cell).join(" | ")} |`);
  return [header, rule, ...rows].join("\n");
}

function section(table: ReportTable): string {
  return `## ${table.title}\n\n${table.caption}\n\n${markdownTable(table)}\n`;
}

/**
 * Render a report as Markdown.
 *
 * @param report - The evaluation run.
 * @param options.plotFile - File name of the Pareto plot to link (default `pareto.svg`; `null` for none).
 * @returns The Markdown text, ending with a newline.
 * @example
 * ```ts
 * const markdown = renderMarkdown(report);
 * await writeFile("report.md", markdown);
 * ```
 */
export function renderMarkdown(report: EvalReport, options: { plotFile?: string | null } = {}): string {
  const { plotFile = "pareto.svg" } = options;
  const parts = [`# ${report.title}\n`];
  parts.push(section(datasetTable(report)));
  if (report.targets !== undefined && report.targets.length > 0) parts.push(section(targetsTable(report)));
  if (report.leaveOut !== undefined && report.leaveOut.length > 0) parts.push(section(leaveOutTable(report)));
  const metrics = routerMetricsTable(report);
  if (metrics.rows.length > 0) parts.push(section(metrics));
  parts.push(section(operatingPointsTable(report)));
  if (plotFile !== null) {
    parts.push(`## Pareto plot\n\nAccuracy against mean USD per prompt (log scale).\n\n![Pareto plot](${plotFile})\n`);
  }
  if (report.notes !== undefined && report.notes.length > 0) {
    parts.push(`## Notes\n\n${report.notes.map((note) => `- ${note.replace(/\r?\n/g, " ")}`).join("\n")}\n`);
  }
  if (report.config !== undefined) {
    parts.push(`## Configuration\n\n\`\`\`json\n${JSON.stringify(report.config, null, 2)}\n\`\`\`\n`);
  }
  // Invisible when rendered; tells a later run that this file is Gavel's to replace.
  parts.push(`${GAVEL_MARKER_COMMENT}\n`);
  return parts.join("\n");
}
