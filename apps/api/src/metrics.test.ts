import type { AuditWriter, SealerStats, WriterStats } from "@auditrail/audit-core";
import { describe, expect, it } from "vitest";
import type { WriterConfigInEffect } from "./config.ts";
import { ApiMetrics } from "./metrics.ts";

const summary = (p: number, count: number, sum: number) => ({ p50: p, p95: p, p99: p, max: p, count, sum });
const stats = (n: number): WriterStats => ({
  recorded: n,
  queued: n + 1,
  inFlight: n + 2,
  written: n + 3,
  retried: n + 4,
  deadLettered: n + 5,
  spilled: n + 6,
  replayed: n + 7,
  dropped: n + 8,
  errors: n + 9,
  spoolBacklog: n + 10,
  enqueueUs: summary(250, 4, 1_000),
  writeMs: summary(12, 2, 30),
});
const writer = (mode: AuditWriter["mode"], n: number): AuditWriter => ({
  mode,
  record: () => Promise.reject(new Error("not used")),
  flush: () => Promise.resolve(),
  close: () => Promise.reject(new Error("not used")),
  stats: () => stats(n),
});
const config: WriterConfigInEffect = {
  defaultMode: "async",
  allowOff: false,
  maxWorkers: 2,
  maxQueueSize: 10_000,
  overflow: "spill",
  maxBatchSize: 500,
  maxBatchWaitMs: 100,
  closeDeadlineMs: 10_000,
  spoolDir: '/var/spool/"audit"\\x\nnext',
  sealEveryMs: 1_000,
  sealKeyFile: "keys/seal.pem",
};
const sealer: SealerStats = { seals: 4, lastNumber: 42, storePending: 1, witnessPending: 2, witnessed: 3, errors: 5 };

describe("ApiMetrics", () => {
  it("exposes each writer counter and gauge as one family labelled by mode", async () => {
    const m = new ApiMetrics({ writers: { async: writer("async", 0), sync: writer("sync", 100) } });
    const lines = (await m.text()).split("\n");
    for (const line of [
      "# TYPE auditrail_entries_recorded_total counter",
      'auditrail_entries_recorded_total{mode="async"} 0',
      'auditrail_entries_recorded_total{mode="sync"} 100',
      'auditrail_entries_written_total{mode="sync"} 103',
      'auditrail_write_retries_total{mode="async"} 4',
      'auditrail_entries_dead_lettered_total{mode="async"} 5',
      'auditrail_entries_spilled_total{mode="async"} 6',
      'auditrail_entries_replayed_total{mode="async"} 7',
      'auditrail_entries_dropped_total{mode="async"} 8',
      'auditrail_errors_total{mode="async"} 9',
      "# TYPE auditrail_queue_entries gauge",
      'auditrail_queue_entries{mode="sync"} 101',
      'auditrail_in_flight_entries{mode="async"} 2',
      'auditrail_spool_backlog_entries{mode="async"} 10',
    ]) {
      expect(lines).toContain(line);
    }
    expect(lines.filter((l) => l.startsWith("# TYPE auditrail_entries_recorded_total"))).toHaveLength(1);
    expect(lines.some((l) => l.startsWith('auditrail_entries_recorded_total{mode="durable"}'))).toBe(false);
  });

  it("exposes the writers' latencies as summaries in seconds, with _sum and _count", async () => {
    const lines = (await new ApiMetrics({ writers: { async: writer("async", 0) } }).text()).split("\n");
    for (const line of [
      "# TYPE auditrail_batch_write_seconds summary",
      'auditrail_batch_write_seconds{mode="async",quantile="0.99"} 0.012',
      'auditrail_batch_write_seconds_sum{mode="async"} 0.03',
      'auditrail_batch_write_seconds_count{mode="async"} 2',
      "# TYPE auditrail_enqueue_seconds summary",
      'auditrail_enqueue_seconds{mode="async",quantile="0.5"} 0.00025',
      'auditrail_enqueue_seconds_sum{mode="async"} 0.001',
      'auditrail_enqueue_seconds_count{mode="async"} 4',
    ]) {
      expect(lines).toContain(line);
    }
  });

  it("reads the writers at each scrape: a counter shows the writer's total, not a sum of scrapes", async () => {
    let n = 1;
    const m = new ApiMetrics({ writers: { async: { ...writer("async", 0), stats: () => stats(n) } } });
    await m.text();
    n = 5;
    expect((await m.text()).split("\n")).toContain('auditrail_entries_recorded_total{mode="async"} 5');
  });

  it("exposes HTTP requests, their latency as a histogram in seconds, and audit events, labels escaped", async () => {
    const m = new ApiMetrics({ writers: {} });
    m.observe('/trpc/a"b', 200, 30);
    m.observe('/trpc/a"b', 200, 70);
    m.auditEvent("FORBIDDEN");
    const lines = (await m.text()).split("\n");
    for (const line of [
      'http_requests_total{route="/trpc/a\\"b",status="200"} 2',
      "# TYPE http_request_duration_seconds histogram",
      'http_request_duration_seconds_bucket{le="0.05",route="/trpc/a\\"b"} 1',
      'http_request_duration_seconds_bucket{le="0.1",route="/trpc/a\\"b"} 2',
      'http_request_duration_seconds_sum{route="/trpc/a\\"b"} 0.1',
      'http_request_duration_seconds_count{route="/trpc/a\\"b"} 2',
      'auditrail_api_audit_events_total{outcome="FORBIDDEN"} 1',
    ]) {
      expect(lines).toContain(line);
    }
  });

  it("exposes the sealer's stats and the writer settings as one labelled gauge, escaped", async () => {
    const lines = (await new ApiMetrics({ writers: {}, sealer: { stats: () => sealer }, writerConfig: config }).text()).split("\n");
    for (const line of [
      "# TYPE auditrail_seals_total counter",
      "auditrail_seals_total 4",
      "# TYPE auditrail_seal_number gauge",
      "auditrail_seal_number 42",
      "auditrail_seals_store_pending 1",
      "auditrail_seals_witness_pending 2",
      "auditrail_seals_witnessed_total 3",
      "auditrail_seal_errors_total 5",
      "# TYPE auditrail_writer_config gauge",
      'auditrail_writer_config{default_mode="async",max_workers="2",max_queue="10000",overflow="spill",max_batch="500",max_batch_wait_ms="100",close_deadline_ms="10000",spool_dir="/var/spool/\\"audit\\"\\\\x\\nnext",seal_every_ms="1000",seal_key_file="keys/seal.pem"} 1',
    ]) {
      expect(lines).toContain(line);
    }
  });
});
