/** Writers and the sealer together: every stream a writer writes is sealed, at the interval and at close. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { createAuditWriter } from "../src/audit-writer.ts";
import { type ChainedEntry, verifyChain } from "../src/chain.ts";
import { InvalidOptionsError } from "../src/errors.ts";
import { MerkleLog, entryLeaf, inclusionProof } from "../src/merkle.ts";
import { type SignedSeal, generateSealKeyPair, publicKeyFromPem, signingKeyFromPem, verifyProof } from "../src/seal.ts";
import { parseOptions } from "../src/options.ts";
import { MemorySink, memorySinkSpec } from "../src/testing.ts";
import { DirectWriter } from "../src/writer/direct.ts";
import { Sealer } from "../src/writer/sealer.ts";
import { Cleanup, ManualClock, auditEvent } from "./helpers.ts";

const cleanup = new Cleanup();
const sealers: Sealer[] = [];
afterEach(async () => {
  await cleanup.run();
  await Promise.all(sealers.splice(0).map((s) => s.close()));
});

const pair = generateSealKeyPair();
const signingKey = signingKeyFromPem(pair.privateKeyPem);
const publicKey = publicKeyFromPem(pair.publicKeyPem);

async function sealer(clock: ManualClock): Promise<Sealer> {
  const s = await Sealer.open({ trail: "clinic", signingKey, anchorDir: await cleanup.tempDir(), clock });
  sealers.push(s);
  return s;
}

/** Groups stored entries by stream, in seq order. */
function byStream(entries: readonly ChainedEntry[]): Map<string, ChainedEntry[]> {
  const streams = new Map<string, ChainedEntry[]>();
  for (const e of entries) {
    const list = streams.get(e.streamId) ?? [];
    list.push(e);
    streams.set(e.streamId, list);
  }
  for (const list of streams.values()) list.sort((a, b) => a.seq - b.seq);
  return streams;
}

/** Checks that `seal` covers exactly these streams with the sizes and roots of their stored rows. */
function expectSealCovers(seal: SignedSeal, entries: readonly ChainedEntry[]): void {
  const streams = byStream(entries);
  expect(seal.seal.streams.map((s) => s.streamId).sort()).toEqual([...streams.keys()].sort());
  for (const head of seal.seal.streams) {
    const rows = streams.get(head.streamId) ?? [];
    const log = new MerkleLog();
    for (const row of rows) log.append(entryLeaf(row.hash));
    expect(head).toEqual({ streamId: head.streamId, size: rows.length, root: log.root().toString("hex"), start: 1 });
  }
}

describe("pooled writer with a sealer", () => {
  it("seals every worker's stream at the interval and at close; the seals match the stored rows", async () => {
    const clock = new ManualClock();
    const seals = await sealer(clock);
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, reportEntries: true }),
        spoolDir: await cleanup.tempDir(),
        maxWorkers: 2,
        maxBatchSize: 20,
        sealer: seals,
      }),
    );
    await Promise.all(Array.from({ length: 300 }, (_, i) => writer.record(auditEvent(i))));
    await writer.flush();
    expect(seals.stats().seals).toBe(0); // not before the interval
    clock.advance(1_000);
    await vi.waitFor(() => expect(seals.stats().seals).toBe(1));
    await vi.waitFor(() => expect(reports.writtenEntries).toHaveLength(300));
    const first = seals.latest as SignedSeal;
    expectSealCovers(first, reports.writtenEntries as ChainedEntry[]);
    expect(first.seal.streams.reduce((n, s) => n + s.size, 0)).toBe(300);

    // Entries written after the last tick are sealed when the writer closes.
    await Promise.all(Array.from({ length: 50 }, (_, i) => writer.record(auditEvent(1_000 + i))));
    await writer.close();
    const last = seals.latest as SignedSeal;
    expect(last.seal.number).toBe(2);
    await vi.waitFor(() => expect(reports.writtenEntries).toHaveLength(350));
    expectSealCovers(last, reports.writtenEntries as ChainedEntry[]);

    // Any stored entry can be proven offline against the last seal.
    const entry = reports.writtenEntries[123] as ChainedEntry;
    const rows = byStream(reports.writtenEntries as ChainedEntry[]).get(entry.streamId) ?? [];
    const path = inclusionProof(
      rows.map((r) => entryLeaf(r.hash)),
      entry.seq - 1,
    ).map((h) => h.toString("hex"));
    expect(verifyProof({ entry, path, seal: last.text }, publicKey)).toMatchObject({ ok: true });
  });

  it("seals a dead-lettered entry's place: the seal counts it, the chain still verifies with it", async () => {
    const clock = new ManualClock();
    const seals = await sealer(clock);
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, reportEntries: true, poisonAction: "bad" }),
        spoolDir: await cleanup.tempDir(),
        maxWorkers: 1,
        sealer: seals,
        retry: { initialDelayMs: 1, maxDelayMs: 2 },
      }),
    );
    await Promise.all([writer.record(auditEvent(1)), writer.record(auditEvent(2, { action: "bad" })), writer.record(auditEvent(3))]);
    await writer.close();
    await vi.waitFor(() => expect(reports.deadLetters).toHaveLength(1));
    const stored = [...reports.writtenEntries, ...reports.deadLetters.map((l) => l.entry)] as ChainedEntry[];
    expectSealCovers(seals.latest as SignedSeal, stored);
    expect(seals.latest?.seal.streams[0]?.size).toBe(3);
    expect(verifyChain({ rows: stored }).ok).toBe(true);
  });
});

describe("sync writer with a sealer", () => {
  it("seals its stream at the interval; nothing new at close, no new seal", async () => {
    const clock = new ManualClock();
    const seals = await sealer(clock);
    const reports = cleanup.reports();
    const writer = cleanup.writer(
      await createAuditWriter({
        sink: memorySinkSpec({ channel: reports.name, reportEntries: true }),
        mode: "sync",
        spoolDir: await cleanup.tempDir(),
        sealer: seals,
      }),
    );
    for (let i = 0; i < 4; i++) await writer.record(auditEvent(i));
    clock.advance(1_000);
    await vi.waitFor(() => expect(seals.stats().seals).toBe(1));
    expectSealCovers(seals.latest as SignedSeal, reports.writtenEntries as ChainedEntry[]);
    await writer.close();
    expect(seals.stats().seals).toBe(1); // nothing new at close: no second seal
    expect(verifyChain({ rows: reports.writtenEntries as ChainedEntry[] }).ok).toBe(true);
  });

  it("a sync write that finally fails leaves the seal at the last stored row", async () => {
    const seals = await sealer(new ManualClock());
    const reports = cleanup.reports();
    // Writes 1 and 2 succeed; the third call fails three times (syncMaxAttempts), then all succeed.
    const sink = new MemorySink({ channel: reports.name, reportEntries: true });
    const original = sink.write.bind(sink);
    let calls = 0;
    sink.write = async (entries) => {
      calls++;
      if (calls >= 3 && calls <= 5) throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
      return original(entries);
    };
    const writer = cleanup.writer(
      new DirectWriter(
        parseOptions({
          sink: memorySinkSpec(),
          mode: "sync",
          spoolDir: await cleanup.tempDir(),
          sealer: seals,
          retry: { initialDelayMs: 1, maxDelayMs: 2 },
        }),
        sink,
      ),
    );
    await writer.record(auditEvent(1));
    await writer.record(auditEvent(2));
    await expect(writer.record(auditEvent(3))).rejects.toThrow(/not written/);
    await writer.record(auditEvent(4));
    await seals.seal();
    await vi.waitFor(() => expect(reports.writtenEntries).toHaveLength(3));
    const seal = seals.latest as SignedSeal;
    expectSealCovers(seal, reports.writtenEntries as ChainedEntry[]);
    expect(seal.seal.streams.map((s) => s.size).sort()).toEqual([1, 2]);
  });
});

describe("writer options", () => {
  it("refuses a sealer option that is not a sealer", async () => {
    await expect(createAuditWriter({ sink: memorySinkSpec(), sealer: { report: 1 } as never })).rejects.toThrow(InvalidOptionsError);
    await expect(createAuditWriter({ sink: memorySinkSpec(), checkpointEvery: 10 } as never)).rejects.toThrow(/checkpointEvery/);
  });
});
