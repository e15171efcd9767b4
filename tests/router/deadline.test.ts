/**
 * runWithDeadline and timeoutMsSchema: a call that ignores its signal is abandoned at its deadline
 * or on the caller's abort, and a timeout Node cannot schedule is refused.
 */
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ConfigError, parseConfig } from "../../src/errors.js";
import { DeadlineExceededError, MAX_TIMEOUT_MS, runWithDeadline, timeoutMsSchema } from "../../src/timeouts.js";

/** Work that ignores its signal and finishes only when told to. */
function deafWork<T>() {
  let finish!: (value: T) => void;
  const seen: AbortSignal[] = [];
  const work = (signal: AbortSignal) => {
    seen.push(signal);
    return new Promise<T>((resolve) => {
      finish = resolve;
    });
  };
  return { work, seen, finish: (value: T) => finish(value) };
}

describe("runWithDeadline", () => {
  it("abandons work that ignores its signal at the deadline, aborting that signal", async () => {
    const deaf = deafWork<string>();
    const error = await runWithDeadline(deaf.work, { timeoutMs: 5, label: "The answer" }).catch((e: unknown) => e);

    expect(DeadlineExceededError.isInstance(error)).toBe(true);
    const deadline = error as DeadlineExceededError<string>;
    expect(deadline.timeoutMs).toBe(5);
    expect(deadline.message).toBe("The answer did not finish within 5 ms and was abandoned.");
    expect(deaf.seen[0]?.aborted).toBe(true);
    expect(deaf.seen[0]?.reason).toBe(deadline);

    deaf.finish("late reply"); // the provider's reply still arrives: the caller can learn it
    await expect(deadline.pending).resolves.toBe("late reply");
  });

  it("rejects with the caller's reason on abort, even when the work ignores it", async () => {
    const deaf = deafWork<string>();
    const controller = new AbortController();
    const abandoned: Promise<string>[] = [];
    const running = runWithDeadline(deaf.work, {
      signal: controller.signal,
      onAbandoned: (pending) => abandoned.push(pending),
    });
    const reason = new Error("user closed the tab");
    controller.abort(reason);

    await expect(running).rejects.toBe(reason);
    expect(deaf.seen[0]?.reason).toBe(reason);
    expect(abandoned).toHaveLength(1);
    expect(Object.hasOwn(reason, "pending")).toBe(false); // the caller's reason is left as it is
  });

  it("does not start work whose caller already aborted", async () => {
    const controller = new AbortController();
    controller.abort("gone");
    let started = false;
    await expect(
      runWithDeadline(
        async () => {
          started = true;
        },
        { signal: controller.signal, timeoutMs: 1_000 },
      ),
    ).rejects.toBe("gone");
    expect(started).toBe(false);
  });

  it("returns the work's result or error when it finishes in time", async () => {
    await expect(runWithDeadline(async () => 42, { timeoutMs: 60_000 })).resolves.toBe(42);
    await expect(
      runWithDeadline(
        async () => {
          throw new Error("provider down");
        },
        { timeoutMs: 60_000, signal: new AbortController().signal },
      ),
    ).rejects.toThrow("provider down");
    await expect(runWithDeadline(async (signal) => signal.aborted)).resolves.toBe(false);
  });

  it("refuses a deadline Node cannot schedule (2**31 ms would fire after 1 ms)", () => {
    expect(() => runWithDeadline(async () => 1, { timeoutMs: 2 ** 31 })).toThrow(ConfigError);
    expect(() => runWithDeadline(async () => 1, { timeoutMs: 2 ** 31 })).toThrow(
      /timeoutMs: must be at most 2147483647/,
    );
  });
});

describe("timeoutMsSchema", () => {
  const schema = z.object({ timeoutMs: timeoutMsSchema.optional() }).strict();

  it("accepts every delay Node can schedule", () => {
    expect(schema.parse({ timeoutMs: MAX_TIMEOUT_MS })).toEqual({ timeoutMs: MAX_TIMEOUT_MS });
    expect(schema.parse({ timeoutMs: 1 })).toEqual({ timeoutMs: 1 });
  });

  it("names the field and the bound when refusing", () => {
    for (const timeoutMs of [2 ** 31, 1e300, Number.POSITIVE_INFINITY, 0, -5, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        parseConfig("test options", schema, { timeoutMs });
      } catch (caught) {
        error = caught;
      }
      expect(ConfigError.isInstance(error), String(timeoutMs)).toBe(true);
      expect(new Set((error as ConfigError).fields)).toEqual(new Set(["timeoutMs"]));
    }
    expect(() => parseConfig("test options", schema, { timeoutMs: 2 ** 31 })).toThrow(
      "timeoutMs: must be at most 2147483647 ms",
    );
  });
});
