/**
 * Reading the audit tables for verification and proofs, straight through the drivers (no Prisma:
 * a million rows through the ORM cost seconds and the whole result in memory). Rows come per
 * stream ordered by (seq, id), in pages, so memory stays bounded by a page or two whatever the
 * trail's size: on SQLite by keyset paging on the (streamId, seq) index; in verify's walk on
 * PostgreSQL by one COPY per stream, streamed (copy-text.ts parses it: the pg driver's per-row
 * parsing cost more than hashing the row). Values are turned back into exactly what the writer
 * hashed: ISO-8601 UTC milliseconds for occurredAt, parsed JSON for the JSON columns — except in
 * verify's walk, which keeps the JSON text the sink stored (its canonical text) to hash it as it
 * is, once each is proven one whole JSON value: on SQLite by json_valid, on PostgreSQL by the
 * column's type, json (which takes nothing else), read in the transaction the COPY runs in.
 */
import type { ChainedEntry } from "@auditrail/audit-core";
import Database from "better-sqlite3";
import pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { AUDIT_COLUMNS } from "./audit-rows.ts";
import { type CopyFields, CopyTextParser } from "./copy-text.ts";
import { sqlitePath } from "./sqlite-sink.ts";
import { providerOf } from "./url.ts";

type Json = ChainedEntry["before"];

/** The columns holding JSON. */
type JsonField = "before" | "after" | "diff" | "metadata";

/** A stored row: an entry with its chain link (streamId null for unchained legacy rows). */
export interface StoredRow extends Omit<ChainedEntry, "streamId" | "seq" | "prevHash" | "hash"> {
  readonly streamId: string | null;
  readonly seq: number | null;
  readonly prevHash: string | null;
  readonly hash: string | null;
}

/**
 * A row whose JSON columns are still their stored text (null for NULL): rows as verify's walk
 * reads them. `jsonValid` says each one is proven text holding ONE complete JSON value (RFC 8259,
 * nothing else: SQLite's json_valid, or PostgreSQL's json type) — what chainHashOfJsonText needs
 * before it may hash them as they are; `parsedRow` gives the StoredRow for anything else.
 */
export interface TextRow extends Omit<StoredRow, JsonField> {
  readonly before: unknown;
  readonly after: unknown;
  readonly diff: unknown;
  readonly metadata: unknown;
  readonly jsonValid: boolean;
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
  /**
   * Every row of `streamId`, ascending, for verify's walk: in pages of about `pageSize` rows (at
   * least that many, but the last), with their JSON text unparsed (TextRow). Read to its end
   * before anything else is asked of this TrailRows.
   */
  walk(streamId: string, pageSize: number): AsyncIterable<readonly TextRow[]>;
  /** Rows with the given ids. */
  byIds(ids: readonly string[]): Promise<StoredRow[]>;
  /** Rows of `streamId` with seq in [from, to], ascending. */
  range(streamId: string, from: number, to: number): Promise<StoredRow[]>;
  /** Rows that carry no chain link (at most `limit`) and how many there are. */
  unchained(limit: number): Promise<{ rows: StoredRow[]; count: number }>;
  /** Rows of the given action (purge entries: few). */
  withAction(action: string): Promise<StoredRow[]>;
  deadLetters(): Promise<StoredDeadLetter[]>;
  /**
   * The dead letters whose stored text contains `streamId` (every dead letter of that stream, and
   * possibly others that merely mention it: the caller checks each entry's streamId).
   */
  deadLettersMentioning(streamId: string): Promise<StoredDeadLetter[]>;
  /** The trails the seal table holds seals of. */
  sealTrails(): Promise<string[]>;
  /** Seals of `trail` numbered above `after`, ascending, at most `limit` (without their text). */
  sealIds(trail: string, after: number, limit: number): Promise<Omit<StoredSeal, "note">[]>;
  /** As sealIds, with each seal's signed text. */
  sealTexts(trail: string, after: number, limit: number): Promise<StoredSeal[]>;
  /** Seals of `trail` numbered below `before`, newest first, at most `limit`, with their text. */
  sealsNewestFirst(trail: string, before: number, limit: number): Promise<StoredSeal[]>;
  close(): Promise<void>;
}

const COLUMNS = AUDIT_COLUMNS;

/** Each column's position in a row read in COLUMNS order. */
const AT = Object.fromEntries(COLUMNS.map((c, i) => [c, i])) as Record<(typeof COLUMNS)[number], number>;

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

/**
 * A row from its values in COLUMNS order. Written out (typed StoredRow, so every field must be
 * there) rather than looped over COLUMNS: verify builds a million of these. `streamId`, when
 * given, is the stream a page was read for (the page does not read that column again).
 */
function toRow<J = Json>(
  r: RawRow,
  time: (v: unknown) => string,
  json: (v: unknown) => J,
  streamId?: string,
): Omit<StoredRow, JsonField> & Record<JsonField, J> {
  const seq = r[AT.seq] as number | string | null;
  return {
    id: r[AT.id] as string,
    occurredAt: time(r[AT.occurredAt]),
    actorId: r[AT.actorId] as string | null,
    actorRole: r[AT.actorRole] as string | null,
    action: r[AT.action] as string,
    entity: r[AT.entity] as string,
    entityId: r[AT.entityId] as string | null,
    outcome: r[AT.outcome] as string,
    path: r[AT.path] as string | null,
    durationMs: r[AT.durationMs] as number | null,
    before: json(r[AT.before]),
    after: json(r[AT.after]),
    diff: json(r[AT.diff]),
    metadata: json(r[AT.metadata]),
    requestId: r[AT.requestId] as string | null,
    ip: r[AT.ip] as string | null,
    userAgent: r[AT.userAgent] as string | null,
    streamId: streamId ?? (r[AT.streamId] as string | null),
    seq: seq === null ? null : Number(seq),
    prevHash: r[AT.prevHash] as string | null,
    hash: r[AT.hash] as string | null,
  };
}

const UTC_OFFSET_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;

const parseText = (v: unknown): unknown => (typeof v === "string" ? JSON.parse(v) : v);

/** A JSON column's text to its value (NULL to null); a SyntaxError for text that is no JSON. */
const jsonOfText = (v: unknown) => (v === null ? null : (JSON.parse(v as string) as Json));

/** `row` with its JSON columns parsed, as page gives it (written out: no spread per row). */
export function parsedRow(row: TextRow): StoredRow {
  return {
    id: row.id,
    occurredAt: row.occurredAt,
    actorId: row.actorId,
    actorRole: row.actorRole,
    action: row.action,
    entity: row.entity,
    entityId: row.entityId,
    outcome: row.outcome,
    path: row.path,
    durationMs: row.durationMs,
    before: jsonOfText(row.before),
    after: jsonOfText(row.after),
    diff: jsonOfText(row.diff),
    metadata: jsonOfText(row.metadata),
    requestId: row.requestId,
    ip: row.ip,
    userAgent: row.userAgent,
    streamId: row.streamId,
    seq: row.seq,
    prevHash: row.prevHash,
    hash: row.hash,
  };
}

const isTextOrNull = (v: unknown) => v === null || typeof v === "string";

/** A row read with its JSON columns as text; `proven`: the store proved each one whole JSON value. */
function textRow(r: RawRow, time: (v: unknown) => string, streamId: string, proven: boolean): TextRow {
  const row = toRow(r, time, (v) => v, streamId) as Omit<TextRow, "jsonValid"> & { jsonValid: boolean };
  row.jsonValid = proven && isTextOrNull(row.before) && isTextOrNull(row.after) && isTextOrNull(row.diff) && isTextOrNull(row.metadata);
  return row;
}

function sqliteRows(url: string): TrailRows {
  const db = new Database(sqlitePath(url), { readonly: true, fileMustExist: true });
  const cols = COLUMNS.map((c) => `"${c}"`).join(", ");
  // A page is one stream's: its rows' streamId is known, not read again (a string per row less).
  const pageCols = COLUMNS.map((c) => (c === "streamId" ? `NULL AS "streamId"` : `"${c}"`)).join(", ");
  const pageWhere = `FROM "AuditEntry" WHERE "streamId" = @stream AND "seq" >= @seq AND ("seq" > @seq OR "id" > @id) ORDER BY "seq", "id" LIMIT @limit`;
  const page = db.prepare(`SELECT ${pageCols} ${pageWhere}`);
  // One more column: 1 when every JSON column is NULL or valid JSON by itself (json_valid: strict
  // RFC 8259 in the SQLite better-sqlite3 bundles; trail-rows.test.ts holds it to that).
  const valid = ["before", "after", "diff", "metadata"].map((c) => `coalesce(json_valid("${c}"), 1)`).join(" AND ");
  const walkPage = db.prepare(`SELECT ${pageCols}, ${valid} AS "jsonValid" ${pageWhere}`);
  const JSON_VALID = COLUMNS.length;
  const range = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" = ? AND "seq" BETWEEN ? AND ? ORDER BY "seq", "id"`);
  const unchained = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" IS NULL LIMIT ?`);
  const countUnchained = db.prepare(`SELECT count(*) AS n FROM "AuditEntry" WHERE "streamId" IS NULL`);
  const withAction = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "action" = ?`);
  const byIds = db.prepare(`SELECT ${cols} FROM "AuditEntry" WHERE "id" IN (SELECT value FROM json_each(?))`);
  // Prisma keeps SQLite DateTime as ISO text with an offset ("…+00:00"; the sinks write the same),
  // or epoch ms when written raw: the common form is rewritten, anything else parsed — and text
  // that is no time is kept as it is (verify names it; it must not stop the walk).
  const time = (v: unknown) => {
    if (typeof v === "string" && UTC_OFFSET_TEXT.test(v)) return `${v.slice(0, 23)}Z`;
    const parsed = new Date(typeof v === "number" ? v : String(v));
    return Number.isNaN(parsed.getTime()) ? String(v) : parsed.toISOString();
  };
  const json = jsonOfText;
  const rows = (raw: unknown[]) => (raw as RawRow[]).map((r) => toRow(r, time, json));
  for (const statement of [page, walkPage, range, unchained, withAction, byIds]) statement.raw(true);
  return {
    streams: async () => (db.prepare(STREAMS_SQL).all() as { id: string }[]).map((r) => r.id),
    page: async (streamId, after, limit) =>
      (page.all({ stream: streamId, seq: after.seq, id: after.id, limit }) as RawRow[]).map((r) => toRow(r, time, json, streamId)),
    // Keyset pages (better-sqlite3 reads synchronously: nothing to overlap with the hashing).
    walk: async function* (streamId, pageSize) {
      for (let after = { seq: 0, id: "" }; ; ) {
        const page = (walkPage.all({ stream: streamId, seq: after.seq, id: after.id, limit: pageSize }) as RawRow[]).map((r) =>
          textRow(r, time, streamId, r[JSON_VALID] === 1),
        );
        const last = page.at(-1);
        if (last) yield page;
        if (!last || page.length < pageSize) return;
        after = { seq: last.seq as number, id: last.id };
      }
    },
    byIds: async (ids) => rows(byIds.all(JSON.stringify(ids))),
    range: async (streamId, from, to) => rows(range.all(streamId, from, to)),
    unchained: async (limit) => ({ rows: rows(unchained.all(limit)), count: (countUnchained.get() as { n: number }).n }),
    withAction: async (action) => rows(withAction.all(action)),
    deadLetters: async () =>
      (db.prepare(`SELECT "id", "entry" FROM "DeadLetter" ORDER BY "id"`).all() as { id: string; entry: string }[]).map((r) => ({
        id: r.id,
        entry: parseText(r.entry),
      })),
    deadLettersMentioning: async (streamId) =>
      (
        db.prepare(`SELECT "id", "entry" FROM "DeadLetter" WHERE instr("entry", ?) > 0 ORDER BY "id"`).all(streamId) as {
          id: string;
          entry: string;
        }[]
      ).map((r) => ({ id: r.id, entry: parseText(r.entry) })),
    sealTrails: async () => (db.prepare(`SELECT DISTINCT "trail" FROM "AuditSeal"`).all() as { trail: string }[]).map((r) => r.trail),
    sealIds: async (trail, after, limit) =>
      db
        .prepare(`SELECT "id", "trail", "number" FROM "AuditSeal" WHERE "trail" = ? AND "number" > ? ORDER BY "number" LIMIT ?`)
        .all(trail, after, limit) as Omit<StoredSeal, "note">[],
    sealTexts: async (trail, after, limit) =>
      db
        .prepare(`SELECT "id", "trail", "number", "note" FROM "AuditSeal" WHERE "trail" = ? AND "number" > ? ORDER BY "number" LIMIT ?`)
        .all(trail, after, limit) as StoredSeal[],
    sealsNewestFirst: async (trail, before, limit) =>
      db
        .prepare(
          `SELECT "id", "trail", "number", "note" FROM "AuditSeal" WHERE "trail" = ? AND "number" < ? ORDER BY "number" DESC LIMIT ?`,
        )
        .all(trail, before, limit) as StoredSeal[],
    close: async () => {
      db.close();
    },
  };
}

async function postgresRows(url: string): Promise<TrailRows> {
  const client = new pg.Client({ connectionString: url });
  // A dropped connection fails the call in progress (verify reports it); pg also emits it on the
  // client, which without a listener would crash the thread or process running verify.
  client.on("error", () => undefined);
  await client.connect();
  // timestamp(3) without zone holds UTC wall time: format it as the writer did, whatever the TZ.
  const column = (c: string) => (c === "occurredAt" ? `to_char("occurredAt", 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "occurredAt"` : `"${c}"`);
  const cols = COLUMNS.map(column).join(", ");
  const pageCols = COLUMNS.map((c) => (c === "streamId" ? `NULL AS "streamId"` : column(c))).join(", ");
  const time = (v: unknown) => v as string;
  const json = (v: unknown) => v as Json;
  const jsonCols = ["before", "after", "diff", "metadata"].map((c) => `"${c}"`).join(", ");
  const query = async (text: string, values: unknown[] = [], name?: string, streamId?: string) =>
    (await client.query<unknown[]>({ text, values, rowMode: "array", ...(name ? { name } : {}) })).rows.map((r) =>
      toRow(r, time, json, streamId),
    );
  // "seq" >= $2 first, so the (streamId, seq) index bounds the scan; the id breaks ties.
  const pageSql = `SELECT ${pageCols} FROM "AuditEntry" WHERE "streamId" = $1 AND "seq" >= $2 AND ("seq" > $2 OR "id" > $3) ORDER BY "seq", "id" LIMIT $4`;
  const page: TrailRows["page"] = (streamId, after, limit) =>
    query(pageSql, [streamId, after.seq, after.id, limit], "auditrail_verify_page", streamId);
  return {
    streams: async () => (await client.query<{ id: string }>(STREAMS_SQL)).rows.map((r) => r.id),
    page,
    // One COPY of the whole stream, streamed: the socket is read as the pages are taken (the
    // server fills it meanwhile), so memory holds a page and the stream's buffers. COPY gives every
    // value as its text output (JSON columns: json's stored text, or a jsonb or text column's), the
    // same text the query path's parsers start from; durationMs (float8) and seq (integer) are
    // parsed as pg parses them (parseFloat, an integer).
    walk: async function* (streamId, pageSize) {
      await client.query("BEGIN READ ONLY");
      // The stream in index order ((streamId, seq); id sorted within a seq: an incremental sort),
      // sent as it is read. Left to itself, the planner sorts the whole stream first (on disk:
      // ~150 MB for 250,000 rows) before the first row goes out.
      await client.query("SET LOCAL enable_sort = off");
      // Proven whole JSON values only when every JSON column is json (type oid 114), as the
      // migrations make them: a column altered to text or jsonb is parsed instead. The lock this
      // query takes is held to the COPY's end: no column changes type in between.
      const types = await client.query({ text: `SELECT ${jsonCols} FROM "AuditEntry" LIMIT 0`, rowMode: "array" });
      const proven = types.fields.every((f) => f.dataTypeID === pg.types.builtins.JSON);
      const copy = client.query(
        copyTo(
          `COPY (SELECT ${pageCols} FROM "AuditEntry" WHERE "streamId" = ${client.escapeLiteral(streamId)} ORDER BY "seq", "id") TO STDOUT`,
        ),
      );
      const parser = new CopyTextParser(COLUMNS.length);
      let page: TextRow[] = [];
      const take = (fields: CopyFields) => {
        const r: unknown[] = fields;
        const ms = fields[AT.durationMs];
        if (ms != null) r[AT.durationMs] = Number.parseFloat(ms);
        page.push(textRow(r, time, streamId, proven));
      };
      // Left early (an error), the COPY is still running: close() ends the connection.
      for await (const chunk of copy) {
        parser.push(chunk as Buffer, take);
        if (page.length >= pageSize) {
          yield page;
          page = [];
        }
      }
      parser.end();
      if (page.length > 0) yield page;
      await client.query("COMMIT");
    },
    byIds: (ids) => query(`SELECT ${cols} FROM "AuditEntry" WHERE "id" = ANY($1::text[])`, [ids]),
    range: (streamId, from, to) =>
      query(`SELECT ${cols} FROM "AuditEntry" WHERE "streamId" = $1 AND "seq" BETWEEN $2 AND $3 ORDER BY "seq", "id"`, [
        streamId,
        from,
        to,
      ]),
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
    deadLettersMentioning: async (streamId) =>
      (
        await client.query<{ id: string; entry: unknown }>(
          `SELECT "id", "entry" FROM "DeadLetter" WHERE strpos("entry", $1) > 0 ORDER BY "id"`,
          [streamId],
        )
      ).rows.map((r) => ({ id: r.id, entry: parseText(r.entry) })),
    sealTrails: async () => (await client.query<{ trail: string }>(`SELECT DISTINCT "trail" FROM "AuditSeal"`)).rows.map((r) => r.trail),
    sealIds: async (trail, after, limit) =>
      (
        await client.query<Omit<StoredSeal, "note">>(
          `SELECT "id", "trail", "number" FROM "AuditSeal" WHERE "trail" = $1 AND "number" > $2 ORDER BY "number" LIMIT $3`,
          [trail, after, limit],
        )
      ).rows,
    sealTexts: async (trail, after, limit) =>
      (
        await client.query<StoredSeal>(
          `SELECT "id", "trail", "number", "note" FROM "AuditSeal" WHERE "trail" = $1 AND "number" > $2 ORDER BY "number" LIMIT $3`,
          [trail, after, limit],
        )
      ).rows,
    sealsNewestFirst: async (trail, before, limit) =>
      (
        await client.query<StoredSeal>(
          `SELECT "id", "trail", "number", "note" FROM "AuditSeal" WHERE "trail" = $1 AND "number" < $2::bigint ORDER BY "number" DESC LIMIT $3`,
          [trail, before, limit],
        )
      ).rows,
    close: () => client.end(),
  };
}
