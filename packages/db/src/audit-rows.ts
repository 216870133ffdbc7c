/**
 * How an AuditEntry maps to the "AuditEntry" table, shared by both SQL sinks (the transactional
 * path writes through Prisma's createMany instead, see sink.ts) and the export check. The column
 * order here is the order of the SQLite INSERT, of PostgreSQL's COPY into its staging table and of
 * the INSERT … SELECT from it.
 */
import type { AuditEntry, ChainLink } from "@auditrail/audit-core";

/** An entry as the writer hands it over: with its chain link (absent only in direct sink use). */
export type SinkEntry = AuditEntry & Partial<ChainLink>;

export const AUDIT_COLUMNS = [
  "id", "occurredAt", "actorId", "actorRole", "action", "entity", "entityId", "outcome", "path",
  "durationMs", "before", "after", "diff", "metadata", "requestId", "ip", "userAgent",
  "streamId", "seq", "prevHash", "hash",
] as const satisfies readonly (keyof SinkEntry)[];

export type SqlValue = string | number | null;

const json = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));

/** One row's values in AUDIT_COLUMNS order; JSON columns serialised, `occurredAt` via `time`. */
export function auditRow(entry: SinkEntry, time: (iso: string) => string = (iso) => iso): SqlValue[] {
  // Written out rather than mapped over AUDIT_COLUMNS: this runs once per row on the write path.
  return [
    entry.id, time(entry.occurredAt), entry.actorId ?? null, entry.actorRole ?? null, entry.action,
    entry.entity, entry.entityId ?? null, entry.outcome, entry.path ?? null, entry.durationMs ?? null,
    json(entry.before), json(entry.after), json(entry.diff), json(entry.metadata), entry.requestId ?? null,
    entry.ip ?? null, entry.userAgent ?? null, entry.streamId ?? null, entry.seq ?? null,
    entry.prevHash ?? null, entry.hash ?? null,
  ];
}

const COPY_ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };
const COPY_SPECIAL = /[\\\t\n\r]/;

/** A value in PostgreSQL's COPY text format: NULL is `\N`; backslash, tab, newline and CR escaped. */
export function copyField(value: SqlValue): string {
  if (value === null) return "\\N";
  if (typeof value === "number") return String(value);
  // Most fields need no escape: test first, and only then build a new string.
  return COPY_SPECIAL.test(value) ? value.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c] as string) : value;
}

/** Entries as COPY text-format lines, one per entry, in AUDIT_COLUMNS order. */
export function copyText(entries: readonly SinkEntry[]): string {
  let text = "";
  for (const entry of entries) text += `${auditRow(entry).map(copyField).join("\t")}\n`;
  return text;
}

export const quoted = (name: string) => `"${name}"`;
