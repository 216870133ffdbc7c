/**
 * How an AuditEntry maps to the "AuditEntry" table, shared by both SQL sinks and the
 * transactional path. The column order here is the order of every INSERT.
 */
import type { AuditEntry } from "@auditrail/audit-core";

export const AUDIT_COLUMNS = [
  "id", "occurredAt", "actorId", "actorRole", "action", "entity", "entityId", "outcome", "path",
  "durationMs", "before", "after", "diff", "metadata", "requestId", "ip", "userAgent",
] as const satisfies readonly (keyof AuditEntry)[];

const JSON_COLUMNS = new Set<string>(["before", "after", "diff", "metadata"]);

export type SqlValue = string | number | null;

/** One row's values in AUDIT_COLUMNS order; JSON columns serialised, `occurredAt` via `time`. */
export function auditRow(entry: AuditEntry, time: (iso: string) => string = (iso) => iso): SqlValue[] {
  return AUDIT_COLUMNS.map((column) => {
    const value = entry[column];
    if (column === "occurredAt") return time(entry.occurredAt);
    if (JSON_COLUMNS.has(column)) return value === null ? null : JSON.stringify(value);
    return value as SqlValue;
  });
}

export const quoted = (name: string) => `"${name}"`;
