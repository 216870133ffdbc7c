/**
 * Sustained write rate. The writer: `n` entries recorded as fast as the callers can (the queue
 * stays full), rate = n / (time until flush() resolved). Two baselines on the same table, in the
 * same run: single-row inserts (one statement and commit per row, what a naive synchronous
 * logger does) and the ceiling, the fastest raw bulk path there is (PostgreSQL COPY FROM STDIN;
 * SQLite one transaction of prepared inserts). ratio = writer / ceiling.
 */
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { type AuditReceipt, uuidv7 } from "@auditrail/audit-core";
import { sqlitePath } from "@auditrail/db";
import Database from "better-sqlite3";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { type Target, patientUpdate, tagFor } from "../target.ts";

export interface ThroughputResult {
  readonly entries: number;
  readonly writerRowsPerSec: number;
  readonly singleRowRowsPerSec: number;
  readonly ceilingRowsPerSec: number;
  readonly ratioToCeiling: number;
  readonly ratioToSingleRow: number;
  readonly persisted: number;
}

const COLUMNS = ["id", "occurredAt", "actorId", "actorRole", "action", "entity", "entityId", "outcome", "path", "durationMs", "before", "after", "diff", "requestId", "ip", "userAgent"];
type Row = (string | number | null)[];

function row(action: string): Row {
  const e = patientUpdate(action);
  return [
    uuidv7(), new Date().toISOString(), e.actor?.id ?? null, e.actor?.role ?? null, e.action, e.entity,
    e.entityId ?? null, "ok", e.path ?? null, e.durationMs ?? null, JSON.stringify(e.before),
    JSON.stringify(e.after), JSON.stringify(e.diff), e.requestId ?? null, e.ip ?? null, e.userAgent ?? null,
  ];
}

export async function throughput(target: Target, n: number, singleRows: number): Promise<ThroughputResult> {
  const writerRate = await writerThroughput(target, n);
  const single = target.provider === "sqlite" ? sqliteSingle(target.url, singleRows) : await pgSingle(target.url, singleRows);
  const ceiling = target.provider === "sqlite" ? sqliteCeiling(target.url, n) : await pgCeiling(target.url, n);
  return {
    entries: n,
    writerRowsPerSec: writerRate.rate,
    singleRowRowsPerSec: single,
    ceilingRowsPerSec: ceiling,
    ratioToCeiling: writerRate.rate / ceiling,
    ratioToSingleRow: writerRate.rate / single,
    persisted: writerRate.persisted,
  };
}

async function writerThroughput(target: Target, n: number): Promise<{ rate: number; persisted: number }> {
  const writer = await target.openWriter({ maxQueueSize: n + 1_000 });
  for (let i = 0; i < 1_000; i++) await writer.record(patientUpdate("bench.warmup"));
  await writer.flush();
  const tag = tagFor("throughput");
  const started = performance.now();
  for (let i = 0; i < n; i += 1_000) {
    const receipts: Promise<AuditReceipt>[] = [];
    for (let j = i; j < Math.min(n, i + 1_000); j++) receipts.push(writer.record(patientUpdate(tag)));
    await Promise.all(receipts);
  }
  await writer.flush();
  const seconds = (performance.now() - started) / 1_000;
  const rows = await target.countRows(tag);
  await writer.close();
  return { rate: n / seconds, persisted: rows / n };
}

const placeholders = COLUMNS.map(() => "?").join(", ");
const quotedColumns = COLUMNS.map((c) => `"${c}"`).join(", ");

function sqliteSingle(url: string, n: number): number {
  const db = new Database(sqlitePath(url), { timeout: 5_000 });
  const insert = db.prepare(`INSERT INTO "AuditEntry" (${quotedColumns}) VALUES (${placeholders})`);
  const tag = tagFor("single");
  const rows = Array.from({ length: n }, () => row(tag));
  const started = performance.now();
  for (const r of rows) insert.run(r);
  const rate = n / ((performance.now() - started) / 1_000);
  db.close();
  return rate;
}

function sqliteCeiling(url: string, n: number): number {
  const db = new Database(sqlitePath(url), { timeout: 5_000 });
  const insert = db.prepare(`INSERT INTO "AuditEntry" (${quotedColumns}) VALUES (${placeholders})`);
  const all = db.transaction((rows: Row[]) => {
    for (const r of rows) insert.run(r);
  });
  const tag = tagFor("ceiling");
  const rows = Array.from({ length: n }, () => row(tag));
  const started = performance.now();
  all(rows);
  const rate = n / ((performance.now() - started) / 1_000);
  db.close();
  return rate;
}

async function pgSingle(url: string, n: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const params = COLUMNS.map((_, i) => `$${i + 1}`).join(", ");
  const sql = `INSERT INTO "AuditEntry" (${quotedColumns}) VALUES (${params})`;
  const tag = tagFor("single");
  const rows = Array.from({ length: n }, () => row(tag));
  const started = performance.now();
  for (const r of rows) await client.query(sql, r);
  const rate = n / ((performance.now() - started) / 1_000);
  await client.end();
  return rate;
}

/** CSV field: NULL stays unquoted-empty; anything else quoted with doubled quotes. */
const csv = (v: string | number | null) => (v === null ? "" : `"${String(v).replaceAll('"', '""')}"`);

async function pgCeiling(url: string, n: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const tag = tagFor("ceiling");
  const lines = Array.from({ length: n }, () => `${row(tag).map(csv).join(",")}\n`);
  const started = performance.now();
  const copy = client.query(copyFrom(`COPY "AuditEntry" (${quotedColumns}) FROM STDIN WITH (FORMAT csv)`));
  await pipeline(Readable.from(chunk(lines, 1_000)), copy);
  const rate = n / ((performance.now() - started) / 1_000);
  await client.end();
  return rate;
}

function* chunk(lines: string[], size: number): Generator<string> {
  for (let i = 0; i < lines.length; i += size) yield lines.slice(i, i + size).join("");
}
