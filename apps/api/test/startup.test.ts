/**
 * Issue 16 and the first row of issue 11: the API started as operators start it (a child process
 * running src/main.ts) with each environment variable set, and with bad values; every effect is
 * observed from outside — over HTTP (/metrics, the trail, the session), in its log and its exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createPrivateKey, createPublicKey } from "node:crypto";
import { type WitnessServer, generateSealKeyPair, startWitness } from "@auditrail/audit-core";
import { DEMO_STAFF, type Provider, createDatabase, seedDemoData } from "@auditrail/db";
import { type TestDatabase, createTestDatabase, testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClinicClient } from "../src/client.ts";
import { VARIABLE_NAMES } from "../src/config.ts";

const API_DIR = fileURLToPath(new URL("..", import.meta.url));

interface Started {
  readonly base: string;
  readonly child: ChildProcess;
  readonly stdout: () => string;
  /** The JSON log lines so far. */
  readonly logs: () => { level: number; msg: string; [key: string]: unknown }[];
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

/** The environment of the test runner without any of the API's variables, plus `env`. */
function envWith(env: Record<string, string>): NodeJS.ProcessEnv {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(VARIABLE_NAMES as string[]).includes(k)));
  return { ...base, ...env };
}

function spawnApi(env: Record<string, string>): { child: ChildProcess; out: string[]; err: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
    cwd: API_DIR,
    env: envWith(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: string[] = [];
  const err: string[] = [];
  child.stdout?.on("data", (c: Buffer) => out.push(c.toString()));
  child.stderr?.on("data", (c: Buffer) => err.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out, err, exited };
}

/** Starts the API and waits for its "listening" line (or fails with what it printed). */
async function startApi(env: Record<string, string>): Promise<Started> {
  const { child, out, err, exited } = spawnApi(env);
  const base = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = /auditrail clinic API on (http:\/\/\S+) /.exec(out.join(""));
      if (m?.[1]) resolve(m[1]);
    };
    child.stdout?.on("data", check);
    void exited.then((code) => reject(new Error(`API exited (${code}) before listening:\n${out.join("")}\n${err.join("")}`)));
  });
  const stdout = () => out.join("");
  return {
    base,
    child,
    stdout,
    logs: () =>
      stdout()
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as { level: number; msg: string }),
    stop: async () => {
      child.kill("SIGTERM");
      return exited;
    },
  };
}

/** A sample's value in a Prometheus text exposition (0 when absent). */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

const RECORDED = {
  async: 'auditrail_entries_recorded_total{mode="async"}',
  sync: 'auditrail_entries_recorded_total{mode="sync"}',
  durable: 'auditrail_entries_recorded_total{mode="durable"}',
} as const;

async function recorded(base: string): Promise<Record<keyof typeof RECORDED, number>> {
  const text = await (await fetch(`${base}/metrics`)).text();
  return { async: sample(text, RECORDED.async), sync: sample(text, RECORDED.sync), durable: sample(text, RECORDED.durable) };
}

const staff = (role: string) => {
  const s = DEMO_STAFF.find((x) => x.role === role);
  if (!s) throw new Error(`no demo ${role}`);
  return s;
};

async function signIn(base: string, role: string) {
  const s = staff(role);
  const session = await createClinicClient(base).auth.login.mutate({ email: s.email, password: s.password });
  return { ...session, client: createClinicClient(base, session.token) };
}

/** patient.create (whose meta pins no mode) by the receptionist: how the writers' counters moved. */
async function createPatientDelta(base: string) {
  const { client } = await signIn(base, "receptionist");
  const before = await recorded(base);
  const p = await client.patient.create.mutate({ firstName: "Env", lastName: "Check", dateOfBirth: "1977-07-07" });
  const after = await recorded(base);
  return {
    patient: p,
    delta: { async: after.async - before.async, sync: after.sync - before.sync, durable: after.durable - before.durable },
  };
}

describe("starting the API with bad settings", () => {
  it("exits 1 naming every bad variable and what it accepts, before touching any database", async () => {
    const { out, err, exited } = spawnApi({
      DATABASE_URL: "mysql://nowhere/clinic",
      PORT: "http",
      AUDIT_MODE: "fast",
      AUDIT_MAX_WORKERS: "0",
      AUDIT_OVERFLOW: "wait",
      AUDIT_MAX_QUEUE: "many",
      AUDIT_MAX_BATCH: "-5",
      AUDIT_CLOSE_DEADLINE_MS: "soon",
      TRUST_PROXY: "maybe",
      LOG_LEVEL: "loud",
      NODE_ENV: "staging",
      SESSION_TTL_MINUTES: "forever",
      AUDIT_ALLOW_OFF: "yes",
    });
    expect(await exited).toBe(1);
    const text = err.join("");
    for (const [name, accepts] of [
      ["DATABASE_URL", "file:<path> (SQLite) or postgresql://"],
      ["PORT", "an integer from 0 to 65535"],
      ["AUDIT_MODE", "async | durable | sync | off"],
      ["AUDIT_MAX_WORKERS", "an integer from 1 to 64"],
      ["AUDIT_OVERFLOW", "block | spill | drop"],
      ["AUDIT_MAX_QUEUE", "an integer from 1 to 10000000"],
      ["AUDIT_MAX_BATCH", "an integer from 1 to 10000"],
      ["AUDIT_CLOSE_DEADLINE_MS", "an integer from 0 to 600000"],
      ["TRUST_PROXY", "1 | 0"],
      ["LOG_LEVEL", "fatal | error | warn | info"],
      ["NODE_ENV", "development | production | test"],
      ["SESSION_TTL_MINUTES", "an integer from 1 to 10080"],
      ["AUDIT_ALLOW_OFF", "1 | 0"],
    ] as const) {
      expect(text).toContain(`${name}=`);
      expect(text).toContain(`expected ${accepts}`);
    }
    expect(out.join("")).not.toMatch(/listening|clinic API on/);
  });

  it("refuses AUDIT_MODE=off in production without AUDIT_ALLOW_OFF=1", async () => {
    const { err, exited } = spawnApi({ AUDIT_MODE: "off", NODE_ENV: "production" });
    expect(await exited).toBe(1);
    expect(err.join("")).toMatch(/AUDIT_MODE=off: refused with NODE_ENV=production.*set AUDIT_ALLOW_OFF=1/);
  });

  it.each([
    [{ AUDIT_SEAL_EVERY_MS: "often" }, 'AUDIT_SEAL_EVERY_MS="often": expected an integer from 10 to 86400000'],
    [{ AUDIT_TRAIL: "no spaces allowed" }, 'AUDIT_TRAIL="no spaces allowed": expected 1–128 of A-Z a-z 0-9 . _ -'],
    [{ AUDIT_WITNESS_URL: "witness.local" }, 'AUDIT_WITNESS_URL="witness.local": expected an http(s) URL'],
    [{ AUDIT_TRANSPORT: "carrier-pigeon" }, 'AUDIT_TRANSPORT="carrier-pigeon": expected direct | jetstream'],
    [{ AUDIT_TRANSPORT: "jetstream" }, "NATS_URL: required with AUDIT_TRANSPORT=jetstream"],
    [{ AUDIT_TRANSPORT: "jetstream", NATS_URL: "nats://a b" }, 'NATS_URL="nats://a b": expected comma-separated NATS servers'],
  ])("exits 1 on a bad seal or transport setting %j, naming it and what it accepts, with no stack", async (env, message) => {
    const { out, err, exited } = spawnApi(env);
    expect(await exited).toBe(1);
    const text = err.join("");
    expect(text).toContain(`auditrail API: Invalid environment:\n  ${message}`);
    expect(text).not.toMatch(/\n\s+at /);
    expect(out.join("")).not.toMatch(/clinic API on/);
  });
});

describe.each(testProviders())("starting the API with each setting on %s", (provider: Provider) => {
  let database: TestDatabase;
  let spool: string;
  beforeAll(async () => {
    database = await createTestDatabase(provider);
    const db = createDatabase(database.url);
    try {
      await seedDemoData(db.prisma);
    } finally {
      await db.close();
    }
    spool = await mkdtemp(join(tmpdir(), "auditrail-startup-"));
  });
  afterAll(async () => {
    await rm(spool, { recursive: true, force: true });
    await database?.drop();
  });

  it("exits 1 with one line, no stack, when the seal key file is missing or the port is taken", async () => {
    const missing = spawnApi({
      DATABASE_URL: database.url,
      PORT: "0",
      AUDIT_SPOOL_DIR: join(spool, "no-key"),
      AUDIT_SEAL_KEY_FILE: join(spool, "absent.pem"),
    });
    expect(await missing.exited).toBe(1);
    expect(missing.err.join("")).toMatch(/auditrail API: cannot start: .*absent\.pem/);
    expect(missing.err.join("")).not.toMatch(/\n\s+at /);
    expect(missing.out.join("")).not.toMatch(/clinic API on/);

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = taken.address() as AddressInfo;
      const busy = spawnApi({
        DATABASE_URL: database.url,
        PORT: String(port),
        HOST: "127.0.0.1",
        AUDIT_SPOOL_DIR: join(spool, "port-taken"),
      });
      expect(await busy.exited).toBe(1);
      expect(busy.err.join("")).toMatch(/auditrail API: cannot start: .*EADDRINUSE/);
      expect(busy.err.join("")).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("defaults: async mode, the documented writer settings in /metrics and the log, the demo hint with API_URL for a port other than 3000", async () => {
    const api = await startApi({ DATABASE_URL: database.url, PORT: "0", AUDIT_SPOOL_DIR: join(spool, "defaults") });
    try {
      const { delta } = await createPatientDelta(api.base);
      expect(delta).toEqual({ async: 1, sync: 0, durable: 0 });
      const metrics = await (await fetch(`${api.base}/metrics`)).text();
      expect(metrics).toContain(
        `auditrail_writer_config{default_mode="async",max_workers="2",max_queue="10000",overflow="spill",max_batch="500",max_batch_wait_ms="100",close_deadline_ms="10000",spool_dir="${join(spool, "defaults")}",seal_every_ms="1000",seal_key_file=".auditrail/keys/dev-seal.pem"} 1`,
      );
      const configLines = api.logs().filter((l) => l.msg === "config");
      expect(configLines).toHaveLength(1);
      expect(configLines[0]).toMatchObject({
        config: {
          port: 0,
          host: "127.0.0.1",
          nodeEnv: "development",
          trustProxy: false,
          audit: { defaultMode: "async", maxWorkers: 2 },
          // No AUDIT_SEAL_KEY_FILE: the development key's path (never the key) and the default interval.
          seal: { signingKeyFile: ".auditrail/keys/dev-seal.pem", sealEveryMs: 1_000, trail: "clinic", anchorDir: ".auditrail/anchors" },
          transport: { transport: "direct" },
        },
      });
      expect(api.stdout()).not.toContain("PRIVATE KEY");
      expect(api.stdout()).toContain(
        `try the demo (another terminal): API_URL=${api.base} npx -y pnpm@12.4.2 --filter @auditrail/api demo`,
      );
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it("every variable set: sync mode, writer settings, trusted proxy, session lifetime, host, spool dir, one config line", async () => {
    const spoolDir = join(spool, "custom");
    const api = await startApi({
      DATABASE_URL: database.url,
      PORT: "0",
      HOST: "localhost",
      NODE_ENV: "production",
      LOG_LEVEL: "info",
      TRUST_PROXY: "1",
      SESSION_TTL_MINUTES: "15",
      AUDIT_MODE: "sync",
      AUDIT_ALLOW_OFF: "0",
      AUDIT_MAX_WORKERS: "3",
      AUDIT_MAX_QUEUE: "1234",
      AUDIT_OVERFLOW: "block",
      AUDIT_MAX_BATCH: "77",
      AUDIT_MAX_BATCH_WAIT_MS: "40",
      AUDIT_CLOSE_DEADLINE_MS: "4321",
      AUDIT_SPOOL_DIR: spoolDir,
    });
    try {
      expect(api.base).toMatch(/^http:\/\/localhost:\d+$/);
      // SESSION_TTL_MINUTES: the session expires 15 minutes after sign-in.
      const before = Date.now();
      const session = await signIn(api.base, "receptionist");
      const ttl = Date.parse(session.expiresAt) - before;
      expect(ttl).toBeGreaterThan(14 * 60_000);
      expect(ttl).toBeLessThanOrEqual(15 * 60_000 + 60_000);
      // AUDIT_MODE=sync: an unpinned procedure's entry goes through the sync writer, committed
      // before the answer; TRUST_PROXY=1: its IP is the one X-Forwarded-For names.
      const res = await fetch(`${api.base}/trpc/patient.create`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: `Bearer ${session.token}`,
          "x-forwarded-for": "203.0.113.7, 10.0.0.1",
        },
        body: JSON.stringify({ firstName: "Proxy", lastName: "Sync", dateOfBirth: "1970-01-01" }),
      });
      const { result } = (await res.json()) as { result: { data: { id: string } } };
      const auditor = (await signIn(api.base, "auditor")).client;
      const [entry] = (await auditor.audit.list.query({ entityId: result.data.id })).items;
      expect(entry).toMatchObject({ action: "patient.create", ip: "203.0.113.7" });
      const { delta } = await createPatientDelta(api.base);
      expect(delta).toEqual({ async: 0, sync: 1, durable: 0 });
      const metrics = await (await fetch(`${api.base}/metrics`)).text();
      expect(metrics).toContain(
        `auditrail_writer_config{default_mode="sync",max_workers="3",max_queue="1234",overflow="block",max_batch="77",max_batch_wait_ms="40",close_deadline_ms="4321",spool_dir="${spoolDir}",seal_every_ms="1000",seal_key_file=".auditrail/keys/dev-seal.pem"} 1`,
      );
      expect((await stat(join(spoolDir, "durable"))).isDirectory()).toBe(true);
      const configLines = api.logs().filter((l) => l.msg === "config");
      expect(configLines).toHaveLength(1);
      expect(configLines[0]).toMatchObject({
        config: {
          host: "localhost",
          nodeEnv: "production",
          logLevel: "info",
          trustProxy: true,
          sessionTtlMs: 15 * 60_000,
          audit: {
            defaultMode: "sync",
            allowOff: false,
            maxWorkers: 3,
            maxQueueSize: 1234,
            overflow: "block",
            maxBatchSize: 77,
            closeDeadlineMs: 4321,
            spoolDir,
          },
        },
      });
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it("AUDIT_MODE=durable: unpinned procedures' entries go through the durable writer", async () => {
    const api = await startApi({ DATABASE_URL: database.url, PORT: "0", AUDIT_MODE: "durable", AUDIT_SPOOL_DIR: join(spool, "durable") });
    try {
      const { delta } = await createPatientDelta(api.base);
      expect(delta).toEqual({ async: 0, sync: 0, durable: 1 });
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });

  it("AUDIT_MODE=off with AUDIT_ALLOW_OFF=1 in production: a warning, no entry for unpinned procedures, pinned ones still audited; LOG_LEVEL=warn hides info lines", async () => {
    const api = await startApi({
      DATABASE_URL: database.url,
      PORT: "0",
      NODE_ENV: "production",
      AUDIT_MODE: "off",
      AUDIT_ALLOW_OFF: "1",
      LOG_LEVEL: "warn",
      AUDIT_SPOOL_DIR: join(spool, "off"),
    });
    try {
      const { patient, delta } = await createPatientDelta(api.base);
      expect(delta).toEqual({ async: 0, sync: 0, durable: 0 });
      const before = await recorded(api.base);
      const auditor = (await signIn(api.base, "auditor")).client; // auth.login pins sync: still audited
      expect((await recorded(api.base)).sync - before.sync).toBe(1);
      expect((await auditor.audit.list.query({ entityId: patient.id })).items).toEqual([]);
      const logs = api.logs();
      expect(logs.some((l) => l.level === 40 && /AUDIT_MODE=off/.test(l.msg))).toBe(true);
      expect(logs.filter((l) => l.level < 40)).toEqual([]);
    } finally {
      expect(await api.stop()).toBe(0);
    }
  });
  it("seal settings: seals signed with AUDIT_SEAL_KEY_FILE appear within AUDIT_SEAL_EVERY_MS in AUDIT_ANCHOR_DIR/AUDIT_TRAIL, cosigned by AUDIT_WITNESS_URL; audit.verify checks them with AUDIT_PUBLIC_KEY_FILE", async () => {
    // A database of its own: verify walks every trail in it, and the other tests seal with the development key.
    const own = await createTestDatabase(provider);
    const dir = await mkdtemp(join(tmpdir(), "auditrail-startup-seal-"));
    let witness: WitnessServer | undefined;
    try {
      const db = createDatabase(own.url);
      try {
        await seedDemoData(db.prisma);
      } finally {
        await db.close();
      }
      const pair = generateSealKeyPair();
      const keyFile = join(dir, "seal.pem");
      const publicKeyFile = join(dir, "seal.pub.pem");
      const otherPublicKeyFile = join(dir, "other.pub.pem");
      await writeFile(keyFile, pair.privateKeyPem, { mode: 0o600 });
      await writeFile(publicKeyFile, pair.publicKeyPem);
      await writeFile(otherPublicKeyFile, generateSealKeyPair().publicKeyPem);
      const anchorDir = join(dir, "anchors");
      witness = await startWitness({
        signer: { name: "startup-witness", privateKey: createPrivateKey(generateSealKeyPair().privateKeyPem) },
        writerKeys: [createPublicKey(pair.publicKeyPem)],
        dir: join(dir, "witness"),
      });
      const env = {
        DATABASE_URL: own.url,
        PORT: "0",
        AUDIT_SPOOL_DIR: join(dir, "spool"),
        AUDIT_SEAL_KEY_FILE: keyFile,
        AUDIT_PUBLIC_KEY_FILE: publicKeyFile,
        AUDIT_ANCHOR_DIR: anchorDir,
        AUDIT_SEAL_EVERY_MS: "50",
        AUDIT_TRAIL: "startup-seals",
        AUDIT_WITNESS_URL: witness.url,
      };
      const api = await startApi(env);
      try {
        await createPatientDelta(api.base);
        // A seal follows the write within the interval (50 ms; the wait is wide for a loaded machine).
        const deadline = Date.now() + 30_000;
        let metrics = "";
        while (Date.now() < deadline) {
          metrics = await (await fetch(`${api.base}/metrics`)).text();
          if (sample(metrics, "auditrail_seals_total") > 0 && sample(metrics, "auditrail_seals_witnessed_total") > 0) break;
          await new Promise((r) => setTimeout(r, 50));
        }
        expect(sample(metrics, "auditrail_seals_total")).toBeGreaterThan(0);
        expect(sample(metrics, "auditrail_seals_witnessed_total")).toBeGreaterThan(0);
        expect((await readdir(join(dir, "witness", "startup-seals"))).length).toBeGreaterThan(0);
        expect(metrics).toContain(`seal_every_ms="50",seal_key_file="${keyFile}"} 1`);
        expect((await readdir(join(anchorDir, "startup-seals"))).length).toBeGreaterThan(0);
        const report = await (await signIn(api.base, "auditor")).client.audit.verify.query();
        expect(report).toMatchObject({ ok: true, problems: [] });
        expect(report.seals.map((x) => x.trail)).toEqual(["startup-seals"]);
        const [configLine] = api.logs().filter((l) => l.msg === "config");
        expect(configLine).toMatchObject({
          config: {
            seal: { signingKeyFile: keyFile, publicKeyFile, anchorDir, sealEveryMs: 50, trail: "startup-seals", witnessUrl: witness.url },
          },
        });
        expect(api.logs().some((l) => /DEVELOPMENT key/.test(l.msg))).toBe(false);
      } finally {
        expect(await api.stop()).toBe(0);
      }
      // The same trail checked with another public key: every seal's signature fails.
      const other = await startApi({ ...env, AUDIT_PUBLIC_KEY_FILE: otherPublicKeyFile });
      try {
        const report = await (await signIn(other.base, "auditor")).client.audit.verify.query();
        expect(report.ok).toBe(false);
        expect(report.problemCount).toBeGreaterThan(0);
      } finally {
        expect(await other.stop()).toBe(0);
      }
    } finally {
      await witness?.close();
      await rm(dir, { recursive: true, force: true });
      await own.drop();
    }
  });
});
