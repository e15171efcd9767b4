/**
 * The one place that loads vitest, an optional peer of langchain-gavel needed by the conformance
 * suites only. Kept apart from the suites' public types, so no declaration file of
 * `langchain-gavel/testing` refers to vitest: an app that uses only `ScriptedChatModel` type-checks
 * and runs without it.
 */
import { importPeer } from "../peers.js";

/**
 * Import vitest when a suite is described (never when `langchain-gavel/testing` is imported).
 *
 * @throws MissingPeerDependencyError when vitest is not installed.
 */
export async function loadVitest() {
  return importPeer("vitest", "the conformance suites of langchain-gavel/testing", () => import("vitest"), {
    install: "npm install --save-dev vitest",
  });
}
