import { ChainStream, type EntryWithJsonText, canonicalJson, chainHashOfJsonText, stampEvent } from "@auditrail/audit-core";
import pg from "pg";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSink } from "./sink.ts";
import { type TestDatabase, createTestDatabase, runRawSql, testProviders } from "./testing.ts";
import { type TextRow, type TrailRows, openTrailRows, parsedRow } from "./trail-rows.ts";

describe("SQLite's json_valid, which lets verify hash JSON text as stored", () => {
  it("takes exactly the texts JSON.parse takes as one whole value: RFC 8259, no JSON5, no fragments", () => {
    const db = new Database(":memory:");
    const valid = (text: string) => db.prepare("SELECT json_valid(?) AS v").get(text) as { v: number };
    const texts = [
      '{"a":1}',
      ' [1, {"b": "x"}] ',
      '"text"',
      "-0",
      "1e999",
      '"\\ud800"',
      "null",
      // fragments: text moved across a column boundary
      '{"a":1',
      '2},"before":null',
      '1,"x":2',
      "",
      "1 2",
      // JSON5 and other near-JSON
      "{a:1}",
      "[1,]",
      '{"a":1,}',
      "'x'",
      "0x10",
      "Infinity",
      "NaN",
      "+1",
      ".5",
      "1.",
      "01",
      '"\\x41"',
      '"tab\there"',
      '{"a":1}/* c */',
      '{"a":1}\u00a0',
    ];
    for (const text of texts) {
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      expect([text, valid(text).v]).toEqual([text, parses ? 1 : 0]);
    }
    db.close();
  });
});

/** Every row walk gives for `streamId`. */
async function walked(rows: TrailRows, streamId: string, pageSize = 10): Promise<TextRow[]> {
  const all: TextRow[] = [];
  for await (const page of rows.walk(streamId, pageSize)) all.push(...page);
  return all;
}

/** Three linked entries (an object, a string and no `after`) written by the sink, on a fresh database. */
function sampleTrail(provider: "sqlite" | "postgresql", afterWrite?: string) {
  const stream = new ChainStream();
  const linked = stream.link(
    [{ b: 1, a: [true, null] }, "text", null].map((after) =>
      stampEvent({ action: "patient.update", entity: "Patient", after, metadata: { z: 1, y: "é" } }, undefined),
    ),
  );
  const open = async (): Promise<{ db: TestDatabase; rows: TrailRows }> => {
    const db = await createTestDatabase(provider);
    const sink = createSink({ url: db.url });
    await sink.write(linked);
    await sink.close();
    if (afterWrite) await runRawSql(db.url, afterWrite);
    return { db, rows: await openTrailRows(db.url) };
  };
  return { stream, linked, open };
}

describe("walk on SQLite", () => {
  let db: TestDatabase;
  let rows: TrailRows;
  const { stream, open } = sampleTrail("sqlite", `UPDATE "AuditEntry" SET "metadata" = '{"z":1' WHERE "seq" = 3`);
  beforeAll(async () => {
    ({ db, rows } = await open());
  });
  afterAll(async () => {
    await rows?.close();
    await db?.drop();
  });

  it("gives each JSON column's text as the sink stored it (canonical), flagged valid when each is one JSON value", async () => {
    const page = await walked(rows, stream.streamId);
    expect(page.map((r) => [r.after, r.metadata, r.jsonValid])).toEqual([
      ['{"a":[true,null],"b":1}', '{"y":"é","z":1}', true],
      ['"text"', canonicalJson({ z: 1, y: "é" }), true],
      [null, '{"z":1', false],
    ]);
  });

  it("parsedRow gives what page gives", async () => {
    const pages: (readonly TextRow[])[] = [];
    for await (const page of rows.walk(stream.streamId, 2)) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    expect(pages[0]?.map(parsedRow)).toEqual(await rows.page(stream.streamId, { seq: 0, id: "" }, 2));
    const broken = pages[1]?.[0];
    expect(() => parsedRow(broken as TextRow)).toThrow(SyntaxError);
  });
});

describe.runIf(testProviders().includes("postgresql"))("walk on PostgreSQL", () => {
  let db: TestDatabase;
  let rows: TrailRows;
  const { stream, linked, open } = sampleTrail("postgresql");
  beforeAll(async () => {
    ({ db, rows } = await open());
  });
  afterAll(async () => {
    await rows?.close();
    await db?.drop();
  });

  it("gives each json column's text as the sink stored it (canonical), flagged valid: the json type takes nothing but one whole value", async () => {
    const page = await walked(rows, stream.streamId);
    expect(page.map((r) => [r.after, r.metadata, r.jsonValid])).toEqual([
      ['{"a":[true,null],"b":1}', '{"y":"é","z":1}', true],
      ['"text"', '{"y":"é","z":1}', true],
      [null, '{"y":"é","z":1}', true],
    ]);
    expect(page.map(parsedRow)).toEqual(await rows.page(stream.streamId, { seq: 0, id: "" }, 10));
  });

  it("fails the call in progress when the server ends its connection, and the process gets no unhandled 'error'", async () => {
    // pg emits a dropped connection's error on the client as well: without a listener the verify
    // thread (or the API process) would crash instead of reporting a failed verify.
    const uncaught: unknown[] = [];
    const onUncaught = (error: unknown) => uncaught.push(error);
    process.on("uncaughtException", onUncaught);
    const url = new URL(db.url);
    url.searchParams.set("application_name", "verify-under-test");
    const fresh = await openTrailRows(url.toString());
    try {
      const admin = new pg.Client({ connectionString: db.ownerUrl });
      await admin.connect();
      const ended = await admin.query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'verify-under-test'",
      );
      await admin.end();
      expect(ended.rowCount).toBe(1);
      await expect(fresh.streams()).rejects.toThrow();
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
      await fresh.close().catch(() => undefined);
    }
  });

  it("flags no row valid once a JSON column is no longer json (made text or jsonb); parsedRow still gives the values written", async () => {
    for (const type of ["text", "jsonb"]) {
      await runRawSql(db.url, `ALTER TABLE "AuditEntry" ALTER COLUMN "metadata" TYPE ${type} USING "metadata"::text::${type}`);
      const fresh = await openTrailRows(db.url);
      try {
        const page = await walked(fresh, stream.streamId);
        expect(page.map((r) => r.jsonValid)).toEqual([false, false, false]);
        expect(page.map((r) => parsedRow(r).metadata)).toEqual(linked.map((e) => e.metadata));
      } finally {
        await fresh.close();
      }
    }
  });
});

describe.runIf(testProviders().includes("postgresql"))("walk on PostgreSQL (COPY) with text COPY must escape", () => {
  /** Text holding every character COPY TO escapes, others it does not, and multi-byte ones. */
  const nasty = "tab\there\nnewline\rCR\\backslash \\N \b\f\v \u0001\u001f\u007f \uFFFD 😀👩‍👩‍👧 é 漢字 \u2028 '\"";
  const stream = new ChainStream();
  const linked = stream.link([
    stampEvent(
      {
        action: nasty,
        entity: "Patient",
        entityId: "\\N",
        requestId: "",
        path: "\\",
        durationMs: 0.1 + 0.2,
        actor: { id: nasty, role: "N" },
        before: { [nasty]: nasty, b: [1e21, -0, 0.1, 1.5e-7, 123456789012345680000], a: { "\\": "\\\\" } },
        after: nasty,
        diff: [null, true, "", "\t"],
        metadata: { z: "\uFFFD", y: "😀" },
        userAgent: "\t\n",
      },
      undefined,
    ),
    stampEvent({ action: "plain", entity: "Patient", durationMs: 1e-7 }, undefined),
  ]);
  let db: TestDatabase;
  let rows: TrailRows;
  beforeAll(async () => {
    db = await createTestDatabase("postgresql");
    const sink = createSink({ url: db.url });
    await sink.write(linked);
    await sink.close();
    rows = await openTrailRows(db.url);
  });
  afterAll(async () => {
    await rows?.close();
    await db?.drop();
  });

  it("gives every value as the query path does, the JSON text as stored: each row still gives its chain hash as it is", async () => {
    const got = await walked(rows, stream.streamId);
    expect(got.map(parsedRow)).toEqual(await rows.page(stream.streamId, { seq: 0, id: "" }, 10));
    expect(got.map((r) => r.jsonValid)).toEqual([true, true]);
    expect(got[0]?.action).toBe(nasty);
    expect(got[0]?.durationMs).toBe(0.1 + 0.2);
    for (const row of got) expect(chainHashOfJsonText(row as EntryWithJsonText, stream.streamId, row.prevHash)).toBe(row.hash);
  });

  it("gives a json column's stored text exactly, whitespace, tabs, newlines and backslashes included", async () => {
    const stored = '{ "b" :\t1,\n\r "a": "\\\\ \\" \\t \\u00e9 é 😀" }\t';
    await runRawSql(db.url, `UPDATE "AuditEntry" SET "metadata" = '${stored.replaceAll("'", "''")}' WHERE "seq" = 2`);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const text = (await client.query<{ m: string }>(`SELECT "metadata"::text AS m FROM "AuditEntry" WHERE "seq" = 2`)).rows[0]?.m;
    await client.end();
    expect(text).toBe(stored);
    expect((await walked(rows, stream.streamId, 1))[1]?.metadata).toBe(stored);
  });
});
