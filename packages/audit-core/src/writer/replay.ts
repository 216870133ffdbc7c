/**
 * Step 1c, replay: reads spooled entries (spilled now, or left by an earlier process) back into
 * the queue while there is room, one reader at a time. It goes on while close() drains and stops
 * once close gives up (then they simply stay on disk for the next writer).
 */
import type { Counters } from "../metrics.ts";
import type { BoundedQueue } from "./queue.ts";
import type { Spool } from "./spool.ts";

export interface ReplayDeps {
  readonly spool: Spool;
  readonly queue: BoundedQueue;
  readonly counters: Counters;
  /** Most entries read per chunk. */
  readonly chunk: number;
  readonly stopped: () => boolean;
  /** Entries were queued: let the batcher know. */
  readonly queued: () => void;
  readonly report: (error: unknown) => void;
}

export class Replayer {
  private reading = false;

  constructor(private readonly deps: ReplayDeps) {}

  pump(): void {
    const { spool, queue, counters } = this.deps;
    if (this.reading || this.deps.stopped() || !spool.hasReplay) return;
    const room = Math.min(queue.room, this.deps.chunk);
    // The read is asynchronous and record() goes on meanwhile: hold the places it will fill.
    if (room <= 0 || !queue.reserve(room)) return;
    this.reading = true;
    spool
      .nextReplay(room)
      .then((chunk) => {
        this.reading = false;
        const entries = chunk?.entries ?? [];
        for (let i = 0; i < room; i++) {
          const entry = entries[i];
          queue.fulfil(entry && chunk ? { entry, segment: chunk.segment, replayed: true } : undefined);
        }
        counters.replayed += entries.length;
        if (!chunk) return;
        this.deps.queued();
        this.pump();
      })
      .catch((error: unknown) => {
        this.reading = false;
        for (let i = 0; i < room; i++) queue.fulfil(undefined);
        this.deps.report(error);
        this.pump(); // a corrupt line was set aside: go on with the rest
      });
  }
}
