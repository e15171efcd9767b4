/**
 * `writeReport` never destroys what Gavel did not write: a file at one of the report's paths is
 * replaced only when it is Gavel's (a report.json that parses as one, a rendering with the marker).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GAVEL_MARKER_COMMENT, OutputConflictError } from "../../../src/eval/outputs.js";
import { renderHtml, renderMarkdown, renderParetoSvg, writeReport } from "../../../src/eval/report/index.js";
import { handMadeReport } from "./fixture.js";

const scratch = mkdtempSync(join(tmpdir(), "gavel-write-guard-"));

describe("writeReport", () => {
  it("marks every rendering it writes, so a later run knows it may replace them", async () => {
    const report = handMadeReport("Marked");
    expect(renderMarkdown(report).trimEnd().endsWith(GAVEL_MARKER_COMMENT)).toBe(true);
    expect(renderHtml(report)).toContain('<meta name="generator" content="langchain-gavel">');
    const svg = await renderParetoSvg(report);
    expect(svg).toMatch(/^<svg [^>]*><!-- generator: langchain-gavel -->/);
  });

  it("refuses a folder holding someone else's report.md before writing anything; overwrite replaces it", async () => {
    const folder = join(scratch, "foreign");
    mkdirSync(folder);
    writeFileSync(join(folder, "report.md"), "# Meeting notes\n");
    const attempt = writeReport(handMadeReport(), folder);
    await expect(attempt).rejects.toSatisfy((error: unknown) => OutputConflictError.isInstance(error));
    await expect(writeReport(handMadeReport(), folder)).rejects.toThrow(
      `${join(folder, "report.md")}: exists and is not a Gavel report rendering (report.md) (Gavel did not write it); nothing was written (pass --overwrite to replace it).`,
    );
    expect(readFileSync(join(folder, "report.md"), "utf8")).toBe("# Meeting notes\n");
    expect(existsSync(join(folder, "report.json"))).toBe(false);

    await writeReport(handMadeReport(), folder, { overwrite: true });
    expect(readFileSync(join(folder, "report.md"), "utf8")).toContain(GAVEL_MARKER_COMMENT);
  });

  it("replaces its own earlier report, and refuses a folder where a file should be", async () => {
    const folder = join(scratch, "own");
    await writeReport(handMadeReport("First"), folder);
    const files = await writeReport(handMadeReport("Second"), folder);
    expect(readFileSync(files.markdown, "utf8")).toContain("# Second");

    const blocked = join(scratch, "blocked");
    mkdirSync(join(blocked, "report.html"), { recursive: true });
    await expect(writeReport(handMadeReport(), blocked, { overwrite: true })).rejects.toThrow("is a folder");
  });
});
