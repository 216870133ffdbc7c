/**
 * Async and durable modes: the pooled life cycle, one step per file in this folder.
 *
 *   record ─► queue.ts ─► batcher.ts ─► pool.ts ─► worker.ts ─► sink
 *     │          │ full: overflow.ts            │ retry.ts: backoff, isolate poison
 *     │          ├ block: wait for room         └ dead-letter.ts: keep rejected entries
 *     │          ├ spill: spool.ts only (replay.ts reads it back as room frees)
 *     │          └ drop: counted + reported
 *     └ spool.ts: each turn's entries appended before receipts resolve (async: page cache,
 *       durable: fsynced); a segment is deleted once every entry in it is acknowledged.
 *   flush: watermark.ts. close: shutdown.ts — drain until the deadline, spill the rest, stop the
 *   workers last; the next writer replays the spool.
 *
 * Every entry ends in exactly one of: written, dead-lettered, dropped (policy), or on disk in
 * the spool. A worker that dies is a poison signal: its batch is retried once, then split in
 * halves until the entry that kills workers stands alone and is dead-lettered with the reason.
 */
import type { AuditReceipt, AuditWriter, CloseReport } from "../writer-contract.ts";
import { currentAuditContext } from "../context.ts";
import { WorkerDiedError, WriterClosedError } from "../errors.ts";
import { type AuditEntry, type AuditEvent, stampEvent } from "../event.ts";
import { Counters, type WriterStats } from "../metrics.ts";
import type { ResolvedOptions } from "../options.ts";
import type { DeadLetter } from "../sink.ts";
import { Batcher } from "./batcher.ts";
import { appendDeadLetterFile } from "./dead-letter.ts";
import { Overflow } from "./overflow.ts";
import { WorkerPool } from "./pool.ts";
import { BoundedQueue, type QueueItem } from "./queue.ts";
import { Replayer } from "./replay.ts";
import { ErrorReporter } from "./report.ts";
import { backoffDelay, type RetryPolicy } from "./retry.ts";
import { CLOSE_DESTROY_WAIT_MS, CLOSE_STOP_WAIT_MS, drainOrSpill, settledWithin } from "./shutdown.ts";
import { Spool } from "./spool.ts";
import { Watermark } from "./watermark.ts";

/** How long start() waits for the workers to load their sink. */
const WARM_WAIT_MS = 3_000;

export class PooledWriter implements AuditWriter {
  private readonly counters = new Counters();
  private readonly reporter: ErrorReporter;
  private readonly queue: BoundedQueue;
  private readonly batcher: Batcher;
  private readonly overflow: Overflow;
  private readonly replayer: Replayer;
  private readonly watermark = new Watermark();
  /** Entries only on disk, by spool segment and flush epoch: settled when the segment is deleted. */
  private readonly onDisk = new Map<number, Map<number, number>>();
  /** Batches handed to a worker and not yet answered (the queue counts their entries as `flying`). */
  private readonly atWorkers = new Set<QueueItem[]>();
  private readonly abort = new AbortController();
  /** Set once close() gives up draining: from then on, what workers report is ignored (it is spilled). */
  private stopping = false;
  /** Worker runs not settled yet. */
  private readonly running = new Set<Promise<unknown>>();
  private workerFailures = 0;
  private closing: Promise<CloseReport> | undefined;

  private constructor(
    private readonly options: ResolvedOptions,
    /** Retryable errors are retried until written (workers and this thread share the policy). */
    private readonly policy: RetryPolicy,
    private readonly spool: Spool,
    private readonly pool: WorkerPool,
  ) {
    this.reporter = new ErrorReporter(this.counters, options.onError);
    this.queue = new BoundedQueue(options.maxQueueSize);
    this.batcher = new Batcher(
      this.queue,
      { maxBatchSize: options.maxBatchSize, maxBatchWaitMs: options.maxBatchWaitMs, slots: options.maxWorkers },
      (batch) => this.send(batch),
    );
    const report = (error: unknown) => this.reporter.report(error);
    this.overflow = new Overflow({
      policy: options.overflow,
      queue: this.queue,
      spool,
      counters: this.counters,
      fsync: this.durable,
      accept: (item) => this.appendThenQueue(item),
      spilled: (segment, epoch) => {
        if (epoch !== undefined) this.countOnDisk(segment, epoch);
        this.replayer.pump();
      },
      dropped: (item) => this.settleEpoch(item),
      refused: (item) => this.abandon(item),
      report,
    });
    this.replayer = new Replayer({
      spool,
      queue: this.queue,
      counters: this.counters,
      chunk: options.maxBatchSize * options.maxWorkers,
      stopped: () => this.stopping,
      queued: () => this.batcher.notify(),
      report,
    });
  }

  get mode(): "async" | "durable" {
    return this.durable ? "durable" : "async";
  }

  private get durable(): boolean {
    return this.options.mode === "durable";
  }

  /**
   * Opens the spool (taking its lock, replaying what an earlier process left there) and starts
   * the workers.
   */
  static async start(options: ResolvedOptions): Promise<PooledWriter> {
    let writer: PooledWriter | undefined;
    const spool = await Spool.open(options.spoolDir, options.segmentMaxEntries, {
      onRemoved: (segment) => writer?.segmentRemoved(segment),
      onError: (error) => writer?.report(error),
    });
    const policy: RetryPolicy = { ...options.retry, maxAttempts: Number.POSITIVE_INFINITY };
    let pool: WorkerPool;
    try {
      pool = new WorkerPool(options.sink, policy, options.maxWorkers);
    } catch (error) {
      await spool.close();
      throw error;
    }
    writer = new PooledWriter(options, policy, spool, pool);
    // Workers load their sink now rather than on the first batch; bounded, so a slow module
    // load never holds start up for long (the first batch then waits for it instead). A sink
    // that cannot be built is reported as the first batch would report it.
    const started = writer;
    const warmed = pool.warm().then((answers) => {
      for (const answer of answers) if ("failed" in answer) started.reporter.report(new Error(answer.failed));
    });
    await settledWithin([warmed], WARM_WAIT_MS);
    // What an earlier process left was recorded before any flush: epoch 0, one count a segment.
    for (const segment of spool.leftover) writer.countOnDisk(segment, 0);
    writer.replayer.pump();
    return writer;
  }

  record(event: AuditEvent): Promise<AuditReceipt> {
    const started = performance.now();
    if (this.closing) return Promise.reject(new WriterClosedError());
    let entry: AuditEntry;
    try {
      entry = stampEvent(event, currentAuditContext(), this.options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.counters.recorded++;
    const receipt = this.enqueue(entry);
    this.counters.enqueueUs.add((performance.now() - started) * 1000);
    return receipt;
  }

  /** Resolves once every entry recorded before the call is written, dead-lettered or (at close) spilled. */
  flush(): Promise<void> {
    const reached = this.watermark.mark();
    if (this.watermark.waiting) {
      this.batcher.hurry();
      this.replayer.pump();
    }
    return reached;
  }

  close(options: { deadlineMs?: number } = {}): Promise<CloseReport> {
    this.closing ??= (async () => {
      const drained = await drainOrSpill(
        {
          flush: () => this.flush(),
          spillRemaining: () => this.spillRemaining(),
          release: async () => {
            this.batcher.stop();
            // Bounded: a thread stuck in a native call may take long to go; nothing is left in it.
            await settledWithin([this.pool.destroy()], CLOSE_DESTROY_WAIT_MS);
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
      queued: this.queue.queued + this.overflow.waiting + this.queue.reservations,
      inFlight: this.queue.flying,
      spoolBacklog: this.spool.backlog,
    });
  }

  // ── enqueue ────────────────────────────────────────────────────────────────────────────────

  private enqueue(entry: AuditEntry): Promise<AuditReceipt> {
    const epoch = this.watermark.current;
    this.watermark.add(epoch);
    const item: QueueItem = { entry, segment: undefined, epoch };
    return this.queue.reserve() ? this.appendThenQueue(item) : this.overflow.full(item);
  }

  /**
   * Into a place the queue reserved: the entry is appended to the spool first (async: written to
   * the page cache, which a killed process leaves to the kernel; durable: fsynced), then queued.
   * One write serves every entry appended in the same turn.
   */
  private appendThenQueue(item: QueueItem): Promise<AuditReceipt> {
    const { entry, epoch } = item;
    return new Promise((resolve, reject) => {
      this.spool.appendThen([entry], false, this.durable, (error, segment) => {
        if (error !== undefined) {
          this.queue.fulfil(undefined);
          this.abandon(item);
          reject(error);
          return;
        }
        this.queue.fulfil(epoch === undefined ? { entry, segment } : { entry, segment, epoch });
        this.batcher.notify();
        resolve({ id: entry.id, state: this.durable ? "spooled" : "queued" });
      });
    });
  }

  /** An entry not accepted after all: the disk refused it, and record() rejects. */
  private abandon(item: QueueItem): void {
    this.counters.recorded--;
    this.settleEpoch(item);
  }

  private settleEpoch(item: QueueItem): void {
    if (item.epoch !== undefined) this.watermark.settle(item.epoch);
  }

  private countOnDisk(segment: number, epoch: number): void {
    const epochs = this.onDisk.get(segment) ?? new Map<number, number>();
    epochs.set(epoch, (epochs.get(epoch) ?? 0) + 1);
    this.onDisk.set(segment, epochs);
    if (epoch === 0) this.watermark.add(0);
  }

  /** A spool segment is gone: all its entries are written or dead-lettered. */
  private segmentRemoved(segment: number): void {
    const epochs = this.onDisk.get(segment);
    if (!epochs) return;
    this.onDisk.delete(segment);
    for (const [epoch, count] of epochs) this.watermark.settle(epoch, count);
  }

  // ── batch → worker → ack ───────────────────────────────────────────────────────────────────

  private send(batch: QueueItem[]): void {
    const started = performance.now();
    this.atWorkers.add(batch);
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
        async (answer) => {
          // What the worker linked is stored: it goes under a seal even if close has given up.
          if (!("failed" in answer) && answer.stream) this.options.sealer?.report(answer.stream);
          if (this.stopping) return;
          if ("failed" in answer) return this.retryLater(batch, new Error(answer.failed));
          const result = answer;
          this.workerFailures = 0;
          this.counters.written += result.written;
          this.counters.retried += result.retries;
          this.counters.deadLettered += result.deadLettered;
          this.counters.writeMs.add(performance.now() - started);
          this.atWorkers.delete(batch);
          this.queue.settle(batch.length);
          await this.keepUnstored(result.unstored);
          await this.settleItems(batch);
        },
        (error: unknown) => {
          if (this.stopping) return;
          return this.workerDied(batch, error);
        },
      )
      .catch((error: unknown) => this.reporter.report(error))
      .finally(() => {
        if (this.stopping) return;
        this.overflow.admit();
        this.batcher.done();
        this.replayer.pump();
        if (!this.watermark.waiting) this.batcher.relax();
      });
  }

  /**
   * The worker answered that it could not write (its sink could not be built, say): nothing is
   * acknowledged, so the batch goes back to the head of the queue and dispatching pauses with
   * backoff.
   */
  private retryLater(batch: QueueItem[], error: Error): void {
    this.reporter.report(error);
    this.counters.retried++;
    this.atWorkers.delete(batch);
    this.queue.requeue(batch.map((item) => ({ ...item, requeued: true })));
    this.workerFailures++;
    this.batcher.pauseFor(backoffDelay(this.workerFailures, this.policy, () => 1));
  }

  /**
   * The worker thread died writing `batch` (out of memory, a crash): a poison signal. The batch
   * is retried once as it was; if its worker dies again it is split in halves, and so on, until
   * an entry that kills workers on its own is dead-lettered with the reason. The rest flows.
   */
  private async workerDied(batch: QueueItem[], error: unknown): Promise<void> {
    const died = new WorkerDiedError(error);
    this.reporter.report(died);
    this.atWorkers.delete(batch);
    const suspect = batch.some((item) => (item.deaths ?? 0) > 0);
    const only = batch[0] as QueueItem;
    if (batch.length === 1 && suspect) {
      this.queue.settle(1);
      await this.deadLetterHere({
        entry: only.entry,
        error: died.message,
        attempts: (only.deaths ?? 0) + 1,
        failedAt: new Date().toISOString(),
      });
      await this.settleItems(batch);
      return;
    }
    const isolate = suspect ? Math.ceil(batch.length / 2) : batch.length;
    this.queue.requeue(batch.map((item) => ({ ...item, requeued: true, deaths: (item.deaths ?? 0) + 1, isolate })));
    this.workerFailures++;
    this.batcher.pauseFor(backoffDelay(this.workerFailures, this.policy, () => 1));
  }

  /** A dead letter decided here: kept through a worker's sink, else in the fallback file. */
  private async deadLetterHere(letter: DeadLetter): Promise<void> {
    this.counters.deadLettered++;
    const unstored = await this.pool.run({ entries: [], mayExist: false, letters: [letter] }, this.abort.signal).then(
      (answer) => ("failed" in answer ? [letter] : answer.unstored),
      () => [letter],
    );
    await this.keepUnstored(unstored);
  }

  /** Dead letters no sink would take: the file in the spool folder (the database is unreachable). */
  private async keepUnstored(letters: readonly DeadLetter[]): Promise<void> {
    await appendDeadLetterFile(this.options.spoolDir, letters).catch((error: unknown) => this.reporter.report(error));
  }

  private report(error: unknown): void {
    this.reporter.report(error);
  }

  /** Acknowledged items: their flush epochs and spool segments settle. */
  private async settleItems(batch: readonly QueueItem[]): Promise<void> {
    const counts = new Map<number, number>();
    for (const { segment } of batch) {
      if (segment !== undefined) counts.set(segment, (counts.get(segment) ?? 0) + 1);
    }
    // The spool first: a flush resolved by these entries finds their segments compacted.
    for (const [segment, count] of counts) await this.spool.settle(segment, count);
    for (const { epoch } of batch) if (epoch !== undefined) this.watermark.settle(epoch);
  }

  // ── shutdown ───────────────────────────────────────────────────────────────────────────────

  /**
   * Past the close deadline: put every unacknowledged entry on disk, then stop the workers.
   * Disk first: stopping a worker can take the whole process down (a thread terminated inside a
   * native call — better-sqlite3 waiting out a lock — aborts the process with a V8 fatal error),
   * so by then nothing may be left only in memory. Workers are asked to stop by themselves (the
   * attempt in progress is abandoned, no retry); those still busy after CLOSE_STOP_WAIT_MS are
   * terminated. Either way close() returns within its deadline plus CLOSE_MARGIN_MS.
   */
  private async spillRemaining(): Promise<void> {
    this.stopping = true;
    const items = [...[...this.atWorkers].flat(), ...this.queue.drain(), ...this.overflow.takeBlocked()];
    // Entries already in a segment (every appended one) are on disk: the next writer replays them.
    const entries = items.filter((item) => item.segment === undefined).map((item) => item.entry);
    try {
      if (entries.length > 0) await this.spool.append(entries, true, true);
      // Left in the spool for the next writer (those read back from it were counted when they went there).
      this.counters.spilled += items.filter((item) => item.replayed !== true).length;
      this.overflow.resolveBlockedAsSpilled();
    } catch (error) {
      // The disk refused the spill: callers still blocked for room are told, never left waiting.
      this.overflow.refuseBlocked(error);
      throw error;
    } finally {
      // What was in flight is on disk now: it is no longer counted as in flight.
      this.queue.settle(this.queue.flying);
      this.atWorkers.clear();
      this.watermark.releaseAll();
      this.pool.stop();
      await settledWithin([...this.running], Math.min(CLOSE_STOP_WAIT_MS, this.options.retry.writeTimeoutMs));
      this.abort.abort();
    }
  }
}
