/**
 * The scale-out scenarios' harness: a three-node cluster (shared per file), a fresh PostgreSQL
 * database and stream per scenario, writer processes (the fault harness's writer child with the
 * JetStream sink), ingest processes (dist/main.js; each seals its own trail into the scenario's
 * anchor folder with the scenario's key), and the accounting every scenario prints.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { type KeyObject, generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DirectoryAnchor, parseSeal, sealHash } from "@auditrail/audit-core";
import { type DatabaseHandle, type TrailBreak, createDatabase, readAnchoredSeals, verifyAuditTrail } from "@auditrail/db";
import { type TestDatabase, createTestDatabase, testProviders } from "@auditrail/db/testing";
import { WriterChild, reconcile } from "@auditrail/fault-harness";
import { jetStreamSinkSpec } from "@auditrail/jetstream/sink";
import type { AuditStreamConfig } from "@auditrail/jetstream/stream";
import type { NatsCluster } from "@auditrail/jetstream/testing";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import type { IngestConfig } from "../src/config.ts";
import type { IngestStats } from "../src/ingest.ts";

const run = promisify(execFile);

export const hasPostgres = testProviders().includes("postgresql");

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function until(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  describe: () => string | Promise<string>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${await describe()}`);
    await sleep(100);
  }
}

const MAIN = fileURLToPath(new URL("../dist/main.js", import.meta.url));

/** One ingest process (dist/main.js) with its configuration as JSON; follows its pino log lines. */
export class IngestProcess {
  /** Batches it started writing (the "writing" debug line), and the stats it printed when stopped. */
  writing = 0;
  stats: IngestStats | undefined;
  /** The trail it seals (from its "ingesting" line). */
  trail: string | undefined;
  /** Killed with SIGKILL: what it committed since its last seal stays unsealed. */
  killedHard = false;
  log = "";
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private partial = "";
  private readonly waiters: Array<() => void> = [];

  constructor(
    config: IngestConfig,
    private readonly child: ChildProcess = spawn(process.execPath, [MAIN, JSON.stringify(config)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, LOG_LEVEL: "debug" },
    }),
  ) {
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const lines = (this.partial + chunk).split("\n");
      this.partial = lines.pop() ?? "";
      for (const text of lines) {
        if (text === "") continue;
        const line = JSON.parse(text) as { msg?: string; phase?: string; stats?: IngestStats; trail?: string };
        if (line.msg === "batch" && line.phase === "writing") this.writing++;
        else if (line.msg === "stopped") this.stats = line.stats;
        else if (line.msg === "ingesting") this.trail = line.trail;
        else if (line.msg !== "batch") this.log = `${this.log}${text}\n`.slice(-10_000);
      }
      for (const wake of this.waiters.splice(0)) wake();
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.log = (this.log + chunk).slice(-10_000);
    });
    this.exited = new Promise((resolve) => child.on("close", (code, signal) => resolve({ code, signal })));
  }

  /**
   * Resolves once it logged "ingesting" (started, sealer open, consuming). Faults injected before
   * that would test a process's start, not a running one's recovery; on a loaded machine a start
   * can take seconds.
   */
  async ready(timeoutMs = 60_000): Promise<void> {
    await until(
      () => this.trail !== undefined,
      timeoutMs,
      () => `ingest did not start: ${this.log}`,
    );
  }

  /** Resolves once it has started writing `batches` batches. */
  async writingBatch(batches: number, timeoutMs = 60_000): Promise<void> {
    await until(
      () => this.writing >= batches,
      timeoutMs,
      () => `ingest wrote ${this.writing} batches: ${this.log}`,
    );
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      if (signal === "SIGKILL") this.killedHard = true;
      this.child.kill(signal);
    }
    return this.exited;
  }
}

export interface Scenario {
  readonly db: TestDatabase;
  readonly handle: DatabaseHandle;
  readonly stream: AuditStreamConfig & { name: string };
  readonly dir: string;
  /** The seal signer's public key and the anchor folder every ingest process seals into. */
  readonly publicKey: KeyObject;
  readonly anchorDir: string;
  readonly writers: WriterChild[];
  readonly ingests: IngestProcess[];
  /** A writer process publishing at `ratePerSec` through the JetStream sink, with its own spool. */
  startWriter(options?: { ratePerSec?: number; maxQueueSize?: number }): Promise<WriterChild>;
  /** An ingest process on the scenario's stream; `databaseUrl` defaults to the scenario's database. */
  startIngest(overrides?: Partial<IngestConfig>): IngestProcess;
  close(): Promise<void>;
}

let streams = 0;

export async function scenario(cluster: NatsCluster): Promise<Scenario> {
  const db = await createTestDatabase("postgresql");
  const handle = createDatabase(db.url);
  const dir = await mkdtemp(join(tmpdir(), "auditrail-scaleout-"));
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const signingKeyFile = join(dir, "seal.pem");
  await writeFile(signingKeyFile, privateKey.export({ format: "pem", type: "pkcs8" }), { mode: 0o600 });
  const anchorDir = join(dir, "anchors");
  streams++;
  const stream = {
    name: `SCALEOUT${streams}`,
    subjects: { entries: `scaleout${streams}.entries`, deadLetters: `scaleout${streams}.dead` },
    replicas: 3 as const,
    maxBytes: 256 * 1024 ** 2,
  };
  const writers: WriterChild[] = [];
  const ingests: IngestProcess[] = [];
  let spools = 0;
  return {
    db,
    handle,
    stream,
    dir,
    publicKey,
    anchorDir,
    writers,
    ingests,
    async startWriter({ ratePerSec = 400, maxQueueSize = 2_000 } = {}) {
      const index = spools++; // taken before any await: writers started together get their own spool
      const writer = await WriterChild.start({
        writer: {
          sink: jetStreamSinkSpec({ servers: cluster.urls, stream, publishTimeoutMs: 2_000 }),
          spoolDir: join(dir, `spool-${index}`),
          maxWorkers: 2,
          maxQueueSize,
          maxBatchSize: 200,
          maxBatchWaitMs: 20,
          overflow: "spill",
          retry: { initialDelayMs: 50, maxDelayMs: 1_000, writeTimeoutMs: 3_000 },
        },
        load: { ratePerSec, concurrency: 8 },
        closeDeadlineMs: 60_000,
      });
      writers.push(writer);
      return writer;
    },
    startIngest(overrides = {}) {
      const ingest = new IngestProcess({
        servers: cluster.urls,
        databaseUrl: db.url,
        stream,
        consumer: { durable: "ingest", ackWaitMs: 3_000, maxAckPending: 2_000 },
        batchSize: 200,
        deadLetterDir: join(dir, `ingest-${ingests.length}`),
        retry: { initialDelayMs: 50, maxDelayMs: 1_000, writeTimeoutMs: 3_000 },
        // Each process its own trail (the default, ingest-<host>-<pid>), one key, one anchor folder.
        seal: { signingKeyFile, anchorDir, sealEveryMs: 500 },
        ...overrides,
      });
      ingests.push(ingest);
      return ingest;
    },
    async close() {
      await Promise.all(writers.map((w) => (w.child.exitCode === null ? w.kill("SIGKILL") : undefined)));
      await Promise.all(ingests.map((i) => i.kill("SIGKILL")));
      // The next scenario gets a cluster without this stream's raft groups.
      const nc = await connect({ servers: cluster.urls });
      await (await jetstreamManager(nc)).streams.delete(stream.name).catch(() => false);
      await nc.close();
      await handle.close();
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Consumer backlog: messages not yet delivered plus delivered and not acknowledged. */
export async function consumerLag(
  cluster: NatsCluster,
  stream: string,
  durable = "ingest",
): Promise<{ pending: number; ackPending: number }> {
  const nc = await connect({ servers: cluster.urls });
  try {
    const info = await (await jetstreamManager(nc)).consumers.info(stream, durable);
    return { pending: info.num_pending, ackPending: info.num_ack_pending };
  } finally {
    await nc.close();
  }
}

/** Stops every writer with SIGTERM (each drains within its deadline) and returns what they acknowledged. */
export async function stopWriters(
  s: Scenario,
): Promise<{ recorded: string[]; acknowledged: number; spilled: number; replayed: number; inSpool: number; closeMs: number }> {
  const started = Date.now();
  await Promise.all(s.writers.map((w) => w.kill("SIGTERM")));
  const recorded = s.writers.flatMap((w) => w.recorded);
  const reports = s.writers.map((w) => {
    if (!w.report) throw new Error(`a writer printed no close report: ${w.stderr}`);
    return w.report;
  });
  return {
    recorded,
    acknowledged: reports.reduce((n, r) => n + r.written, 0),
    spilled: reports.reduce((n, r) => n + r.spilled, 0),
    replayed: reports.reduce((n, r) => n + r.replayed, 0),
    inSpool: reports.reduce((n, r) => n + r.spoolBacklog, 0),
    closeMs: Date.now() - started,
  };
}

export interface ScaleOutAccounting {
  readonly recorded: number;
  readonly acknowledged: number;
  readonly written: number;
  readonly deadLettered: number;
  readonly lost: number;
  readonly duplicated: number;
  /** Verify (public key and anchored seals, grace 0) found no break but the unsealed tails of SIGKILLed ingest processes. */
  readonly chainOk: boolean;
  /** Ingest processes that ended other than stopped (exit 0 after SIGTERM) or SIGKILLed by the scenario: crashed. */
  readonly crashed: number;
  readonly extra: Readonly<Record<string, number | string>>;
}

/**
 * Waits until ingest stored every recorded entry (or the deadline), then matches recorded ids
 * against the tables; stops the ingest processes still running (SIGTERM: each seals what it wrote)
 * and verifies the trail with the public key and the anchored seals, grace 0.
 */
export async function account(
  s: Scenario,
  cluster: NatsCluster,
  writers: Awaited<ReturnType<typeof stopWriters>>,
  extra: Record<string, number | string> = {},
): Promise<ScaleOutAccounting> {
  extra.closeMs = writers.closeMs;
  const started = Date.now();
  const recordedSet = new Set(writers.recorded);
  const stored = async () => (await s.handle.prisma.auditEntry.findMany({ select: { id: true } })).map((r) => r.id);
  const dead = async () => (await s.handle.prisma.deadLetter.findMany({ select: { id: true } })).map((r) => r.id);
  await until(
    async () => (await stored()).length + (await dead()).length >= recordedSet.size,
    90_000,
    async () =>
      `ingest stored ${(await stored()).length} of ${recordedSet.size}; lag ${JSON.stringify(await consumerLag(cluster, s.stream.name))}`,
  ).catch(() => undefined); // what is missing is reported as lost below
  const r = reconcile({ recorded: writers.recorded, stored: await stored(), deadLettered: await dead() });
  if (r.lost.length > 0) await explainLoss(s, cluster, r.lost);
  const verify = await verifySealed(s);
  const exits = await Promise.all(s.ingests.map(async (i) => ({ hard: i.killedHard, ...(await i.exited) })));
  const crashed = exits.filter((e) => !e.hard && e.code !== 0).length;
  // A consumer the cluster lost has no lag to report: NaN, and the line says so.
  const lag = await consumerLag(cluster, s.stream.name).catch(() => ({ pending: Number.NaN, ackPending: Number.NaN }));
  return {
    recorded: writers.recorded.length,
    acknowledged: writers.acknowledged,
    written: r.written,
    deadLettered: r.deadLettered,
    lost: r.lost.length,
    duplicated: r.duplicates.length + r.unexpected.length,
    chainOk: verify.ok,
    crashed,
    extra: {
      ...extra,
      spilled: writers.spilled,
      inSpool: writers.inSpool,
      lag: lag.pending + lag.ackPending,
      chains: verify.streams,
      seals: verify.seals,
      unsealedOfKilled: verify.unsealedOfKilled,
      waitedMs: Date.now() - started,
    },
  };
}

/**
 * What a failed run needs to tell where lost entries went: each ingest process's log, the stream's
 * state (did it ever hold them?), and which files under the scenario's folder (spools, ingest
 * dead-letter folders) still name the first few.
 */
async function explainLoss(s: Scenario, cluster: NatsCluster, lost: readonly string[]): Promise<void> {
  for (const i of s.ingests) console.log(`ingest log (lost ${lost.length}):\n${i.log}`);
  const nc = await connect({ servers: cluster.urls });
  const why = (error: unknown) => (error instanceof Error ? error.message : String(error));
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(s.stream.name).catch((error: unknown) => why(error));
    console.log(`stream ${s.stream.name} at the end: ${typeof info === "string" ? `no info (${info})` : JSON.stringify(info.state)}`);
    const consumer = await jsm.consumers.info(s.stream.name, "ingest").catch((error: unknown) => why(error));
    console.log(
      typeof consumer === "string"
        ? `consumer ingest: no info (${consumer})`
        : `consumer ingest at the end: ${JSON.stringify({
            delivered: consumer.delivered,
            ack_floor: consumer.ack_floor,
            num_pending: consumer.num_pending,
            num_ack_pending: consumer.num_ack_pending,
            num_redelivered: consumer.num_redelivered,
            cluster: consumer.cluster,
          })}`,
    );
    // Which lost ids the stream still holds, and at which sequence (every message left, in order).
    if (typeof info !== "string" && info.state.messages > 0) {
      const lostSet = new Set(lost);
      const held: string[] = [];
      let seq = info.state.first_seq;
      for (let n = 0; n < info.state.messages; n++) {
        // The first message at or after seq (next_by_subj: 2.9 servers answer it; the client's type omits it).
        const next = { seq, next_by_subj: ">" };
        const m = await jsm.streams.getMessage(s.stream.name, next).catch(() => null);
        if (m === null) break;
        const id = m.header.get("Nats-Msg-Id");
        held.push(`${m.seq}:${lostSet.has(id) ? "lost" : "other"}:${id}`);
        seq = m.seq + 1;
      }
      const lostHeld = held.filter((h) => h.includes(":lost:")).length;
      console.log(`stream holds ${held.length} messages, ${lostHeld} of the ${lost.length} lost ids: ${held.slice(0, 20).join(" ")}`);
    }
  } finally {
    await nc.close();
  }
  for (const id of lost.slice(0, 5)) {
    const { stdout } = await run("grep", ["-rl", id, s.dir]).catch(() => ({ stdout: "" }));
    console.log(`lost ${id}: ${stdout.trim() || "in no file under the scenario's folder"}`);
  }
  console.log(`writer reports: ${JSON.stringify(s.writers.map((w) => w.report))}`);
}

/**
 * Stops the ingest processes still running (each seals at stop), then verifies with the public key
 * and the anchored seals, grace 0: every row must be under a seal. The one exception is a process
 * killed with SIGKILL, which could not seal its last interval: rows "unsealed" in a stream that no
 * cleanly stopped process sealed are counted (not breaks), and so is its newest seal missing from
 * the seal table (killed between anchoring and storing it); every other problem is a break.
 */
async function verifySealed(s: Scenario): Promise<{ ok: boolean; streams: number; seals: number; unsealedOfKilled: number }> {
  const live = s.ingests.filter((i) => !i.killedHard);
  await Promise.all(live.map((i) => i.kill("SIGTERM")));
  const sealedAtStop = new Set<string>();
  for (const i of live) {
    if (!i.trail) throw new Error(`an ingest process logged no trail: ${i.log}`);
    const latest = await (await DirectoryAnchor.open(s.anchorDir, i.trail)).latest();
    for (const head of latest?.seal.streams ?? []) sealedAtStop.add(head.streamId);
  }
  // A SIGKILLed process may die between anchoring a seal and storing it in the seal table: that
  // seal (its trail's newest) is then only in the anchor. The next process of the same trail
  // stores it again; here no process continues a killed one's trail.
  const anchoredOnlyOfKilled = new Set<string>();
  for (const i of s.ingests.filter((k) => k.killedHard && k.trail)) {
    const latest = await (await DirectoryAnchor.open(s.anchorDir, i.trail as string)).latest();
    if (latest) anchoredOnlyOfKilled.add(sealHash(latest));
  }
  const anchoredSeals = await readAnchoredSeals({ dir: s.anchorDir });
  const report = await verifyAuditTrail({ url: s.db.url, publicKey: s.publicKey, anchoredSeals, graceMs: 0, maxProblems: 1_000_000 });
  const excused = report.problems.filter(
    (p) =>
      (p.kind === "unsealed" && p.streamId !== null && !sealedAtStop.has(p.streamId)) ||
      (p.kind === "seal-missing" && p.id !== null && anchoredOnlyOfKilled.has(p.id)),
  );
  const breaks = report.problems.filter((p) => !excused.includes(p));
  if (breaks.length > 0) await explainBreaks(s, breaks);
  return {
    ok: report.problemCount === report.problems.length && breaks.length === 0,
    streams: report.streams,
    seals: anchoredSeals.length,
    unsealedOfKilled: excused.length,
  };
}

/**
 * What a failed verify needs to tell why: the breaks by kind and stream (count, first and last
 * seq, the first detail), each ingest process's trail, log and stats, and each trail's anchored
 * seals (number: every stream's size).
 */
async function explainBreaks(s: Scenario, breaks: readonly TrailBreak[]): Promise<void> {
  const groups = new Map<string, { count: number; first: number; last: number; detail: string }>();
  for (const p of breaks) {
    const key = `${p.kind} ${p.streamId ?? "-"}`;
    const seq = p.seq ?? 0;
    const g = groups.get(key);
    if (g) Object.assign(g, { count: g.count + 1, first: Math.min(g.first, seq), last: Math.max(g.last, seq) });
    else groups.set(key, { count: 1, first: seq, last: seq, detail: p.detail });
  }
  for (const [key, g] of groups) console.log(`verify break: ${key} ×${g.count} seq ${g.first}–${g.last}: ${g.detail}`);
  const seals = (await readAnchoredSeals({ dir: s.anchorDir })).map(parseSeal);
  for (const i of s.ingests) {
    const mine = seals.filter((x) => x.seal.trail === i.trail);
    const heads = mine.map((x) => `#${x.seal.number}:${x.seal.streams.map((h) => `${h.streamId.slice(-6)}=${h.size}`).join(",")}`);
    console.log(`ingest ${i.trail} stats ${JSON.stringify(i.stats)} seals ${heads.join(" ")}\n${i.log}`);
  }
}

/** Prints the scenario's accounting line (CI logs keep stdout). */
export function printScaleOut(name: string, a: ScaleOutAccounting): void {
  const extra = Object.entries(a.extra)
    .map(([k, v]) => ` ${k}=${v}`)
    .join("");
  console.log(
    `[jetstream:${name}] recorded=${a.recorded} acknowledged=${a.acknowledged} written=${a.written} ` +
      `dead-lettered=${a.deadLettered} lost=${a.lost} duplicated=${a.duplicated} chain=${a.chainOk ? "ok" : "BROKEN"} crashed=${a.crashed}${extra}`,
  );
}
