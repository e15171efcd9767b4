/**
 * `createServerMetrics`: the Prometheus metrics of `gavel serve` (`GET /metrics`), on prom-client
 * with a registry of their own (never prom-client's global one, so two gateways in one process, or
 * an app that has its own metrics, do not collide).
 *
 * Labels are key ids, member names, routes and statuses: never key material, prompt or answer text.
 */
import type * as PromClient from "prom-client";
import { requirePeer } from "../../src/peers.js";
import type { RequestObservation, ServerMetrics } from "./types.js";

/**
 * Buckets of `gavel_request_duration_seconds`, in seconds: from a millisecond (a refused request,
 * `/v1/models`, the gateway's own overhead) to five minutes (a long streamed generation).
 *
 * @example
 * ```ts
 * createServerMetrics({ buckets: [...DEFAULT_DURATION_BUCKETS, 600] });
 * ```
 */
export const DEFAULT_DURATION_BUCKETS: readonly number[] = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
];

/** The label value of a request that had no key (refused before auth, `/health`, ...). */
export const NO_KEY_LABEL = "none";

/** Options of {@link createServerMetrics}. */
export interface ServerMetricsOptions {
  /** Buckets of the latency histogram, in seconds. Default {@link DEFAULT_DURATION_BUCKETS}. */
  buckets?: readonly number[];
  /** Also export Node's default process metrics (`process_cpu_seconds_total`, heap, event loop lag, ...). Default true. */
  processMetrics?: boolean;
  /** Labels added to every metric, e.g. `{ replica: "gw-1" }`. Default none. */
  defaultLabels?: Record<string, string>;
}

/**
 * The gateway's metrics, as a {@link ServerMetrics} with its own registry (exposed for tests and
 * for an app that wants to merge it: `Registry.merge([mine, metrics.registry])`).
 */
export interface PrometheusServerMetrics extends ServerMetrics {
  readonly registry: PromClient.Registry;
  settledLate: NonNullable<ServerMetrics["settledLate"]>;
  streamOpened(): void;
  streamClosed(): void;
}

/**
 * Create the gateway's Prometheus metrics:
 *
 * | metric | type | labels |
 * | --- | --- | --- |
 * | `gavel_requests_total` | counter | `route`, `status`, `path` (`router`, `pinned` or `none`) |
 * | `gavel_request_duration_seconds` | histogram | `route`, `path`, `stream` |
 * | `gavel_tokens_total` | counter | `member`, `key`, `direction` (`input`, `output`) |
 * | `gavel_usd_total` | counter | `member`, `key` |
 * | `gavel_auctions_total` | counter | `path` (`router`: an auction; `pinned`: a member named by the client) |
 * | `gavel_budget_rejections_total` | counter | `key` |
 * | `gavel_rate_limited_total` | counter | `key` |
 * | `gavel_inflight_streams` | gauge | — |
 *
 * `key` is the virtual key's id (`none` for a request without a key). With `processMetrics` (the
 * default) prom-client's process metrics (`process_*`, `nodejs_*`) are in the same registry.
 *
 * @param options - {@link ServerMetricsOptions}
 * @returns the metrics; `render()` gives the Prometheus text exposition, `contentType` its header.
 * @throws MissingPeerDependencyError when prom-client is not installed (`npm install prom-client`).
 * @example
 * ```ts
 * import { createServerMetrics } from "langchain-gavel/server";
 *
 * const metrics = createServerMetrics();
 * metrics.observe({ route: "chat", status: 200, durationSeconds: 0.42, keyId: "team-a", member: "gpt-4o-mini",
 *   path: "router", inputTokens: 900, outputTokens: 120, usd: 0.0002 });
 * const text = await metrics.render(); // gavel_requests_total{route="chat",status="200",path="router"} 1 ...
 * ```
 * @example
 * ```ts
 * // Hono: serve them
 * app.get("/metrics", async (c) => c.body(await metrics.render(), 200, { "content-type": metrics.contentType }));
 * ```
 */
export function createServerMetrics(options: ServerMetricsOptions = {}): PrometheusServerMetrics {
  const { buckets = DEFAULT_DURATION_BUCKETS, processMetrics = true, defaultLabels } = options;
  const prom = requirePeer<typeof PromClient>("prom-client", "gavel serve's metrics (createServerMetrics)");
  const registry = new prom.Registry();
  if (defaultLabels) registry.setDefaultLabels(defaultLabels);
  if (processMetrics) prom.collectDefaultMetrics({ register: registry });
  const registers = [registry];

  const requests = new prom.Counter({
    name: "gavel_requests_total",
    help: "Requests answered by the gateway, by route, HTTP status and path (router, pinned or none).",
    labelNames: ["route", "status", "path"] as const,
    registers,
  });
  const duration = new prom.Histogram({
    name: "gavel_request_duration_seconds",
    help: "Seconds from a request's arrival to its last byte.",
    labelNames: ["route", "path", "stream"] as const,
    buckets: [...buckets],
    registers,
  });
  const tokens = new prom.Counter({
    name: "gavel_tokens_total",
    help: "Tokens the providers reported, by member, key id and direction (input, output).",
    labelNames: ["member", "key", "direction"] as const,
    registers,
  });
  const usd = new prom.Counter({
    name: "gavel_usd_total",
    help: "USD charged to the budgets at the members' prices, by member and key id.",
    labelNames: ["member", "key"] as const,
    registers,
  });
  const auctions = new prom.Counter({
    name: "gavel_auctions_total",
    help: "Requests that reached a member, by path: router (an auction) or pinned (a member named by the client).",
    labelNames: ["path"] as const,
    registers,
  });
  const budgetRejections = new prom.Counter({
    name: "gavel_budget_rejections_total",
    help: "Requests refused because a key's or a user's budget was exhausted, by key id.",
    labelNames: ["key"] as const,
    registers,
  });
  const rateLimited = new prom.Counter({
    name: "gavel_rate_limited_total",
    help: "Requests refused by the per-key rate limit (per replica), by key id.",
    labelNames: ["key"] as const,
    registers,
  });
  const inflightStreams = new prom.Gauge({
    name: "gavel_inflight_streams",
    help: "Streamed responses being sent now.",
    registers,
  });

  return {
    registry,
    contentType: registry.contentType,
    observe(observation: RequestObservation): void {
      const path = observation.path ?? "none";
      const key = observation.keyId ?? NO_KEY_LABEL;
      requests.inc({ route: observation.route, status: String(observation.status), path });
      duration.observe(
        { route: observation.route, path, stream: observation.stream === true ? "true" : "false" },
        Math.max(0, observation.durationSeconds),
      );
      if (observation.path !== undefined) auctions.inc({ path: observation.path });
      const member = observation.member;
      if (member === undefined) return;
      if (isCount(observation.inputTokens)) {
        tokens.inc({ member, key, direction: "input" }, observation.inputTokens);
      }
      if (isCount(observation.outputTokens)) {
        tokens.inc({ member, key, direction: "output" }, observation.outputTokens);
      }
      if (isCount(observation.usd)) usd.inc({ member, key }, observation.usd);
    },
    settledLate(charge): void {
      const labels = { member: charge.member, key: charge.keyId ?? NO_KEY_LABEL };
      if (isCount(charge.inputTokens)) tokens.inc({ ...labels, direction: "input" }, charge.inputTokens);
      if (isCount(charge.outputTokens)) tokens.inc({ ...labels, direction: "output" }, charge.outputTokens);
      if (isCount(charge.usd)) usd.inc(labels, charge.usd);
    },
    rejected(reason: "budget" | "rate", keyId: string | undefined): void {
      (reason === "budget" ? budgetRejections : rateLimited).inc({ key: keyId ?? NO_KEY_LABEL });
    },
    streamOpened(): void {
      inflightStreams.inc();
    },
    streamClosed(): void {
      inflightStreams.dec();
    },
    render: () => registry.metrics(),
  };
}

/** A finite, non-negative amount (prom-client throws on a negative increment). */
function isCount(value: number | undefined): value is number {
  return value !== undefined && Number.isFinite(value) && value >= 0;
}
