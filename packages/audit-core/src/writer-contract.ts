/**
 * What a writer is, apart from how it is made: the types createAuditWriter (audit-writer.ts) returns
 * and the implementations in ./writer provide. Its own file so neither side imports the other.
 */
import type { AuditEvent } from "./event.ts";
import type { WriterStats } from "./metrics.ts";

export type AuditMode = "async" | "sync" | "durable";

/** What became of a recorded entry by the time record() resolved. */
export interface AuditReceipt {
  readonly id: string;
  /**
   * queued: queued in memory and appended to the spool (async: written to the page cache, so a
   * killed process loses it not). written: committed (sync). spooled: fsynced to the spool and
   * queued (durable). spilled: the queue was full, it waits on disk. dropped: refused by the drop
   * policy (also counted and reported).
   */
  readonly state: "queued" | "written" | "spooled" | "spilled" | "dropped";
}

export interface CloseReport extends WriterStats {
  /** True when everything was written before the deadline; false when the rest was spilled. */
  readonly drained: boolean;
}

export interface AuditWriter {
  readonly mode: AuditMode;
  /** Validates and stamps the event (id, time, audit context), then writes it per the mode. */
  record(event: AuditEvent): Promise<AuditReceipt>;
  /**
   * Resolves when every entry recorded before the call is written or dead-lettered (or, once
   * close() gives up draining, spilled) — entries recorded after it are not waited for.
   */
  flush(): Promise<void>;
  /** Stops accepting, drains until the deadline, spills the rest; returns within the deadline + CLOSE_MARGIN_MS; idempotent. */
  close(options?: { deadlineMs?: number }): Promise<CloseReport>;
  stats(): WriterStats;
}
