/**
 * Verifies the audit trail against the signed seals kept OUTSIDE the database (see audit-core's
 * seal.ts and merkle.ts, and the README's threat model). The caller brings the seal signer's
 * public key and the anchored seals; nothing the database says about keys or seals is trusted —
 * the seal table is only compared with the anchors.
 *
 * Every stream is walked once, in pages by (seq, id), in bounded memory: each row's content must
 * still give its chain hash (else modified) and link to the row before (else reordered); its leaf
 * goes into the stream's Merkle log, whose root must equal the root the stream's newest anchored
 * seal signed at its size (else rewritten: rows replaced by a recomputed chain). A sealed stream must hold every
 * seq from the `start` its newest seal signed up to the sealed size (else deleted / truncated);
 * dead-lettered entries fill their own seq from the dead-letter table. A stream whose rows begin
 * above the signed start was cut without a signed purge. Rows beyond the newest seal are younger
 * than it: counted as `unsealed`, and a break once they are older than the newest seal by more
 * than `graceMs` (the writer seals every entry within one interval) — or when their time is
 * unreadable or later than verify's own clock plus CLOCK_SKEW_MS (no writer dates an entry ahead:
 * a forger does, to stay "within grace"). Every break is reported, up to `maxProblems` (the total
 * is counted).
 *
 * Memory: a page of rows and what the driver buffers of the next, the dead letters (poison
 * entries, few), the purge entries, and per trail its newest seal, per stream its newest head: the
 * anchored seals are read one at a time, the seal table in pages beside them.
 */
import type { KeyObject } from "node:crypto";
import { Worker } from "node:worker_threads";
import {
  type ChainedEntry,
  MerkleLog,
  type MerkleState,
  PURGE_ACTION,
  type SignedSeal,
  type EntryWithJsonText,
  chainHash,
  chainHashOfJsonText,
  entryLeafHex,
  messageOf,
  readDeadLetterFile,
  sealHash,
  verifySeal,
} from "@auditrail/audit-core";
import { type StoredRow, type StoredSeal, type TextRow, type TrailRows, openTrailRows, parsedRow } from "./trail-rows.ts";

export type BreakKind =
  | "modified"
  | "rewritten"
  | "reordered"
  | "duplicate"
  | "deleted"
  | "truncated"
  | "unsealed"
  | "unsigned-purge"
  | "unchained"
  | "seal-invalid"
  | "seal-missing"
  | "seal-unanchored";

/**
 * Rows verify reads per page unless told otherwise. A page (with what is read of the next) stays
 * far below the young generation, so rows die young: measured on a 200,000-row trail (SQLite, one
 * thread, interleaved runs), 256-row pages took ~20 % less CPU than 5,000-row pages and ~25 MB less
 * RSS per walking thread. On PostgreSQL, where one COPY streams the whole stream, it is how many
 * rows are parsed before they are hashed (a page is at least this many rows: whole chunks).
 */
export const VERIFY_PAGE_ROWS = 256;

/**
 * How far ahead of verify's clock an unsealed row's `occurredAt` may lie (the writer's clock may
 * run ahead of the verifier's) before the row counts as forged: `unsealed`, whatever `graceMs`.
 */
export const CLOCK_SKEW_MS = 60_000;

export interface TrailBreak {
  readonly kind: BreakKind;
  readonly streamId: string | null;
  readonly seq: number | null;
  /** The row (or seal id) where it was found; null when the rows are gone. */
  readonly id: string | null;
  readonly detail: string;
}

export interface TrailReport {
  readonly ok: boolean;
  /** Streams walked (with rows, or sealed). */
  readonly streams: number;
  /** Rows checked (chained audit rows, and dead letters standing in for theirs). */
  readonly entries: number;
  /** Rows younger than the newest seal, within the grace period (not breaks). */
  readonly unsealed: number;
  /** Newest anchored seal per trail. */
  readonly seals: ReadonlyArray<{ readonly trail: string; readonly number: number; readonly time: string }>;
  /** Breaks, in the order found, at most maxProblems. */
  readonly problems: readonly TrailBreak[];
  /** Every break found (problems may be capped). */
  readonly problemCount: number;
  readonly elapsedMs: number;
}

export interface VerifyTrailOptions {
  readonly url: string;
  /** The seal signer's Ed25519 public key, from outside the database. */
  readonly publicKey: KeyObject;
  /**
   * Every signed seal from the anchors (directory, witness), as text: each trail's in ascending
   * number order, as `anchoredSealTexts` yields them (read one at a time: memory stays bounded).
   */
  readonly anchoredSeals: Iterable<string> | AsyncIterable<string>;
  /** Breaks listed at most (default 100); all are counted. */
  readonly maxProblems?: number;
  /**
   * Rows read per page (default VERIFY_PAGE_ROWS, 256). Small on purpose: a page's rows live until
   * they are hashed, and whatever lives through a young-generation collection is copied (twice,
   * then promoted); 5,000-row pages made garbage collection a fifth of verify's CPU time.
   */
  readonly pageSize?: number;
  /** How long a row may stay unsealed before that is a break (default 60 s). */
  readonly graceMs?: number;
  /** Compare the seal table with the anchors (default true; an export has no seal table). */
  readonly sealTable?: boolean;
  /**
   * Worker threads walking streams side by side (default 1: this thread). Streams are independent,
   * so on several cores a trail of several streams verifies that much faster.
   */
  readonly threads?: number;
  /**
   * The writer's spool folder: dead letters in its fallback file (written while the database was
   * unreachable) keep their stream places too, so their seqs are explained, not deleted.
   */
  readonly spoolDir?: string;
}

/** A purge's record of where a stream now starts: the log over the removed prefix. */
export interface PurgeRecord {
  readonly streamId: string;
  /** The first seq kept. */
  readonly firstSeq: number;
  /** The hash of the last removed row: what row firstSeq links to. */
  readonly prevHash: string | null;
  /** The Merkle log over seqs 1 .. firstSeq - 1. */
  readonly prefix: MerkleState;
}

export interface Head {
  readonly size: number;
  readonly root: string;
  readonly start: number;
  readonly label: string;
}

class Problems {
  readonly list: TrailBreak[] = [];
  count = 0;
  constructor(private readonly max: number) {}
  add(kind: BreakKind, streamId: string | null, seq: number | null, id: string | null, detail: string): void {
    this.count++;
    if (this.list.length < this.max) this.list.push({ kind, streamId, seq, id, detail });
  }
}

export async function verifyAuditTrail(options: VerifyTrailOptions): Promise<TrailReport> {
  const started = performance.now();
  const problems = new Problems(options.maxProblems ?? 100);
  const pageSize = options.pageSize ?? VERIFY_PAGE_ROWS;
  const graceMs = options.graceMs ?? 60_000;
  const now = Date.now();

  const rows = await openTrailRows(options.url);
  try {
    const anchored = await readSeals(options.anchoredSeals, options.publicKey, problems, options.sealTable === false ? null : rows, {
      now,
      graceMs,
    });
    const newest = [...anchored.newest.values()].sort((a, b) => a.seal.trail.localeCompare(b.seal.trail));
    const newestTime = Math.max(...newest.map((s) => Date.parse(s.seal.time)), Number.NEGATIVE_INFINITY);
    const sealedBefore = newestTime - graceMs;
    const heads = anchored.heads;
    const purges = purgeRecords(await rows.withAction(PURGE_ACTION));
    const fromFile = options.spoolDir ? await readDeadLetterFile(options.spoolDir) : [];
    const letters = deadLettersByStream([...(await rows.deadLetters()), ...fromFile.map((l) => ({ id: l.entry.id, entry: l.entry }))]);
    const { rows: loose, count: looseCount } = await rows.unchained(options.maxProblems ?? 100);
    for (const r of loose) problems.add("unchained", null, null, r.id, "a row with no chain link: no seal can cover it");
    problems.count += looseCount - loose.length;

    const streamIds = new Set([...(await rows.streams()), ...heads.keys(), ...letters.keys()]);
    let entries = 0;
    let unsealed = 0;
    const jobs: StreamJob[] = [...streamIds].sort().map((streamId) => ({
      streamId,
      heads: heads.get(streamId) ?? [],
      letters: [...(letters.get(streamId) ?? new Map<number, ChainedEntry>()).values()],
      purges: purges.get(streamId) ?? [],
    }));
    const walk = { url: options.url, pageSize, sealedBefore, datedBefore: now + CLOCK_SKEW_MS, maxProblems: options.maxProblems ?? 100 };
    const threads = Math.min(options.threads ?? 1, jobs.length);
    const results = threads > 1 ? await walkInThreads(walk, jobs, threads) : await walkStreams(walk, jobs, rows);
    for (const r of results) {
      entries += r.entries;
      unsealed += r.unsealed;
      for (const p of r.problems) problems.add(p.kind, p.streamId, p.seq, p.id, p.detail);
      problems.count += r.problemCount - r.problems.length;
    }
    if (anchored.count === 0 && entries + looseCount > 0) {
      problems.add("seal-missing", null, null, null, "no anchored seal verifies with this public key: nothing in the database is covered");
    }
    return {
      ok: problems.count === 0,
      streams: streamIds.size,
      entries,
      unsealed,
      seals: newest.map((s) => ({ trail: s.seal.trail, number: s.seal.number, time: s.seal.time })),
      problems: problems.list,
      problemCount: problems.count,
      elapsedMs: performance.now() - started,
    };
  } finally {
    await rows.close();
  }
}

// ── seals ─────────────────────────────────────────────────────────────────────────────────────

/** What verify keeps of the anchored seals: per trail the newest, per stream the newest head. */
interface AnchoredState {
  readonly newest: Map<string, SignedSeal>;
  /** Per stream, the head its newest seal signed (one element: the walk checks that root). */
  readonly heads: Map<string, Head[]>;
  /** Seals that verified. */
  count: number;
}

/**
 * Reads the anchored seals one at a time, in bounded memory whatever their number: checks each
 * signature; per trail, numbers 1..n without gaps, each naming the one before (a copy of a seal
 * already seen — the witness's — counts once; two different seals of one number are a fork);
 * and, given the seal table, that it holds exactly these seals (it is a copy, never the
 * authority), read in pages beside them. Each trail's seals must come in ascending number order
 * (as `anchoredSealTexts` yields them).
 *
 * A live sealer anchors a seal first and stores it in the table after (in order, retried), while
 * verify lists the anchors once and reads the table later. So seals are not judged while they are
 * younger than `graceMs` (by their signed time) in two places: the newest anchored seals missing
 * from the table (the store may not have caught up; a missing seal followed by a later one the
 * table holds is `seal-missing` at once), and the table's seals past a trail's newest anchored one
 * (anchored after the listing) that verify with the public key. Older, or not signed by the key,
 * those are `seal-unanchored`.
 *
 * Kept: the newest seal per trail and the newest head per stream. That root commits to every
 * entry up to its size; an older seal's root over a prefix can only differ from it if the signer
 * itself signed a fork, which is the witness's to refuse (it checks consistency proofs).
 */
async function readSeals(
  texts: Iterable<string> | AsyncIterable<string>,
  publicKey: KeyObject,
  problems: Problems,
  table: TrailRows | null,
  clock: { readonly now: number; readonly graceMs: number },
): Promise<AnchoredState> {
  const state: AnchoredState = { newest: new Map(), heads: new Map(), count: 0 };
  /** Signed within the grace period (and not ahead of the clock): the sealer may be between anchor and table. */
  const young = (signed: SignedSeal) => {
    const time = Date.parse(signed.seal.time);
    return time > clock.now - clock.graceMs && time <= clock.now + CLOCK_SKEW_MS;
  };
  const last = new Map<string, { number: number; hash: string }>();
  const tables = new Map<string, SealTableCursor>();
  for await (const text of texts) {
    let signed: SignedSeal;
    try {
      signed = verifySeal(text, publicKey);
    } catch (error) {
      problems.add("seal-invalid", null, null, null, `an anchored seal does not verify with the public key: ${messageOf(error)}`);
      continue;
    }
    const { trail, number } = signed.seal;
    const hash = sealHash(signed);
    const previous = last.get(trail);
    if (previous && number === previous.number) {
      // The same seal from two anchors counts once; two different ones are a fork.
      if (hash !== previous.hash)
        problems.add("seal-invalid", null, number, hash, `trail ${trail}: two different seals numbered ${number} (a fork)`);
      continue;
    }
    if (previous && number < previous.number) {
      problems.add(
        "seal-invalid",
        null,
        number,
        hash,
        `trail ${trail}: seal ${number} came after seal ${previous.number}: the anchors must give each trail's seals in order`,
      );
      continue;
    }
    const expected = (previous?.number ?? 0) + 1;
    if (number !== expected) {
      problems.add(
        "seal-missing",
        null,
        expected,
        null,
        `trail ${trail}: seal${number - 1 > expected ? `s ${expected}–${number - 1}` : ` ${expected}`} missing from the anchors`,
      );
    } else if (previous && signed.seal.prev !== previous.hash) {
      problems.add(
        "seal-invalid",
        null,
        number,
        hash,
        `trail ${trail}: seal ${number} does not name seal ${previous.number} as its predecessor`,
      );
    }
    last.set(trail, { number, hash });
    state.count++;
    state.newest.set(trail, signed);
    for (const h of signed.seal.streams) {
      const known = state.heads.get(h.streamId)?.[0];
      if (!known || h.size >= known.size)
        state.heads.set(h.streamId, [{ size: h.size, root: h.root, start: h.start, label: `seal ${trail}#${number}` }]);
    }
    if (table) {
      let cursor = tables.get(trail);
      if (!cursor) {
        cursor = new SealTableCursor(table, trail, problems);
        tables.set(trail, cursor);
      }
      await cursor.match(number, hash, young(signed));
    }
  }
  if (table) {
    for (const trail of await table.sealTrails()) {
      if (!tables.has(trail)) tables.set(trail, new SealTableCursor(table, trail, problems));
    }
    for (const cursor of tables.values()) {
      await cursor.rest((text) => {
        try {
          const signed = verifySeal(text, publicKey);
          return young(signed) ? signed : null;
        } catch {
          return null;
        }
      });
    }
  }
  return state;
}

/** The seal table's seals of one trail, read in pages as the anchored ones come (ascending). */
class SealTableCursor {
  private page: Omit<StoredSeal, "note">[] = [];
  private at = 0;
  private after = 0;
  private done = false;
  /** Anchored seals missing from the table so far, young enough that the store may catch up. */
  private pending: { number: number; hash: string }[] = [];
  /** The newest anchored seal's number (0: none). */
  private anchoredUpTo = 0;

  constructor(
    private readonly rows: TrailRows,
    private readonly trail: string,
    private readonly problems: Problems,
  ) {}

  /** The table's next seal, or undefined at its end. */
  private async peek(): Promise<Omit<StoredSeal, "note"> | undefined> {
    if (this.at === this.page.length && !this.done) {
      this.page = await this.rows.sealIds(this.trail, this.after, 1_000);
      this.at = 0;
      this.done = this.page.length < 1_000;
      this.after = this.page.at(-1)?.number ?? this.after;
    }
    return this.page[this.at];
  }

  /**
   * Anchored seal `number` (hash `hash`) against the table: every seal the table holds below it is
   * unanchored. If the table lacks it and it is `young`, it is missing only once the table is seen
   * to hold a later seal (the sealer stores seals in order).
   */
  async match(number: number, hash: string, young: boolean): Promise<void> {
    this.anchoredUpTo = number;
    for (let row = await this.peek(); row && row.number <= number; row = await this.peek()) {
      this.at++;
      this.flushPending();
      const key = `${this.trail}#${row.number}`;
      if (row.number < number) this.problems.add("seal-unanchored", null, null, row.id, `the seal table holds ${key}, which no anchor has`);
      else if (row.id !== hash)
        this.problems.add("seal-unanchored", null, null, row.id, `the seal table's ${key} differs from the anchored one`);
      if (row.number === number) return;
    }
    if (young) this.pending.push({ number, hash });
    else {
      this.flushPending();
      this.missing(number, hash);
    }
  }

  /**
   * The table's seals past the newest anchored one: unanchored, unless `young` gives them back as
   * seals signed by the key within the grace period (anchored after verify listed the anchors). Any
   * of them means the young anchored seals the table lacks were stored too, had they been: missing.
   */
  async rest(young: (text: string) => SignedSeal | null): Promise<void> {
    for (let after = this.anchoredUpTo; ; ) {
      const page = await this.rows.sealTexts(this.trail, after, 100);
      if (page.length > 0) this.flushPending();
      for (const row of page) {
        const signed = young(row.note);
        if (!signed || signed.seal.trail !== this.trail || signed.seal.number !== row.number || sealHash(signed) !== row.id)
          this.problems.add("seal-unanchored", null, null, row.id, `the seal table holds ${this.trail}#${row.number}, which no anchor has`);
      }
      if (page.length < 100) return;
      after = (page.at(-1) as StoredSeal).number;
    }
  }

  private flushPending(): void {
    for (const p of this.pending) this.missing(p.number, p.hash);
    this.pending = [];
  }

  private missing(number: number, hash: string): void {
    this.problems.add("seal-missing", null, null, hash, `seal ${this.trail}#${number} is anchored but missing from the seal table`);
  }
}

// ── purges and dead letters ───────────────────────────────────────────────────────────────────

function purgeRecords(entries: readonly StoredRow[]): Map<string, PurgeRecord[]> {
  const byStream = new Map<string, PurgeRecord[]>();
  for (const e of entries) {
    const streams = (e.metadata as { streams?: unknown } | null)?.streams;
    if (!Array.isArray(streams)) continue;
    for (const s of streams as PurgeRecord[]) {
      if (typeof s?.streamId !== "string" || typeof s.firstSeq !== "number" || typeof s.prefix !== "object" || s.prefix === null) continue;
      const list = byStream.get(s.streamId) ?? [];
      list.push(s);
      byStream.set(s.streamId, list);
    }
  }
  return byStream;
}

function deadLettersByStream(letters: readonly { id: string; entry: unknown }[]): Map<string, Map<number, ChainedEntry>> {
  const byStream = new Map<string, Map<number, ChainedEntry>>();
  for (const { entry } of letters) {
    const e = entry as Partial<ChainedEntry> | null;
    if (typeof e?.streamId !== "string" || typeof e.seq !== "number") continue;
    const map = byStream.get(e.streamId) ?? new Map<number, ChainedEntry>();
    map.set(e.seq, e as ChainedEntry);
    byStream.set(e.streamId, map);
  }
  return byStream;
}

// ── the walk, here or in worker threads ──────────────────────────────────────────────────────

/** One stream to walk, with what the walk needs to know about it (structured-cloneable). */
export interface StreamJob {
  readonly streamId: string;
  readonly heads: readonly Head[];
  readonly letters: readonly ChainedEntry[];
  readonly purges: readonly PurgeRecord[];
}

export interface WalkSettings {
  readonly url: string;
  readonly pageSize: number;
  readonly sealedBefore: number;
  /** Verify's clock plus CLOCK_SKEW_MS: an unsealed row dated later is forged. */
  readonly datedBefore: number;
  readonly maxProblems: number;
}

export interface StreamResult {
  readonly streamId: string;
  readonly entries: number;
  readonly unsealed: number;
  readonly problems: readonly TrailBreak[];
  readonly problemCount: number;
}

/** Walks `jobs` one after the other on `rows` (or a connection of its own). */
export async function walkStreams(settings: WalkSettings, jobs: readonly StreamJob[], rows?: TrailRows): Promise<StreamResult[]> {
  const source = rows ?? (await openTrailRows(settings.url));
  try {
    const results: StreamResult[] = [];
    for (const job of jobs) {
      const problems = new Problems(settings.maxProblems);
      const walked = await walkStream(source, job.streamId, {
        heads: job.heads,
        letters: new Map(job.letters.map((l) => [l.seq, l])),
        purges: job.purges,
        pageSize: settings.pageSize,
        sealedBefore: settings.sealedBefore,
        datedBefore: settings.datedBefore,
        problems,
      });
      results.push({ streamId: job.streamId, ...walked, problems: problems.list, problemCount: problems.count });
    }
    return results;
  } finally {
    if (!rows) await source.close();
  }
}

/** The old-generation heap a verify thread runs in (also what the bench's verify process gets). */
export const VERIFY_HEAP_MB = 64;

/** Resolves from src/ (tests, tsx) and from dist/ alike: worker threads need built JS. */
const WALKER = new URL("../dist/verify-walker.js", import.meta.url);

/** Deals the streams round-robin to `threads` workers; results come back in stream order. */
async function walkInThreads(settings: WalkSettings, jobs: readonly StreamJob[], threads: number): Promise<StreamResult[]> {
  const groups = Array.from({ length: threads }, (_, t) => jobs.filter((_, i) => i % threads === t));
  const done = await Promise.all(
    groups.map(
      (group) =>
        new Promise<StreamResult[]>((resolve, reject) => {
          const worker = new Worker(WALKER, {
            workerData: { settings, jobs: group },
            resourceLimits: { maxOldGenerationSizeMb: VERIFY_HEAP_MB },
          });
          let result: StreamResult[] | undefined;
          worker.once("message", (message: StreamResult[]) => {
            result = message;
          });
          worker.once("error", reject);
          worker.once("exit", (code) =>
            result ? resolve(result) : reject(new Error(`a verify walker exited with code ${code} before reporting`)),
          );
        }),
    ),
  );
  const byStream = new Map(done.flat().map((r) => [r.streamId, r]));
  return jobs.map((j) => byStream.get(j.streamId) as StreamResult);
}

// ── one stream ────────────────────────────────────────────────────────────────────────────────

interface WalkInput {
  readonly heads: readonly Head[];
  readonly letters: ReadonlyMap<number, ChainedEntry>;
  readonly purges: readonly PurgeRecord[];
  readonly pageSize: number;
  readonly sealedBefore: number;
  readonly datedBefore: number;
  readonly problems: Problems;
}

async function walkStream(rows: TrailRows, streamId: string, input: WalkInput): Promise<{ entries: number; unsealed: number }> {
  const { heads, letters, problems, sealedBefore, datedBefore } = input;
  const sealedSize = heads.reduce((n, h) => Math.max(n, h.size), 0);
  const start = heads.reduce((n, h) => Math.max(n, h.start), 1);
  const newestLabel = heads.find((h) => h.size === sealedSize)?.label ?? "no seal";

  // Where the stream begins: seq 1, or a signed purge's start, continued from the purge's record.
  let log: MerkleLog | null = new MerkleLog();
  let prevHash: string | null = null;
  if (start > 1) {
    const record = input.purges.find((p) => p.firstSeq === start);
    try {
      log = record ? MerkleLog.restore(record.prefix) : null;
    } catch {
      log = null;
    }
    if (!record || log?.size !== start - 1) {
      problems.add(
        "unsigned-purge",
        streamId,
        start,
        null,
        `the seals start this stream at seq ${start} but no purge record gives the log below it`,
      );
      log = null;
    }
    prevHash = record?.prevHash ?? null;
  }
  let linkKnown = true;
  let headIndex = 0;
  let expected = start;
  let entries = 0;
  let unsealed = 0;
  let lastSeq = 0;

  // Whether to hash a row's JSON text as stored first: true at each page's start, false for the
  // rest of a page once a row's text was not canonical though its parsed values gave the hash (rows
  // written before the sinks stored canonical text, or through Prisma): one try per page.
  let textFirst = true;
  /** Whether a stored row's content still gives its chain hash. */
  const intact = (row: TextRow): boolean => {
    const tried = textFirst && row.jsonValid;
    if (tried && chainHashOfJsonText(row as EntryWithJsonText, streamId, row.prevHash) === row.hash) return true;
    let parsed: StoredRow;
    try {
      parsed = parsedRow(row);
    } catch {
      return false; // a JSON column whose text is no JSON: not what the writer stored
    }
    const ok = chainHash(parsed as ChainedEntry, streamId, row.prevHash) === row.hash;
    if (ok && tried) textFirst = false;
    return ok;
  };

  const check = (row: Pick<ChainedEntry, "seq" | "hash" | "prevHash" | "occurredAt">, id: string, fromDeadLetter: boolean, ok: boolean) => {
    entries++;
    const where = fromDeadLetter ? "the dead letter standing in for this seq" : "the row";
    if (!ok) {
      problems.add("modified", streamId, row.seq, id, `${where}'s content no longer gives its chain hash`);
    }
    if (linkKnown && row.prevHash !== prevHash) {
      problems.add("reordered", streamId, row.seq, id, `${where} links to a different predecessor than the entry before it`);
    }
    prevHash = row.hash;
    linkKnown = true;
    if (log) {
      try {
        log.appendHex(entryLeafHex(row.hash));
      } catch {
        problems.add("modified", streamId, row.seq, id, `${where}'s chain hash is not a hash`);
        log = null;
      }
    }
    while (log && headIndex < heads.length && (heads[headIndex] as Head).size <= log.size) {
      const head = heads[headIndex++] as Head;
      if (head.size < log.size) continue;
      if (log.rootHex() !== head.root) {
        problems.add(
          "rewritten",
          streamId,
          head.size,
          null,
          `seqs ${start}–${head.size} no longer give the root ${head.label} signed: rows were replaced (content and chain recomputed) or removed`,
        );
        log = null;
      }
    }
    if (row.seq > sealedSize) {
      const at = Date.parse(row.occurredAt);
      const uncovered = sealedSize === 0 ? "the stream is in no seal" : `${newestLabel} ends the stream at seq ${sealedSize}`;
      if (!(at <= datedBefore)) {
        problems.add(
          "unsealed",
          streamId,
          row.seq,
          id,
          `no seal covers this entry (${uncovered}), and its time ${Number.isNaN(at) ? "is unreadable" : "is later than verify's clock"}: appended or forged`,
        );
      } else if (at <= sealedBefore) {
        problems.add(
          "unsealed",
          streamId,
          row.seq,
          id,
          `no seal covers this entry (${uncovered}), though it is older than the newest seal: appended or forged`,
        );
      } else {
        unsealed++;
      }
    }
    expected = row.seq + 1;
    lastSeq = row.seq;
  };

  /** Fills seqs below `upTo` from dead letters; anything else missing there was deleted. */
  const gap = (upTo: number, id: string | null, kind: "deleted" | "truncated") => {
    while (expected < upTo) {
      const letter = letters.get(expected);
      if (letter) {
        check(letter, letter.id, true, chainHash(letter, streamId, letter.prevHash) === letter.hash);
        continue;
      }
      let end = expected;
      while (end + 1 < upTo && !letters.has(end + 1)) end++;
      if (expected === start && input.purges.some((p) => p.firstSeq === end + 1)) {
        problems.add(
          "unsigned-purge",
          streamId,
          expected,
          id,
          `seqs ${expected}–${end} are gone and a purge entry says so, but no signed seal moved the stream's start: an unsigned (or forged) purge`,
        );
      } else
        problems.add(
          kind,
          streamId,
          expected,
          id,
          kind === "truncated"
            ? `seqs ${expected}–${end} are missing at the end: ${newestLabel} says the stream reached ${sealedSize}`
            : `seqs ${expected}–${end} are missing before this row`,
        );
      log = null;
      linkKnown = false;
      expected = end + 1;
    }
  };

  // On PostgreSQL the stream comes as one COPY: the server sends the next rows while this thread
  // hashes these (see trail-rows.ts).
  for await (const page of rows.walk(streamId, input.pageSize)) {
    textFirst = true;
    for (const row of page) {
      const seq = row.seq as number;
      if (seq < start) continue; // below a signed purge's start: purged meanwhile, or left by it
      if (seq === lastSeq) {
        problems.add("duplicate", streamId, seq, row.id, `a second row claims seq ${seq}`);
        continue;
      }
      gap(seq, row.id, "deleted");
      const letter = letters.get(seq);
      if (letter && letter.hash !== row.hash) {
        problems.add("modified", streamId, seq, row.id, "the row differs from the dead letter kept for the same seq");
      }
      check(row as ChainedEntry, row.id, false, intact(row));
    }
  }
  // Trailing dead letters, then whatever the seals promise beyond the last row.
  gap(sealedSize + 1, null, "truncated");
  for (let letter = letters.get(expected); letter; letter = letters.get(expected)) {
    check(letter, letter.id, true, chainHash(letter, streamId, letter.prevHash) === letter.hash);
  }
  return { entries, unsealed };
}
