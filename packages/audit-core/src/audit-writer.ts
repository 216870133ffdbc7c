/**
 * createAuditWriter: the one way to get a writer. Options are validated first (InvalidOptionsError),
 * the sink module is checked (SinkLoadError), then the mode decides the implementation:
 * sync writes in the caller's thread; async and durable go through the pooled life cycle in
 * ./writer (queue → batch → worker → sink → ack / retry / dead-letter, spool, shutdown).
 */
import type { AuditEvent } from "./event.ts";
import type { WriterStats } from "./metrics.ts";
import { type AuditWriterOptions, parseOptions } from "./options.ts";
import { loadSink, checkSinkModule } from "./sink.ts";
import { DirectWriter } from "./writer/direct.ts";
import { PooledWriter } from "./writer/pooled.ts";

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

export async function createAuditWriter(options: AuditWriterOptions): Promise<AuditWriter> {
  const resolved = parseOptions(options);
  if (resolved.mode === "sync") return new DirectWriter(resolved, await loadSink(resolved.sink));
  await checkSinkModule(resolved.sink);
  return PooledWriter.start(resolved);
}
