/**
 * createAuditWriter: the one way to get a writer. Options are validated first (InvalidOptionsError),
 * the sink module is checked (SinkLoadError), then the mode decides the implementation:
 * sync writes in the caller's thread; async and durable go through the pooled life cycle in
 * ./writer (queue → batch → worker → sink → ack / retry / dead-letter, spool, shutdown).
 */
import type { AuditWriter } from "./writer-contract.ts";
import { type AuditWriterOptions, parseOptions } from "./options.ts";
import { loadSink, checkSinkModule } from "./sink.ts";
import { DirectWriter } from "./writer/direct.ts";
import { PooledWriter } from "./writer/pooled.ts";

export async function createAuditWriter(options: AuditWriterOptions): Promise<AuditWriter> {
  const resolved = parseOptions(options);
  if (resolved.mode === "sync") return new DirectWriter(resolved, await loadSink(resolved.sink));
  await checkSinkModule(resolved.sink);
  return PooledWriter.start(resolved);
}
