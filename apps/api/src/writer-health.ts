/**
 * The writers' health for `audit.health`: what each one holds (queued, in flight, spool backlog),
 * what it has done (written, retried, dead-lettered, dropped, spilled) and how fast it writes now.
 * The rate is measured between calls: each call samples the `written` counter, and the rate is the
 * growth since the oldest sample of the last `windowMs` (null until two samples are at least
 * `minSpanMs` apart).
 */
import type { AuditWriter } from "@auditrail/audit-core";

export interface RateMeterOptions {
  readonly windowMs?: number;
  readonly minSpanMs?: number;
  readonly now?: () => number;
}

/** Per-second rate of a growing counter, from the samples it is given. */
export class RateMeter {
  readonly #samples: Array<{ at: number; value: number }> = [];
  readonly #windowMs: number;
  readonly #minSpanMs: number;
  readonly #now: () => number;

  constructor({ windowMs = 10_000, minSpanMs = 500, now = Date.now }: RateMeterOptions = {}) {
    this.#windowMs = windowMs;
    this.#minSpanMs = minSpanMs;
    this.#now = now;
  }

  /** Records `value` now; returns the rate per second over the window, or null if the span is too short. */
  sample(value: number): number | null {
    const at = this.#now();
    this.#samples.push({ at, value });
    // Keep the newest sample older than the window as the window's base, drop the rest before it.
    while (this.#samples.length > 2 && (this.#samples[1] as { at: number }).at <= at - this.#windowMs) this.#samples.shift();
    const first = this.#samples[0] as { at: number; value: number };
    const span = at - first.at;
    return span >= this.#minSpanMs ? ((value - first.value) * 1000) / span : null;
  }
}

const meters = new WeakMap<AuditWriter, RateMeter>();

export function writerHealth(writer: AuditWriter, meterOptions?: RateMeterOptions) {
  let meter = meters.get(writer);
  if (!meter) {
    meter = new RateMeter(meterOptions);
    meters.set(writer, meter);
  }
  const s = writer.stats();
  return {
    mode: writer.mode,
    queued: s.queued,
    inFlight: s.inFlight,
    spoolBacklog: s.spoolBacklog,
    written: s.written,
    writtenPerSecond: meter.sample(s.written),
    retried: s.retried,
    deadLettered: s.deadLettered,
    dropped: s.dropped,
    spilled: s.spilled,
  };
}
export type WriterHealth = ReturnType<typeof writerHealth>;
