/**
 * Seals through the API: audit.verify (auditors only) checks the trail against the signed seals in
 * the anchor directory with the configured public key, in a worker thread while /health keeps
 * answering; an entry edited in the database is named, by the procedure and by the audit:verify
 * CLI; a purge (admins, nothing younger than 30 days) is signed at once and verifies; audit.proof
 * gives a proof the CLI checks offline; an NDJSON export carries the chain fields and verifies
 * offline; audit:keygen writes a key pair and never overwrites one.
 */
import { execFile } from "node:child_process";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createAuditWriter, loadPublicKey, verifyProof } from "@auditrail/audit-core";
import { DEMO_STAFF } from "@auditrail/db";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { runRawSql, testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Harness, errorOf, startHarness } from "./harness.ts";

const run = promisify(execFile);
const apiRoot = fileURLToPath(new URL("..", import.meta.url));
const DAY = 86_400_000;

/** Runs an api script with tsx; its exit code and output. */
async function script(name: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(`${apiRoot}/node_modules/.bin/tsx`, [`scripts/${name}.ts`, ...args], {
      cwd: apiRoot,
      env: { ...process.env, ...env },
    });
    return { code: 0, out: stdout + stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, out: e.stdout + e.stderr };
  }
}

describe.each(testProviders())("seals through the API on %s", (provider) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(provider);
  });
  afterAll(() => h?.close());

  const tamper = (sql: string) => runRawSql(h.db.url, sql);
  /** Everything written so far under a seal. */
  const sealAll = async () => {
    await h.flush();
    await h.seals.sealer.seal();
  };
  const cli = () =>
    script("audit-verify", ["--public-key", h.seals.publicKeyFile, "--anchors", h.seals.anchorDir, "--grace-ms", "0"], {
      DATABASE_URL: h.db.url,
    });

  it("lets auditors verify the trail against the anchored seals, and no one else", async () => {
    await (await h.as("receptionist")).patient.list.query({});
    await sealAll();
    const report = await (await h.as("auditor")).audit.verify.query();
    expect(report).toMatchObject({ ok: true, problems: [], problemCount: 0 });
    expect(report.entries).toBeGreaterThan(0);
    expect(report.seals).toEqual([expect.objectContaining({ trail: "clinic" })]);
    for (const role of ["admin", "dentist"] as const) {
      expect((await errorOf((await h.as(role)).audit.verify.query())).data?.code).toBe("FORBIDDEN");
    }
    expect(await h.entries({ action: "audit.verify", outcome: "FORBIDDEN" })).toHaveLength(2);
  });

  it("names an entry edited directly in the database, and so does the CLI", async () => {
    await sealAll();
    expect((await cli()).code).toBe(0);
    const [victim] = await h.entries({ action: "patient.list" });
    if (!victim) throw new Error("no entry to tamper with");
    await tamper(`UPDATE "AuditEntry" SET "actorId" = 'someone-else' WHERE "id" = '${victim.id}'`);
    const report = await (await h.as("auditor")).audit.verify.query();
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "modified", id: victim.id })]);
    const { code, out } = await cli();
    expect(code).toBe(1);
    expect(out).toContain("BROKEN (modified)");
    expect(out).toContain(victim.id);
    await tamper(`UPDATE "AuditEntry" SET "actorId" = '${victim.actorId}' WHERE "id" = '${victim.id}'`);
    expect((await (await h.as("auditor")).audit.verify.query()).ok).toBe(true);
  });

  it("gives auditors a proof of one entry that the CLI checks offline with the public key alone", async () => {
    await sealAll();
    const [entry] = await h.entries({ action: "patient.list" });
    if (!entry) throw new Error("no entry");
    const proof = await (await h.as("auditor")).audit.proof.query({ id: entry.id });
    expect(verifyProof(proof, await loadPublicKey(h.seals.publicKeyFile))).toMatchObject({ ok: true });
    const dir = await mkdtemp(join(tmpdir(), "proof-"));
    await writeFile(join(dir, "proof.json"), JSON.stringify(proof));
    await writeFile(join(dir, "forged.json"), JSON.stringify({ ...proof, entry: { ...proof.entry, actorId: "someone-else" } }));
    const ok = await script("audit-verify", ["--proof", join(dir, "proof.json"), "--public-key", h.seals.publicKeyFile]);
    expect(ok).toMatchObject({ code: 0 });
    expect(ok.out).toContain(`OK: entry ${entry.id}`);
    const forged = await script("audit-verify", ["--proof", join(dir, "forged.json"), "--public-key", h.seals.publicKeyFile]);
    expect(forged.code).toBe(1);
    expect(forged.out).toMatch(/BROKEN: .*modified/);
    expect((await errorOf((await h.as("receptionist")).audit.proof.query({ id: entry.id }))).data?.code).toBe("FORBIDDEN");
    expect((await errorOf((await h.as("auditor")).audit.proof.query({ id: "01990000-0000-7000-8000-000000000000" }))).data?.code).toBe(
      "NOT_FOUND",
    );
  });

  it("exports NDJSON with the chain fields, which verifies offline against the anchors", async () => {
    await sealAll();
    const auditor = DEMO_STAFF.find((s) => s.role === "auditor");
    if (!auditor) throw new Error("no demo auditor");
    const { token } = await h.client().auth.login.mutate({ email: auditor.email, password: auditor.password });
    const res = await fetch(`${h.base}/audit/export?format=ndjson`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.text();
    const first = JSON.parse(body.split("\n")[0] as string) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(expect.arrayContaining(["streamId", "seq", "prevHash", "hash"]));
    const dir = await mkdtemp(join(tmpdir(), "export-"));
    const file = join(dir, "trail.ndjson");
    await writeFile(file, body);
    const args = ["--export", file, "--anchors", h.seals.anchorDir, "--public-key", h.seals.publicKeyFile, "--grace-ms", "0"];
    const verified = await script("audit-verify", args);
    expect(verified).toMatchObject({ code: 0 });
    expect(verified.out).toContain("OK: every stream matches its signed seals.");
    const lines = body.trim().split("\n");
    const edited = lines.map((line, i) => (i === 1 ? line.replace(/"action":"[^"]+"/, '"action":"nothing.happened"') : line));
    await writeFile(file, `${edited.join("\n")}\n`);
    const broken = await script("audit-verify", args);
    expect(broken.code).toBe(1);
    expect(broken.out).toContain("BROKEN (modified)");
  });

  it("answers /health while a large verify runs in its worker thread", async () => {
    const writer = h.writer;
    for (let i = 0; i < 40_000; i++) void writer.record({ action: "patient.read", entity: "Patient", entityId: `bulk-${i}` });
    await sealAll();
    const auditor = await h.as("auditor");
    let done = false;
    const verify = auditor.audit.verify.query().finally(() => {
      done = true;
    });
    let answered = 0;
    while (!done) {
      const res = await fetch(`${h.base}/health`);
      if (res.status === 200 && !done) answered++;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const report = await verify;
    expect(report.ok).toBe(true);
    expect(report.entries).toBeGreaterThan(40_000);
    // Had verify held the event loop, no health check could have been answered before it ended.
    expect(answered).toBeGreaterThanOrEqual(3);
  });

  it("purges old entries for admins only, signs the purge at once, and the trail still verifies", async () => {
    const old = Date.now() - 400 * DAY;
    const importer = await createAuditWriter({
      sink: sqlSinkSpec({ url: h.db.url }),
      spoolDir: await mkdtemp(join(tmpdir(), "import-")),
      sealer: h.seals.sealer,
    });
    for (let i = 0; i < 20; i++) {
      await importer.record({ action: "patient.read", entity: "Patient", entityId: `old-${i}`, occurredAt: new Date(old + i) });
    }
    await importer.close();
    const admin = await h.as("admin");
    const tooRecent = await errorOf(admin.audit.purge.mutate({ olderThan: new Date(Date.now() - 10 * DAY).toISOString(), reason: "oops" }));
    expect(tooRecent.data?.code).toBe("BAD_REQUEST");
    expect(tooRecent.message).toMatch(/at least 30 days ago/);
    const forbidden = await errorOf(
      (await h.as("auditor")).audit.purge.mutate({ olderThan: new Date(old + DAY).toISOString(), reason: "x" }),
    );
    expect(forbidden.data?.code).toBe("FORBIDDEN");

    const result = await admin.audit.purge.mutate({ olderThan: new Date(old + DAY).toISOString(), reason: "retention: 1 year" });
    expect(result.deleted).toBeGreaterThanOrEqual(20);
    expect(result.seal).toBeGreaterThan(1);
    expect(await h.db.prisma.auditEntry.count({ where: { entityId: { startsWith: "old-" } } })).toBe(0);
    const [purge] = await h.entries({ action: "audit.purge" });
    expect(purge).toMatchObject({ actorRole: "admin", id: result.entryId });
    await sealAll();
    expect(await (await h.as("auditor")).audit.verify.query()).toMatchObject({ ok: true, problems: [] });
  });
});

describe("audit:keygen", () => {
  it("writes a key pair the seals can use, and never overwrites it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "keygen-"));
    const made = await script("audit-keygen", ["--out", dir, "--name", "clinic-seal"]);
    expect(made.code).toBe(0);
    expect(await readFile(join(dir, "clinic-seal.pem"), "utf8")).toContain("BEGIN PRIVATE KEY");
    expect((await loadPublicKey(join(dir, "clinic-seal.pub.pem"))).asymmetricKeyType).toBe("ed25519");
    const again = await script("audit-keygen", ["--out", dir, "--name", "clinic-seal"]);
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/exists: keygen never overwrites a key/);
  });
});
