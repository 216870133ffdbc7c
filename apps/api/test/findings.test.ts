/**
 * Issue 11's table of findings, one regression per row, over HTTP through @trpc/client (or plain
 * fetch where the row is about plain HTTP) on each database. The first row (settings dropped by
 * turbo) is covered by src/config.test.ts and test/startup.test.ts.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { runRawSql, testProviders } from "@auditrail/db/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, type Harness, errorOf, startHarness } from "./harness.ts";

const run = promisify(execFile);
const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const UNKNOWN = "01900000-0000-7000-8000-0000000000aa";
const NUL = "a\u0000b";

type LogLine = { level: number; msg: string; reqId?: string; err?: { message?: string; stack?: string } };

/** "ok", or the tRPC error code the call failed with. */
async function outcomeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return "ok";
  } catch (error) {
    const err = await errorOf(Promise.reject(error));
    return err.data?.code ?? "UNKNOWN";
  }
}

/** Creates (SQL) and removes a trigger that makes inserts of patients named `name` fail in the database. */
async function refusePatientInserts(h: Harness, name: string): Promise<() => Promise<void>> {
  const literal = `'${name}'`;
  if (h.provider === "sqlite") {
    await h.db.prisma.$executeRawUnsafe(
      `CREATE TRIGGER refuse_patient BEFORE INSERT ON "Patient" WHEN NEW."firstName" = ${literal}
       BEGIN SELECT RAISE(ABORT, 'patient insert refused (test fault)'); END`,
    );
    return async () => void (await h.db.prisma.$executeRawUnsafe(`DROP TRIGGER refuse_patient`));
  }
  // As the owner: the application's role may not create functions or triggers.
  await runRawSql(
    h.db.url,
    `CREATE FUNCTION refuse_patient() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'patient insert refused (test fault)'; END $$;
     CREATE TRIGGER refuse_patient BEFORE INSERT ON "Patient" FOR EACH ROW
     WHEN (NEW."firstName" = ${literal}) EXECUTE FUNCTION refuse_patient()`,
  );
  return () => runRawSql(h.db.url, `DROP TRIGGER refuse_patient ON "Patient"; DROP FUNCTION refuse_patient()`);
}

describe.each(testProviders())("issue 11's findings, over HTTP on %s", (provider) => {
  let h: Harness;
  let reception: Client;
  let dentist: Client;
  let auditor: Client;
  let admin: Client;
  let auditorToken: string;
  let receptionToken: string;
  const logs: LogLine[] = [];
  beforeAll(async () => {
    const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
    h = await startHarness(provider, { logger });
    [dentist, admin] = await Promise.all([h.as("dentist"), h.as("admin")]);
    ({ token: receptionToken } = await h.client().auth.login.mutate({ email: "reception@clinic.test", password: "reception-demo-pass" }));
    reception = h.client(receptionToken);
    ({ token: auditorToken } = await h.client().auth.login.mutate({ email: "auditor@clinic.test", password: "auditor-demo-pass" }));
    auditor = h.client(auditorToken);
  });
  afterAll(() => h?.close());

  const patient = (firstName: string, lastName = "Literal") =>
    reception.patient.create.mutate({ firstName, lastName, dateOfBirth: "1980-02-03" });

  it("internals: a database error reaches the client as 'internal error' + request id, with no stack, SQL or Prisma text; the log has the details", async () => {
    const restore = await refusePatientInserts(h, "Boom");
    let res: Response;
    try {
      res = await fetch(`${h.base}/trpc/patient.create`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${receptionToken}` },
        body: JSON.stringify({ firstName: "Boom", lastName: "Fault", dateOfBirth: "1980-02-03" }),
      });
    } finally {
      await restore();
    }
    expect(res.status).toBe(500);
    const requestId = res.headers.get("x-request-id") ?? "";
    const text = await res.text();
    const body = JSON.parse(text) as { error: { message: string; data: Record<string, unknown> } };
    expect(body.error.message).toBe(`internal error (request id ${requestId})`);
    expect(body.error.data).toMatchObject({ code: "INTERNAL_SERVER_ERROR", requestId });
    expect(body.error.data).not.toHaveProperty("stack");
    expect(text).not.toMatch(/prisma|invocation|refused|INSERT|\.ts:|\.js:|node_modules/i);
    const logged = logs.find((l) => l.msg === "procedure failed" && l.reqId === requestId);
    expect(logged?.err?.message).toMatch(/prisma\.patient\.create\(\)|refused \(test fault\)/);
    const [entry] = await h.entries({ requestId });
    expect(entry).toMatchObject({ action: "patient.create", outcome: "INTERNAL_SERVER_ERROR" });
  });

  it("internals: client errors carry no stack trace either", async () => {
    const err = await errorOf(reception.patient.get.query({ id: UNKNOWN }));
    expect(err.data?.code).toBe("NOT_FOUND");
    expect(err.data).not.toHaveProperty("stack");
    expect(err.shape?.data).not.toHaveProperty("stack");
  });

  it("search is literal: %, _ and \\ match themselves in patient.list, across pages", async () => {
    const made = await Promise.all([patient("Ann100%"), patient("Bo_b"), patient("Cy\\d"), patient("Plain"), patient("Plainer")]);
    const names = async (search: string) => {
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await reception.patient.list.query({ search, limit: 1, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((p) => p.firstName));
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return seen;
    };
    expect(await names("%")).toEqual(["Ann100%"]);
    expect(await names("_")).toEqual(["Bo_b"]);
    expect(await names("\\")).toEqual(["Cy\\d"]);
    expect(await names("o_b")).toEqual(["Bo_b"]);
    expect(await names("100%")).toEqual(["Ann100%"]);
    expect((await names("plain")).sort()).toEqual(["Plain", "Plainer"]);
    expect(made).toHaveLength(5);
  });

  it("search is literal: audit.list's action prefix matches itself (% and _ are no wildcards, case counts)", async () => {
    await patient("Prefix");
    await h.flush();
    expect((await auditor.audit.list.query({ action: "%.*" })).items).toEqual([]);
    expect((await auditor.audit.list.query({ action: "_atient.*" })).items).toEqual([]);
    expect((await auditor.audit.list.query({ action: "PATIENT.*" })).items).toEqual([]);
    const actions = (await auditor.audit.list.query({ action: "patient.*", limit: 200 })).items.map((e) => e.action);
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.every((a) => a.startsWith("patient."))).toBe(true);
  });

  const nulCalls: [string, () => Promise<unknown>][] = [
    ["patient.create firstName", () => reception.patient.create.mutate({ firstName: NUL, lastName: "X", dateOfBirth: "1980-01-01" })],
    ["patient.list search", () => reception.patient.list.query({ search: NUL })],
    [
      "record.create notes",
      async () => dentist.record.create.mutate({ patientId: await anyPatientId(), toothNumber: 3, procedureCode: "D2391", notes: NUL }),
    ],
    ["record.amend reason", async () => dentist.record.amend.mutate({ id: await anyRecordId(), reason: NUL, notes: "n" })],
    ["appointment.cancel reason", () => reception.appointment.cancel.mutate({ id: UNKNOWN, reason: NUL })],
    ["audit.list action", () => auditor.audit.list.query({ action: NUL })],
    ["audit.list entityId", () => auditor.audit.list.query({ entityId: NUL })],
    ["audit.purge reason", () => admin.audit.purge.mutate({ olderThan: "2000-01-01T00:00:00Z", reason: NUL })],
    ["auth.login email", () => h.client().auth.login.mutate({ email: `x${NUL}@clinic.test`, password: "p" })],
  ];
  it.each(nulCalls)("NUL in free text (%s) is BAD_REQUEST naming U+0000, audited, on every database", async (_name, call) => {
    const err = await errorOf(call());
    expect(err.data?.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(/U\+0000/);
    const [entry] = await h.entries({ requestId: err.data?.requestId as string });
    expect(entry?.outcome).toBe("BAD_REQUEST");
  });

  it("NUL in an export filter is a readable 400, not a 5xx", async () => {
    const res = await fetch(`${h.base}/audit/export?action=a%00b`, { headers: { authorization: `Bearer ${auditorToken}` } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/action: .*U\+0000/);
  });

  it("concurrent amends (20 clients, each its own record): every call ok or CONFLICT, never a 5xx; one entry per amendment", async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => h.as("dentist")));
    const patientId = await anyPatientId();
    const records = await Promise.all(
      clients.map((c, i) => c.record.create.mutate({ patientId, toothNumber: (i % 32) + 1, procedureCode: "D1110" })),
    );
    const outcomes = await Promise.all(
      clients.map(async (c, i) => {
        const mine: string[] = [];
        for (let n = 0; n < 12; n++)
          mine.push(await outcomeOf(c.record.amend.mutate({ id: records[i]?.id ?? "", reason: "concurrency", notes: `v${n}` })));
        return mine;
      }),
    );
    const all = outcomes.flat();
    const failures = logs.filter((l) => l.msg === "procedure failed").map((l) => l.err);
    expect(
      all.filter((o) => o !== "ok" && o !== "CONFLICT"),
      JSON.stringify(failures),
    ).toEqual([]);
    const ok = all.filter((o) => o === "ok").length;
    const written = await h.db.prisma.auditEntry.count({
      where: { action: "record.amend", outcome: "ok", entityId: { in: records.map((r) => r.id) } },
    });
    expect(written).toBe(ok);
    const versions = await h.db.prisma.dentalRecord.findMany({
      where: { id: { in: records.map((r) => r.id) } },
      select: { version: true },
    });
    expect(versions.reduce((sum, r) => sum + r.version - 1, 0)).toBe(ok);
  });

  it("audit.purge while the writers are busy: ok or a clear CONFLICT within the bound, never a 5xx", async () => {
    const load = (async () => {
      for (let round = 0; round < 15; round++)
        await Promise.all(Array.from({ length: 10 }, (_, i) => patient(`Busy${round}x${i}`, "Load")));
    })();
    const purges: string[] = [];
    const messages: string[] = [];
    for (let round = 0; round < 8; round++) {
      const results = await Promise.all(
        Array.from({ length: 4 }, () =>
          admin.audit.purge.mutate({ olderThan: "2000-01-01T00:00:00Z", reason: "retention test" }).then(
            () => "ok",
            async (error: unknown) => {
              const err = await errorOf(Promise.reject(error));
              messages.push(err.message);
              return err.data?.code ?? "UNKNOWN";
            },
          ),
        ),
      );
      purges.push(...results);
    }
    await load;
    expect(purges.filter((o) => o !== "ok" && o !== "CONFLICT")).toEqual([]);
    expect(
      messages.every((m) => /The purge collided with concurrent writes \d+ times in [\d.]+ s and was not made: try again\./.test(m)),
    ).toBe(true);
    const recorded = await h.entries({ action: "audit.purge.request" });
    expect(recorded.filter((e) => e.outcome === "ok")).toHaveLength(purges.filter((o) => o === "ok").length);
  });

  it("a bulk call that touched nothing leaves one entry with rows: 0", async () => {
    const p = await patient("Archived", "Already");
    await reception.patient.archive.mutate({ id: p.id });
    const result = await reception.patient.archiveMany.mutate({ ids: [p.id] });
    expect(result).toEqual({ archived: [], alreadyArchived: [p.id] });
    const entries = await h.entries({ action: "patient.archive", outcome: "ok" });
    const summary = entries.filter((e) => e.entityId === null);
    expect(summary).toHaveLength(1);
    expect(summary[0]).toMatchObject({ path: "patient.archiveMany", metadata: { rows: 0 } });
  });

  it("1 MB input to a query: the typed client sends it by POST and gets a readable BAD_REQUEST, audited", async () => {
    const err = await errorOf(reception.patient.list.query({ search: "x".repeat(1024 * 1024) }));
    expect(err.data?.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(/^Invalid input: search: Too big/);
    const [entry] = await h.entries({ requestId: err.data?.requestId as string });
    expect(entry).toMatchObject({ action: "patient.list", outcome: "BAD_REQUEST" });
  });

  it("1 MB input to a query by GET: a JSON 431 telling to use POST, audited as http.reject", async () => {
    const input = encodeURIComponent(JSON.stringify({ search: "x".repeat(1024 * 1024) }));
    const res = await fetch(`${h.base}/trpc/patient.list?input=${input}`, { headers: { authorization: `Bearer ${auditorToken}` } });
    expect(res.status).toBe(431);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error).toMatchObject({ code: "REQUEST_HEADER_FIELDS_TOO_LARGE", message: expect.stringMatching(/by POST/) });
    const entries = await h.entries({ action: "http.reject" });
    expect(entries.at(-1)).toMatchObject({ entity: "Request", outcome: "REQUEST_HEADER_FIELDS_TOO_LARGE" });
  });

  it("a body over the limit gets a JSON PAYLOAD_TOO_LARGE, audited", async () => {
    const err = await errorOf(reception.patient.list.query({ search: "x".repeat(3 * 1024 * 1024) }));
    expect(err.data?.code).toBe("PAYLOAD_TOO_LARGE");
    const [entry] = await h.entries({ requestId: err.data?.requestId as string });
    expect(entry).toMatchObject({ action: "patient.list", outcome: "PAYLOAD_TOO_LARGE" });
  });

  it("auth.login is strict: unknown keys are BAD_REQUEST, audited", async () => {
    const login = { email: "reception@clinic.test", password: "reception-demo-pass", role: "admin" } as { email: string; password: string };
    const err = await errorOf(h.client().auth.login.mutate(login));
    expect(err.data?.code).toBe("BAD_REQUEST");
    expect(err.message).toMatch(/Unrecognized key.*role/);
    const [entry] = await h.entries({ requestId: err.data?.requestId as string });
    expect(entry).toMatchObject({ action: "auth.login", outcome: "BAD_REQUEST" });
  });

  it("export errors are readable: one line per issue, no regular expressions", async () => {
    const res = await fetch(`${h.base}/audit/export?format=xml&from=yesterday`, { headers: { authorization: `Bearer ${auditorToken}` } });
    expect(res.status).toBe(400);
    const { error } = (await res.json()) as { error: { message: string; issues: { path: string; message: string }[] } };
    expect(error.message).toMatch(/^Invalid export parameters: format: .*"ndjson".*; from: expected an ISO 8601 date-time with offset$/);
    expect(error.message).not.toMatch(/\^|\\d|pattern/);
    expect(error.issues.map((i) => i.path)).toEqual(["format", "from"]);
  });

  it("CSV export guards cells against spreadsheet formula injection", async () => {
    const call = (headers: Record<string, string>) =>
      fetch(`${h.base}/trpc/patient.list`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${receptionToken}`, ...headers },
        body: "{}",
      });
    for (const ua of ['=HYPERLINK("http://evil")', "+1+cmd", "@SUM(A1)"]) expect((await call({ "user-agent": ua })).status).toBe(200);
    expect((await call({ "x-request-id": "-2-csv" })).status).toBe(200);
    await h.flush();
    const csv = await (
      await fetch(`${h.base}/audit/export?format=csv&action=patient.list`, { headers: { authorization: `Bearer ${auditorToken}` } })
    ).text();
    expect(csv).toContain(`"'=HYPERLINK(""http://evil"")"`);
    expect(csv).toContain(`"'+1+cmd"`);
    expect(csv).toContain(`"'@SUM(A1)"`);
    expect(csv).toContain(`"'-2-csv"`);
    expect(csv).not.toMatch(/(^|,)[=+@-]/m);
  });

  it("audit:purge -- --older-than-days 45 works as README writes it, and records the purge", async () => {
    const { stdout } = await run(
      "npx",
      ["-y", "pnpm@12.4.2", "--filter", "@auditrail/api", "audit:purge", "--", "--older-than-days", "45"],
      {
        cwd: REPO,
        env: { ...process.env, DATABASE_URL: h.db.url },
      },
    );
    const id = /purged \d+ entries older than .* \(purge entry ([\w-]+)[,)]/.exec(stdout)?.[1];
    expect(id).toBeDefined();
    const entry = await auditor.audit.get.query({ id: id ?? "" });
    expect(entry).toMatchObject({ action: "audit.purge", actorId: "cli", metadata: { reason: "retention: older than 45 days" } });
  });

  it("audit:purge --help prints the usage and exits 0; a bad value exits 2 with the usage", async () => {
    const { stdout } = await run("npx", ["-y", "pnpm@12.4.2", "--filter", "@auditrail/api", "audit:purge", "--", "--help"], { cwd: REPO });
    expect(stdout).toMatch(/usage: audit:purge -- --older-than-days <N ≥ 30>/);
    const failed = await run("npx", ["-y", "pnpm@12.4.2", "--filter", "@auditrail/api", "audit:purge", "--", "--older-than-days", "7"], {
      cwd: REPO,
      env: { ...process.env, DATABASE_URL: h.db.url },
    }).then(
      () => undefined,
      (error: { code?: number; stderr?: string }) => error,
    );
    expect(failed?.stderr).toMatch(/usage: audit:purge/);
  });

  async function anyPatientId(): Promise<string> {
    const p = await h.db.prisma.patient.findFirstOrThrow({ where: { archivedAt: null }, select: { id: true } });
    return p.id;
  }
  async function anyRecordId(): Promise<string> {
    const r = await dentist.record.create.mutate({ patientId: await anyPatientId(), toothNumber: 4, procedureCode: "D2391" });
    return r.id;
  }
});
