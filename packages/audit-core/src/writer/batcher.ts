/**
 * Step 2, batch: decides when queued entries leave as a batch. A batch leaves when a worker is
 * free and either maxBatchSize entries wait, or the oldest has waited maxBatchWaitMs, or a flush
 * asked for everything now. That holds when a batch finishes too: what arrived meanwhile waits out
 * its age, so at low rates the writer sends one batch per maxBatchWaitMs — not one per database
 * round trip, each a commit (a disk flush) and a thread wake-up that requests pay for on a busy
 * machine. `notify` runs on every record, so it only compares numbers; a batch
 * that is ready leaves on the next turn of the event loop (setImmediate), so the structured clone
 * that hands it to a worker never runs inside record().
 */
import type { BoundedQueue, QueueItem } from "./queue.ts";

export interface BatcherOptions {
  readonly maxBatchSize: number;
  readonly maxBatchWaitMs: number;
  readonly slots: number;
}

export class Batcher {
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;
  private busy = 0;
  /** When the oldest waiting entry began to wait (undefined: none waits). */
  private oldestAt: number | undefined;
  /** A flush waits: send partial batches without waiting for them to age. */
  private urgent = false;
  /** Until then no batch leaves (the writer backs off after a worker failure). */
  private pausedUntil = 0;

  constructor(
    private readonly queue: BoundedQueue,
    private readonly options: BatcherOptions,
    private readonly send: (batch: QueueItem[]) => void,
  ) {}

  /** A flush waits: partial batches leave now, until `relax`. */
  hurry(): void {
    this.urgent = true;
    this.notify();
  }

  relax(): void {
    this.urgent = false;
  }

  /** Holds every batch back for `ms` (backoff after a worker failure). */
  pauseFor(ms: number): void {
    this.pausedUntil = Date.now() + ms;
  }

  notify(): void {
    if (this.queue.queued > 0) this.oldestAt ??= Date.now();
    if (this.immediate) return;
    if (this.pausedUntil > 0 && Date.now() < this.pausedUntil) {
      this.arm(this.pausedUntil - Date.now());
      return;
    }
    if (this.ready()) {
      this.immediate = setImmediate(() => {
        this.immediate = undefined;
        while (this.ready()) this.dispatch();
        this.notify();
      });
    } else if (this.queue.queued > 0 && this.busy < this.options.slots && !this.timer) {
      this.arm(Math.max(0, (this.oldestAt ?? Date.now()) + this.options.maxBatchWaitMs - Date.now()));
    }
  }

  /** A worker is free and a full batch waits (or a flush wants everything now). */
  private ready(): boolean {
    return this.busy < this.options.slots && this.queue.queued > 0 && (this.urgent || this.queue.queued >= this.options.maxBatchSize);
  }

  /** A batch finished: its worker is free for what waits, once that is a full batch or aged. */
  done(): void {
    this.busy--;
    const now = Date.now();
    const aged = this.oldestAt !== undefined && now - this.oldestAt >= this.options.maxBatchWaitMs;
    if (this.queue.queued > 0 && now >= this.pausedUntil && (aged || this.ready())) this.dispatch();
    this.notify();
  }

  stop(): void {
    clearTimeout(this.timer);
    clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private arm(ms: number): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (Date.now() < this.pausedUntil) return this.notify();
      while (this.busy < this.options.slots && this.queue.queued > 0) this.dispatch();
      this.notify();
    }, ms);
  }

  private dispatch(): void {
    this.busy++;
    const batch = this.queue.take(this.options.maxBatchSize);
    // What still waits is no older than what left: aging it from the same start sends it early, never late.
    if (this.queue.queued === 0) this.oldestAt = undefined;
    this.send(batch);
  }
}
