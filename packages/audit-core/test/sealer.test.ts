/** The sealer on its own: when it seals, what a seal holds, where it goes, and how it continues. */
import { readdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { DirectoryAnchor } from "../src/anchor.ts";
import { ChainStream, type StreamReport } from "../src/chain.ts";
import { AnchorError, InvalidSealerOptionsError, SealFormatError, SealKeyError } from "../src/errors.ts";
import { stampEvent } from "../src/event.ts";
import { MerkleLog, consistencyProof, entryLeaf, verifyConsistency } from "../src/merkle.ts";
import { type SignedSeal, generateSealKeyPair, parseSeal, publicKeyFromPem, sealHash, signingKeyFromPem, verifySeal } from "../src/seal.ts";
import { memorySinkSpec } from "../src/testing.ts";
import { type WitnessServer, startWitness } from "../src/witness.ts";
import { Sealer, type SealerOptions } from "../src/writer/sealer.ts";
import { Cleanup, ManualClock, sleep } from "./helpers.ts";

const cleanup = new Cleanup();
const sealers: Sealer[] = [];
const witnesses: WitnessServer[] = [];
afterEach(async () => {
  await Promise.all(sealers.splice(0).map((s) => s.close()));
  await Promise.all(witnesses.splice(0).map((w) => w.close()));
  await cleanup.run();
});

const pair = generateSealKeyPair();
const signingKey = signingKeyFromPem(pair.privateKeyPem);
const publicKey = publicKeyFromPem(pair.publicKeyPem);

async function open(options: Partial<SealerOptions> & { anchorDir: string }): Promise<Sealer> {
  const sealer = await Sealer.open({ trail: "clinic", signingKey, ...options });
  sealers.push(sealer);
  return sealer;
}

const events = (n: number, tag: string) =>
  Array.from({ length: n }, (_, i) => stampEvent({ action: "patient.read", entity: "Patient", entityId: `${tag}-${i}` }, undefined));

/** A stream and every leaf it linked, so tests can recompute roots and proofs. */
class TestStream {
  readonly chain: ChainStream;
  readonly leaves: Buffer[] = [];
  constructor(id: string) {
    this.chain = new ChainStream(id);
  }
  write(n: number): StreamReport {
    this.leaves.push(...this.chain.link(events(n, this.chain.streamId)).map((e) => entryLeaf(e.hash)));
    return this.chain.report();
  }
  rootAt(size: number): string {
    const log = new MerkleLog();
    for (const leaf of this.leaves.slice(0, size)) log.append(leaf);
    return log.root().toString("hex");
  }
}

describe("Sealer", () => {
  it("seals at the interval only when something was written, over every stream, chained by hash", async () => {
    const clock = new ManualClock();
    const anchorDir = await cleanup.tempDir();
    const reports = cleanup.reports();
    const sealer = await open({ anchorDir, clock, sink: memorySinkSpec({ channel: reports.name }) });
    const a = new TestStream("a");
    const b = new TestStream("b");

    sealer.report(new ChainStream("empty").report()); // a stream that linked nothing (a batch of replays)
    clock.advance(1_000);
    await sealer.seal();
    expect(sealer.stats().seals).toBe(0); // nothing written: no seal

    sealer.report(a.write(5));
    sealer.report(b.write(3));
    clock.advance(999);
    await sleep(20);
    expect(sealer.stats().seals).toBe(0); // not yet due
    clock.advance(1);
    await vi.waitFor(() => expect(sealer.stats().seals).toBe(1));
    const first = sealer.latest as SignedSeal;
    expect(first.seal).toMatchObject({ trail: "clinic", number: 1, prev: null, time: "2026-12-01T06:00:02.000Z" });
    expect(first.seal.streams).toEqual([
      { streamId: "a", size: 5, root: a.rootAt(5), start: 1 },
      { streamId: "b", size: 3, root: b.rootAt(3), start: 1 },
    ]);

    clock.advance(1_000);
    await sealer.seal();
    expect(sealer.stats().seals).toBe(1); // idle interval: no seal

    sealer.report(a.write(4));
    clock.advance(1_000);
    await vi.waitFor(() => expect(sealer.stats().seals).toBe(2));
    const second = sealer.latest as SignedSeal;
    expect(second.seal).toMatchObject({ number: 2, prev: sealHash(first) });
    expect(second.seal.streams).toEqual([
      { streamId: "a", size: 9, root: a.rootAt(9), start: 1 },
      { streamId: "b", size: 3, root: b.rootAt(3), start: 1 }, // unchanged, still covered
    ]);

    // Anchored (verifiable with the public key) and stored through the sink, in order.
    const anchor = await DirectoryAnchor.open(anchorDir, "clinic");
    expect(await anchor.numbers()).toEqual([1, 2]);
    expect(verifySeal(await anchor.read(2), publicKey).text).toBe(second.text);
    await vi.waitFor(() => expect(reports.seals.map((s) => s.number)).toEqual([1, 2]));
    expect(reports.seals[1]?.text).toBe(second.text);
  });

  it("seals at close when something is new, and a new process continues the trail with every stream", async () => {
    const clock = new ManualClock();
    const anchorDir = await cleanup.tempDir();
    const sealer = await open({ anchorDir, clock });
    const a = new TestStream("a");
    sealer.report(a.write(2));
    await sealer.close();
    expect(sealer.latest?.seal.number).toBe(1);
    expect(clock.pending).toBe(0); // the timer stopped

    const next = await open({ anchorDir, clock });
    expect(next.latest?.seal.number).toBe(1);
    const b = new TestStream("b");
    next.report(b.write(1));
    const sealed = (await next.seal()) as SignedSeal;
    expect(sealed.seal).toMatchObject({ number: 2, prev: sealHash(sealer.latest as SignedSeal) });
    expect(sealed.seal.streams.map((s) => [s.streamId, s.size])).toEqual([
      ["a", 2],
      ["b", 1],
    ]);
    await next.close();
    expect((await readdir(join(anchorDir, "clinic"))).filter((f) => f.endsWith(".seal"))).toHaveLength(2);
  });

  it("keeps a seal that the database refused and stores it at a later tick", async () => {
    const clock = new ManualClock();
    const reports = cleanup.reports();
    const errors: Error[] = [];
    const sealer = await open({
      anchorDir: await cleanup.tempDir(),
      clock,
      sink: memorySinkSpec({ channel: reports.name, failSealsFirst: 2 }),
      onError: (e) => errors.push(e),
    });
    sealer.report(new TestStream("a").write(1));
    await sealer.seal();
    expect(sealer.stats()).toMatchObject({ seals: 1, storePending: 1 });
    await sealer.seal(); // second failure
    await sealer.seal();
    expect(sealer.stats().storePending).toBe(0);
    await vi.waitFor(() => expect(reports.seals.map((s) => s.number)).toEqual([1]));
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/ECONNREFUSED/), expect.stringMatching(/ECONNREFUSED/)]);
  });

  it("a new process stores the trail's newest anchored seal in the database again (its predecessor was killed between anchoring and storing it)", async () => {
    const anchorDir = await cleanup.tempDir();
    const reports = cleanup.reports();
    const killed = await open({
      anchorDir,
      clock: new ManualClock(),
      sink: memorySinkSpec({ channel: reports.name, failSealsFirst: 100 }),
      onError: () => undefined,
    });
    killed.report(new TestStream("a").write(1));
    await killed.seal(); // anchored; the database refused it
    expect(killed.stats()).toMatchObject({ seals: 1, storePending: 1 });
    await killed.close();
    expect(reports.seals).toEqual([]);

    const next = await open({ anchorDir, clock: new ManualClock(), sink: memorySinkSpec({ channel: reports.name }) });
    await next.close();
    await vi.waitFor(() => expect(reports.seals.map((s) => s.number)).toEqual([1]));
  });

  it("signs a purge's new stream start at once", async () => {
    const sealer = await open({ anchorDir: await cleanup.tempDir(), clock: new ManualClock() });
    const a = new TestStream("a");
    sealer.report(a.write(10));
    await sealer.seal();
    const purged = (await sealer.notePurge([{ streamId: "a", firstSeq: 7 }])) as SignedSeal;
    expect(purged.seal).toMatchObject({ number: 2, streams: [{ streamId: "a", size: 10, start: 7 }] });
    await expect(sealer.notePurge([{ streamId: "a", firstSeq: 3 }])).rejects.toThrow(SealFormatError); // never back
    await expect(sealer.notePurge([{ streamId: "a", firstSeq: 12 }])).rejects.toThrow(SealFormatError); // past the end
    await expect(sealer.notePurge([{ streamId: "zz", firstSeq: 1 }])).rejects.toThrow(/not in trail/);
  });

  it("ignores, and reports, a stream whose id cannot go into a seal; sealing goes on", async () => {
    const errors: Error[] = [];
    const sealer = await open({ anchorDir: await cleanup.tempDir(), clock: new ManualClock(), onError: (e) => errors.push(e) });
    sealer.report({ ...new TestStream("a").write(1), streamId: "has space" });
    sealer.report(new TestStream("b").write(2));
    expect((await sealer.seal())?.seal.streams.map((s) => s.streamId)).toEqual(["b"]);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/"has space" must match/)]);
  });

  it("validates its options up front, naming each problem", async () => {
    const anchorDir = await cleanup.tempDir();
    const bad = Sealer.open({ trail: "a clinic", anchorDir, sealEveryMs: 0, witness: { url: "nope" } } as SealerOptions);
    await expect(bad).rejects.toThrow(InvalidSealerOptionsError);
    await expect(bad).rejects.toMatchObject({
      issues: expect.arrayContaining([
        expect.stringMatching(/^trail:/),
        expect.stringMatching(/^sealEveryMs:/),
        expect.stringMatching(/^witness.url:/),
        expect.stringMatching(/exactly one of signingKey and signingKeyFile/),
      ]),
    });
    await expect(Sealer.open({ trail: "clinic", anchorDir, signingKeyFile: join(anchorDir, "missing.pem") })).rejects.toThrow(SealKeyError);
    await expect(Sealer.open({ trail: "clinic", anchorDir, signingKey, sink: { module: "node:path" } })).rejects.toThrow(/createSink/);
  });

  it("refuses a second sealer of the same trail and an anchor whose seals another key signed", async () => {
    const anchorDir = await cleanup.tempDir();
    const first = await open({ anchorDir, clock: new ManualClock() });
    await expect(Sealer.open({ trail: "clinic", anchorDir, signingKey })).rejects.toThrow(AnchorError);
    first.report(new TestStream("a").write(1));
    await first.close();
    const other = signingKeyFromPem(generateSealKeyPair().privateKeyPem);
    await expect(Sealer.open({ trail: "clinic", anchorDir, signingKey: other })).rejects.toThrow(/not signed by this key/);
  });

  it("proves every stream's growth to a witness, which cosigns each seal; a witness that missed seals catches up from the anchor", async () => {
    const anchorDir = await cleanup.tempDir();
    const witnessDir = await cleanup.tempDir();
    const witnessPair = generateSealKeyPair();
    const witness = await startWitness({
      signer: { name: "witness", privateKey: signingKeyFromPem(witnessPair.privateKeyPem) },
      writerKeys: [publicKey],
      dir: witnessDir,
    });
    witnesses.push(witness);
    const errors: Error[] = [];
    const clock = new ManualClock();
    const sealer = await open({ anchorDir, clock, witness: { url: witness.url }, onError: (e) => errors.push(e) });
    const a = new TestStream("a");
    const b = new TestStream("b");
    for (const [na, nb] of [
      [3, 0],
      [5, 2],
      [0, 9],
      [1, 1],
      [16, 0],
    ] as const) {
      if (na > 0) sealer.report(a.write(na));
      if (nb > 0) sealer.report(b.write(nb));
      await sealer.seal();
    }
    expect(errors).toEqual([]);
    expect(sealer.stats()).toMatchObject({ seals: 5, witnessed: 5, witnessPending: 0 });
    const witnessAnchor = await DirectoryAnchor.open(witnessDir, "clinic");
    const cosigned = await witnessAnchor.read(5);
    expect(verifySeal(cosigned, publicKeyFromPem(witnessPair.publicKeyPem)).seal).toEqual(sealer.latest?.seal);
    // The proofs kept beside the anchored seals are real RFC 9162 consistency proofs.
    const anchor = await DirectoryAnchor.open(anchorDir, "clinic");
    const proofs = (await anchor.proofs(5)) ?? {};
    expect(proofs.a?.map((h) => Buffer.from(h, "hex"))).toEqual(consistencyProof(a.leaves.slice(0, 25), 9));
    expect(verifyConsistency(9, 25, Buffer.from(a.rootAt(9), "hex"), Buffer.from(a.rootAt(25), "hex"), consistencyProof(a.leaves, 9))).toBe(
      true,
    );

    // The witness goes away; seals go on (anchored), waiting for it.
    await witness.close();
    witnesses.splice(0);
    sealer.report(a.write(2));
    await sealer.seal();
    await sealer.close();
    expect(sealer.stats()).toMatchObject({ seals: 6, witnessed: 5, witnessPending: 1 });
    expect(errors.at(-1)?.message).toMatch(/Witness unavailable/);

    // Next process, same witness folder: the witness first gets seal 6 from the anchor, then 7.
    const back = await startWitness({
      signer: { name: "witness", privateKey: signingKeyFromPem(witnessPair.privateKeyPem) },
      writerKeys: [publicKey],
      dir: witnessDir,
    });
    witnesses.push(back);
    const resumed = await open({ anchorDir, clock, witness: { url: back.url }, onError: (e) => errors.push(e) });
    resumed.report(new TestStream("c").write(4));
    await resumed.seal();
    expect(resumed.stats()).toMatchObject({ witnessed: 2, witnessPending: 0 });
    expect(await witnessAnchor.numbers()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(parseSeal((await witnessAnchor.read(7)).text).seal.streams.map((s) => s.streamId)).toEqual(["a", "b", "c"]);
  });

  it("when anchoring fails nothing advances: the next tick seals under the same number", async () => {
    const anchorDir = await cleanup.tempDir();
    const errors: Error[] = [];
    const sealer = await open({ anchorDir, clock: new ManualClock(), onError: (e) => errors.push(e) });
    const a = new TestStream("a");
    sealer.report(a.write(1));
    await sealer.seal();
    // Something already holds seal 2's file name: the anchor never overwrites, so sealing fails.
    await writeFile(join(anchorDir, "clinic", "000000000002.seal"), "in the way");
    sealer.report(a.write(1));
    expect(await sealer.seal()).toBeUndefined();
    expect(errors.at(-1)?.message).toMatch(/never overwritten/);
    expect(sealer.latest?.seal.number).toBe(1);
    await rm(join(anchorDir, "clinic", "000000000002.seal"));
    const second = (await sealer.seal()) as SignedSeal;
    const first = await (await DirectoryAnchor.open(anchorDir, "clinic")).read(1);
    expect(second.seal).toMatchObject({ number: 2, prev: sealHash(first) });
    expect(second.seal.streams).toEqual([{ streamId: "a", size: 2, root: a.rootAt(2), start: 1 }]);
  });

  it("a witness notices an anchor folder rolled back behind it, and refuses a stream that grew beyond what the sealer can prove", async () => {
    const anchorDir = await cleanup.tempDir();
    const witnessPair = generateSealKeyPair();
    const witness = await startWitness({
      signer: { name: "witness", privateKey: signingKeyFromPem(witnessPair.privateKeyPem) },
      writerKeys: [publicKey],
      dir: await cleanup.tempDir(),
    });
    witnesses.push(witness);
    const errors: Error[] = [];
    const first = await open({
      anchorDir,
      clock: new ManualClock(),
      witness: { url: witness.url, maxPendingLeaves: 10 },
      onError: (e) => errors.push(e),
    });
    const a = new TestStream("a");
    for (const n of [3, 4, 5]) {
      first.report(a.write(n));
      await first.seal();
    }
    expect(first.stats()).toMatchObject({ witnessed: 3, errors: 0 });
    first.report(a.write(11)); // more than maxPendingLeaves since the last seal
    await first.seal();
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/stream a: no consistency proof since the last seal/),
      expect.stringMatching(/Witness refused the seal: stream a: no valid consistency proof/),
    ]);
    await first.close();

    // Someone with access to the anchor folder removes its newest seal files (a rollback).
    for (const n of [3, 4]) await rm(join(anchorDir, "clinic", `00000000000${n}.seal`));
    // (the proofs files beside them are left: a crash between the two writes leaves one too)
    const errorsAfter: Error[] = [];
    const second = await open({ anchorDir, clock: new ManualClock(), witness: { url: witness.url }, onError: (e) => errorsAfter.push(e) });
    expect(second.latest?.seal.number).toBe(2);
    second.report(new TestStream("b").write(1));
    await second.seal();
    expect(errorsAfter.map((e) => e.message)).toEqual([expect.stringMatching(/the witness has seal 3 .*rolled back/)]);
    expect(second.stats()).toMatchObject({ witnessed: 0, witnessPending: 1 });
  });

  it("a stream continued by another process proves its growth when the reporter gives its earlier frontier", async () => {
    const anchorDir = await cleanup.tempDir();
    const witness = await startWitness({
      signer: { name: "witness", privateKey: signingKeyFromPem(generateSealKeyPair().privateKeyPem) },
      writerKeys: [publicKey],
      dir: await cleanup.tempDir(),
    });
    witnesses.push(witness);
    const errors: Error[] = [];
    const first = await open({ anchorDir, clock: new ManualClock(), witness: { url: witness.url }, onError: (e) => errors.push(e) });
    const tx = new TestStream("tx");
    first.report(tx.write(5));
    await first.close();

    // The next process resumes the same stream from its saved state (as a DB-side linker would).
    const second = await open({ anchorDir, clock: new ManualClock(), witness: { url: witness.url }, onError: (e) => errors.push(e) });
    const saved = new MerkleLog();
    for (const leaf of tx.leaves) saved.append(leaf);
    const resumedFrom = MerkleLog.restore(saved.state());
    const more = new TestStream("tx2").chain.link(events(3, "more")).map((e) => entryLeaf(e.hash));
    const fromFrontier = resumedFrom.state().frontier;
    for (const leaf of more) resumedFrom.append(leaf);
    const update = {
      streamId: "tx",
      from: 5,
      size: 8,
      root: resumedFrom.root().toString("hex"),
      frontier: resumedFrom.state().frontier,
      leaves: Buffer.concat(more),
    };
    second.report({ ...update, fromFrontier });
    await second.seal();
    expect(errors).toEqual([]);
    expect(second.stats()).toMatchObject({ witnessed: 1 });
    expect(second.latest?.seal.streams).toEqual([{ streamId: "tx", size: 8, root: update.root, start: 1 }]);

    // Without the earlier frontier there is no proof, and the witness refuses.
    more.push(...new TestStream("tx3").chain.link(events(1, "x")).map((e) => entryLeaf(e.hash)));
    const third = await (async () => {
      await second.close();
      return open({ anchorDir, clock: new ManualClock(), witness: { url: witness.url }, onError: (e) => errors.push(e) });
    })();
    resumedFrom.append(more[3] as Buffer);
    third.report({
      streamId: "tx",
      from: 8,
      size: 9,
      root: resumedFrom.root().toString("hex"),
      frontier: resumedFrom.state().frontier,
      leaves: more[3] as Buffer,
    });
    await third.seal();
    expect(errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/stream tx: no consistency proof since the last seal/),
      expect.stringMatching(/Witness refused the seal: stream tx: no valid consistency proof/),
    ]);
  });
});
