/**
 * Reading and writing a report folder: `report.json` (the `EvalReport` itself), `report.md`,
 * `pareto.svg` and `report.html`. The renderers are pure; only this file touches the disk.
 *
 * The plot needs vega and vega-lite (optional peers). Without them the folder is written without
 * `pareto.svg` (and the Markdown and HTML without the plot), and `onPlotSkipped` is told why.
 */
import { existsSync, readFileSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { z } from "zod";
import { MissingPeerDependencyError } from "../../peers.js";
import { DataError } from "../errors.js";
import { assertReplaceable, hasGavelMarker } from "../outputs.js";
import { renderHtml } from "./html.js";
import { renderMarkdown } from "./markdown.js";
import { renderParetoSvg } from "./plot.js";
import type { EvalReport } from "./results.js";

/** File names inside a report folder. */
export const REPORT_FILES = {
  json: "report.json",
  markdown: "report.md",
  svg: "pareto.svg",
  html: "report.html",
} as const;

/** Absolute paths of the files {@link writeReport} wrote. */
export interface WrittenReport {
  json: string;
  markdown: string;
  /** Absent when the plot was skipped (vega is not installed). */
  svg?: string;
  html: string;
}

/** Options of {@link writeReport} and {@link renderReportFiles}. */
export interface WriteReportOptions {
  /**
   * Called when `pareto.svg` is skipped because vega or vega-lite is not installed; the error names
   * `npm install vega vega-lite`. Default: nothing (`svg` is then absent from the result).
   */
  onPlotSkipped?: (error: MissingPeerDependencyError) => void;
  /** Renders the Pareto plot. Default: `renderParetoSvg`. A seam for tests. */
  renderPlot?: (report: EvalReport) => Promise<string>;
  /**
   * Replace a file at one of the report's paths that Gavel did not write. Default: false — such a file
   * is refused with an `OutputConflictError` before anything is written (the CLI's `--overwrite`).
   * Files of an earlier report (`report.json` that parses as a report, renderings carrying Gavel's
   * marker) are always replaced.
   */
  overwrite?: boolean;
}

/** The CLI flag that sets {@link WriteReportOptions.overwrite}, named in refusals. */
export const OVERWRITE_FLAG = "--overwrite";

/** True when `text` is a `report.json` Gavel wrote (it parses as an evaluation report). */
function isReportJson(text: string): boolean {
  try {
    return evalReportSchema.safeParse(JSON.parse(text)).success;
  } catch {
    return false;
  }
}

/**
 * Refuse (with an `OutputConflictError`, nothing written) when a file at one of the report folder's
 * paths is not Gavel's: `report.json` must parse as a report, `report.md`, `report.html` and
 * `pareto.svg` must carry Gavel's marker — or, written before the marker existed, sit beside a
 * `report.json` Gavel wrote. A missing folder or file is fine. `writeReport` runs it first; the CLI
 * runs it before an evaluation starts, so a refusal costs no run.
 *
 * @example
 * ```ts
 * checkReportFolder("reports"); // throws when reports/report.md is someone else's file
 * checkReportFolder("reports", { overwrite: true }); // only folders at the file paths are refused
 * ```
 */
export function checkReportFolder(directory: string, options: Pick<WriteReportOptions, "overwrite"> = {}): void {
  const folder = resolve(directory);
  const jsonPath = join(folder, REPORT_FILES.json);
  const overwrite = options.overwrite === true;
  const flag = OVERWRITE_FLAG;
  assertReplaceable(jsonPath, { what: "a Gavel report (report.json)", isGavels: isReportJson, overwrite, flag });
  const besideReport = existsSync(jsonPath) && isReportJson(readFileSync(jsonPath, "utf8"));
  for (const key of ["markdown", "svg", "html"] as const) {
    assertReplaceable(join(folder, REPORT_FILES[key]), {
      what: `a Gavel report rendering (${REPORT_FILES[key]})`,
      isGavels: (text) => hasGavelMarker(text) || besideReport,
      overwrite,
      flag,
    });
  }
}

/** The report as JSON text (two-space indented, newline at the end). */
export function renderJson(report: EvalReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

/**
 * Every file of a report, rendered in memory: file name → content (no `svg` when vega is missing).
 * @example
 * ```ts
 * const files = await renderReportFiles(report);
 * console.log(files.markdown);
 * ```
 */
export async function renderReportFiles(
  report: EvalReport,
  options: WriteReportOptions = {},
): Promise<{ [Key in keyof WrittenReport]: string }> {
  const { onPlotSkipped, renderPlot = renderParetoSvg } = options;
  let svg: string | undefined;
  try {
    svg = await renderPlot(report);
  } catch (error) {
    if (!MissingPeerDependencyError.isInstance(error)) throw error;
    onPlotSkipped?.(error);
  }
  return {
    json: renderJson(report),
    markdown: renderMarkdown(report, { plotFile: svg === undefined ? null : REPORT_FILES.svg }),
    ...(svg === undefined ? {} : { svg }),
    html: renderHtml(report, svg),
  };
}

/**
 * Write `report.json`, `report.md`, `pareto.svg` and `report.html` into `directory` (created when
 * missing). Files of an earlier Gavel report are replaced; any other file at those paths is refused
 * (see {@link checkReportFolder}) unless `overwrite` is set.
 *
 * @param report - The evaluation run.
 * @param directory - The report folder, e.g. `reports/`.
 * @param options - What to do when the plot cannot be drawn (vega missing).
 * @returns The absolute paths written (`svg` absent when the plot was skipped).
 * @throws OutputConflictError naming the path when a file there is not Gavel's (nothing is written).
 * @example
 * ```ts
 * const files = await writeReport(report, "reports");
 * console.log(files.html); // /…/reports/report.html
 * ```
 */
export async function writeReport(
  report: EvalReport,
  directory: string,
  options: WriteReportOptions = {},
): Promise<WrittenReport> {
  const folder = resolve(directory);
  checkReportFolder(folder, options);
  await mkdir(folder, { recursive: true });
  const contents = await renderReportFiles(report, options);
  const written: Partial<WrittenReport> = {};
  for (const key of Object.keys(REPORT_FILES) as Array<keyof WrittenReport>) {
    const content = contents[key];
    const path = join(folder, REPORT_FILES[key]);
    if (content === undefined) {
      await rm(path, { force: true }); // a plot of an earlier run would not be this report's
      continue;
    }
    await writeFile(path, content, "utf8");
    written[key] = path;
  }
  return written as WrittenReport;
}

// ---------------------------------------------------------------------------------------------
// Reading a report back
// ---------------------------------------------------------------------------------------------

const operatingPointSchema = z.object({
  label: z.string(),
  parameter: z.number().optional(),
  accuracy: z.number(),
  costUsd: z.number(),
  meanCostUsd: z.number(),
  prompts: z.number(),
  calls: z.number(),
  largestModelShare: z.number(),
  callsByModel: z.record(z.string(), z.number()),
  tokens: z.object({ input: z.number(), output: z.number(), estimated: z.boolean() }).optional(),
  costEfficiency: z.number().optional(),
  paths: z.record(z.string(), z.number()).optional(),
});

/** The shape of `report.json` (an `EvalReport`); unknown extra fields are kept out, not refused. */
export const evalReportSchema = z.object({
  title: z.string(),
  createdAt: z.string(),
  dataset: z.object({
    name: z.string(),
    source: z.string(),
    trainPrompts: z.number(),
    testPrompts: z.number(),
    models: z.array(z.string()),
    split: z.string(),
  }),
  strongModel: z.string(),
  weakModel: z.string(),
  policies: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(["router", "baseline"]),
      protocol: z.enum(["batch", "online"]).optional(),
      description: z.string(),
      points: z.array(operatingPointSchema),
      metrics: z
        .object({
          apgr: z.number().optional(),
          cpt50: z.number().optional(),
          cpt80: z.number().optional(),
          paretoArea: z.number().optional(),
        })
        .optional(),
    }),
  ),
  targets: z.array(z.object({ description: z.string(), met: z.boolean(), detail: z.string() })).optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  notes: z.array(z.string()).optional(),
  leaveOut: z
    .array(
      z.object({
        dataset: z.string(),
        prompts: z.number(),
        strongAccuracy: z.number(),
        weakAccuracy: z.number(),
        target: z.number(),
        shares: z.record(z.string(), z.number()),
        randomShare: z.number(),
      }),
    )
    .optional(),
});

/**
 * Read and validate a `report.json`.
 * @throws DataError naming the file (and the bad fields) when it is unreadable, not JSON or not a report.
 * @example
 * ```ts
 * const report = await readReport("reports/report.json");
 * await writeReport(report, "reports-copy");
 * ```
 */
export async function readReport(path: string): Promise<EvalReport> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new DataError({ file: path, problem: "cannot read the report file" }, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new DataError({ file: path, problem: "not JSON" }, { cause: error });
  }
  const parsed = evalReportSchema.safeParse(value);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new DataError(
      {
        file: path,
        fields: parsed.error.issues.map((issue) => issue.path.join(".")),
        problem: `not an evaluation report (${first?.message ?? "invalid"})`,
      },
      { cause: parsed.error },
    );
  }
  return parsed.data as EvalReport;
}
