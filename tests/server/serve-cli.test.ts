/**
 * `startGavelServer` and `gavel serve`: the config's secrets are read from the environment by name
 * and never appear in an error, a response or a log line; a bad config exits 2 naming the file and
 * the field; the offline config (configs/serve.yaml) starts as a real process on a free port, answers
 * the official `openai` client, and shuts down cleanly on SIGTERM (exit 0, the ledger flushed and
 * closed).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { createKeyStore } from "../../adapters/server/keys.js";
import { startGavelServer } from "../../adapters/server/start.js";
import { createSqliteLedger } from "../../adapters/sqlite/ledger.js";
import { serveCommand } from "../../src/cli/serve.js";
import { ConfigFileError } from "../../src/errors.js";
import { runGavel } from "../helpers/cli.js";
import { type OpenAICompatibleServer, startOpenAICompatibleServer } from "../helpers/openaiServer.js";

const root = join(import.meta.dirname, "..", "..");
const PROVIDER_SECRET = "sk-provider-SECRET-7f3a9c";
const CLIENT_SECRET = "gvl-client-SECRET-b81d2e";

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A loopback OpenAI-compatible provider that answers everything with `reply`. */
async function provider(reply = "Paris."): Promise<OpenAICompatibleServer> {
  const server = await startOpenAICompatibleServer({ replies: () => reply });
  cleanups.push(() => server.close());
  return server;
}

/** A pool of one `openai` member on `upstream`, its key in PROVIDER_KEY. */
function liveMember(upstream: OpenAICompatibleServer) {
  return {
    name: "mini",
    provider: "openai" as const,
    model: "gpt-4o-mini",
    baseURL: upstream.baseURL,
    apiKeyEnv: "PROVIDER_KEY",
    maxRetries: 0,
  };
}

function folder(): string {
  return mkdtempSync(join(tmpdir(), "gavel-serve-"));
}

describe("startGavelServer: secrets by environment variable name", () => {
  it("resolves apiKeyEnv and keyEnv, and no secret reaches a log line, a response or an error", async () => {
    const upstream = await provider();
    const lines: string[] = [];
    const server = await startGavelServer({
      config: {
        listen: { port: 0 },
        pool: [liveMember(upstream)],
        keys: [{ name: "ci", keyEnv: "CLIENT_KEY", budget: { maxUsd: 1 } }],
      },
      env: { PROVIDER_KEY: PROVIDER_SECRET, CLIENT_KEY: CLIENT_SECRET },
      logSink: { write: (text) => lines.push(text) },
    });
    cleanups.push(() => server.close());
    expect(server.auth).toBe(true);
    expect(server.keyCount).toBe(1);

    const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: CLIENT_SECRET, maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: "mini",
      messages: [{ role: "user", content: "Capital of France?" }],
    });
    expect(answer.choices[0]?.message.content).toBe("Paris.");
    // The member called its provider with the key from PROVIDER_KEY.
    expect(upstream.requests.at(-1)?.headers.authorization).toBe(`Bearer ${PROVIDER_SECRET}`);

    const wrong = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${CLIENT_SECRET}x` },
      body: JSON.stringify({ model: "mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(wrong.status).toBe(401);
    const wrongBody = await wrong.text();
    const missing = await fetch(`${server.url}/v1/models`);
    expect(missing.status).toBe(401);

    await server.close();
    const everything = [...lines, wrongBody, await missing.text()].join("\n");
    expect(lines.some((line) => line.includes('"event":"chat.completion"'))).toBe(true);
    expect(everything).not.toContain(PROVIDER_SECRET);
    expect(everything).not.toContain(CLIENT_SECRET);
  });

  it("an unset variable is an error naming the file, the field and the variable, before listening", async () => {
    const upstream = await provider();
    const path = join(folder(), "serve.yaml");
    writeFileSync(
      path,
      [
        "pool:",
        `  - { name: mini, provider: openai, model: gpt-4o-mini, baseURL: "${upstream.baseURL}", apiKeyEnv: PROVIDER_KEY }`,
        "keys:",
        "  - { name: ci, keyEnv: CLIENT_KEY }",
        "",
      ].join("\n"),
    );
    const error = await startGavelServer({ configPath: path, env: {} }).catch((caught: unknown) => caught);
    expect(ConfigFileError.isInstance(error)).toBe(true);
    const { fields, message } = error as ConfigFileError;
    expect(fields).toEqual(["pool[0].apiKeyEnv", "keys[0].keyEnv"]);
    expect(message).toContain(path);
    expect(message).toContain("the environment variable PROVIDER_KEY is not set");
    expect(message).toContain("the environment variable CLIENT_KEY is not set");
  });

  it("a non-loopback host whose key database holds no key is refused, naming listen.host", async () => {
    const upstream = await provider();
    const error = await startGavelServer({
      config: { listen: { host: "0.0.0.0", port: 0 }, keysDb: join(folder(), "keys.db"), pool: [liveMember(upstream)] },
      env: { PROVIDER_KEY: PROVIDER_SECRET },
      logSink: { write: () => undefined },
    }).catch((caught: unknown) => caught);
    expect(ConfigFileError.isInstance(error) && error.fields).toEqual(["listen.host"]);
    expect((error as Error).message).toContain("gavel keys create");
  });

  it("a key made with the key store in the ledger's file turns auth on, without any key in the config", async () => {
    const upstream = await provider();
    const path = join(folder(), "gavel.db");
    const store = createKeyStore({ path });
    const { key } = await store.create({ name: "notebook", budget: { maxUsd: 1 } });
    await store.close();
    const server = await startGavelServer({
      config: { listen: { port: 0 }, pool: [liveMember(upstream)], ledger: { path } },
      env: { PROVIDER_KEY: PROVIDER_SECRET },
      logSink: { write: () => undefined },
    });
    cleanups.push(() => server.close());
    expect([server.auth, server.keyCount]).toEqual([true, 1]);
    const ask = (apiKey: string) =>
      new OpenAI({ baseURL: `${server.url}/v1`, apiKey, maxRetries: 0 }).chat.completions.create({
        model: "mini",
        messages: [{ role: "user", content: "Capital of France?" }],
      });
    expect((await ask(key)).choices[0]?.message.content).toBe("Paris.");
    await expect(ask("gvl-not-a-key")).rejects.toMatchObject({ status: 401 });
  });

  it("limits.requestTimeoutMs reaches the gateway: a provider slower than it gets 504", async () => {
    const upstream = await startOpenAICompatibleServer({ replies: () => "late", generationMs: 3_000 });
    cleanups.push(() => upstream.close());
    const server = await startGavelServer({
      config: { listen: { port: 0 }, pool: [liveMember(upstream)], limits: { requestTimeoutMs: 300 } },
      env: { PROVIDER_KEY: PROVIDER_SECRET },
      logSink: { write: () => undefined },
    });
    cleanups.push(() => server.close());
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "mini", messages: [{ role: "user", content: "hi" }] }),
    });
    expect(response.status).toBe(504);
  });

  it("a 413 from the body limit carries x-request-id (the request id is mounted first)", async () => {
    const upstream = await provider();
    const server = await startGavelServer({
      config: { listen: { port: 0 }, pool: [liveMember(upstream)], limits: { bodyBytes: 1_024 } },
      env: { PROVIDER_KEY: PROVIDER_SECRET },
      logSink: { write: () => undefined },
    });
    cleanups.push(() => server.close());
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-request-id": "trace-413" },
      body: JSON.stringify({ model: "mini", messages: [{ role: "user", content: "x".repeat(4_096) }] }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get("x-request-id")).toBe("trace-413");
    expect(upstream.requests).toHaveLength(0);
  });

  it("a pinned recorded member asked a prompt it has no answer for: 400 no_recorded_answer, naming it (not a retried 500)", async () => {
    const server = await startGavelServer({
      config: {
        listen: { port: 0 },
        pool: [
          { name: "gpt-4", provider: "recorded", model: "gpt-4-1106-preview" },
          { name: "gpt-3.5", provider: "recorded", model: "gpt-3.5-turbo-1106" },
        ],
        router: { fallback: "gpt-3.5" },
      },
      env: {},
      logSink: { write: () => undefined },
    });
    cleanups.push(() => server.close());
    const ask = (model: string, stream = false) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          model,
          stream,
          messages: [{ role: "user", content: "Never recorded: what is 2 + 2?" }],
        }),
      });
    const pinned = await ask("gpt-4");
    expect(pinned.status).toBe(400);
    const body = (await pinned.json()) as { error: { code: string; param: string; message: string } };
    expect(body.error).toMatchObject({ code: "no_recorded_answer", param: "messages" });
    expect(body.error.message).toContain("'gpt-4' is a recorded model");
    expect((await ask("gpt-4", true)).status).toBe(400);
    // With max_tokens the gateway answers from a rebuilt copy of the member: it keeps its name and its answers.
    const capped = (content: string) =>
      fetch(`${server.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "gpt-4", max_tokens: 300, messages: [{ role: "user", content }] }),
      });
    expect((await capped("Write a function to multiply two integers.")).status).toBe(200);
    const cappedMiss = (await (await capped("Never recorded either.")).json()) as { error: { message: string } };
    expect(cappedMiss.error.message).toContain("'gpt-4' is a recorded model");
    // The router path: its fallback fails the same way; never a 500 (today 502 provider_error).
    const routed = await ask("gavel/auto");
    expect([400, 502]).toContain(routed.status);
  });

  it("a recorded model that is not in the outcomes: pool[i].model, listing the recorded ones", async () => {
    const error = await startGavelServer({
      config: { listen: { port: 0 }, pool: [{ name: "gpt-5", provider: "recorded", model: "gpt-5" }] },
      env: {},
    }).catch((caught: unknown) => caught);
    expect(ConfigFileError.isInstance(error) && error.fields).toEqual(["pool[0].model"]);
    expect((error as Error).message).toContain("gpt-4-1106-preview");
  });
});

describe("gavel serve in-process", () => {
  it("a bad config exits 2 naming the file and the field", async () => {
    const path = join(folder(), "serve.yaml");
    writeFileSync(path, "pool:\n  - { name: mini, provider: openai, model: my-finetune }\n");
    const run = await runGavel((writers) => [serveCommand(writers)], ["serve", "--config", path]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain(`${path}:2:5: pool[0].price`);
    expect(run.stdout).toBe("");
  });

  it("--host beyond loopback without keys exits 2 naming listen.host", async () => {
    const path = join(folder(), "serve.yaml");
    writeFileSync(path, "pool:\n  - { name: gpt-4, provider: recorded, model: gpt-4-1106-preview }\n");
    const run = await runGavel((writers) => [serveCommand(writers)], ["serve", "--config", path, "--host", "0.0.0.0"]);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("listen.host");
  });

  it("prints the URL, the models and whether auth is on; stops when told", async () => {
    const upstream = await provider();
    const path = join(folder(), "serve.yaml");
    writeFileSync(
      path,
      `pool:\n  - { name: mini, provider: openai, model: gpt-4o-mini, baseURL: "${upstream.baseURL}", apiKeyEnv: PROVIDER_KEY }\n`,
    );
    let answered = "";
    const run = await runGavel(
      (writers) => [
        serveCommand({
          ...writers,
          env: { PROVIDER_KEY: PROVIDER_SECRET },
          waitForShutdown: async ({ url }) => {
            const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
            const answer = await client.chat.completions.create({
              model: "gavel/auto",
              messages: [{ role: "user", content: "Capital of France?" }],
            });
            answered = `${answer.model}: ${answer.choices[0]?.message.content}`;
            return "test done";
          },
        }),
      ],
      ["serve", "--config", path, "--port", "0"],
    );
    expect(run.exitCode).toBe(0);
    expect(answered).toBe("mini: Paris.");
    expect(run.stdout).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+ /);
    expect(run.stdout).toContain("models: gavel/auto (the router), mini (openai)");
    expect(run.stdout).toContain("auth: off");
    expect(run.stdout).toContain("gavel serve: stopped");
    expect(run.stderr).not.toContain(PROVIDER_SECRET);
  });
});

/** Wait for `pattern` in the process's stdout; resolves with the first match. */
function waitForOutput(child: ChildProcess, pattern: RegExp, output: { text: string }): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = output.text.match(pattern);
      if (match) {
        child.stdout?.off("data", check);
        resolve(match);
      }
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) =>
      reject(new Error(`gavel serve exited (${code}) before printing ${pattern}: ${output.text}`)),
    );
  });
}

describe("gavel serve as a process, on the offline config", () => {
  it("starts on a free port, answers the openai client, and exits 0 on SIGTERM with the ledger closed", async () => {
    const cwd = folder(); // the config's ledger (gavel-serve.db) is relative to the working directory
    const child = spawn(
      process.execPath,
      [
        "--import",
        pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href,
        join(root, "src", "cli", "main.ts"),
        "serve",
        "--config",
        join(root, "configs", "serve.yaml"),
        "--port",
        "0",
      ],
      { cwd, env: { ...process.env, NODE_OPTIONS: "" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    const stdout = { text: "" };
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => (stdout.text += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    cleanups.push(async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });

    // The banner may arrive in several chunks: wait for its last line before reading it.
    await waitForOutput(child, /budgets: .*\n/, stdout).catch((error) => {
      throw new Error(`${error.message}\n${stderr}`);
    });
    const [, url] = stdout.text.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/) as RegExpMatchArray as [
      string,
      string,
    ];
    expect(stdout.text).toContain(
      "models: gavel/auto (the router), gpt-4 (recorded), gpt-3.5 (recorded), mixtral (recorded)",
    );
    expect(stdout.text).toContain("auth: off");

    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
    const prompt = "Write a function to multiply two integers.";
    const { data: routed, response } = await client.chat.completions
      .create({ model: "gavel/auto", messages: [{ role: "user", content: prompt }] })
      .withResponse();
    // Auto mode on an empty memory escalates: mixtral (cheapest), then gpt-3.5; code answers never
    // "agree" (no letter, no final number), so the member valued most, gpt-4, answers.
    expect(response.headers.get("x-gavel-winner")).toBe("gpt-4");
    const auctionId = response.headers.get("x-gavel-auction-id");
    expect(routed.model).toBe("gpt-4");
    expect(routed.choices[0]?.message.content).toContain("def ");
    expect(routed.usage?.total_tokens).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({
      model: "gpt-4",
      messages: [{ role: "user", content: prompt }],
      stream: true,
    });
    let streamed = "";
    for await (const chunk of stream) streamed += chunk.choices[0]?.delta?.content ?? "";
    expect(streamed).toContain("def ");

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(stdout.text).toContain("SIGTERM: shutting down");
    expect(stdout.text).toContain("gavel serve: stopped");
    expect(stderr).toContain('"event":"server.stopped"');

    // The ledger was flushed and closed: its WAL checkpointed away, the auction and both charges in it.
    const path = join(cwd, "gavel-serve.db");
    expect(existsSync(path)).toBe(true);
    expect(existsSync(`${path}-wal`)).toBe(false);
    const ledger = createSqliteLedger({ path, readonly: true });
    cleanups.push(() => ledger.close());
    const auctions = await ledger.recentAuctions({ limit: 10 });
    expect(auctions.map((auction) => auction.id)).toEqual([auctionId]);
    expect(auctions[0]?.metadata).toMatchObject({ path: "escalation", calls: ["mixtral", "gpt-3.5", "gpt-4"] });
    const spend = await ledger.spend({ by: "model" });
    expect(spend.map((row) => row.key).sort()).toEqual([
      "gpt-3.5-turbo-1106",
      "gpt-4-1106-preview",
      "mistralai/mixtral-8x7b-chat",
    ]);
  }, 90_000);
});
