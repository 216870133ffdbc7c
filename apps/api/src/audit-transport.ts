/**
 * Where the API's audit writers send entries: `AUDIT_TRANSPORT=direct` (the default) writes them to
 * the database (DATABASE_URL) with the SQL sink; `AUDIT_TRANSPORT=jetstream` publishes them to the
 * JetStream cluster in NATS_URL (comma-separated servers), from which `apps/ingest` writes them.
 * Reads only these two variables, so it can move into the API's environment schema as it is.
 */
import type { SinkSpec } from "@auditrail/audit-core";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { jetStreamSinkSpec } from "@auditrail/jetstream/sink";
import { NatsServersSchema, parseConfig } from "@auditrail/jetstream/stream";
import { z } from "zod";

const TransportVariables = z.object({
  AUDIT_TRANSPORT: z.enum(["direct", "jetstream"]).default("direct"),
  NATS_URL: z.string().optional(),
});

/** The variables this module reads. */
export const TRANSPORT_VARIABLES = Object.keys(TransportVariables.shape);

export const AuditTransportEnvSchema = TransportVariables.transform((env, ctx) => {
    if (env.AUDIT_TRANSPORT === "direct") return { transport: "direct" as const };
    const servers = NatsServersSchema.safeParse(env.NATS_URL ?? "");
    if (!servers.success) {
      for (const issue of servers.error.issues) ctx.addIssue({ code: "custom", path: ["NATS_URL"], message: issue.message });
      return z.NEVER;
    }
    return { transport: "jetstream" as const, servers: servers.data };
  });

export type AuditTransport = z.output<typeof AuditTransportEnvSchema>;

export function auditTransportFromEnv(env: NodeJS.ProcessEnv = process.env): AuditTransport {
  return parseConfig(AuditTransportEnvSchema, env, "audit transport (AUDIT_TRANSPORT, NATS_URL)");
}

/** The writers' sink for the transport: the SQL sink on `databaseUrl`, or the JetStream sink. */
export function auditSinkSpec(transport: AuditTransport, databaseUrl: string): SinkSpec {
  return transport.transport === "jetstream" ? jetStreamSinkSpec({ servers: transport.servers }) : sqlSinkSpec({ url: databaseUrl });
}
