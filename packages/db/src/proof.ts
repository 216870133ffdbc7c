/**
 * `audit.proof({ id })`: everything needed to check one entry offline (audit-core's EntryProof):
 * the entry as stored, its RFC 9162 inclusion path in its stream's Merkle log at the size a signed
 * seal gives, and that seal's text. `verifyProof` (audit-core) and `audit:verify --proof` check it
 * with the public key alone. The path's subtree hashes are computed by streaming the stream's
 * rows (dead letters filling their own seqs), one page at a time.
 */
import {
  type ChainedEntry,
  type EntryProof,
  type LeafSource,
  PURGE_ACTION,
  type SignedSeal,
  entryLeaf,
  inclusionPathFrom,
  parseSeal,
} from "@auditrail/audit-core";
import { type TrailRows, openTrailRows } from "./trail-rows.ts";
import type { PurgeRecord } from "./verify.ts";

/** The entry exists but no seal covers it yet (younger than the newest seal), or it is not chained. */
export class ProofUnavailableError extends Error {
  constructor(
    readonly id: string,
    reason: string,
  ) {
    super(`no proof for audit entry ${id}: ${reason}`);
    this.name = "ProofUnavailableError";
  }
}

const PAGE = 5_000;

/**
 * The proof for entry `id` against the newest seal in the seal table that covers it, or undefined
 * if there is no such entry. Throws ProofUnavailableError when it is not (yet) sealed, or when
 * its stream is broken (a seq missing, a purge without its record).
 */
export async function buildEntryProof(url: string, id: string): Promise<EntryProof | undefined> {
  const rows = await openTrailRows(url);
  try {
    const [row] = await rows.byIds([id]);
    if (!row) return undefined;
    if (row.streamId === null || row.seq === null || row.hash === null) throw new ProofUnavailableError(id, "the entry is not chained");
    const { streamId, seq } = row;
    let best: { signed: SignedSeal; size: number; start: number } | undefined;
    for (const stored of await rows.seals()) {
      const signed = parseSeal(stored.note);
      const head = signed.seal.streams.find((s) => s.streamId === streamId);
      if (head && head.size >= seq && (!best || signed.seal.time > best.signed.seal.time))
        best = { signed, size: head.size, start: head.start };
    }
    if (!best) throw new ProofUnavailableError(id, "no seal covers it yet (it is younger than the newest seal)");
    const { size, start } = best;
    const letters = new Map<number, string>();
    for (const l of await rows.deadLetters()) {
      const e = l.entry as Partial<ChainedEntry> | null;
      if (e?.streamId === streamId && typeof e.seq === "number" && typeof e.hash === "string") letters.set(e.seq, e.hash);
    }
    let prefix: PurgeRecord["prefix"] | undefined;
    if (start > 1) {
      prefix = (await purgeRecords(rows, streamId)).find((r) => r.firstSeq === start)?.prefix;
      if (!prefix) throw new ProofUnavailableError(id, `its stream starts at seq ${start} but no purge record gives the log below it`);
    }
    const source: LeafSource = { leaves: (from, to) => leaves(rows, streamId, letters, from + 1, to, id), prefix };
    const path = await inclusionPathFrom(seq - 1, size, source);
    const entry: ChainedEntry = { ...row, streamId, seq, hash: row.hash };
    return { entry, path, seal: best.signed.text };
  } finally {
    await rows.close();
  }
}

/** The leaves of seqs fromSeq..toSeq in order, page by page; dead letters fill their own seqs. */
async function* leaves(
  rows: TrailRows,
  streamId: string,
  letters: ReadonlyMap<number, string>,
  fromSeq: number,
  toSeq: number,
  id: string,
): AsyncGenerator<Buffer> {
  let next = fromSeq;
  let after = { seq: fromSeq - 1, id: "" };
  while (next <= toSeq) {
    const page = await rows.page(streamId, after, PAGE);
    for (const r of page) {
      const seq = r.seq as number;
      if (seq > toSeq) break;
      for (; next < seq; next++) yield letterLeaf(letters, next, id);
      if (seq === next) {
        yield entryLeaf(r.hash as string);
        next++;
      }
    }
    const last = page.at(-1);
    if (!last || page.length < PAGE) break;
    after = { seq: last.seq as number, id: last.id };
  }
  for (; next <= toSeq; next++) yield letterLeaf(letters, next, id);
}

async function purgeRecords(rows: TrailRows, streamId: string): Promise<PurgeRecord[]> {
  const records: PurgeRecord[] = [];
  for (const entry of await rows.withAction(PURGE_ACTION)) {
    const streams = (entry.metadata as { streams?: unknown } | null)?.streams;
    if (Array.isArray(streams)) records.push(...(streams as PurgeRecord[]).filter((r) => r?.streamId === streamId));
  }
  return records;
}

function letterLeaf(letters: ReadonlyMap<number, string>, seq: number, id: string): Buffer {
  const hash = letters.get(seq);
  if (hash === undefined) throw new ProofUnavailableError(id, `seq ${seq} of its stream is missing (run verify)`);
  return entryLeaf(hash);
}
