/**
 * The writer side of seals on a real database: what the pooled and sync writers store (the rows'
 * chain hashes, read back from SQLite / PostgreSQL) gives exactly the sizes and Merkle roots the
 * sealer signed, and a stored row's inclusion proof verifies offline against the seal.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type ChainedEntry,
  MerkleLog,
  Sealer,
  createAuditWriter,
  entryLeaf,
  generateSealKeyPair,
  inclusionPathFrom,
  publicKeyFromPem,
  signingKeyFromPem,
  verifyProof,
  verifySeal,
} from "@auditrail/audit-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, createDatabase } from "../src/client.ts";
import { sqlSinkSpec } from "../src/sink.ts";
import { type TestDatabase, createTestDatabase, testProviders } from "../src/testing.ts";

describe.each(testProviders())("sealed writes on %s", (provider) => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let dir: string;
  const keys = generateSealKeyPair();

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    handle = createDatabase(db.url);
    dir = await mkdtemp(join(tmpdir(), "auditrail-sealed-"));
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("seals every stream the writers stored, with the sizes and roots of the stored rows", async () => {
    const sealer = await Sealer.open({
      trail: "clinic",
      signingKey: signingKeyFromPem(keys.privateKeyPem),
      anchorDir: join(dir, "anchor"),
    });
    const sink = sqlSinkSpec({ url: db.url });
    const pooled = await createAuditWriter({ sink, spoolDir: join(dir, "spool"), maxWorkers: 2, maxBatchSize: 25, sealer });
    const sync = await createAuditWriter({ sink, mode: "sync", spoolDir: join(dir, "spool-sync"), sealer });
    for (let i = 0; i < 200; i++)
      void pooled.record({ action: "patient.read", entity: "Patient", entityId: `p-${i}`, after: { i, note: "ünïcödé ✓" } });
    for (let i = 0; i < 5; i++)
      await sync.record({ action: "patient.update", entity: "Patient", entityId: `s-${i}`, before: { n: i }, after: { n: i + 1 } });
    await pooled.close();
    await sync.close();
    await sealer.close();

    const seal = verifySeal(sealer.latest?.text ?? "", publicKeyFromPem(keys.publicKeyPem)).seal;
    const stored = await handle.prisma.auditEntry.findMany({
      where: { streamId: { not: null } },
      orderBy: [{ streamId: "asc" }, { seq: "asc" }],
    });
    expect(stored).toHaveLength(205);
    const streams = new Map<string, typeof stored>();
    for (const row of stored) streams.set(row.streamId as string, [...(streams.get(row.streamId as string) ?? []), row]);
    expect(seal.streams.map((s) => s.streamId)).toEqual([...streams.keys()].sort());
    expect(streams.size).toBeGreaterThanOrEqual(2); // the sync writer's stream and at least one worker's
    for (const head of seal.streams) {
      const rows = streams.get(head.streamId) ?? [];
      const log = new MerkleLog();
      for (const row of rows) log.append(entryLeaf(row.hash as string));
      expect({ size: head.size, root: head.root }).toEqual({ size: rows.length, root: log.root().toString("hex") });
    }

    // A stored row's proof, built by streaming its stream's rows, verifies offline.
    const row = stored[150] as (typeof stored)[number];
    const rows = streams.get(row.streamId as string) ?? [];
    const head = seal.streams.find((s) => s.streamId === row.streamId);
    const path = await inclusionPathFrom((row.seq as number) - 1, head?.size ?? 0, {
      leaves: (start, end) => rows.slice(start, end).map((r) => entryLeaf(r.hash as string)),
    });
    const entry = { ...row, occurredAt: row.occurredAt.toISOString() } as unknown as ChainedEntry;
    expect(verifyProof({ entry, path, seal: sealer.latest?.text ?? "" }, publicKeyFromPem(keys.publicKeyPem))).toMatchObject({ ok: true });
  });
});
