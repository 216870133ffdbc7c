import type { AuditEvent } from "@auditrail/audit-core";
import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RouterInputs, RouterOutputs } from "../src/router.ts";
import { type Client, type Harness, errorOf, startHarness } from "./harness.ts";

type Entry = RouterOutputs["audit"]["list"]["items"][number];
type Filter = Omit<RouterInputs["audit"]["list"], "cursor" | "limit">;

/** RFC 4180: quoted fields may hold commas, doubled quotes and line breaks. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(field);
      field = "";
    } else if (c === "\r" && text[i + 1] === "\n") {
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
      i++;
    } else field += c;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

const JSON_COLUMNS = new Set(["before", "after", "diff", "metadata"]);

describe.each(testProviders())("audit procedures and export over HTTP on %s", (provider) => {
  let h: Harness;
  let auditor: Client;
  let auditorToken: string;
  const base = Date.parse("2030-06-01T12:00:00.000Z");

  const seed = async (entity: string, n: number, over: (i: number) => Partial<AuditEvent> = () => ({})) => {
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        h.writer.record({
          action: "seed.event",
          entity,
          entityId: `e-${i}`,
          actor: { id: `actor-${i % 3}`, role: "seeder" },
          occurredAt: new Date(base + i * 1000),
          metadata: { i, note: 'commas, "quotes"\nand lines' },
          after: { n: i, nested: { ok: true } },
          ...over(i),
        }),
      ),
    );
    await h.flush();
  };

  const walk = async (filter: Filter, limit: number, between?: () => Promise<void>) => {
    const ids: string[] = [];
    const items: Entry[] = [];
    let cursor: string | undefined;
    do {
      const page = await auditor.audit.list.query({ ...filter, limit, ...(cursor ? { cursor } : {}) });
      items.push(...page.items);
      ids.push(...page.items.map((e) => e.id));
      cursor = page.nextCursor ?? undefined;
      if (between) await between();
    } while (cursor);
    return { ids, items };
  };

  beforeAll(async () => {
    h = await startHarness(provider);
    const login = await h.client().auth.login.mutate({ email: "auditor@clinic.test", password: "auditor-demo-pass" });
    auditorToken = login.token;
    auditor = h.client(auditorToken);
  });
  afterAll(() => h?.close());

  it("only auditors and admins read the trail; everyone else is FORBIDDEN, and each attempt is audited", async () => {
    for (const role of ["dentist", "hygienist", "receptionist"] as const) {
      const c = await h.as(role);
      expect((await errorOf(c.audit.list.query({}))).data?.code).toBe("FORBIDDEN");
    }
    await (await h.as("admin")).audit.list.query({});
    await auditor.audit.list.query({});
    const denied = await h.entries({ action: "audit.list", outcome: "FORBIDDEN" });
    expect(denied.map((e) => e.actorRole).sort()).toEqual(["dentist", "hygienist", "receptionist"]);
    expect(await h.entries({ action: "audit.list", outcome: "ok" })).toHaveLength(2);
  });

  it("list filters by actor, entity, entity id, action (exact or prefix), outcome and time range", async () => {
    await seed("Filtered", 12, (i) => ({
      action: i % 2 ? "seed.odd" : "seed.even",
      outcome: i % 4 === 3 ? "FORBIDDEN" : "ok",
    }));
    const count = async (filter: Filter) => (await walk({ entity: "Filtered", ...filter }, 200)).ids.length;
    expect(await count({})).toBe(12);
    expect(await count({ actorId: "actor-1" })).toBe(4);
    expect(await count({ entityId: "e-5" })).toBe(1);
    expect(await count({ action: "seed.odd" })).toBe(6);
    expect(await count({ action: "seed.*" })).toBe(12);
    expect(await count({ outcome: "FORBIDDEN" })).toBe(3);
    expect(await count({ outcome: "failed" })).toBe(3);
    expect(await count({ outcome: "ok" })).toBe(9);
    expect(await count({ from: new Date(base + 2000).toISOString(), to: new Date(base + 5000).toISOString() })).toBe(3);
  });

  it("cursor pagination returns every entry exactly once, newest first, while new entries keep arriving", async () => {
    await seed("Paged", 230);
    let late = 0;
    const { ids, items } = await walk({ entity: "Paged" }, 40, async () => {
      // Entries arriving mid-walk: newer ones (before the cursor) and late writes stamped earlier.
      await seed("Paged", 2, (i) => ({ entityId: `late-${late++}`, occurredAt: new Date(i ? Date.now() : base - 3_600_000) }));
    });
    expect(new Set(ids).size).toBe(ids.length);
    const original = items.filter((e) => e.entityId?.startsWith("e-"));
    expect(original).toHaveLength(230);
    const keys = items.map((e) => `${e.occurredAt}|${e.id}`);
    expect(keys).toEqual([...keys].sort().reverse());
  });

  it("get returns one entry; an unknown id is NOT_FOUND", async () => {
    const [first] = (await auditor.audit.list.query({ entity: "Paged", limit: 1 })).items;
    expect(await auditor.audit.get.query({ id: first?.id ?? "" })).toEqual(first);
    const err = await errorOf(auditor.audit.get.query({ id: "01900000-0000-7000-8000-000000000000" }));
    expect(err.data?.code).toBe("NOT_FOUND");
  });

  it("stats counts entries by outcome and action over a range, with the writers' statistics", async () => {
    const stats = await auditor.audit.stats.query({ from: new Date(base).toISOString(), to: new Date(base + 12_000).toISOString() });
    expect(stats.byAction).toEqual(
      expect.arrayContaining([
        { action: "seed.odd", count: 6 },
        { action: "seed.even", count: 6 },
      ]),
    );
    expect(stats.byOutcome.FORBIDDEN).toBe(3);
    expect(stats.writers.async.written).toBeGreaterThan(0);
    expect(stats.writers).toHaveProperty("sync");
  });

  it("export streams NDJSON that parses back to exactly the entries audit.list returns", async () => {
    const listed = (await walk({ entity: "Paged" }, 200)).items;
    const res = await fetch(`${h.base}/audit/export?format=ndjson&entity=Paged`, { headers: { authorization: `Bearer ${auditorToken}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/application\/x-ndjson/);
    const lines = (await res.text()).split("\n").filter(Boolean);
    const exported = lines.map((l) => JSON.parse(l) as Entry & Chain);
    // Each carries its chain fields (for audit:verify --export); the rest is what audit.list gives.
    for (const e of exported)
      expect(e).toMatchObject({ streamId: expect.any(String), seq: expect.any(Number), hash: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(exported.map(withoutChain)).toEqual(listed);
  });

  it("export streams CSV that parses back to exactly the entries audit.list returns", async () => {
    const filter = { entity: "Filtered", outcome: "ok" };
    const listed = (await walk(filter, 200)).items;
    const res = await fetch(`${h.base}/audit/export?format=csv&entity=Filtered&outcome=ok`, {
      headers: { authorization: `Bearer ${auditorToken}` },
    });
    expect(res.headers.get("content-type")).toMatch(/text\/csv/);
    const [header, ...rows] = parseCsv(await res.text());
    const parsed = rows.map((cells) =>
      Object.fromEntries(
        (header ?? []).map((column, i) => {
          const cell = cells[i] ?? "";
          if (cell === "") return [column, null];
          if (JSON_COLUMNS.has(column)) return [column, JSON.parse(cell)];
          return [column, column === "durationMs" || column === "seq" ? Number(cell) : cell];
        }),
      ),
    ) as (Entry & Chain)[];
    expect(header?.slice(-4)).toEqual(["streamId", "seq", "prevHash", "hash"]);
    expect(parsed.map(withoutChain)).toEqual(listed);
  });

  it("export refuses a missing token (401), a role without audit access (403) and a bad filter (400), auditing each", async () => {
    expect((await fetch(`${h.base}/audit/export`)).status).toBe(401);
    const { token } = await h.client().auth.login.mutate({ email: "dentist@clinic.test", password: "dentist-demo-pass" });
    const forbidden = await fetch(`${h.base}/audit/export`, { headers: { authorization: `Bearer ${token}` } });
    expect(forbidden.status).toBe(403);
    const bad = await fetch(`${h.base}/audit/export?format=xml&from=yesterday`, { headers: { authorization: `Bearer ${auditorToken}` } });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("BAD_REQUEST");
    expect(body.error.message).toMatch(/format/);
    expect(body.error.message).toMatch(/from/);
    const outcomes = (await h.entries({ action: "audit.export" })).map((e) => e.outcome);
    expect(outcomes).toEqual(expect.arrayContaining(["UNAUTHORIZED", "FORBIDDEN", "BAD_REQUEST"]));
  });

  it("an export is itself audited, with its format, filter and row count", async () => {
    const res = await fetch(`${h.base}/audit/export?format=ndjson&entity=Filtered`, {
      headers: { authorization: `Bearer ${auditorToken}` },
    });
    const n = (await res.text()).split("\n").filter(Boolean).length;
    const entry = (await h.entries({ action: "audit.export", outcome: "ok" })).at(-1);
    expect(entry).toMatchObject({ actorRole: "auditor", metadata: { format: "ndjson", filter: { entity: "Filtered" }, count: n } });
  });
});

interface Chain {
  streamId: string | null;
  seq: number | null;
  prevHash: string | null;
  hash: string | null;
}

function withoutChain<T extends Chain>(entry: T): Omit<T, keyof Chain> {
  const { streamId: _s, seq: _q, prevHash: _p, hash: _h, ...rest } = entry;
  return rest;
}
