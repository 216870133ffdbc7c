import { describe, expect, it } from "vitest";
import { ENTRY_FIELDS, canonicalJson } from "@auditrail/audit-core";
import { AUDIT_COLUMNS, JSON_COLUMNS, type SinkEntry, auditRow, copyField, copyText } from "./audit-rows.ts";

const entry: SinkEntry = {
  id: "id-1",
  occurredAt: "2026-12-01T05:00:00.000Z",
  actorId: "actor",
  actorRole: "role",
  action: "act",
  entity: "Ent",
  entityId: "eid",
  outcome: "ok",
  path: "p",
  durationMs: 1.5,
  before: { b: 1 },
  after: { a: 2 },
  diff: { d: 3 },
  metadata: { m: 4 },
  requestId: "req",
  ip: "ip",
  userAgent: "ua",
  streamId: "s",
  seq: 7,
  prevHash: "prev",
  hash: "hash",
};

describe("audit rows", () => {
  it("have a column for every field the chain hashes (the schema's) and for the chain link, and no other", () => {
    expect([...AUDIT_COLUMNS].sort()).toEqual([...ENTRY_FIELDS, "streamId", "seq", "prevHash", "hash"].sort());
    expect([...JSON_COLUMNS].sort()).toEqual(["after", "before", "diff", "metadata"]);
  });

  it("put every column's value at its AUDIT_COLUMNS position, JSON as its canonical text", () => {
    const row = auditRow(entry);
    expect(row).toHaveLength(AUDIT_COLUMNS.length);
    AUDIT_COLUMNS.forEach((column, i) => {
      const value = entry[column];
      expect(row[i]).toEqual(typeof value === "object" && value !== null ? canonicalJson(value) : value);
    });
  });

  it("JSON columns hold the canonical text the chain hash covers (both sinks: SQLite's text, PostgreSQL's json)", () => {
    const row = auditRow({ ...entry, after: { z: [1, { y: 2, x: 1 }], a: "é" }, metadata: null });
    expect(row[AUDIT_COLUMNS.indexOf("after")]).toBe('{"a":"é","z":[1,{"x":1,"y":2}]}');
    expect(row[AUDIT_COLUMNS.indexOf("metadata")]).toBeNull();
  });

  it("write absent optional fields and the chain link as NULL", () => {
    const { streamId: _s, seq: _q, prevHash: _p, hash: _h, ...bare } = entry;
    const row = auditRow({ ...bare, metadata: null, entityId: null });
    for (const column of ["streamId", "seq", "prevHash", "hash", "metadata", "entityId"] as const) {
      expect(row[AUDIT_COLUMNS.indexOf(column)]).toBeNull();
    }
  });

  it("escape COPY text fields: NULL is \\N, the text \\N is not", () => {
    expect(copyField(null)).toBe("\\N");
    expect(copyField("\\N")).toBe("\\\\N");
    expect(copyField("a\tb\nc\rd\\e")).toBe("a\\tb\\nc\\rd\\\\e");
    expect(copyField(1.5)).toBe("1.5");
  });

  it("make one tab-separated line per entry", () => {
    const lines = copyText([entry, entry]).split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[2]).toBe("");
    expect(lines[0]?.split("\t")).toHaveLength(AUDIT_COLUMNS.length);
  });
});
