#!/usr/bin/env node
// The `gavel` command. Runs the compiled CLI from dist/ (built by `npm run build`, done on pack).
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const compiled = join(root, "dist", "src", "cli", "main.js");
if (!existsSync(compiled)) {
  console.error(
    "gavel: the CLI is not built. Run `npm run build` first, or use `npm run gavel -- <command>` from a checkout.",
  );
  process.exit(2);
}
await import(pathToFileURL(compiled).href);
