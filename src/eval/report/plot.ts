/**
 * `pareto.svg`: accuracy against mean USD per prompt (log scale), drawn with vega-lite and rendered
 * to SVG by vega, offline (no canvas, no browser, no network).
 *
 * What is drawn, back to front:
 * - the Pareto frontier of the routers' points (a wide grey step line: the best accuracy reachable at
 *   each cost by some router setting);
 * - random routing between the weak and the strong model (dashed: a mixture sending share p of the
 *   prompts to the strong model costs and scores the linear interpolation of the two);
 * - one line per router through its operating points (λ or budget sweep), and one dotted line per
 *   baseline that has several points;
 * - every single-point baseline (each model alone, the oracle, ...) as a labelled black dot.
 *
 * Read top to bottom: the plotted rows, label placement, the vega-lite spec, the SVG renderer.
 */
import type * as vegaLite from "vega-lite";
import { paretoFrontier } from "./metrics.js";
import type { EvalReport } from "./results.js";
import { displayName, singleModelPoint } from "./tables.js";
import { renderVegaLiteSvg } from "./vega.js";

/** Plot area size in pixels (axes, legend and title come on top). */
export const PLOT_WIDTH = 640;
export const PLOT_HEIGHT = 420;

/** Series names of the two reference lines. */
export const FRONTIER_SERIES = "Pareto frontier (routers)";
export const RANDOM_SERIES = "random routing (weak ↔ strong)";

/** Vega layer names; the SVG groups of their marks carry the class `<name>_marks`. */
export const LAYER_NAMES = {
  frontier: "frontier",
  random: "random",
  routers: "routers",
  baselineLines: "baseline_lines",
  baselinePoints: "baseline_points",
  labelsLeft: "labels_left",
  labelsRight: "labels_right",
} as const;

const ROUTER_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"];
const BASELINE_LINE_COLORS = ["#7f7f7f", "#bcbd22", "#aec7e8", "#98df8a"];
const LABEL_FONT_SIZE = 10;
/** Rough width of one character at {@link LABEL_FONT_SIZE}, for label collision checks. */
const LABEL_CHARACTER_WIDTH = 5.6;
const LABEL_LINE_HEIGHT = 12;
const LABEL_OFFSET = 7;

interface PlotRow {
  series: string;
  point: string;
  cost: number;
  accuracy: number;
}

interface LabelRow {
  text: string;
  cost: number;
  /** Where the label's baseline sits, in accuracy units (nudged so labels do not overlap). */
  labelAccuracy: number;
}

// ---------------------------------------------------------------------------------------------
// The plotted rows
// ---------------------------------------------------------------------------------------------

/** The data behind the plot, in plain rows; points with zero or negative cost cannot sit on a log axis and are left out. */
export interface ParetoPlotData {
  routers: PlotRow[];
  baselineLines: PlotRow[];
  baselinePoints: PlotRow[];
  random: PlotRow[];
  frontier: PlotRow[];
  /** Policies or points left out because their cost is not positive. */
  omitted: string[];
  domain: { cost: [number, number]; accuracy: [number, number] };
}

/** Collect what the plot shows from a report. */
export function paretoPlotData(report: EvalReport): ParetoPlotData {
  const omitted: string[] = [];
  const rowsOf = (kind: "router" | "baseline", filter: (points: number) => boolean): PlotRow[] =>
    report.policies
      .filter((policy) => policy.kind === kind && filter(policy.points.length))
      .flatMap((policy) =>
        policy.points.flatMap((point) => {
          if (!(point.meanCostUsd > 0)) {
            omitted.push(`${displayName(policy)} ${point.label}`);
            return [];
          }
          return [
            { series: displayName(policy), point: point.label, cost: point.meanCostUsd, accuracy: point.accuracy },
          ];
        }),
      );
  const routers = rowsOf("router", () => true);
  const baselineLines = rowsOf("baseline", (count) => count > 1);
  const baselinePoints = rowsOf("baseline", (count) => count === 1);

  const weak = singleModelPoint(report, report.weakModel);
  const strong = singleModelPoint(report, report.strongModel);
  const random: PlotRow[] = [];
  if (weak && strong && weak.meanCostUsd > 0 && strong.meanCostUsd > weak.meanCostUsd) {
    const steps = 48;
    for (let step = 0; step <= steps; step++) {
      const share = step / steps;
      random.push({
        series: RANDOM_SERIES,
        point: `${Math.round(share * 100)}% to ${report.strongModel}`,
        cost: weak.meanCostUsd + share * (strong.meanCostUsd - weak.meanCostUsd),
        accuracy: weak.accuracy + share * (strong.accuracy - weak.accuracy),
      });
    }
  }

  const frontier = paretoFrontier(routers.map((row) => ({ ...row, costUsd: row.cost }))).map(
    ({ costUsd: _costUsd, ...row }) => ({ ...row, series: FRONTIER_SERIES }),
  );

  const all = [...routers, ...baselineLines, ...baselinePoints, ...random];
  const costs = all.map((row) => row.cost);
  const accuracies = all.map((row) => row.accuracy);
  const cost: [number, number] =
    costs.length === 0 ? [1e-5, 1e-2] : [Math.min(...costs) / 1.5, Math.max(...costs) * 1.5];
  const accuracy: [number, number] =
    accuracies.length === 0
      ? [0, 1]
      : [
          Math.max(0, Math.floor((Math.min(...accuracies) - 0.02) * 20) / 20),
          Math.min(1, Math.ceil((Math.max(...accuracies) + 0.02) * 20) / 20),
        ];
  if (accuracy[0] === accuracy[1]) accuracy[0] = Math.max(0, accuracy[1] - 0.1);
  return { routers, baselineLines, baselinePoints, random, frontier, omitted, domain: { cost, accuracy } };
}

// ---------------------------------------------------------------------------------------------
// Label placement
// ---------------------------------------------------------------------------------------------

/**
 * Place the baseline labels so they do not overlap: in pixel space, from the top of the plot down,
 * each label moves down until it clears the labels already placed. Labels near the right edge are
 * written to the left of their dot.
 */
function placeLabels(data: ParetoPlotData): { left: LabelRow[]; right: LabelRow[] } {
  const [costLow, costHigh] = data.domain.cost;
  const [accuracyLow, accuracyHigh] = data.domain.accuracy;
  const toX = (cost: number) => (PLOT_WIDTH * Math.log(cost / costLow)) / Math.log(costHigh / costLow);
  const toY = (accuracy: number) => PLOT_HEIGHT * (1 - (accuracy - accuracyLow) / (accuracyHigh - accuracyLow));
  const fromY = (pixel: number) => accuracyLow + (1 - pixel / PLOT_HEIGHT) * (accuracyHigh - accuracyLow);

  const placed: Array<{ left: number; right: number; top: number; bottom: number }> = [];
  const left: LabelRow[] = [];
  const right: LabelRow[] = [];
  const sorted = [...data.baselinePoints].sort((one, other) => other.accuracy - one.accuracy);
  for (const row of sorted) {
    const width = row.series.length * LABEL_CHARACTER_WIDTH;
    const x = toX(row.cost);
    const onLeft = x + LABEL_OFFSET + width > PLOT_WIDTH;
    const boxLeft = onLeft ? x - LABEL_OFFSET - width : x + LABEL_OFFSET;
    let centre = toY(row.accuracy);
    for (;;) {
      const top = centre - LABEL_LINE_HEIGHT / 2;
      const clash = placed.find(
        (box) =>
          boxLeft < box.right && boxLeft + width > box.left && top < box.bottom && top + LABEL_LINE_HEIGHT > box.top,
      );
      if (clash === undefined) break;
      centre = clash.bottom + LABEL_LINE_HEIGHT / 2 + 0.5;
    }
    placed.push({
      left: boxLeft,
      right: boxLeft + width,
      top: centre - LABEL_LINE_HEIGHT / 2,
      bottom: centre + LABEL_LINE_HEIGHT / 2,
    });
    (onLeft ? left : right).push({ text: row.series, cost: row.cost, labelAccuracy: fromY(centre) });
  }
  return { left, right };
}

// ---------------------------------------------------------------------------------------------
// The vega-lite spec
// ---------------------------------------------------------------------------------------------

/**
 * The vega-lite spec of the Pareto plot (data inlined). Useful to restyle the plot or to render it
 * elsewhere (the vega editor, a notebook).
 */
export function paretoPlotSpec(report: EvalReport): vegaLite.TopLevelSpec {
  const data = paretoPlotData(report);
  const labels = placeLabels(data);
  const lineSeries = [...new Set(data.routers.map((row) => row.series))];
  const baselineSeries = [...new Set(data.baselineLines.map((row) => row.series))];
  const domain = [...lineSeries, ...baselineSeries];
  const range = [
    ...lineSeries.map((_, index) => ROUTER_COLORS[index % ROUTER_COLORS.length] as string),
    ...baselineSeries.map((_, index) => BASELINE_LINE_COLORS[index % BASELINE_LINE_COLORS.length] as string),
  ];
  if (data.random.length > 0) {
    domain.push(RANDOM_SERIES);
    range.push("#555555");
  }
  if (data.frontier.length > 0) {
    domain.push(FRONTIER_SERIES);
    range.push("#b0b0b0");
  }

  const x = {
    field: "cost",
    type: "quantitative" as const,
    title: "mean USD per prompt (log scale)",
    scale: { type: "log" as const, domain: data.domain.cost, nice: false },
    axis: { format: "$~g", labelOverlap: "greedy" as const, grid: true },
  };
  const y = {
    field: "accuracy",
    type: "quantitative" as const,
    title: "accuracy on held-out prompts",
    scale: { domain: data.domain.accuracy, nice: false, zero: false },
    axis: { format: ".0%" },
  };
  const color = {
    field: "series",
    type: "nominal" as const,
    title: null,
    scale: { domain, range },
    legend: {
      orient: "bottom" as const,
      columns: 2,
      labelLimit: 320,
      labelFontSize: 11,
      symbolType: "stroke" as const,
      symbolStrokeWidth: 3,
      symbolOpacity: 1,
      columnPadding: 24,
    },
  };
  const tooltip = [
    { field: "series", type: "nominal" as const },
    { field: "point", type: "nominal" as const },
    { field: "cost", type: "quantitative" as const, format: "$.3~g" },
    { field: "accuracy", type: "quantitative" as const, format: ".3f" },
  ];

  const layer: vegaLite.TopLevelSpec[] = [];
  const push = (unit: Record<string, unknown>) => layer.push(unit as unknown as vegaLite.TopLevelSpec);
  if (data.frontier.length > 0) {
    push({
      name: LAYER_NAMES.frontier,
      data: { values: data.frontier },
      mark: { type: "line", interpolate: "step-after", strokeWidth: 9, opacity: 0.45, strokeCap: "round" },
      encoding: { x, y, color, order: { field: "cost", type: "quantitative" } },
    });
  }
  if (data.random.length > 0) {
    push({
      name: LAYER_NAMES.random,
      data: { values: data.random },
      mark: { type: "line", strokeDash: [6, 4], strokeWidth: 1.5 },
      encoding: { x, y, color, order: { field: "cost", type: "quantitative" } },
    });
  }
  if (data.baselineLines.length > 0) {
    push({
      name: LAYER_NAMES.baselineLines,
      data: { values: data.baselineLines },
      mark: { type: "line", strokeDash: [2, 3], strokeWidth: 1.5, point: { filled: false, size: 30 } },
      encoding: { x, y, color, order: { field: "cost", type: "quantitative" }, tooltip },
    });
  }
  if (data.routers.length > 0) {
    push({
      name: LAYER_NAMES.routers,
      data: { values: data.routers },
      mark: { type: "line", strokeWidth: 2.2, point: { filled: true, size: 36 } },
      encoding: { x, y, color, order: { field: "cost", type: "quantitative" }, tooltip },
    });
  }
  if (data.baselinePoints.length > 0) {
    push({
      name: LAYER_NAMES.baselinePoints,
      data: { values: data.baselinePoints },
      mark: { type: "point", filled: true, color: "#222222", size: 40, shape: "diamond" },
      encoding: { x, y, tooltip },
    });
  }
  const labelEncoding = {
    x,
    y: { ...y, field: "labelAccuracy" },
    text: { field: "text", type: "nominal" as const },
  };
  // Each label is drawn twice: a thick white outline first (a halo that keeps it readable over lines), then the text.
  for (const [name, rows, align, dx] of [
    [LAYER_NAMES.labelsRight, labels.right, "left", LABEL_OFFSET],
    [LAYER_NAMES.labelsLeft, labels.left, "right", -LABEL_OFFSET],
  ] as const) {
    if (rows.length === 0) continue;
    const mark = { type: "text", align, baseline: "middle", dx, fontSize: LABEL_FONT_SIZE };
    push({
      name: `${name}_halo`,
      data: { values: rows },
      mark: { ...mark, stroke: "white", strokeWidth: 3, strokeJoin: "round", opacity: 0.9 },
      encoding: labelEncoding,
    });
    push({ name, data: { values: rows }, mark: { ...mark, fill: "#222222" }, encoding: labelEncoding });
  }

  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: report.title, subtitle: "accuracy vs mean USD per prompt — up and to the left is better" },
    width: PLOT_WIDTH,
    height: PLOT_HEIGHT,
    background: "white",
    padding: 12,
    config: { font: "Helvetica, Arial, sans-serif", axis: { labelFontSize: 11, titleFontSize: 12 } },
    layer,
  } as unknown as vegaLite.TopLevelSpec;
}

// ---------------------------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------------------------

/**
 * Render the Pareto plot of a report to a standalone SVG document.
 *
 * @param report - The evaluation run.
 * @returns The SVG text (an `<svg>` element with inline styles; no external references).
 * @throws MissingPeerDependencyError when vega or vega-lite is not installed (`npm install vega vega-lite`).
 * @example
 * ```ts
 * await writeFile("pareto.svg", await renderParetoSvg(report));
 * ```
 */
export async function renderParetoSvg(report: EvalReport): Promise<string> {
  return renderVegaLiteSvg(paretoPlotSpec(report), "pareto.svg");
}
