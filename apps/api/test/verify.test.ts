/**
 * Tamper evidence through the API: audit.verify (auditors only) checks the hash chains; a row
 * edited directly in the database is named; the retention purge (admins only, nothing younger
 * than 30 days) deletes through the controlled path and leaves a trail that still verifies; the
 * audit:verify CLI says the same as the procedure.
 */
import { execFile } from "node:child_process";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createAuditWriter } from "@auditrail/audit-core";
import { prismaSinkSpec } from "@auditrail/db/sink";
import { runRawSql, testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, errorOf, startHarness } from "./harness.ts";

const run = promisify(execFile);
const apiRoot = fileURLToPath(new URL("..", import.meta.url));
const DAY = 86_400_000;

describe.each(testProviders())("audit.verify and audit.purge on %s", (provider) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(provider);
  });
  afterAll(() => h?.close());

  const tamper = (sql: string) => runRawSql(h.db.url, sql);

  async function cli(): Promise<{ code: number; out: string }> {
    try {
      const { stdout } = await run(`${apiRoot}/node_modules/.bin/tsx`, ["scripts/audit-verify.ts"], { cwd: apiRoot, env: { ...process.env, DATABASE_URL: h.db.url } });
      return { code: 0, out: stdout };
    } catch (error) {
      const e = error as { code: number; stdout: string };
      return { code: e.code, out: e.stdout };
    }
  }

  it("lets auditors verify the trail, and no one else", async () => {
    const receptionist = await h.as("receptionist");
    await receptionist.patient.list.query({});
    const report = await (await h.as("auditor")).audit.verify.query();
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.entries).toBeGreaterThan(0);
    for (const role of ["admin", "dentist"] as const) {
      expect((await errorOf((await h.as(role)).audit.verify.query())).data?.code).toBe("FORBIDDEN");
    }
    const denied = await h.entries({ action: "audit.verify", outcome: "FORBIDDEN" });
    expect(denied).toHaveLength(2);
  });

  it("names an entry edited directly in the database, and so does the CLI", async () => {
    const auditor = await h.as("auditor");
    expect((await cli()).code).toBe(0);
    const [victim] = await h.entries({ action: "patient.list" });
    if (!victim) throw new Error("no entry to tamper with");
    await tamper(`UPDATE "AuditEntry" SET "actorId" = 'someone-else' WHERE "id" = '${victim.id}'`);
    const report = await auditor.audit.verify.query();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "modified", id: victim.id })]);
    const { code, out } = await cli();
    expect(code).toBe(1);
    expect(out).toContain(`BROKEN (modified)`);
    expect(out).toContain(victim.id);
    await tamper(`UPDATE "AuditEntry" SET "actorId" = '${victim.actorId}' WHERE "id" = '${victim.id}'`);
    expect((await auditor.audit.verify.query()).ok).toBe(true);
  });

  it("purges old entries for admins only, never anything younger than 30 days, and the trail still verifies", async () => {
    // Entries from a year ago, e.g. imported: a writer of their own, so they form their own chains
    // (a purge removes whole chain prefixes, never a younger entry linked before an older one).
    const old = Date.now() - 400 * DAY;
    const importer = await createAuditWriter({ sink: prismaSinkSpec({ url: h.db.url }), spoolDir: await mkdtemp(join(tmpdir(), "import-")) });
    for (let i = 0; i < 20; i++) {
      await importer.record({ action: "patient.read", entity: "Patient", entityId: `old-${i}`, occurredAt: new Date(old + i) });
    }
    await importer.close();
    await h.flush();
    const young = await h.db.prisma.auditEntry.count({ where: { occurredAt: { gte: new Date(Date.now() - DAY) } } });
    const admin = await h.as("admin");
    const tooRecent = await errorOf(admin.audit.purge.mutate({ olderThan: new Date(Date.now() - 10 * DAY).toISOString(), reason: "oops" }));
    expect(tooRecent.data?.code).toBe("BAD_REQUEST");
    expect(tooRecent.message).toMatch(/at least 30 days ago/);
    const forbidden = await errorOf((await h.as("auditor")).audit.purge.mutate({ olderThan: new Date(old + DAY).toISOString(), reason: "x" }));
    expect(forbidden.data?.code).toBe("FORBIDDEN");

    const result = await admin.audit.purge.mutate({ olderThan: new Date(old + DAY).toISOString(), reason: "retention: 1 year" });
    expect(result.deleted).toBeGreaterThanOrEqual(20);
    expect(await h.db.prisma.auditEntry.count({ where: { entityId: { startsWith: "old-" } } })).toBe(0);
    await h.flush();
    expect(await h.db.prisma.auditEntry.count({ where: { occurredAt: { gte: new Date(Date.now() - DAY) } } })).toBeGreaterThanOrEqual(young);
    const [purge] = await h.entries({ action: "audit.purge" });
    expect(purge).toMatchObject({ actorRole: "admin", id: result.entryId });
    expect(await (await h.as("auditor")).audit.verify.query()).toMatchObject({ ok: true, problems: [] });
  });
});
