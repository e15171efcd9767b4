/**
 * Virtual API keys of `gavel serve`: created with `gavel keys create` (kept in a table of the
 * ledger's SQLite file) or declared in the config, each with its own budget, per-user budget,
 * budget window and rate limit.
 *
 * Read top to bottom: keys and digests → errors → the schema of the table → the store (`create`,
 * `list`, `revoke`) → the keys of the config → the verifier.
 *
 * Secrecy: a key is `gvl-` followed by 32 random bytes (256 bits, base64url). Only its SHA-256 is
 * stored. A fast unsalted hash is the standard for high-entropy API keys (a slow password hash
 * such as scrypt protects guessable secrets; nobody can enumerate 2^256 keys, so it would only make
 * every request slower). The plain key is returned once by `create` and is never stored, logged or
 * echoed after that; `list` returns no secret. A presented key is hashed and looked up by its
 * digest (a lookup keyed by the digest of a secret tells a timing observer nothing about the
 * secret), then the digests are compared with `crypto.timingSafeEqual`.
 *
 * The file: the table is `gavel_server_keys` and its schema version is in
 * `gavel_server_keys_schema` (never in `PRAGMA user_version`, which belongs to the ledger), so the
 * keys share one file with the SQLite ledger and the SQLite budget store, in any order. Like them,
 * the store refuses a SQLite file of another application (an `application_id` that is neither 0
 * nor the ledger's "GVL1").
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type Database from "better-sqlite3";
import { z } from "zod";
import { budgetLimitsSchema } from "../../src/budget/index.js";
import type { BudgetLimits } from "../../src/budget/types.js";
import { functionSchema, GavelError, parseConfig } from "../../src/errors.js";
import { requirePeer } from "../../src/peers.js";
import { databaseHandleSchema, requirePathOrDatabase } from "../sqlite/database.js";
import { DEFAULT_BUSY_TIMEOUT_MS } from "../sqlite/ledger.js";
import { LEDGER_APPLICATION_ID } from "../sqlite/migrations.js";
import { budgetWindowSchema } from "./budgets.js";
import type { KeyVerifier, VirtualKey } from "./types.js";

// ---------------------------------------------------------------------------
// Keys and digests
// ---------------------------------------------------------------------------

/**
 * What every key created by Gavel starts with (so secret scanners and people can tell one).
 *
 * @example
 * ```ts
 * const { key } = await store.create({ name: "ci" });
 * key.startsWith(KEY_PREFIX); // true: "gvl-" + 43 base64url characters
 * ```
 */
export const KEY_PREFIX = "gvl-";

/** Random bytes of a key: 256 bits. */
const KEY_BYTES = 32;

/** A presented key longer than this is refused before it is hashed (a key is 47 characters). */
const MAX_PRESENTED_LENGTH = 512;

/**
 * How often, by default, a verifier checks the file for keys created or revoked by another process
 * (`gavel keys create` while the server runs), in ms. A key the verifier does not know makes it
 * check at once, so a new key works on its first request; a revocation by another process takes
 * effect within this period (at once when revoked through the same store).
 *
 * @example
 * ```ts
 * store.verifier(configKeys); // sees other processes' revocations within DEFAULT_KEY_REFRESH_MS (1,000 ms)
 * store.verifier(configKeys, { refreshMs: 0 }); // checks the file on every request
 * ```
 */
export const DEFAULT_KEY_REFRESH_MS = 1_000;

/** The SHA-256 of a key, as the store keeps it. */
function digestOf(key: string): Buffer {
  return createHash("sha256").update(key, "utf8").digest();
}

/**
 * The SHA-256 of a key in lowercase hex: what a config's `sha256` field holds (the same as
 * `printf %s "$KEY" | sha256sum`).
 *
 * @example
 * ```ts
 * keyDigest("gvl-example"); // "4c0b…" (64 hex digits)
 * ```
 */
export function keyDigest(key: string): string {
  return digestOf(key).toString("hex");
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

/** What the key store was doing when it failed. */
export type KeyStoreOperation = "open" | "migrate" | "create" | "list" | "revoke" | "verify";

/**
 * The key store failed: the file cannot be opened, belongs to another application or is newer than
 * this Gavel; a name is taken; no key has the id or name to revoke (`notFound`).
 *
 * @example
 * ```ts
 * try {
 *   await store.revoke("nope");
 * } catch (error) {
 *   if (KeyStoreError.isInstance(error)) [error.operation, error.notFound]; // ["revoke", true]
 * }
 * ```
 */
export class KeyStoreError extends GavelError {
  override readonly name = "KeyStoreError";
  readonly operation: KeyStoreOperation;
  /** True when the key to revoke does not exist. */
  readonly notFound: boolean;

  constructor(operation: KeyStoreOperation, message: string, options?: { cause?: unknown; notFound?: boolean }) {
    super(message, options);
    this.operation = operation;
    this.notFound = options?.notFound ?? false;
  }
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

/**
 * The table's schema steps, oldest first; step `n` brings it to version `n`. Append-only. Every
 * name starts with `gavel_server_keys`, so the file can also hold the ledger and the budget store.
 */
const KEY_STORE_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE gavel_server_keys (
    id                  TEXT PRIMARY KEY NOT NULL,
    name                TEXT NOT NULL,
    sha256              TEXT NOT NULL UNIQUE,  -- hex SHA-256 of the key; the key itself is never stored
    max_usd             REAL,
    max_tokens          INTEGER,
    user_max_usd        REAL,
    user_max_tokens     INTEGER,
    budget_window       TEXT,
    requests_per_minute INTEGER,
    created_at          INTEGER NOT NULL,
    revoked_at          INTEGER
  );
  CREATE UNIQUE INDEX gavel_server_keys_active_name ON gavel_server_keys (name) WHERE revoked_at IS NULL;
  CREATE TABLE gavel_server_keys_schema (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    INTEGER NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0  -- bumped by every create and revoke: verifiers reload on change
  );
  INSERT INTO gavel_server_keys_schema (id, version) VALUES (1, 0);
  `,
];

const KEY_STORE_SCHEMA_VERSION = KEY_STORE_MIGRATIONS.length;

/** The version of the key table in `database` (0 when absent); refuses foreign and newer files. */
function checkKeyFile(database: Database.Database): number {
  const applicationId = database.pragma("application_id", { simple: true }) as number;
  if (applicationId !== 0 && applicationId !== LEDGER_APPLICATION_ID) {
    throw new KeyStoreError(
      "open",
      `${database.name} is a SQLite file of another application (application_id ${applicationId}); keep the keys in the Gavel ledger file or a file of their own.`,
    );
  }
  const table = database
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gavel_server_keys_schema'")
    .get();
  if (!table) return 0;
  const row = database.prepare("SELECT version FROM gavel_server_keys_schema WHERE id = 1").get() as
    | { version: number }
    | undefined;
  const version = row?.version ?? 0;
  if (version > KEY_STORE_SCHEMA_VERSION) {
    throw new KeyStoreError(
      "open",
      `${database.name} has key tables at version ${version}, written by a newer langchain-gavel; this one knows up to version ${KEY_STORE_SCHEMA_VERSION}. Upgrade langchain-gavel.`,
    );
  }
  return version;
}

/** Bring the key table to the newest version in one `BEGIN IMMEDIATE` transaction (racing processes migrate once). */
function migrateKeyStore(database: Database.Database): void {
  const migrate = database.transaction(() => {
    const current = checkKeyFile(database);
    if (current === KEY_STORE_SCHEMA_VERSION) return;
    for (const step of KEY_STORE_MIGRATIONS.slice(current)) database.exec(step);
    database.prepare("UPDATE gavel_server_keys_schema SET version = ? WHERE id = 1").run(KEY_STORE_SCHEMA_VERSION);
  });
  try {
    migrate.immediate();
  } catch (error) {
    if (KeyStoreError.isInstance(error)) throw error;
    throw new KeyStoreError("migrate", `could not set up the key table in ${database.name}`, { cause: error });
  }
}

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

const keyStoreOptionsSchema = z
  .object({
    /** Database file: the ledger's, usually. Created when missing. */
    path: z.string().min(1).optional(),
    /**
     * An open better-sqlite3 handle to use instead of `path` (the ledger's `database`). Not closed by
     * the store, and its settings (busy timeout, journal mode) are left as they are.
     */
    database: databaseHandleSchema().optional(),
    /** Wait this long for another process's write lock (on the file `path` opens). */
    busyTimeoutMs: z.number().int().nonnegative().default(DEFAULT_BUSY_TIMEOUT_MS),
    /** Clock seam, epoch ms: `createdAt`, `revokedAt`, and the verifiers' refresh period. */
    now: functionSchema<() => number>().default(() => Date.now),
  })
  .strict()
  .superRefine(requirePathOrDatabase);

/**
 * Options of {@link createKeyStore}.
 *
 * @example
 * ```ts
 * const options: KeyStoreOptions = { path: "gavel.db", busyTimeoutMs: 10_000 };
 * ```
 */
export type KeyStoreOptions = z.input<typeof keyStoreOptionsSchema>;

/**
 * A key's name: what `gavel keys list` shows and `revoke` accepts. Letters, digits, `.`, `_`, `-`,
 * `@` and `:`, at most 64, starting with a letter or digit.
 */
const keyNameSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._@:-]{0,63}$/, {
  message: "must be 1 to 64 letters, digits, '.', '_', '-', '@' or ':', starting with a letter or digit",
});

/** What a key may spend and how often it may call: the fields of `create` and of a config key. */
const keyLimitsShape = {
  /** What the key may spend (per window), over all its users. */
  budget: budgetLimitsSchema.optional(),
  /** What each `user` of the key may spend (per window). */
  userBudget: budgetLimitsSchema.optional(),
  /** Budget period, e.g. `"1d"`, `"30d"`; absent: the server's default window (none: never resets). */
  budgetWindow: budgetWindowSchema.optional(),
  /** Most requests per minute; absent: the server's default. */
  requestsPerMinute: z.number().int().positive().optional(),
};

const createKeySchema = z.object({ name: keyNameSchema, ...keyLimitsShape }).strict();

/**
 * What {@link KeyStore.create} takes: a name, and optionally the key's limits.
 *
 * @example
 * ```ts
 * const input: CreateKeyInput = { name: "ci", budget: { maxUsd: 5 }, userBudget: { maxUsd: 1 }, budgetWindow: "30d", requestsPerMinute: 600 };
 * ```
 */
export type CreateKeyInput = z.input<typeof createKeySchema>;

/**
 * A stored key as `list`, `create` and `revoke` report it: its record, no secret.
 *
 * @example
 * ```ts
 * const [record]: KeyRecord[] = await store.list();
 * record; // { id: "key_3f9a1c0b7d2e", name: "ci", budget: { maxUsd: 5 }, createdAt: "2026-12-04T16:00:00.000Z" }
 * ```
 */
export interface KeyRecord extends VirtualKey {
  /** When it was created, ISO 8601. */
  createdAt: string;
  /** When it was revoked, ISO 8601; absent while it is active. */
  revokedAt?: string;
}

/**
 * Virtual keys in a SQLite file. `create` returns the plain key once; the file keeps only its
 * SHA-256. Every method is one short transaction; `verifier` answers from memory.
 *
 * @example
 * ```ts
 * const store: KeyStore = createKeyStore({ path: "gavel.db" });
 * const { key, record } = await store.create({ name: "ci", budget: { maxUsd: 5 } });
 * await store.list(); // [{ id: record.id, name: "ci", budget: { maxUsd: 5 }, createdAt: "…" }]
 * await store.revoke("ci");
 * ```
 */
export interface KeyStore {
  readonly database: Database.Database;
  /** The version of the key table (`gavel_server_keys_schema`). */
  readonly schemaVersion: number;
  /**
   * Create a key. `key` is the only time the plain key exists outside the caller: show it once.
   * @throws ConfigError naming the field when the input is invalid.
   * @throws KeyStoreError (`"create"`) when an active key already has this name.
   */
  create(input: CreateKeyInput): Promise<{ key: string; record: KeyRecord }>;
  /** Every key, active and revoked, oldest first. No secret (not even the digest). */
  list(): Promise<KeyRecord[]>;
  /**
   * Revoke a key by id, or by the name of an active key; revoking a revoked key changes nothing.
   * @throws KeyStoreError (`"revoke"`, `notFound`) when no key has this id or active name.
   */
  revoke(idOrName: string): Promise<KeyRecord>;
  /**
   * A verifier over this store's active keys and `configKeys` (see {@link createKeyVerifier}).
   * @throws ConfigError naming the field when a config key is invalid or its `keyEnv` is not set.
   */
  verifier(configKeys?: readonly ConfigKeyInput[], options?: KeyVerifierOptions): ServerKeyVerifier;
  /** A counter bumped by every create and revoke, by any process: verifiers reload when it moves. */
  generation(): number;
  /** The active keys with their digests (hex SHA-256), for verifiers. */
  activeDigests(): Array<{ sha256: string; key: VirtualKey }>;
  /** Call `listener` after every create and revoke through this store; returns the unsubscribe. */
  onChange(listener: () => void): () => void;
  /** Close the file (when the store opened it). Closing twice is harmless. */
  close(): Promise<void>;
}

/**
 * Open (creating and migrating when needed) the key table in a SQLite file — the ledger's file, or
 * one of its own. Processes sharing the file share the keys: a key created by `gavel keys create`
 * works in a running server without a restart.
 *
 * @param options - `path` or an open better-sqlite3 `database`; `busyTimeoutMs`; the clock `now`.
 * @returns A {@link KeyStore}; `close()` it when done.
 * @throws ConfigError when an option is invalid.
 * @throws KeyStoreError (`"open"`, `"migrate"`) when the file cannot be opened, is not a SQLite
 *   database, belongs to another application, or has key tables from a newer Gavel.
 * @throws MissingPeerDependencyError when better-sqlite3 is not installed.
 *
 * @example
 * ```ts
 * import { createKeyStore } from "langchain-gavel/server";
 *
 * const store = createKeyStore({ path: "gavel.db" });
 * const { key } = await store.create({ name: "notebook", budget: { maxUsd: 5 }, budgetWindow: "30d" });
 * console.log(key); // shown once: "gvl-…"
 * const verifier = store.verifier();
 * (await verifier.verify(key))?.name; // "notebook"
 * ```
 */
export function createKeyStore(options: KeyStoreOptions): KeyStore {
  const {
    path,
    database: handle,
    busyTimeoutMs,
    now,
  } = parseConfig("createKeyStore options", keyStoreOptionsSchema, options);
  const ownsDatabase = handle === undefined;
  const database = handle ?? openFile(path ?? ":memory:");
  try {
    if (ownsDatabase) {
      // A borrowed handle (the ledger's) keeps its own settings: its write queue manages the busy timeout.
      database.pragma(`busy_timeout = ${busyTimeoutMs}`);
      database.pragma("journal_mode = WAL"); // persistent in the file, as the ledger's
    }
    migrateKeyStore(database);
    return buildStore(database, ownsDatabase, now);
  } catch (error) {
    if (ownsDatabase) database.close();
    if (KeyStoreError.isInstance(error)) throw error;
    throw new KeyStoreError("open", `could not open ${database.name} as a key store: ${messageOf(error)}`, {
      cause: error,
    });
  }
}

function openFile(path: string): Database.Database {
  // better-sqlite3 is an optional peer, loaded on the first open (not on import).
  const BetterSqlite3 = requirePeer<typeof Database>("better-sqlite3", "langchain-gavel/server keys");
  try {
    return new BetterSqlite3(path);
  } catch (error) {
    throw new KeyStoreError("open", `could not open ${path}: ${messageOf(error)}`, { cause: error });
  }
}

interface KeyRow {
  id: string;
  name: string;
  sha256: string;
  max_usd: number | null;
  max_tokens: number | null;
  user_max_usd: number | null;
  user_max_tokens: number | null;
  budget_window: string | null;
  requests_per_minute: number | null;
  created_at: number;
  revoked_at: number | null;
}

function buildStore(database: Database.Database, ownsDatabase: boolean, now: () => number): KeyStore {
  const statements = {
    insert: database.prepare(
      `INSERT INTO gavel_server_keys (id, name, sha256, max_usd, max_tokens, user_max_usd, user_max_tokens, budget_window, requests_per_minute, created_at)
       VALUES (@id, @name, @sha256, @maxUsd, @maxTokens, @userMaxUsd, @userMaxTokens, @budgetWindow, @requestsPerMinute, @createdAt)`,
    ),
    activeByName: database.prepare<[string], KeyRow>(
      "SELECT * FROM gavel_server_keys WHERE name = ? AND revoked_at IS NULL",
    ),
    byId: database.prepare<[string], KeyRow>("SELECT * FROM gavel_server_keys WHERE id = ?"),
    all: database.prepare<[], KeyRow>("SELECT * FROM gavel_server_keys ORDER BY created_at, rowid"),
    active: database.prepare<[], KeyRow>("SELECT * FROM gavel_server_keys WHERE revoked_at IS NULL"),
    revoke: database.prepare("UPDATE gavel_server_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL"),
    bump: database.prepare("UPDATE gavel_server_keys_schema SET generation = generation + 1 WHERE id = 1"),
    generation: database.prepare<[], number>("SELECT generation FROM gavel_server_keys_schema WHERE id = 1").pluck(),
  };

  const createTransaction = database.transaction((row: Record<string, unknown> & { name: string }) => {
    const taken = statements.activeByName.get(row.name);
    if (taken) {
      throw new KeyStoreError(
        "create",
        `an active key is already named "${row.name}" (id ${taken.id}); choose another name, or revoke it first`,
      );
    }
    statements.insert.run(row);
    statements.bump.run();
  });

  const revokeTransaction = database.transaction((idOrName: string, at: number): KeyRow => {
    const row = statements.byId.get(idOrName) ?? statements.activeByName.get(idOrName);
    if (!row) {
      throw new KeyStoreError("revoke", `no key has the id or active name "${idOrName}" (see gavel keys list)`, {
        notFound: true,
      });
    }
    if (row.revoked_at !== null) return row;
    statements.revoke.run(at, row.id);
    statements.bump.run();
    return { ...row, revoked_at: at };
  });

  const listeners = new Set<() => void>();
  const changed = () => {
    for (const listener of listeners) listener();
  };
  let closed = false;
  const run = async <T>(operation: KeyStoreOperation, work: () => T): Promise<T> => runSync(operation, work);
  const runSync = <T>(operation: KeyStoreOperation, work: () => T): T => {
    if (closed) throw new KeyStoreError(operation, `the key store on ${database.name} is closed`);
    try {
      return work();
    } catch (error) {
      if (GavelError.isInstance(error)) throw error; // a KeyStoreError, or a ConfigError naming the field
      throw new KeyStoreError(operation, `${operation} failed on ${database.name}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  };

  const store: KeyStore = {
    database,
    schemaVersion: KEY_STORE_SCHEMA_VERSION,

    create(input) {
      return run("create", () => {
        const parsed = parseConfig("key", createKeySchema, input);
        const key = `${KEY_PREFIX}${randomBytes(KEY_BYTES).toString("base64url")}`;
        const createdAt = now();
        const id = `key_${randomBytes(6).toString("hex")}`;
        createTransaction.immediate({
          id,
          name: parsed.name,
          sha256: keyDigest(key),
          maxUsd: parsed.budget?.maxUsd ?? null,
          maxTokens: parsed.budget?.maxTokens ?? null,
          userMaxUsd: parsed.userBudget?.maxUsd ?? null,
          userMaxTokens: parsed.userBudget?.maxTokens ?? null,
          budgetWindow: parsed.budgetWindow ?? null,
          requestsPerMinute: parsed.requestsPerMinute ?? null,
          createdAt,
        });
        changed();
        return { key, record: toRecord(statements.byId.get(id) as KeyRow) };
      });
    },

    list() {
      return run("list", () => statements.all.all().map(toRecord));
    },

    revoke(idOrName) {
      return run("revoke", () => {
        const record = toRecord(revokeTransaction.immediate(idOrName, now()));
        changed();
        return record;
      });
    },

    verifier(configKeys = [], options = {}) {
      return createKeyVerifier({ ...options, keys: [...configKeys], store, now: options.now ?? now });
    },

    generation() {
      return runSync("verify", () => statements.generation.get() as number);
    },

    activeDigests() {
      return runSync("verify", () => statements.active.all().map((row) => ({ sha256: row.sha256, key: toKey(row) })));
    },

    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    async close() {
      if (closed) return;
      closed = true;
      listeners.clear();
      if (ownsDatabase) database.close();
    },
  };
  return store;
}

function limits(maxUsd: number | null, maxTokens: number | null): BudgetLimits | undefined {
  if (maxUsd === null && maxTokens === null) return undefined;
  return { ...(maxUsd !== null && { maxUsd }), ...(maxTokens !== null && { maxTokens }) };
}

function toKey(row: KeyRow): VirtualKey {
  const budget = limits(row.max_usd, row.max_tokens);
  const userBudget = limits(row.user_max_usd, row.user_max_tokens);
  return {
    id: row.id,
    name: row.name,
    ...(budget && { budget }),
    ...(userBudget && { userBudget }),
    ...(row.budget_window !== null && { budgetWindow: row.budget_window }),
    ...(row.requests_per_minute !== null && { requestsPerMinute: row.requests_per_minute }),
  };
}

function toRecord(row: KeyRow): KeyRecord {
  return {
    ...toKey(row),
    createdAt: new Date(row.created_at).toISOString(),
    ...(row.revoked_at !== null && { revokedAt: new Date(row.revoked_at).toISOString() }),
  };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------------------
// Keys of the config
// ---------------------------------------------------------------------------

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Zod schema of one key declared in the config: a name, where the key is — `keyEnv`, the name of an
 * environment variable holding it, or `sha256`, its digest in hex — and optionally its limits
 * (`window` is accepted for `budgetWindow`, as serve.yaml spells it). The plain key never goes in
 * the YAML: a `key` or `apiKey` field is refused.
 *
 * @example
 * ```ts
 * configKeySchema.parse({ name: "ci", keyEnv: "GAVEL_CI_KEY", budget: { maxUsd: 5 } });
 * configKeySchema.parse({ name: "notebook", sha256: "9f86d0…", budgetWindow: "1d" });
 * configKeySchema.safeParse({ name: "ci", key: "gvl-…" }).success; // false: never the plain key in the config
 * ```
 */
export const configKeySchema = z
  .object({
    name: z
      .string()
      .min(1)
      .max(128)
      // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused.
      .regex(/^[^\u0000-\u001f\u007f]+$/, { message: "must not hold control characters" }),
    keyEnv: z
      .string()
      .regex(ENV_NAME, { message: "must be the name of an environment variable (letters, digits, _)" })
      .optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-fA-F]{64}$/, {
        message: 'must be the 64-hex-digit SHA-256 of the key (printf %s "$KEY" | sha256sum)',
      })
      .optional(),
    key: z
      .never({
        message:
          "never put a plain key in the config: set keyEnv to the environment variable holding it, or sha256 to its digest",
      })
      .optional(),
    apiKey: z.never({ message: "never put a plain key in the config: set keyEnv, or sha256 to its digest" }).optional(),
    ...keyLimitsShape,
    /** The config file's name for `budgetWindow` (serve.yaml's `keys[].window`). */
    window: budgetWindowSchema.optional(),
  })
  .strict()
  .superRefine((entry, context) => {
    if (entry.window !== undefined && entry.budgetWindow !== undefined) {
      context.addIssue({ code: "custom", path: ["window"], message: "give one of window and budgetWindow" });
    }
    if ((entry.keyEnv === undefined) === (entry.sha256 === undefined)) {
      context.addIssue({
        code: "custom",
        path: ["keyEnv"],
        message: "give exactly one of keyEnv (an environment variable holding the key) and sha256 (its digest)",
      });
    }
  });

/**
 * A key declared in the config (see {@link configKeySchema}).
 *
 * @example
 * ```ts
 * const keys: ConfigKeyInput[] = [{ name: "ci", keyEnv: "GAVEL_CI_KEY", budget: { maxUsd: 5 }, requestsPerMinute: 600 }];
 * ```
 */
export type ConfigKeyInput = z.input<typeof configKeySchema>;

/** The id of a config key: `cfg_<name>` (stable across restarts and replicas, never secret). */
function configKeyId(name: string): string {
  return `cfg_${name}`;
}

// ---------------------------------------------------------------------------
// The verifier
// ---------------------------------------------------------------------------

const keyVerifierOptionsSchema = z
  .object({
    /** Keys declared in the config. */
    keys: z.array(configKeySchema).default([]),
    /** Stored keys (`createKeyStore`); absent: the config's keys only. */
    store: z
      .custom<KeyStore>(
        (value) =>
          typeof value === "object" &&
          value !== null &&
          typeof (value as KeyStore).generation === "function" &&
          typeof (value as KeyStore).activeDigests === "function" &&
          typeof (value as KeyStore).onChange === "function",
        { message: "must be a KeyStore (createKeyStore)" },
      )
      .optional(),
    /** Where `keyEnv` variables are read, once, here. Default `process.env`. */
    env: z.record(z.string(), z.string().optional()).optional(),
    /** How often the store is checked for keys created or revoked by another process, in ms. */
    refreshMs: z.number().int().nonnegative().default(DEFAULT_KEY_REFRESH_MS),
    /** Clock seam, epoch ms (the refresh period). */
    now: functionSchema<() => number>().default(() => Date.now),
  })
  .strict()
  .superRefine((options, context) => {
    const env = options.env ?? process.env;
    const names = new Set<string>();
    options.keys.forEach((entry, index) => {
      if (names.has(entry.name)) {
        context.addIssue({
          code: "custom",
          path: ["keys", index, "name"],
          message: `a key is already named "${entry.name}"`,
        });
      }
      names.add(entry.name);
      if (entry.keyEnv === undefined) return;
      const value = env[entry.keyEnv];
      if (value === undefined || value === "") {
        context.addIssue({
          code: "custom",
          path: ["keys", index, "keyEnv"],
          message: `the environment variable ${entry.keyEnv} is not set: export it with the key (e.g. one made by gavel keys create), or give sha256 instead`,
        });
      } else if (/\s/.test(value)) {
        context.addIssue({
          code: "custom",
          path: ["keys", index, "keyEnv"],
          message: `the key in ${entry.keyEnv} holds whitespace; a bearer key cannot`,
        });
      }
    });
  });

/**
 * Options of {@link createKeyVerifier} (and, without `keys` and `store`, of `KeyStore.verifier`).
 *
 * @example
 * ```ts
 * const options: KeyVerifierOptions = { refreshMs: 5_000, env: { GAVEL_CI_KEY: "gvl-…" } };
 * ```
 */
export type KeyVerifierOptions = Omit<z.input<typeof keyVerifierOptionsSchema>, "keys" | "store">;

/**
 * A {@link KeyVerifier} with its reload made explicit, and the number of keys it knows.
 *
 * @example
 * ```ts
 * const verifier: ServerKeyVerifier = store.verifier(configKeys);
 * verifier.size; // config keys + active stored keys
 * verifier.refresh(); // reload the stored keys now
 * ```
 */
export interface ServerKeyVerifier extends KeyVerifier {
  /** Reload the stored keys now (create and revoke through the same store do it already). */
  refresh(): void;
  /** How many keys verify. */
  readonly size: number;
}

interface KnownKey {
  readonly digest: Buffer;
  readonly key: VirtualKey;
}

/**
 * Check presented bearer keys against the config's keys and a store's active keys. The keys are
 * held in memory as a map from digest to record: a verify hashes the presented key (SHA-256), finds
 * the record by its digest and confirms with `crypto.timingSafeEqual`. The store is re-read when
 * its generation moves — checked every `refreshMs` and at once when a presented key is unknown — so
 * keys created or revoked by `gavel keys` in another process apply without a restart. While the file
 * cannot be read (closed at shutdown, locked) the verifier keeps the keys it last read. A config key
 * whose digest equals a stored key's wins (its limits apply).
 *
 * The presented key is never logged, stored or put in an error.
 *
 * @param options - `keys` (the config's), `store`, `env` (default `process.env`, read once here),
 *   `refreshMs` (default {@link DEFAULT_KEY_REFRESH_MS}), `now`.
 * @returns A {@link ServerKeyVerifier}.
 * @throws ConfigError naming the field (`keys.0.keyEnv`, ...) when a config key is invalid, two share
 *   a name, or a `keyEnv` variable is not set.
 *
 * @example
 * ```ts
 * import { createKeyVerifier } from "langchain-gavel/server";
 *
 * const verifier = createKeyVerifier({ keys: [{ name: "ci", keyEnv: "GAVEL_CI_KEY", budget: { maxUsd: 5 } }] });
 * await verifier.verify(process.env.GAVEL_CI_KEY ?? ""); // { id: "cfg_ci", name: "ci", budget: { maxUsd: 5 } }
 * await verifier.verify("gvl-wrong"); // undefined
 * ```
 */
export function createKeyVerifier(options: z.input<typeof keyVerifierOptionsSchema> = {}): ServerKeyVerifier {
  const {
    keys,
    store,
    env = process.env,
    refreshMs,
    now,
  } = parseConfig("key verifier options", keyVerifierOptionsSchema, options);
  const configured = new Map<string, KnownKey>();
  for (const entry of keys) {
    const digest =
      entry.sha256 !== undefined ? Buffer.from(entry.sha256, "hex") : digestOf(env[entry.keyEnv as string] as string);
    configured.set(digest.toString("hex"), {
      digest,
      key: {
        id: configKeyId(entry.name),
        name: entry.name,
        ...(entry.budget && { budget: entry.budget }),
        ...(entry.userBudget && { userBudget: entry.userBudget }),
        ...((entry.budgetWindow ?? entry.window) !== undefined && { budgetWindow: entry.budgetWindow ?? entry.window }),
        ...(entry.requestsPerMinute !== undefined && { requestsPerMinute: entry.requestsPerMinute }),
      },
    });
  }

  let known = configured;
  let generation: number | undefined;
  let checkedAt = Number.NEGATIVE_INFINITY;

  const reload = (): void => {
    if (!store) return;
    const next = new Map<string, KnownKey>();
    const current = store.generation();
    for (const { sha256, key } of store.activeDigests()) next.set(sha256, { digest: Buffer.from(sha256, "hex"), key });
    for (const [hex, entry] of configured) next.set(hex, entry);
    known = next;
    generation = current;
  };

  /** Re-read the store when another process changed its keys; true when the keys were reloaded. */
  const sync = (at: number): boolean => {
    if (!store) return false;
    checkedAt = at;
    try {
      if (store.generation() === generation) return false;
      reload();
      return true;
    } catch {
      return false; // the file cannot be read right now (closed, locked): keep the keys known, retry next period
    }
  };

  const lookup = (digest: Buffer): VirtualKey | undefined => {
    const entry = known.get(digest.toString("hex"));
    if (!entry || entry.digest.length !== digest.length) return undefined;
    return timingSafeEqual(entry.digest, digest) ? entry.key : undefined;
  };

  if (store) {
    sync(now());
    store.onChange(() => {
      checkedAt = Number.NEGATIVE_INFINITY; // changed through this store: re-read on the next verify
    });
  }

  return {
    async verify(presented) {
      if (typeof presented !== "string" || presented === "" || presented.length > MAX_PRESENTED_LENGTH)
        return undefined;
      const digest = digestOf(presented);
      const at = now();
      const due = at - checkedAt >= refreshMs;
      if (due) sync(at);
      const found = lookup(digest);
      if (found || !store || due) return found;
      // Unknown here: a key created a moment ago by another process? Check the store once.
      return sync(at) ? lookup(digest) : undefined;
    },

    refresh() {
      reload();
      checkedAt = now();
    },

    get size() {
      return known.size;
    },
  };
}
