import { afterEach, describe, expect, it } from "vitest";
import { AuditEntryDroppedError } from "../errors.ts";
import { Counters } from "../metrics.ts";
import { ErrorReporter, WARNING_INTERVAL_MS } from "./report.ts";

const warnings: Error[] = [];
const onWarning = (w: Error) => warnings.push(w);
process.on("warning", onWarning);
afterEach(() => {
  warnings.length = 0;
});

const nextWarning = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("ErrorReporter", () => {
  it("hands every error to onError when given, and counts it", () => {
    const counters = new Counters();
    const seen: Error[] = [];
    const reporter = new ErrorReporter(counters, (e) => seen.push(e));
    reporter.report(new AuditEntryDroppedError("id-1", 5));
    reporter.report("not an error");
    expect(seen.map((e) => e.message)).toEqual([expect.stringContaining("id-1"), "not an error"]);
    expect(counters.errors).toBe(2);
  });

  it("without onError warns once per code per interval, then says how many were held back", async () => {
    let now = 1_000;
    const counters = new Counters();
    const reporter = new ErrorReporter(counters, undefined, () => now);
    for (let i = 0; i < 5; i++) reporter.report(new AuditEntryDroppedError(`id-${i}`, 5));
    reporter.report(new Error("another kind"));
    await nextWarning();
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toEqual(["ERR_AUDIT_DROPPED", "Error"]);
    now += WARNING_INTERVAL_MS;
    reporter.report(new AuditEntryDroppedError("id-9", 5));
    await nextWarning();
    expect(warnings[2]?.message).toMatch(/id-9 .*\(4 more like it in the last 10 s\)$/);
    expect(counters.errors).toBe(7);
  });
});
