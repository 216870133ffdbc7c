/**
 * The ingest service in-process, against a real nats-server (one node, R1 streams) and a real
 * database: SQLite always, PostgreSQL with TEST_DATABASE_URL.
 */
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEntry, type AuditSink, ChainStream, stampEvent } from "@auditrail/audit-core";
import { type DatabaseHandle, type TrailReport, createDatabase, readAnchoredSeals, verifyAuditTrail } from "@auditrail/db";
import { createSink } from "@auditrail/db/sink";
import { type TestDatabase, createTestDatabase, runRawSql, testProviders } from "@auditrail/db/testing";
import {
  AuditConsumerConfigSchema,
  AuditStreamConfigSchema,
  InvalidJetStreamConfigError,
  ensureAuditStream,
} from "@auditrail/jetstream/stream";
import { NatsCluster } from "@auditrail/jetstream/testing";
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type IngestConfig, ingestConfigFromEnv, parseIngestConfig } from "../src/config.ts";
import { Ingest, REJECTED_FILE } from "../src/ingest.ts";
import { sleep, until } from "./harness.ts";

let server: NatsCluster;
let nc: NatsConnection;
let js: JetStreamClient;
let streams = 0;

beforeAll(async () => {
  server = await NatsCluster.start(1);
  nc = await connect({ servers: server.urls });
  js = jetstream(nc);
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

const entry = (action: string, n: number): AuditEntry =>
  stampEvent({ action, entity: "Patient", entityId: String(n), metadata: { n } }, undefined);

describe.each(testProviders())("ingest on %s", (provider) => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let dir: string;
  let ingest: Ingest | undefined;
  // The seal key and the anchors live beside the database: every test's ingest continues the
  // same trail (one process, one trail), so every row in the database is under a seal.
  let sealDir: string;
  let keyFile: string;
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    handle = createDatabase(db.url);
    sealDir = await mkdtemp(join(tmpdir(), "ingest-seals-"));
    keyFile = join(sealDir, "seal.pem");
    await writeFile(keyFile, privateKey.export({ format: "pem", type: "pkcs8" }));
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
    await rm(sealDir, { recursive: true, force: true });
  });

  /** Verifies with the public key and the anchored seals only; grace 0: every row must be sealed. */
  async function verify(): Promise<TrailReport> {
    return verifyAuditTrail({
      url: db.url,
      publicKey,
      anchoredSeals: await readAnchoredSeals({ dir: join(sealDir, "anchors") }),
      graceMs: 0,
      spoolDir: dir,
    });
  }
  afterEach(async () => {
    await ingest?.stop();
    ingest = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  async function start(overrides: Partial<IngestConfig> = {}, wrapSink?: (sink: AuditSink) => AuditSink) {
    streams++;
    dir = await mkdtemp(join(tmpdir(), "ingest-test-"));
    const config = parseIngestConfig({
      servers: server.natsUrl,
      databaseUrl: db.url,
      stream: {
        name: `I${streams}`,
        subjects: { entries: `i${streams}.entries`, deadLetters: `i${streams}.dead` },
        replicas: 1,
        maxBytes: 16 * 1024 ** 2,
      },
      consumer: { ackWaitMs: 2_000 },
      batchSize: 100,
      deadLetterDir: dir,
      retry: { initialDelayMs: 5, maxDelayMs: 20 },
      seal: { signingKeyFile: keyFile, anchorDir: join(sealDir, "anchors"), sealEveryMs: 60_000 },
      ...overrides,
    });
    ingest = await Ingest.start(config, {}, wrapSink);
    return { ingest, config };
  }

  async function lag(config: ReturnType<typeof parseIngestConfig>) {
    const info = await (await jetstreamManager(nc)).consumers.info(config.stream.name, config.consumer.durable);
    return info.num_pending + info.num_ack_pending;
  }

  const rowsOf = async (ids: readonly string[]) => handle.prisma.auditEntry.findMany({ where: { id: { in: [...ids] } } });

  it("writes every published entry once, linked into its chain and sealed, acknowledging only what committed", async () => {
    const { ingest, config } = await start();
    const batch = Array.from({ length: 250 }, (_, i) => entry("patient.read", i));
    // Each entry twice: as a replay published again after the duplicate window would arrive.
    await Promise.all(batch.map((e) => js.publish(config.stream.subjects.entries, JSON.stringify(e))));
    await Promise.all(batch.slice(0, 50).map((e) => js.publish(config.stream.subjects.entries, JSON.stringify(e))));
    await until(
      async () => (await rowsOf(batch.map((e) => e.id))).length === 250 && (await lag(config)) === 0,
      30_000,
      () => JSON.stringify(ingest.stats()),
    );
    const rows = await rowsOf(batch.map((e) => e.id));
    expect(new Set(rows.map((r) => r.streamId)).size).toBe(1);
    expect(rows.map((r) => r.seq).sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(ingest.stats()).toMatchObject({ written: 250, alreadyStored: 50, deadLettered: 0, rejected: 0 });
    // Not sealed yet (the interval is a minute): no seal covers the rows.
    expect((await verify()).problems.map((p) => p.kind)).toEqual(["seal-missing"]);
    await ingest.seal();
    expect(ingest.stats().seals).toBe(1);
    const report = await verify();
    expect(report).toMatchObject({
      ok: true,
      problems: [],
      unsealed: 0,
      entries: 250,
      seals: [expect.objectContaining({ trail: ingest.trail, number: 1 })],
    });
    const seal = await handle.prisma.auditSeal.findFirst({ where: { trail: ingest.trail }, orderBy: { number: "desc" } });
    expect(seal?.note).toContain(`stream ${rows[0]?.streamId} 250 `);
  });

  it("dead-letters an entry the database refuses, writes its neighbours, and keeps dead letters published by writers", async () => {
    // On PostgreSQL as the database's owner: the application's role may not alter the audit tables.
    const sql = (text: string) =>
      provider === "sqlite" ? handle.prisma.$executeRawUnsafe(text).then(() => undefined) : runRawSql(db.url, text);
    if (provider === "sqlite") {
      await sql(`CREATE TRIGGER reject_action BEFORE INSERT ON "AuditEntry" WHEN NEW."action" = 'poison.rejected'
                 BEGIN SELECT RAISE(ABORT, 'poison entry rejected'); END`);
    } else {
      await sql(`ALTER TABLE "AuditEntry" ADD CONSTRAINT reject_action CHECK ("action" <> 'poison.rejected')`);
    }
    try {
      const { ingest, config } = await start();
      const good = [entry("patient.read", 1), entry("patient.read", 2)];
      const poison = entry("poison.rejected", 3);
      const fromWriter = entry("patient.read", 4);
      const letter = { entry: fromWriter, error: "refused by the writer", attempts: 1, failedAt: new Date().toISOString() };
      for (const e of [good[0], poison, good[1]]) await js.publish(config.stream.subjects.entries, JSON.stringify(e));
      await js.publish(config.stream.subjects.deadLetters, JSON.stringify(letter));
      await until(
        async () => (await lag(config)) === 0 && ingest.stats().deadLettered === 2,
        30_000,
        () => JSON.stringify(ingest.stats()),
      );
      expect((await rowsOf(good.map((e) => e.id))).length).toBe(2);
      const kept = await handle.prisma.deadLetter.findMany({ where: { id: { in: [poison.id, fromWriter.id] } } });
      expect(Object.fromEntries(kept.map((k) => [k.id, k.error]))).toEqual({
        [poison.id]: expect.stringMatching(provider === "sqlite" ? /poison entry rejected/ : /reject_action/),
        [fromWriter.id]: "refused by the writer",
      });
      // The dead-lettered entry's place in the chain is explained, not a deletion; stop seals it.
      await ingest.stop();
      expect(ingest.stats().seals).toBeGreaterThan(0);
      expect(await verify()).toMatchObject({ ok: true, problems: [], unsealed: 0 });
    } finally {
      await sql(provider === "sqlite" ? `DROP TRIGGER reject_action` : `ALTER TABLE "AuditEntry" DROP CONSTRAINT reject_action`);
    }
  });

  it("stores and removes messages the stream still holds at or below the consumer's ack floor (the consumer will not deliver them)", async () => {
    // The state a consumer and stream out of step leave (seen in scale-out scenario 5 after the
    // whole cluster froze; see README): messages in the work-queue stream, the consumer's ack
    // floor past them, nothing pending, so they are never delivered. Built here with a
    // consumer that gives up after one delivery (max_deliver 1): the first messages are delivered,
    // never acknowledged, dropped from its pending; acknowledging a later one moves the ack floor past them.
    streams++;
    const name = `I${streams}`;
    const subjects = { entries: `i${streams}.entries`, deadLetters: `i${streams}.dead` };
    const jsm = await jetstreamManager(nc);
    const stream = { name, subjects, replicas: 1 as const, maxBytes: 16 * 1024 ** 2 };
    await ensureAuditStream(
      jsm,
      AuditStreamConfigSchema.parse(stream),
      AuditConsumerConfigSchema.parse({ ackWaitMs: 1_000, maxDeliver: 1 }),
    );
    const leftBehind = Array.from({ length: 5 }, (_, i) => entry("patient.read", i));
    for (const e of leftBehind) await js.publish(subjects.entries, JSON.stringify(e));
    const consumer = await js.consumers.get(name, "ingest");
    let delivered = 0;
    for await (const _m of await consumer.fetch({ max_messages: 5, expires: 2_000 })) delivered++; // and never acknowledged
    expect(delivered).toBe(5);
    await sleep(1_500); // past the ack wait: the next pull drops them from pending (no deliveries left)
    let again = 0;
    for await (const _m of await consumer.fetch({ max_messages: 1, expires: 1_000 })) again++;
    expect(again).toBe(0);
    const later = entry("patient.read", 5);
    await js.publish(subjects.entries, JSON.stringify(later));
    for await (const m of await consumer.fetch({ max_messages: 1, expires: 2_000 })) await m.ackAck();
    const before = await jsm.consumers.info(name, "ingest");
    expect({
      messages: (await jsm.streams.info(name)).state.messages,
      pending: before.num_pending + before.num_ack_pending,
      ackFloor: before.ack_floor.stream_seq,
    }).toEqual({ messages: 5, pending: 0, ackFloor: 6 });

    const { ingest, config } = await start({ stream, sweepEveryMs: 60_000 });
    await until(
      async () => (await rowsOf(leftBehind.map((e) => e.id))).length === 5 && (await jsm.streams.info(name)).state.messages === 0,
      30_000,
      async () => `${JSON.stringify(ingest.stats())}; stream ${JSON.stringify((await jsm.streams.info(name)).state)}`,
    );
    expect(ingest.stats()).toMatchObject({ swept: 5, written: 5, alreadyStored: 0 });
    expect(await lag(config)).toBe(0);
    await ingest.seal();
    expect(await verify()).toMatchObject({ ok: true, problems: [], unsealed: 0 });
  });

  it("terminates a message that is not an audit entry and keeps it in rejected-messages.ndjson", async () => {
    const { ingest, config } = await start();
    const good = entry("patient.read", 1);
    await js.publish(config.stream.subjects.entries, "not json");
    await js.publish(config.stream.subjects.entries, JSON.stringify({ id: "x" }));
    await js.publish(config.stream.subjects.entries, JSON.stringify(good));
    await until(
      async () => (await lag(config)) === 0 && ingest.stats().rejected === 2,
      30_000,
      () => JSON.stringify(ingest.stats()),
    );
    const kept = (await readFile(join(dir, REJECTED_FILE), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { payload: string; error: string });
    expect(kept.map((k) => k.payload)).toEqual(["not json", JSON.stringify({ id: "x" })]);
    expect(kept[0]?.error).toMatch(/^not JSON/);
    expect((await rowsOf([good.id])).length).toBe(1);
  });

  it("takes back its links when another process stores an entry between existing() and the write: no gap, every entry once", async () => {
    // Two processes holding one redelivered message: here the "other process" stores the entry
    // under its own stream right after this one found it not stored, before this one writes it.
    const other = createSink({ url: db.url });
    const taken = entry("patient.read", 3);
    let raced = false;
    const race = (sink: AuditSink): AuditSink => ({
      write: (entries) => sink.write(entries),
      deadLetter: (letters) => sink.deadLetter(letters),
      close: () => sink.close(),
      existing: async (ids) => {
        const stored = await (sink.existing as NonNullable<AuditSink["existing"]>).call(sink, ids);
        if (!raced && ids.includes(taken.id)) {
          raced = true;
          await other.write(new ChainStream("other-process").link([taken]));
        }
        return stored;
      },
    });
    const { ingest, config } = await start({}, race);
    const batch = [entry("patient.read", 1), entry("patient.read", 2), taken, entry("patient.read", 4), entry("patient.read", 5)];
    for (const e of batch) await js.publish(config.stream.subjects.entries, JSON.stringify(e));
    await until(
      async () => (await rowsOf(batch.map((e) => e.id))).length === 5 && (await lag(config)) === 0,
      30_000,
      () => JSON.stringify(ingest.stats()),
    );
    await ingest.stop();
    await other.close();

    expect(raced).toBe(true);
    const rows = await rowsOf(batch.map((e) => e.id));
    expect(rows).toHaveLength(5);
    expect(rows.find((r) => r.id === taken.id)?.streamId).toBe("other-process");
    const ours = rows.filter((r) => r.id !== taken.id).sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
    expect(new Set(ours.map((r) => r.streamId)).size).toBe(1);
    const first = ours[0]?.seq ?? 0;
    expect(ours.map((r) => r.seq)).toEqual([first, first + 1, first + 2, first + 3]);
    for (let i = 1; i < ours.length; i++) expect(ours[i]?.prevHash).toBe(ours[i - 1]?.hash);
    expect(ingest.stats()).toMatchObject({ written: 4, alreadyStored: 1 });
    // This process's stream verifies, sealed at stop; the other "process" sealed nothing.
    const report = await verify();
    expect(report.problems.map((p) => [p.kind, p.streamId, p.id])).toEqual([["unsealed", "other-process", taken.id]]);
  });
});

describe("ingest configuration", () => {
  it("is validated up front with a named error listing each problem", () => {
    let error: InvalidJetStreamConfigError | undefined;
    try {
      parseIngestConfig({
        servers: "",
        databaseUrl: "",
        batchSize: 5_000,
        consumer: { maxAckPending: 100, ackWaitMs: 5_000, backoffMs: [1_000] },
      });
    } catch (e) {
      error = e as InvalidJetStreamConfigError;
    }
    expect(error).toBeInstanceOf(InvalidJetStreamConfigError);
    expect(error?.issues).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^servers: at least one server/),
        expect.stringMatching(/^databaseUrl: /),
        expect.stringMatching(/^consumer\.backoffMs: every delay must be ≥ ackWaitMs/),
      ]),
    );
  });

  it("reads NATS_URL (comma-separated) and DATABASE_URL from the environment", () => {
    const config = ingestConfigFromEnv({ NATS_URL: "nats://a:4222, b:4223", DATABASE_URL: "postgresql://x/y", INGEST_BATCH_SIZE: "250" });
    expect(config).toMatchObject({ servers: ["nats://a:4222", "b:4223"], databaseUrl: "postgresql://x/y", batchSize: 250 });
    expect(config.seal).toEqual({ anchorDir: ".auditrail/anchors", sealEveryMs: 1_000 });
    const sealed = ingestConfigFromEnv({
      NATS_URL: "nats://a:4222",
      DATABASE_URL: "file:x.db",
      AUDIT_SEAL_KEY_FILE: "/keys/seal.pem",
      AUDIT_ANCHOR_DIR: "/mnt/anchors",
      AUDIT_SEAL_EVERY_MS: "250",
      AUDIT_TRAIL: "ingest-a",
    });
    expect(sealed.seal).toEqual({ signingKeyFile: "/keys/seal.pem", anchorDir: "/mnt/anchors", sealEveryMs: 250, trail: "ingest-a" });
    expect(() => ingestConfigFromEnv({ NATS_URL: "nats://a:4222", DATABASE_URL: "file:x.db", AUDIT_TRAIL: "-bad name" })).toThrow(
      /seal\.trail/,
    );
    expect(config.stream).toMatchObject({ name: "AUDIT", replicas: 3 });
    expect(() => ingestConfigFromEnv({ DATABASE_URL: "file:x.db" })).toThrow(/servers: at least one server/);
  });
});
