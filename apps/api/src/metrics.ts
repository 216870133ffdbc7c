/**
 * /metrics: every metric the API exposes, in one prom-client registry (label escaping, `_sum` /
 * `_count`, base units in seconds). What the API measures itself — HTTP requests by route and
 * status, their latency, audit events by outcome — is observed as it happens; the writers', the
 * sealer's and the writer settings are read from their `stats()` / config at each scrape.
 * Each writer metric is one family labelled by `mode` (async, sync, durable).
 */
import type { LatencySummary, SealerStats, WriterStats } from "@auditrail/audit-core";
import type { AuditWriters } from "@auditrail/audit-core/trpc";
import { Counter, Gauge, Histogram, Registry, Summary } from "prom-client";
import type { WriterConfigInEffect } from "./config.ts";

/** What a scrape reads: the writers by mode, the sealer, the writer settings. */
export interface MetricSources {
  readonly writers: Partial<AuditWriters>;
  readonly sealer?: { stats(): SealerStats } | undefined;
  readonly writerConfig?: WriterConfigInEffect | undefined;
}

/** `auditrail_writer_config`'s labels: the writer and seal settings in effect (the key file's path, never the key). */
export function writerConfigLabels(config: WriterConfigInEffect): Record<string, string> {
  return {
    default_mode: config.defaultMode,
    max_workers: String(config.maxWorkers),
    max_queue: String(config.maxQueueSize),
    overflow: config.overflow,
    max_batch: String(config.maxBatchSize),
    max_batch_wait_ms: String(config.maxBatchWaitMs),
    close_deadline_ms: String(config.closeDeadlineMs),
    spool_dir: config.spoolDir,
    seal_every_ms: String(config.sealEveryMs),
    seal_key_file: config.sealKeyFile,
  };
}

type Mode = "mode";
/** The WriterStats fields that are plain numbers (not latency summaries). */
type Count = { [K in keyof WriterStats]: WriterStats[K] extends number ? K : never }[keyof WriterStats];
const WRITER_COUNTERS: ReadonlyArray<[Count, string, string]> = [
  ["recorded", "entries_recorded_total", "Audit entries accepted by record()."],
  ["written", "entries_written_total", "Audit entries acknowledged by the sink."],
  ["deadLettered", "entries_dead_lettered_total", "Audit entries rejected as invalid and kept as dead letters."],
  ["spilled", "entries_spilled_total", "Audit entries written to the spool."],
  ["replayed", "entries_replayed_total", "Audit entries read back from the spool."],
  ["dropped", "entries_dropped_total", "Audit entries refused by the drop overflow policy."],
  ["retried", "write_retries_total", "Failed sink writes that were retried."],
  ["errors", "errors_total", "Errors the writer handled (worker failures, dead-letter file failures, spool corruption)."],
];
const WRITER_GAUGES: ReadonlyArray<[Count, string, string]> = [
  ["queued", "queue_entries", "Audit entries waiting in memory."],
  ["inFlight", "in_flight_entries", "Audit entries being written (async, durable: by workers; sync: by record() calls)."],
  ["spoolBacklog", "spool_backlog_entries", "Audit entries in the spool waiting for replay."],
];
const QUANTILES = [
  ["0.5", "p50"],
  ["0.95", "p95"],
  ["0.99", "p99"],
] as const;

/**
 * A summary whose quantiles, count and sum are computed elsewhere (the writer's latency windows)
 * and read at scrape: prom-client's own Summary only summarises what it observes itself.
 */
class ReadSummary extends Summary<Mode | "quantile"> {
  private current: ReadonlyArray<[string, LatencySummary]> = [];

  constructor(
    private readonly family: string,
    help: string,
    /** From the summary's unit to seconds. */
    private readonly scale: number,
  ) {
    super({ name: family, help, labelNames: ["mode"], registers: [] });
  }

  show(summaries: ReadonlyArray<[string, LatencySummary]>): void {
    this.current = summaries;
  }

  /** prom-client's own rendering of the family (name, help, type), with the values read from the writers. */
  override async get() {
    const values = this.current.flatMap(([mode, s]) => [
      ...QUANTILES.map(([quantile, key]) => ({ labels: { mode, quantile }, value: s[key] * this.scale })),
      { metricName: `${this.family}_sum`, labels: { mode }, value: s.sum * this.scale },
      { metricName: `${this.family}_count`, labels: { mode }, value: s.count },
    ]);
    return { ...(await super.get()), values };
  }
}

export class ApiMetrics {
  private readonly registry = new Registry();
  private readonly requests = new Counter({
    name: "http_requests_total",
    help: "HTTP requests by route and status.",
    labelNames: ["route", "status"],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: "http_request_duration_seconds",
    help: "HTTP request latency by route.",
    labelNames: ["route"],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly auditEvents = new Counter({
    name: "auditrail_api_audit_events_total",
    help: "Audit events produced by the tRPC plugin, by outcome.",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  private readonly writerCounters = WRITER_COUNTERS.map(
    ([field, name, help]) =>
      [field, new Counter<Mode>({ name: `auditrail_${name}`, help, labelNames: ["mode"], registers: [this.registry] })] as const,
  );
  private readonly writerGauges = WRITER_GAUGES.map(
    ([field, name, help]) =>
      [field, new Gauge<Mode>({ name: `auditrail_${name}`, help, labelNames: ["mode"], registers: [this.registry] })] as const,
  );
  private readonly enqueue = new ReadSummary("auditrail_enqueue_seconds", "Time inside record() per entry.", 1e-6);
  private readonly batchWrite = new ReadSummary(
    "auditrail_batch_write_seconds",
    "Time from hand-off to acknowledgement per batch (sync: per entry).",
    1e-3,
  );
  /** The sealer's, when there is one. */
  private readonly seals: Record<keyof SealerStats, Counter | Gauge> | undefined;

  constructor(private readonly sources: MetricSources) {
    const registers = [this.registry];
    this.seals = sources.sealer
      ? {
          seals: new Counter({ name: "auditrail_seals_total", help: "Seals signed and anchored by this process.", registers }),
          lastNumber: new Gauge({ name: "auditrail_seal_number", help: "The newest seal's number in the trail.", registers }),
          storePending: new Gauge({
            name: "auditrail_seals_store_pending",
            help: "Anchored seals not yet stored in the database.",
            registers,
          }),
          witnessPending: new Gauge({
            name: "auditrail_seals_witness_pending",
            help: "Anchored seals not yet cosigned by the witness.",
            registers,
          }),
          witnessed: new Counter({ name: "auditrail_seals_witnessed_total", help: "Seals the witness cosigned.", registers }),
          errors: new Counter({
            name: "auditrail_seal_errors_total",
            help: "Anchor, database and witness failures the sealer handled.",
            registers,
          }),
        }
      : undefined;
    this.registry.registerMetric(this.enqueue);
    this.registry.registerMetric(this.batchWrite);
    if (sources.writerConfig) {
      const labels = writerConfigLabels(sources.writerConfig);
      const help = "The audit writer and seal settings in effect (AUDIT_* variables), as labels.";
      new Gauge({ name: "auditrail_writer_config", help, labelNames: Object.keys(labels), registers }).set(labels, 1);
    }
  }

  readonly contentType = this.registry.contentType;

  observe(route: string, status: number, ms: number): void {
    this.requests.inc({ route, status });
    this.latency.observe({ route }, ms / 1000);
  }

  /** One audit event built by the plugin (before it is written), by outcome. */
  auditEvent(outcome: string): void {
    this.auditEvents.inc({ outcome });
  }

  /** The exposition: what was observed, and the writers' and the sealer's stats as of now. */
  async text(): Promise<string> {
    const writers = (["async", "sync", "durable"] as const).flatMap((mode) => {
      const writer = this.sources.writers[mode];
      return writer ? [[mode, writer.stats()] as const] : [];
    });
    for (const [field, counter] of this.writerCounters) {
      counter.reset();
      for (const [mode, stats] of writers) counter.inc({ mode }, stats[field]);
    }
    for (const [field, gauge] of this.writerGauges) {
      gauge.reset();
      for (const [mode, stats] of writers) gauge.set({ mode }, stats[field]);
    }
    this.enqueue.show(writers.map(([mode, stats]) => [mode, stats.enqueueUs]));
    this.batchWrite.show(writers.map(([mode, stats]) => [mode, stats.writeMs]));
    const sealer = this.sources.sealer?.stats();
    if (sealer && this.seals) {
      for (const [field, metric] of Object.entries(this.seals) as [keyof SealerStats, Counter | Gauge][]) {
        metric.reset();
        metric.inc(sealer[field]);
      }
    }
    return this.registry.metrics();
  }
}
