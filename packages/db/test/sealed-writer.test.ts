/**
 * The whole loop on a real database: the pooled and sync writers chain what they write, business
 * transactions append to the database's stream, the sealer signs
 * every stream (the database's through databaseStreamSource) into the anchor directory and the
 * seal table; verify — with the public key and the anchors only — says OK, in a worker thread too;
 * a purge signed through notePurge still verifies (and proofs go through the purged prefix); a
 * proof for an entry checks offline.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditWriter, Sealer, createAuditWriter, stampEvent, verifyProof } from "@auditrail/audit-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAnchoredSeals } from "../src/anchors.ts";
import { type DatabaseHandle, createDatabase } from "../src/client.ts";
import { type DatabaseStreamSource, databaseStreamSource } from "../src/db-stream.ts";
import { PROOF_SEAL_PAGE, ProofUnavailableError, buildEntryProof, entryProof } from "../src/proof.ts";
import { purgeAuditEntries } from "../src/retention.ts";
import { TRANSACTIONAL_STREAM, sqlSinkSpec, writeInTransaction } from "../src/sink.ts";
import { type TestDatabase, createTestDatabase, runRawSql, testProviders } from "../src/testing.ts";
import { type TrailRows, openTrailRows } from "../src/trail-rows.ts";
import { verifyAuditTrail } from "../src/verify.ts";
import { verifyOffThread } from "../src/verify-thread.ts";

describe.each(testProviders())("sealed writers on %s", (provider) => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let dir: string;
  let sealer: Sealer;
  let source: DatabaseStreamSource;
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const publicKeyPem = publicKey.export({ format: "pem", type: "spki" }).toString();
  const verify = async () =>
    verifyAuditTrail({ url: db.url, publicKey, anchoredSeals: await readAnchoredSeals({ dir: join(dir, "anchors") }), graceMs: 0 });

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    handle = createDatabase(db.url);
    dir = await mkdtemp(join(tmpdir(), "auditrail-sealed-"));
    const sink = sqlSinkSpec({ url: db.url });
    sealer = await Sealer.open({ trail: "clinic", signingKey: privateKey, anchorDir: join(dir, "anchors"), sink, sealEveryMs: 60_000 });
    source = await databaseStreamSource(db.url);
    sealer.addSource(() => source.poll());
    const writers: AuditWriter[] = [
      await createAuditWriter({ sink, spoolDir: join(dir, "spool"), maxWorkers: 2, maxBatchSize: 20, sealer }),
      await createAuditWriter({ sink, mode: "sync", spoolDir: join(dir, "sync"), sealer }),
    ];
    for (let i = 0; i < 150; i++) {
      await (writers[i % 5 === 0 ? 1 : 0] as AuditWriter).record({
        action: "patient.read",
        entity: "Patient",
        entityId: `p-${i}`,
        after: { i },
      });
    }
    for (let i = 0; i < 3; i++) {
      await handle.prisma.$transaction((tx) =>
        writeInTransaction(tx, [stampEvent({ action: "patient.create", entity: "Patient", entityId: `t-${i}` }, undefined)]),
      );
    }
    for (const w of writers) await w.close();
    await sealer.seal();
  });
  afterAll(async () => {
    await sealer?.close();
    await source?.close();
    await handle?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("verifies OK from the anchors and the public key alone: every stream, the database's too", async () => {
    const report = await verify();
    expect(report).toMatchObject({ ok: true, problems: [], unsealed: 0 });
    expect(report.entries).toBe(153);
    const seal = await handle.prisma.auditSeal.findFirst({ orderBy: { number: "desc" } });
    expect(seal?.note).toContain(`stream ${TRANSACTIONAL_STREAM} 3 `);
  });

  it("runs in a worker thread and reports the same", async () => {
    const report = await verifyOffThread({ url: db.url, publicKeyPem, anchors: { dir: join(dir, "anchors") }, graceMs: 0 });
    expect(report).toMatchObject({ ok: true, entries: 153 });
  });

  it("gives a proof for an entry that checks offline, and one edited in the database fails", async () => {
    const row = await handle.prisma.auditEntry.findFirstOrThrow({ where: { entityId: "p-77" } });
    const proof = await buildEntryProof(db.url, row.id);
    if (!proof) throw new Error("no proof");
    expect(verifyProof(proof, publicKey)).toMatchObject({ ok: true });
    expect(verifyProof({ ...proof, entry: { ...proof.entry, entityId: "p-78" } }, publicKey)).toMatchObject({ ok: false });
    const tx = await handle.prisma.auditEntry.findFirstOrThrow({ where: { streamId: TRANSACTIONAL_STREAM, seq: 2 } });
    const txProof = await buildEntryProof(db.url, tx.id);
    expect(txProof && verifyProof(txProof, publicKey)).toMatchObject({ ok: true });
    expect(await buildEntryProof(db.url, "01990000-0000-7000-8000-000000000000")).toBeUndefined();
  });

  it("refuses a proof for an entry no seal covers yet", async () => {
    const [young] = await handle.prisma.$transaction((tx) =>
      writeInTransaction(tx, [stampEvent({ action: "patient.create", entity: "Patient" }, undefined)]),
    );
    await expect(buildEntryProof(db.url, young?.id ?? "")).rejects.toThrow(ProofUnavailableError);
    await sealer.seal();
    const proof = await buildEntryProof(db.url, young?.id ?? "");
    expect(proof && verifyProof(proof, publicKey)).toMatchObject({ ok: true });
  });

  it("a proof reads the seal table newest first and stops at the first seal covering the entry; dead letters only of its stream", async () => {
    for (let i = 0; i < 2 * PROOF_SEAL_PAGE; i++) {
      await handle.prisma.$transaction((tx) =>
        writeInTransaction(tx, [stampEvent({ action: "patient.create", entity: "Patient" }, undefined)]),
      );
      await sealer.seal();
    }
    const sealCount = await handle.prisma.auditSeal.count();
    expect(sealCount).toBeGreaterThan(2 * PROOF_SEAL_PAGE);
    const row = await handle.prisma.auditEntry.findFirstOrThrow({ where: { entityId: "p-77" } });
    const opened = await openTrailRows(db.url);
    let sealsRead = 0;
    const letterStreams: string[] = [];
    const counted: TrailRows = {
      ...opened,
      sealsNewestFirst: async (trail, before, limit) => {
        const page = await opened.sealsNewestFirst(trail, before, limit);
        sealsRead += page.length;
        return page;
      },
      deadLetters: () => Promise.reject(new Error("a proof must not load every dead letter")),
      deadLettersMentioning: (streamId) => {
        letterStreams.push(streamId);
        return opened.deadLettersMentioning(streamId);
      },
    };
    try {
      const proof = await entryProof(counted, row.id);
      expect(proof && verifyProof(proof, publicKey)).toMatchObject({ ok: true });
      // The newest seal covers p-77: one page of seals, not the table's every seal.
      expect(sealsRead).toBeLessThanOrEqual(PROOF_SEAL_PAGE);
      expect(letterStreams).toEqual([row.streamId]);
    } finally {
      await opened.close();
    }
  });

  it("a purge signed through the sealer verifies OK; the rows it removed are not missed", async () => {
    // Age the database stream's first two rows (past the triggers, as the owner could), so a purge
    // by a one-day cut-off takes exactly them.
    const old = new Date(Date.now() - 3 * 86_400_000).toISOString();
    const time = provider === "sqlite" ? `'${old.replace("Z", "+00:00")}'` : `'${old}'::timestamp`;
    await runRawSql(db.url, `UPDATE "AuditEntry" SET "occurredAt" = ${time} WHERE "streamId" = '${TRANSACTIONAL_STREAM}' AND "seq" <= 2`);
    const report = await purgeAuditEntries(handle, { olderThan: new Date(Date.now() - 86_400_000), reason: "test" });
    expect(report.streams).toEqual([expect.objectContaining({ streamId: TRANSACTIONAL_STREAM, firstSeq: 3 })]);
    expect(kindsOf(await verify())).toContain("unsigned-purge");
    await sealer.notePurge(report.streams);
    expect(await verify()).toMatchObject({ ok: true, problems: [] });
    // A proof for the first kept entry goes through the purged prefix's saved log.
    const kept = await handle.prisma.auditEntry.findFirstOrThrow({ where: { streamId: TRANSACTIONAL_STREAM, seq: 3 } });
    const proof = await buildEntryProof(db.url, kept.id);
    expect(proof && verifyProof(proof, publicKey)).toMatchObject({ ok: true });
  });
});

function kindsOf(report: { problems: readonly { kind: string }[] }): string[] {
  return report.problems.map((p) => p.kind);
}
