/**
 * How an AuditEntry maps to the "AuditEntry" table, shared by both SQL sinks (the transactional
 * path writes through Prisma's createMany instead, see sink.ts) and the export check. The column
 * order here is the order of the SQLite INSERT, of PostgreSQL's COPY into its staging table and of
 * the INSERT … SELECT from it.
 */
import { type AuditEntry, type ChainLink, type ChainedEntry, canonicalJson } from "@auditrail/audit-core";

/** An entry as the writer hands it over: with its chain link (absent only in direct sink use). */
export type SinkEntry = AuditEntry & Partial<ChainLink>;

/** How a column holds its field: as text, a timestamp, a number or JSON. */
export type ColumnKind = "text" | "time" | "number" | "json";

/**
 * Every column of "AuditEntry" and how it holds its field, in the order of every INSERT: the one
 * column map storing, exporting and verifying derive theirs from. Typed as a record over the
 * entry's keys, so a field added to AuditEntrySchema (or the chain link) does not compile until
 * it has a column here.
 */
export const AUDIT_COLUMN_KINDS = {
  id: "text",
  occurredAt: "time",
  actorId: "text",
  actorRole: "text",
  action: "text",
  entity: "text",
  entityId: "text",
  outcome: "text",
  path: "text",
  durationMs: "number",
  before: "json",
  after: "json",
  diff: "json",
  metadata: "json",
  requestId: "text",
  ip: "text",
  userAgent: "text",
  streamId: "text",
  seq: "number",
  prevHash: "text",
  hash: "text",
} as const satisfies Record<keyof ChainedEntry, ColumnKind>;

export const AUDIT_COLUMNS = Object.keys(AUDIT_COLUMN_KINDS) as readonly (keyof ChainedEntry)[];

/** The columns holding JSON (text in SQLite, json in PostgreSQL: both keep the text stored). */
export const JSON_COLUMNS: ReadonlySet<string> = new Set(AUDIT_COLUMNS.filter((c) => AUDIT_COLUMN_KINDS[c] === "json"));

export type SqlValue = string | number | null;

/**
 * JSON columns as their canonical text (RFC 8785), the text the chain hash covers: both stores
 * keep that text as it is (SQLite's text, PostgreSQL's json), so verify hashes it without parsing
 * and re-serialising it (see trail-rows.ts).
 */
export const canonicalJsonText = (value: unknown): string | null => (value === null || value === undefined ? null : canonicalJson(value));

/** One row's values in AUDIT_COLUMNS order; JSON columns as canonicalJsonText, `occurredAt` via `time`. */
export function auditRow(entry: SinkEntry, time: (iso: string) => string = (iso) => iso): SqlValue[] {
  // Written out rather than mapped over AUDIT_COLUMNS: this runs once per row on the write path.
  return [
    entry.id,
    time(entry.occurredAt),
    entry.actorId ?? null,
    entry.actorRole ?? null,
    entry.action,
    entry.entity,
    entry.entityId ?? null,
    entry.outcome,
    entry.path ?? null,
    entry.durationMs ?? null,
    canonicalJsonText(entry.before),
    canonicalJsonText(entry.after),
    canonicalJsonText(entry.diff),
    canonicalJsonText(entry.metadata),
    entry.requestId ?? null,
    entry.ip ?? null,
    entry.userAgent ?? null,
    entry.streamId ?? null,
    entry.seq ?? null,
    entry.prevHash ?? null,
    entry.hash ?? null,
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

/** Entries as COPY text-format lines, one per entry, in AUDIT_COLUMNS order; JSON as canonical text. */
export function copyText(entries: readonly SinkEntry[]): string {
  let text = "";
  for (const entry of entries) text += `${auditRow(entry).map(copyField).join("\t")}\n`;
  return text;
}

export const quoted = (name: string) => `"${name}"`;
