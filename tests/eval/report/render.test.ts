import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  paretoPlotData,
  readReport,
  renderHtml,
  renderMarkdown,
  renderParetoSvg,
  writeReport,
} from "../../../src/eval/report/index.js";
import { LAYER_NAMES } from "../../../src/eval/report/plot.js";
import { formatUsdSmall } from "../../../src/eval/report/tables.js";
import { MissingPeerDependencyError } from "../../../src/peers.js";
import { handMadeReport } from "./fixture.js";
import { assertWellFormedXml } from "./xml.js";

/** Count the `<g class="mark-line role-mark NAME_marks">` groups: vega draws one per series of a line layer. */
function lineGroups(svg: string, layer: string): number {
  return svg.split(`class="mark-line role-mark ${layer}_marks"`).length - 1;
}

describe("renderMarkdown", () => {
  const markdown = renderMarkdown(handMadeReport());

  it("has one row per operating point with accuracy, USD and the share of the strong model's cost", () => {
    // memory-auction λ=30: 0.851 at $0.00102 per prompt = 20.3% of GPT-4's $0.00502; 96.7% of its 0.880.
    expect(markdown).toContain(
      "| memory-auction | router | λ=30 | 0.851 | 96.7% | $1.0200 | $0.00102 | 20.3% | 1,000 | 15.0% | 1,000 |",
    );
    // escalation makes several calls per prompt
    expect(markdown).toContain(
      "| escalation | router | threshold=0.9 | 0.858 | 97.5% | $1.5100 | $0.00151 | 30.1% | 2,400 | 22.0% |",
    );
    expect(markdown).toContain(
      "| gpt-4-1106-preview | baseline | alone | 0.880 | 100.0% | $5.0200 | $0.00502 | 100.0% | 1,000 | 100.0% |",
    );
    const section = markdown.split("## Operating points")[1]?.split("\n## ")[0] ?? "";
    const rows = section.split("\n").filter((line) => / \| (router|baseline) \| /.test(line));
    expect(rows).toHaveLength(5 + 3 + 5 + 3 + 1 + 1); // routers' points, five models, random's three, static, oracle
  });

  it("lists APGR, CPT(50), CPT(80) and the Pareto area per router, and — where one is undefined", () => {
    expect(markdown).toContain("| memory-auction | router | 5 | 0.712 | 14.3% | 30.2% | 0.803 |");
    expect(markdown).toContain("| escalation | router | 3 | 0.655 | 21.0% | — | — |");
  });

  it("lists the targets with their verdicts and escapes pipes in cells", () => {
    expect(markdown).toMatch(/\| ≥ 95% of gpt-4-1106-preview's accuracy at ≤ 25% of its cost \| met \|/);
    expect(markdown).toContain(
      "| Pareto frontier above random routing everywhere | NOT met | below at $0.0043 \\| by 0.004 |",
    );
  });

  it("links the plot and right-aligns numeric columns", () => {
    expect(markdown).toContain("![Pareto plot](pareto.svg)");
    expect(markdown).toContain("| --- | --- | --- | ---: | ---: |");
  });
});

describe("renderParetoSvg", () => {
  it("is well-formed XML with one line per router and one per multi-point baseline", async () => {
    const report = handMadeReport();
    const svg = await renderParetoSvg(report);
    expect(assertWellFormedXml(svg)).toBe("svg");
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    expect(lineGroups(svg, LAYER_NAMES.routers)).toBe(2);
    expect(lineGroups(svg, LAYER_NAMES.baselineLines)).toBe(1); // random has three points
    expect(lineGroups(svg, LAYER_NAMES.random)).toBe(1);
    expect(lineGroups(svg, LAYER_NAMES.frontier)).toBe(1);
    // single-point baselines are labelled by name
    for (const label of ["oracle", "gpt-4-1106-preview", "mistral-7b-chat", "static-per-task"]) {
      expect(svg).toContain(`>${label}</text>`);
    }
  });

  it("the XML check catches a broken document", () => {
    expect(() => assertWellFormedXml("<svg><g></svg>")).toThrow(/closes/);
    expect(() => assertWellFormedXml("<svg>a & b</svg>")).toThrow(/bare &/);
  });

  it("draws a line for a third router too", async () => {
    const report = handMadeReport();
    const [first] = report.policies;
    if (first === undefined) throw new Error("fixture has no policy");
    report.policies.push({ ...first, name: "third-router" });
    const svg = await renderParetoSvg(report);
    expect(lineGroups(svg, LAYER_NAMES.routers)).toBe(3);
  });

  it("leaves out points that cannot sit on a log axis and says which", () => {
    const report = handMadeReport();
    const first = report.policies[0]?.points[0];
    if (first === undefined) throw new Error("fixture has no point");
    report.policies.push({
      name: "free",
      kind: "baseline",
      description: "costs nothing",
      points: [{ ...first, meanCostUsd: 0, label: "zero" }],
    });
    expect(paretoPlotData(report).omitted).toEqual(["free zero"]);
  });

  it("puts the random-routing line between the weak and the strong model", () => {
    const { random } = paretoPlotData(handMadeReport());
    expect(random[0]).toMatchObject({ cost: 0.00008, accuracy: 0.581 });
    expect(random.at(-1)).toMatchObject({ cost: 0.00502, accuracy: 0.88 });
  });
});

describe("renderHtml", () => {
  it("is self-contained: inline SVG, no scripts, no external src or href, text escaped", async () => {
    const report = handMadeReport();
    const html = renderHtml(report, await renderParetoSvg(report));
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?\s*(https?:)?\/\//i);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<link\b/i);
    expect(html).toContain("&lt;script&gt;alert(1)&lt;/script&gt; is escaped");
    expect(html).toContain('<td class="met">met</td>');
    expect(html).toContain('<td class="missed">NOT met</td>');
    expect(html).toContain("<td>memory-auction</td>");
  });
});

describe("writeReport / readReport", () => {
  it("writes the four files and reads report.json back unchanged", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gavel-report-"));
    const report = handMadeReport();
    const files = await writeReport(report, join(folder, "nested"));
    expect(readFileSync(files.markdown, "utf8")).toContain("# RouterBench held-out (hand-made)");
    expect(readFileSync(files.svg ?? "", "utf8").startsWith("<svg")).toBe(true);
    expect(readFileSync(files.html, "utf8")).toContain("<!DOCTYPE html>");
    expect(await readReport(files.json)).toEqual(report);
  });

  it("without vega, writes report.json, report.md and report.html, skips pareto.svg and says why", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gavel-report-"));
    const missing = new MissingPeerDependencyError("vega", "pareto.svg", { install: "npm install vega vega-lite" });
    const skipped: MissingPeerDependencyError[] = [];
    const files = await writeReport(handMadeReport(), folder, {
      renderPlot: () => Promise.reject(missing),
      onPlotSkipped: (error) => skipped.push(error),
    });
    expect(skipped).toEqual([missing]);
    expect(skipped[0]?.message).toContain("npm install vega vega-lite");
    expect(files.svg).toBeUndefined();
    expect(existsSync(join(folder, "pareto.svg"))).toBe(false);
    expect(readFileSync(files.markdown, "utf8")).not.toContain("pareto.svg");
    expect(readFileSync(files.html, "utf8")).not.toContain("<svg");
    expect(await readReport(files.json)).toEqual(handMadeReport());
  });

  it("rethrows a plot failure that is not a missing package", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gavel-report-"));
    const broken = writeReport(handMadeReport(), folder, { renderPlot: () => Promise.reject(new Error("bad spec")) });
    await expect(broken).rejects.toThrow("bad spec");
  });

  it("refuses a JSON file that is not a report, naming the file and the field", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gavel-report-"));
    const path = join(folder, "report.json");
    const { writeFile } = await import("node:fs/promises");
    await writeFile(path, JSON.stringify({ ...handMadeReport(), policies: "none" }));
    await expect(readReport(path)).rejects.toThrow(/report\.json: field "policies"/);
  });
});

describe("formatUsdSmall", () => {
  it("keeps three significant digits", () => {
    expect(formatUsdSmall(0.005021)).toBe("$0.00502");
    expect(formatUsdSmall(0.0000812)).toBe("$0.0000812");
    expect(formatUsdSmall(0)).toBe("$0");
  });
});
