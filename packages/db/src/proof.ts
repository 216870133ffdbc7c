/**
 * `audit.proof({ id })`: everything needed to check one entry offline (audit-core's EntryProof):
 * the entry as stored, its RFC 9162 inclusion path in its stream's Merkle log at the size a signed
 * seal gives, and that seal's text. `verifyProof` (audit-core) and `audit:verify --proof` check it
 * with the public key alone. The path's subtree hashes are computed by streaming the stream's
 * rows (dead letters filling their own seqs), one page at a time. The seal table is read newest
 * first per trail, only until a seal names the entry's stream, and only the dead letters whose
 * text names that stream are loaded: a proof's cost does not grow with the number of seals.
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
import { type StoredSeal, type TrailRows, openTrailRows } from "./trail-rows.ts";
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

/** Seals read per query while looking for the one covering an entry (newest first). */
export const PROOF_SEAL_PAGE = 8;

/**
 * The proof for entry `id` against the newest seal in the seal table that covers it, or undefined
 * if there is no such entry. Throws ProofUnavailableError when it is not (yet) sealed, or when
 * its stream is broken (a seq missing, a purge without its record).
 */
export async function buildEntryProof(url: string, id: string): Promise<EntryProof | undefined> {
  const rows = await openTrailRows(url);
  try {
    return await entryProof(rows, id);
  } finally {
    await rows.close();
  }
}

/** buildEntryProof on rows already open. */
export async function entryProof(rows: TrailRows, id: string): Promise<EntryProof | undefined> {
  const [row] = await rows.byIds([id]);
  if (!row) return undefined;
  if (row.streamId === null || row.seq === null || row.hash === null) throw new ProofUnavailableError(id, "the entry is not chained");
  const { streamId, seq } = row;
  let best: Covering | undefined;
  for (const trail of await rows.sealTrails()) {
    const found = await newestCovering(rows, trail, streamId, seq);
    if (found && (!best || found.signed.seal.time > best.signed.seal.time)) best = found;
  }
  if (!best) throw new ProofUnavailableError(id, "no seal covers it yet (it is younger than the newest seal)");
  const { size, start } = best;
  const letters = new Map<number, string>();
  for (const l of await rows.deadLettersMentioning(streamId)) {
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
}

interface Covering {
  readonly signed: SignedSeal;
  readonly size: number;
  readonly start: number;
}

/**
 * The newest seal of `trail` whose head of `streamId` reaches `seq`, read newest first a page at a
 * time. It stops at the first seal naming the stream: a seal lists every stream of its trail and a
 * stream's size never shrinks from one seal to the next, so if that seal does not reach `seq`, no
 * older one does. (A trail whose seals never name the stream is read to its end.)
 */
async function newestCovering(rows: TrailRows, trail: string, streamId: string, seq: number): Promise<Covering | undefined> {
  for (let before = Number.MAX_SAFE_INTEGER; ; ) {
    const page = await rows.sealsNewestFirst(trail, before, PROOF_SEAL_PAGE);
    for (const stored of page) {
      const signed = parseSeal(stored.note);
      const head = signed.seal.streams.find((s) => s.streamId === streamId);
      if (head) return head.size >= seq ? { signed, size: head.size, start: head.start } : undefined;
    }
    if (page.length < PROOF_SEAL_PAGE) return undefined;
    before = (page.at(-1) as StoredSeal).number;
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
