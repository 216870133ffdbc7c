/**
 * Async and durable modes: the pooled life cycle, one step per file in this folder.
 *
 *   record ─► queue.ts ─► batcher.ts ─► pool.ts ─► worker.ts ─► sink
 *                │ full:        (size/age)              │ retry.ts: backoff, isolate poison
 *                ├ block: wait for room                 └ dead-letter.ts: keep rejected entries
 *                ├ spill: spool.ts (replayed as room frees)
 *                └ drop: counted + reported
 *   durable: every entry is fsynced to spool.ts before record() resolves.
 *   close: shutdown.ts — drain until the deadline, spill the rest; replayed by the next writer.
 *
 * Every entry ends in exactly one of: written, dead-lettered, dropped (policy), or on disk in
 * the spool. The main thread only validates, stamps and enqueues; serialisation and SQL happen
 * in workers.
 */
import type { AuditReceipt, AuditWriter, CloseReport } from "../audit-writer.ts";
import { currentAuditContext } from "../context.ts";
import { AuditEntryDroppedError, WriterClosedError, messageOf } from "../errors.ts";
import { type AuditEntry, type AuditEvent, stampEvent } from "../event.ts";
import { Counters, type WriterStats } from "../metrics.ts";
import type { ResolvedOptions } from "../options.ts";
import { Batcher } from "./batcher.ts";
import { appendDeadLetterFile } from "./dead-letter.ts";
import { WorkerPool } from "./pool.ts";
import { BoundedQueue, type QueueItem } from "./queue.ts";
import { backoffDelay, type RetryPolicy } from "./retry.ts";
import { drainOrSpill } from "./shutdown.ts";
import { Spool } from "./spool.ts";

interface Blocked {
  readonly item: QueueItem;
  readonly resolve: (receipt: AuditReceipt) => void;
}

export class PooledWriter implements AuditWriter {
  private readonly counters = new Counters();
  private readonly queue: BoundedQueue;
  private readonly batcher: Batcher;
  private readonly blocked: Blocked[] = [];
  private readonly inFlight = new Set<QueueItem[]>();
  private readonly idleWaiters: Array<() => void> = [];
  private readonly abort = new AbortController();
  /** Set once close() gives up draining: from then on, what workers report is ignored (it is spilled). */
  private stopping = false;
  /** Worker runs not settled yet. */
  private readonly running = new Set<Promise<unknown>>();
  private replaying = false;
  private workerFailures = 0;
  private closing: Promise<CloseReport> | undefined;

  private constructor(
    private readonly options: ResolvedOptions,
    /** Retryable errors are retried until written (workers and this thread share the policy). */
    private readonly policy: RetryPolicy,
    private readonly spool: Spool,
    private readonly pool: WorkerPool,
  ) {
    this.queue = new BoundedQueue(options.maxQueueSize);
    this.batcher = new Batcher(
      this.queue,
      { maxBatchSize: options.maxBatchSize, maxBatchWaitMs: options.maxBatchWaitMs, slots: options.maxWorkers },
      (batch) => this.send(batch),
    );
  }

  get mode(): "async" | "durable" {
    return this.options.mode === "durable" ? "durable" : "async";
  }

  /** Opens the spool (replaying what an earlier process left there) and starts the workers. */
  static async start(options: ResolvedOptions): Promise<PooledWriter> {
    const spool = await Spool.open(options.spoolDir, options.segmentMaxEntries);
    const policy: RetryPolicy = { ...options.retry, maxAttempts: Number.POSITIVE_INFINITY };
    const writer = new PooledWriter(options, policy, spool, new WorkerPool(options.sink, policy, options.maxWorkers));
    writer.pumpReplay();
    return writer;
  }

  record(event: AuditEvent): Promise<AuditReceipt> {
    const started = performance.now();
    if (this.closing) return Promise.reject(new WriterClosedError());
    let entry: AuditEntry;
    try {
      entry = stampEvent(event, currentAuditContext());
    } catch (error) {
      return Promise.reject(error);
    }
    this.counters.recorded++;
    const receipt = this.options.mode === "durable" ? this.spoolThenQueue(entry) : this.enqueue(entry);
    this.counters.enqueueUs.add((performance.now() - started) * 1000);
    return receipt;
  }

  flush(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      this.batcher.urgent = true;
      this.batcher.notify();
      this.pumpReplay();
    });
  }

  close(options: { deadlineMs?: number } = {}): Promise<CloseReport> {
    this.closing ??= (async () => {
      const drained = await drainOrSpill(
        {
          flush: () => this.flush(),
          spillRemaining: () => this.spillRemaining(),
          release: async () => {
            this.batcher.stop();
            await this.pool.destroy();
            await this.spool.close();
          },
        },
        options.deadlineMs ?? this.options.closeDeadlineMs,
      );
      await this.options.sealer?.seal();
      return { ...this.stats(), drained };
    })();
    return this.closing;
  }

  stats(): WriterStats {
    return this.counters.snapshot({
      queued: this.queue.queued + this.blocked.length + this.queue.reservations,
      inFlight: this.queue.flying,
      spoolBacklog: this.spool.backlog,
    });
  }

  // ── enqueue ────────────────────────────────────────────────────────────────────────────────

  private enqueue(entry: AuditEntry): Promise<AuditReceipt> {
    const item: QueueItem = { entry, segment: undefined };
    if (this.queue.offer(item)) {
      this.batcher.notify();
      return Promise.resolve({ id: entry.id, state: "queued" });
    }
    switch (this.options.overflow) {
      case "drop": {
        this.counters.dropped++;
        this.options.onError?.(new AuditEntryDroppedError(entry.id, this.queue.capacity));
        return Promise.resolve({ id: entry.id, state: "dropped" });
      }
      case "block":
        return new Promise((resolve) => this.blocked.push({ item, resolve }));
      case "spill": {
        // The one way record() rejects in async mode: the queue is full and the disk refuses the
        // entry too. Then it was not accepted, and the caller is told so.
        this.counters.spilled++;
        return this.spool.append([entry], true).then(
          () => {
            this.pumpReplay();
            return { id: entry.id, state: "spilled" } as const;
          },
          (error: unknown) => {
            this.counters.spilled--;
            this.counters.recorded--;
            throw error;
          },
        );
      }
    }
  }

  /** Durable mode: fsync first; queue it too when there is room, else it waits in the spool. */
  private spoolThenQueue(entry: AuditEntry): Promise<AuditReceipt> {
    const queued = this.queue.reserve();
    if (!queued) this.counters.spilled++;
    return this.spool.append([entry], !queued).then(
      (segment) => {
        if (queued) {
          this.queue.fulfil({ entry, segment });
          this.batcher.notify();
        } else {
          this.pumpReplay();
        }
        return { id: entry.id, state: queued ? "spooled" : "spilled" } as const;
      },
      (error: unknown) => {
        if (queued) this.queue.fulfil(undefined);
        else this.counters.spilled--;
        this.counters.recorded--;
        this.checkIdle();
        throw error;
      },
    );
  }

  /** Moves callers blocked by the `block` policy into the room that just freed. */
  private admitBlocked(): void {
    while (this.blocked.length > 0 && this.queue.room > 0) {
      const next = this.blocked.shift() as Blocked;
      this.queue.offer(next.item);
      next.resolve({ id: next.item.entry.id, state: "queued" });
    }
  }

  /**
   * Reads spooled entries back into the queue while there is room (one reader at a time). It goes
   * on while close() drains (flush waits for the backlog too) and stops once close gives up.
   */
  private pumpReplay(): void {
    if (this.replaying || this.stopping || !this.spool.hasReplay) return;
    const room = Math.min(this.queue.room, this.options.maxBatchSize * this.options.maxWorkers);
    // The read is asynchronous and record() goes on meanwhile: hold the places it will fill.
    if (room <= 0 || !this.queue.reserve(room)) return;
    this.replaying = true;
    this.spool
      .nextReplay(room)
      .then((chunk) => {
        this.replaying = false;
        const entries = chunk?.entries ?? [];
        for (let i = 0; i < room; i++) {
          const entry = entries[i];
          this.queue.fulfil(entry && chunk ? { entry, segment: chunk.segment, replayed: true } : undefined);
        }
        this.counters.replayed += entries.length;
        if (!chunk) return this.checkIdle();
        this.batcher.notify();
        this.pumpReplay();
      })
      .catch((error: unknown) => {
        this.replaying = false;
        for (let i = 0; i < room; i++) this.queue.fulfil(undefined);
        this.report(error);
        this.pumpReplay(); // a corrupt line was set aside: go on with the rest
        this.checkIdle();
      });
  }

  // ── batch → worker → ack ───────────────────────────────────────────────────────────────────

  private send(batch: QueueItem[]): void {
    const started = performance.now();
    this.inFlight.add(batch);
    const run = this.pool.run(
      {
        entries: batch.map((item) => item.entry),
        // Replayed from the spool or retried after a worker failed: may be stored already.
        mayExist: batch.some((item) => item.replayed === true || item.requeued === true),
      },
      this.abort.signal,
    );
    this.running.add(run);
    const forget = () => this.running.delete(run);
    run.then(forget, forget);
    run
      .then(
        async (result) => {
          // What the worker linked is stored: it goes under a seal even if close has given up.
          this.options.sealer?.report(result.stream);
          if (this.stopping) return;
          this.workerFailures = 0;
          this.counters.written += result.written;
          this.counters.retried += result.retries;
          this.counters.deadLettered += result.deadLettered;
          this.counters.writeMs.add(performance.now() - started);
          this.inFlight.delete(batch);
          this.queue.settle(batch.length);
          await appendDeadLetterFile(this.options.spoolDir, result.unstored).catch((error: unknown) => this.report(error));
          await this.settleSegments(batch);
        },
        (error: unknown) => {
          if (this.stopping) return;
          // The worker died or could not build its sink: nothing is acknowledged, so the batch goes
          // back to the head of the queue and dispatching pauses with backoff.
          this.report(error);
          this.inFlight.delete(batch);
          this.queue.requeue(batch.map((item) => ({ ...item, requeued: true })));
          this.workerFailures++;
          this.batcher.pausedUntil = Date.now() + backoffDelay(this.workerFailures, this.policy, () => 1);
        },
      )
      .catch((error: unknown) => this.report(error))
      .finally(() => {
        if (this.stopping) return;
        this.admitBlocked();
        this.batcher.done();
        this.pumpReplay();
        this.checkIdle();
      });
  }

  private async settleSegments(batch: readonly QueueItem[]): Promise<void> {
    const counts = new Map<number, number>();
    for (const { segment } of batch) {
      if (segment !== undefined) counts.set(segment, (counts.get(segment) ?? 0) + 1);
    }
    for (const [segment, count] of counts) await this.spool.settle(segment, count);
  }

  // ── flush and shutdown ─────────────────────────────────────────────────────────────────────

  private isIdle(): boolean {
    return (
      this.queue.queued === 0 &&
      this.queue.flying === 0 &&
      this.queue.reservations === 0 &&
      this.blocked.length === 0 &&
      !this.spool.hasReplay
    );
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    this.batcher.urgent = false;
    for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /**
   * Past the close deadline: put every unacknowledged entry on disk, then stop the workers.
   * Disk first: stopping a worker can take the whole process down (a thread terminated inside a
   * native call — better-sqlite3 waiting out a lock — aborts the process with a V8 fatal error),
   * so by then nothing may be left only in memory. Workers are asked to stop by themselves (the
   * attempt in progress is abandoned, no retry) and only those still busy after one attempt's
   * time (writeTimeoutMs) are terminated.
   */
  private async spillRemaining(): Promise<void> {
    this.stopping = true;
    const items = [...[...this.inFlight].flat(), ...this.queue.drain(), ...this.blocked.map((b) => b.item)];
    // Entries that came from the spool (durable mode, replay) are on disk already.
    const entries = items.filter((item) => item.segment === undefined).map((item) => item.entry);
    if (entries.length > 0) await this.spool.append(entries, true);
    this.counters.spilled += entries.length;
    for (const b of this.blocked.splice(0)) b.resolve({ id: b.item.entry.id, state: "spilled" });
    // What was in flight is on disk now: it is no longer counted as in flight.
    this.queue.settle(this.queue.flying);
    this.inFlight.clear();
    this.pool.stop();
    await settledWithin([...this.running], this.options.retry.writeTimeoutMs);
    this.abort.abort();
  }

  private report(error: unknown): void {
    const err = error instanceof Error ? error : new Error(messageOf(error));
    if (this.options.onError) this.options.onError(err);
  }
}

/** Resolves once every promise settled, or after `ms`, whichever comes first. */
async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
