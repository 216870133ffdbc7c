import { describe, expect, it } from "vitest";
import { Counters, LatencyWindow, prometheusText, sealerPrometheusText } from "./metrics.ts";

describe("LatencyWindow", () => {
  it("reports 0 for every quantile when empty", () => {
    expect(new LatencyWindow().summary()).toEqual({ p50: 0, p95: 0, p99: 0, max: 0 });
  });

  it("computes nearest-rank quantiles numerically", () => {
    const w = new LatencyWindow();
    for (const v of [100, 9, 20, 3, 1_000, 50, 7, 8, 2, 1]) w.add(v);
    expect(w.quantile(0.5)).toBe(8);
    expect(w.quantile(0.9)).toBe(100);
    expect(w.summary()).toEqual({ p50: 8, p95: 1_000, p99: 1_000, max: 1_000 });
    expect(w.quantile(0)).toBe(1);
  });

  it("keeps only the most recent samples", () => {
    const w = new LatencyWindow(4);
    for (const v of [1_000, 1_000, 1, 2, 3, 4]) w.add(v);
    expect(w.quantile(1)).toBe(4);
    expect(w.quantile(0.25)).toBe(1);
  });
});

describe("prometheusText", () => {
  it("exposes every counter, gauge and summary with auditrail_ names", () => {
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
    expect(stats).toMatchObject({ recorded: 10, written: 7, queued: 5, inFlight: 6, spoolBacklog: 8, writeMs: { p50: 12 } });
    const text = prometheusText(stats);
    for (const line of [
      "# TYPE auditrail_entries_recorded_total counter",
      "auditrail_entries_recorded_total 10",
      "auditrail_entries_written_total 7",
      "auditrail_entries_dead_lettered_total 1",
      "auditrail_entries_spilled_total 2",
      "auditrail_entries_replayed_total 2",
      "auditrail_entries_dropped_total 4",
      "auditrail_write_retries_total 3",
      "auditrail_errors_total 11",
      "# TYPE auditrail_queue_entries gauge",
      "auditrail_queue_entries 5",
      "auditrail_in_flight_entries 6",
      "auditrail_spool_backlog_entries 8",
      "# TYPE auditrail_enqueue_microseconds summary",
      'auditrail_enqueue_microseconds{quantile="0.5"} 5',
      'auditrail_batch_write_milliseconds{quantile="0.99"} 12',
    ]) {
      expect(text.split("\n")).toContain(line);
    }
    expect(text.endsWith("\n")).toBe(true);
    expect(text.split("\n").filter((l) => l.startsWith("# HELP"))).toHaveLength(13);
  });
});

describe("sealerPrometheusText", () => {
  it("exposes the sealer's counters and gauges", () => {
    const text = sealerPrometheusText({ seals: 4, lastNumber: 42, storePending: 1, witnessPending: 2, witnessed: 3, errors: 5 });
    for (const line of [
      "# TYPE auditrail_seals_total counter",
      "auditrail_seals_total 4",
      "# TYPE auditrail_seal_number gauge",
      "auditrail_seal_number 42",
      "auditrail_seals_store_pending 1",
      "auditrail_seals_witness_pending 2",
      "auditrail_seals_witnessed_total 3",
      "auditrail_seal_errors_total 5",
    ]) {
      expect(text).toContain(`${line}\n`);
    }
  });
});
