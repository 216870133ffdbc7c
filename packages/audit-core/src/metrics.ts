/**
 * Counters and latency percentiles for the writer, and their Prometheus text exposition.
 * Latencies keep the most recent samples in a fixed ring, so memory is constant and percentiles
 * describe recent behaviour.
 */
import type { SealerStats } from "./writer/sealer.ts";

export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;

  constructor(size = 16_384) {
    this.samples = new Float64Array(size);
  }

  add(value: number): void {
    this.samples[this.count % this.samples.length] = value;
    this.count++;
  }

  /** The q-quantile (0..1) of the samples held, nearest-rank; 0 when empty. */
  quantile(q: number): number {
    const n = Math.min(this.count, this.samples.length);
    if (n === 0) return 0;
    const sorted = this.samples.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number;
  }

  summary(): LatencySummary {
    return { p50: this.quantile(0.5), p95: this.quantile(0.95), p99: this.quantile(0.99), max: this.quantile(1) };
  }
}

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

export interface WriterStats {
  /** Entries accepted by record(). Entries found in the spool at start are counted in `replayed`. */
  readonly recorded: number;
  /** Waiting in memory for a batch (including callers blocked by the `block` policy). */
  readonly queued: number;
  /**
   * Being written, not yet acknowledged: async and durable, entries handed to a worker; sync, calls
   * of record() awaiting their row.
   */
  readonly inFlight: number;
  /** Acknowledged by the sink (inserted, or already present). */
  readonly written: number;
  /** Failed attempts that were retried. */
  readonly retried: number;
  /** Rejected by the database as invalid and kept as dead letters. */
  readonly deadLettered: number;
  /** Written to the spool by overflow or at shutdown. */
  readonly spilled: number;
  /** Read back from the spool (spilled now, or left by an earlier process). */
  readonly replayed: number;
  /** Refused by the `drop` overflow policy. */
  readonly dropped: number;
  /** Errors the writer handled (reported to onError, or as process warnings without it). */
  readonly errors: number;
  /** Entries in spool segments not yet written (including those read back and now queued or in flight). */
  readonly spoolBacklog: number;
  /** Time spent inside record() per entry, in microseconds. */
  readonly enqueueUs: LatencySummary;
  /** Time from hand-off to a worker to acknowledgement, per batch, in milliseconds. */
  readonly writeMs: LatencySummary;
}

/** Line writers for counters and gauges named `auditrail_<name>`. */
function metricLines(lines: string[]) {
  const metric = (type: "counter" | "gauge") => (name: string, help: string, value: number) => {
    lines.push(`# HELP auditrail_${name} ${help}`, `# TYPE auditrail_${name} ${type}`, `auditrail_${name} ${value}`);
  };
  return { counter: metric("counter"), gauge: metric("gauge") };
}

/** Prometheus text exposition of a sealer's stats (append it to the writers' for /metrics). */
export function sealerPrometheusText(stats: SealerStats): string {
  const lines: string[] = [];
  const { counter, gauge } = metricLines(lines);
  counter("seals_total", "Seals signed and anchored by this process.", stats.seals);
  gauge("seal_number", "The newest seal's number in the trail.", stats.lastNumber);
  gauge("seals_store_pending", "Anchored seals not yet stored in the database.", stats.storePending);
  gauge("seals_witness_pending", "Anchored seals not yet cosigned by the witness.", stats.witnessPending);
  counter("seals_witnessed_total", "Seals the witness cosigned.", stats.witnessed);
  counter("seal_errors_total", "Anchor, database and witness failures the sealer handled.", stats.errors);
  return `${lines.join("\n")}\n`;
}

/** Prometheus text exposition of a writer's stats, metric names prefixed `auditrail_`. */
export function prometheusText(stats: WriterStats): string {
  const lines: string[] = [];
  const { counter, gauge } = metricLines(lines);
  const summary = (name: string, help: string, s: LatencySummary) => {
    lines.push(`# HELP auditrail_${name} ${help}`, `# TYPE auditrail_${name} summary`);
    for (const [q, v] of [["0.5", s.p50], ["0.95", s.p95], ["0.99", s.p99]] as const) {
      lines.push(`auditrail_${name}{quantile="${q}"} ${v}`);
    }
  };
  counter("entries_recorded_total", "Audit entries accepted by record().", stats.recorded);
  counter("entries_written_total", "Audit entries acknowledged by the sink.", stats.written);
  counter("entries_dead_lettered_total", "Audit entries rejected as invalid and kept as dead letters.", stats.deadLettered);
  counter("entries_spilled_total", "Audit entries written to the spool.", stats.spilled);
  counter("entries_replayed_total", "Audit entries read back from the spool.", stats.replayed);
  counter("entries_dropped_total", "Audit entries refused by the drop overflow policy.", stats.dropped);
  counter("write_retries_total", "Failed sink writes that were retried.", stats.retried);
  counter("errors_total", "Errors the writer handled (worker failures, dead-letter file failures, spool corruption).", stats.errors);
  gauge("queue_entries", "Audit entries waiting in memory.", stats.queued);
  gauge("in_flight_entries", "Audit entries being written by workers.", stats.inFlight);
  gauge("spool_backlog_entries", "Audit entries in the spool waiting for replay.", stats.spoolBacklog);
  summary("enqueue_microseconds", "Time inside record() per entry.", stats.enqueueUs);
  summary("batch_write_milliseconds", "Time from hand-off to acknowledgement per batch.", stats.writeMs);
  return `${lines.join("\n")}\n`;
}

/** The running totals both writers keep; `WriterStats` adds the live gauges. */
export class Counters {
  recorded = 0;
  written = 0;
  retried = 0;
  deadLettered = 0;
  spilled = 0;
  replayed = 0;
  dropped = 0;
  errors = 0;
  readonly enqueueUs = new LatencyWindow();
  readonly writeMs = new LatencyWindow();

  snapshot(gauges: { queued: number; inFlight: number; spoolBacklog: number }): WriterStats {
    return {
      recorded: this.recorded,
      written: this.written,
      retried: this.retried,
      deadLettered: this.deadLettered,
      spilled: this.spilled,
      replayed: this.replayed,
      dropped: this.dropped,
      errors: this.errors,
      ...gauges,
      enqueueUs: this.enqueueUs.summary(),
      writeMs: this.writeMs.summary(),
    };
  }
}
