/**
 * A witness as a second anchor: verify reads each trail's newest cosigned seal from it besides the
 * anchor directory, so the newest seal still covers the trail when its file is removed from the
 * directory — which, without the witness, verify names.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, unlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Sealer, type WitnessServer, createAuditWriter, startWitness } from "@auditrail/audit-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAnchoredSeals } from "../src/anchors.ts";
import { sqlSinkSpec } from "../src/sink.ts";
import { type TestDatabase, createTestDatabase, testProviders } from "../src/testing.ts";
import { verifyAuditTrail } from "../src/verify.ts";

describe.each(testProviders())("a witness as an anchor on %s", (provider) => {
  let db: TestDatabase;
  let dir: string;
  let witness: WitnessServer;
  const writerKey = generateKeyPairSync("ed25519");
  const witnessKey = generateKeyPairSync("ed25519");

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    dir = await mkdtemp(join(tmpdir(), "auditrail-witness-"));
    witness = await startWitness({
      signer: { name: "witness", privateKey: witnessKey.privateKey },
      writerKeys: [writerKey.publicKey],
      dir: join(dir, "witness"),
    });
    const sink = sqlSinkSpec({ url: db.url });
    const sealer = await Sealer.open({
      trail: "clinic",
      signingKey: writerKey.privateKey,
      anchorDir: join(dir, "anchors"),
      sink,
      sealEveryMs: 60_000,
      witness: { url: witness.url },
    });
    const writer = await createAuditWriter({ sink, mode: "sync", spoolDir: join(dir, "spool"), sealer });
    for (let i = 0; i < 10; i++) await writer.record({ action: "patient.read", entity: "Patient", entityId: `p-${i}` });
    await sealer.seal();
    for (let i = 10; i < 20; i++) await writer.record({ action: "patient.read", entity: "Patient", entityId: `p-${i}` });
    await writer.close();
    await sealer.close();
  });
  afterAll(async () => {
    await witness?.close();
    await db?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it("verifies OK with the directory and the witness's cosigned newest seal", async () => {
    const anchored = await readAnchoredSeals({ dir: join(dir, "anchors"), witnessUrl: witness.url });
    expect(anchored.some((text) => text.includes("— witness "))).toBe(true);
    const report = await verifyAuditTrail({ url: db.url, publicKey: writerKey.publicKey, anchoredSeals: anchored, graceMs: 0 });
    expect(report).toMatchObject({ ok: true, entries: 20 });
  });

  it("the newest seal removed from the directory: named without the witness, covered with it", async () => {
    const numbers = (await readAnchoredSeals({ dir: join(dir, "anchors") })).length;
    await unlink(join(dir, "anchors", "clinic", `${String(numbers).padStart(12, "0")}.seal`));
    const verify = async (witnessUrl?: string) =>
      verifyAuditTrail({
        url: db.url,
        publicKey: writerKey.publicKey,
        anchoredSeals: await readAnchoredSeals({ dir: join(dir, "anchors"), witnessUrl }),
        graceMs: 0,
      });
    const alone = await verify();
    // The seal table still has it; the ten entries only it covered now look younger than the newest seal.
    expect(alone.problems.map((p) => p.kind)).toEqual(["seal-unanchored"]);
    expect(alone.unsealed).toBe(10);
    expect(await verify(witness.url)).toMatchObject({ ok: true, seals: [expect.objectContaining({ number: numbers })] });
  });
});
