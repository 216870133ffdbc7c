/**
 * Step 1, enqueue: a bounded FIFO of entries waiting for a batch. Capacity counts entries queued
 * and entries in flight in workers, so memory stays bounded however slow the database is. What
 * happens when it is full is the overflow policy's business (pooled.ts); the queue only says so.
 */
import type { AuditEntry } from "../event.ts";

/** An entry with the spool segment that already holds it (durable mode, replay), if any. */
export interface QueueItem {
  readonly entry: AuditEntry;
  readonly segment: number | undefined;
  /** Handed to a worker before, which failed without answering: it may be stored already. */
  readonly requeued?: boolean;
  /** Read back from the spool: written before a crash or a forced close, perhaps. */
  readonly replayed?: boolean;
  /** flush()'s epoch (./watermark.ts); absent when its spool segment stands for it. */
  readonly epoch?: number;
  /** Workers that died while writing a batch holding it (a poison signal, see pooled.ts). */
  readonly deaths?: number;
  /** Suspect (its worker died): it leaves in batches of at most this many suspects. */
  readonly isolate?: number;
}

export class BoundedQueue {
  private items: QueueItem[] = [];
  private head = 0;
  private inFlight = 0;
  private reserved = 0;

  constructor(readonly capacity: number) {}

  /** Entries waiting for a batch. */
  get queued(): number {
    return this.items.length - this.head;
  }

  /** Entries handed to workers and not yet acknowledged. */
  get flying(): number {
    return this.inFlight;
  }

  /** Room left before the capacity is reached. */
  get room(): number {
    return this.capacity - this.queued - this.inFlight - this.reserved;
  }

  /** Adds an item; false (and nothing added) when full. */
  offer(item: QueueItem): boolean {
    if (this.room <= 0) return false;
    this.items.push(item);
    return true;
  }

  /** Holds `count` places for items that arrive later (after an fsync, a file read); all or none. */
  reserve(count = 1): boolean {
    if (this.room < count) return false;
    this.reserved += count;
    return true;
  }

  /** Gives back one reservation, adding the item for it if there is one. */
  fulfil(item: QueueItem | undefined): void {
    this.reserved--;
    if (item) this.items.push(item);
  }

  /** Places held for items still on their way in. */
  get reservations(): number {
    return this.reserved;
  }

  /** Puts in-flight items back at the head (their worker failed before answering). */
  requeue(items: readonly QueueItem[]): void {
    this.items = [...items, ...this.items.slice(this.head)];
    this.head = 0;
    this.inFlight -= items.length;
  }

  /**
   * Takes up to `max` items, oldest first, and counts them in flight until `settle`. Suspects
   * (requeued after their worker died) leave on their own, at most `isolate` at a time.
   */
  take(max: number): QueueItem[] {
    const limit = this.items[this.head]?.isolate;
    let end = Math.min(this.items.length, this.head + (limit ?? max));
    if (limit !== undefined) {
      for (let i = this.head; i < end; i++) {
        if ((this.items[i] as QueueItem).isolate === undefined) {
          end = i;
          break;
        }
      }
    }
    const batch = this.items.slice(this.head, end);
    this.head = end;
    this.inFlight += batch.length;
    if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** Marks `count` in-flight items done (written, dead-lettered, or spilled). */
  settle(count: number): void {
    this.inFlight -= count;
  }

  /** Empties the queue, returning what was waiting (used at shutdown). */
  drain(): QueueItem[] {
    const rest = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return rest;
  }
}
