/**
 * serve.yaml (adapters/server/config.ts): the shipped configs validate; every rule is an error that
 * names the file, the line and the field, and says the fix; an inline secret is refused without
 * ever being repeated.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  isLoopbackHost,
  loadServeConfig,
  parseServeConfig,
  parseServeYaml,
  type ServeConfigInput,
} from "../../adapters/server/config.js";
import * as server from "../../adapters/server/index.js";
import { ConfigFileError } from "../../src/errors.js";

const root = join(import.meta.dirname, "..", "..");

const RECORDED = { name: "gpt-4", provider: "recorded", model: "gpt-4-1106-preview" } as const;

/** The ConfigFileError `run` throws (fails the test when it throws nothing or something else). */
function configError(run: () => unknown): ConfigFileError {
  try {
    run();
  } catch (error) {
    if (ConfigFileError.isInstance(error)) return error;
    throw error;
  }
  throw new Error("expected a ConfigFileError, nothing was thrown");
}

/** The fields a config object is refused for, and the message. */
function refusal(input: unknown): { fields: string[]; message: string } {
  const error = configError(() => parseServeConfig(input, "serve.yaml"));
  return { fields: error.fields, message: error.message };
}

const withPool = (extra: Partial<ServeConfigInput>, pool: ServeConfigInput["pool"] = [RECORDED]): ServeConfigInput => ({
  pool,
  ...extra,
});

describe("the shipped serve configs", () => {
  it("configs/serve.yaml runs offline: recorded members, auto mode on an in-process memory, loopback, no key, a SQLite ledger", async () => {
    const config = await loadServeConfig(join(root, "configs", "serve.yaml"));
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 4000 });
    expect(config.pool.map((member) => member.provider)).toEqual(["recorded", "recorded", "recorded"]);
    expect(config.keys).toEqual([]);
    expect(config.router).toMatchObject({
      mode: "auto",
      memory: { store: "memory" },
      embedder: "hashing",
      fallback: "mixtral",
    });
    expect(config.budgets).toMatchObject({ store: "memory", key: { maxUsd: 5 }, user: { maxUsd: 1 }, window: "1d" });
    expect(config.ledger).toEqual({ path: "gavel-serve.db" });
    expect(config.logs).toEqual({ prompts: false, level: "info" });
  });

  it("configs/serve.openai.yaml (OpenAI and Ollama, keys) validates", async () => {
    const config = await loadServeConfig(join(root, "configs", "serve.openai.yaml"));
    expect(config.pool.map((member) => member.provider)).toContain("openai");
    expect(config.pool.map((member) => member.provider)).toContain("ollama");
    expect(config.keys.length).toBeGreaterThan(0);
    for (const key of config.keys) expect(key.keyEnv ?? key.sha256).toBeDefined();
  });

  it("fills the defaults of a minimal config", () => {
    const config = parseServeConfig({ pool: [RECORDED] });
    expect(config).toMatchObject({
      listen: { host: "127.0.0.1", port: 4000 },
      router: { mode: "plans" },
      budgets: { store: "memory" },
      keys: [],
      limits: { bodyBytes: 1_048_576, requestsPerMinute: 600 },
      logs: { prompts: false, level: "info" },
    });
    expect(config.ledger).toBeUndefined();
  });
});

describe("each rule names its field and the fix", () => {
  it("a hosted member without a price: pool[i].price", () => {
    const { fields, message } = refusal(
      withPool({}, [RECORDED, { name: "mine", provider: "openai", model: "my-finetune", apiKeyEnv: "MY_KEY" }]),
    );
    expect(fields).toEqual(["pool[1].price"]);
    expect(message).toContain('no price for "my-finetune": add price: { inputPerMillion, outputPerMillion }');
  });

  it("an OpenAI model of the built-in table needs no price; a local one costs nothing", () => {
    const config = parseServeConfig({
      pool: [
        { name: "mini", provider: "openai", model: "gpt-4o-mini" },
        { name: "local", provider: "ollama", model: "llama3.2:1b" },
      ],
    });
    expect(config.pool.map((member) => member.price)).toEqual([undefined, undefined]);
  });

  it("an inline apiKey: pool[i].apiKey, naming apiKeyEnv, never repeating the value", () => {
    const secret = "sk-live-DO-NOT-PRINT-4242";
    const error = configError(() =>
      parseServeConfig({ pool: [{ name: "mini", provider: "openai", model: "gpt-4o-mini", apiKey: secret }] }),
    );
    expect(error.fields).toEqual(["pool[0].apiKey"]);
    expect(error.message).toContain("apiKeyEnv");
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.issues)).not.toContain(secret);
    expect(JSON.stringify(error.cause)).not.toContain(secret);
  });

  it("an inline key: keys[i].key, naming keyEnv and sha256, never repeating the value", () => {
    const secret = "gvl-plain-key-DO-NOT-PRINT";
    const error = configError(() => parseServeConfig(withPool({ keys: [{ name: "ci", key: secret }] as never })));
    expect(error.fields).toContain("keys[0].key");
    expect(error.message).toMatch(/keyEnv.*sha256/);
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error.cause)).not.toContain(secret);
  });

  it("a key with both or neither of keyEnv and sha256: keys[i].keyEnv", () => {
    expect(refusal(withPool({ keys: [{ name: "ci" }] })).fields).toEqual(["keys[0].keyEnv"]);
    const both = { name: "ci", keyEnv: "CI_KEY", sha256: "a".repeat(64) };
    expect(refusal(withPool({ keys: [both] })).fields).toEqual(["keys[0].keyEnv"]);
    expect(refusal(withPool({ keys: [{ name: "ci", sha256: "abc" }] })).fields).toEqual(["keys[0].sha256"]);
    expect(refusal(withPool({ keys: [{ name: "ci", keyEnv: "sk-abc def" }] })).fields).toEqual(["keys[0].keyEnv"]);
  });

  it("two keys with one name: keys[1].name", () => {
    const keys = [
      { name: "ci", keyEnv: "A" },
      { name: "ci", keyEnv: "B" },
    ];
    expect(refusal(withPool({ keys })).fields).toEqual(["keys[1].name"]);
  });

  it("a non-loopback host without any key: listen.host, naming keys", () => {
    const { fields, message } = refusal(withPool({ listen: { host: "0.0.0.0" } }));
    expect(fields).toEqual(["listen.host"]);
    expect(message).toContain("add keys");
    expect(message).toContain("127.0.0.1");
    expect(
      parseServeConfig(withPool({ listen: { host: "0.0.0.0" }, keys: [{ name: "ci", keyEnv: "CI" }] })).listen,
    ).toMatchObject({ host: "0.0.0.0" });
    expect(parseServeConfig(withPool({ listen: { host: "0.0.0.0" }, keysDb: "keys.db" })).keysDb).toBe("keys.db");
    // The ledger's SQLite file is the default key database: checked for keys at start.
    expect(parseServeConfig(withPool({ listen: { host: "0.0.0.0" }, ledger: { path: "g.db" } })).listen.host).toBe(
      "0.0.0.0",
    );
    expect(refusal(withPool({ listen: { host: "0.0.0.0" }, ledger: { urlEnv: "DATABASE_URL" } })).fields).toEqual([
      "listen.host",
    ]);
  });

  it("tells loopback hosts from the others", () => {
    for (const host of ["127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"]) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ["0.0.0.0", "::", "10.0.0.5", "example.com", "127.0.0.1.nip.io"]) {
      expect(isLoopbackHost(host)).toBe(false);
    }
  });

  it("router.mode: an unknown mode names the three; memory and auto need router.memory", () => {
    const unknown = refusal(withPool({ router: { mode: "bandit" } }));
    expect(unknown.fields).toEqual(["router.mode"]);
    expect(unknown.message).toContain("plans, memory, auto");
    for (const mode of ["memory", "auto"]) {
      const { fields, message } = refusal(withPool({ router: { mode } }));
      expect(fields).toEqual(["router.memory"]);
      expect(message).toContain("store: vectra, folder");
    }
  });

  it("router.mode defaults to auto with a memory, plans without; the memory fields are read", () => {
    expect(parseServeConfig(withPool({})).router.mode).toBe("plans");
    const config = parseServeConfig(
      withPool({
        router: {
          memory: { store: "vectra", folder: ".gavel/memory", maxEntries: 50_000 },
          embedder: "hashing",
          memoryBids: {
            lambda: 0.3,
            priors: { "gpt-4": 0.9 },
            confidence: { minEvidence: 6 },
            unsure: "plans",
            cascades: false,
          },
        },
      }),
    );
    expect(config.router).toMatchObject({
      mode: "auto",
      memory: { store: "vectra", folder: ".gavel/memory", maxEntries: 50_000 },
      embedder: "hashing",
      memoryBids: {
        lambda: 0.3,
        priors: { "gpt-4": 0.9 },
        confidence: { minEvidence: 6 },
        unsure: "plans",
        cascades: false,
      },
    });
    expect(parseServeConfig(withPool({ router: { mode: "plans", memory: { store: "memory" } } })).router.mode).toBe(
      "plans",
    );
  });

  it("router.memory: each store's own fields, a known member in priors, settings in range", () => {
    const fieldsOf = (router: unknown) => refusal(withPool({ router } as Partial<ServeConfigInput>)).fields;
    expect(fieldsOf({ memory: { store: "vectra" } })).toEqual(["router.memory.folder"]);
    expect(fieldsOf({ memory: { store: "memory", folder: "x" } })).toEqual(["router.memory.folder"]);
    expect(fieldsOf({ memory: { store: "postgres" } })).toEqual(["router.memory.url"]);
    expect(fieldsOf({ memory: { store: "memory", urlEnv: "DB" } })).toEqual(["router.memory.urlEnv"]);
    expect(fieldsOf({ memory: { store: "disk" } })).toEqual(["router.memory.store"]);
    expect(fieldsOf({ memory: { store: "vectra", folder: "x", precision: "int8" } })).toEqual([
      "router.memory.precision",
    ]);
    expect(fieldsOf({ memory: { store: "memory", precision: "int4" } })).toEqual(["router.memory.precision"]);
    expect(
      parseServeConfig(withPool({ router: { memory: { store: "memory", precision: "int8" } } })).router.memory,
    ).toEqual({ store: "memory", precision: "int8" });
    expect(fieldsOf({ memory: { store: "memory" }, embedder: "word2vec" })).toEqual(["router.embedder"]);
    expect(fieldsOf({ memory: { store: "memory" }, memoryBids: { priors: { nobody: 0.5 } } })).toEqual([
      "router.memoryBids.priors.nobody",
    ]);
    expect(fieldsOf({ memory: { store: "memory" }, memoryBids: { explorationRate: 1.5 } })).toEqual([
      "router.memoryBids.explorationRate",
    ]);
    expect(fieldsOf({ memory: { store: "memory" }, memoryBids: { lambda: -1 } })).toEqual(["router.memoryBids.lambda"]);
    expect(fieldsOf({ embedder: "hashing" })).toEqual(["router.embedder"]);
    expect(fieldsOf({ memoryBids: { lambda: 0.2 } })).toEqual(["router.memoryBids"]);
    // A password is a secret: never in the file.
    expect(fieldsOf({ memory: { store: "postgres", url: "postgres://app:hunter2@db/gavel" } })).toEqual([
      "router.memory.url",
    ]);
  });

  it("a fallback or juror that is not a member: router.fallback, router.jury[i]", () => {
    expect(refusal(withPool({ router: { fallback: "gpt-5" } })).fields).toEqual(["router.fallback"]);
    expect(refusal(withPool({ router: { jury: ["gpt-4", "nobody"] } })).fields).toEqual(["router.jury[1]"]);
  });

  it("duplicate member names, and the router's own id: pool[i].name", () => {
    expect(refusal(withPool({}, [RECORDED, { ...RECORDED }])).fields).toEqual(["pool[1].name"]);
    const { fields, message } = refusal(withPool({}, [{ ...RECORDED, name: "gavel/auto" }]));
    expect(fields).toEqual(["pool[0].name"]);
    expect(message).toContain("router's own model id");
  });

  it("a field of another provider: pool[i].<field>", () => {
    const { fields, message } = refusal(withPool({}, [{ ...RECORDED, contextSize: 2048, baseURL: "http://x/v1" }]));
    expect(fields.sort()).toEqual(["pool[0].baseURL", "pool[0].contextSize"]);
    expect(message).toContain("applies to llamacpp members, not recorded");
  });

  it("an unknown provider: lists the ones there are", () => {
    const { fields, message } = refusal(withPool({}, [{ ...RECORDED, provider: "scripted" as never }]));
    expect(fields).toEqual(["pool[0].provider"]);
    expect(message).toContain("openai, ollama, llamacpp, recorded");
  });

  it("an empty pool: pool", () => {
    expect(refusal({ pool: [] }).fields).toEqual(["pool"]);
    expect(refusal({}).fields).toEqual(["pool"]);
  });

  it("a PostgreSQL URL holding a password: ledger.url, naming urlEnv, never repeating it", () => {
    const { fields, message } = refusal(withPool({ ledger: { url: "postgres://gavel:hunter2@db:5432/gavel" } }));
    expect(fields).toEqual(["ledger.url"]);
    expect(message).toContain("urlEnv");
    expect(message).not.toContain("hunter2");
  });

  it("a ledger with two targets, or a schema on a file: ledger, ledger.schema", () => {
    expect(refusal(withPool({ ledger: { path: "a.db", urlEnv: "DATABASE_URL" } })).fields).toEqual(["ledger"]);
    expect(refusal(withPool({ ledger: { path: "a.db", schema: "gavel" } })).fields).toEqual(["ledger.schema"]);
  });

  it("budgets: a sqlite store without a file, postgres without a server, a bad window", () => {
    expect(refusal(withPool({ budgets: { store: "sqlite" } })).fields).toEqual(["budgets.path"]);
    expect(parseServeConfig(withPool({ budgets: { store: "sqlite" }, ledger: { path: "g.db" } })).budgets.store).toBe(
      "sqlite",
    );
    expect(refusal(withPool({ budgets: { store: "postgres" } })).fields).toEqual(["budgets.url"]);
    expect(refusal(withPool({ budgets: { window: "1 day" } })).fields).toEqual(["budgets.window"]);
    expect(refusal(withPool({ budgets: { path: "b.db" } })).fields).toEqual(["budgets.path"]);
    expect(refusal(withPool({ budgets: { key: { maxUsd: -1 } } })).fields).toEqual(["budgets.key.maxUsd"]);
  });

  it("limits and listen: positive sizes, a real port", () => {
    expect(refusal(withPool({ limits: { bodyBytes: 0 } })).fields).toEqual(["limits.bodyBytes"]);
    expect(refusal(withPool({ listen: { port: 70_000 } })).fields).toEqual(["listen.port"]);
    expect(refusal(withPool({ limits: { requestTimeoutMs: 2 ** 31 } })).fields).toEqual(["limits.requestTimeoutMs"]);
  });
});

describe("serve.yaml files: errors name the file, the line and the field", () => {
  it("an unknown key, with its line", () => {
    const text = ["pool:", "  - name: gpt-4", "    provider: recorded", "    modle: gpt-4-1106-preview", ""].join("\n");
    const error = configError(() => parseServeYaml(text, "serve.yaml"));
    expect(error.message).toContain("Invalid serve config serve.yaml:");
    expect(error.message).toContain('serve.yaml:4:5: pool[0].modle: unknown key "modle"');
    expect(error.issues.find((issue) => issue.field === "pool[0].model")?.message).toContain("missing required key");
  });

  it("a broken rule deep in the file, with its line", () => {
    const text = [
      "pool:",
      "  - name: a",
      "    provider: recorded",
      "    model: gpt-4-1106-preview",
      "  - name: b",
      "    provider: openai",
      "    model: my-finetune",
      "",
    ].join("\n");
    const error = configError(() => parseServeYaml(text, "serve.yaml"));
    expect(error.issues).toEqual([expect.objectContaining({ field: "pool[1].price", line: 5 })]);
  });

  it("YAML syntax, and a file that cannot be read", async () => {
    const syntax = configError(() => parseServeYaml("pool: [\n  - name: a\n", "broken.yaml"));
    expect(syntax.message).toMatch(/broken\.yaml:\d+:\d+: YAML syntax/);
    const missing = await loadServeConfig("/nonexistent/serve.yaml").catch((error: unknown) => error);
    expect(ConfigFileError.isInstance(missing) && missing.message).toContain("cannot read the file");
  });

  it("loads a file from disk (the defaults filled in)", async () => {
    const folder = mkdtempSync(join(tmpdir(), "gavel-serve-config-"));
    const path = join(folder, "serve.yaml");
    writeFileSync(
      path,
      "listen:\n  port: 0\npool:\n  - { name: gpt-4, provider: recorded, model: gpt-4-1106-preview }\n",
    );
    const config = await loadServeConfig(path);
    expect(config.listen).toEqual({ host: "127.0.0.1", port: 0 });
  });
});

describe("langchain-gavel/server's TSDoc examples", () => {
  it("import only names the entry point exports (DEFAULT_DURATION_BUCKETS among them)", () => {
    const folder = join(root, "adapters", "server");
    const imported = new Set<string>();
    for (const file of readdirSync(folder).filter((name) => name.endsWith(".ts"))) {
      const text = readFileSync(join(folder, file), "utf8");
      for (const match of text.matchAll(/import \{([^}]*)\} from "langchain-gavel\/server"/g)) {
        for (const name of (match[1] as string).split(",")) {
          const trimmed = name.trim();
          if (trimmed !== "" && !trimmed.startsWith("type ")) imported.add(trimmed);
        }
      }
    }
    // The example of DEFAULT_DURATION_BUCKETS and the defaults docs/server.md names.
    for (const name of ["DEFAULT_DURATION_BUCKETS", "DEFAULT_KEY_REFRESH_MS", "DEFAULT_REQUEST_TIMEOUT_MS"]) {
      imported.add(name);
    }
    expect(imported.size).toBeGreaterThan(5);
    const missing = [...imported].filter((name) => !(name in server));
    expect(missing).toEqual([]);
  });
});
