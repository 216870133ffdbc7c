/**
 * The origin's "API performance with and without audit": the same tRPC mutation (record.amend: a
 * dental-record amendment, read-modify-write in a transaction) over HTTP with keep-alive, from a
 * separate load process, with auditing off, async, sync and transactional. Modes alternate in
 * rounds so drift on a shared machine hits all of them alike. Reports p50/p95/p99 per mode and
 * each mode's p50 relative to unaudited.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { AuditPluginMode } from "@auditrail/audit-core/trpc";
import type { Clinic } from "../clinic.ts";
import { type Summary, summarize } from "../stats.ts";

const run = promisify(execFile);
const LOAD = fileURLToPath(new URL("../load.js", import.meta.url));
const MODES = ["off", "async", "sync", "transactional"] as const satisfies readonly (AuditPluginMode | "off")[];
const ROUNDS = 3;

export interface ApiResult {
  readonly requestsPerMode: number;
  readonly unaudited: Summary;
  readonly async: Summary;
  readonly sync: Summary;
  readonly transactional: Summary;
  /** p50 async / p50 unaudited. */
  readonly asyncOverhead: number;
  readonly syncOverhead: number;
  readonly transactionalOverhead: number;
  /** Audit entries found for the audited calls / audited calls made. */
  readonly persisted: number;
}

export async function api(clinic: Clinic, requests: number): Promise<ApiResult> {
  const { token, client } = await clinic.login("dentist");
  const patients = await client.patient.list.query({ limit: 5 });
  const records = [];
  for (let i = 0; i < 20; i++) {
    const patient = patients.items[i % patients.items.length];
    if (!patient) throw new Error("the seed has no patients");
    records.push(await client.record.create.mutate({ patientId: patient.id, toothNumber: (i % 32) + 1, procedureCode: "D1110", notes: "prophylaxis" }));
  }
  const bodies = records.map((r, i) => ({ id: r.id, reason: "bench: corrected notes", notes: `amended ${i}` }));
  const before = await clinic.prisma.auditEntry.count({ where: { action: "record.amend" } });

  const latencies = new Map<string, number[]>(MODES.map((m) => [m, []]));
  const perRound = Math.ceil(requests / ROUNDS);
  const warmup = 30;
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of MODES) {
      clinic.setMode(mode);
      const { stdout } = await run(process.execPath, [LOAD, clinic.base, token, "record.amend", JSON.stringify(bodies), String(perRound), "1", String(warmup)]);
      latencies.get(mode)?.push(...(JSON.parse(stdout) as { latencies: number[] }).latencies);
    }
  }
  clinic.setMode(undefined);
  await clinic.flush();
  const audited = ROUNDS * (perRound + warmup) * 3; // async, sync, transactional
  const found = (await clinic.prisma.auditEntry.count({ where: { action: "record.amend", outcome: "ok" } })) - before;

  const s = (m: (typeof MODES)[number]) => summarize(latencies.get(m) ?? []);
  const [unaudited, asyncS, syncS, txS] = [s("off"), s("async"), s("sync"), s("transactional")];
  return {
    requestsPerMode: perRound * ROUNDS,
    unaudited,
    async: asyncS,
    sync: syncS,
    transactional: txS,
    asyncOverhead: asyncS.p50 / unaudited.p50,
    syncOverhead: syncS.p50 / unaudited.p50,
    transactionalOverhead: txS.p50 / unaudited.p50,
    persisted: found / audited,
  };
}
