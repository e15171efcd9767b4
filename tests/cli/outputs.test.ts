/**
 * Every path the CLI writes: Gavel never destroys a file it did not create. The ledger of `gavel eval`
 * gets a run appended (or is replaced with `--replace-ledger`, and then only when it is a Gavel
 * ledger); a foreign file is refused with exit 2 and survives byte for byte. The same for the report
 * folder, `gavel report --out` and `gavel train --out` (`--overwrite` forces those).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { type EvalCommandOptions, EXIT_BAD_INPUT, evalCommand } from "../../src/cli/eval.js";
import { ledgerCommand } from "../../src/cli/ledger.js";
import { reportCommand } from "../../src/cli/report.js";
import { trainCommand } from "../../src/cli/train.js";
import { GAVEL_MARKER_COMMENT } from "../../src/eval/outputs.js";
import { renderJson, writeReport } from "../../src/eval/report/index.js";
import { handMadeReport } from "../eval/report/fixture.js";
import { runGavel } from "../helpers/cli.js";
import { corruptPagesOf, writeSampleLedger } from "./ledger-files.js";

/** 16 prompts (two tasks) × 3 models. */
const outcomes = join(import.meta.dirname, "fixtures", "outcomes.jsonl");
const scratch = mkdtempSync(join(tmpdir(), "gavel-outputs-"));
let folders = 0;

function folder(): string {
  const path = join(scratch, `case-${folders++}`);
  mkdirSync(path, { recursive: true });
  return path;
}

function gavel(args: string[], seams: EvalCommandOptions = {}) {
  return runGavel(
    (writers) => [
      evalCommand({ ...writers, interactive: false, env: {}, ...seams }),
      reportCommand(writers),
      trainCommand({ ...writers, env: {} }),
      ledgerCommand(writers),
    ],
    args,
  );
}

/** `gavel eval` on the fixture: fast (hashing embedder), quiet, report into `out`. */
function evalInto(out: string, ...more: string[]) {
  return gavel(["eval", "--outcomes", outcomes, "--embedder", "hashing", "--quiet", "--out", out, ...more]);
}

/** A SQLite database of another application: one table of notes. */
function foreignDatabase(path: string): Buffer {
  const database = new Database(path);
  database.exec("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('keep me'), ('and me');");
  database.close();
  return readFileSync(path);
}

/** Auctions and distinct run scopes in a ledger file. */
function ledgerRuns(path: string): { auctions: number; runs: string[]; ids: string[] } {
  const database = new Database(path, { readonly: true });
  try {
    const auctions = (database.prepare("SELECT COUNT(*) AS n FROM auctions").get() as { n: number }).n;
    const runs = (
      database
        .prepare("SELECT DISTINCT scope_id AS id FROM auctions WHERE scope_kind = 'run' ORDER BY id")
        .all() as Array<{ id: string }>
    ).map((row) => row.id);
    const ids = (database.prepare("SELECT id FROM auctions ORDER BY id").all() as Array<{ id: string }>).map(
      (row) => row.id,
    );
    return { auctions, runs, ids };
  } finally {
    database.close();
  }
}

describe("gavel eval --ledger", () => {
  it("refuses another application's SQLite database with exit 2, and leaves it byte for byte, even with --replace-ledger", async () => {
    const out = folder();
    const path = join(out, "app.db");
    const bytes = foreignDatabase(path);
    for (const extra of [[], ["--replace-ledger"]]) {
      const { stderr, exitCode } = await evalInto(out, "--ledger", path, ...extra);
      expect(exitCode).toBe(EXIT_BAD_INPUT);
      expect(stderr).toContain(`${path}: is a SQLite database without Gavel's ledger schema`);
      expect(stderr).toContain("--no-ledger");
      expect(readFileSync(path).equals(bytes)).toBe(true);
      expect(existsSync(`${path}-wal`)).toBe(false);
    }
    // Refused before any work: no report either.
    expect(existsSync(join(out, "report.json"))).toBe(false);
  });

  it("refuses a text file (and an empty file) with exit 2 and leaves it as it was", async () => {
    const out = folder();
    const text = join(out, "notes.txt");
    writeFileSync(text, "my notes, not a ledger\n");
    const empty = join(out, "empty.db");
    writeFileSync(empty, "");
    for (const [path, problem] of [
      [text, "is not a SQLite database"],
      [empty, "is an empty file"],
    ] as const) {
      for (const extra of [[], ["--replace-ledger"]]) {
        const { stderr, exitCode } = await evalInto(out, "--ledger", path, ...extra);
        expect(exitCode).toBe(EXIT_BAD_INPUT);
        expect(stderr).toContain(`${path}: ${problem}`);
      }
    }
    expect(readFileSync(text, "utf8")).toBe("my notes, not a ledger\n");
    expect(readFileSync(empty, "utf8")).toBe("");
  });

  it("appends the run to an existing ledger: the old auctions stay, the new run has its own run scope", async () => {
    const out = folder();
    const path = join(out, "shared.db");
    await writeSampleLedger(path, 50);
    const first = await evalInto(out, "--ledger", path, "--ledger-points", "all");
    expect(first.exitCode).toBe(0);
    const afterFirst = ledgerRuns(path);
    expect(afterFirst.ids.filter((id) => id.startsWith("sample-"))).toHaveLength(50);
    expect(afterFirst.runs).toHaveLength(1);
    const added = afterFirst.auctions - 50;
    expect(added).toBeGreaterThan(0);

    const second = await evalInto(out, "--ledger", path, "--ledger-points", "all");
    expect(second.exitCode).toBe(0);
    const afterSecond = ledgerRuns(path);
    expect(afterSecond.auctions).toBe(50 + 2 * added);
    expect(afterSecond.runs).toHaveLength(2);
    expect(afterSecond.ids).toEqual(expect.arrayContaining(afterFirst.ids));
    // `gavel ledger` tells the runs apart: spend by scope has one row per run beside the old charges.
    const spend = await gavel(["ledger", "spend", "--db", path, "--by", "scope", "--json"]);
    expect(spend.exitCode).toBe(0);
    const keys = (JSON.parse(spend.stdout) as Array<{ key: string }>).map((row) => row.key).sort();
    expect(keys).toEqual(["global:*", ...afterSecond.runs.map((run) => `run:${run}`)].sort());
  });

  it("appends to the default <out>/ledger.db too, and --replace-ledger starts it afresh", async () => {
    const out = folder();
    const path = join(out, "ledger.db");
    expect((await evalInto(out)).exitCode).toBe(0);
    expect((await evalInto(out)).exitCode).toBe(0);
    expect(ledgerRuns(path).runs).toHaveLength(2);
    expect((await evalInto(out, "--replace-ledger")).exitCode).toBe(0);
    expect(ledgerRuns(path).runs).toHaveLength(1);
  });

  it("refuses to append to a corrupt ledger (and leaves it); --replace-ledger may replace it", async () => {
    const out = folder();
    const path = join(out, "ledger.db");
    await writeSampleLedger(path);
    corruptPagesOf(path, "sqlite_autoindex_bids_1");
    const bytes = readFileSync(path);
    const { stderr, exitCode } = await evalInto(out);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${path}: is a Gavel ledger that fails PRAGMA quick_check`);
    expect(stderr).toContain("--replace-ledger");
    expect(readFileSync(path).equals(bytes)).toBe(true);
    expect((await evalInto(out, "--replace-ledger")).exitCode).toBe(0);
    expect(ledgerRuns(path).runs).toHaveLength(1);
  });

  it("records only the operating points asked for, and refuses a point the run does not have", async () => {
    const out = folder();
    const path = join(out, "points.db");
    const { exitCode } = await evalInto(out, "--ledger", path, "--ledger-points", "memory-batch:0.1,auto-online:0.1");
    expect(exitCode).toBe(0);
    const database = new Database(path, { readonly: true });
    const points = database
      .prepare(
        "SELECT DISTINCT json_extract(metadata, '$.policy') || ':' || json_extract(metadata, '$.parameter') AS point FROM charges ORDER BY point",
      )
      .all()
      .map((row) => (row as { point: string }).point);
    // Compact: every bid keeps its value, amount and reason, not the estimator's meta or the detail sentence.
    const bids = database
      .prepare(
        "SELECT COUNT(*) AS n, COUNT(value) AS valued, COUNT(meta) AS meta, MAX(LENGTH(detail)) AS detail FROM bids",
      )
      .get() as { n: number; valued: number; meta: number; detail: number };
    database.close();
    expect(points).toEqual(["auto-online:0.1", "memory-batch:0.1"]);
    expect(bids.n).toBeGreaterThan(0);
    expect(bids).toEqual({ n: bids.n, valued: bids.n, meta: 0, detail: 0 });

    const unknown = await evalInto(out, "--ledger", join(out, "unknown.db"), "--ledger-points", "memory-batch:0.123");
    expect(unknown.exitCode).toBe(EXIT_BAD_INPUT);
    expect(unknown.stderr).toContain('ledgerPoints: no operating point "memory-batch:0.123"');
    expect(existsSync(join(out, "unknown.db"))).toBe(false); // refused before the ledger is opened
    const malformed = await evalInto(out, "--ledger-points", "everything");
    expect(malformed.exitCode).not.toBe(0); // commander's usage error: exit 2 from the binary
    expect(malformed.stderr).toContain("expected frontier:N, frontier, all or");
  });
});

describe("the report folder", () => {
  it("refuses a report.md Gavel did not write (exit 2, nothing written), and --overwrite replaces it", async () => {
    const out = folder();
    writeFileSync(join(out, "report.md"), "# My own notes\n");
    const refused = await evalInto(out, "--no-ledger");
    expect(refused.exitCode).toBe(EXIT_BAD_INPUT);
    expect(refused.stderr).toContain(`${join(out, "report.md")}: exists and is not a Gavel report rendering`);
    expect(refused.stderr).toContain("--overwrite");
    expect(readFileSync(join(out, "report.md"), "utf8")).toBe("# My own notes\n");
    expect(existsSync(join(out, "report.json"))).toBe(false);

    const forced = await evalInto(out, "--no-ledger", "--overwrite");
    expect(forced.exitCode).toBe(0);
    expect(readFileSync(join(out, "report.md"), "utf8")).toContain(GAVEL_MARKER_COMMENT);
  });

  it("refuses a report.json that is not a report, and a foreign pareto.svg", async () => {
    for (const [file, content] of [
      ["report.json", '{"my": "data"}\n'],
      ["pareto.svg", "<svg><text>my drawing</text></svg>"],
    ] as const) {
      const out = folder();
      writeFileSync(join(out, file), content);
      const { stderr, exitCode } = await evalInto(out, "--no-ledger");
      expect(exitCode).toBe(EXIT_BAD_INPUT);
      expect(stderr).toContain(join(out, file));
      expect(readFileSync(join(out, file), "utf8")).toBe(content);
    }
  });

  it("replaces an earlier Gavel report, the marker-less files of an older version included", async () => {
    const out = folder();
    // An older Gavel's folder: a report.json that parses as one, renderings without the marker.
    writeFileSync(join(out, "report.json"), renderJson(handMadeReport("Older run")));
    writeFileSync(join(out, "report.md"), "# Older run\n");
    writeFileSync(join(out, "report.html"), "<!DOCTYPE html><title>Older run</title>");
    const { exitCode } = await evalInto(out, "--no-ledger");
    expect(exitCode).toBe(0);
    expect(readFileSync(join(out, "report.md"), "utf8")).not.toBe("# Older run\n");
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain(
      '<meta name="generator" content="langchain-gavel">',
    );
  });

  it("gavel report --out refuses a foreign file there and --overwrite forces it", async () => {
    const source = await writeReport(handMadeReport("Copied"), folder());
    const out = folder();
    writeFileSync(join(out, "report.html"), "<html>my page</html>");
    const refused = await gavel(["report", "--in", source.json, "--out", out]);
    expect(refused.exitCode).toBe(EXIT_BAD_INPUT);
    expect(refused.stderr).toContain(join(out, "report.html"));
    expect(readFileSync(join(out, "report.html"), "utf8")).toBe("<html>my page</html>");
    expect((await gavel(["report", "--in", source.json, "--out", out, "--overwrite"])).exitCode).toBe(0);
  });
});

describe("gavel train --out", () => {
  it("refuses a file that is not saved executor weights, and replaces weights it wrote", async () => {
    const out = folder();
    const records = join(out, "records.jsonl");
    writeFileSync(
      records,
      `${[
        { executor: "a", correct: true },
        { executor: "b", correct: false },
      ]
        .map((record) => JSON.stringify(record))
        .join("\n")}\n`,
    );
    const target = join(out, "weights.json");
    writeFileSync(target, '{"mine": true}\n');
    const refused = await gavel(["train", "executors", "--records", records, "--out", target]);
    expect(refused.exitCode).toBe(EXIT_BAD_INPUT);
    expect(refused.stderr).toContain(`${target}: exists and is not Gavel executor weights`);
    expect(readFileSync(target, "utf8")).toBe('{"mine": true}\n');

    expect((await gavel(["train", "executors", "--records", records, "--out", target, "--overwrite"])).exitCode).toBe(
      0,
    );
    // Now it holds Gavel's weights: a second fit replaces them without the flag.
    expect((await gavel(["train", "executors", "--records", records, "--out", target, "--prior", "2"])).exitCode).toBe(
      0,
    );
    expect(JSON.parse(readFileSync(target, "utf8")).prior).toBe(2);
  });
});

describe("bad input exits 2 naming the file", () => {
  it("an empty outcomes file", async () => {
    const out = folder();
    const empty = join(out, "empty.jsonl");
    writeFileSync(empty, "");
    const { stderr, exitCode } = await gavel([
      "eval",
      "--outcomes",
      empty,
      "--embedder",
      "hashing",
      "--quiet",
      "--out",
      out,
    ]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`${empty}: no outcome records (the file is empty)`);
    expect(existsSync(join(out, "ledger.db"))).toBe(false);
  });

  it("a YAML alias bomb in a config is refused, not expanded", async () => {
    const out = folder();
    const levels = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
    for (let index = 1; index < levels.length; index++) {
      const previous = levels[index - 1];
      lines.push(`${levels[index]}: &${levels[index]} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const config = join(out, "bomb.yaml");
    writeFileSync(config, `${lines.join("\n")}\nname: bomb\n`);
    const { stderr, exitCode } = await gavel(["eval", "--config", config, "--quiet", "--out", out]);
    expect(exitCode).toBe(EXIT_BAD_INPUT);
    expect(stderr).toContain(`Invalid experiment config ${config}`);
    expect(stderr).toContain("YAML aliases");
  });
});
