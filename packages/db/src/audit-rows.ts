/**
 * How an AuditEntry maps to the "AuditEntry" table, shared by both SQL sinks and the
 * transactional path. The column order here is the order of every INSERT.
 */
import type { AuditEntry, ChainLink } from "@auditrail/audit-core";

/** An entry as the writer hands it over: with its chain link (absent only in direct sink use). */
export type SinkEntry = AuditEntry & Partial<ChainLink>;

export const AUDIT_COLUMNS = [
  "id", "occurredAt", "actorId", "actorRole", "action", "entity", "entityId", "outcome", "path",
  "durationMs", "before", "after", "diff", "metadata", "requestId", "ip", "userAgent",
  "streamId", "seq", "prevHash", "hash",
] as const satisfies readonly (keyof SinkEntry)[];

const JSON_COLUMNS = new Set<string>(["before", "after", "diff", "metadata"]);

export type SqlValue = string | number | null;

/** One row's values in AUDIT_COLUMNS order; JSON columns serialised, `occurredAt` via `time`. */
export function auditRow(entry: SinkEntry, time: (iso: string) => string = (iso) => iso): SqlValue[] {
  return AUDIT_COLUMNS.map((column) => {
    const value = entry[column] ?? null;
    if (column === "occurredAt") return time(entry.occurredAt);
    if (JSON_COLUMNS.has(column)) return value === null ? null : JSON.stringify(value);
    return value as SqlValue;
  });
}

export const quoted = (name: string) => `"${name}"`;

/**
 * One multi-row `INSERT … VALUES (…), (…) ON CONFLICT ("id") DO NOTHING` for `rows` rows, with
 * PostgreSQL (`$1`, `$2`, …) or SQLite (`?`) placeholders; its parameters are the rows' auditRow
 * values one after the other.
 */
export function multiRowInsert(rows: number, placeholders: "pg" | "sqlite"): string {
  const width = AUDIT_COLUMNS.length;
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) {
    const params = AUDIT_COLUMNS.map((_, c) => (placeholders === "pg" ? `$${r * width + c + 1}` : "?"));
    tuples.push(`(${params.join(", ")})`);
  }
  return `INSERT INTO "AuditEntry" (${AUDIT_COLUMNS.map(quoted).join(", ")}) VALUES ${tuples.join(", ")} ON CONFLICT ("id") DO NOTHING`;
}
