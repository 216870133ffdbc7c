import { describe, expect, it } from "vitest";
import { EntryTooLargeError, InvalidAuditEventError } from "./errors.ts";
import { AuditEntrySchema, AuditEventSchema, DEFAULT_MAX_ENTRY_BYTES, isPlainValidEvent, normalizeText, stampEvent } from "./event.ts";

function issuesOf(event: unknown): readonly string[] {
  try {
    stampEvent(event, undefined);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidAuditEventError);
    return (error as InvalidAuditEventError).issues;
  }
  throw new Error("expected InvalidAuditEventError");
}

describe("stampEvent", () => {
  it("stamps a fresh UUIDv7, the current time and null for every absent field", () => {
    const before = Date.now();
    const entry = stampEvent({ action: "auth.login", entity: "User" }, undefined);
    expect(entry.id).toMatch(/^[0-9a-f-]{14}7/);
    const at = Date.parse(entry.occurredAt);
    expect(at).toBeGreaterThanOrEqual(before);
    expect(at).toBeLessThanOrEqual(Date.now());
    expect(entry).toEqual({
      id: entry.id,
      occurredAt: entry.occurredAt,
      action: "auth.login",
      entity: "User",
      entityId: null,
      outcome: "ok",
      actorId: null,
      actorRole: null,
      path: null,
      durationMs: null,
      before: null,
      after: null,
      diff: null,
      metadata: null,
      requestId: null,
      ip: null,
      userAgent: null,
    });
    expect(AuditEntrySchema.parse(entry)).toEqual(entry);
  });

  it("keeps every given field, JSON payloads included", () => {
    const entry = stampEvent(
      {
        action: "patient.update",
        entity: "Patient",
        entityId: "p1",
        outcome: "FORBIDDEN",
        actor: { id: "u1", role: "nurse" },
        path: "patient.update",
        durationMs: 12.5,
        before: { name: "A" },
        after: { name: "B" },
        diff: [{ op: "replace", path: "/name", value: "B" }],
        metadata: { tags: ["x"], n: 1, ok: true, none: null },
        requestId: "r",
        ip: "::1",
        userAgent: "ua",
      },
      undefined,
    );
    expect(entry).toMatchObject({
      entityId: "p1",
      outcome: "FORBIDDEN",
      actorId: "u1",
      actorRole: "nurse",
      path: "patient.update",
      durationMs: 12.5,
      before: { name: "A" },
      after: { name: "B" },
      metadata: { tags: ["x"], n: 1, ok: true, none: null },
      requestId: "r",
      ip: "::1",
      userAgent: "ua",
    });
  });

  it("normalises occurredAt given as a Date or an ISO string with offset to UTC ISO", () => {
    expect(stampEvent({ action: "a", entity: "E", occurredAt: new Date(Date.UTC(2024, 4, 1)) }, undefined).occurredAt).toBe(
      "2024-05-01T00:00:00.000Z",
    );
    expect(stampEvent({ action: "a", entity: "E", occurredAt: "2024-05-01T02:00:00+02:00" }, undefined).occurredAt).toBe(
      "2024-05-01T00:00:00.000Z",
    );
  });

  it("rejects a missing action, naming the field", () => {
    const issues = issuesOf({ entity: "Patient" });
    expect(issues).toHaveLength(1);
    expect(issues[0]).toMatch(/^action: /);
  });

  it("rejects an oversized entity and a bad occurredAt, naming each field", () => {
    const issues = issuesOf({ action: "a", entity: "E".repeat(129), occurredAt: "yesterday" });
    expect(issues.map((i) => i.split(":")[0])).toEqual(["entity", "occurredAt"]);
    expect(issues[0]).toMatch(/128/);
  });

  it("rejects an invalid Date, a negative duration and non-JSON payloads", () => {
    const issues = issuesOf({ action: "a", entity: "E", occurredAt: new Date("nope"), durationMs: -1, metadata: { f: () => 1 } });
    expect(issues.map((i) => i.split(":")[0])).toEqual(["durationMs", "metadata", "occurredAt"]);
  });

  it("rejects what is not an object at all", () => {
    expect(issuesOf(null)[0]).toMatch(/^\(event\): /);
  });

  it("lists every issue in the error message", () => {
    const error = new InvalidAuditEventError(["action: Required", "entity: Too big"]);
    expect(error.message).toBe("Invalid audit event:\n- action: Required\n- entity: Too big");
    expect(error.code).toBe("ERR_AUDIT_INVALID_EVENT");
  });
});

describe("the hot-path shortcut (isPlainValidEvent)", () => {
  const base = { action: "patient.update", entity: "Patient" };
  const variants: [string, unknown][] = [
    ["minimal", base],
    [
      "full",
      {
        ...base,
        entityId: "p-1",
        outcome: "ok",
        actor: { id: "u", role: "dentist" },
        path: "patient.update",
        durationMs: 1.5,
        before: { a: 1 },
        after: { a: [1, "x", null, true] },
        diff: null,
        metadata: {},
        requestId: "r",
        ip: "::1",
        userAgent: "ua",
      },
    ],
    ["empty action", { ...base, action: "" }],
    ["long action", { ...base, action: "a".repeat(129) }],
    ["action not a string", { ...base, action: 42 }],
    ["missing entity", { action: "a" }],
    ["entityId too long", { ...base, entityId: "x".repeat(257) }],
    ["empty outcome", { ...base, outcome: "" }],
    ["null entityId", { ...base, entityId: null }],
    ["negative duration", { ...base, durationMs: -1 }],
    ["NaN duration", { ...base, durationMs: Number.NaN }],
    ["actor without id", { ...base, actor: { role: "x" } }],
    ["actor null", { ...base, actor: null }],
    ["role too long", { ...base, actor: { id: "u", role: "r".repeat(65) } }],
    ["function in before", { ...base, before: { f: () => 1 } }],
    ["date in after", { ...base, after: { at: new Date() } }],
    ["infinite in diff", { ...base, diff: { n: Number.POSITIVE_INFINITY } }],
    ["occurredAt given", { ...base, occurredAt: new Date() }],
    ["not an object", "patient.update"],
    ["null", null],
  ];

  it.each(variants)("never accepts what the schema rejects: %s", (_name, event) => {
    if (isPlainValidEvent(event)) expect(AuditEventSchema.safeParse(event).success).toBe(true);
  });

  it("takes the shortcut for ordinary events, so the schema is not run on the hot path", () => {
    expect(isPlainValidEvent(variants[0]?.[1])).toBe(true);
    expect(isPlainValidEvent(variants[1]?.[1])).toBe(true);
  });

  it("stamps the same entry whichever path an event takes", () => {
    const event = { ...base, entityId: "p-1", before: { a: 1 } };
    const viaShortcut = stampEvent(event, undefined);
    const viaSchema = stampEvent({ ...event, occurredAt: viaShortcut.occurredAt }, undefined);
    expect({ ...viaSchema, id: "" }).toEqual({ ...viaShortcut, id: "" });
  });
});

describe("one text form (normalizeText, in stampEvent)", () => {
  it("replaces lone surrogates and U+0000 by U+FFFD, keeps well-formed pairs, and returns the same string when clean", () => {
    expect(normalizeText("a\ud800b")).toBe("a\ufffdb");
    expect(normalizeText("a\udc00")).toBe("a\ufffd");
    expect(normalizeText("\udc00\ud800")).toBe("\ufffd\ufffd");
    expect(normalizeText("x\u0000y")).toBe("x\ufffdy");
    expect(normalizeText("smile \ud83d\ude00")).toBe("smile \ud83d\ude00");
    const clean = "plain text";
    expect(normalizeText(clean)).toBe(clean);
    for (const s of ["a\ud800b", "\u0000", "\udfff\ud83d\ude00\ud83d"]) {
      const n = normalizeText(s);
      expect(n.length).toBe(s.length);
      expect(new TextDecoder("utf-8", { fatal: true }).decode(new TextEncoder().encode(n))).toBe(n); // round-trips: well-formed
      expect(n).not.toContain("\u0000");
    }
  });

  it("normalises every string of an entry: columns, actor, context, JSON keys and values at any depth", () => {
    const bad = "x\ud800\u0000";
    const good = "x\ufffd\ufffd";
    const entry = stampEvent(
      {
        action: `a.${bad}`,
        entity: bad,
        entityId: bad,
        outcome: bad,
        actor: { id: bad, role: bad },
        path: bad,
        before: { [bad]: [bad, { deep: bad }], n: 1 },
        after: bad,
        metadata: [{ [bad]: null }],
        userAgent: bad,
      },
      { requestId: bad, ip: bad },
    );
    expect(entry).toMatchObject({
      action: `a.${good}`,
      entity: good,
      entityId: good,
      outcome: good,
      actorId: good,
      actorRole: good,
      path: good,
      before: { [good]: [good, { deep: good }], n: 1 },
      after: good,
      metadata: [{ [good]: null }],
      userAgent: good,
      requestId: good,
      ip: good,
    });
    expect(JSON.stringify(entry)).not.toMatch(/\\u0000|\\ud[89a-f]/i);
  });

  it("does not copy or change an event with nothing to normalise", () => {
    const after = { name: "B", tags: ["x"] };
    expect(stampEvent({ action: "a.b", entity: "E", after }, undefined).after).toBe(after);
  });
});

describe("maxEntryBytes", () => {
  const limits = { maxEntryBytes: 8_192, oversize: "reject" } as const;

  it("refuses an entry over the limit with EntryTooLargeError naming the size and the limit", () => {
    const error = (() => {
      try {
        stampEvent({ action: "a.b", entity: "E", after: { blob: "x".repeat(10_000) } }, undefined, limits);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(EntryTooLargeError);
    expect(error).toMatchObject({ code: "ERR_AUDIT_ENTRY_TOO_LARGE", maxEntryBytes: 8_192 });
    expect((error as EntryTooLargeError).bytes).toBeGreaterThan(8_192);
    expect((error as EntryTooLargeError).message).toMatch(/at least \d+ bytes, over maxEntryBytes \(8192\)/);
  });

  it("counts UTF-8 bytes, not UTF-16 units", () => {
    const accepted = stampEvent({ action: "a.b", entity: "E", after: "é".repeat(3_500) }, undefined, limits);
    expect(accepted.after).toHaveLength(3_500);
    expect(() => stampEvent({ action: "a.b", entity: "E", after: "é".repeat(4_000) }, undefined, limits)).toThrow(EntryTooLargeError);
  });

  it("stops measuring as soon as the limit is passed: the rest of a huge payload is never read", () => {
    let reads = 0;
    const items = Array.from({ length: 100_000 }, (_, i) => {
      const item: Record<string, unknown> = { i };
      Object.defineProperty(item, "v", {
        enumerable: true,
        get: () => {
          reads++;
          return "0123456789";
        },
      });
      return item;
    });
    expect(() => stampEvent({ action: "a.b", entity: "E", after: items }, undefined, limits)).toThrow(EntryTooLargeError);
    expect(reads).toBeGreaterThan(0);
    expect(reads).toBeLessThan(1_000); // of 100,000: the walk ended near the 8 KiB mark
  });

  it("with oversize truncate, replaces the JSON fields that do not fit by a marker and keeps the rest", () => {
    const entry = stampEvent(
      { action: "a.b", entity: "E", before: { small: true }, after: { blob: "x".repeat(20_000) }, diff: [1, 2] },
      undefined,
      { maxEntryBytes: 8_192, oversize: "truncate" },
    );
    expect(entry.before).toEqual({ small: true });
    expect(entry.after).toEqual({ $truncated: { maxEntryBytes: 8_192 } });
    expect(entry.diff).toEqual([1, 2]);
    expect(entry.action).toBe("a.b");
  });

  it("applies the documented default (256 KiB) when no limits are given", () => {
    expect(DEFAULT_MAX_ENTRY_BYTES).toBe(262_144);
    expect(() => stampEvent({ action: "a.b", entity: "E", metadata: "x".repeat(300_000) }, undefined)).toThrow(EntryTooLargeError);
    expect(stampEvent({ action: "a.b", entity: "E", metadata: "x".repeat(200_000) }, undefined).metadata).toHaveLength(200_000);
  });
});
