/**
 * Scale-out through JetStream (PostgreSQL): a real three-node cluster on 127.0.0.1 and an R3
 * stream. For 1 and then 2 ingest processes (each a child process running apps/ingest), `n`
 * entries are recorded as fast as the callers can on a writer whose sink is JetStream (the API
 * side), each record() timed alone; end to end = n / (time from the first record() until the
 * n-th row is in PostgreSQL). Compared with the direct writer and the COPY ceiling measured by the
 * throughput case in the same run. After each run the consumer's lag (pending + unacknowledged)
 * must be 0 and every entry must be stored (persisted = rows / n).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditReceipt, createAuditWriter } from "@auditrail/audit-core";
import { jetStreamSinkSpec } from "@auditrail/jetstream/sink";
import { NatsCluster } from "@auditrail/jetstream/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { summarize } from "../stats.ts";
import { type Target, patientUpdate, tagFor } from "../target.ts";

export interface JetStreamRun {
  readonly ingestProcesses: number;
  /** record() on the API side, each call timed alone (µs). */
  readonly enqueueP50Us: number;
  readonly enqueueP99Us: number;
  /** Entries acknowledged by the stream per second (record → flush). */
  readonly publishRowsPerSec: number;
  /** Entries per second from the first record() until the last row was in PostgreSQL. */
  readonly endToEndRowsPerSec: number;
  /** Consumer lag after the run (pending + unacknowledged): 0 when ingest caught up. */
  readonly lagAfter: number;
  readonly persisted: number;
}

export interface JetStreamResult {
  readonly entries: number;
  readonly replicas: number;
  readonly ingest1: JetStreamRun;
  readonly ingest2: JetStreamRun;
  readonly enqueueP99Us: number;
  /** End to end with 2 ingest processes / the direct writer (throughput case). */
  readonly ratioToDirect: number;
  /** End to end with 2 ingest processes / the COPY ceiling (throughput case). */
  readonly ratioToCeiling: number;
  /** 2 ingest processes / 1. */
  readonly scaleOut: number;
  readonly lagAfter: number;
  readonly persisted: number;
}

const INGEST_MAIN = fileURLToPath(import.meta.resolve("@auditrail/ingest/main"));

export async function jetstream(
  target: Target,
  n: number,
  direct: { rowsPerSec: number; ceilingRowsPerSec: number },
): Promise<JetStreamResult> {
  const cluster = await NatsCluster.start(3);
  const dir = await mkdtemp(join(tmpdir(), "auditrail-bench-js-"));
  try {
    const ingest1 = await run(target, cluster, dir, n, 1);
    const ingest2 = await run(target, cluster, dir, n, 2);
    return {
      entries: n,
      replicas: 3,
      ingest1,
      ingest2,
      enqueueP99Us: Math.max(ingest1.enqueueP99Us, ingest2.enqueueP99Us),
      ratioToDirect: ingest2.endToEndRowsPerSec / direct.rowsPerSec,
      ratioToCeiling: ingest2.endToEndRowsPerSec / direct.ceilingRowsPerSec,
      scaleOut: ingest2.endToEndRowsPerSec / ingest1.endToEndRowsPerSec,
      lagAfter: ingest1.lagAfter + ingest2.lagAfter,
      persisted: Math.min(ingest1.persisted, ingest2.persisted),
    };
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

async function run(target: Target, cluster: NatsCluster, dir: string, n: number, processes: number): Promise<JetStreamRun> {
  const name = `BENCH${processes}`;
  const stream = {
    name,
    subjects: { entries: `bench${processes}.entries`, deadLetters: `bench${processes}.dead` },
    replicas: 3 as const,
    maxBytes: 2 * 1024 ** 3,
  };
  const config = {
    servers: cluster.urls,
    databaseUrl: target.url,
    stream,
    consumer: { durable: "bench" },
    batchSize: 500,
    deadLetterDir: join(dir, `dead-${processes}`),
  };
  const children = Array.from({ length: processes }, () => startIngest(config));
  try {
    await Promise.all(children.map((c) => c.ready));
    const writer = await createAuditWriter({
      sink: jetStreamSinkSpec({ servers: cluster.urls, stream }),
      spoolDir: join(dir, `spool-${processes}`),
      maxQueueSize: n + 1_000,
      maxBatchSize: 500,
    });
    for (let i = 0; i < 1_000; i++) await writer.record(patientUpdate("bench.warmup"));
    await writer.flush();

    const tag = tagFor(`jetstream${processes}`);
    const samples = new Float64Array(n);
    const started = performance.now();
    for (let i = 0; i < n; i += 100) {
      const receipts: Promise<AuditReceipt>[] = [];
      for (let j = i; j < Math.min(n, i + 100); j++) {
        const event = patientUpdate(tag);
        const t0 = performance.now();
        receipts.push(writer.record(event));
        samples[j] = (performance.now() - t0) * 1_000;
      }
      await Promise.all(receipts);
    }
    await writer.flush();
    const published = performance.now() - started;
    await writer.close();
    let rows = await target.countRows(tag);
    // Every entry is acknowledged by the stream; wait (generously) for ingest to store them all.
    const deadline = Date.now() + 120_000;
    while (rows < n && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      rows = await target.countRows(tag);
    }
    const endToEnd = performance.now() - started;
    const us = summarize(samples);
    return {
      ingestProcesses: processes,
      enqueueP50Us: us.p50,
      enqueueP99Us: us.p99,
      publishRowsPerSec: n / (published / 1_000),
      endToEndRowsPerSec: n / (endToEnd / 1_000),
      lagAfter: await lag(cluster, name),
      persisted: rows / n,
    };
  } finally {
    await Promise.all(children.map((c) => c.stop()));
  }
}

async function lag(cluster: NatsCluster, stream: string): Promise<number> {
  const nc = await connect({ servers: cluster.urls });
  try {
    // The acks of the last batch may still be on their way: read again for up to 5 s while it is not 0.
    const jsm = await jetstreamManager(nc);
    let pending = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 50 && pending > 0; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, 100));
      const info = await jsm.consumers.info(stream, "bench");
      pending = info.num_pending + info.num_ack_pending;
    }
    return pending;
  } finally {
    await nc.close();
  }
}

function startIngest(config: object): { ready: Promise<void>; stop: () => Promise<void> } {
  const child: ChildProcess = spawn(process.execPath, [INGEST_MAIN, JSON.stringify(config)], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "info" },
  });
  let output = "";
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      output += chunk;
      if (output.includes('"msg":"ingesting"')) resolve();
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
    void exited.then(() => reject(new Error(`ingest exited before it was ready: ${output}`)));
  });
  return {
    ready,
    stop: async () => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
