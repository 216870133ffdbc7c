/**
 * Step 1b, the overflow policy: what record() does when the queue is full.
 * - block: the caller waits for room (its receipt resolves once the entry is queued);
 * - spill: the entry goes to the spool only (written like every append, no fsync per entry in
 *   async mode), to be replayed as room frees;
 * - drop: refused, counted in stats().dropped and reported — never silent.
 */
import type { AuditReceipt } from "../writer-contract.ts";
import { AuditEntryDroppedError, SpillFailedError } from "../errors.ts";
import type { Counters } from "../metrics.ts";
import type { BoundedQueue, QueueItem } from "./queue.ts";
import type { Spool } from "./spool.ts";

export interface OverflowDeps {
  readonly policy: "block" | "spill" | "drop";
  readonly queue: BoundedQueue;
  readonly spool: Spool;
  readonly counters: Counters;
  /** Durable mode: spills are fsynced like every other append. */
  readonly fsync: boolean;
  /** Takes an item into a place the queue reserved for it (appended to the spool, then queued). */
  readonly accept: (item: QueueItem) => Promise<AuditReceipt>;
  /** The entry is on disk only, in `segment`; `epoch` is its flush epoch. */
  readonly spilled: (segment: number, epoch: number | undefined) => void;
  /** The entry was dropped by the policy (still counted as recorded): its flush epoch no longer waits. */
  readonly dropped: (item: QueueItem) => void;
  /** The disk refused the entry: record() rejects, so it was never accepted. */
  readonly refused: (item: QueueItem) => void;
  readonly report: (error: unknown) => void;
}

interface Blocked {
  readonly item: QueueItem;
  readonly resolve: (receipt: AuditReceipt | Promise<AuditReceipt>) => void;
}

export class Overflow {
  private readonly blocked: Blocked[] = [];

  constructor(private readonly deps: OverflowDeps) {}

  /** Callers waiting for room (block policy). */
  get waiting(): number {
    return this.blocked.length;
  }

  /** The queue is full: applies the policy to `item`. */
  full(item: QueueItem): Promise<AuditReceipt> {
    const { deps } = this;
    const { id } = item.entry;
    switch (deps.policy) {
      case "drop": {
        deps.counters.dropped++;
        deps.dropped(item);
        deps.report(new AuditEntryDroppedError(id, deps.queue.capacity));
        return Promise.resolve({ id, state: "dropped" });
      }
      case "block":
        return new Promise((resolve) => this.blocked.push({ item, resolve }));
      case "spill": {
        // The one way record() rejects in async mode for a valid event: the queue is full and
        // the disk refuses the entry too. Then it was not accepted, and the caller is told so.
        deps.counters.spilled++;
        return deps.spool.append([item.entry], true, deps.fsync).then(
          (segment) => {
            deps.spilled(segment, item.epoch);
            return { id, state: "spilled" } as const;
          },
          (error: unknown) => {
            deps.counters.spilled--;
            deps.refused(item);
            throw error;
          },
        );
      }
    }
  }

  /** Moves callers blocked by the `block` policy into the room that just freed. */
  admit(): void {
    while (this.blocked.length > 0 && this.deps.queue.reserve()) {
      const next = this.blocked.shift() as Blocked;
      next.resolve(this.deps.accept(next.item));
    }
  }

  /** At close, past the deadline: the blocked callers' entries, to be spilled; they resolve as spilled. */
  takeBlocked(): QueueItem[] {
    return this.blocked.map((b) => b.item);
  }

  /** Their entries are on disk now. */
  resolveBlockedAsSpilled(): void {
    for (const b of this.blocked.splice(0)) b.resolve({ id: b.item.entry.id, state: "spilled" });
  }

  /** Spilling their entries failed: each blocked record() rejects (SpillFailedError), never kept. */
  refuseBlocked(cause: unknown): void {
    for (const b of this.blocked.splice(0)) {
      this.deps.refused(b.item);
      b.resolve(Promise.reject(new SpillFailedError(cause)));
    }
  }
}
