/**
 * The attacks of issue 10, each on a fresh sealed trail (three worker streams with a dead letter
 * in place, entries from business transactions, a signed seal anchored outside the database),
 * each done as someone with write access to the database and the source of chain.ts would — and
 * verify, given the public key and the anchored seals, names each one. Then the guards that stop
 * the application's own role, and the trails that must verify OK (no false positives).
 */
import { generateKeyPairSync } from "node:crypto";
import {
  type ChainedEntry,
  ChainStream,
  MerkleLog,
  PURGE_ACTION,
  type Seal,
  chainHash,
  chainHashOfJsonText,
  entryLeaf,
  sealHash,
  signSeal,
  stampEvent,
  verifySeal,
} from "@auditrail/audit-core";
import Database from "better-sqlite3";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { purgeAuditEntries } from "../src/retention.ts";
import { TRANSACTIONAL_STREAM, createSink, writeInTransaction } from "../src/sink.ts";
import { sqlitePath } from "../src/sqlite-sink.ts";
import { runRawSql, testProviders } from "../src/testing.ts";
import { type BreakKind, CLOCK_SKEW_MS, type TrailReport } from "../src/verify.ts";
import { type SealedTrail, type TrailTemplate, createSealedTrail } from "./sealed-trail.ts";

const q = (value: unknown) =>
  value === null ? "NULL" : `'${String(typeof value === "string" ? value : JSON.stringify(value)).replaceAll("'", "''")}'`;
const kinds = (report: TrailReport) => new Set<BreakKind>(report.problems.map((p) => p.kind));

/** SQL that rewrites `entries` (already recomputed) in place. */
const rewrite = (entries: readonly ChainedEntry[]) =>
  entries
    .map(
      (e) =>
        `UPDATE "AuditEntry" SET "after" = ${q(e.after)}, "prevHash" = ${q(e.prevHash)}, "hash" = ${q(e.hash)} WHERE "id" = ${q(e.id)};`,
    )
    .join("\n");

/** SQL inserting `entries` as rows, as the sink's columns hold them (`time`: occurredAt's SQL instead). */
function insert(t: SealedTrail, entries: readonly ChainedEntry[], time = (iso: string) => sqlTime(t, iso)): string {
  return entries
    .map(
      (e) =>
        `INSERT INTO "AuditEntry" ("id", "occurredAt", "action", "entity", "entityId", "outcome", "actorId", "after", "metadata", "streamId", "seq", "prevHash", "hash")
         VALUES (${q(e.id)}, ${time(e.occurredAt)}, ${q(e.action)}, ${q(e.entity)}, ${q(e.entityId)}, ${q(e.outcome)}, ${q(e.actorId)}, ${q(e.after)}, ${q(e.metadata)}, ${q(e.streamId)}, ${e.seq}, ${q(e.prevHash)}, ${q(e.hash)});`,
    )
    .join("\n");
}

const sqlTime = (t: SealedTrail, iso: string) => (t.db.provider === "sqlite" ? q(iso.replace(/Z$/, "+00:00")) : `${q(iso)}::timestamp`);

/** `entry` dated `occurredAt` instead, its chain hash recomputed (a forger picks the time). */
const dated = (entry: ChainedEntry, occurredAt: string | null): ChainedEntry => {
  const e = { ...entry, occurredAt } as ChainedEntry;
  return { ...e, hash: chainHash(e, e.streamId, e.prevHash) };
};

/** Relinks `entries` from index `from` on, as an attacker who read chain.ts does. */
function recompute(entries: readonly ChainedEntry[], from: number, edit: (e: ChainedEntry) => ChainedEntry): ChainedEntry[] {
  const out: ChainedEntry[] = [];
  let prev = from === 0 ? null : (entries[from - 1] as ChainedEntry).hash;
  for (let i = from; i < entries.length; i++) {
    const base = i === from ? edit(entries[i] as ChainedEntry) : (entries[i] as ChainedEntry);
    const hash = chainHash(base, base.streamId, prev);
    out.push({ ...base, prevHash: prev, hash });
    prev = hash;
  }
  return out;
}

/** A forged entry as stampEvent would make it, dated like an old one. */
const forged = (like: ChainedEntry, extra: Partial<ChainedEntry>): ChainedEntry => {
  const e = {
    ...stampEvent({ action: "patient.read", entity: "Patient", entityId: "forged", after: { forged: true } }, undefined),
    occurredAt: like.occurredAt,
  };
  const link = { streamId: like.streamId, seq: like.seq + 1, prevHash: like.hash, ...extra };
  return { ...e, ...link, hash: chainHash(e, link.streamId, link.prevHash) } as ChainedEntry;
};

describe.each(testProviders())("attacks on a sealed trail on %s: verify names each", (provider) => {
  let t: SealedTrail;
  const attack = (sql: string) => runRawSql(t.db.url, sql);
  const stream = (n: number) => t.streams.get(t.workerStreams[n] as string) as ChainedEntry[];

  let template: TrailTemplate;
  beforeAll(async () => {
    template = await createSealedTrail(provider);
  });
  afterAll(() => template?.drop());
  beforeEach(async () => {
    t = await template.copy();
  });
  afterEach(async () => {
    await t?.close();
  });

  it("untouched, the trail verifies OK: every stream, the dead letter and the transactional entries", async () => {
    const report = await t.verify();
    expect(report).toMatchObject({ ok: true, problems: [], problemCount: 0, unsealed: 0, streams: 4 });
    expect(report.entries).toBe(3 * 40 + 6);
  });

  it("edit a row, recompute the rest of its chain (and every other chain): rewritten", async () => {
    const entries = stream(0);
    await attack(rewrite(recompute(entries, 12, (e) => ({ ...e, after: { i: 12, name: "someone else" } }))));
    const report = await t.verify();
    expect(report.ok).toBe(false);
    expect(kinds(report)).toEqual(new Set(["rewritten"]));
    expect(report.problems[0]).toMatchObject({ streamId: entries[0]?.streamId });
  });

  it("roll back by time (every row after an instant): truncated", async () => {
    const cut = (stream(0)[25] as ChainedEntry).occurredAt;
    const at = t.db.provider === "sqlite" ? q(cut.replace(/Z$/, "+00:00")) : `${q(cut)}::timestamp`;
    await attack(`DELETE FROM "AuditEntry" WHERE "occurredAt" >= ${at}`);
    const report = await t.verify();
    expect(kinds(report)).toContain("truncated");
    expect(report.problems.filter((p) => p.kind === "truncated").map((p) => p.streamId)).toContain(t.workerStreams[0]);
  });

  it("roll back to a consistent cut per chain (the last 5 rows of every stream): truncated, per stream", async () => {
    const cuts = [...t.streams].map(
      ([id, entries]) => `DELETE FROM "AuditEntry" WHERE "streamId" = ${q(id)} AND "seq" > ${entries.length - 5};`,
    );
    await attack(cuts.join("\n"));
    const report = await t.verify();
    expect(kinds(report)).toEqual(new Set(["truncated"]));
    expect(new Set(report.problems.map((p) => p.streamId))).toEqual(new Set(t.streams.keys()));
  });

  it("delete the tail of one stream (its last row): truncated", async () => {
    const last = stream(2).at(-1) as ChainedEntry;
    await attack(`DELETE FROM "AuditEntry" WHERE "id" = ${q(last.id)}`);
    const report = await t.verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: "truncated", streamId: last.streamId, seq: last.seq })]);
  });

  it("delete a whole chain (the transactional one): truncated from seq 1", async () => {
    await attack(`DELETE FROM "AuditEntry" WHERE "streamId" = '${TRANSACTIONAL_STREAM}'`);
    const report = await t.verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: "truncated", streamId: TRANSACTIONAL_STREAM, seq: 1 })]);
  });

  it("delete every row, dead letter and seal: every stream truncated, every seal missing", async () => {
    await attack(`DELETE FROM "AuditEntry"; DELETE FROM "DeadLetter"; DELETE FROM "AuditSeal";`);
    const report = await t.verify();
    expect(report.ok).toBe(false);
    expect(kinds(report)).toEqual(new Set(["truncated", "seal-missing"]));
    expect(report.problems.filter((p) => p.kind === "truncated")).toHaveLength(4);
  });

  it("append a forged row at a chain's end: unsealed", async () => {
    const row = forged(stream(1).at(-1) as ChainedEntry, {});
    await attack(insert(t, [row]));
    const report = await t.verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: "unsealed", id: row.id, seq: row.seq })]);
  });

  it("append a forged row dated ahead of verify's clock (to stay within grace): unsealed, whatever the grace", async () => {
    const row = dated(forged(stream(1).at(-1) as ChainedEntry, {}), "2100-01-01T00:00:00.000Z");
    await attack(insert(t, [row]));
    const report = await t.verify({ graceMs: 60_000 });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "unsealed", id: row.id, seq: row.seq })]);
    expect(report.problems[0]?.detail).toMatch(/later than verify's clock/);
    expect(report.unsealed).toBe(0);
  });

  it("a row dated within CLOCK_SKEW_MS ahead is counted unsealed; one dated beyond it is a break", async () => {
    const soon = dated(forged(stream(0).at(-1) as ChainedEntry, {}), new Date(Date.now() + 5_000).toISOString());
    const late = dated(forged(soon, {}), new Date(Date.now() + CLOCK_SKEW_MS + 10 * 60_000).toISOString());
    await attack(insert(t, [soon, late]));
    const report = await t.verify({ graceMs: 60_000 });
    expect(report.problems).toEqual([expect.objectContaining({ kind: "unsealed", id: late.id, seq: late.seq })]);
    expect(report.unsealed).toBe(1);
  });

  it("append a forged row whose time is no time ('infinity'): unsealed, whatever the grace", async () => {
    // PostgreSQL's timestamp holds 'infinity' (verify reads it as null); SQLite keeps the text.
    const row = dated(forged(stream(2).at(-1) as ChainedEntry, {}), t.db.provider === "sqlite" ? "infinity" : null);
    await attack(insert(t, [row], () => (t.db.provider === "sqlite" ? "'infinity'" : "'infinity'::timestamp")));
    const report = await t.verify({ graceMs: 60_000 });
    expect(report.ok).toBe(false);
    expect(report.problems).toEqual([expect.objectContaining({ kind: "unsealed", id: row.id, seq: row.seq })]);
    expect(report.problems[0]?.detail).toMatch(/is unreadable/);
  });

  it("append a forged new chain: unsealed", async () => {
    const first = forged(stream(0)[3] as ChainedEntry, { streamId: "0199-forged-stream", seq: 1, prevHash: null });
    const second = forged(first, {});
    await attack(insert(t, [first, second]));
    const report = await t.verify();
    expect(report.problems.map((p) => [p.kind, p.streamId])).toEqual([
      ["unsealed", "0199-forged-stream"],
      ["unsealed", "0199-forged-stream"],
    ]);
  });

  /** A purge entry as retention.ts writes it, forged: it claims `streamId` now starts at firstSeq. */
  function forgedPurge(entries: readonly ChainedEntry[], firstSeq: number): ChainedEntry {
    const log = new MerkleLog();
    for (const e of entries.slice(0, firstSeq - 1)) log.append(entryLeaf(e.hash));
    const tx = t.streams.get(TRANSACTIONAL_STREAM) as ChainedEntry[];
    const last = tx.at(-1) as ChainedEntry;
    const record = {
      streamId: (entries[0] as ChainedEntry).streamId,
      firstSeq,
      prevHash: (entries[firstSeq - 2] as ChainedEntry).hash,
      prefix: log.state(),
    };
    const metadata = JSON.parse(
      JSON.stringify({ olderThan: last.occurredAt, deleted: firstSeq - 1, reason: "retention", streams: [record] }),
    ) as ChainedEntry["metadata"];
    const base: ChainedEntry = { ...forged(last, {}), action: PURGE_ACTION, entity: "AuditEntry", metadata };
    return { ...base, hash: chainHash(base, base.streamId, base.prevHash) };
  }

  it("forge an audit.purge entry hiding a young prefix: unsigned purge (and the purge entry unsealed)", async () => {
    const entries = stream(0);
    const purge = forgedPurge(entries, 11);
    await attack(`DELETE FROM "AuditEntry" WHERE "streamId" = ${q(entries[0]?.streamId)} AND "seq" <= 10;\n${insert(t, [purge])}`);
    const report = await t.verify();
    expect(kinds(report)).toEqual(new Set(["unsigned-purge", "unsealed"]));
    expect(report.problems.find((p) => p.kind === "unsigned-purge")).toMatchObject({ streamId: entries[0]?.streamId, seq: 1 });
  });

  it("forge an audit.purge entry hiding a hole: deleted", async () => {
    const entries = stream(2);
    const purge = forgedPurge(entries, 21);
    await attack(
      `DELETE FROM "AuditEntry" WHERE "streamId" = ${q(entries[0]?.streamId)} AND "seq" BETWEEN 18 AND 20;\n${insert(t, [purge])}`,
    );
    const report = await t.verify();
    expect(report.problems.find((p) => p.kind === "deleted")).toMatchObject({ streamId: entries[0]?.streamId, seq: 18 });
  });

  it("delete a row and insert a fake DeadLetter for its seq: the chain and the sealed root break", async () => {
    const entries = stream(0);
    const victim = entries[4] as ChainedEntry;
    const fake = { ...victim, after: { i: 4, name: "nothing to see" } };
    const letter = { ...fake, hash: chainHash(fake, fake.streamId, fake.prevHash) };
    await attack(
      `DELETE FROM "AuditEntry" WHERE "id" = ${q(victim.id)};
       INSERT INTO "DeadLetter" ("id", "entry", "error", "attempts", "failedAt") VALUES (${q(victim.id)}, ${q(letter)}, 'rejected', 1, ${sqlTime(t, victim.occurredAt)});`,
    );
    const report = await t.verify();
    expect(kinds(report)).toEqual(new Set(["reordered", "rewritten"]));
    expect(report.problems.find((p) => p.kind === "reordered")).toMatchObject({ streamId: victim.streamId, seq: victim.seq + 1 });
  });

  it("edit a row written by a business transaction: modified", async () => {
    const victim = (t.streams.get(TRANSACTIONAL_STREAM) as ChainedEntry[])[2] as ChainedEntry;
    await attack(`UPDATE "AuditEntry" SET "actorId" = 'someone-else' WHERE "id" = ${q(victim.id)}`);
    const report = await t.verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: "modified", streamId: TRANSACTIONAL_STREAM, seq: 3, id: victim.id })]);
  });

  it('move JSON text across a column boundary so the hashed text stays the same (after `{"a":1`, before `2},"before":null`): modified', async () => {
    const s = new ChainStream();
    const [victim] = s.link([stampEvent({ action: "patient.update", entity: "Patient", after: { a: 1, before: 2 } }, undefined)]);
    const sink = createSink({ url: t.db.url });
    await sink.write([victim as ChainedEntry]);
    await sink.close();
    t.streams.set(s.streamId, [victim as ChainedEntry]);
    await t.seal();
    expect(await t.verify()).toMatchObject({ ok: true });
    const shifted = { ...(victim as ChainedEntry), after: '{"a":1', before: '2},"before":null', diff: null, metadata: null };
    // Hashed as stored, the two texts give the row's chain hash back; neither is JSON by itself,
    // so verify never hashes them so.
    expect(chainHashOfJsonText(shifted, s.streamId, null)).toBe(victim?.hash);
    const update = `UPDATE "AuditEntry" SET "after" = ${q(shifted.after)}, "before" = ${q(shifted.before)} WHERE "id" = ${q(victim?.id)};`;
    if (provider === "postgresql") {
      // PostgreSQL's json column takes only whole JSON values; the attacker (the owner) first
      // makes the columns text, which verify sees in the result's column types.
      await expect(attack(update)).rejects.toThrow(/invalid input syntax for type json/);
      await attack(`ALTER TABLE "AuditEntry" ALTER COLUMN "after" TYPE text, ALTER COLUMN "before" TYPE text; ${update}`);
    } else await attack(update);
    const report = await t.verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: "modified", streamId: s.streamId, seq: 1, id: victim?.id })]);
  });

  it("several edits in one chain: every one is reported", async () => {
    const entries = stream(1);
    const victims = [entries[2], entries[15], entries[33]] as ChainedEntry[];
    await attack(victims.map((v) => `UPDATE "AuditEntry" SET "entityId" = 'x' WHERE "id" = ${q(v.id)};`).join("\n"));
    const report = await t.verify();
    expect(report.problems.map((p) => [p.kind, p.seq])).toEqual(victims.map((v) => ["modified", v.seq]));
  });

  it("walking the streams in worker threads gives the same verdict, break for break", async () => {
    const cuts = [...t.streams].map(
      ([id, entries]) => `DELETE FROM "AuditEntry" WHERE "streamId" = ${q(id)} AND "seq" > ${entries.length - 3};`,
    );
    const victim = stream(1)[8] as ChainedEntry;
    await attack(`${cuts.join("\n")}\nUPDATE "AuditEntry" SET "entityId" = 'x' WHERE "id" = ${q(victim.id)};`);
    const here = await t.verify();
    const threaded = await t.verify({ threads: 3 });
    expect(here.problems.length).toBe(5);
    expect({ ...threaded, elapsedMs: 0 }).toEqual({ ...here, elapsedMs: 0 });
  });

  it("insert an unchained row: unchained", async () => {
    const row = { ...forged(stream(0)[0] as ChainedEntry, {}), streamId: null, seq: null, prevHash: null, hash: null };
    await attack(insert(t, [row as unknown as ChainedEntry]));
    const report = await t.verify();
    expect(report.problems).toEqual([expect.objectContaining({ kind: "unchained", id: row.id })]);
  });

  it("replace a seal in the seal table, or delete one: named against the anchors", async () => {
    const [{ id } = { id: "" }] = await t.handle.prisma.auditSeal.findMany();
    await attack(
      `DELETE FROM "AuditSeal" WHERE "id" = ${q(id)}; INSERT INTO "AuditSeal" ("id", "trail", "number", "sealedAt", "note") VALUES ('forged', 'clinic-test', 1, ${t.db.provider === "sqlite" ? "'2026-01-01T00:00:00.000+00:00'" : "now()"}, 'x')`,
    );
    const report = await t.verify();
    expect(report.problems.map((p) => p.kind)).toEqual(["seal-unanchored"]);
  });

  it("verifies nothing with another key: every anchored seal is invalid", async () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const { verifyAuditTrail } = await import("../src/verify.ts");
    const report = await verifyAuditTrail({ url: t.db.url, publicKey, anchoredSeals: t.anchored, graceMs: 0 });
    expect(kinds(report)).toEqual(new Set(["seal-invalid", "seal-unanchored", "seal-missing"]));
    expect(report.problems.at(-1)?.detail).toMatch(/no anchored seal verifies with this public key/);
    expect(report.ok).toBe(false);
  });

  it("anchored seals read out of order are named, and the newest still covers the trail", async () => {
    const { verifyAuditTrail } = await import("../src/verify.ts");
    await t.seal();
    await t.seal();
    const shuffled = [t.anchored.at(-1) as string, ...t.anchored.slice(0, -1)];
    const report = await verifyAuditTrail({ url: t.db.url, publicKey: t.publicKey, anchoredSeals: shuffled, graceMs: 0 });
    // The ones out of order are refused (so the table's copies of them are unanchored); no row breaks.
    expect(kinds(report)).toEqual(new Set(["seal-invalid", "seal-missing", "seal-unanchored"]));
    expect(report.problems.find((p) => p.kind === "seal-invalid")?.detail).toMatch(/must give each trail's seals in order/);
  });

  it("a seal forged with another key in the anchors is refused and covers nothing", async () => {
    const { privateKey } = generateKeyPairSync("ed25519");
    const seal: Seal = { trail: "clinic-test", number: 2, time: new Date().toISOString(), prev: "00".repeat(32), streams: [] };
    t.anchored.push(signSeal(seal, { name: "clinic-test", privateKey }).text);
    const report = await t.verify();
    expect(report.problems.map((p) => p.kind)).toEqual(["seal-invalid"]);
  });

  it("the application's role cannot UPDATE or DELETE audit rows, dead letters or seals — not even after SET LOCAL auditrail.purge", async () => {
    const prisma = t.handle.prisma;
    // PostgreSQL names the refusal; Prisma reports SQLite's trigger abort as a constraint violation.
    const refused = t.db.provider === "postgresql" ? /permission denied/ : /constraint/i;
    await expect(
      prisma.$transaction(async (tx) => {
        if (t.db.provider === "postgresql") await tx.$queryRawUnsafe(`SELECT set_config('auditrail.purge', 'on', true)`);
        await tx.auditEntry.deleteMany();
      }),
    ).rejects.toThrow(refused);
    await expect(prisma.auditEntry.updateMany({ data: { actorId: "x" } })).rejects.toThrow(refused);
    await expect(prisma.deadLetter.deleteMany()).rejects.toThrow(refused);
    await expect(prisma.deadLetter.updateMany({ data: { entry: '{"x":1}' } })).rejects.toThrow(refused);
    await expect(prisma.auditSeal.deleteMany()).rejects.toThrow(refused);
    await expect(prisma.auditSeal.updateMany({ data: { note: "x" } })).rejects.toThrow(refused);
    await expect(prisma.$executeRawUnsafe(`TRUNCATE "AuditEntry"`)).rejects.toThrow(
      t.db.provider === "postgresql" ? refused : /syntax error/,
    );
    if (t.db.provider === "sqlite") {
      // Any other connection to the file: the triggers' own words.
      const raw = new Database(sqlitePath(t.db.url));
      try {
        expect(() => raw.exec(`UPDATE "AuditEntry" SET "actorId" = 'x'`)).toThrow(/AuditEntry is append-only: UPDATE is not allowed/);
        expect(() => raw.exec(`DELETE FROM "AuditEntry"`)).toThrow(/no such function: auditrail_purging/);
        raw.function("auditrail_purging", () => 0);
        expect(() => raw.exec(`DELETE FROM "AuditEntry"`)).toThrow(/AuditEntry is append-only: DELETE is not allowed/);
      } finally {
        raw.close();
      }
    }
    expect((await t.verify()).ok).toBe(true);
  });

  it("a purge signed by the next seal verifies OK; the same purge unsigned is reported", async () => {
    const cutoff = new Date(Date.parse((stream(0)[9] as ChainedEntry).occurredAt) + 1);
    const report = await purgeAuditEntries(t.handle, { olderThan: cutoff, reason: "test policy" });
    expect(report.deleted).toBeGreaterThanOrEqual(10);
    expect(report.streams.map((s) => s.streamId)).toContain(t.workerStreams[0]);
    const unsigned = await t.verify();
    expect(kinds(unsigned)).toContain("unsigned-purge");
    t.notePurge(report.streams);
    await t.seal();
    expect(await t.verify()).toMatchObject({ ok: true, problems: [] });
  });
});

describe.each(testProviders())("no false positives on %s", (provider) => {
  let t: SealedTrail;
  let template: TrailTemplate;
  beforeAll(async () => {
    template = await createSealedTrail(provider, { perStream: 10 });
  });
  afterAll(() => template?.drop());
  afterEach(async () => {
    await t?.close();
  });

  it("JSON key order, whitespace, number forms and unicode edge cases verify OK", async () => {
    t = await template.copy();
    const values = [
      { z: 1, a: { y: [3, 2, 1], b: "x" }, "": "empty key", "10": "ten", "9": "nine" },
      { text: "  leading and trailing  ", tabs: "a\tb\nc\r\n", json: '{"a": 1}' },
      { n: [0, -0, 1e21, 1.5e-7, 0.1 + 0.2, 2 ** 53, -(2 ** 53), 123456789.125, 1e308, 5e-324] },
      { u: ["é", "é", "\u2028\u2029", "😀", "\u{10FFFF}", "\uFEFF", "日本語", "\\u0000 spelled out"], ключ: "значение" },
    ];
    await t.handle.prisma.$transaction(async (tx) => {
      await writeInTransaction(
        tx,
        values.map((after) => stampEvent({ action: "edge.case", entity: "Patient", after, metadata: after }, undefined)),
      );
    });
    const sink = createSink({ url: t.db.url });
    const { ChainStream } = await import("@auditrail/audit-core");
    const s = new ChainStream();
    const linked = s.link(
      values.map((after) => stampEvent({ action: "edge.case", entity: "Patient", before: after, durationMs: 0.1 + 0.2 }, undefined)),
    );
    await sink.write(linked);
    await sink.close();
    t.streams.set(s.streamId, linked);
    await t.seal();
    expect(await t.verify()).toMatchObject({ ok: true, problems: [] });
    // Re-serialising the JSON text (pretty-printed, keys reordered) changes bytes, not content:
    // on SQLite's text and PostgreSQL's json (which keeps the text given) alike, and on a JSON
    // column made text or jsonb (then verify parses every row).
    const pretty = `'{ "z" : 1 , "a" : { "b" : "x" , "y" : [ 3 , 2 , 1 ] } , "" : "empty key", "9": "nine", "10": "ten" }'`;
    const reserialise = `UPDATE "AuditEntry" SET "metadata" = ${pretty} WHERE "action" = 'edge.case' AND CAST("metadata" AS TEXT) LIKE '%"z":1%';`;
    await runRawSql(t.db.url, reserialise);
    expect(await t.verify()).toMatchObject({ ok: true, problems: [] });
    if (provider === "postgresql") {
      for (const type of ["text", "jsonb"]) {
        await runRawSql(t.db.url, `ALTER TABLE "AuditEntry" ALTER COLUMN "metadata" TYPE ${type} USING "metadata"::text::${type}`);
        expect(await t.verify()).toMatchObject({ ok: true, problems: [] });
      }
    }
  });

  it("verify racing a live sealer: a seal anchored but not yet stored in the seal table is not judged while younger than the grace", async () => {
    t = await template.copy();
    const unstored = await t.seal({ store: false });
    expect(await t.verify({ graceMs: 60_000 })).toMatchObject({ ok: true, problems: [] });
    // Older than the grace (0 here), the store had time to catch up: missing.
    const late = await t.verify({ graceMs: 0 });
    expect(late.problems).toEqual([expect.objectContaining({ kind: "seal-missing" })]);
    expect(late.problems[0]?.detail).toMatch(new RegExp(`#${unstored.seal.number} is anchored but missing`));
  });

  it("a young anchored seal missing from the seal table while a later one is stored is missing (the sealer stores in order)", async () => {
    t = await template.copy();
    const unstored = await t.seal({ store: false });
    await t.seal();
    const report = await t.verify({ graceMs: 60_000 });
    expect(report.problems).toEqual([expect.objectContaining({ kind: "seal-missing" })]);
    expect(report.problems[0]?.detail).toMatch(new RegExp(`#${unstored.seal.number} is anchored but missing`));
    // The same when verify listed the anchors before the later seal was anchored: the table holds it.
    t.anchored.splice(-1);
    const listedEarlier = await t.verify({ graceMs: 60_000 });
    expect(listedEarlier.problems).toEqual([expect.objectContaining({ kind: "seal-missing", id: sealHash(unstored) })]);
  });

  it("verify racing a live sealer: table seals past the newest anchored one, signed within the grace, are not judged; older ones are unanchored", async () => {
    t = await template.copy();
    const seals = [await t.seal(), await t.seal()];
    // Verify listed the anchors before these two were anchored; the table already holds them.
    t.anchored.splice(-2);
    expect(await t.verify({ graceMs: 60_000 })).toMatchObject({ ok: true, problems: [] });
    // Older than the grace (0 here), they should have been anchored before the listing.
    const late = await t.verify({ graceMs: 0 });
    expect(late.problems.map((p) => [p.kind, p.id])).toEqual(seals.map((s) => ["seal-unanchored", sealHash(s)]));
  });

  it("a seal in the table past the newest anchored one that the key did not sign is unanchored, however young", async () => {
    t = await template.copy();
    const { privateKey } = generateKeyPairSync("ed25519");
    const previous = verifySeal(t.anchored.at(-1) as string, t.publicKey);
    const seal: Seal = { ...previous.seal, number: previous.seal.number + 1, time: new Date().toISOString(), prev: sealHash(previous) };
    const forgedSeal = signSeal(seal, { name: "clinic-test", privateKey });
    const store = createSink({ url: t.db.url });
    await store.storeSeal?.(forgedSeal);
    await store.close();
    const report = await t.verify({ graceMs: 60_000 });
    expect(report.problems.map((p) => [p.kind, p.id])).toEqual([["seal-unanchored", sealHash(forgedSeal)]]);
  });

  it("rows younger than the newest seal are counted as unsealed, not reported as tampering", async () => {
    t = await template.copy();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await t.handle.prisma.$transaction((tx) =>
      writeInTransaction(tx, [stampEvent({ action: "patient.create", entity: "Patient" }, undefined)]),
    );
    const report = await t.verify({ graceMs: 60_000 });
    expect(report).toMatchObject({ ok: true, problems: [], unsealed: 1 });
  });
});
