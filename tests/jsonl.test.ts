/** The one JSON Lines reader and its rule: blank lines skipped, a bad line names file:line and field, torn lines opt-in. */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { GavelError } from "../src/errors.js";
import { JsonLineError, parseJsonLines } from "../src/jsonl.js";

const Row = z.object({ id: z.string(), score: z.number().min(0) }).strict();
const file = "rows.jsonl";

function errorOf(run: () => unknown): JsonLineError {
  try {
    run();
  } catch (error) {
    if (JsonLineError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a JsonLineError");
}

describe("parseJsonLines", () => {
  it("reads records in order with 1-based line numbers that count blank lines; \\r\\n and spaces are fine", () => {
    const text = '{"id":"a","score":1}\r\n\n   \n  {"id":"b","score":0.5}  \n';
    expect(parseJsonLines(text, { schema: Row, file })).toEqual([
      { line: 1, value: { id: "a", score: 1 } },
      { line: 4, value: { id: "b", score: 0.5 } },
    ]);
    expect(parseJsonLines("", { schema: Row, file })).toEqual([]);
    expect(parseJsonLines('{"id":"z","score":2}', { schema: Row, file })).toHaveLength(1);
  });

  it("returns what the schema outputs (transforms and defaults applied)", () => {
    const schema = z.object({ n: z.string().transform(Number), tag: z.string().default("none") });
    expect(parseJsonLines('{"n":"7"}\n', { schema, file })[0]?.value).toEqual({ n: 7, tag: "none" });
  });

  it("refuses a line that is not JSON, naming file and line, with the SyntaxError as cause", () => {
    const error = errorOf(() => parseJsonLines('{"id":"a","score":1}\n{oops\n', { schema: Row, file }));
    expect(error).toMatchObject({ file, line: 2, fields: [] });
    expect(error.message).toMatch(/^rows\.jsonl:2: not valid JSON \(/);
    expect(error.cause).toBeInstanceOf(SyntaxError);
    expect(GavelError.isInstance(error)).toBe(true);
  });

  it("refuses a record that does not match the schema, naming file, line and every bad field", () => {
    const error = errorOf(() => parseJsonLines('\n{"id":"a","score":1}\n{"id":3,"score":-1}\n', { schema: Row, file }));
    expect(error).toMatchObject({ file, line: 3, fields: ["id", "score"] });
    expect(error.message).toMatch(/^rows\.jsonl:3: field "id", "score": /);
    const root = errorOf(() => parseJsonLines("[1]\n", { schema: Row, file }));
    expect(root.fields).toEqual(["(record)"]);
  });

  it('torn: "last" drops an unterminated last line cut short, and nothing else', () => {
    const skipped: number[] = [];
    const torn = '{"id":"a","score":1}\n{"id":"b","sco';
    expect(parseJsonLines(torn, { schema: Row, file, torn: "last", onSkip: (line) => skipped.push(line) })).toEqual([
      { line: 1, value: { id: "a", score: 1 } },
    ]);
    expect(skipped).toEqual([2]);
    // A complete last line without its newline is a record, not a torn one.
    expect(parseJsonLines('{"id":"a","score":1}', { schema: Row, file, torn: "last" })).toHaveLength(1);
    // A bad line that ends with a newline was written whole: still an error.
    expect(errorOf(() => parseJsonLines('{"id":"b","sco\n', { schema: Row, file, torn: "last" })).line).toBe(1);
    expect(
      errorOf(() => parseJsonLines('{oops\n{"id":"a","score":1}\n', { schema: Row, file, torn: "last" })).line,
    ).toBe(1);
    // The default refuses the torn line too.
    expect(errorOf(() => parseJsonLines(torn, { schema: Row, file })).line).toBe(2);
  });

  it('torn: "any" drops every line that is not JSON, and reports each', () => {
    const skipped: number[] = [];
    const text = '{"id":"a","sco{"id":"b","score":2}\n{"id":"c","score":3}\n{"id":"d"';
    const rows = parseJsonLines(text, { schema: Row, file, torn: "any", onSkip: (line) => skipped.push(line) });
    expect(rows.map((row) => row.value.id)).toEqual(["c"]);
    expect(skipped).toEqual([1, 3]);
  });

  it("refuses JSON that does not match the schema in every mode", () => {
    for (const torn of ["none", "last", "any"] as const) {
      expect(errorOf(() => parseJsonLines('{"id":"a"}', { schema: Row, file, torn })).fields).toEqual(["score"]);
    }
  });
});
