import { register as globalRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import { createServerMetrics, DEFAULT_DURATION_BUCKETS } from "../../adapters/server/metrics.js";

/** The value of one sample line of the exposition text (`name{labels} value`), or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries(
      [...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((pair) => [pair[1], pair[2]]),
    );
    if (Object.entries(labels).every(([label, value]) => found[label] === value)) return Number(match[3]);
  }
  return undefined;
}

describe("createServerMetrics", () => {
  it("counts requests by route, status and path, and auctions by path", async () => {
    const metrics = createServerMetrics({ processMetrics: false });
    metrics.observe({
      route: "chat",
      status: 200,
      durationSeconds: 0.5,
      keyId: "team-a",
      member: "m1",
      path: "router",
    });
    metrics.observe({
      route: "chat",
      status: 200,
      durationSeconds: 0.5,
      keyId: "team-a",
      member: "m1",
      path: "router",
    });
    metrics.observe({
      route: "chat",
      status: 200,
      durationSeconds: 0.2,
      keyId: "team-a",
      member: "m2",
      path: "pinned",
    });
    metrics.observe({ route: "chat", status: 401, durationSeconds: 0.001 });
    metrics.observe({ route: "models", status: 200, durationSeconds: 0.001, keyId: "team-a" });
    const text = await metrics.render();
    expect(sample(text, "gavel_requests_total", { route: "chat", status: "200", path: "router" })).toBe(2);
    expect(sample(text, "gavel_requests_total", { route: "chat", status: "200", path: "pinned" })).toBe(1);
    expect(sample(text, "gavel_requests_total", { route: "chat", status: "401", path: "none" })).toBe(1);
    expect(sample(text, "gavel_requests_total", { route: "models", status: "200", path: "none" })).toBe(1);
    expect(sample(text, "gavel_auctions_total", { path: "router" })).toBe(2);
    expect(sample(text, "gavel_auctions_total", { path: "pinned" })).toBe(1);
  });

  it("adds tokens per member, key and direction, and USD per member and key", async () => {
    const metrics = createServerMetrics({ processMetrics: false });
    const base = { route: "chat", status: 200, durationSeconds: 1, path: "router" } as const;
    metrics.observe({ ...base, keyId: "team-a", member: "m1", inputTokens: 900, outputTokens: 120, usd: 0.25 });
    metrics.observe({ ...base, keyId: "team-a", member: "m1", inputTokens: 100, outputTokens: 80, usd: 0.5 });
    metrics.observe({ ...base, keyId: "team-b", member: "m1", inputTokens: 7, outputTokens: 3, usd: 0.125 });
    const text = await metrics.render();
    expect(sample(text, "gavel_tokens_total", { member: "m1", key: "team-a", direction: "input" })).toBe(1000);
    expect(sample(text, "gavel_tokens_total", { member: "m1", key: "team-a", direction: "output" })).toBe(200);
    expect(sample(text, "gavel_tokens_total", { member: "m1", key: "team-b", direction: "input" })).toBe(7);
    expect(sample(text, "gavel_usd_total", { member: "m1", key: "team-a" })).toBe(0.75);
    expect(sample(text, "gavel_usd_total", { member: "m1", key: "team-b" })).toBe(0.125);
  });

  it("ignores negative or non-finite amounts instead of throwing (prom-client refuses them)", async () => {
    const metrics = createServerMetrics({ processMetrics: false });
    expect(() =>
      metrics.observe({
        route: "chat",
        status: 200,
        durationSeconds: -1,
        keyId: "k",
        member: "m1",
        path: "pinned",
        inputTokens: -5,
        outputTokens: Number.NaN,
        usd: Number.POSITIVE_INFINITY,
      }),
    ).not.toThrow();
    const text = await metrics.render();
    expect(sample(text, "gavel_requests_total", { path: "pinned" })).toBe(1);
    expect(sample(text, "gavel_tokens_total", { member: "m1" })).toBeUndefined();
    expect(sample(text, "gavel_usd_total", { member: "m1" })).toBeUndefined();
  });

  it("puts durations in buckets from a millisecond to minutes", async () => {
    const metrics = createServerMetrics({ processMetrics: false });
    metrics.observe({ route: "chat", status: 200, durationSeconds: 0.0015, path: "pinned" });
    metrics.observe({ route: "chat", status: 200, durationSeconds: 95, path: "pinned", stream: true });
    const text = await metrics.render();
    const fast = { route: "chat", path: "pinned", stream: "false" };
    expect(sample(text, "gavel_request_duration_seconds_bucket", { ...fast, le: "0.001" })).toBe(0);
    expect(sample(text, "gavel_request_duration_seconds_bucket", { ...fast, le: "0.0025" })).toBe(1);
    const slow = { route: "chat", path: "pinned", stream: "true" };
    expect(sample(text, "gavel_request_duration_seconds_bucket", { ...slow, le: "60" })).toBe(0);
    expect(sample(text, "gavel_request_duration_seconds_bucket", { ...slow, le: "120" })).toBe(1);
    expect(sample(text, "gavel_request_duration_seconds_count", slow)).toBe(1);
    expect(DEFAULT_DURATION_BUCKETS[0]).toBe(0.001);
    expect(DEFAULT_DURATION_BUCKETS.at(-1)).toBe(300);
  });

  it("counts budget and rate rejections per key, `none` without a key", async () => {
    const metrics = createServerMetrics({ processMetrics: false });
    metrics.rejected("budget", "team-a");
    metrics.rejected("budget", "team-a");
    metrics.rejected("rate", "team-b");
    metrics.rejected("rate", undefined);
    const text = await metrics.render();
    expect(sample(text, "gavel_budget_rejections_total", { key: "team-a" })).toBe(2);
    expect(sample(text, "gavel_rate_limited_total", { key: "team-b" })).toBe(1);
    expect(sample(text, "gavel_rate_limited_total", { key: "none" })).toBe(1);
    expect(sample(text, "gavel_budget_rejections_total", { key: "team-b" })).toBeUndefined();
  });

  it("tracks streams in flight", async () => {
    const metrics = createServerMetrics({ processMetrics: false });
    metrics.streamOpened();
    metrics.streamOpened();
    metrics.streamOpened();
    metrics.streamClosed();
    expect(sample(await metrics.render(), "gavel_inflight_streams")).toBe(2);
  });

  it("uses a registry of its own: two instances coexist and the global registry stays empty of them", async () => {
    const first = createServerMetrics();
    const second = createServerMetrics({ defaultLabels: { replica: "b" } });
    first.rejected("rate", "k");
    const [one, two] = [await first.render(), await second.render()];
    expect(sample(one, "gavel_rate_limited_total", { key: "k" })).toBe(1);
    expect(sample(two, "gavel_rate_limited_total", { key: "k" })).toBeUndefined();
    expect(sample(two, "gavel_inflight_streams", { replica: "b" })).toBe(0);
    expect(one).toContain("process_cpu_user_seconds_total");
    expect(await globalRegistry.metrics()).not.toContain("gavel_");
    expect(first.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
  });
});
