/**
 * What the audit viewer (apps/web) needs from the API, over HTTP with the typed client: the trail
 * by request id and ip, the live tail over SSE, the writers' health, dead letters for admins, and
 * the viewer's files served at /.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runRawSql, testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouterOutputs } from "../src/router.ts";
import { type Client, type Harness, errorOf, startHarness } from "./harness.ts";

type Entry = RouterOutputs["audit"]["list"]["items"][number];

/** A raw GET (the path is sent as given, not normalized the way fetch normalizes `..`). */
function rawGet(base: string, path: string, method = "GET"): Promise<{ status: number; type: string | undefined; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, type: res.headers["content-type"], body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Collects the tail's entries until `until` holds or `ms` pass; resolves with what arrived and when. */
function collectTail(
  client: Client,
  input: Parameters<Client["audit"]["tail"]["subscribe"]>[0],
  until: (seen: Entry[]) => boolean,
  ms: number,
) {
  return new Promise<{ entries: Entry[]; arrivals: number[]; error?: unknown }>((resolve) => {
    const entries: Entry[] = [];
    const arrivals: number[] = [];
    let done = false;
    const finish = (error?: unknown) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sub.unsubscribe();
      resolve({ entries, arrivals, ...(error === undefined ? {} : { error }) });
    };
    const sub = client.audit.tail.subscribe(input, {
      onData: (entry) => {
        entries.push(entry);
        arrivals.push(performance.now());
        if (until(entries)) finish();
      },
      onError: (error) => finish(error),
    });
    const timer = setTimeout(() => finish(), ms);
  });
}

describe.each(testProviders())("the viewer's API on %s", (provider) => {
  let h: Harness;
  let webRoot: string;
  let auditor: Client;
  let admin: Client;

  beforeAll(async () => {
    webRoot = await mkdtemp(join(tmpdir(), "auditrail-web-root-"));
    await mkdir(join(webRoot, "assets"));
    await writeFile(join(webRoot, "index.html"), "<!doctype html><title>viewer</title>");
    await writeFile(join(webRoot, "assets", "app-1a2b.js"), "console.log('viewer')");
    await writeFile(join(webRoot, "assets", "app-1a2b.css"), "body{}");
    h = await startHarness(provider, { webRoot });
    auditor = await h.as("auditor");
    admin = await h.as("admin");
  });
  afterAll(async () => {
    await h?.close();
    await rm(webRoot, { recursive: true, force: true });
  });

  it("list narrows to one request's entries by its request id, and by ip and outcome", async () => {
    const receptionist = await h.as("receptionist");
    const requestId = `req-${provider}-viewer`;
    const { token } = await h.client().auth.login.mutate({ email: "reception@clinic.test", password: "reception-demo-pass" });
    const res = await fetch(`${h.base}/trpc/audit.list`, { headers: { "x-request-id": requestId, authorization: `Bearer ${token}` } });
    expect(res.status).toBe(403);
    await receptionist.patient.list.query({});
    await h.flush();

    const byRequest = await auditor.audit.list.query({ requestId });
    expect(byRequest.items.map((e) => [e.action, e.outcome, e.requestId])).toEqual([["audit.list", "FORBIDDEN", requestId]]);

    const byIp = await auditor.audit.list.query({ ip: byRequest.items[0]?.ip ?? "none", limit: 200 });
    expect(byIp.items.length).toBeGreaterThan(1);
    expect(new Set(byIp.items.map((e) => e.ip))).toEqual(new Set([byRequest.items[0]?.ip]));
    expect((await auditor.audit.list.query({ ip: "203.0.113.9" })).items).toEqual([]);

    const forbidden = await auditor.audit.list.query({ outcome: "FORBIDDEN", limit: 200 });
    expect(forbidden.items.length).toBeGreaterThan(0);
    expect(forbidden.items.every((e) => e.outcome === "FORBIDDEN")).toBe(true);
    expect((await errorOf(auditor.audit.list.query({ requestId: "" }))).data?.code).toBe("BAD_REQUEST");
  });

  it("the live tail delivers entries written after it started within 5 s (a bound that holds on a loaded 2-core machine) — filtered, late-landing ones too — and not what was there before", async () => {
    const dentist = await h.as("dentist");
    const patient = (await dentist.patient.list.query({ limit: 1 })).items[0];
    if (!patient) throw new Error("the seed has patients");
    await dentist.patient.update.mutate({ id: patient.id, phone: "+1 555 0099" });
    await h.flush();
    const started = collectTail(auditor, { action: "patient.*" }, (seen) => seen.length >= 2, 10_000);
    // Give the subscription time to connect and take its starting point.
    await new Promise((r) => setTimeout(r, 1_000));
    const sent = performance.now();
    await dentist.patient.update.mutate({ id: patient.id, phone: "+1 555 0100" });
    // Stamped 3 s ago, written now (as a replayed or slow batch would be): still news.
    await h.writer.record({ action: "patient.archive", entity: "Patient", entityId: "late", occurredAt: new Date(Date.now() - 3_000) });
    await h.writer.record({ action: "appointment.cancel", entity: "Appointment", entityId: "other" });
    const { entries, arrivals, error } = await started;
    expect(error).toBeUndefined();
    expect(entries.map((e) => [e.action, e.entityId]).sort()).toEqual([
      ["patient.archive", "late"],
      ["patient.update", patient.id],
    ]);
    expect(Math.max(...arrivals) - sent).toBeLessThan(5_000);
  });

  it("the live tail refuses a receptionist (FORBIDDEN) and the attempt is in the trail", async () => {
    const receptionist = await h.as("receptionist");
    const { entries, error } = await collectTail(receptionist, {}, () => true, 10_000);
    expect(entries).toEqual([]);
    expect(error).toMatchObject({ data: { code: "FORBIDDEN" } });
    const denied = await h.entries({ action: "audit.tail", outcome: "FORBIDDEN" });
    expect(denied.map((e) => e.actorRole)).toEqual(["receptionist"]);
  });

  it("health reports each writer's queue, backlog, written count and write rate", async () => {
    const first = await auditor.audit.health.query();
    expect(first.writers.map((w) => w.mode)).toEqual(["async", "sync", "durable"]);
    await new Promise((r) => setTimeout(r, 600));
    const second = await auditor.audit.health.query();
    const main = second.writers[0];
    expect(main).toMatchObject({ mode: "async", spoolBacklog: 0, dropped: 0 });
    expect(main?.written).toBeGreaterThan(0);
    expect(main?.writtenPerSecond).toBeGreaterThanOrEqual(0);
    expect(second.pendingDeadLetters).toBe(0);
    expect((await errorOf((await h.as("hygienist")).audit.health.query())).data?.code).toBe("FORBIDDEN");
  });

  it("admins list dead letters with the database's reason and replay them once the cause is fixed; auditors may not", async () => {
    const poison = await refusePoison();
    const receipt = await h.writer.record({ action: "poison", entity: "Patient", entityId: "p-1" });
    await h.flush();
    const letters = await admin.audit.deadLetters.query();
    expect(letters.map((l) => [l.id, l.summary?.action, l.summary?.entityId])).toEqual([[receipt.id, "poison", "p-1"]]);
    expect(letters[0]?.reason).toMatch(provider === "sqlite" ? /poison refused/ : /no_poison/);
    expect((await auditor.audit.health.query()).pendingDeadLetters).toBe(1);
    expect((await errorOf(auditor.audit.deadLetters.query())).data?.code).toBe("FORBIDDEN");
    expect((await errorOf(auditor.audit.replayDeadLetters.mutate({}))).data?.code).toBe("FORBIDDEN");

    expect(await admin.audit.replayDeadLetters.mutate({})).toEqual({
      replayed: 0,
      failed: [{ id: receipt.id, error: expect.any(String) }],
    });
    await poison.restore();
    expect(await admin.audit.replayDeadLetters.mutate({ ids: [receipt.id] })).toEqual({ replayed: 1, failed: [] });
    expect(await admin.audit.deadLetters.query()).toEqual([]);
    expect((await admin.audit.deadLetters.query({ pending: false, limit: 10 })).map((l) => l.id)).toEqual([receipt.id]);
    expect((await auditor.audit.get.query({ id: receipt.id })).action).toBe("poison");
    const replays = await h.entries({ action: "audit.deadLetters.replay" });
    expect(replays.map((e) => e.outcome)).toEqual(["FORBIDDEN", "ok", "ok"]);
  });

  /** The database refuses entries whose action is "poison" until restored (a real database-side rejection). */
  async function refusePoison(): Promise<{ restore(): Promise<void> }> {
    const sql = (text: string) => h.db.prisma.$executeRawUnsafe(text);
    if (provider === "sqlite") {
      await sql(`CREATE TRIGGER refuse_poison BEFORE INSERT ON "AuditEntry" WHEN NEW.action = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'poison refused'); END`);
      return { restore: async () => void (await sql("DROP TRIGGER refuse_poison")) };
    }
    // DDL as the database's owner: the app's role may not alter the audit table on PostgreSQL.
    const owner = (text: string) => runRawSql(h.db.url, text);
    await owner(`ALTER TABLE "AuditEntry" ADD CONSTRAINT no_poison CHECK (action <> 'poison')`);
    return { restore: () => owner(`ALTER TABLE "AuditEntry" DROP CONSTRAINT no_poison`) };
  }

  it("serves the viewer: files with their content type, the page for app paths, 404 for missing files, no way out of the root", async () => {
    const page = await rawGet(h.base, "/");
    expect(page).toMatchObject({ status: 200, type: "text/html; charset=utf-8" });
    expect(page.body).toContain("<title>viewer</title>");
    expect(await rawGet(h.base, "/entry/0193a0b0-0000-7000-8000-000000000000?x=1")).toMatchObject({ status: 200, body: page.body });
    expect(await rawGet(h.base, "/assets/app-1a2b.js")).toMatchObject({ status: 200, type: "text/javascript; charset=utf-8" });
    expect(await rawGet(h.base, "/assets/app-1a2b.css")).toMatchObject({ status: 200, type: "text/css; charset=utf-8" });
    expect(await rawGet(h.base, "/assets/app-1a2b.js", "HEAD")).toMatchObject({ status: 200, body: "" });
    expect((await rawGet(h.base, "/assets/missing.js")).status).toBe(404);
    for (const path of [
      "/../package.json",
      "/assets/../../etc/passwd",
      "/%2e%2e/%2e%2e/etc/passwd",
      "/..%2f..%2fetc%2fpasswd",
      "/a%5c..%5c..%5cetc",
      "/x%00.js",
      "/%E0%A4%A",
    ]) {
      const res = await rawGet(h.base, path);
      expect([path, res.status]).toEqual([path, 400]);
      expect(res.body).not.toContain("root:");
    }
    // The API's own routes still win.
    expect(await rawGet(h.base, "/health")).toMatchObject({ status: 200, type: "application/json" });
  });

  // Last: it shuts the server down.
  it("shutdown ends open live tails, so in-flight requests finish before the deadline", async () => {
    let started = false;
    const sub = auditor.audit.tail.subscribe({}, { onStarted: () => (started = true), onData: () => undefined });
    await expect.poll(() => started, { timeout: 10_000 }).toBe(true);
    const report = await h.app.close({ deadlineMs: 20_000 });
    sub.unsubscribe();
    expect(report.requestsFinished).toBe(true);
  });
});
