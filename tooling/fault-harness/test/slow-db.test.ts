/**
 * Scenario 6: a slow database — the proxy adds 100 ms to every chunk in each direction, 200 ms per
 * round trip — under the real clinic API. The app's own Prisma client talks to PostgreSQL directly;
 * only the audit writers' sink goes through the proxy. An async-audited call (`patient.get`, a
 * `patient.read` entry) must not notice: its p50 with the delay stays within 1.2 × its p50
 * without. A sync-audited call (`auth.login`, committed before the token is handed out) must show
 * the delay. Samples alternate between the two settings in rounds, so machine noise hits both.
 */
import { createAuditWriter } from "@auditrail/audit-core";
import { createApp } from "@auditrail/api";
import { createClinicClient } from "@auditrail/api/client";
import { DEMO_STAFF, seedDemoData } from "@auditrail/db";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { pino } from "pino";
import { afterAll, describe, expect, it } from "vitest";
import { printAccounting } from "../src/accounting.ts";
import { startFaultProxy } from "../src/proxy.ts";
import { Scope, hasPostgres, targetOf } from "./helpers.ts";

const DELAY_PER_DIRECTION_MS = 100;

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};
const ms = (x: number) => `${x.toFixed(1)}ms`;

async function time(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

describe.runIf(hasPostgres)("scenario 6: slow database (proxy adds 200 ms per round trip) under the API", () => {
  const scope = new Scope();
  afterAll(() => scope.close());

  it("async-audited calls keep their p50 (ratio ≤ 1.2) while sync-audited calls pay the delay", async () => {
    const { db, handle } = await scope.database("postgresql");
    await seedDemoData(handle.prisma);
    const proxy = scope.proxy(await startFaultProxy({ target: targetOf(db.url) }));
    const spoolDir = await scope.tempDir();
    const slowSink = sqlSinkSpec({ url: proxy.url(db.url) });
    const writers = {
      async: await createAuditWriter({ sink: slowSink, spoolDir, maxBatchWaitMs: 5 }),
      sync: await createAuditWriter({ sink: slowSink, mode: "sync", spoolDir }),
      durable: await createAuditWriter({
        sink: sqlSinkSpec({ url: db.url }),
        mode: "durable",
        spoolDir: `${spoolDir}/durable`,
        maxWorkers: 1,
      }),
    };
    const app = createApp({ prisma: handle.prisma, writers, logger: pino({ level: "silent" }), sessionTtlMs: 60_000 }, handle);
    // app.close() closes the writers and the database handle too.
    scope.defer(() => app.close({ deadlineMs: 2_000 }));
    const base = await app.listen(0, "127.0.0.1");
    const staff = DEMO_STAFF.find((s) => s.role === "receptionist");
    if (!staff) throw new Error("no receptionist in the demo staff");
    const login = () => createClinicClient(base).auth.login.mutate({ email: staff.email, password: staff.password });
    const client = createClinicClient(base, (await login()).token);
    const patient = await client.patient.create.mutate({ firstName: "Slow", lastName: "Database", dateOfBirth: "1980-01-01" });
    await writers.async.flush();
    const rowsBefore = await handle.prisma.auditEntry.count();
    const recordedBefore = writers.async.stats().recorded + writers.sync.stats().recorded;

    const setting = (delayed: boolean) => (delayed ? proxy.mode("delay", { delayMs: DELAY_PER_DIRECTION_MS }) : proxy.mode("pass"));
    const get = () => client.patient.get.query({ id: patient.id });
    const samples = { async: { pass: [] as number[], delay: [] as number[] }, sync: { pass: [] as number[], delay: [] as number[] } };
    for (let i = 0; i < 20; i++) await get(); // warm up
    for (let round = 0; round < 8; round++) {
      for (const delayed of round % 2 ? [true, false] : [false, true]) {
        setting(delayed);
        await get();
        for (let i = 0; i < 30; i++) samples.async[delayed ? "delay" : "pass"].push(await time(get));
        for (let i = 0; i < 2; i++) samples.sync[delayed ? "delay" : "pass"].push(await time(login));
      }
    }
    setting(false);

    const asyncPass = median(samples.async.pass);
    const asyncDelay = median(samples.async.delay);
    const syncPass = median(samples.sync.pass);
    const syncDelay = median(samples.sync.delay);
    const ratio = asyncDelay / asyncPass;

    // Every audited call's entry is written (the async ones after the delay is lifted).
    await writers.async.flush();
    const recorded = writers.async.stats().recorded + writers.sync.stats().recorded - recordedBefore;
    const written = (await handle.prisma.auditEntry.count()) - rowsBefore;
    const reads = await handle.prisma.auditEntry.count({ where: { action: "patient.read", entityId: patient.id } });
    printAccounting("slow-db", {
      recorded,
      written,
      deadLettered: writers.async.stats().deadLettered + writers.sync.stats().deadLettered,
      spilled: writers.async.stats().spilled,
      replayed: writers.async.stats().replayed,
      lost: recorded - written,
      extra: {
        asyncP50: `${ms(asyncPass)}→${ms(asyncDelay)}`,
        ratio: ratio.toFixed(3),
        syncP50: `${ms(syncPass)}→${ms(syncDelay)}`,
        samples: samples.async.pass.length + samples.async.delay.length + samples.sync.pass.length + samples.sync.delay.length,
      },
    });

    expect(ratio).toBeLessThanOrEqual(1.2);
    // A sync-audited call waits for its insert: one round trip through the proxy, so every one
    // takes at least 200 ms (timers may fire a millisecond early), and the p50 moves by ~200 ms
    // (the rest of a login — scrypt — is noisy, hence the tolerance).
    expect(Math.min(...samples.sync.delay)).toBeGreaterThanOrEqual(2 * DELAY_PER_DIRECTION_MS - 5);
    expect(syncDelay - syncPass).toBeGreaterThanOrEqual(0.8 * 2 * DELAY_PER_DIRECTION_MS);
    expect(recorded).toBe(2 * 8 * (31 + 2) + 20);
    expect(written).toBe(recorded);
    expect(reads).toBe(2 * 8 * 31 + 20);
  });
});
