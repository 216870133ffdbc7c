import { describe, expect, it } from "vitest";
import { Counters, LatencyWindow } from "./metrics.ts";

describe("LatencyWindow", () => {
  it("reports 0 for every quantile when empty", () => {
    expect(new LatencyWindow().summary()).toEqual({ p50: 0, p95: 0, p99: 0, max: 0, count: 0, sum: 0 });
  });

  it("computes nearest-rank quantiles numerically", () => {
    const w = new LatencyWindow();
    for (const v of [100, 9, 20, 3, 1_000, 50, 7, 8, 2, 1]) w.add(v);
    expect(w.quantile(0.5)).toBe(8);
    expect(w.quantile(0.9)).toBe(100);
    expect(w.summary()).toEqual({ p50: 8, p95: 1_000, p99: 1_000, max: 1_000, count: 10, sum: 1_200 });
    expect(w.quantile(0)).toBe(1);
  });

  it("keeps only the most recent samples", () => {
    const w = new LatencyWindow(4);
    for (const v of [1_000, 1_000, 1, 2, 3, 4]) w.add(v);
    expect(w.quantile(1)).toBe(4);
    expect(w.quantile(0.25)).toBe(1);
    // count and sum cover every sample, not only those held
    expect(w.summary()).toMatchObject({ count: 6, sum: 2_010 });
  });
});

describe("Counters", () => {
  it("snapshots every counter with the live gauges and the latency summaries", () => {
    const c = new Counters();
    c.recorded = 10;
    c.written = 7;
    c.retried = 3;
    c.deadLettered = 1;
    c.spilled = 2;
    c.replayed = 2;
    c.dropped = 4;
    c.errors = 11;
    c.enqueueUs.add(5);
    c.writeMs.add(12);
    const stats = c.snapshot({ queued: 5, inFlight: 6, spoolBacklog: 8 });
    expect(stats).toMatchObject({
      recorded: 10,
      written: 7,
      queued: 5,
      inFlight: 6,
      spoolBacklog: 8,
      writeMs: { p50: 12, count: 1, sum: 12 },
      enqueueUs: { p50: 5 },
    });
  });
});
