/**
 * `report.html`: one self-contained page — inline CSS, the Pareto plot's SVG inlined, the tables,
 * the notes and the configuration. No scripts, no external stylesheets, fonts, images or links, so it
 * opens the same from a laptop, an e-mail attachment or an air-gapped machine.
 */
import { GAVEL_MARKER_META } from "./marker.js";
import type { EvalReport } from "./results.js";
import {
  datasetTable,
  leaveOutTable,
  operatingPointsTable,
  type ReportTable,
  routerMetricsTable,
  targetsTable,
} from "./tables.js";

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2rem auto; max-width: 1200px; padding: 0 1rem; color: #222; line-height: 1.4; }
h1 { font-size: 1.6rem; margin-bottom: 0.2rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; }
p.caption { color: #555; margin: 0.3rem 0 0.6rem; font-size: 0.92rem; }
table { border-collapse: collapse; font-size: 0.88rem; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; vertical-align: top; }
th { text-align: left; background: #f6f6f6; border-bottom: 1px solid #ccc; }
td.number, th.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.router td:first-child { font-weight: 600; }
.met { color: #17702c; font-weight: 600; white-space: nowrap; }
.missed { color: #b00020; font-weight: 600; white-space: nowrap; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.82rem; }
`;

function htmlTable(table: ReportTable, rowClass?: (row: string[]) => string | undefined): string {
  const headCells = table.head
    .map((text, index) => `<th${table.alignRight.includes(index) ? ' class="number"' : ""}>${escapeHtml(text)}</th>`)
    .join("");
  const rows = table.rows.map((row) => {
    const cells = row
      .map((text, index) => {
        const classes: string[] = [];
        if (table.alignRight.includes(index)) classes.push("number");
        if (text === "met") classes.push("met");
        if (text === "NOT met") classes.push("missed");
        const attribute = classes.length > 0 ? ` class="${classes.join(" ")}"` : "";
        return `<td${attribute}>${escapeHtml(text)}</td>`;
      })
      .join("");
    const extra = rowClass?.(row);
    return `<tr${extra === undefined ? "" : ` class="${extra}"`}>${cells}</tr>`;
  });
  return `<table>\n<thead><tr>${headCells}</tr></thead>\n<tbody>\n${rows.join("\n")}\n</tbody>\n</table>`;
}

function section(table: ReportTable, rowClass?: (row: string[]) => string | undefined): string {
  return `<section>\n<h2>${escapeHtml(table.title)}</h2>\n<p class="caption">${escapeHtml(table.caption)}</p>\n${htmlTable(table, rowClass)}\n</section>`;
}

/** Remove the XML declaration and any script from an SVG before inlining it. */
function inlineSvg(svg: string): string {
  return svg
    .replace(/<\?xml[^>]*\?>/g, "")
    .replace(/<script[\s\S]*?<\/script>/gi, "")
    .trim();
}

/**
 * Render a report as one self-contained HTML page.
 *
 * @param report - The evaluation run.
 * @param svg - The Pareto plot from {@link renderParetoSvg}, inlined as is (omit for no plot).
 * @returns The HTML document.
 * @example
 * ```ts
 * const html = renderHtml(report, await renderParetoSvg(report));
 * ```
 */
export function renderHtml(report: EvalReport, svg?: string): string {
  const sections: string[] = [];
  sections.push(section(datasetTable(report)));
  if (report.targets !== undefined && report.targets.length > 0) sections.push(section(targetsTable(report)));
  if (report.leaveOut !== undefined && report.leaveOut.length > 0) sections.push(section(leaveOutTable(report)));
  if (svg !== undefined) {
    sections.push(
      `<section>\n<h2>Pareto plot</h2>\n<p class="caption">Accuracy against mean USD per prompt (log scale). Lines: routers over their sweep; dashed: random routing between ${escapeHtml(report.weakModel)} and ${escapeHtml(report.strongModel)}; wide grey: the Pareto frontier of the routers; diamonds: baselines.</p>\n<figure>${inlineSvg(svg)}</figure>\n</section>`,
    );
  }
  const metrics = routerMetricsTable(report);
  if (metrics.rows.length > 0)
    sections.push(section(metrics, (row) => (row[1]?.startsWith("router") ? "router" : undefined)));
  sections.push(section(operatingPointsTable(report), (row) => (row[1]?.startsWith("router") ? "router" : undefined)));
  if (report.notes !== undefined && report.notes.length > 0) {
    sections.push(
      `<section>\n<h2>Notes</h2>\n<ul>\n${report.notes.map((note) => `<li>${escapeHtml(note)}</li>`).join("\n")}\n</ul>\n</section>`,
    );
  }
  if (report.config !== undefined) {
    sections.push(
      `<section>\n<h2>Configuration</h2>\n<pre>${escapeHtml(JSON.stringify(report.config, null, 2))}</pre>\n</section>`,
    );
  }
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${GAVEL_MARKER_META}
<title>${escapeHtml(report.title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(report.title)}</h1>
<p class="caption">Created ${escapeHtml(report.createdAt)} · ${escapeHtml(report.dataset.name)} · ${report.dataset.testPrompts.toLocaleString("en-US")} held-out prompts</p>
${sections.join("\n")}
</body>
</html>
`;
}
