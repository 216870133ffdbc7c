/**
 * The per-request context: the services (database, audit writers, logger, metrics), who is
 * calling (from the bearer session token), and where from (request id, ip, user agent) — the same
 * values that land in audit entries and in the request log.
 */
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { AuditPluginMode, AuditWriters } from "@auditrail/audit-core/trpc";
import type { Database, DatabaseHandle, Provider } from "@auditrail/db";
import type { Logger } from "pino";
import type { AuditDefaultMode, WriterConfigInEffect } from "./config.ts";
import type { ApiMetrics } from "./metrics.ts";
import type { SealServices } from "./sealing.ts";

export interface Services {
  readonly prisma: Database;
  /** The audit writers per mode: `async` (the default), `sync` and `durable`. */
  readonly writers: AuditWriters;
  readonly logger: Logger;
  /** Session lifetime in milliseconds. */
  readonly sessionTtlMs: number;
  /**
   * One audit mode for every procedure instead of each one's declared mode, or "off" (no entries).
   * Unset in production; the benchmarks use it to run the same procedure in each mode.
   */
  readonly auditModeOverride?: AuditPluginMode | "off" | undefined;
  /** Believe X-Forwarded-For for the client IP (only behind a proxy that sets it). Default false. */
  readonly trustProxy?: boolean | undefined;
  /** Seals: what audit.verify / audit.proof / audit.purge need (./sealing.ts). Unset: they refuse. */
  readonly seals?: SealServices | undefined;
  /** The mode of procedures whose `meta.audit` pins none (AUDIT_MODE). Default `async`. */
  readonly auditDefaultMode?: AuditDefaultMode | undefined;
  /** The writer and seal settings in effect, shown as `auditrail_writer_config` labels in /metrics. */
  readonly writerConfig?: WriterConfigInEffect | undefined;
}

export interface SessionUser {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: string;
  readonly sessionId: string;
}

/** Where a request comes from; also what its audit entries and log lines carry. */
export interface RequestInfo {
  readonly requestId: string;
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
}

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
}

/**
 * Where a request comes from. X-Forwarded-For is believed only behind a proxy that sets it
 * (`trustProxy`): otherwise any client could write the IP its audit entries record.
 */
export function requestInfoOf(req: IncomingMessage, requestId: string, trustProxy = false): RequestInfo {
  const forwarded = trustProxy ? req.headers["x-forwarded-for"] : undefined;
  return {
    requestId,
    ip: (typeof forwarded === "string" ? forwarded.split(",")[0]?.trim() : undefined) || req.socket.remoteAddress,
    userAgent: req.headers["user-agent"],
  };
}

/** What the server adds to every context besides the services. */
export interface ServerInfo {
  /** The database behind `prisma` (the retention purge's controlled path differs per provider). */
  readonly provider: Provider;
  /** The open database handle (its URL: dead-letter replay opens its own sink on it). */
  readonly database: DatabaseHandle;
  /** Aborted when the server shuts down: long-lived calls (the live tail) end on it. */
  readonly stopping: AbortSignal;
}

export async function createContext(services: Services, server: ServerInfo, metrics: ApiMetrics, req: IncomingMessage, requestId: string) {
  const user = await userOf(services.prisma, req.headers.authorization);
  return {
    ...services,
    ...server,
    metrics,
    log: services.logger.child({ reqId: requestId }),
    user,
    ...requestInfoOf(req, requestId, services.trustProxy),
  };
}

export type Context = Awaited<ReturnType<typeof createContext>>;

/** The signed-in staff member a bearer token belongs to; undefined if none, expired or revoked. */
export async function userOf(prisma: Database, authorization: string | undefined): Promise<SessionUser | undefined> {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (!token) return undefined;
  const session = await prisma.session.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: true } });
  if (!session || session.revokedAt || session.expiresAt <= new Date() || !session.user.active) return undefined;
  const { id, email, name, role } = session.user;
  return { id, email, name, role, sessionId: session.id };
}
