/**
 * The auditrail benchmarks: `turbo run bench -- --profile quick|full` (default full, or
 * BENCH_PROFILE). Every case runs on SQLite and, when TEST_DATABASE_URL names a PostgreSQL
 * server, on PostgreSQL (required under CI=true), each on a fresh database. Prints a line per case
 * as it goes, writes results/latest.json and latest.md, and in the quick profile fails (exit 1)
 * when a gate — always a ratio — fails.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import type { Provider } from "@auditrail/db";
import { testProviders } from "@auditrail/db/testing";
import { api } from "./cases/api.ts";
import { batchInsert } from "./cases/batch-insert.ts";
import { bulk } from "./cases/bulk.ts";
import { enqueue } from "./cases/enqueue.ts";
import { jetstream } from "./cases/jetstream.ts";
import type { MemoryResult } from "./cases/memory.ts";
import { nplus1 } from "./cases/nplus1.ts";
import { peers } from "./cases/peers.ts";
import { syncVsAsync } from "./cases/seed.ts";
import { throughput } from "./cases/throughput.ts";
import { verifyCase } from "./cases/verify.ts";
import { evaluateGates } from "./gates.ts";
import { PROFILES } from "./profiles.ts";
import { type RunReport, line, markdown } from "./report.ts";
import { openClinic } from "./clinic.ts";
import { openTarget } from "./target.ts";

const { values } = parseArgs({ options: { profile: { type: "string" } }, allowPositionals: true });
const profileName = values.profile ?? process.env.BENCH_PROFILE ?? "full";
if (profileName !== "quick" && profileName !== "full") {
  console.error(`Unknown profile "${profileName}": use --profile quick or --profile full.`);
  process.exit(2);
}
const profile = PROFILES[profileName];
const resultsDir = new URL("../results/", import.meta.url);
const run = promisify(execFile);

const report: RunReport = {
  profile: profile.name,
  node: process.version,
  startedAt: new Date().toISOString(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    memoryGb: Math.round(totalmem() / 2 ** 30),
    platform: `${process.platform}-${process.arch}`,
  },
  results: {},
};

console.log(`auditrail bench, ${profile.name} profile, node ${process.version}`);
for (const provider of testProviders()) {
  report.results[provider] = await runProvider(provider);
}

const gates = evaluateGates(report.results);
report.gates = gates;
await mkdir(resultsDir, { recursive: true });
await writeFile(new URL("latest.json", resultsDir), `${JSON.stringify(report, null, 2)}\n`);
await writeFile(new URL("latest.md", resultsDir), markdown(report));

console.log("\ngates:");
for (const g of gates)
  console.log(`  ${g.passed ? "pass" : "FAIL"}  ${g.provider.padEnd(10)} ${g.key} ${g.rule} (${g.value ?? "missing"})`);
console.log(`\nresults: apps/bench/results/latest.json, latest.md`);
const failed = gates.filter((g) => !g.passed);
if (failed.length > 0 && profile.name === "quick") {
  console.error(`${failed.length} gate(s) failed.`);
  process.exit(1);
}
process.exit(0);

/** The memory case runs in a fresh process: earlier cases' heaps would blur what it measures. */
async function memoryInChild(provider: Provider, entries: number): Promise<MemoryResult> {
  const script = fileURLToPath(new URL("./memory-run.js", import.meta.url));
  const { stdout } = await run(process.execPath, ["--expose-gc", script, provider, String(entries)], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as MemoryResult;
}

async function runProvider(provider: Provider): Promise<Record<string, unknown>> {
  const target = await openTarget(provider);
  const results: Record<string, unknown> = {};
  try {
    const seed50 = await syncVsAsync(target, 50);
    results.seed50 = seed50;
    console.log(
      line(provider, "seed50", {
        syncMs: seed50.sync.totalMs,
        asyncMs: seed50.async.totalMs,
        speedup: seed50.speedup,
        persisted: seed50.persisted,
      }),
    );

    const seed100 = await syncVsAsync(target, 100);
    results.seed100 = {
      ...seed100,
      async: { ...seed100.async, p99Ms: seed100.async.p99 },
      sync: { ...seed100.sync, p99Ms: seed100.sync.p99 },
    };
    console.log(
      line(provider, "seed100", {
        syncMeanMs: seed100.sync.mean,
        syncP99Ms: seed100.sync.p99,
        asyncMeanMs: seed100.async.mean,
        asyncP99Ms: seed100.async.p99,
        persisted: seed100.persisted,
      }),
    );

    const enq = await enqueue(target, profile.enqueue);
    results.enqueue = enq;
    console.log(
      line(provider, "enqueue", {
        entries: enq.entries,
        p50Us: enq.us.p50,
        p99Us: enq.p99Us,
        loopDelayP99Ms: enq.loopDelayP99Ms,
        persisted: enq.persisted,
      }),
    );

    const tp = await throughput(target, profile.throughput, profile.singleRow, profile.curve, (text) =>
      console.log(`${provider.padEnd(10)} ${text}`),
    );
    results.throughput = tp;
    console.log(
      line(provider, "throughput", {
        writer: tp.writerRowsPerSec,
        singleRow: tp.singleRowRowsPerSec,
        ceiling: tp.ceilingRowsPerSec,
        ratioToCeiling: tp.ratioToCeiling,
        persisted: tp.persisted,
      }),
    );

    if (provider === "postgresql") {
      const js = await jetstream(target, profile.jetstream, { rowsPerSec: tp.writerRowsPerSec, ceilingRowsPerSec: tp.ceilingRowsPerSec });
      results.jetstream = js;
      console.log(
        line(provider, "jetstream", {
          enqueueP99Us: js.enqueueP99Us,
          ingest1: js.ingest1.endToEndRowsPerSec,
          ingest2: js.ingest2.endToEndRowsPerSec,
          ratioToDirect: js.ratioToDirect,
          ratioToCeiling: js.ratioToCeiling,
          lagAfter: js.lagAfter,
          persisted: js.persisted,
        }),
      );
    }

    const bi = await batchInsert(target, 1_000, 5);
    results.batchInsert = bi;
    console.log(
      line(provider, "batchInsert", { batch: bi.batch, createManyMs: bi.createManyMs, sinkMs: bi.sinkMs, sinkSpeedup: bi.sinkSpeedup }),
    );

    const mem = await memoryInChild(provider, profile.memory);
    results.memory = mem;
    console.log(
      line(provider, "memory", {
        entries: mem.entries,
        rssGrowthMb: mem.rssGrowthMb,
        maxQueued: mem.maxQueuedSeen,
        bound: mem.maxQueueSize,
        rssAfterFlushMb: mem.rssAfterFlushMb,
        persisted: mem.persisted,
      }),
    );

    const v = await verifyCase(provider, profile.verify);
    results.verify = v;
    console.log(
      line(provider, "verify", {
        rows: v.rows,
        ok: v.ok && v.parallel.ok ? 1 : 0,
        rowsPerSec: v.rowsPerSec,
        rowsPerCpuSec: v.rowsPerCpuSec,
        rssMb: v.rssMb,
        parallelRowsPerSec: v.parallel.rowsPerSec,
        parallelRssMb: v.parallel.rssMb,
      }),
    );

    const clinic = await openClinic(target);
    try {
      const a = await api(target, profile.apiRequests);
      results.api = a;
      console.log(
        line(provider, "api", {
          unauditedP50Ms: a.unaudited.p50,
          asyncP50Ms: a.async.p50,
          syncP50Ms: a.sync.p50,
          asyncOverhead: a.asyncOverhead,
          syncOverhead: a.syncOverhead,
          persisted: a.persisted,
        }),
      );

      const n = await nplus1(clinic);
      results.nplus1 = n;
      console.log(
        line(provider, "nplus1", {
          page10: n.page10,
          page100: n.page100,
          auditList10: n.auditList10,
          auditList100: n.auditList100,
          import10: n.importRows10,
          import100: n.importRows100,
        }),
      );

      const b = await bulk(clinic, profile.bulk);
      results.bulk = b;
      console.log(line(provider, "bulk", { rows: b.rows, ms: b.ms, entriesWritten: b.entriesWritten, statements: b.statements }));

      if (provider === "postgresql") {
        const p = await peers(profile.peers, (text) => console.log(`${provider.padEnd(10)} ${text}`));
        results.peers = p;
      }

      results.persisted = {
        seed50: seed50.persisted,
        seed100: seed100.persisted,
        enqueue: enq.persisted,
        throughput: tp.persisted,
        memory: mem.persisted,
        api: a.persisted,
      };
    } finally {
      await clinic.close();
    }
    return results;
  } finally {
    await target.close();
  }
}
