import { createDatabase } from "@auditrail/db";
import { testProviders } from "@auditrail/db/testing";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Client, type Harness, startHarness } from "./harness.ts";

interface LogLine {
  msg: string;
  reqId?: string;
  url?: string;
  status?: number;
  ms?: number;
}

describe.each(testProviders())("the HTTP server on %s", (provider) => {
  let h: Harness;
  let reception: Client;
  let token: string;
  const logs: LogLine[] = [];
  beforeAll(async () => {
    const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
    h = await startHarness(provider, { logger });
    ({ token } = await h.client().auth.login.mutate({ email: "reception@clinic.test", password: "reception-demo-pass" }));
    reception = h.client(token);
  });
  afterAll(() => h?.close());

  const createPatient = (headers: Record<string, string> = {}) =>
    fetch(`${h.base}/trpc/patient.create`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify({ firstName: "Req", lastName: "Trace", dateOfBirth: "1999-09-09" }),
    });

  it("a request id given in x-request-id is echoed, logged with the request, and stamped on its audit entry", async () => {
    const res = await createPatient({ "x-request-id": "req-trace-0001", "user-agent": "front-desk/2.1" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-request-id")).toBe("req-trace-0001");
    const { result } = (await res.json()) as { result: { data: { id: string } } };
    const line = logs.find((l) => l.msg === "request" && l.reqId === "req-trace-0001");
    expect(line).toMatchObject({ url: "/trpc/patient.create", status: 200, ms: expect.any(Number) });
    const [entry] = await h.entries({ requestId: "req-trace-0001" });
    expect(entry).toMatchObject({ action: "patient.create", entityId: result.data.id, userAgent: "front-desk/2.1" });
    expect(entry?.ip).toMatch(/127\.0\.0\.1/);
  });

  it("a request without a (valid) id gets a fresh one, the same in the header, the log and the entry", async () => {
    const res = await createPatient({ "x-request-id": "has spaces, not valid" });
    const id = res.headers.get("x-request-id") ?? "";
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(logs.some((l) => l.msg === "request" && l.reqId === id)).toBe(true);
    expect(await h.entries({ requestId: id })).toHaveLength(1);
  });

  it("GET /metrics exposes the writers' statistics, requests and latency per procedure, and audit events by outcome", async () => {
    await reception.patient.list.query({});
    const text = await (await fetch(`${h.base}/metrics`)).text();
    expect(text).toMatch(/^auditrail_entries_recorded_total\{mode="async"\} \d+$/m);
    expect(text).toMatch(/^auditrail_batch_write_seconds\{mode="async",quantile="0.99"\} [\d.e-]+$/m);
    expect(text).toMatch(/^auditrail_batch_write_seconds_count\{mode="async"\} \d+$/m);
    expect(text).toMatch(/^auditrail_entries_written_total\{mode="sync"\} \d+$/m);
    expect(text).toMatch(/^http_requests_total\{route="\/trpc\/patient.list",status="200"\} \d+$/m);
    expect(text).toMatch(/^http_request_duration_seconds_count\{route="\/trpc\/patient.create"\} \d+$/m);
    expect(text).toMatch(/^auditrail_api_audit_events_total\{outcome="ok"\} \d+$/m);
    expect(text).toMatch(/^auditrail_seals_total \d+$/m);
    expect(text).toMatch(/^auditrail_seal_number \d+$/m);
  });

  it("unknown routes are 404 and are counted under one label", async () => {
    expect((await fetch(`${h.base}/nope/${Math.random()}`)).status).toBe(404);
    const text = await (await fetch(`${h.base}/metrics`)).text();
    expect(text).toMatch(/^http_requests_total\{route="other",status="404"\} 1$/m);
  });

  it("graceful shutdown: in-flight calls finish, new connections are refused, and every entry is written", async () => {
    const n = 12;
    let arrived = 0;
    const allArrived = new Promise<void>((resolve) =>
      h.app.server.on("request", () => {
        if (++arrived === n) resolve();
      }),
    );
    const calls = Array.from({ length: n }, () => createPatient({ "x-request-id": `shutdown-${Math.random().toString(36).slice(2)}` }));
    await allArrived;
    const report = await h.app.close({ deadlineMs: 5_000 });
    const responses = await Promise.all(calls);
    expect(responses.map((r) => r.status)).toEqual(Array(n).fill(200));
    expect(report.requestsFinished).toBe(true);
    expect(report.writers.async?.drained).toBe(true);
    await expect(fetch(`${h.base}/health`)).rejects.toThrow();
    const db = createDatabase(h.db.url);
    try {
      const ids = await Promise.all(responses.map(async (r) => r.headers.get("x-request-id") ?? ""));
      expect(await db.prisma.auditEntry.count({ where: { action: "patient.create", requestId: { in: ids } } })).toBe(n);
    } finally {
      await db.close();
    }
  });
});
