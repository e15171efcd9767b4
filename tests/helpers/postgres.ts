/**
 * The PostgreSQL server of the tests: `GAVEL_TEST_POSTGRES_URL`, or the one `npm run db:start`
 * started (its address is in .tmp/postgres/env). Without a server the PostgreSQL suites are skipped
 * with the reason printed; with `GAVEL_REQUIRE_POSTGRES=1` (set by .ci/run) a missing server fails
 * them instead.
 *
 * Every suite works in a schema of its own (`freshSchema`), dropped at the end, so suites run in
 * parallel on one database.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { describe, it } from "vitest";

const ENV_FILE = join(import.meta.dirname, "..", "..", ".tmp", "postgres", "env");

/** The connection string of the test server, or undefined when there is none. */
export const POSTGRES_URL: string | undefined = process.env.GAVEL_TEST_POSTGRES_URL || fromEnvFile();

function fromEnvFile(): string | undefined {
  if (!existsSync(ENV_FILE)) return undefined;
  const match = /^GAVEL_TEST_POSTGRES_URL=(.+)$/m.exec(readFileSync(ENV_FILE, "utf8"));
  return match?.[1]?.trim();
}

const REASON = "no PostgreSQL server: run `npm run db:start` (or set GAVEL_TEST_POSTGRES_URL)";

/**
 * `describe` for a suite that needs the server; `body` gets its connection string. Skipped (reason
 * printed) without a server, failing instead when `GAVEL_REQUIRE_POSTGRES=1`.
 */
export function describePostgres(name: string, body: (url: string) => void): void {
  if (POSTGRES_URL) {
    describe(name, () => body(POSTGRES_URL as string));
    return;
  }
  if (process.env.GAVEL_REQUIRE_POSTGRES === "1") {
    describe(name, () => {
      it("has a PostgreSQL server (GAVEL_REQUIRE_POSTGRES=1)", () => {
        throw new Error(`${name}: ${REASON}`);
      });
    });
    return;
  }
  console.warn(`skipped "${name}": ${REASON}`);
  describe.skip(name, () => body(""));
}

/** A new empty schema on the test server, and a function that drops it with everything in it. */
export async function freshSchema(
  url: string,
  prefix = "test",
): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `${prefix}_${randomBytes(5).toString("hex")}`;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`CREATE SCHEMA "${schema}"`);
  } finally {
    await client.end();
  }
  return {
    schema,
    async drop() {
      const dropper = new pg.Client({ connectionString: url });
      await dropper.connect();
      try {
        await dropper.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await dropper.end();
      }
    },
  };
}
