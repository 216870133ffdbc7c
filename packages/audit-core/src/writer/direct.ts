/**
 * Sync mode: record() writes its one entry in the caller's thread and resolves once the row is
 * committed, retrying up to retry.syncMaxAttempts. A failure rejects record(): the caller asked to
 * wait for the row, so it must learn that there is none. A poison entry is still dead-lettered.
 */
import type { AuditReceipt, AuditWriter, CloseReport } from "../writer-contract.ts";
import { ChainStream } from "../chain.ts";
import { currentAuditContext } from "../context.ts";
import { AuditWriteError, WriterClosedError } from "../errors.ts";
import { type AuditEntry, type AuditEvent, stampEvent } from "../event.ts";
import { Counters, type WriterStats } from "../metrics.ts";
import type { ResolvedOptions } from "../options.ts";
import type { AuditSink } from "../sink.ts";
import { appendDeadLetterFile, keepDeadLetters } from "./dead-letter.ts";
import { type RetryPolicy, writeWithRetry } from "./retry.ts";
import { drainOrSpill } from "./shutdown.ts";

export class DirectWriter implements AuditWriter {
  readonly mode = "sync";
  private readonly counters = new Counters();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly policy: RetryPolicy;
  /** This writer's hash chain (see ../chain.ts); hashing here is part of what sync waits for. */
  private stream = new ChainStream();
  /** The write before this one: sync writes are linked and written in order. */
  private turn: Promise<void> = Promise.resolve();
  private closing: Promise<CloseReport> | undefined;

  constructor(
    private readonly options: ResolvedOptions,
    private readonly sink: AuditSink,
  ) {
    this.policy = { ...options.retry, maxAttempts: options.retry.syncMaxAttempts };
  }

  record(event: AuditEvent): Promise<AuditReceipt> {
    if (this.closing) return Promise.reject(new WriterClosedError());
    const started = performance.now();
    let entry: AuditEntry;
    try {
      entry = stampEvent(event, currentAuditContext(), this.options);
    } catch (error) {
      return Promise.reject(error);
    }
    this.counters.recorded++;
    const { id } = entry;
    // Link and write one at a time: an entry whose write finally fails must not leave a seq that
    // later entries link past (verification would report a deletion). After such a failure the
    // stream is abandoned at its last stored link and a new one starts.
    const write = this.turn
      .then(() =>
        writeWithRetry(this.sink, this.sink.forwards ? [entry] : this.stream.link([entry]), this.policy).catch((error: unknown) => {
          this.stream = new ChainStream();
          throw error;
        }),
      )
      .then(async (outcome) => {
        this.options.sealer?.report(this.stream.report());
        this.counters.written += outcome.written;
        this.counters.retried += outcome.retries;
        const letter = outcome.deadLetters[0];
        if (letter) {
          this.counters.deadLettered++;
          const unstored = await keepDeadLetters(this.sink, [letter], this.policy);
          await appendDeadLetterFile(this.options.spoolDir, unstored);
          throw new AuditWriteError(letter.attempts, new Error(letter.error));
        }
        const elapsed = performance.now() - started;
        this.counters.writeMs.add(elapsed);
        this.counters.enqueueUs.add(elapsed * 1000);
        return { id, state: "written" } as const;
      });
    this.turn = write.then(
      () => undefined,
      () => undefined,
    );
    this.pending.add(write);
    void write.finally(() => this.pending.delete(write)).catch(() => undefined);
    return write;
  }

  async flush(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  close(options: { deadlineMs?: number } = {}): Promise<CloseReport> {
    this.closing ??= (async () => {
      const drained = await drainOrSpill(
        {
          flush: () => this.flush(),
          // Every pending sync write has a caller waiting on it; it ends by itself within its attempts.
          spillRemaining: () => this.flush(),
          release: () => this.sink.close(),
        },
        options.deadlineMs ?? this.options.closeDeadlineMs,
      );
      await this.options.sealer?.seal();
      return { ...this.stats(), drained };
    })();
    return this.closing;
  }

  stats(): WriterStats {
    return this.counters.snapshot({ queued: 0, inFlight: this.pending.size, spoolBacklog: 0 });
  }
}
