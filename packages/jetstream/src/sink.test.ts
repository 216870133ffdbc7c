/** The JetStream sink against a real nats-server (one node, R1 streams; the cluster runs in apps/ingest's scenarios). */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditEntry, classifyError, createAuditWriter, stampEvent } from "@auditrail/audit-core";
import { jetstreamManager } from "@nats-io/jetstream";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JetStreamAuditSink, JetStreamPublishError, JetStreamSinkOptionsSchema, createSink, jetStreamSinkSpec } from "./sink.ts";
import {
  AuditConsumerConfigSchema,
  AuditStreamConfigSchema,
  InvalidJetStreamConfigError,
  type AuditStreamConfig,
  ensureAuditStream,
} from "./stream.ts";
import { NatsCluster } from "./testing.ts";

let server: NatsCluster;
let nc: NatsConnection;
let n = 0;

beforeAll(async () => {
  server = await NatsCluster.start(1);
  nc = await connect({ servers: server.urls });
});
afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

/** A fresh R1 stream with its own subjects. */
async function stream(overrides: Partial<AuditStreamConfig> = {}) {
  n++;
  const config = AuditStreamConfigSchema.parse({
    name: `T${n}`,
    subjects: { entries: `t${n}.entries`, deadLetters: `t${n}.dead` },
    replicas: 1,
    maxBytes: 16 * 1024 ** 2,
    ...overrides,
  });
  await ensureAuditStream(await jetstreamManager(nc), config, AuditConsumerConfigSchema.parse({}));
  return config;
}

const entries = (count: number, metadata: Record<string, unknown> = {}): AuditEntry[] =>
  Array.from({ length: count }, (_, i) =>
    stampEvent({ action: "patient.read", entity: "Patient", entityId: String(i), metadata }, undefined),
  );

async function storedCount(name: string): Promise<number> {
  const info = await (await jetstreamManager(nc)).streams.info(name);
  return info.state.messages;
}

describe("JetStream sink", () => {
  it("counts a batch written once the stream acknowledged it, and stores a replayed entry once (Nats-Msg-Id = entry id)", async () => {
    const config = await stream();
    const sink = new JetStreamAuditSink(JetStreamSinkOptionsSchema.parse({ servers: server.natsUrl, stream: config }));
    const batch = entries(50);
    await sink.write(batch);
    await sink.write(batch); // a retry or spool replay within the duplicate window
    await sink.write(batch.slice(0, 10));
    expect(await storedCount(config.name)).toBe(50);
    expect(sink.forwards).toBe(true);
    await sink.close();
  });

  it("fails retryably when the stream is full (discard new), so the writer keeps the entries", async () => {
    const config = await stream({ maxBytes: 4_096 });
    const sink = new JetStreamAuditSink(JetStreamSinkOptionsSchema.parse({ servers: server.natsUrl, stream: config }));
    const error = await sink.write(entries(40, { pad: "x".repeat(200) })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(JetStreamPublishError);
    expect(sink.classify(error)).toBe("retryable");
    expect(classifyError(error, sink)).toBe("retryable");
    expect((error as JetStreamPublishError).message).toMatch(/of 40 publishes to JetStream failed: .*maximum bytes/);
    expect(await storedCount(config.name)).toBeLessThan(40);
    await sink.close();
  });

  it("refuses an entry larger than the stream's max message size as poison", async () => {
    const config = await stream({ maxMessageBytes: 1_024 });
    const sink = new JetStreamAuditSink(JetStreamSinkOptionsSchema.parse({ servers: server.natsUrl, stream: config }));
    const error = await sink.write(entries(1, { pad: "x".repeat(2_000) })).catch((e: unknown) => e);
    expect(sink.classify(error)).toBe("poison");
    await sink.close();
  });

  it("fails retryably while no server is reachable and connects on a later write", async () => {
    const config = await stream();
    const sink = new JetStreamAuditSink(JetStreamSinkOptionsSchema.parse({ servers: "127.0.0.1:1", stream: config }));
    const error = await sink.write(entries(1)).catch((e: unknown) => e);
    expect(sink.classify(error)).toBe("retryable");
    await sink.close();
  });

  it("publishes dead letters on their own subject", async () => {
    const config = await stream();
    const sink = new JetStreamAuditSink(JetStreamSinkOptionsSchema.parse({ servers: server.natsUrl, stream: config }));
    const [entry] = entries(1) as [AuditEntry];
    await sink.deadLetter([{ entry, error: "too large", attempts: 1, failedAt: new Date().toISOString() }]);
    const info = await (await jetstreamManager(nc)).streams.info(config.name, { subjects_filter: ">" });
    expect(info.state.subjects).toEqual({ [config.subjects.deadLetters]: 1 });
    await sink.close();
  });

  it("works as the sink of createAuditWriter: workers publish, stats count what the stream acknowledged", async () => {
    const config = await stream();
    const spoolDir = await mkdtemp(join(tmpdir(), "jetstream-sink-"));
    try {
      const writer = await createAuditWriter({
        sink: jetStreamSinkSpec({ servers: server.urls, stream: config }),
        maxWorkers: 2,
        spoolDir,
      });
      for (let i = 0; i < 1_000; i++) await writer.record({ action: "patient.read", entity: "Patient", entityId: String(i) });
      await writer.flush();
      expect(writer.stats()).toMatchObject({ recorded: 1_000, written: 1_000, deadLettered: 0 });
      await writer.close();
      expect(await storedCount(config.name)).toBe(1_000);
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  });

  it("a full stream makes the writer spill to its spool, never drop; once there is room the spool drains", async () => {
    const config = await stream({ maxBytes: 64 * 1024 });
    const spoolDir = await mkdtemp(join(tmpdir(), "jetstream-full-"));
    try {
      const writer = await createAuditWriter({
        sink: jetStreamSinkSpec({ servers: server.natsUrl, stream: config, publishTimeoutMs: 1_000 }),
        spoolDir,
        maxWorkers: 1,
        maxQueueSize: 200,
        maxBatchSize: 100,
        overflow: "spill",
        retry: { initialDelayMs: 10, maxDelayMs: 200, writeTimeoutMs: 2_000 },
      });
      const n = 2_000;
      for (let i = 0; i < n; i++)
        await writer.record({ action: "patient.read", entity: "Patient", entityId: String(i), metadata: { pad: "x".repeat(200) } });
      const full = writer.stats();
      expect(full.spilled).toBeGreaterThan(0);
      expect(full.dropped).toBe(0);
      expect(full.written).toBeLessThan(n);
      // Room again (as when ingest catches up): raise the limit; the writer drains by itself.
      await ensureAuditStream(
        await jetstreamManager(nc),
        AuditStreamConfigSchema.parse({ ...config, maxBytes: 16 * 1024 ** 2 }),
        AuditConsumerConfigSchema.parse({}),
      );
      await writer.flush();
      expect(writer.stats()).toMatchObject({ recorded: n, written: n, dropped: 0, spoolBacklog: 0 });
      await writer.close();
      expect(await storedCount(config.name)).toBe(n);
    } finally {
      await rm(spoolDir, { recursive: true, force: true });
    }
  });

  it("validates its options up front with a named error listing each problem", () => {
    expect(() => jetStreamSinkSpec({ servers: "", stream: { replicas: 2 as 3 } })).toThrow(InvalidJetStreamConfigError);
    const error = (() => {
      try {
        createSink({ servers: "nats://a b", publishTimeoutMs: 1 });
      } catch (e) {
        return e as InvalidJetStreamConfigError;
      }
      return undefined;
    })();
    expect(error?.issues).toEqual([expect.stringMatching(/^servers\.0: /), expect.stringMatching(/^publishTimeoutMs: /)]);
  });
});
