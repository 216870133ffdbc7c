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
  type LeafRange,
  MerkleLog,
  type SignedSeal,
  entryLeaf,
  inclusionRanges,
  parseSeal,
} from "@auditrail/audit-core";
import { openTrailRows } from "./trail-rows.ts";

/** The entry exists but no seal covers it yet (younger than the newest seal), or it is not chained. */
export class ProofUnavailableError extends Error {
  constructor(readonly id: string, reason: string) {
    super(`no proof for audit entry ${id}: ${reason}`);
    this.name = "ProofUnavailableError";
  }
}

const PAGE = 5_000;

/**
 * The proof for entry `id` against the newest seal in the seal table that covers it, or undefined
 * if there is no such entry. Throws ProofUnavailableError when it is not (yet) sealed, or when
 * the path would need leaves a purge removed.
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
      if (head && head.size >= seq && (!best || signed.seal.time > best.signed.seal.time)) best = { signed, size: head.size, start: head.start };
    }
    if (!best) throw new ProofUnavailableError(id, "no seal covers it yet (it is younger than the newest seal)");
    const { size, start } = best;
    const letters = new Map<number, string>();
    for (const l of await rows.deadLetters()) {
      const e = l.entry as Partial<ChainedEntry> | null;
      if (e?.streamId === streamId && typeof e.seq === "number" && typeof e.hash === "string") letters.set(e.seq, e.hash);
    }
    const path: string[] = [];
    for (const range of inclusionRanges(seq - 1, size)) {
      if (range[0] < start - 1) throw new ProofUnavailableError(id, `its inclusion path needs leaves a purge removed (below seq ${start})`);
      path.push(await rangeRoot(range, async (from, to) => {
        const leaves: Buffer[] = [];
        let after = { seq: from - 1, id: "" };
        let next = from;
        for (;;) {
          const page = await rows.page(streamId, after, PAGE);
          for (const r of page) {
            if ((r.seq as number) > to) break;
            for (; next < (r.seq as number); next++) leaves.push(letterLeaf(letters, next, id));
            if (r.seq === next) {
              leaves.push(entryLeaf(r.hash as string));
              next++;
            }
          }
          const last = page.at(-1);
          if (!last || page.length < PAGE || (last.seq as number) >= to) break;
          after = { seq: last.seq as number, id: last.id };
        }
        for (; next <= to; next++) leaves.push(letterLeaf(letters, next, id));
        return leaves;
      }));
    }
    const entry: ChainedEntry = { ...row, streamId, seq, hash: row.hash };
    return { entry, path, seal: best.signed.text };
  } finally {
    await rows.close();
  }
}

/** The subtree hash over leaves [start, end) (seqs start+1 .. end), read in pages. */
async function rangeRoot([start, end]: LeafRange, read: (fromSeq: number, toSeq: number) => Promise<Buffer[]>): Promise<string> {
  const log = new MerkleLog();
  for (let from = start + 1; from <= end; from += PAGE) {
    for (const leaf of await read(from, Math.min(end, from + PAGE - 1))) log.append(leaf);
  }
  return log.root().toString("hex");
}

function letterLeaf(letters: ReadonlyMap<number, string>, seq: number, id: string): Buffer {
  const hash = letters.get(seq);
  if (hash === undefined) throw new ProofUnavailableError(id, `seq ${seq} of its stream is missing (run verify)`);
  return entryLeaf(hash);
}
