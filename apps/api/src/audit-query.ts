/**
 * Reading the audit trail, shared by `audit.list` and the export route: one filter schema, one
 * where-clause, one order — newest first by (occurredAt, id), the id (a UUIDv7) breaking ties — and
 * keyset pages over it, so a page walk returns every entry exactly once even while entries are
 * being written.
 */
import type { AuditEntry, ChainedEntry } from "@auditrail/audit-core";
import type { AuditEntryRow, Database, Prisma, Provider } from "@auditrail/db";
import { z } from "zod";
import { dottedPrefixRange, likeText } from "./literal.ts";
import { Instant, iso, toDate } from "./schemas.ts";

export const AuditFilter = z.strictObject({
  actorId: z.string().min(1).max(128).optional(),
  entity: z.string().min(1).max(128).optional(),
  entityId: z.string().min(1).max(256).optional(),
  /** An action (`patient.update`), or every action under a prefix (`patient.*`); literal text. */
  action: z.string().min(1).max(128).optional(),
  /** `ok`, `failed` (any error), or one error code (`FORBIDDEN`). */
  outcome: z.string().min(1).max(64).optional(),
  /** Everything one request did (the id its response carried in `x-request-id`). */
  requestId: z.string().min(1).max(128).optional(),
  /** The client address the entries were recorded with. */
  ip: z.string().min(1).max(64).optional(),
  /** Inclusive. */
  from: Instant.optional(),
  /** Exclusive. */
  to: Instant.optional(),
});
export type AuditFilter = z.infer<typeof AuditFilter>;

export const AuditKey = z.tuple([Instant, z.string()]);
export type AuditKey = z.infer<typeof AuditKey>;

export const AUDIT_ORDER = [{ occurredAt: "desc" }, { id: "desc" }] satisfies Prisma.AuditEntryOrderByWithRelationInput[];

export function auditWhere(provider: Provider, f: AuditFilter, after?: AuditKey): Prisma.AuditEntryWhereInput {
  const and: Prisma.AuditEntryWhereInput[] = [];
  if (f.actorId) and.push({ actorId: f.actorId });
  if (f.entity) and.push({ entity: f.entity });
  if (f.entityId) and.push({ entityId: f.entityId });
  if (f.action) and.push({ action: f.action.endsWith(".*") ? actionPrefix(provider, f.action.slice(0, -1) as `${string}.`) : f.action });
  if (f.outcome) and.push(f.outcome === "failed" ? { outcome: { not: "ok" } } : { outcome: f.outcome });
  if (f.requestId) and.push({ requestId: f.requestId });
  if (f.ip) and.push({ ip: f.ip });
  if (f.from || f.to) {
    and.push({ occurredAt: { ...(f.from ? { gte: toDate(f.from) } : {}), ...(f.to ? { lt: toDate(f.to) } : {}) } });
  }
  if (after) {
    const at = toDate(after[0]);
    and.push({ OR: [{ occurredAt: { lt: at } }, { occurredAt: at, id: { lt: after[1] } }] });
  }
  return { AND: and };
}

/** Actions under a dotted prefix, matched literally (`%`, `_` and `\\` are themselves; see literal.ts). */
function actionPrefix(provider: Provider, prefix: `${string}.`): Prisma.StringFilter<"AuditEntry"> {
  return provider === "postgresql" ? { startsWith: likeText(provider, prefix) } : dottedPrefixRange(prefix);
}

export const keyOf = (row: AuditEntryRow): AuditKey => [iso(row.occurredAt), row.id];

/** An entry as the API returns and exports it (the hash-chain columns are internal). */
export function entryOut(row: AuditEntryRow) {
  return {
    id: row.id,
    occurredAt: iso(row.occurredAt),
    actorId: row.actorId,
    actorRole: row.actorRole,
    action: row.action,
    entity: row.entity,
    entityId: row.entityId,
    outcome: row.outcome,
    path: row.path,
    durationMs: row.durationMs,
    before: row.before,
    after: row.after,
    diff: row.diff,
    metadata: row.metadata,
    requestId: row.requestId,
    ip: row.ip,
    userAgent: row.userAgent,
  } satisfies Record<keyof AuditEntry, unknown>;
}
export type EntryOut = ReturnType<typeof entryOut>;

/** An entry as exported: with its chain fields, so an export can be verified offline (audit:verify --export). */
export function exportedOut(row: AuditEntryRow) {
  return { ...entryOut(row), streamId: row.streamId, seq: row.seq, prevHash: row.prevHash, hash: row.hash } satisfies Record<
    keyof ChainedEntry,
    unknown
  >;
}
export type ExportedEntry = ReturnType<typeof exportedOut>;

/** Every matching entry, newest first, fetched `chunk` rows per statement. */
export async function* allEntries(prisma: Database, provider: Provider, filter: AuditFilter, chunk = 500): AsyncGenerator<ExportedEntry> {
  let after: AuditKey | undefined;
  for (;;) {
    const rows = await prisma.auditEntry.findMany({ where: auditWhere(provider, filter, after), orderBy: AUDIT_ORDER, take: chunk });
    for (const row of rows) yield exportedOut(row);
    const last = rows[rows.length - 1];
    if (rows.length < chunk || !last) return;
    after = keyOf(last);
  }
}
