/**
 * Where the API's audit writers send entries (config.ts's AUDIT_TRANSPORT and NATS_URL):
 * `direct` (the default) writes them to the database (DATABASE_URL) with the SQL sink;
 * `jetstream` publishes them to the JetStream cluster in NATS_URL, from which `apps/ingest` writes them.
 */
import type { SinkSpec } from "@auditrail/audit-core";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { jetStreamSinkSpec } from "@auditrail/jetstream/sink";
import type { AuditTransport } from "./config.ts";

/** The writers' sink for the transport: the SQL sink on `databaseUrl`, or the JetStream sink. */
export function auditSinkSpec(transport: AuditTransport, databaseUrl: string): SinkSpec {
  return transport.transport === "jetstream" ? jetStreamSinkSpec({ servers: [...transport.servers] }) : sqlSinkSpec({ url: databaseUrl });
}
