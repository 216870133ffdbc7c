import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidOptionsError } from "./errors.ts";
import { parseOptions } from "./options.ts";

const sink = { module: "some-sink" };

function issuesOf(input: unknown): readonly string[] {
  try {
    parseOptions(input);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionsError);
    return (error as InvalidOptionsError).issues;
  }
  throw new Error("expected InvalidOptionsError");
}

describe("parseOptions", () => {
  it("fills every default and resolves spoolDir from the cwd", () => {
    const o = parseOptions({ sink });
    expect(o).toEqual({
      sink,
      mode: "async",
      maxWorkers: 2,
      maxQueueSize: 10_000,
      overflow: "spill",
      maxBatchSize: 500,
      maxBatchWaitMs: 100,
      retry: { initialDelayMs: 50, maxDelayMs: 5_000, multiplier: 2, syncMaxAttempts: 3, unknownErrorAttempts: 5, writeTimeoutMs: 10_000 },
      spoolDir: resolve(".auditrail/spool"),
      segmentMaxEntries: 10_000,
      maxEntryBytes: 262_144,
      oversize: "reject",
      closeDeadlineMs: 10_000,
    });
  });

  it("keeps given values, partial retry options included", () => {
    const onError = () => undefined;
    const o = parseOptions({ sink, mode: "durable", overflow: "drop", retry: { initialDelayMs: 5 }, spoolDir: "/tmp/x", onError });
    expect(o).toMatchObject({ mode: "durable", overflow: "drop", spoolDir: "/tmp/x", onError });
    expect(o.retry).toMatchObject({ initialDelayMs: 5, maxDelayMs: 5_000 });
  });

  it("bounds maxEntryBytes (at least 4 KiB, so the text columns always fit) and knows the oversize policies", () => {
    const issues = issuesOf({ sink, maxEntryBytes: 1_000, oversize: "shrink" });
    expect(issues.find((i) => i.startsWith("maxEntryBytes:"))).toMatch(/4096/);
    expect(issues.find((i) => i.startsWith("oversize:"))).toMatch(/reject|truncate/);
    expect(parseOptions({ sink, maxEntryBytes: 4_096, oversize: "truncate" })).toMatchObject({
      maxEntryBytes: 4_096,
      oversize: "truncate",
    });
  });

  it("names every bad field in one InvalidOptionsError", () => {
    const issues = issuesOf({ maxWorkers: 0, mode: "fast", fooBar: 1 });
    const joined = issues.join("\n");
    expect(issues.find((i) => i.startsWith("maxWorkers:"))).toBeDefined();
    expect(issues.find((i) => i.startsWith("mode:"))).toBeDefined();
    expect(issues.find((i) => i.startsWith("sink:"))).toBeDefined();
    expect(joined).toMatch(/\(options\): .*"fooBar"/);
    const error = (() => {
      try {
        parseOptions({ maxWorkers: 0, sink });
      } catch (e) {
        return e as InvalidOptionsError;
      }
    })();
    expect(error?.code).toBe("ERR_AUDIT_INVALID_OPTIONS");
    expect(error?.message).toMatch(/^Invalid audit writer options:\n- maxWorkers: /);
  });

  it("names nested and type errors by their path", () => {
    const issues = issuesOf({
      sink: { module: "" },
      retry: { multiplier: 0.5, extra: true },
      overflow: "ignore",
      onError: "log",
      maxBatchSize: 1.5,
    });
    const fields = issues.map((i) => i.split(": ")[0]);
    expect(fields).toEqual(expect.arrayContaining(["sink.module", "retry.multiplier", "retry", "overflow", "onError", "maxBatchSize"]));
  });

  it("rejects a maxDelayMs below initialDelayMs", () => {
    expect(issuesOf({ sink, retry: { initialDelayMs: 100, maxDelayMs: 10 } })).toEqual([
      "retry.maxDelayMs: must be ≥ retry.initialDelayMs",
    ]);
  });

  it("rejects what is not an options object", () => {
    expect(issuesOf(undefined)[0]).toMatch(/^\(options\): /);
  });
});
