/**
 * A fresh consumer project, as a user makes one: the packed tarball of this repository installed with
 * npm into an empty folder, nothing inherited from the repository (no `.npmrc`, no `npm_config_*`
 * variables of an enclosing `npm test`). Used by the packed-tarball test (tests/package/) and the
 * install and import benchmark (bench/package.ts).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The repository root. */
export const REPO_ROOT = join(import.meta.dirname, "..", "..");

/** The environment of a user's shell: this process's, without what npm passes to scripts it runs. */
export function userEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^npm_(config|package|lifecycle)_/i.test(name)),
  );
}

/** What a command printed. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/** Run `command args` in `cwd` as a user would; throws with both outputs when it exits non-zero. */
export async function runCommand(
  command: string,
  args: string[],
  cwd: string,
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandOutput> {
  try {
    const { stdout, stderr } = await run(command, args, {
      cwd,
      env: options.env ?? userEnvironment(),
      maxBuffer: 64 * 1024 * 1024,
      timeout: options.timeoutMs ?? 600_000,
    });
    return { stdout, stderr };
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed in ${cwd}:\n${stdout}\n${stderr}`, { cause: error });
  }
}

/**
 * Pack the repository (`npm pack`, which builds `dist/` first through `prepack`) into `destination`.
 *
 * @returns the tarball's path
 */
export async function packRepository(destination: string): Promise<string> {
  const { stdout } = await runCommand("npm", ["pack", "--silent", "--pack-destination", destination], REPO_ROOT);
  const name = stdout.trim().split("\n").at(-1) ?? "";
  if (!name.endsWith(".tgz")) throw new Error(`npm pack printed no tarball name:\n${stdout}`);
  return join(destination, name);
}

/**
 * Run a consumer program (an ES module importing `langchain-gavel/...`) against the repository's
 * sources instead of the installed `dist/`: written into a new temporary folder outside any project,
 * and run by tsx with the repository's tsconfig, whose `paths` map each entry point to its source.
 * Lets a test compare what users get with what the sources do.
 *
 * @returns what the program printed
 */
export async function runFromSources(
  name: string,
  program: string,
  args: string[],
  options: { timeoutMs?: number } = {},
): Promise<CommandOutput> {
  const folder = mkdtempSync(join(tmpdir(), "gavel-sources-"));
  try {
    const path = join(folder, name);
    writeFileSync(path, program);
    return await runCommand(
      join(REPO_ROOT, "node_modules", ".bin", "tsx"),
      ["--tsconfig", join(REPO_ROOT, "tsconfig.json"), path, ...args],
      REPO_ROOT,
      options,
    );
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** The version of `name` installed in the repository: the version its tests ran against. */
export function testedVersion(name: string): string {
  const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "node_modules", name, "package.json"), "utf8"));
  return String(manifest.version);
}

/** A consumer project in a new temporary folder. */
export interface ConsumerProject {
  folder: string;
  /** `npm install <specs>` in the project. */
  install(specs: string[]): Promise<CommandOutput>;
  /** Run a command in the project (`npx gavel ...`, `node file.mjs`). */
  run(command: string, args: string[], options?: { timeoutMs?: number }): Promise<CommandOutput>;
  /** Write a file into the project. */
  write(name: string, text: string): string;
  /** The packages installed under node_modules (scoped ones as `@scope/name`). */
  installedPackages(): string[];
  /** Bytes under node_modules. */
  installedBytes(): number;
  /** Delete the project. */
  remove(): void;
}

/** Make an empty ESM project (`"type": "module"`) in a new temporary folder. */
export function createConsumerProject(prefix = "gavel-consumer-"): ConsumerProject {
  const folder = mkdtempSync(join(tmpdir(), prefix));
  writeFileSync(
    join(folder, "package.json"),
    `${JSON.stringify({ name: "consumer", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  const modules = join(folder, "node_modules");
  return {
    folder,
    install: (specs) =>
      runCommand("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", ...specs], folder, {
        timeoutMs: 900_000,
      }),
    run: (command, args, options) => runCommand(command, args, folder, options),
    write(name, text) {
      const path = join(folder, name);
      writeFileSync(path, text);
      return path;
    },
    installedPackages() {
      return readdirSync(modules)
        .filter((name) => !name.startsWith("."))
        .flatMap((name) =>
          name.startsWith("@") ? readdirSync(join(modules, name)).map((inner) => `${name}/${inner}`) : [name],
        );
    },
    installedBytes: () => folderBytes(modules),
    remove: () => rmSync(folder, { recursive: true, force: true }),
  };
}

/** Total size of the files under `folder` (symbolic links not followed). */
export function folderBytes(folder: string): number {
  let total = 0;
  for (const entry of readdirSync(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) total += folderBytes(path);
    else if (entry.isFile()) total += statSync(path).size;
  }
  return total;
}

/** Paths under `folder` of files named `name` (e.g. node-gyp's `config.gypi`: a module compiled on install). */
export function findFiles(folder: string, name: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return findFiles(path, name);
    return entry.name === name ? [path] : [];
  });
}

/**
 * A module that, run with `node`, imports `specifier` after registering a loader hook, and prints as
 * JSON the packages the import loaded (from `node_modules`), the number of modules, the import's
 * milliseconds and the process-wide handlers it left behind.
 */
export const IMPORT_PROBE = `import { register } from "node:module";
import { readFileSync, writeFileSync } from "node:fs";
const [specifier, log] = process.argv.slice(2);
writeFileSync(log, "");
register("data:text/javascript," + encodeURIComponent(\`import { appendFileSync } from "node:fs";
export async function load(url, context, next) {
  if (!url.startsWith("node:")) appendFileSync(\${JSON.stringify(log)}, url + "\\\\n");
  return next(url, context);
}\`));
const before = { exception: process.listeners("uncaughtException").length, rejection: process.listeners("unhandledRejection").length };
const started = performance.now();
const loaded = await import(specifier);
const milliseconds = performance.now() - started;
const urls = readFileSync(log, "utf8").trim().split("\\n").filter(Boolean);
const packages = [...new Set(urls.map((url) => (/node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(url) ?? [])[1]).filter(Boolean))].sort();
console.log(JSON.stringify({
  exports: Object.keys(loaded).length,
  modules: urls.length,
  milliseconds,
  packages,
  handlers: {
    uncaughtException: process.listeners("uncaughtException").length - before.exception,
    unhandledRejection: process.listeners("unhandledRejection").length - before.rejection,
  },
}));
`;

/** What `IMPORT_PROBE` prints. */
export interface ImportProbe {
  exports: number;
  modules: number;
  milliseconds: number;
  packages: string[];
  handlers: { uncaughtException: number; unhandledRejection: number };
}

/** Import `specifier` in a fresh Node process in `project` and report what it loaded. */
export async function probeImport(project: ConsumerProject, specifier: string): Promise<ImportProbe> {
  const probe = project.write("import-probe.mjs", IMPORT_PROBE);
  const log = join(project.folder, "import-probe.log");
  const { stdout } = await project.run("node", [probe, specifier, log]);
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}") as ImportProbe;
}
