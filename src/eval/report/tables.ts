/**
 * The report's tables as plain data (a title, a header, rows of strings), built once from an
 * `EvalReport` and rendered by both the Markdown and the HTML writer, so the two never disagree.
 *
 * Read top to bottom: number formats, the strong model's reference point, then one builder per table.
 */
import type { EvalReport, OperatingPoint, PolicyResult } from "./results.js";

/** One table of the report: a caption, a header, rows of cells, and which columns align right. */
export interface ReportTable {
  /** Short heading, e.g. `Operating points`. */
  title: string;
  /** One sentence under the heading saying what the table shows. */
  caption: string;
  head: string[];
  rows: string[][];
  /** Indexes of numeric columns, aligned right. */
  alignRight: number[];
}

// ---------------------------------------------------------------------------------------------
// Number formats
// ---------------------------------------------------------------------------------------------

/** `0.8803` → `0.880`. */
export function formatAccuracy(value: number): string {
  return value.toFixed(3);
}

/** `0.2345` → `23.5%`. */
export function formatShare(value: number): string {
  return `${(value * 100).toFixed(1)}%`;
}

/** A total in USD with four decimals: `$5.5671`. */
export function formatUsdTotal(value: number): string {
  return `$${value.toFixed(4)}`;
}

/** A small USD amount with three significant digits: `$0.00502`, `$0.0000812`. */
export function formatUsdSmall(value: number): string {
  return `$${Number(value.toPrecision(3))}`;
}

/** `1234` → `1,234`. */
export function formatInteger(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** A metric that may be undefined: `—` when it is. */
export function formatOptional(value: number | undefined, format: (value: number) => string): string {
  return value === undefined || !Number.isFinite(value) ? "—" : format(value);
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

/** Name prefix of single-model baselines, e.g. `single:gpt-4-1106-preview`. */
export const SINGLE_MODEL_PREFIX = "single:";

/** The display name of a policy: single-model baselines lose their `single:` prefix. */
export function displayName(policy: Pick<PolicyResult, "name">): string {
  return policy.name.startsWith(SINGLE_MODEL_PREFIX) ? policy.name.slice(SINGLE_MODEL_PREFIX.length) : policy.name;
}

/**
 * The single-model baseline of `model` (its first point): `single:<model>`, or a policy named exactly `model`.
 * `undefined` when the report has no such baseline.
 */
export function singleModelPoint(report: EvalReport, model: string): OperatingPoint | undefined {
  const policy =
    report.policies.find((candidate) => candidate.name === `${SINGLE_MODEL_PREFIX}${model}`) ??
    report.policies.find((candidate) => candidate.name === model);
  return policy?.points[0];
}

// ---------------------------------------------------------------------------------------------
// The tables
// ---------------------------------------------------------------------------------------------

/** `router (batch)`, `router (online)`, `baseline`: a policy's kind, with a router's protocol. */
export function kindOf(policy: Pick<PolicyResult, "kind" | "protocol">): string {
  return policy.protocol === undefined ? policy.kind : `${policy.kind} (${policy.protocol})`;
}

/** Every policy's every operating point: quality, cost, share of the strong model's cost, calls. */
export function operatingPointsTable(report: EvalReport): ReportTable {
  const strong = singleModelPoint(report, report.strongModel);
  const rows: string[][] = [];
  for (const policy of report.policies) {
    for (const point of policy.points) {
      rows.push([
        displayName(policy),
        kindOf(policy),
        point.label,
        formatAccuracy(point.accuracy),
        strong && strong.accuracy > 0 ? formatShare(point.accuracy / strong.accuracy) : "—",
        formatUsdTotal(point.costUsd),
        formatUsdSmall(point.meanCostUsd),
        strong && strong.meanCostUsd > 0 ? formatShare(point.meanCostUsd / strong.meanCostUsd) : "—",
        formatInteger(point.calls),
        formatShare(point.largestModelShare),
        formatInteger(point.prompts),
      ]);
    }
  }
  return {
    title: "Operating points",
    caption: `Every policy at every operating point on the held-out prompts; shares are relative to ${report.strongModel} alone.`,
    head: [
      "policy",
      "kind",
      "point",
      "accuracy",
      "% strong acc.",
      "USD total",
      "USD / prompt",
      "% strong cost",
      "calls",
      "largest-model share",
      "prompts",
    ],
    rows,
    alignRight: [3, 4, 5, 6, 7, 8, 9, 10],
  };
}

/** The RouteLLM measures and the Pareto area of every policy that has them (routers first). */
export function routerMetricsTable(report: EvalReport): ReportTable {
  const measured = report.policies
    .filter((policy) => policy.metrics !== undefined)
    .sort((left, right) => (left.kind === right.kind ? 0 : left.kind === "router" ? -1 : 1));
  return {
    title: "Router measures",
    caption: `APGR and CPT against ${report.weakModel} (weak) and ${report.strongModel} (strong); CPT(x%) is the share of calls to the strong model needed to recover x% of their accuracy gap (random routing: APGR 0.5, CPT(x%) = x%). Pareto area is the mean best accuracy reachable over the cost range.`,
    head: ["policy", "kind", "points", "APGR", "CPT(50%)", "CPT(80%)", "Pareto area"],
    rows: measured.map((policy) => [
      displayName(policy),
      kindOf(policy),
      formatInteger(policy.points.length),
      formatOptional(policy.metrics?.apgr, (value) => value.toFixed(3)),
      formatOptional(policy.metrics?.cpt50, formatShare),
      formatOptional(policy.metrics?.cpt80, formatShare),
      formatOptional(policy.metrics?.paretoArea, (value) => value.toFixed(3)),
    ]),
    alignRight: [2, 3, 4, 5, 6],
  };
}

/** The targets and their verdicts. */
export function targetsTable(report: EvalReport): ReportTable {
  return {
    title: "Targets",
    caption: "Each target checked on the held-out prompts.",
    head: ["target", "verdict", "detail"],
    rows: (report.targets ?? []).map((target) => [target.description, target.met ? "met" : "NOT met", target.detail]),
    alignRight: [],
  };
}

/** What was evaluated: data, split, models, reference pair. */
export function datasetTable(report: EvalReport): ReportTable {
  const { dataset } = report;
  return {
    title: "Data",
    caption: "What was evaluated and how it was split.",
    head: ["item", "value"],
    rows: [
      ["data set", dataset.name],
      ["source", dataset.source],
      ["split", dataset.split],
      ["training prompts", formatInteger(dataset.trainPrompts)],
      ["held-out prompts", formatInteger(dataset.testPrompts)],
      [`models (${dataset.models.length})`, dataset.models.join(", ")],
      ["strong / weak model", `${report.strongModel} / ${report.weakModel}`],
      ["created", report.createdAt],
    ],
    alignRight: [],
  };
}

/**
 * A leave-one-dataset-out run: per held-out dataset, the strong and weak accuracy, each router's share
 * of strong-model calls for the target share of the strong accuracy, and random routing's share.
 */
export function leaveOutTable(report: EvalReport): ReportTable {
  const rows = report.leaveOut ?? [];
  const routers = [...new Set(rows.flatMap((row) => Object.keys(row.shares)))];
  const target = rows[0]?.target ?? 0.95;
  return {
    title: "Leave one dataset out",
    caption: `Trained on the other datasets, the held-out one streamed online over ${report.strongModel} and ${report.weakModel}: the share of ${report.strongModel} calls each router needs for ${Math.round(target * 100)}% of its accuracy (interpolated along the λ sweep), and random routing's.`,
    head: [
      "dataset",
      "prompts",
      `${report.strongModel} acc.`,
      `${report.weakModel} acc.`,
      ...routers.map((name) => `${name} share`),
      "random share",
    ],
    rows: rows.map((row) => [
      row.dataset,
      formatInteger(row.prompts),
      formatAccuracy(row.strongAccuracy),
      formatAccuracy(row.weakAccuracy),
      ...routers.map((name) => formatOptional(row.shares[name], formatShare)),
      formatShare(row.randomShare),
    ]),
    alignRight: Array.from({ length: 4 + routers.length }, (_, index) => index + 1),
  };
}
