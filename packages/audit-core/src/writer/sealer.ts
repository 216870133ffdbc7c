/**
 * The sealer (main thread): collects every stream's Merkle log state as the writers report it,
 * and at most every `sealEveryMs` — only when something changed — and when a writer closes, signs
 * a seal over all of them (../seal.ts) and hands it on:
 *
 *   1. the directory anchor (../anchor.ts): fsynced before the seal counts; if it fails, nothing
 *      advances and the next tick seals again under the same number;
 *   2. the database, through a sink's `storeSeal` (retried at later ticks until stored);
 *   3. optionally a witness (../witness.ts), with a consistency proof per grown stream (retried
 *      while unreachable; a refusal is reported — it means the trail forked or rolled back).
 *
 * One sealer per process and trail, shared by all the writers of the process. A new process
 * continues the trail: number, previous hash and every stream are carried on from the newest
 * anchored seal, so the newest seal alone covers the whole trail; it stores that seal in the
 * database again (a process killed between steps 1 and 2 left it only in the anchor).
 */
import { type KeyObject, createPublicKey } from "node:crypto";
import { resolve } from "node:path";
import { z } from "zod";
import { type ConsistencyProofs, DirectoryAnchor } from "../anchor.ts";
import type { StreamReport } from "../chain.ts";
import {
  AnchorError,
  InvalidSealerOptionsError,
  MerkleProofError,
  SealFormatError,
  WitnessError,
  formatIssues,
  messageOf,
} from "../errors.ts";
import { HASH_BYTES, MerkleLog, type MerkleState, consistencyRanges, frontierNode, rootOf } from "../merkle.ts";
import {
  type SealSigner,
  type SignedSeal,
  STREAM_ID,
  type StreamHead,
  TRAIL_NAME,
  loadSigningKey,
  sealHash,
  signSeal,
  verifySeal,
} from "../seal.ts";
import { type AuditSink, loadSink } from "../sink.ts";
import { WitnessClient } from "../witness.ts";

/** Time and timers, injectable for tests. `schedule` returns a cancel function. */
export interface SealerClock {
  now(): number;
  schedule(fn: () => void, ms: number): () => void;
}

const systemClock: SealerClock = {
  now: () => Date.now(),
  schedule: (fn, ms) => {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

const int = (min: number, max: number) => z.number().int().min(min).max(max);
const fn = <T>() => z.custom<T>((v) => typeof v === "function");

export const SealerOptionsSchema = z
  .strictObject({
    /** The trail's name: in every seal, the anchor's sub-folder, the default key name. */
    trail: z.string().regex(TRAIL_NAME, "1–128 of A-Z a-z 0-9 . _ -, starting with a letter or digit"),
    /** The Ed25519 signing key, as a KeyObject … */
    signingKey: z
      .custom<KeyObject>((v) => typeof v === "object" && v !== null && (v as KeyObject).type === "private", "an Ed25519 private KeyObject")
      .optional(),
    /** … or the PEM file holding it (e.g. named by an environment variable; see `audit:keygen`). */
    signingKeyFile: z.string().min(1).optional(),
    /** The name on the seal's signature line. Default: the trail's name. */
    keyName: z
      .string()
      .regex(/^[^\s+]{1,128}$/, 'no spaces and no "+" (1–128 characters)')
      .optional(),
    /** The append-only folder seals are anchored in (resolved from the cwd): another volume in production. */
    anchorDir: z.string().min(1),
    /** A seal at most this often, only when something new was written. */
    sealEveryMs: int(10, 86_400_000).default(1_000),
    /** A witness that cosigns seals consistent with the last one it saw. */
    witness: z
      .strictObject({
        url: z.url(),
        /** One request taking longer fails (retried at the next seal). */
        timeoutMs: int(1, 600_000).default(5_000),
        /**
         * Leaves kept per stream to prove consistency to the witness (32 bytes each). Past this a
         * stream's proof for that interval cannot be made and the witness will refuse the seal.
         */
        maxPendingLeaves: int(1, 100_000_000).default(1_000_000),
      })
      .optional(),
    /** The sink whose `storeSeal` keeps seals in the database (pass the writer's sink spec). */
    sink: z.strictObject({ module: z.string().min(1), options: z.record(z.string(), z.unknown()).optional() }).optional(),
    clock: z
      .custom<SealerClock>(
        (v) =>
          typeof v === "object" &&
          v !== null &&
          typeof (v as SealerClock).now === "function" &&
          typeof (v as SealerClock).schedule === "function",
      )
      .optional(),
    /** Problems the sealer handled (anchor, database or witness failures). */
    onError: fn<(error: Error) => void>().optional(),
    /** Called with each seal once it is anchored. */
    onSeal: fn<(seal: SignedSeal) => void>().optional(),
  })
  .refine((o) => (o.signingKey === undefined) !== (o.signingKeyFile === undefined), {
    message: "give exactly one of signingKey and signingKeyFile",
    path: ["signingKey"],
  });

export type SealerOptions = z.input<typeof SealerOptionsSchema>;
type Resolved = z.output<typeof SealerOptionsSchema>;

/** What a writer needs from a sealer (createAuditWriter's `sealer` option). */
export interface StreamSealer {
  report(update: StreamReport): void;
  seal(): Promise<SignedSeal | undefined>;
}

export interface SealerStats {
  /** Seals anchored by this process. */
  readonly seals: number;
  /** The newest seal's number (this process's or the one it continued from); 0 for none. */
  readonly lastNumber: number;
  /** Seals anchored but not yet stored through the sink / accepted by the witness. */
  readonly storePending: number;
  readonly witnessPending: number;
  /** Seals the witness cosigned. */
  readonly witnessed: number;
  /** Errors reported to onError. */
  readonly errors: number;
}

interface Tracked {
  head: StreamHead;
  frontier: readonly string[];
  /** The log at the last seal, and the leaves since (kept only with a witness). */
  sealed: { size: number; frontier: readonly string[] };
  leaves: Buffer[];
  /** A report was missed or leaves were dropped: no consistency proof for this interval. */
  gap: boolean;
}

interface WitnessItem {
  readonly signed: SignedSeal;
  readonly proofs: ConsistencyProofs;
}

export class Sealer implements StreamSealer {
  private readonly streams = new Map<string, Tracked>();
  private readonly sources: Array<() => Promise<readonly StreamReport[]>> = [];
  private readonly storeQueue: SignedSeal[] = [];
  private readonly witnessQueue: WitnessItem[] = [];
  private witnessSynced = false;
  private dirty = false;
  /** Reports that arrived while a seal was being anchored (see report()). */
  private deferred: StreamReport[] | undefined;
  private turn: Promise<unknown> = Promise.resolve();
  private cancelTimer: (() => void) | undefined;
  private closing: Promise<void> | undefined;
  private counts = { seals: 0, witnessed: 0, errors: 0 };

  private constructor(
    private readonly options: Resolved,
    private readonly signer: SealSigner,
    private readonly anchor: DirectoryAnchor,
    private readonly clock: SealerClock,
    private readonly sink: AuditSink | undefined,
    private readonly witness: WitnessClient | undefined,
    private last: SignedSeal | undefined,
  ) {
    for (const head of last?.seal.streams ?? []) {
      this.streams.set(head.streamId, { head, frontier: [], sealed: { size: head.size, frontier: [] }, leaves: [], gap: false });
    }
    // The newest anchored seal goes to the database again (storing is idempotent): a process
    // killed between anchoring a seal and storing it left the seal table one short.
    if (last && sink) this.storeQueue.push(last);
  }

  /**
   * Validates the options (InvalidSealerOptionsError), loads the key (SealKeyError), takes the
   * trail's anchor folder (AnchorError if another process seals it, or if its newest seal is not
   * signed by this key), builds the sink, and starts the timer.
   */
  static async open(input: SealerOptions): Promise<Sealer> {
    const parsed = SealerOptionsSchema.safeParse(input);
    if (!parsed.success) {
      throw new InvalidSealerOptionsError(formatIssues(parsed.error.issues, "(options)"));
    }
    const options = { ...parsed.data, anchorDir: resolve(parsed.data.anchorDir) };
    const privateKey = options.signingKey ?? (await loadSigningKey(options.signingKeyFile as string));
    if (privateKey.asymmetricKeyType !== "ed25519") throw new InvalidSealerOptionsError(["signingKey: seals are signed with Ed25519"]);
    const signer: SealSigner = { name: options.keyName ?? options.trail, privateKey };
    const anchor = await DirectoryAnchor.open(options.anchorDir, options.trail);
    anchor.lock();
    try {
      const last = await anchor.latest();
      if (last) {
        try {
          verifySeal(last, createPublicKey(privateKey));
        } catch (error) {
          throw new AnchorError(
            options.anchorDir,
            `the newest seal (${last.seal.number}) is not signed by this key: ${messageOf(error)}`,
            error,
          );
        }
      }
      const sink = options.sink ? await loadSink(options.sink) : undefined;
      if (sink && typeof sink.storeSeal !== "function") {
        await sink.close();
        throw new InvalidSealerOptionsError([`sink: the sink of "${options.sink?.module}" has no storeSeal(seal)`]);
      }
      const witness = options.witness ? new WitnessClient(options.witness.url, options.witness.timeoutMs) : undefined;
      const sealer = new Sealer(options, signer, anchor, options.clock ?? systemClock, sink, witness, last);
      sealer.schedule();
      return sealer;
    } catch (error) {
      anchor.unlock();
      throw error;
    }
  }

  /** The newest seal (anchored), or undefined before the trail's first. */
  get latest(): SignedSeal | undefined {
    return this.last;
  }

  /** Takes a stream's new state. Called by writers after each batch; anyone may report a stream of their own. */
  report(update: StreamReport): void {
    // While a seal is being anchored, what it covers is fixed: later reports wait for the next one.
    if (this.deferred) {
      this.deferred.push(update);
      return;
    }
    if (!STREAM_ID.test(update.streamId)) {
      this.handleError(new SealFormatError(`stream id ${JSON.stringify(update.streamId)} must match ${STREAM_ID}; report ignored`));
      return;
    }
    const known = this.streams.get(update.streamId);
    if (update.size <= (known?.head.size ?? 0)) return; // nothing new (or a stale report)
    const tracked: Tracked = known ?? {
      head: { streamId: update.streamId, size: 0, root: "", start: 1 },
      frontier: [],
      sealed: { size: 0, frontier: [] },
      leaves: [],
      gap: false,
    };
    if (update.from !== tracked.head.size || update.leaves.length !== (update.size - update.from) * HASH_BYTES) tracked.gap = true;
    // A stream carried over from an earlier process: its sealed frontier is known only if the
    // reporter resumed its log and says what it was (checked against the sealed root).
    if (tracked.sealed.size > 0 && tracked.sealed.frontier.length === 0) {
      const resumed = update.fromFrontier && update.from === tracked.sealed.size ? update.fromFrontier : undefined;
      if (resumed && frontierRoot({ size: update.from, frontier: resumed }) === tracked.head.root)
        tracked.sealed = { size: update.from, frontier: resumed };
      else tracked.gap = true;
    }
    tracked.head = { ...tracked.head, size: update.size, root: update.root };
    tracked.frontier = update.frontier;
    if (this.witness && !tracked.gap) {
      for (let i = 0; i < update.leaves.length; i += HASH_BYTES)
        tracked.leaves.push(Buffer.from(update.leaves.subarray(i, i + HASH_BYTES)));
      if (tracked.leaves.length > (this.options.witness?.maxPendingLeaves ?? 0)) {
        tracked.leaves = [];
        tracked.gap = true;
      }
    }
    this.streams.set(update.streamId, tracked);
    this.dirty = true;
  }

  /** A source polled before each seal (e.g. a component linking rows written in business transactions). */
  addSource(source: () => Promise<readonly StreamReport[]>): void {
    this.sources.push(source);
  }

  /** Seals now if anything changed since the last seal; resolves with the seal, or undefined. */
  seal(): Promise<SignedSeal | undefined> {
    return this.serially(() => this.sealNow(false));
  }

  /**
   * Records that a retention purge removed each stream's entries below `firstSeq` and seals at once:
   * the seal's `start` for those streams authorises the missing prefix. Call after the purge commits.
   */
  notePurge(starts: readonly { streamId: string; firstSeq: number }[]): Promise<SignedSeal | undefined> {
    return this.serially(async () => {
      for (const { streamId, firstSeq } of starts) {
        const tracked = this.streams.get(streamId);
        if (!tracked) throw new SealFormatError(`stream ${streamId} is not in trail "${this.options.trail}"`);
        if (!Number.isSafeInteger(firstSeq) || firstSeq < tracked.head.start || firstSeq > tracked.head.size + 1) {
          throw new SealFormatError(
            `stream ${streamId}: a purge cannot start it at ${firstSeq} (start ${tracked.head.start}, size ${tracked.head.size})`,
          );
        }
      }
      for (const { streamId, firstSeq } of starts) {
        const tracked = this.streams.get(streamId) as Tracked;
        tracked.head = { ...tracked.head, start: firstSeq };
      }
      this.dirty = true; // sealed now, or at the next tick if anchoring fails
      return this.sealNow(true);
    });
  }

  stats(): SealerStats {
    return {
      seals: this.counts.seals,
      lastNumber: this.last?.seal.number ?? 0,
      storePending: this.storeQueue.length,
      witnessPending: this.witnessQueue.length,
      witnessed: this.counts.witnessed,
      errors: this.counts.errors,
    };
  }

  /** Stops the timer, seals what is new, tries once more to store and witness, releases the trail. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.cancelTimer?.();
      await this.serially(() => this.sealNow(false));
      await this.sink?.close().catch((error: unknown) => this.handleError(error));
      this.anchor.unlock();
    })();
    return this.closing;
  }

  // ── internals ─────────────────────────────────────────────────────────────────────────────────

  private schedule(): void {
    this.cancelTimer = this.clock.schedule(() => {
      if (this.closing) return;
      void this.seal()
        .catch((error: unknown) => this.handleError(error))
        .finally(() => {
          if (!this.closing) this.schedule();
        });
    }, this.options.sealEveryMs);
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const run = this.turn.then(step);
    this.turn = run.catch(() => undefined);
    return run;
  }

  private async sealNow(force: boolean): Promise<SignedSeal | undefined> {
    for (const source of this.sources) {
      try {
        for (const update of await source()) this.report(update);
      } catch (error) {
        this.handleError(error);
      }
    }
    let signed: SignedSeal | undefined;
    try {
      if (this.dirty || force) signed = await this.sign();
    } catch (error) {
      this.handleError(error);
    }
    await this.drainStore();
    await this.drainWitness();
    return signed;
  }

  private async sign(): Promise<SignedSeal | undefined> {
    this.deferred = [];
    try {
      return await this.signAndAnchor();
    } finally {
      const later = this.deferred;
      this.deferred = undefined;
      for (const update of later) this.report(update);
    }
  }

  private async signAndAnchor(): Promise<SignedSeal | undefined> {
    const streams = [...this.streams.values()].map((t) => t.head).sort((a, b) => (a.streamId < b.streamId ? -1 : 1));
    const signed = signSeal(
      {
        trail: this.options.trail,
        number: (this.last?.seal.number ?? 0) + 1,
        time: new Date(this.clock.now()).toISOString(),
        prev: this.last ? sealHash(this.last) : null,
        streams,
      },
      this.signer,
    );
    const proofs = this.witness ? this.consistencyProofs() : undefined;
    try {
      await this.anchor.append(signed, proofs);
    } catch (error) {
      this.handleError(error); // nothing advanced: the next tick seals again under this number
      return undefined;
    }
    this.last = signed;
    this.dirty = false;
    for (const tracked of this.streams.values()) {
      tracked.sealed = { size: tracked.head.size, frontier: tracked.frontier };
      tracked.leaves = [];
      tracked.gap = false;
    }
    this.counts.seals++;
    if (this.sink) this.storeQueue.push(signed);
    if (this.witness && proofs) this.witnessQueue.push({ signed, proofs });
    this.options.onSeal?.(signed);
    return signed;
  }

  /** Per stream that grew since the last seal: the RFC 9162 proof that its log extends the sealed one. */
  private consistencyProofs(): ConsistencyProofs {
    const proofs: Record<string, string[]> = {};
    for (const t of this.streams.values()) {
      const first = t.sealed.size;
      const second = t.head.size;
      if (first === 0 || first === second) continue;
      if (t.gap) {
        this.handleError(
          new WitnessError(
            `stream ${t.head.streamId}: no consistency proof since the last seal (a report was missed, the stream was resumed without its frontier, or it grew by more than witness.maxPendingLeaves)`,
            false,
          ),
        );
        continue;
      }
      try {
        proofs[t.head.streamId] = consistencyRanges(first, second).map(([start, end]) =>
          end <= first ? frontierNodeOrFail(t.sealed, start, end) : rootOf(t.leaves.slice(start - first, end - first)).toString("hex"),
        );
      } catch (error) {
        this.handleError(error); // the witness will refuse this seal for want of the proof
      }
    }
    return proofs;
  }

  private async drainStore(): Promise<void> {
    while (this.sink?.storeSeal && this.storeQueue.length > 0) {
      try {
        await this.sink.storeSeal(this.storeQueue[0] as SignedSeal);
        this.storeQueue.shift();
      } catch (error) {
        this.handleError(error);
        return;
      }
    }
  }

  private async drainWitness(): Promise<void> {
    if (!this.witness || this.witnessQueue.length === 0) return;
    try {
      if (!this.witnessSynced) await this.catchUpWitness(this.witness);
    } catch (error) {
      this.handleError(error);
      return;
    }
    while (this.witnessQueue.length > 0) {
      const item = this.witnessQueue[0] as WitnessItem;
      try {
        await this.witness.submit(item.signed, item.proofs);
        this.counts.witnessed++;
        this.witnessQueue.shift();
      } catch (error) {
        this.handleError(error);
        if (!(error instanceof WitnessError && error.refused)) return; // unreachable: retry later
        this.witnessQueue.shift(); // refused: it never will accept this one
      }
    }
  }

  /**
   * Once per process: a witness that has not seen the seals anchored before this process's first
   * (it was down, or the last process ended before reaching it) gets them from the anchor, with
   * the consistency proofs kept beside them, oldest first.
   */
  private async catchUpWitness(witness: WitnessClient): Promise<void> {
    const seen = (await witness.latest(this.options.trail))?.seal.number;
    const first = (this.witnessQueue[0] as WitnessItem).signed.seal.number;
    if (seen !== undefined && seen >= first) {
      throw new WitnessError(
        `the witness has seal ${seen} of trail "${this.options.trail}"; this trail's anchor continues from ${first - 1}: the anchor folder was rolled back or another process sealed this trail`,
        true,
      );
    }
    const missed: WitnessItem[] = [];
    for (let n = (seen ?? first - 1) + 1; n < first; n++) {
      missed.push({ signed: await this.anchor.read(n), proofs: (await this.anchor.proofs(n)) ?? {} });
    }
    this.witnessQueue.unshift(...missed);
    this.witnessSynced = true;
  }

  private handleError(error: unknown): void {
    this.counts.errors++;
    this.options.onError?.(error instanceof Error ? error : new Error(messageOf(error)));
  }
}

function frontierNodeOrFail(state: MerkleState, start: number, end: number): string {
  const node = frontierNode(state, start, end);
  if (node === undefined) throw new MerkleProofError(`no frontier subtree [${start}, ${end}) in a log of ${state.size} leaves`);
  return node;
}

function frontierRoot(state: MerkleState): string | undefined {
  try {
    return MerkleLog.restore(state).root().toString("hex");
  } catch {
    return undefined;
  }
}
