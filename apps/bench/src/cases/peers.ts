/**
 * auditrail against what a Node team already runs, on PostgreSQL: each contender alone, on a
 * fresh database, `n` audit entries of the same shape into the same "AuditEntry" table. The
 * producer runs in a fresh process (one request loop, then 10 concurrent loops, each hand-off
 * awaited and followed by setImmediate); a queue's consumer runs in another, its RSS and CPU
 * reported apart. End-to-end rows/s runs from the first hand-off until COUNT(*) finds every row
 * of the case's action (polled every 20 ms; auditrail's own chain checkpoint rows do not count).
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "@auditrail/db/testing";
import pg from "pg";
import { CONTENDERS, type ContenderName, HAS_CONSUMER, NEEDS_REDIS, PEERS_ACTION, REDIS, redisReachable } from "../peers/contenders.ts";
import type { ConsumerMessage, ProducerDone, ProducerMessage, Stop } from "../peers/messages.ts";

export interface PeerRun {
  readonly entries: number;
  readonly loops: number;
  readonly producerP50Us: number;
  readonly producerP99Us: number;
  readonly loopDelayP99Ms: number;
  readonly rowsPerSec: number;
  /** Rows found / entries handed off. */
  readonly persisted: number;
  /** Peak RSS of the producer process (for auditrail this includes its worker threads). */
  readonly rssMb: number;
  readonly cpuS: number;
  /** Peak RSS and CPU of the consumer process, for contenders that have one. */
  readonly consumerRssMb?: number;
  readonly consumerCpuS?: number;
  /** Entries auditrail spilled to disk because its queue was full. */
  readonly spilled: number;
}

export type PeerResult = PeerRun & { readonly loops10: PeerRun };

const script = fileURLToPath(new URL("../peers-run.js", import.meta.url));
const STOP: Stop = { type: "stop" };

export async function peers(
  n: number,
  log: (line: string) => void,
  contenders: readonly ContenderName[] = CONTENDERS,
): Promise<Partial<Record<ContenderName, PeerResult>>> {
  const redis = await redisReachable();
  if (!redis && process.env.CI === "true")
    throw new Error(`CI=true but Redis is not reachable on ${REDIS.host}:${REDIS.port}: the BullMQ peers must not be skipped under CI.`);
  const results: Partial<Record<ContenderName, PeerResult>> = {};
  for (const name of contenders) {
    if (NEEDS_REDIS.has(name) && !redis) {
      log(`peers: ${name} skipped, no Redis on ${REDIS.host}:${REDIS.port}`);
      continue;
    }
    const one = await runContender(name, n, 1);
    log(`peers ${name}: ${describe(one)}`);
    const ten = await runContender(name, n, 10);
    log(`peers ${name} ×10 loops: ${describe(ten)}`);
    results[name] = { ...one, loops10: ten };
  }
  return results;
}

function describe(r: PeerRun): string {
  const f = (v: number) => Number(v.toPrecision(3));
  return `p50 ${f(r.producerP50Us)} µs  p99 ${f(r.producerP99Us)} µs  loop p99 ${f(r.loopDelayP99Ms)} ms  ${Math.round(r.rowsPerSec)} rows/s  persisted ${r.persisted}  rss ${f(r.rssMb)} MB`;
}

async function runContender(name: ContenderName, n: number, loops: number): Promise<PeerRun> {
  const database = await createTestDatabase("postgresql");
  const queue = `peers-${name}-${loops}-${Date.now().toString(36)}`;
  const children: ChildProcess[] = [];
  try {
    let consumer: ChildProcess | undefined;
    if (HAS_CONSUMER.has(name)) {
      consumer = spawn(["consumer", name, database.url, database.ownerUrl, queue], children);
      await nextMessage<ConsumerMessage>(consumer, "ready");
    }
    const producer = spawn(["producer", name, database.url, database.ownerUrl, queue, String(n), String(loops)], children);
    const done = await nextMessage<ProducerDone>(producer, "done");
    const { rows, at } = await awaitRows(database.url, n, done);
    const producerStopped = nextMessage<ProducerMessage>(producer, "stopped");
    producer.send(STOP);
    await producerStopped;
    let consumerFigures: { consumerRssMb: number; consumerCpuS: number } | undefined;
    if (consumer) {
      const stopped = nextMessage<Extract<ConsumerMessage, { type: "stopped" }>>(consumer, "stopped");
      consumer.send(STOP);
      const { rssMb, cpuS } = await stopped;
      consumerFigures = { consumerRssMb: rssMb, consumerCpuS: cpuS };
    }
    await Promise.all(children.map((c) => (c.exitCode === null ? once(c, "exit") : undefined)));
    return {
      entries: n,
      loops,
      producerP50Us: done.producerP50Us,
      producerP99Us: done.producerP99Us,
      loopDelayP99Ms: done.loopDelayP99Ms,
      rowsPerSec: rows / ((at - done.firstHandOffAt) / 1_000),
      persisted: rows / n,
      rssMb: done.rssMb,
      cpuS: done.cpuS,
      ...consumerFigures,
      spilled: done.spilled,
    };
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
    await database.drop();
  }
}

function spawn(args: string[], children: ChildProcess[]): ChildProcess {
  const child = fork(script, args, { execArgv: [], stdio: ["ignore", "inherit", "inherit", "ipc"] });
  children.push(child);
  return child;
}

/** The child's next message of `type`; rejects if the child exits first. */
function nextMessage<M extends { type: string }>(child: ChildProcess, type: M["type"]): Promise<M> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: M) => {
      if (m.type !== type) return;
      cleanup();
      resolve(m);
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`peers child ${child.spawnargs.slice(-6).join(" ")} exited (${code}) before "${type}"`));
    };
    const cleanup = () => {
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    child.on("message", onMessage);
    child.on("exit", onExit);
  });
}

/**
 * Polls COUNT(*) every 20 ms until `n` rows are there, and returns when (epoch ms). Gives up after
 * a deadline generous for the slowest contender (2 minutes plus 5 ms a row), returning what it found.
 */
async function awaitRows(url: string, n: number, done: ProducerDone): Promise<{ rows: number; at: number }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const deadline = done.firstHandOffAt + 120_000 + 5 * n;
    for (;;) {
      const { rows } = await client.query<{ n: string }>(`SELECT count(*) AS n FROM "AuditEntry" WHERE "action" = $1`, [PEERS_ACTION]);
      const at = performance.timeOrigin + performance.now();
      const count = Number(rows[0]?.n ?? 0);
      if (count >= n || at > deadline) return { rows: count, at };
      await sleep(20);
    }
  } finally {
    await client.end();
  }
}
