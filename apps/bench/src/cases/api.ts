/**
 * The origin's "API performance with and without audit", measured the way an operator reproduces
 * it: the API process (apps/api/dist/main.js, as `pnpm start` runs it) started with
 * `AUDIT_MODE=off`, `async` or `sync` and nothing else changed, and the same tRPC mutation —
 * `patient.update`, whose meta pins no mode, so AUDIT_MODE decides — sent over HTTP with
 * keep-alive from a separate load process (load.ts). Every round starts the API once per mode, in
 * turn (each round beginning with the next mode), so drift on a shared machine hits all modes
 * alike; each start gets unmeasured warm-up calls.
 * Reports p50/p95/p99 per mode (all rounds pooled) and each audited mode's overhead: the median
 * over rounds of that round's p50 relative to the same round's unaudited p50, so a burst of load
 * from elsewhere that hits one round moves one ratio, not the result. Checks that every audited
 * call's entry was written (each process drains its writers when stopped).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { generateSealKeyPair } from "@auditrail/audit-core";
import { DEMO_STAFF } from "@auditrail/db";
import { type Summary, median, summarize } from "../stats.ts";
import type { Target } from "../target.ts";

const run = promisify(execFile);
const LOAD = fileURLToPath(new URL("../load.js", import.meta.url));
/** The API's entry point as `pnpm start` runs it (built by the bench's `^build`). */
const API_MAIN = fileURLToPath(new URL("../../../api/dist/main.js", import.meta.url));
const MODES = ["off", "async", "sync"] as const;
type Mode = (typeof MODES)[number];
// Five rounds: the median of five per-round ratios moves less with a burst of load from elsewhere than of three.
const ROUNDS = 5;
const WARMUP = 30;
const PROCEDURE = "patient.update";

export interface ApiResult {
  readonly procedure: string;
  readonly requestsPerMode: number;
  /** AUDIT_MODE=off. */
  readonly unaudited: Summary;
  /** AUDIT_MODE=async. */
  readonly async: Summary;
  /** AUDIT_MODE=sync. */
  readonly sync: Summary;
  /** Median over rounds of the round's p50 async / p50 unaudited. */
  readonly asyncOverhead: number;
  /** Median over rounds of the round's p50 sync / p50 unaudited. */
  readonly syncOverhead: number;
  /** Each round's p50 async / p50 unaudited, in round order. */
  readonly asyncOverheadRounds: readonly number[];
  /** Audit entries found for the audited (async, sync) calls / audited calls made. */
  readonly persisted: number;
}

interface RunningApi {
  readonly base: string;
  /** SIGTERM (the writers drain); rejects unless the process exits 0. */
  stop(): Promise<void>;
}

/** Starts the API with `env` on top of this process's environment; resolves at its "listening" line. */
async function startApi(env: Record<string, string>): Promise<RunningApi> {
  const child: ChildProcess = spawn(process.execPath, [API_MAIN], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const out: string[] = [];
  child.stdout?.on("data", (c: Buffer) => out.push(c.toString()));
  child.stderr?.on("data", (c: Buffer) => out.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const base = await new Promise<string>((resolve, reject) => {
    child.stdout?.on("data", () => {
      const m = /auditrail clinic API on (http:\/\/\S+) /.exec(out.join(""));
      if (m?.[1]) resolve(m[1]);
    });
    void exited.then((code) => reject(new Error(`the API exited (${code}) before listening:\n${out.join("")}`)));
  });
  return {
    base,
    stop: async () => {
      child.kill("SIGTERM");
      const code = await exited;
      if (code !== 0) throw new Error(`the API exited ${code} on SIGTERM:\n${out.join("")}`);
    },
  };
}

async function login(base: string): Promise<string> {
  const staff = DEMO_STAFF.find((s) => s.role === "receptionist");
  if (!staff) throw new Error("no demo receptionist");
  const res = await fetch(`${base}/trpc/auth.login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ email: staff.email, password: staff.password }),
  });
  if (!res.ok) throw new Error(`auth.login: HTTP ${res.status}`);
  return ((await res.json()) as { result: { data: { token: string } } }).result.data.token;
}

/** `target`'s database must hold the demo seed (openClinic seeds it). */
export async function api(target: Target, requests: number): Promise<ApiResult> {
  const dir = await mkdtemp(join(tmpdir(), "auditrail-bench-api-"));
  try {
    const keyFile = join(dir, "seal.pem");
    await writeFile(keyFile, generateSealKeyPair().privateKeyPem, { mode: 0o600 });
    /** What the operator sets besides AUDIT_MODE: where the database is, a free port, quiet logs, and own spool/anchor folders. */
    const envOf = (mode: Mode): Record<string, string> => ({
      DATABASE_URL: target.url,
      PORT: "0",
      HOST: "127.0.0.1",
      NODE_ENV: "development",
      LOG_LEVEL: "warn",
      AUDIT_MODE: mode,
      AUDIT_SPOOL_DIR: join(dir, "spool"),
      AUDIT_SEAL_KEY_FILE: keyFile,
      AUDIT_ANCHOR_DIR: join(dir, "anchors"),
      AUDIT_TRAIL: `bench-api-${process.pid}`,
    });
    const patients = await target.db.prisma.patient.findMany({ select: { id: true }, take: 20, orderBy: { id: "asc" } });
    if (patients.length === 0) throw new Error("the seed has no patients");
    const bodies = patients.map((p, i) => ({ id: p.id, phone: `+1 555 01${String(i).padStart(2, "0")}` }));
    const before = await target.db.prisma.auditEntry.count({ where: { action: PROCEDURE, outcome: "ok" } });

    const rounds: Map<Mode, number[]>[] = [];
    const perRound = Math.ceil(requests / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      const latencies = new Map<Mode, number[]>();
      rounds.push(latencies);
      // Each round starts with the next mode (off, async, sync; async, sync, off; …): no mode always
      // follows the same one, or always runs first after the previous round.
      for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length] as Mode)) {
        const server = await startApi(envOf(mode));
        try {
          const token = await login(server.base);
          const { stdout } = await run(process.execPath, [
            LOAD,
            server.base,
            token,
            PROCEDURE,
            JSON.stringify(bodies),
            String(perRound),
            "1",
            String(WARMUP),
          ]);
          latencies.set(mode, (JSON.parse(stdout) as { latencies: number[] }).latencies);
        } finally {
          await server.stop();
        }
      }
    }
    const audited = ROUNDS * (perRound + WARMUP) * 2; // async and sync
    const found = (await target.db.prisma.auditEntry.count({ where: { action: PROCEDURE, outcome: "ok" } })) - before;

    const s = (m: Mode) => summarize(rounds.flatMap((r) => r.get(m) ?? []));
    const [unaudited, asyncS, syncS] = [s("off"), s("async"), s("sync")];
    const ratios = (m: Mode) => rounds.map((r) => summarize(r.get(m) ?? []).p50 / summarize(r.get("off") ?? []).p50);
    const asyncRounds = ratios("async");
    return {
      procedure: PROCEDURE,
      requestsPerMode: perRound * ROUNDS,
      unaudited,
      async: asyncS,
      sync: syncS,
      asyncOverhead: median(asyncRounds),
      syncOverhead: median(ratios("sync")),
      asyncOverheadRounds: asyncRounds,
      persisted: found / audited,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
