/**
 * `gavel ledger` as a real process: real stdout/stderr and the process exit code.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { createSampleOutcome } from "../../src/testing.js";
import { corruptPagesOf, writeSampleLedger } from "../cli/ledger-files.js";

const root = join(import.meta.dirname, "..", "..");
const entry = join(import.meta.dirname, "fixtures", "ledger-cli.ts");
const folder = mkdtempSync(join(tmpdir(), "gavel-ledger-cli-int-"));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function gavel(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", entry, ...args], { cwd: root, encoding: "utf8" });
}

describe("gavel ledger (process)", () => {
  it("exits with code 2 and creates nothing when the database does not exist", () => {
    const missing = join(folder, "missing.db");
    const result = gavel("ledger", "spend", "--db", missing);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(`no ledger database at ${missing}`);
    expect(result.stdout).toBe("");
    expect(existsSync(missing)).toBe(false);
  });

  it("prints JSON a script can parse, while a writer holds the file open", async () => {
    const path = join(folder, "ledger.db");
    const writer = createSqliteLedger({ path });
    await writer.recordAuction({
      id: "live",
      kind: "debate",
      outcome: createSampleOutcome({
        bids: [
          { bidder: "a", amount: 2 },
          { bidder: "b", amount: 1 },
        ],
      }),
    });
    const result = gavel("ledger", "recent", "--db", path, "--json");
    await writer.close();
    expect(result.status).toBe(0);
    expect((JSON.parse(result.stdout) as Array<{ id: string }>).map((row) => row.id)).toEqual(["live"]);
  });

  it("exits with code 2 and one line, no stack trace, on a page-corrupted ledger (wins used to end with a stack trace)", async () => {
    const path = join(folder, "corrupt.db");
    await writeSampleLedger(path);
    corruptPagesOf(path, "sqlite_autoindex_bids_1");
    for (const subcommand of ["wins", "recent", "spend"]) {
      const result = gavel("ledger", subcommand, "--db", path);
      expect({ subcommand, status: result.status }).toEqual({ subcommand, status: 2 });
      expect(result.stdout).toBe("");
      expect(result.stderr.trim().split("\n")).toHaveLength(1);
      expect(result.stderr).toContain(`${path} is a corrupt ledger`);
    }
  });
});
