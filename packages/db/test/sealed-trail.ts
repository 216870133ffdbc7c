/**
 * A sealed trail on a real database, for the attack tests: three worker-like streams written
 * through the SQL sink (one entry dead-lettered in place), entries written by business
 * transactions, and seals signed the way the writer's sealer signs them — each stream's Merkle
 * log (size, root, start), chained by number and prev hash, anchored outside the database (here:
 * kept in memory as text) and copied into the seal table through the sink's storeSeal.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import {
  type AuditEntry,
  type ChainedEntry,
  ChainStream,
  MerkleLog,
  type Seal,
  type SignedSeal,
  entryLeaf,
  sealHash,
  signSeal,
  stampEvent,
} from "@auditrail/audit-core";
import { type DatabaseHandle, createDatabase } from "../src/client.ts";
import type { PurgeRecord } from "../src/verify.ts";
import { TRANSACTIONAL_STREAM, createSink, writeInTransaction } from "../src/sink.ts";
import { type TestDatabase, copyTestDatabase, createTestDatabase } from "../src/testing.ts";
import type { Provider } from "../src/url.ts";
import { type TrailReport, verifyAuditTrail } from "../src/verify.ts";

export const TRAIL = "clinic-test";

export interface SealedTrail {
  readonly db: TestDatabase;
  readonly handle: DatabaseHandle;
  readonly publicKey: KeyObject;
  /** The anchor: every seal's text, in order. */
  readonly anchored: string[];
  /** Every chained entry written, by stream, in seq order (dead letter included). */
  readonly streams: Map<string, ChainedEntry[]>;
  /** The worker-like streams' ids (not the transactional one). */
  readonly workerStreams: readonly string[];
  /**
   * Signs a seal over every stream as it stands (reads the transactional stream back), anchors it
   * and stores it in the seal table — or, with `store: false`, only anchors it (as a live sealer
   * has before its store catches up).
   */
  seal(options?: { store?: boolean }): Promise<SignedSeal>;
  /** Marks purged starts, as the sealer's notePurge does, for the next seal. */
  notePurge(records: readonly PurgeRecord[]): void;
  /** Verifies with the anchored seals and the public key (grace 0: everything must be sealed). */
  verify(extra?: { graceMs?: number; maxProblems?: number; threads?: number }): Promise<TrailReport>;
  close(): Promise<void>;
}

const event = (i: number, extra: Partial<AuditEntry> = {}): AuditEntry => ({
  ...stampEvent(
    {
      action: "patient.read",
      entity: "Patient",
      entityId: `p-${i}`,
      actor: { id: `u-${i % 3}`, role: "dentist" },
      after: { i, name: `n${i}` },
    },
    undefined,
  ),
  ...extra,
});

export async function createSealedTrail(provider: Provider, options: { perStream?: number } = {}): Promise<TrailTemplate> {
  const perStream = options.perStream ?? 40;
  const db = await createTestDatabase(provider);
  const handle = createDatabase(db.url);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const sink = createSink({ url: db.url });
  const streams = new Map<string, ChainedEntry[]>();
  const workers = [new ChainStream(), new ChainStream(), new ChainStream()];
  for (const w of workers) streams.set(w.streamId, []);

  // Worker streams, in batches of 10; the 7th entry of the second stream is dead-lettered.
  for (let batch = 0; batch < perStream / 10; batch++) {
    for (const [n, w] of workers.entries()) {
      const linked = w.link(Array.from({ length: 10 }, (_, i) => event(batch * 10 + i)));
      const letter = n === 1 && batch === 0 ? linked[6] : undefined;
      await sink.write(linked.filter((e) => e !== letter));
      if (letter)
        await sink.deadLetter([{ entry: letter, error: "value too long for column", attempts: 1, failedAt: new Date().toISOString() }]);
      streams.get(w.streamId)?.push(...linked);
    }
  }
  // Business transactions: three, two entries each.
  for (let t = 0; t < 3; t++) {
    await handle.prisma.$transaction(async (tx) => {
      await writeInTransaction(tx, [event(1000 + t * 2, { action: "patient.create" }), event(1001 + t * 2, { action: "patient.create" })]);
    });
  }
  await sink.close();

  const keys = { privateKey, publicKey };
  const state: TrailState = { streams, workers: workers.map((w) => w.streamId), anchored: [], starts: new Map(), previous: undefined };
  const first = openTrail(db, handle, keys, state);
  await first.seal();
  await handle.close();
  return {
    async copy() {
      const copy = await copyTestDatabase(db);
      const cloned: TrailState = {
        streams: new Map([...streams].map(([k, v]) => [k, [...v]])),
        workers: state.workers,
        anchored: [...state.anchored],
        starts: new Map(state.starts),
        previous: state.previous,
      };
      return openTrail(copy, createDatabase(copy.url), keys, cloned);
    },
    drop: () => db.drop(),
  };
}

/** A sealed trail to copy: each test gets a fresh copy of the same starting point. */
export interface TrailTemplate {
  copy(): Promise<SealedTrail>;
  drop(): Promise<void>;
}

interface TrailState {
  readonly streams: Map<string, ChainedEntry[]>;
  readonly workers: readonly string[];
  readonly anchored: string[];
  readonly starts: Map<string, number>;
  previous: SignedSeal | undefined;
}

function openTrail(
  db: TestDatabase,
  handle: DatabaseHandle,
  keys: { privateKey: KeyObject; publicKey: KeyObject },
  state: TrailState,
): SealedTrail {
  const { streams, anchored, starts } = state;
  const { privateKey, publicKey } = keys;

  async function streamHeads(): Promise<Seal["streams"]> {
    const tx = await handle.prisma.auditEntry.findMany({ where: { streamId: TRANSACTIONAL_STREAM }, orderBy: { seq: "asc" } });
    streams.set(
      TRANSACTIONAL_STREAM,
      tx.map((r) => ({ ...r, occurredAt: r.occurredAt.toISOString() }) as unknown as ChainedEntry),
    );
    return [...streams]
      .map(([streamId, entries]) => {
        const log = new MerkleLog();
        for (const e of entries) log.append(entryLeaf(e.hash));
        return { streamId, size: log.size, root: log.root().toString("hex"), start: starts.get(streamId) ?? 1 };
      })
      .sort((a, b) => (a.streamId < b.streamId ? -1 : 1));
  }

  const trail: SealedTrail = {
    db,
    handle,
    publicKey,
    anchored,
    streams,
    workerStreams: state.workers,
    async seal({ store: toTable = true } = {}) {
      const seal: Seal = {
        trail: TRAIL,
        number: (state.previous?.seal.number ?? 0) + 1,
        time: new Date().toISOString(),
        prev: state.previous ? sealHash(state.previous) : null,
        streams: await streamHeads(),
      };
      const signed = signSeal(seal, { name: TRAIL, privateKey });
      if (toTable) {
        const store = createSink({ url: db.url });
        await store.storeSeal?.(signed);
        await store.close();
      }
      anchored.push(signed.text);
      state.previous = signed;
      return signed;
    },
    notePurge(records) {
      for (const r of records) starts.set(r.streamId, r.firstSeq);
    },
    verify: (extra = {}) => verifyAuditTrail({ url: db.url, publicKey, anchoredSeals: anchored, graceMs: 0, ...extra }),
    async close() {
      await handle.close();
      await db.drop();
    },
  };
  return trail;
}
