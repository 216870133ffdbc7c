/**
 * Scale-out, end to end with real servers: writer processes (the API side: createAuditWriter with
 * the JetStream sink) → a three-node JetStream cluster (R3 stream) → ingest processes → PostgreSQL.
 * Each scenario prints its accounting line and asserts that every recorded entry is stored exactly
 * once (lost=0 duplicated=0) and that the chains verify (no entry linked twice).
 */
import { startFaultProxy } from "@auditrail/fault-harness";
import { NatsCluster } from "@auditrail/jetstream/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Scenario, account, consumerLag, hasPostgres, printScaleOut, scenario, sleep, stopWriters, until } from "./harness.ts";

describe.runIf(hasPostgres)("scale-out through JetStream (three-node cluster, PostgreSQL)", () => {
  let cluster: NatsCluster;
  let current: Scenario | undefined;

  beforeAll(async () => {
    cluster = await NatsCluster.start(3);
  });
  afterAll(async () => {
    await current?.close();
    await cluster?.stop();
  });

  async function begin(): Promise<Scenario> {
    await current?.close();
    current = await scenario(cluster);
    return current;
  }

  function expectExact(a: Awaited<ReturnType<typeof account>>) {
    expect(a.lost).toBe(0);
    expect(a.duplicated).toBe(0);
    expect(a.chainOk).toBe(true);
    expect(a.crashed).toBe(0);
    expect(a.written + a.deadLettered).toBe(a.recorded);
    expect(a.acknowledged).toBe(a.recorded);
  }

  it("1. two writer processes publish, two ingest processes share the consumer and write everything once", async () => {
    const s = await begin();
    const first = s.startIngest();
    const second = s.startIngest();
    await Promise.all([s.startWriter(), s.startWriter()]);
    await until(
      () => first.writing + second.writing >= 3,
      30_000,
      () => "the ingest processes wrote fewer than 3 batches",
    );
    // Which process the server hands a pull to is its choice: stop the busier one cleanly (SIGTERM,
    // exit 0) mid-load; the other must take over the rest from the shared durable consumer.
    const [busier, other] = first.writing >= second.writing ? [first, second] : [second, first];
    expect(await busier.kill("SIGTERM")).toMatchObject({ code: 0 });
    await sleep(3_000);
    const writers = await stopWriters(s);
    const a = await account(s, cluster, writers);
    expect(await other.kill("SIGTERM")).toMatchObject({ code: 0 });
    const shares = [busier.stats?.written ?? 0, other.stats?.written ?? 0];
    printScaleOut("two-writers-two-ingest", { ...a, extra: { ...a.extra, ingestShares: shares.join("/") } });
    expectExact(a);
    expect(shares[0]).toBeGreaterThan(0);
    expect(shares[1]).toBeGreaterThan(0);
    expect(a.extra.lag).toBe(0);
  });

  it("2. a NATS node killed (SIGKILL) mid-load and restarted loses nothing", async () => {
    const s = await begin();
    await Promise.all([s.startIngest().ready(), s.startIngest().ready()]);
    await Promise.all([s.startWriter(), s.startWriter()]);
    await sleep(2_000);
    await cluster.kill(0, "SIGKILL");
    await sleep(4_000);
    await cluster.restart(0);
    await sleep(2_000);
    const writers = await stopWriters(s);
    const a = await account(s, cluster, writers);
    printScaleOut("nats-node-killed", a);
    expectExact(a);
  });

  it("3. an ingest process killed mid-batch: its batch is redelivered, no row twice", async () => {
    const s = await begin();
    const victim = s.startIngest();
    const survivor = s.startIngest();
    await Promise.all([s.startWriter({ ratePerSec: 600 }), s.startWriter({ ratePerSec: 600 })]);
    await victim.writingBatch(5);
    // Killed as soon as it starts writing its next batch: that batch is fetched and unacknowledged.
    const next = victim.writing + 1;
    await victim.writingBatch(next);
    await victim.kill("SIGKILL");
    await sleep(3_000);
    const writers = await stopWriters(s);
    const a = await account(s, cluster, writers);
    await survivor.kill("SIGTERM");
    printScaleOut("ingest-killed", {
      ...a,
      extra: { ...a.extra, redelivered: survivor.stats?.redelivered ?? 0, alreadyStored: survivor.stats?.alreadyStored ?? 0 },
    });
    expectExact(a);
    // The survivor received what the victim held (redelivered after the ack wait) and wrote it once.
    expect(survivor.stats?.redelivered).toBeGreaterThan(0);
  });

  it("4. PostgreSQL unreachable for 10 s (fault proxy): the stream buffers, ingest catches up", async () => {
    const s = await begin();
    const u = new URL(s.db.url);
    const proxy = await startFaultProxy({ target: { host: u.hostname, port: Number(u.port || 5432) } });
    try {
      await Promise.all([
        s.startIngest({ databaseUrl: proxy.url(s.db.url) }).ready(),
        s.startIngest({ databaseUrl: proxy.url(s.db.url) }).ready(),
      ]);
      await Promise.all([s.startWriter(), s.startWriter()]);
      await sleep(2_000);
      proxy.mode("reset");
      await sleep(10_000);
      const during = await consumerLag(cluster, s.stream.name);
      proxy.mode("pass");
      await sleep(2_000);
      const writers = await stopWriters(s);
      const a = await account(s, cluster, writers);
      printScaleOut("postgres-outage", { ...a, extra: { ...a.extra, backlogAtOutageEnd: during.pending + during.ackPending } });
      expectExact(a);
      // The writers never noticed: nothing spilled, the stream held the backlog.
      expect(writers.spilled).toBe(0);
      expect(during.pending + during.ackPending).toBeGreaterThan(1_000);
    } finally {
      await proxy.close();
    }
  });

  it("5. the whole cluster unreachable: writers spill locally, then drain once it is back", async () => {
    const s = await begin();
    await Promise.all([s.startIngest().ready(), s.startIngest().ready()]);
    await Promise.all([s.startWriter({ maxQueueSize: 500 }), s.startWriter({ maxQueueSize: 500 })]);
    await sleep(2_000);
    // Unreachable, not crashed: every node frozen, its connections silent (a partition).
    for (const i of [0, 1, 2]) cluster.pause(i);
    await sleep(8_000);
    for (const i of [0, 1, 2]) cluster.resume(i);
    await sleep(3_000);
    const writers = await stopWriters(s);
    const a = await account(s, cluster, writers);
    // Swept: messages the cluster left in the stream at or below the consumer's ack floor (see README).
    const swept = s.ingests.reduce((n, i) => n + (i.stats?.swept ?? 0), 0);
    printScaleOut("cluster-down", { ...a, extra: { ...a.extra, replayed: writers.replayed, swept } });
    expectExact(a);
    expect(writers.spilled).toBeGreaterThan(0);
    expect(writers.inSpool).toBe(0);
  });
});
