/**
 * Sustained write rate. The writer: `n` entries recorded as fast as the callers can (the queue
 * stays full), rate = n / (time until flush() resolved). Two baselines on the same table, in the
 * same run, with the same rows the writer stores (every column, chain link included): single-row
 * inserts (one statement and commit per row, what a naive synchronous logger does) and the
 * ceiling, the fastest raw bulk path there is (PostgreSQL: one COPY FROM STDIN of all n rows;
 * SQLite: one transaction of prepared inserts). ratio = writer / ceiling, the median of 3 writer →
 * ceiling rounds measured back to back. With `curve`, the
 * writer is also run at each worker count × batch size given (options passed by the bench, to
 * show where its defaults sit).
 */
import { pipeline } from "node:stream/promises";
import { Readable } from "node:stream";
import { type AuditReceipt, type AuditWriterOptions, stampEvent } from "@auditrail/audit-core";
import { sqlitePath, sqliteTime } from "@auditrail/db";
import { AUDIT_COLUMNS, type SinkEntry, type SqlValue, auditRow, copyText, quoted } from "@auditrail/db/audit-rows";
import Database from "better-sqlite3";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { type Target, patientUpdate, tagFor } from "../target.ts";
import { median } from "../stats.ts";

export interface CurvePoint {
  readonly maxWorkers: number;
  readonly maxBatchSize: number;
  readonly rowsPerSec: number;
  readonly ratioToCeiling: number;
  readonly cpuUsPerRow: number;
  readonly persisted: number;
}

export interface ThroughputResult {
  readonly entries: number;
  readonly writerRowsPerSec: number;
  readonly singleRowRowsPerSec: number;
  readonly ceilingRowsPerSec: number;
  /** Median of the rounds' writer / ceiling ratios (writerRowsPerSec and ceilingRowsPerSec are medians too). */
  readonly ratioToCeiling: number;
  /** Each round's writer / ceiling, in order. */
  readonly ratioRounds: readonly number[];
  readonly ratioToSingleRow: number;
  readonly persisted: number;
  /**
   * CPU time of this process per row (µs; main thread and worker threads together, the database
   * server's excluded) for the writer and for the ceiling: what each row costs the application,
   * a figure that holds up better than rates on a shared, loaded machine.
   */
  readonly writerCpuUsPerRow: number;
  readonly ceilingCpuUsPerRow: number;
  /** Keyed `workers<W>.batch<B>`. */
  readonly curve: Record<string, CurvePoint>;
}

export interface CurveSpec {
  readonly entries: number;
  readonly maxWorkers: readonly number[];
  readonly maxBatchSize: readonly number[];
}

/** A stored row as the writer's sink writes it: stamped, with a chain link of realistic size. */
function entries(action: string, n: number): SinkEntry[] {
  return Array.from({ length: n }, (_, seq) => ({
    ...stampEvent(patientUpdate(action), undefined),
    streamId: "bench-ceiling",
    seq,
    prevHash: "0".repeat(64),
    hash: "f".repeat(64),
  }));
}

export async function throughput(
  target: Target,
  n: number,
  singleRows: number,
  curveSpec: CurveSpec,
  log: (line: string) => void,
): Promise<ThroughputResult> {
  // Writer and ceiling alternate ROUNDS times and the ratio is the median of the rounds' ratios:
  // load that comes and goes (another process keeping a core busy for a while) then lands on
  // both sides of most pairs instead of on one measurement.
  const rounds: { writer: { rate: number; cpuUsPerRow: number; persisted: number }; ceiling: number; ceilingCpuUsPerRow: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const writer = await writerThroughput(target, n, {});
    const ceilingCpu = process.cpuUsage();
    const rate = target.provider === "sqlite" ? sqliteCeiling(target.url, n) : await pgCeiling(target.url, n);
    rounds.push({ writer, ceiling: rate, ceilingCpuUsPerRow: cpuUsSince(ceilingCpu) / n });
  }
  const ratioRounds = rounds.map((r) => r.writer.rate / r.ceiling);
  const writerRate = {
    rate: median(rounds.map((r) => r.writer.rate)),
    cpuUsPerRow: median(rounds.map((r) => r.writer.cpuUsPerRow)),
    persisted: Math.min(...rounds.map((r) => r.writer.persisted)),
  };
  const ceiling = median(rounds.map((r) => r.ceiling));
  const ceilingCpuUsPerRow = median(rounds.map((r) => r.ceilingCpuUsPerRow));
  const single = target.provider === "sqlite" ? sqliteSingle(target.url, singleRows) : await pgSingle(target.url, singleRows);
  const curve: Record<string, CurvePoint> = {};
  for (const maxWorkers of curveSpec.maxWorkers) {
    for (const maxBatchSize of curveSpec.maxBatchSize) {
      const point = await writerThroughput(target, curveSpec.entries, { maxWorkers, maxBatchSize });
      curve[`workers${maxWorkers}.batch${maxBatchSize}`] = {
        maxWorkers,
        maxBatchSize,
        rowsPerSec: point.rate,
        ratioToCeiling: point.rate / ceiling,
        cpuUsPerRow: point.cpuUsPerRow,
        persisted: point.persisted,
      };
      log(
        `curve workers ${maxWorkers} batch ${maxBatchSize}: ${Math.round(point.rate)} rows/s, ratio ${(point.rate / ceiling).toFixed(3)}`,
      );
    }
  }
  return {
    entries: n,
    writerRowsPerSec: writerRate.rate,
    singleRowRowsPerSec: single,
    ceilingRowsPerSec: ceiling,
    ratioToCeiling: median(ratioRounds),
    ratioRounds,
    ratioToSingleRow: writerRate.rate / single,
    persisted: writerRate.persisted,
    writerCpuUsPerRow: writerRate.cpuUsPerRow,
    ceilingCpuUsPerRow,
    curve,
  };
}

/** Writer/ceiling pairs per run. */
const ROUNDS = 3;

type WriterKnobs = Pick<AuditWriterOptions, "maxWorkers" | "maxBatchSize">;

const cpuUsSince = (start: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(start);
  return used.user + used.system;
};

async function writerThroughput(
  target: Target,
  n: number,
  knobs: WriterKnobs,
): Promise<{ rate: number; cpuUsPerRow: number; persisted: number }> {
  const writer = await target.openWriter({ ...knobs, maxQueueSize: n + 1_000 });
  for (let i = 0; i < 1_000; i++) await writer.record(patientUpdate("bench.warmup"));
  await writer.flush();
  const tag = tagFor("throughput");
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < n; i += 1_000) {
    const receipts: Promise<AuditReceipt>[] = [];
    for (let j = i; j < Math.min(n, i + 1_000); j++) receipts.push(writer.record(patientUpdate(tag)));
    await Promise.all(receipts);
  }
  await writer.flush();
  const seconds = (performance.now() - started) / 1_000;
  const cpuUsPerRow = cpuUsSince(cpu) / n;
  const rows = await target.countRows(tag);
  await writer.close();
  return { rate: n / seconds, cpuUsPerRow, persisted: rows / n };
}

const quotedColumns = AUDIT_COLUMNS.map(quoted).join(", ");
const insertOne = `INSERT INTO "AuditEntry" (${quotedColumns}) VALUES (${AUDIT_COLUMNS.map(() => "?").join(", ")})`;
const sqliteRows = (action: string, n: number): SqlValue[][] => entries(action, n).map((e) => auditRow(e, sqliteTime));

function sqliteSingle(url: string, n: number): number {
  const db = new Database(sqlitePath(url), { timeout: 5_000 });
  const insert = db.prepare(insertOne);
  const rows = sqliteRows(tagFor("single"), n);
  const started = performance.now();
  for (const r of rows) insert.run(r);
  const rate = n / ((performance.now() - started) / 1_000);
  db.close();
  return rate;
}

function sqliteCeiling(url: string, n: number): number {
  const db = new Database(sqlitePath(url), { timeout: 5_000 });
  const insert = db.prepare(insertOne);
  const all = db.transaction((rows: SqlValue[][]) => {
    for (const r of rows) insert.run(r);
  });
  const rows = sqliteRows(tagFor("ceiling"), n);
  const started = performance.now();
  all(rows);
  const rate = n / ((performance.now() - started) / 1_000);
  db.close();
  return rate;
}

async function pgSingle(url: string, n: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const sql = `INSERT INTO "AuditEntry" (${quotedColumns}) VALUES (${AUDIT_COLUMNS.map((_, i) => `$${i + 1}`).join(", ")})`;
  const rows = entries(tagFor("single"), n).map((e) => auditRow(e));
  const started = performance.now();
  for (const r of rows) await client.query(sql, r);
  const rate = n / ((performance.now() - started) / 1_000);
  await client.end();
  return rate;
}

async function pgCeiling(url: string, n: number): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const all = entries(tagFor("ceiling"), n);
  const chunks: string[] = [];
  for (let i = 0; i < n; i += 1_000) chunks.push(copyText(all.slice(i, i + 1_000)));
  const started = performance.now();
  const copy = client.query(copyFrom(`COPY "AuditEntry" (${quotedColumns}) FROM STDIN`));
  await pipeline(Readable.from(chunks), copy);
  const rate = n / ((performance.now() - started) / 1_000);
  await client.end();
  return rate;
}
