/**
 * Reading the audit tables for verification and proofs, straight through the drivers (no Prisma:
 * a million rows through the ORM cost seconds and the whole result in memory). Rows come per
 * stream in pages ordered by (seq, id) — keyset paging on the (streamId, seq) index — so memory
 * stays bounded by one page whatever the trail's size. Values are turned back into exactly what
 * the writer hashed: ISO-8601 UTC milliseconds for occurredAt, parsed JSON for the JSON columns.
 */
import type { ChainedEntry } from "@auditrail/audit-core";
import Database from "better-sqlite3";
import pg from "pg";
import { sqlitePath } from "./sqlite-sink.ts";
import { providerOf } from "./url.ts";

type Json = ChainedEntry["before"];

/** A stored row: an entry with its chain link (streamId null for unchained legacy rows). */
export interface StoredRow extends Omit<ChainedEntry, "streamId" | "seq" | "prevHash" | "hash"> {
  readonly streamId: string | null;
  readonly seq: number | null;
  readonly prevHash: string | null;
  readonly hash: string | null;
}

export interface StoredSeal {
  readonly id: string;
  readonly trail: string;
  readonly number: number;
  readonly note: string;
}

export interface StoredDeadLetter {
  readonly id: string;
  /** The entry as the worker linked it (parsed; the column may be JSON or text). */
  readonly entry: unknown;
}

export interface TrailRows {
  /** Every stream id that has rows, ascending (a loose index scan: one probe per stream). */
  streams(): Promise<string[]>;
  /** Rows of `streamId` after (seq, id), ascending, at most `limit`. */
  page(streamId: string, after: { seq: number; id: string }, limit: number): Promise<StoredRow[]>;
  /** Rows with the given ids. */
  byIds(ids: readonly string[]): Promise<StoredRow[]>;
  /** Rows of `streamId` with seq in [from, to], ascending. */
  range(streamId: string, from: number, to: number): Promise<StoredRow[]>;
  /** Rows that carry no chain link (at most `limit`) and how many there are. */
  unchained(limit: number): Promise<{ rows: StoredRow[]; count: number }>;
  /** Rows of the given action (purge entries: few). */
  withAction(action: string): Promise<StoredRow[]>;
  deadLetters(): Promise<StoredDeadLetter[]>;
  seals(): Promise<StoredSeal[]>;
  close(): Promise<void>;
}

const COLUMNS = [
  "id", "occurredAt", "actorId", "actorRole", "action", "entity", "entityId", "outcome", "path", "durationMs",
  "before", "after", "diff", "metadata", "requestId", "ip", "userAgent", "streamId", "seq", "prevHash", "hash",
] as const;

const STREAMS_SQL = `WITH RECURSIVE s(id) AS (
  SELECT min("streamId") FROM "AuditEntry"
  UNION ALL
  SELECT (SELECT min("streamId") FROM "AuditEntry" WHERE "streamId" > s.id) FROM s WHERE s.id IS NOT NULL
) SELECT id FROM s WHERE id IS NOT NULL`;

/** Opens `url` (SQLite read-only, or one PostgreSQL connection) for reading the trail. */
export async function openTrailRows(url: string): Promise<TrailRows> {
  return providerOf(url) === "sqlite" ? sqliteRows(url) : postgresRows(url);
}

/** A row as the drivers return it in array mode: values in COLUMNS order (no per-row key lookups). */
type RawRow = readonly unknown[];

function toRow(r: RawRow, time: (v: unknown) => string, json: (v: unknown) => Json): StoredRow {
  return {
    id: r[0] as string,
    occurredAt: time(r[1]),
    actorId: r[2] as string | null,
    actorRole: r[3] as string | null,
    action: r[4] as string,
    entity: r[5] as string,
    entityId: r[6] as string | null,
    outcome: r[7] as string,
    path: r[8] as string | null,
    durationMs: r[9] as number | null,
    before: json(r[10]),
    after: json(r[11]),
    diff: json(r[12]),
    metadata: json(r[13]),
    requestId: r[14] as string | null,
    ip: r[15] as string | null,
    userAgent: r[16] as string | null,
    streamId: r[17] as string | null,
    seq: r[18] === null ? null : Number(r[18]),
    prevHash: r[19] as string | null,
    hash: r[20] as string | null,
  };
}

const UTC_OFFSET_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;

const parseText = (v: unknown): unknown => (typeof v === "string" ? JSON.parse(v) : v);

function sqliteRows(url: string): TrailRows {
  const db = new Database(sqlitePath(url), { readonly: true, fileMustExist: true });
  const cols = COLUMNS.map((c) => `"${c}"`).join(", ");
  const page = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" = @stream AND "seq" >= @seq AND ("seq" > @seq OR "id" > @id) ORDER BY "seq", "id" LIMIT @limit`);
  const range = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" = ? AND "seq" BETWEEN ? AND ? ORDER BY "seq", "id"`);
  const unchained = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" IS NULL LIMIT ?`);
  const countUnchained = db.prepare(`SELECT count(*) AS n FROM "AuditEntry" WHERE "streamId" IS NULL`);
  const withAction = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "action" = ?`);
  const byIds = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "id" IN (SELECT value FROM json_each(?))`);
  // Prisma keeps SQLite DateTime as ISO text with an offset ("…+00:00"; the sinks write the same),
  // or epoch ms when written raw: the common form is rewritten, anything else parsed.
  const time = (v: unknown) =>
    typeof v === "string" && UTC_OFFSET_TEXT.test(v) ? `${v.slice(0, 23)}Z` : new Date(typeof v === "number" ? v : String(v)).toISOString();
  const json = (v: unknown) => (v === null ? null : (JSON.parse(v as string) as Json));
  const rows = (raw: unknown[]) => (raw as RawRow[]).map((r) => toRow(r, time, json));
  for (const statement of [page, range, unchained, withAction, byIds]) statement.raw(true);
  return {
    streams: async () => (db.prepare(STREAMS_SQL).all() as { id: string }[]).map((r) => r.id),
    page: async (streamId, after, limit) => rows(page.all({ stream: streamId, seq: after.seq, id: after.id, limit })),
    byIds: async (ids) => rows(byIds.all(JSON.stringify(ids))),
    range: async (streamId, from, to) => rows(range.all(streamId, from, to)),
    unchained: async (limit) => ({ rows: rows(unchained.all(limit)), count: (countUnchained.get() as { n: number }).n }),
    withAction: async (action) => rows(withAction.all(action)),
    deadLetters: async () =>
      (db.prepare(`SELECT "id", "entry" FROM "DeadLetter" ORDER BY "id"`).all() as { id: string; entry: string }[]).map((r) => ({
        id: r.id,
        entry: parseText(r.entry),
      })),
    seals: async () => db.prepare(`SELECT "id", "trail", "number", "note" FROM "AuditSeal" ORDER BY "trail", "number"`).all() as StoredSeal[],
    close: async () => {
      db.close();
    },
  };
}

async function postgresRows(url: string): Promise<TrailRows> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // timestamp(3) without zone holds UTC wall time: format it as the writer did, whatever the TZ.
  const cols = COLUMNS.map((c) => (c === "occurredAt" ? `to_char("occurredAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "occurredAt"` : `"${c}"`)).join(", ");
  const time = (v: unknown) => v as string;
  const json = (v: unknown) => v as Json;
  const query = async (text: string, values: unknown[] = [], name?: string) =>
    (await client.query<unknown[]>({ text, values, rowMode: "array", ...(name ? { name } : {}) })).rows.map((r) => toRow(r, time, json));
  return {
    streams: async () => (await client.query<{ id: string }>(STREAMS_SQL)).rows.map((r) => r.id),
    page: (streamId, after, limit) =>
      query(
        // "seq" >= $2 first, so the (streamId, seq) index bounds the scan; the id breaks ties.
        `SELECT ${cols} FROM "AuditEntry" WHERE "streamId" = $1 AND "seq" >= $2 AND ("seq" > $2 OR "id" > $3) ORDER BY "seq", "id" LIMIT $4`,
        [streamId, after.seq, after.id, limit],
        "auditrail_verify_page",
      ),
    byIds: (ids) => query(`SELECT ${cols} FROM "AuditEntry" WHERE "id" = ANY($1::text[])`, [ids]),
    range: (streamId, from, to) =>
      query(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" = $1 AND "seq" BETWEEN $2 AND $3 ORDER BY "seq", "id"`, [streamId, from, to]),
    unchained: async (limit) => ({
      rows: await query(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" IS NULL LIMIT $1`, [limit]),
      count: Number((await client.query<{ n: string }>(`SELECT count(*) AS n FROM "AuditEntry" WHERE "streamId" IS NULL`)).rows[0]?.n ?? 0),
    }),
    withAction: (action) => query(`SELECT ${cols} FROM "AuditEntry" WHERE "action" = $1`, [action]),
    deadLetters: async () =>
      (await client.query<{ id: string; entry: unknown }>(`SELECT "id", "entry" FROM "DeadLetter" ORDER BY "id"`)).rows.map((r) => ({
        id: r.id,
        entry: parseText(r.entry),
      })),
    seals: async () =>
      (await client.query<StoredSeal>(`SELECT "id", "trail", "number", "note" FROM "AuditSeal" ORDER BY "trail", "number"`)).rows,
    close: () => client.end(),
  };
}
