/**
 * The marker of the files Gavel renders (Markdown, HTML, SVG), so a later run can tell its own output
 * from a file it must not replace (src/eval/outputs.ts). Pure constants: the renderers import them.
 */

/**
 * The text that marks a Markdown, HTML or SVG file as Gavel's (inside a comment or a `<meta>`).
 *
 * @example
 * ```ts
 * readFileSync("reports/report.md", "utf8").includes(GAVEL_MARKER); // true: Gavel may replace it
 * ```
 */
export const GAVEL_MARKER = "generator: langchain-gavel";

/** The marker as an HTML/XML/Markdown comment: the last line of `report.md`, the first child of a plot's `<svg>`. */
export const GAVEL_MARKER_COMMENT = `<!-- ${GAVEL_MARKER} -->`;

/** The marker of `report.html`. */
export const GAVEL_MARKER_META = '<meta name="generator" content="langchain-gavel">';
