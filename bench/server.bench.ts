/**
 * `gavel serve`: what the gateway adds over calling the provider directly (issue 12, item 6).
 *
 * Targets: ≤ 2 ms p50 added latency in memory mode, ≥ 1,500 non-streaming requests/s on this
 * machine. Both are measured on the pinned path (`model` names a member, no auction) and on
 * `gavel/auto` in memory mode (`memory`: two members on the same provider, an int8 in-process
 * memory holding MEMORY_ENTRIES outcome entries, the hashing embedder; one decision per request,
 * no call before the winner answers). `bench/router.bench.ts` has the decision alone.
 *
 * Set-up, three processes so the gateway's process does only the gateway's work:
 * - the provider: the loopback OpenAI-compatible test server (tests/helpers/openaiServer.ts),
 *   answering at once with a fixed reply and reported usage (no generation time, no tokenizer);
 * - the gateway: `createGavelApp` + `serveGavelApp`, one member (`ChatOpenAI` → the provider, with
 *   its `upstream`, so pinned non-streamed calls take the fast path: `node:http`), in four configurations
 *   on three ports: **full** (a config key, an in-process budget far above what the run spends — so
 *   every call is counted, reserved and settled —, Prometheus metrics, the JSON logger formatting
 *   every line into a sink that discards it, request id, body limit, rate limit), **bare** (no keys,
 *   budgets, metrics, logs or middleware), **langchain** (full, but the member without
 *   `upstream`: every call goes through `ChatOpenAI.invoke`, the path before the fast path) and
 *   **memory** (full, requests to `gavel/auto` routed by memory bids; both members have their
 *   `upstream`, so `gavel/auto` takes its fast path: the router's engine decides, the winner is
 *   called like a pinned member, the auction's ledger and memory writes run after the response);
 * - this process: the clients (`node:http` with keep-alive).
 *
 * Latency: one request at a time, non-streaming, alternating blocks of direct and gateway requests
 * in ROUNDS rounds; p50 and p99 per round, the median over rounds is reported. Added = gateway −
 * direct (p50 and p99 each). Throughput: CONCURRENCY clients for THROUGHPUT_MS through the gateway
 * (after a warm-up), requests answered per second, median over rounds. Also the gateway process's
 * CPU time per request in those phases (`server.gateway_cpu_per_request.*`): less sensitive than
 * requests/s to other processes sharing the cores; 1,000 / it is what one free core could serve.
 *
 * `GAVEL_BENCH_CPU_PROF=<dir>` runs the gateway's process with `--cpu-prof` (one `.cpuprofile` in
 * that folder when it exits).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { type BenchResult, median } from "./harness.js";

const ROUNDS = 5;
const LATENCY_REQUESTS = 400;
const WARMUP_REQUESTS = 300;
const THROUGHPUT_MS = 3_000;
const CONCURRENCY = 32;
const KEY = "gvl-bench-key-0123456789abcdef";
const BODY = JSON.stringify({ model: "mini", messages: [{ role: "user", content: "Say hi in five words." }] });
const PRICE = { inputPerMillion: 0.15, outputPerMillion: 0.6 };
const AUTO_BODY = JSON.stringify({
  model: "gavel/auto",
  messages: [{ role: "user", content: "Say hi in five words." }],
});
/** Outcome entries in the memory-mode gateway's memory (two members, one auction per request text). */
const MEMORY_ENTRIES = 10_000;

type Role = "provider" | "gateway";

/** Run as a child process in one role: print `READY <json>` once listening, exit on stdin's end. */
async function serveRole(role: Role): Promise<void> {
  const closers: Array<() => Promise<void>> = [];
  if (role === "provider") {
    const { startOpenAICompatibleServer } = await import("../tests/helpers/openaiServer.js");
    const provider = await startOpenAICompatibleServer({
      replies: () => ({ content: "Hi there, how are you?", usage: { prompt_tokens: 14, completion_tokens: 7 } }),
    });
    closers.push(provider.close);
    process.stdout.write(`READY ${JSON.stringify({ provider: provider.baseURL })}\n`);
  } else {
    const providerURL = process.env.GAVEL_BENCH_PROVIDER ?? "";
    const [{ ChatOpenAI }, app, server, keys, budgets, metrics, logger, middleware, memoryBids, memoryModule, hashing] =
      await Promise.all([
        import("@langchain/openai"),
        import("../adapters/server/app.js"),
        import("../adapters/server/server.js"),
        import("../adapters/server/keys.js"),
        import("../adapters/server/budgets.js"),
        import("../adapters/server/metrics.js"),
        import("../adapters/server/logger.js"),
        import("../adapters/server/middleware.js"),
        import("../src/router/memory-bids/index.js"),
        import("../src/memory/index.js"),
        import("../src/eval/routing/embedding.js"),
      ]);
    const member = (fastPath: boolean, name: string, model: string, price: typeof PRICE) => ({
      name,
      provider: "openai",
      price,
      ...(fastPath && { upstream: { baseURL: providerURL, apiKey: "bench", model, maxTokens: 64 } }),
      model: new ChatOpenAI({
        model,
        apiKey: "bench",
        maxTokens: 64,
        maxRetries: 0,
        configuration: { baseURL: providerURL },
      }),
    });
    const members = (fastPath = true) => [member(fastPath, "mini", "gpt-4o-mini", PRICE)];
    const fullApp = (fastPath: boolean, router?: Record<string, unknown>) => {
      const serverMetrics = metrics.createServerMetrics();
      return app.createGavelApp({
        members:
          router === undefined
            ? members(fastPath)
            : [
                ...members(fastPath),
                member(fastPath, "large", "gpt-4o", { inputPerMillion: 2.5, outputPerMillion: 10 }),
              ],
        ...(router !== undefined && { router }),
        keys: keys.createKeyVerifier({
          keys: [{ name: "bench", keyEnv: "BENCH_KEY", budget: { maxUsd: 1_000_000 }, requestsPerMinute: 100_000_000 }],
          env: { BENCH_KEY: KEY },
        }),
        budgets: budgets.createServerBudgets(),
        metrics: serverMetrics,
        logger: logger.createJsonLogger({ write: { write: () => true } }),
        middleware: [middleware.createRequestId(), middleware.createBodyLimit()],
        keyedMiddleware: [middleware.createRateLimit({ metrics: serverMetrics })],
      });
    };
    const bare = app.createGavelApp({ members: members() });
    const fullServer = await server.serveGavelApp(fullApp(true), { port: 0 });
    const bareServer = await server.serveGavelApp(bare, { port: 0 });
    const langchainServer = await server.serveGavelApp(fullApp(false), { port: 0 });
    // Memory mode: an int8 in-process memory with MEMORY_ENTRIES outcome entries of the two members.
    const embeddings = hashing.createHashingEmbeddings();
    const memory = memoryModule.createInMemoryStrategyMemory({ embeddings, precision: "int8", maxEntries: 1_000_000 });
    const texts = Array.from(
      { length: MEMORY_ENTRIES / 2 },
      (_, index) => `question ${index} about topic ${index % 97} and item ${index % 31}`,
    );
    const vectors = await embeddings.embedDocuments(texts);
    await memory.add(
      texts.flatMap((text, index) =>
        ["mini", "large"].map((member) => ({
          ...memoryBids.outcomeEntry({
            auctionId: `bench-${index}`,
            member,
            text,
            vector: vectors[index] as number[],
            role: "single" as const,
            called: true,
            costUsd: member === "mini" ? 0.00001 : 0.0001,
            embedderId: memoryBids.embedderIdOf(embeddings),
            kind: "",
            createdAt: 0,
          }),
          outcome: (index + (member === "large" ? 1 : 0)) % 3 === 0 ? 0 : 1,
        })),
      ),
    );
    const memoryServer = await server.serveGavelApp(
      fullApp(true, { mode: "memory", memory, embeddings, memoryBids: { cascades: false } }),
      { port: 0 },
    );
    // The gateway process's CPU time so far (user + system, ms), for the CPU cost per request.
    const control = createServer((_request, response) => {
      const { user, system } = process.cpuUsage();
      response.end(String((user + system) / 1000));
    });
    await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
    const cpu = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
    closers.push(
      () => fullServer.close({ timeoutMs: 1_000 }),
      () => bareServer.close({ timeoutMs: 1_000 }),
      () => langchainServer.close({ timeoutMs: 1_000 }),
      () => memoryServer.close({ timeoutMs: 1_000 }),
      () => new Promise<void>((resolve) => control.close(() => resolve())),
    );
    process.stdout.write(
      `READY ${JSON.stringify({ full: fullServer.url, bare: bareServer.url, langchain: langchainServer.url, memory: memoryServer.url, cpu })}\n`,
    );
  }
  process.stdin.resume();
  process.stdin.on("end", () => {
    void Promise.all(closers.map((close) => close())).finally(() => process.exit(0));
  });
}

/** Start this file as a child in `role`; resolves with what it printed after `READY`. */
function startRole(
  role: Role,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; urls: Record<string, string> }> {
  const profile = role === "gateway" ? process.env.GAVEL_BENCH_CPU_PROF : undefined;
  const child = spawn(
    process.execPath,
    [...(profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : []), "--import", "tsx", fileURLToPath(import.meta.url)],
    { env: { ...process.env, ...env, GAVEL_BENCH_ROLE: role }, stdio: ["pipe", "pipe", "inherit"] },
  );
  return new Promise((resolve, reject) => {
    let buffer = "";
    child.once("exit", (code) => reject(new Error(`bench ${role} process exited (${code}) before it was ready`)));
    child.stdout?.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      const match = /READY (\{.*\})\n/.exec(buffer);
      if (match?.[1]) resolve({ child, urls: JSON.parse(match[1]) as Record<string, string> });
    });
  });
}

/** Stop a child started by {@link startRole} (closing its stdin), waiting for it to exit. */
function stopRole(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.removeAllListeners("exit");
    child.once("exit", () => resolve());
    child.stdin?.end();
  });
}

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

/** POST the chat body to `url`; resolves with the status once the whole answer is read. */
function post(url: URL, withKey: boolean, body = BODY): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          ...(withKey && { authorization: `Bearer ${KEY}` }),
        },
      },
      (response) => {
        response.on("data", () => undefined);
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", reject);
      },
    );
    outgoing.on("error", reject);
    outgoing.end(body);
  });
}

/** Latencies (ms) of `count` requests one after another. */
async function latencies(url: URL, withKey: boolean, count: number, body = BODY): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    const status = await post(url, withKey, body);
    times.push(performance.now() - started);
    if (status !== 200) throw new Error(`bench request to ${url.href} answered ${status}`);
  }
  return times;
}

/** Requests per second answered by `url` with `CONCURRENCY` clients for `ms`, and how many were answered. */
async function throughput(
  url: URL,
  withKey: boolean,
  ms: number,
  body = BODY,
): Promise<{ perSecond: number; count: number }> {
  let done = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const status = await post(url, withKey, body);
        if (status !== 200) throw new Error(`bench request to ${url.href} answered ${status}`);
        done += 1;
      }
    }),
  );
  return { perSecond: done / ((performance.now() - started) / 1000), count: done };
}

/** The gateway process's CPU time so far, in ms. */
async function gatewayCpuMs(url: string): Promise<number> {
  return Number(await (await fetch(url)).text());
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? Number.NaN;
}

export async function run(): Promise<BenchResult[]> {
  const provider = await startRole("provider");
  const providerURL = provider.urls.provider ?? "";
  const gateway = await startRole("gateway", { GAVEL_BENCH_PROVIDER: providerURL });
  try {
    const direct = new URL(`${providerURL}/chat/completions`);
    const full = new URL(`${gateway.urls.full}/v1/chat/completions`);
    const bare = new URL(`${gateway.urls.bare}/v1/chat/completions`);
    const langchain = new URL(`${gateway.urls.langchain}/v1/chat/completions`);
    const memory = new URL(`${gateway.urls.memory}/v1/chat/completions`);
    const targets = [
      { name: "direct", url: direct, withKey: false, body: BODY },
      { name: "full", url: full, withKey: true, body: BODY },
      { name: "bare", url: bare, withKey: false, body: BODY },
      { name: "langchain", url: langchain, withKey: true, body: BODY },
      { name: "memory", url: memory, withKey: true, body: AUTO_BODY },
    ] as const;
    for (const target of targets) await latencies(target.url, target.withKey, WARMUP_REQUESTS, target.body);
    await throughput(full, true, 1_000);

    const p50: Record<string, number[]> = { direct: [], full: [], bare: [], langchain: [], memory: [] };
    const p99: Record<string, number[]> = { direct: [], full: [], bare: [], langchain: [], memory: [] };
    const rps: Record<string, number[]> = { direct: [], full: [], bare: [], langchain: [], memory: [] };
    const cpuPerRequest: Record<string, number[]> = { full: [], bare: [], langchain: [], memory: [] };
    const cpuUrl = gateway.urls.cpu ?? "";
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const target of targets) {
        const times = await latencies(target.url, target.withKey, LATENCY_REQUESTS, target.body);
        p50[target.name]?.push(percentile(times, 0.5));
        p99[target.name]?.push(percentile(times, 0.99));
      }
      for (const target of targets) {
        const before = target.name === "direct" ? 0 : await gatewayCpuMs(cpuUrl);
        const { perSecond, count } = await throughput(target.url, target.withKey, THROUGHPUT_MS, target.body);
        rps[target.name]?.push(perSecond);
        if (target.name !== "direct") cpuPerRequest[target.name]?.push(((await gatewayCpuMs(cpuUrl)) - before) / count);
      }
    }
    const added = (name: "full" | "bare" | "langchain" | "memory", of: Record<string, number[]>) =>
      median((of[name] ?? []).map((value, round) => value - (of.direct?.[round] ?? Number.NaN)));
    const details = {
      rounds: ROUNDS,
      latencyRequests: LATENCY_REQUESTS,
      concurrency: CONCURRENCY,
      throughputMs: THROUGHPUT_MS,
    };
    return [
      { name: "server.latency.direct.p50", value: median(p50.direct ?? []), unit: "ms", details },
      { name: "server.latency.direct.p99", value: median(p99.direct ?? []), unit: "ms", details },
      { name: "server.latency.pinned.p50", value: median(p50.full ?? []), unit: "ms", details },
      { name: "server.latency.pinned.p99", value: median(p99.full ?? []), unit: "ms", details },
      {
        name: "server.added.pinned.p50",
        value: added("full", p50),
        unit: "ms",
        target: { op: "<=", value: 2 },
        details: { ...details, note: "pinned path: no auction" },
      },
      { name: "server.added.pinned.p99", value: added("full", p99), unit: "ms", details },
      {
        name: "server.added.memory.p50",
        value: added("memory", p50),
        unit: "ms",
        target: { op: "<=", value: 2 },
        details: { ...details, memoryEntries: MEMORY_ENTRIES, note: "gavel/auto in memory mode (full configuration)" },
      },
      { name: "server.added.memory.p99", value: added("memory", p99), unit: "ms", details },
      { name: "server.added.pinned_bare.p50", value: added("bare", p50), unit: "ms", details },
      { name: "server.added.pinned_bare.p99", value: added("bare", p99), unit: "ms", details },
      {
        name: "server.added.pinned_langchain.p50",
        value: added("langchain", p50),
        unit: "ms",
        details: { ...details, note: "full, through ChatOpenAI.invoke (no fast path): the path before it" },
      },
      { name: "server.added.pinned_langchain.p99", value: added("langchain", p99), unit: "ms", details },
      {
        name: "server.throughput.pinned",
        value: median(rps.full ?? []),
        unit: "requests/s",
        target: { op: ">=", value: 1_500 },
        details,
      },
      { name: "server.throughput.pinned_bare", value: median(rps.bare ?? []), unit: "requests/s", details },
      {
        name: "server.throughput.pinned_langchain",
        value: median(rps.langchain ?? []),
        unit: "requests/s",
        details,
      },
      { name: "server.throughput.memory", value: median(rps.memory ?? []), unit: "requests/s", details },
      { name: "server.throughput.direct", value: median(rps.direct ?? []), unit: "requests/s", details },
      {
        name: "server.gateway_cpu_per_request.pinned",
        value: median(cpuPerRequest.full ?? []),
        unit: "ms",
        details: { ...details, note: "CPU time (user + system) of the gateway's process per request, under load" },
      },
      {
        name: "server.gateway_cpu_per_request.pinned_bare",
        value: median(cpuPerRequest.bare ?? []),
        unit: "ms",
        details,
      },
      {
        name: "server.gateway_cpu_per_request.pinned_langchain",
        value: median(cpuPerRequest.langchain ?? []),
        unit: "ms",
        details,
      },
      { name: "server.gateway_cpu_per_request.memory", value: median(cpuPerRequest.memory ?? []), unit: "ms", details },
    ];
  } finally {
    agent.destroy();
    await stopRole(gateway.child);
    await stopRole(provider.child);
  }
}

const role = process.env.GAVEL_BENCH_ROLE;
if (role === "provider" || role === "gateway") await serveRole(role);
