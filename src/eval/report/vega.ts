/**
 * vega and vega-lite, loaded on first use: they are optional peers, needed only to draw plots. Without
 * them `renderVegaLiteSvg` throws a `MissingPeerDependencyError` whose `install` is
 * {@link VEGA_INSTALL}; `writeReport` catches it and writes the rest of the report.
 */
import type { TopLevelSpec } from "vega-lite";
import { importPeer } from "../../peers.js";
import { GAVEL_MARKER_COMMENT } from "./marker.js";

/** The command that installs both plotting packages. */
export const VEGA_INSTALL = "npm install vega vega-lite";

/**
 * Compile a vega-lite spec and render it to a standalone SVG document, offline.
 *
 * @param spec - The vega-lite spec, data inlined.
 * @param feature - What is drawing, named in the error when vega is missing (e.g. `"pareto.svg"`).
 * @throws MissingPeerDependencyError when vega or vega-lite is not installed.
 */
export async function renderVegaLiteSvg(spec: TopLevelSpec, feature: string): Promise<string> {
  const vega = await importPeer("vega", feature, () => import("vega"), { install: VEGA_INSTALL });
  const vegaLite = await importPeer("vega-lite", feature, () => import("vega-lite"), { install: VEGA_INSTALL });
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: "none" });
  try {
    // The marker, as the root's first child, tells a later run that this file is Gavel's to replace.
    return (await view.toSVG()).replace(/^(<svg\b[^>]*>)/, `$1${GAVEL_MARKER_COMMENT}`);
  } finally {
    view.finalize();
  }
}
