/**
 * The API's audit writers, one per mode, made in one place (the server, its tests and the viewer's
 * test server use the same three): all share the sink and the sealer; async and durable are
 * pooled with the same settings, the durable one spooling in its own `durable/` subdirectory
 * (one writer per spool directory); sync writes in the caller's thread.
 */
import { join } from "node:path";
import { type AuditWriterOptions, createAuditWriter } from "@auditrail/audit-core";
import type { AuditWriter } from "@auditrail/audit-core";

/** What the three writers share (sink, spool directory, sealer, onError, closeDeadlineMs …). */
export type SharedWriterOptions = Omit<AuditWriterOptions, "mode"> & { readonly spoolDir: string };
/** Settings only the pooled writers (async, durable) take. */
export type PooledWriterOptions = Pick<AuditWriterOptions, "maxWorkers" | "maxQueueSize" | "overflow" | "maxBatchSize" | "maxBatchWaitMs">;

export interface ModeWriters {
  readonly async: AuditWriter;
  readonly sync: AuditWriter;
  readonly durable: AuditWriter;
}

export async function openWriters(
  shared: SharedWriterOptions,
  pooled: PooledWriterOptions = {},
  durable: PooledWriterOptions = {},
): Promise<ModeWriters> {
  return {
    async: await createAuditWriter({ ...shared, ...pooled }),
    sync: await createAuditWriter({ ...shared, mode: "sync" }),
    durable: await createAuditWriter({ ...shared, ...pooled, ...durable, mode: "durable", spoolDir: join(shared.spoolDir, "durable") }),
  };
}
