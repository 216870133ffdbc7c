/**
 * The contenders of the peers case: ways a Node service gets audit rows into the same
 * "AuditEntry" table. Each has a producer (what a request handler calls, timed per hand-off) and,
 * for the queues, a consumer that runs in a process of its own and batch-inserts what it takes.
 * Every contender stamps the same events the same way (id, time) and inserts the same row shape.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEntry, type AuditEvent, type AuditWriter, createAuditWriter, stampEvent } from "@auditrail/audit-core";
import { createDatabase } from "@auditrail/db";
import { AUDIT_COLUMNS, auditRow, quoted } from "@auditrail/db/audit-rows";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { Queue, Worker } from "bullmq";
import pg from "pg";
import { PgBoss } from "pg-boss";

export const CONTENDERS = ["auditrail", "naiveBatcher", "bullmqAddBulk", "bullmqAdd", "pgInsert", "pgBoss", "prismaCreate"] as const;
export type ContenderName = (typeof CONTENDERS)[number];

export const isContender = (name: string): name is ContenderName => (CONTENDERS as readonly string[]).includes(name);

/** Contenders whose rows reach the table through a consumer process. */
export const HAS_CONSUMER: ReadonlySet<ContenderName> = new Set(["bullmqAdd", "bullmqAddBulk", "pgBoss"]);

/** Contenders that need Redis. */
export const NEEDS_REDIS: ReadonlySet<ContenderName> = new Set(["bullmqAdd", "bullmqAddBulk"]);

/** The action of every peers entry: rows are counted by it (auditrail adds chain checkpoint rows of its own). */
export const PEERS_ACTION = "bench.peers";

/** The Redis BullMQ uses (CI starts one there, as it does PostgreSQL). */
export const REDIS = { host: "127.0.0.1", port: 6379 } as const;

/** Whether something accepts connections at REDIS (within 2 s). */
export function redisReachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ ...REDIS, timeout: 2_000 });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Where one contender runs: its fresh database, its own queue name, Redis for BullMQ. */
export interface Place {
  /** The application's connection: audit rows are written through it. */
  readonly url: string;
  /**
   * Where a queue peer keeps its own tables (pg-boss creates its schema at start, which the
   * application's role may not: the database owner's connection).
   */
  readonly queueUrl: string;
  readonly queue: string;
  readonly redis: { readonly host: string; readonly port: number };
}

export interface Producer {
  /** What a request handler awaits to hand one event over. */
  handOff(event: AuditEvent): Promise<void>;
  /** Resolves once nothing handed off is still buffered in this process. */
  drain(): Promise<void>;
  /** Entries the producer spilled to disk (auditrail only; 0 for the others). */
  spilled(): number;
  close(): Promise<void>;
}

export interface Consumer {
  close(): Promise<void>;
}

/** Rows per multi-row INSERT in the batching consumers (21 columns × 1,000 stays under pg's 65,535 parameters). */
const INSERT_CHUNK = 1_000;
const pgInsertSql = new Map<number, string>();

/** One multi-row `INSERT … VALUES ($1, …), (…)` for `rows` rows, the rows' auditRow values as parameters. */
function multiRowInsert(rows: number): string {
  const width = AUDIT_COLUMNS.length;
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`(${AUDIT_COLUMNS.map((_, c) => `$${r * width + c + 1}`).join(", ")})`);
  return `INSERT INTO "AuditEntry" (${AUDIT_COLUMNS.map(quoted).join(", ")}) VALUES ${tuples.join(", ")}`;
}

async function insertEntries(pool: pg.Pool, entries: readonly AuditEntry[]): Promise<void> {
  for (let i = 0; i < entries.length; i += INSERT_CHUNK) {
    const chunk = entries.slice(i, i + INSERT_CHUNK);
    const sql = pgInsertSql.get(chunk.length) ?? multiRowInsert(chunk.length);
    pgInsertSql.set(chunk.length, sql);
    await pool.query(
      sql,
      chunk.flatMap((e) => auditRow(e)),
    );
  }
}

const stamp = (event: AuditEvent) => stampEvent(event, undefined);

export async function openProducer(name: ContenderName, place: Place, loops: number): Promise<Producer> {
  switch (name) {
    case "auditrail":
      return auditrailProducer(place);
    case "naiveBatcher":
      return naiveBatcher(place, 512, 200);
    case "pgInsert":
      return pgInsertProducer(place, loops);
    case "prismaCreate":
      return prismaProducer(place);
    case "bullmqAdd":
      return bullmqProducer(place, 1);
    case "bullmqAddBulk":
      return bullmqProducer(place, 1_000);
    case "pgBoss":
      return pgBossProducer(place);
  }
}

export async function openConsumer(name: ContenderName, place: Place): Promise<Consumer> {
  switch (name) {
    case "bullmqAdd":
    case "bullmqAddBulk":
      return bullmqConsumer(place);
    case "pgBoss":
      return pgBossConsumer(place);
    default:
      throw new Error(`${name} has no consumer process`);
  }
}

/** auditrail's async writer with its default options. */
async function auditrailProducer(place: Place): Promise<Producer> {
  const spoolDir = await mkdtemp(join(tmpdir(), "auditrail-peers-"));
  const writer: AuditWriter = await createAuditWriter({ sink: sqlSinkSpec({ url: place.url }), spoolDir });
  return {
    handOff: async (event) => {
      await writer.record(event);
    },
    drain: () => writer.flush(),
    spilled: () => writer.stats().spilled,
    close: async () => {
      await writer.close();
      await rm(spoolDir, { recursive: true, force: true });
    },
  };
}

/**
 * What an OpenTelemetry-style batch processor does: push to an array, and when it holds `size`
 * entries (or the oldest waited `delayMs`) insert them with one multi-row INSERT from the main
 * thread, one export at a time, without making the caller wait.
 */
function naiveBatcher(place: Place, size: number, delayMs: number): Producer {
  const pool = new pg.Pool({ connectionString: place.url, max: 1 });
  let buffer: AuditEntry[] = [];
  let exporting: Promise<void> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  let failure: unknown;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (buffer.length === 0) return;
    const batch = buffer;
    buffer = [];
    exporting = exporting
      .then(() => insertEntries(pool, batch))
      .catch((error: unknown) => {
        failure = error;
      });
  };
  return {
    handOff: async (event) => {
      buffer.push(stamp(event));
      if (buffer.length >= size) flush();
      else timer ??= setTimeout(flush, delayMs);
    },
    drain: async () => {
      flush();
      await exporting;
      if (failure !== undefined) throw failure;
    },
    spilled: () => 0,
    close: () => pool.end(),
  };
}

/** The plain in-request insert: one awaited INSERT per entry on a pg pool. */
function pgInsertProducer(place: Place, loops: number): Producer {
  const pool = new pg.Pool({ connectionString: place.url, max: loops });
  const sql = multiRowInsert(1);
  return {
    handOff: async (event) => {
      await pool.query(sql, auditRow(stamp(event)));
    },
    drain: async () => undefined,
    spilled: () => 0,
    close: () => pool.end(),
  };
}

/** Prisma's `create`, awaited, one entry per call. */
function prismaProducer(place: Place): Producer {
  const db = createDatabase(place.url);
  return {
    handOff: async (event) => {
      const { before, after, diff, metadata, ...e } = stamp(event);
      // A JSON column left out is stored as NULL (Prisma takes no plain null for a Json field).
      await db.prisma.auditEntry.create({
        data: {
          ...e,
          occurredAt: new Date(e.occurredAt),
          ...(before != null && { before }),
          ...(after != null && { after }),
          ...(diff != null && { diff }),
          ...(metadata != null && { metadata }),
        },
      });
    },
    drain: async () => undefined,
    spilled: () => 0,
    close: () => db.close(),
  };
}

const JOB_OPTIONS = { removeOnComplete: true, removeOnFail: 1_000 } as const;

/** BullMQ: `add` per entry (bulk 1), or entries gathered and sent with `addBulk` every `bulk`. */
function bullmqProducer(place: Place, bulk: number): Producer {
  const queue = new Queue<AuditEntry>(place.queue, { connection: { ...place.redis }, defaultJobOptions: JOB_OPTIONS });
  let pending: AuditEntry[] = [];
  const send = async () => {
    const jobs = pending.map((data) => ({ name: "audit", data }));
    pending = [];
    if (jobs.length > 0) await queue.addBulk(jobs);
  };
  return {
    handOff: async (event) => {
      if (bulk === 1) {
        await queue.add("audit", stamp(event));
        return;
      }
      pending.push(stamp(event));
      if (pending.length >= bulk) await send();
    },
    drain: send,
    spilled: () => 0,
    close: () => queue.close(),
  };
}

/**
 * A BullMQ Worker that batches: up to 1,000 jobs in progress, gathered into one multi-row INSERT
 * when 1,000 are waiting or 10 ms after the first; each job completes when its batch committed.
 */
function bullmqConsumer(place: Place): Consumer {
  const pool = new pg.Pool({ connectionString: place.url, max: 2 });
  const batch = new Gatherer(1_000, 10, (entries) => insertEntries(pool, entries));
  const worker = new Worker<AuditEntry>(place.queue, (job) => batch.add(job.data), {
    connection: { ...place.redis, maxRetriesPerRequest: null },
    concurrency: 1_000,
  });
  return {
    close: async () => {
      await worker.close();
      await pool.end();
      const queue = new Queue(place.queue, { connection: { ...place.redis } });
      await queue.obliterate({ force: true });
      await queue.close();
    },
  };
}

/** Entries gathered into batches; each add() settles when its batch was written. */
class Gatherer {
  private entries: AuditEntry[] = [];
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly size: number,
    private readonly delayMs: number,
    private readonly write: (entries: readonly AuditEntry[]) => Promise<void>,
  ) {}

  add(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.entries.push(entry);
      this.waiters.push({ resolve, reject });
      if (this.entries.length >= this.size) this.flush();
      else this.timer ??= setTimeout(() => this.flush(), this.delayMs);
    });
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const entries = this.entries;
    const waiters = this.waiters;
    this.entries = [];
    this.waiters = [];
    this.write(entries).then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (error: unknown) => {
        for (const w of waiters) w.reject(error);
      },
    );
  }
}

/** pg-boss: `send` per entry; the queue lives in the same PostgreSQL database. */
async function pgBossProducer(place: Place): Promise<Producer> {
  const boss = new PgBoss({ connectionString: place.queueUrl, supervise: false, schedule: false, migrate: false, max: 4 });
  boss.on("error", (error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  return {
    handOff: async (event) => {
      await boss.send(place.queue, stamp(event));
    },
    drain: async () => undefined,
    spilled: () => 0,
    close: () => boss.stop({ graceful: false }),
  };
}

/** pg-boss `work` with batches of 1,000, each batch one multi-row INSERT. Creates the schema and queue. */
async function pgBossConsumer(place: Place): Promise<Consumer> {
  const pool = new pg.Pool({ connectionString: place.url, max: 2 });
  const boss = new PgBoss({ connectionString: place.queueUrl, max: 4 });
  boss.on("error", (error) => console.error(`pg-boss: ${error.message}`));
  await boss.start();
  await boss.createQueue(place.queue);
  await boss.work<AuditEntry>(place.queue, { batchSize: 1_000, pollingIntervalSeconds: 0.5 }, async (jobs) => {
    await insertEntries(
      pool,
      jobs.map((j) => j.data),
    );
  });
  return {
    close: async () => {
      await boss.stop({ graceful: false });
      await pool.end();
    },
  };
}
