/**
 * Optional peer dependencies, loaded when the feature that needs them is first used.
 *
 * The heavy and native modules (better-sqlite3, vectra, the sentence encoder, node-llama-cpp, vega,
 * highs) are optional peers of langchain-gavel: an app installs only those of the features it uses.
 * Each is loaded through `importPeer` (ESM, async) or `requirePeer` (CommonJS, sync), which turn
 * "not installed" into a {@link MissingPeerDependencyError} naming the package and the command that
 * installs it. Any other load failure (a native module built for another Node, say) is rethrown as is.
 */
import { createRequire } from "node:module";
import { GavelError } from "./errors.js";

/**
 * A feature needs a package that is not installed. `install` is the command that fixes it.
 *
 * @example
 * ```ts
 * try {
 *   const { createSqliteLedger } = await import("langchain-gavel/sqlite");
 *   createSqliteLedger({ path: "gavel.db" });
 * } catch (error) {
 *   if (MissingPeerDependencyError.isInstance(error)) console.error(error.install); // "npm install better-sqlite3"
 * }
 * ```
 */
export class MissingPeerDependencyError extends GavelError {
  override readonly name: string = "MissingPeerDependencyError";
  /** The missing package, e.g. `"better-sqlite3"`. */
  readonly packageName: string;
  /** What needed it, e.g. `"langchain-gavel/sqlite"`. */
  readonly feature: string;
  /** The command that installs it, e.g. `"npm install better-sqlite3"`. */
  readonly install: string;

  constructor(packageName: string, feature: string, options?: { cause?: unknown; install?: string }) {
    const install = options?.install ?? `npm install ${packageName}`;
    super(`${feature} needs the package "${packageName}", which is not installed. Install it: ${install}`, options);
    this.packageName = packageName;
    this.feature = feature;
    this.install = install;
  }
}

/** True when `error` says that `packageName` itself (not one of its own imports) could not be found. */
function isNotFound(error: unknown, packageName: string): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") return false;
  return typeof message === "string" && (message.includes(`'${packageName}'`) || message.includes(`"${packageName}"`));
}

/**
 * Import an optional peer (ESM): `importer` is the literal `() => import("pkg")`, so bundlers and
 * type checkers see it.
 *
 * @throws MissingPeerDependencyError when the package is not installed.
 * @example
 * const vectra = await importPeer("vectra", "langchain-gavel/vectra", () => import("vectra"));
 */
export async function importPeer<T>(
  packageName: string,
  feature: string,
  importer: () => Promise<T>,
  options?: { install?: string },
): Promise<T> {
  try {
    return await importer();
  } catch (error) {
    if (isNotFound(error, packageName)) {
      throw new MissingPeerDependencyError(packageName, feature, { cause: error, ...options });
    }
    throw error;
  }
}

const require = createRequire(import.meta.url);

/**
 * Require an optional CommonJS peer synchronously (better-sqlite3 is one).
 *
 * @throws MissingPeerDependencyError when the package is not installed.
 * @example
 * const Database = requirePeer<typeof import("better-sqlite3")>("better-sqlite3", "langchain-gavel/sqlite");
 */
export function requirePeer<T>(packageName: string, feature: string, options?: { install?: string }): T {
  try {
    return require(packageName) as T;
  } catch (error) {
    if (isNotFound(error, packageName)) {
      throw new MissingPeerDependencyError(packageName, feature, { cause: error, ...options });
    }
    throw error;
  }
}
