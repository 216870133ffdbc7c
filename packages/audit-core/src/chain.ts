/**
 * Tamper evidence: a hash chain per writer stream. Each worker thread (and each sync writer) is
 * one stream with its own id; it gives every entry it writes the next `seq` and links it to the
 * previous entry's hash:
 *
 *   hash = SHA-256( canonical JSON of { ...entry, streamId, prevHash } )
 *
 * `seq` is deliberately outside the hash: editing a row breaks its own hash (modified), removing
 * one leaves a seq gap (deleted), moving rows around leaves valid hashes whose links point at the
 * wrong predecessor (reordered). A tail cut off after the last row, a whole stream deleted, or a
 * stream rewritten from scratch by someone who knows this algorithm are invisible to the chain
 * itself: each stream is therefore also a Merkle log (./merkle.ts) — leaf i is the entry with seq
 * i + 1 — whose size and root the writer signs in seals (./seal.ts) kept outside the database.
 */
import { hash } from "node:crypto";
import { canonicalJson, canonicalString } from "./canonical.ts";
import { type AuditEntry, ENTRY_FIELDS, JSON_FIELDS } from "./event.ts";
import { uuidv7 } from "./id.ts";
import { MerkleProofError } from "./errors.ts";
import { MerkleLog, type MerkleState, leafHash } from "./merkle.ts";

export interface ChainLink {
  readonly streamId: string;
  readonly seq: number;
  readonly prevHash: string | null;
  readonly hash: string;
}

export type ChainedEntry = AuditEntry & ChainLink;

/** The hashed fields in canonical (sorted) order, with their JSON-quoted names, computed once. */
const HASHED = [...ENTRY_FIELDS, "streamId", "prevHash"]
  .sort()
  .map((name) => ({ name, quoted: `${canonicalString(name)}:`, json: JSON_FIELDS.has(name) }));

type JsonField = "before" | "after" | "diff" | "metadata";

/**
 * An entry as a store keeps it: the JSON fields (before, after, diff, metadata) as their stored
 * text, null for none.
 */
export type EntryWithJsonText = Omit<AuditEntry, JsonField> & { readonly [F in JsonField]: string | null };

/**
 * The text an entry's chain hash is computed over: the canonical JSON (RFC 8785, ./canonical.ts)
 * of the entry's own fields (every field of AuditEntrySchema, absent ones as null) plus its
 * `streamId` and `prevHash`. Built field by field, the same text canonicalJson gives for the whole
 * object: workers hash every entry they write, and verify every row it reads.
 */
function chainText(entry: AuditEntry | EntryWithJsonText, streamId: string, prevHash: string | null, jsonAsText = false): string {
  const source = entry as unknown as Record<string, unknown>;
  let text = "{";
  for (let i = 0; i < HASHED.length; i++) {
    const { name, quoted, json } = HASHED[i] as (typeof HASHED)[number];
    const value = name === "streamId" ? streamId : name === "prevHash" ? prevHash : source[name];
    text += `${i === 0 ? "" : ","}${quoted}${
      value == null
        ? "null"
        : jsonAsText && json
          ? (value as string)
          : typeof value === "string"
            ? canonicalString(value)
            : canonicalJson(value)
    }`;
  }
  return `${text}}`;
}

/** The hash of `entry` as a link of `streamId` after `prevHash`: SHA-256 of its chainText, hex. */
export function chainHash(entry: AuditEntry, streamId: string, prevHash: string | null): string {
  // Hex straight from crypto.hash: on Node 20 its "buffer" output costs more than hex text.
  return hash("sha256", chainText(entry, streamId, prevHash), "hex");
}

/**
 * chainHash with the JSON fields hashed as their stored text, as it is (no parsing, no re-ordering):
 * equal to the entry's chain hash when each text is its value's canonical JSON, as the SQL sinks
 * store it; for any other text it differs, and the caller hashes the parsed entry (chainHash).
 *
 * Each text must be proven ONE complete JSON value on its own (SQLite's json_valid, PostgreSQL's
 * json type) before its hash means anything: then the hashed text splits into its fields in one
 * way only, so a match says every field's text is exactly what the writer hashed. Text that is
 * not a value by itself could be moved across a field boundary unseen (after `{"x":1`, before `2}`).
 */
export function chainHashOfJsonText(entry: EntryWithJsonText, streamId: string, prevHash: string | null): string {
  return hash("sha256", chainText(entry, streamId, prevHash, true), "hex");
}

/** chainHash as raw bytes (what the stream's Merkle leaf is made of). */
function chainDigest(entry: AuditEntry, streamId: string, prevHash: string | null): Buffer {
  return hash("sha256", chainText(entry, streamId, prevHash), "buffer");
}

/**
 * What a stream tells the sealer after it wrote: its log's size, root and frontier, and the leaf
 * hashes appended since its previous report (the sealer needs them only to prove to a witness
 * that the new log extends the sealed one). Plain data: it crosses from worker threads.
 */
export interface StreamReport {
  readonly streamId: string;
  /** The log's size at the previous report (0 for the first): `leaves` are leaves from..size-1. */
  readonly from: number;
  readonly size: number;
  /** Merkle root at `size`, hex. */
  readonly root: string;
  /** MerkleLog frontier at `size`, hex. */
  readonly frontier: readonly string[];
  /** (size − from) leaf hashes of 32 bytes, concatenated, in seq order. */
  readonly leaves: Uint8Array;
  /**
   * The frontier at `from`, for a reporter that resumed a stream sealed by an earlier process
   * (e.g. restored with MerkleLog.restore): lets the sealer prove consistency to a witness.
   */
  readonly fromFrontier?: readonly string[] | undefined;
}

/** A ChainStream's position, taken by mark() and restored by rewind(). */
export interface ChainMark {
  readonly seq: number;
  readonly prev: string | null;
  readonly log: MerkleState;
  readonly pending: number;
  readonly reported: number;
}

/** One stream: hands out seq numbers and links, in order, and keeps the stream's Merkle log. */
export class ChainStream {
  private seq = 0;
  private prev: string | null = null;
  private log = new MerkleLog();
  private pending: Buffer[] = [];
  private reported = 0;

  constructor(readonly streamId: string = uuidv7()) {}

  /**
   * Links entries as the next seqs of this stream and appends their leaves to its log. Every
   * linked entry must end up stored (written or dead-lettered): the log now counts it.
   */
  link(entries: readonly AuditEntry[]): ChainedEntry[] {
    return entries.map((entry) => {
      const digest = chainDigest(entry, this.streamId, this.prev);
      const hash = digest.toString("hex");
      const chained: ChainedEntry = { ...entry, streamId: this.streamId, seq: ++this.seq, prevHash: this.prev, hash };
      const leaf = leafHash(digest);
      this.log.append(leaf);
      this.pending.push(leaf);
      this.prev = hash;
      return chained;
    });
  }

  /** Where the stream stands now: rewind(mark) takes back everything linked after it. */
  mark(): ChainMark {
    return { seq: this.seq, prev: this.prev, log: this.log.state(), pending: this.pending.length, reported: this.reported };
  }

  /**
   * Takes back the links made since `mark` (a batch that could not be stored as linked, see
   * linkAndWrite): the next link gets the seq and prevHash the first of them had. A report made
   * after the mark has handed those leaves to the sealer already, so that mark can no longer be rewound to.
   */
  rewind(mark: ChainMark): void {
    if (mark.reported !== this.reported || mark.seq > this.seq) {
      throw new MerkleProofError(`cannot rewind stream ${this.streamId} to seq ${mark.seq}: reported up to ${this.reported} since`);
    }
    this.seq = mark.seq;
    this.prev = mark.prev;
    this.log = MerkleLog.restore(mark.log);
    this.pending.length = mark.pending;
  }

  /** The log's state and the leaves linked since the previous report; starts a new report. */
  report(): StreamReport {
    const { size, frontier } = this.log.state();
    const report: StreamReport = {
      streamId: this.streamId,
      from: this.reported,
      size,
      root: this.log.root().toString("hex"),
      frontier,
      leaves: Buffer.concat(this.pending),
    };
    this.pending = [];
    this.reported = size;
    return report;
  }
}

/** The action of a retention purge's entry; its metadata lists where each stream now starts. */
export const PURGE_ACTION = "audit.purge";

export interface PurgeStart {
  readonly streamId: string;
  /** The first seq kept; rows below it were purged. */
  readonly firstSeq: number;
  /** The prevHash the first kept row links to. */
  readonly prevHash: string | null;
}

export type TamperKind = "modified" | "deleted" | "reordered" | "truncated";

export interface ChainProblem {
  readonly kind: TamperKind;
  readonly streamId: string;
  readonly seq: number;
  /** The row where it was found (for truncated: none, the rows are gone). */
  readonly id: string | null;
  readonly detail: string;
}

export interface VerifyReport {
  readonly ok: boolean;
  readonly streams: number;
  readonly entries: number;
  /** Per stream, the first broken link; ordered by stream id. */
  readonly problems: readonly ChainProblem[];
}

export interface VerifyInput {
  /** Every chained row (any order). Rows without a stream (transactional writes) are skipped. */
  readonly rows: readonly ChainedEntry[];
  /** "streamId:seq" of dead-lettered entries: their gaps are explained, not deletions. */
  readonly deadLettered?: ReadonlySet<string>;
  /** Where purged streams now start (from purge entries). */
  readonly purges?: readonly PurgeStart[];
}

/** Walks every stream in seq order and names the first broken link of each. */
export function verifyChain({ rows, deadLettered = new Set(), purges = [] }: VerifyInput): VerifyReport {
  const streams = new Map<string, ChainedEntry[]>();
  for (const row of rows) {
    let list = streams.get(row.streamId);
    if (!list) {
      list = [];
      streams.set(row.streamId, list);
    }
    list.push(row);
  }
  const starts = new Map<string, PurgeStart>();
  for (const p of purges) {
    const known = starts.get(p.streamId);
    if (!known || p.firstSeq > known.firstSeq) starts.set(p.streamId, p);
  }

  const problems: ChainProblem[] = [];
  for (const [streamId, list] of [...streams].sort(([a], [b]) => a.localeCompare(b))) {
    list.sort((a, b) => a.seq - b.seq);
    const problem = walk(streamId, list, deadLettered, starts.get(streamId));
    if (problem) problems.push(problem);
  }
  return { ok: problems.length === 0, streams: streams.size, entries: rows.length, problems };
}

function walk(
  streamId: string,
  list: readonly ChainedEntry[],
  deadLettered: ReadonlySet<string>,
  start: PurgeStart | undefined,
): ChainProblem | undefined {
  let expectedSeq = start?.firstSeq ?? 1;
  let prevHash: string | null = start?.prevHash ?? null;
  let prevWasGap = false;
  for (const row of list) {
    if (start && row.seq < start.firstSeq) continue; // purged meanwhile (read before the purge was)
    if (row.seq < expectedSeq) {
      return { kind: "reordered", streamId, seq: row.seq, id: row.id, detail: `seq ${row.seq} appears after seq ${expectedSeq - 1}` };
    }
    // Dead-lettered seqs were never stored: skip them, and accept the link they would have made.
    while (row.seq > expectedSeq && deadLettered.has(`${streamId}:${expectedSeq}`)) {
      expectedSeq++;
      prevWasGap = true;
    }
    if (chainHash(row, streamId, row.prevHash) !== row.hash) {
      return { kind: "modified", streamId, seq: row.seq, id: row.id, detail: "the row's content no longer matches its hash" };
    }
    if (row.seq > expectedSeq) {
      return {
        kind: "deleted",
        streamId,
        seq: expectedSeq,
        id: row.id,
        detail: `seq ${expectedSeq}–${row.seq - 1} missing before this row`,
      };
    }
    if (!prevWasGap && row.prevHash !== prevHash) {
      return {
        kind: "reordered",
        streamId,
        seq: row.seq,
        id: row.id,
        detail: "the row links to a different predecessor than the row before it",
      };
    }
    prevHash = row.hash;
    prevWasGap = false;
    expectedSeq = row.seq + 1;
  }
  return undefined;
}
