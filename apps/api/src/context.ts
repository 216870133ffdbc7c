/**
 * The per-request context: the services (database, audit writer, logger), who is calling (from
 * the bearer session token), and where from (request id, ip, user agent) — the same values that
 * land in audit entries and in the request log.
 */
import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { AuditWriter } from "@auditrail/audit-core";
import type { Database } from "@auditrail/db";
import type { Logger } from "pino";

export interface Services {
  readonly prisma: Database;
  readonly writer: AuditWriter;
  readonly logger: Logger;
  /** Session lifetime in milliseconds. */
  readonly sessionTtlMs: number;
}

export interface SessionUser {
  readonly id: string;
  readonly email: string;
  readonly name: string;
  readonly role: string;
  readonly sessionId: string;
}

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers["x-request-id"];
  return typeof given === "string" && /^[\w.-]{1,128}$/.test(given) ? given : randomUUID();
}

export async function createContext(services: Services, req: IncomingMessage, requestId: string) {
  const user = await userOf(services.prisma, req.headers.authorization);
  const forwarded = req.headers["x-forwarded-for"];
  return {
    ...services,
    user,
    requestId,
    ip: (typeof forwarded === "string" ? forwarded.split(",")[0]?.trim() : undefined) ?? req.socket.remoteAddress,
    userAgent: req.headers["user-agent"],
  };
}

export type Context = Awaited<ReturnType<typeof createContext>>;

async function userOf(prisma: Database, authorization: string | undefined): Promise<SessionUser | undefined> {
  const token = /^Bearer (\S+)$/.exec(authorization ?? "")?.[1];
  if (!token) return undefined;
  const session = await prisma.session.findUnique({ where: { tokenHash: hashToken(token) }, include: { user: true } });
  if (!session || session.revokedAt || session.expiresAt <= new Date() || !session.user.active) return undefined;
  const { id, email, name, role } = session.user;
  return { id, email, name, role, sessionId: session.id };
}
