import { describe, expect, it } from "vitest";
import { createJsonLogger, type LogLevel } from "../../adapters/server/logger.js";

function collect(level?: LogLevel) {
  const lines: string[] = [];
  const logger = createJsonLogger({
    write: { write: (text: string) => lines.push(text) },
    now: () => new Date("2026-12-04T16:00:00.000Z"),
    ...(level ? { level } : {}),
  });
  return { logger, lines, parsed: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe("createJsonLogger", () => {
  it("writes one JSON line per event, time, level and event first", () => {
    const { logger, lines, parsed } = collect();
    logger.log("info", "request", { requestId: "r1", keyId: "team-a", status: 200, inputTokens: 12, outputTokens: 3 });
    logger.log("warn", "slow", { ms: 1200 });
    expect(lines).toHaveLength(2);
    expect(lines.every((line) => line.endsWith("\n") && !line.slice(0, -1).includes("\n"))).toBe(true);
    expect(lines[0]).toBe(
      '{"time":"2026-12-04T16:00:00.000Z","level":"info","event":"request","requestId":"r1","keyId":"team-a","status":200,"inputTokens":12,"outputTokens":3}\n',
    );
    expect(parsed()[1]).toMatchObject({ level: "warn", event: "slow", ms: 1200 });
  });

  it("drops credential fields at any depth and redacts bearer and sk- keys inside values", () => {
    const { logger, lines, parsed } = collect();
    logger.log("error", "upstream", {
      authorization: "Bearer gk-live-abcdef123456",
      api_key: "sk-proj-abcdefghijkl",
      apiKey: "x",
      key: "gk-secret",
      presented: "gk-secret-2",
      headers: { Authorization: "Bearer abc", "X-Api-Key": "k", "content-type": "application/json" },
      providerSecret: "s",
      password: "p",
      keyId: "team-a",
      message: "provider said: invalid key sk-abcdefghijklmnop, header was Bearer abc.def (rejected)",
      prompt: "my gateway key is gvl-0123456789abcdefghijKLMN_-xy, keep it",
      error: Object.assign(new Error("401 from provider with Bearer zzz"), { code: "invalid_api_key" }),
    });
    const line = lines[0] ?? "";
    for (const secret of [
      "gk-live",
      "sk-proj",
      "gk-secret",
      "abcdefghijklmnop",
      "abc.def",
      "zzz",
      '"p"',
      '"s"',
      '"k"',
      "gvl-0123456789",
    ]) {
      expect(line).not.toContain(secret);
    }
    const entry = parsed()[0] as Record<string, unknown>;
    expect(entry.keyId).toBe("team-a");
    expect(entry.headers).toEqual({ "content-type": "application/json" });
    expect(entry.message).toBe("provider said: invalid key [redacted], header was [redacted] (rejected)");
    expect(entry.error).toEqual({
      name: "Error",
      message: "401 from provider with [redacted]",
      code: "invalid_api_key",
    });
  });

  it("writes prompt text only when the caller passes it", () => {
    const { logger, parsed } = collect();
    logger.log("info", "request", { keyId: "k", status: 200 });
    logger.log("info", "request", { keyId: "k", status: 200, prompt: "What is the capital of France?" });
    const [without, withPrompt] = parsed();
    expect(JSON.stringify(without)).not.toContain("France");
    expect(withPrompt?.prompt).toBe("What is the capital of France?");
  });

  it("filters by level, and keeps its own time, level and event fields", () => {
    const { logger, parsed } = collect("warn");
    logger.log("info", "dropped", {});
    logger.log("warn", "kept", { level: "spoofed", event: "spoofed", time: 0 });
    logger.log("error", "kept too", {});
    expect(parsed()).toEqual([
      {
        time: "2026-12-04T16:00:00.000Z",
        level: "warn",
        event: "kept",
        "field.level": "spoofed",
        "field.event": "spoofed",
        "field.time": 0,
      },
      { time: "2026-12-04T16:00:00.000Z", level: "error", event: "kept too" },
    ]);
    const silent = collect("silent");
    silent.logger.log("error", "nothing", {});
    expect(silent.lines).toEqual([]);
    expect(() => createJsonLogger({ level: "debug" as LogLevel })).toThrow(/level must be one of/);
  });

  it("survives circular values, bigints, non-finite numbers and a sink that throws", () => {
    const { logger, parsed } = collect();
    const circular: Record<string, unknown> = { name: "loop" };
    circular.self = circular;
    logger.log("info", "odd", { circular, big: 10n ** 20n, ratio: Number.NaN, when: new Date(0), fn: () => 1 });
    expect(parsed()[0]).toMatchObject({
      circular: { name: "loop", self: "[circular]" },
      big: "100000000000000000000",
      ratio: "NaN",
      when: "1970-01-01T00:00:00.000Z",
    });
    expect(parsed()[0]).not.toHaveProperty("fn");
    const broken = createJsonLogger({
      write: {
        write: () => {
          throw new Error("EPIPE");
        },
      },
    });
    expect(() => broken.log("info", "x", {})).not.toThrow();
  });
});
