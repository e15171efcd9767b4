/**
 * `gavel serve`: what the gateway adds over calling the provider directly (issue 12, item 6).
 *
 * Targets: ≤ 2 ms p50 added latency, ≥ 1,500 non-streaming requests/s on this machine. The issue
 * states the latency target "in memory mode" (the router's strategy memory, issue 10), which does
 * not exist yet: what is measured here is the pinned path (`model` names a member, no auction).
 * The auction path (`gavel/auto`) is not measured here; `bench/router.bench.ts` has the router's
 * own overhead.
 *
 * Set-up, three processes so the gateway's process does only the gateway's work:
 * - the provider: the loopback OpenAI-compatible test server (tests/helpers/openaiServer.ts),
 *   answering at once with a fixed reply and reported usage (no generation time, no tokenizer);
 * - the gateway: `createGavelApp` + `serveGavelApp`, one member (`ChatOpenAI` → the provider, with
 *   its `upstream`, so pinned non-streamed calls take the fetch fast path), in three configurations
 *   on three ports: **full** (a config key, an in-process budget far above what the run spends — so
 *   every call is counted, reserved and settled —, Prometheus metrics, the JSON logger formatting
 *   every line into a sink that discards it, request id, body limit, rate limit), **bare** (no keys,
 *   budgets, metrics, logs or middleware) and **langchain** (full, but the member without
 *   `upstream`: every call goes through `ChatOpenAI.invoke`, the path before the fast path);
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
    const [{ ChatOpenAI }, app, server, keys, budgets, metrics, logger, middleware] = await Promise.all([
      import("@langchain/openai"),
      import("../adapters/server/app.js"),
      import("../adapters/server/server.js"),
      import("../adapters/server/keys.js"),
      import("../adapters/server/budgets.js"),
      import("../adapters/server/metrics.js"),
      import("../adapters/server/logger.js"),
      import("../adapters/server/middleware.js"),
    ]);
    const members = (fastPath = true) => [
      {
        name: "mini",
        provider: "openai",
        price: PRICE,
        ...(fastPath && { upstream: { baseURL: providerURL, apiKey: "bench", model: "gpt-4o-mini", maxTokens: 64 } }),
        model: new ChatOpenAI({
          model: "gpt-4o-mini",
          apiKey: "bench",
          maxTokens: 64,
          maxRetries: 0,
          configuration: { baseURL: providerURL },
        }),
      },
    ];
    const fullApp = (fastPath: boolean) => {
      const serverMetrics = metrics.createServerMetrics();
      return app.createGavelApp({
        members: members(fastPath),
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
      () => new Promise<void>((resolve) => control.close(() => resolve())),
    );
    process.stdout.write(
      `READY ${JSON.stringify({ full: fullServer.url, bare: bareServer.url, langchain: langchainServer.url, cpu })}\n`,
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
function post(url: URL, withKey: boolean): Promise<number> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      url,
      {
        method: "POST",
        agent,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(BODY),
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
    outgoing.end(BODY);
  });
}

/** Latencies (ms) of `count` requests one after another. */
async function latencies(url: URL, withKey: boolean, count: number): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const started = performance.now();
    const status = await post(url, withKey);
    times.push(performance.now() - started);
    if (status !== 200) throw new Error(`bench request to ${url.href} answered ${status}`);
  }
  return times;
}

/** Requests per second answered by `url` with `CONCURRENCY` clients for `ms`, and how many were answered. */
async function throughput(url: URL, withKey: boolean, ms: number): Promise<{ perSecond: number; count: number }> {
  let done = 0;
  const until = performance.now() + ms;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < until) {
        const status = await post(url, withKey);
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
    const targets = [
      { name: "direct", url: direct, withKey: false },
      { name: "full", url: full, withKey: true },
      { name: "bare", url: bare, withKey: false },
      { name: "langchain", url: langchain, withKey: true },
    ] as const;
    for (const target of targets) await latencies(target.url, target.withKey, WARMUP_REQUESTS);
    await throughput(full, true, 1_000);

    const p50: Record<string, number[]> = { direct: [], full: [], bare: [], langchain: [] };
    const p99: Record<string, number[]> = { direct: [], full: [], bare: [], langchain: [] };
    const rps: Record<string, number[]> = { direct: [], full: [], bare: [], langchain: [] };
    const cpuPerRequest: Record<string, number[]> = { full: [], bare: [], langchain: [] };
    const cpuUrl = gateway.urls.cpu ?? "";
    for (let round = 0; round < ROUNDS; round += 1) {
      for (const target of targets) {
        const times = await latencies(target.url, target.withKey, LATENCY_REQUESTS);
        p50[target.name]?.push(percentile(times, 0.5));
        p99[target.name]?.push(percentile(times, 0.99));
      }
      for (const target of targets) {
        const before = target.name === "direct" ? 0 : await gatewayCpuMs(cpuUrl);
        const { perSecond, count } = await throughput(target.url, target.withKey, THROUGHPUT_MS);
        rps[target.name]?.push(perSecond);
        if (target.name !== "direct") cpuPerRequest[target.name]?.push(((await gatewayCpuMs(cpuUrl)) - before) / count);
      }
    }
    const added = (name: "full" | "bare" | "langchain", of: Record<string, number[]>) =>
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
        details: { ...details, note: "pinned path; the router's memory mode (issue 10) does not exist yet" },
      },
      { name: "server.added.pinned.p99", value: added("full", p99), unit: "ms", details },
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
    ];
  } finally {
    agent.destroy();
    await stopRole(gateway.child);
    await stopRole(provider.child);
  }
}

const role = process.env.GAVEL_BENCH_ROLE;
if (role === "provider" || role === "gateway") await serveRole(role);
