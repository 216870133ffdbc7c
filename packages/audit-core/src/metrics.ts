/**
 * Counters and latency percentiles for the writer: `stats()`, with no dependency. Latencies keep
 * the most recent samples in a fixed ring, so memory is constant and percentiles describe recent
 * behaviour; their count and sum cover every sample. (apps/api exposes them to Prometheus.)
 */

export class LatencyWindow {
  private readonly samples: Float64Array;
  private count = 0;
  private sum = 0;

  constructor(size = 16_384) {
    this.samples = new Float64Array(size);
  }

  add(value: number): void {
    this.samples[this.count % this.samples.length] = value;
    this.count++;
    this.sum += value;
  }

  /** The q-quantile (0..1) of the samples held, nearest-rank; 0 when empty. */
  quantile(q: number): number {
    const n = Math.min(this.count, this.samples.length);
    if (n === 0) return 0;
    const sorted = this.samples.slice(0, n).sort();
    return sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))] as number;
  }

  summary(): LatencySummary {
    return {
      p50: this.quantile(0.5),
      p95: this.quantile(0.95),
      p99: this.quantile(0.99),
      max: this.quantile(1),
      count: this.count,
      sum: this.sum,
    };
  }
}

export interface LatencySummary {
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  /** Samples ever added, not only those the window holds. */
  readonly count: number;
  /** Their total. */
  readonly sum: number;
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
