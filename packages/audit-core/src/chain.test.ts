import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical.ts";
import { type ChainedEntry, ChainStream, chainHash, chainHashOfJsonText, verifyChain } from "./chain.ts";
import { stampEvent } from "./event.ts";
import { MerkleProofError } from "./errors.ts";
import { MerkleLog, entryLeaf } from "./merkle.ts";

const entry = (i: number) => stampEvent({ action: "patient.update", entity: "Patient", entityId: `p-${i}`, after: { n: i } }, undefined);

function chainOf(n: number, stream = new ChainStream("s-1")): ChainedEntry[] {
  return stream.link(Array.from({ length: n }, (_, i) => entry(i)));
}

describe("canonicalJson", () => {
  it("sorts keys at every level and drops undefined, so equal values hash equally", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: null }], c: undefined } })).toBe('{"a":{"d":[2,{"e":null,"f":1}]},"b":1}');
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });
});

describe("ChainStream", () => {
  it("numbers entries from 1 and links each to the previous hash", () => {
    const [a, b, c] = chainOf(3);
    expect([a?.seq, b?.seq, c?.seq]).toEqual([1, 2, 3]);
    expect(a?.prevHash).toBeNull();
    expect(b?.prevHash).toBe(a?.hash);
    expect(c?.prevHash).toBe(b?.hash);
    expect(a?.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("continues across batches; each report gives the log's state and the leaves since the last", () => {
    const stream = new ChainStream("s-2");
    const first = stream.link([entry(1), entry(2)]);
    const one = stream.report();
    const [third] = stream.link([entry(3)]);
    expect(third?.seq).toBe(3);
    expect(third?.prevHash).toBe(first[1]?.hash);
    const two = stream.report();
    const leaves = [...first, third as ChainedEntry].map((e) => entryLeaf(e.hash));
    const log = new MerkleLog();
    for (const leaf of leaves) log.append(leaf);
    expect(one).toMatchObject({ streamId: "s-2", from: 0, size: 2, leaves: Buffer.concat(leaves.slice(0, 2)) });
    expect(two).toEqual({
      streamId: "s-2",
      from: 2,
      size: 3,
      root: log.root().toString("hex"),
      frontier: log.state().frontier,
      leaves: Buffer.concat(leaves.slice(2)),
    });
    expect(stream.report()).toMatchObject({ from: 3, size: 3, leaves: Buffer.alloc(0) });
  });

  it("rewinds to a mark: the links made after it are taken back as if never made", () => {
    const stream = new ChainStream("s-3");
    const a = entry(1);
    const b = entry(2);
    const c = entry(3);
    const d = entry(4);
    stream.link([a]);
    const mark = stream.mark();
    stream.link([b, c]);
    stream.rewind(mark);
    const relinked = stream.link([c, d]);

    const never = new ChainStream("s-3");
    const expected = never.link([a, c, d]);
    expect(relinked).toEqual(expected.slice(1));
    expect(relinked.map((e) => e.seq)).toEqual([2, 3]);
    expect(stream.report()).toEqual(never.report());
    expect(verifyChain({ rows: [...stream.link([b]), ...expected] }).ok).toBe(true);
  });

  it("refuses to rewind past a report: those leaves went to the sealer", () => {
    const stream = new ChainStream("s-4");
    const mark = stream.mark();
    stream.link([entry(1)]);
    stream.report();
    expect(() => stream.rewind(mark)).toThrow(MerkleProofError);
    expect(stream.link([entry(2)])[0]?.seq).toBe(2);
  });

  it("hashes exactly the canonical JSON of the entry's fields, the stream and the link", () => {
    const [a] = chainOf(1);
    if (!a) throw new Error("no entry");
    const { seq: _seq, hash: _hash, ...fields } = a;
    expect(a.hash).toBe(createHash("sha256").update(canonicalJson(fields)).digest("hex"));
  });

  it("keeps the hashes already stored: a fixed entry gives the hash the chain format has always given", () => {
    // Computed when the format was fixed; a change to canonicalJson or chainHash that alters it
    // would make every stored row read as modified.
    const fixed = {
      id: "0193a9b0-0000-7000-8000-000000000001",
      occurredAt: "2026-12-01T10:00:00.000Z",
      action: "patient.update",
      entity: "Patient",
      entityId: "p-1",
      outcome: "ok",
      actorId: "staff-1",
      actorRole: "dentist",
      path: "patient.update",
      durationMs: 3.2,
      before: { phone: "+1 555 0101", name: "Zoë", "10": 1, "9": [1e21, -0, 0.1] },
      after: { phone: "+1 555 0001", name: "Zoë \ud83d\ude00", note: 'line\nbreak "quoted"' },
      diff: { phone: { to: "+1 555 0001", from: "+1 555 0101" } },
      metadata: null,
      requestId: "req-1",
      ip: "10.0.0.12",
      userAgent: "clinic/1.4",
    };
    expect(chainHash(fixed, "stream-a", null)).toBe("bd8e785ebf20b6ace59ef51b1677f8e119b68b5715da50311fd5a8b88319e814");
    expect(chainHash(fixed, "stream-a", "ab".repeat(32))).toBe("0e67f2394f09ead2115ae9e6145850f8d89e4e7958d06b237070388fb0c66a34");
  });

  it("hashes content, stream and link, not the seq", () => {
    const [a] = chainOf(1);
    if (!a) throw new Error("no entry");
    expect(chainHash({ ...a, after: { n: 99 } }, a.streamId, a.prevHash)).not.toBe(a.hash);
    expect(chainHash(a, "other-stream", a.prevHash)).not.toBe(a.hash);
    expect(chainHash({ ...a, seq: 42 } as ChainedEntry, a.streamId, a.prevHash)).toBe(a.hash);
  });
});

describe("chainHashOfJsonText", () => {
  const [linked] = new ChainStream("s-t").link([
    stampEvent(
      { action: "patient.update", entity: "Patient", before: { z: [1, { b: 2, a: "é" }], a: 1.5 }, after: "text", diff: [] },
      undefined,
    ),
  ]);
  const e = linked as ChainedEntry;
  const texts = (text: (v: unknown) => string | null) => ({
    ...e,
    before: text(e.before),
    after: text(e.after),
    diff: text(e.diff),
    metadata: text(e.metadata),
  });

  it("gives the chain hash when each JSON field is its value's canonical text (null for none)", () => {
    expect(e.metadata).toBeNull();
    expect(
      chainHashOfJsonText(
        texts((v) => (v === null ? null : canonicalJson(v))),
        e.streamId,
        e.prevHash,
      ),
    ).toBe(e.hash);
    // The text "null" and no text hash alike, as a null value and an absent one do.
    expect(chainHashOfJsonText({ ...texts((v) => canonicalJson(v)) }, e.streamId, e.prevHash)).toBe(e.hash);
  });

  it("gives another hash for the same values in another text (key order, whitespace): those rows are hashed parsed", () => {
    expect(
      chainHashOfJsonText(
        texts((v) => (v === null ? null : JSON.stringify(v))),
        e.streamId,
        e.prevHash,
      ),
    ).not.toBe(e.hash);
    expect(
      chainHashOfJsonText(
        texts((v) => (v === null ? null : JSON.stringify(JSON.parse(canonicalJson(v)), null, 1))),
        e.streamId,
        e.prevHash,
      ),
    ).not.toBe(e.hash);
  });
});

describe("verifyChain", () => {
  it("accepts intact streams in any row order", () => {
    const rows = [...chainOf(5, new ChainStream("a")), ...chainOf(4, new ChainStream("b"))].reverse();
    expect(verifyChain({ rows })).toEqual({ ok: true, streams: 2, entries: 9, problems: [] });
  });

  it("names a modified row", () => {
    const rows = chainOf(5);
    rows[2] = { ...(rows[2] as ChainedEntry), outcome: "FORBIDDEN" };
    expect(verifyChain({ rows }).problems).toEqual([expect.objectContaining({ kind: "modified", seq: 3, id: rows[2]?.id })]);
  });

  it("names a deleted row by its missing seq", () => {
    const rows = chainOf(5);
    rows.splice(1, 1);
    expect(verifyChain({ rows }).problems).toEqual([expect.objectContaining({ kind: "deleted", seq: 2 })]);
  });

  it("names reordered rows (seq numbers swapped)", () => {
    const rows = chainOf(5);
    const [r2, r3] = [rows[1] as ChainedEntry, rows[2] as ChainedEntry];
    rows[1] = { ...r2, seq: 3 };
    rows[2] = { ...r3, seq: 2 };
    expect(verifyChain({ rows }).problems).toEqual([expect.objectContaining({ kind: "reordered", seq: 2 })]);
  });

  it("accepts gaps left by dead-lettered entries", () => {
    const rows = chainOf(5);
    const kept = rows.filter((r) => r.seq !== 3);
    expect(verifyChain({ rows: kept }).ok).toBe(false);
    expect(verifyChain({ rows: kept, deadLettered: new Set(["s-1:3"]) }).ok).toBe(true);
  });

  it("accepts a stream that starts where a retention purge says it does", () => {
    const rows = chainOf(6);
    const kept = rows.slice(3);
    expect(verifyChain({ rows: kept }).problems[0]?.kind).toBe("deleted");
    const start = { streamId: "s-1", firstSeq: 4, prevHash: rows[2]?.hash ?? null };
    expect(verifyChain({ rows: kept, purges: [start] }).ok).toBe(true);
  });
});
