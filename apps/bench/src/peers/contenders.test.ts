import { type DatabaseHandle, createDatabase } from "@auditrail/db";
import { type TestDatabase, clearAuditTrail, createTestDatabase, testProviders } from "@auditrail/db/testing";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { patientUpdate } from "../target.ts";
import { CONTENDERS, HAS_CONSUMER, NEEDS_REDIS, PEERS_ACTION, REDIS, openConsumer, openProducer, redisReachable } from "./contenders.ts";

// The peers case runs on PostgreSQL only. BullMQ also needs Redis: CI starts it, and under CI its
// absence fails the run; elsewhere the BullMQ contenders are left out without it.
const onPostgres = testProviders().includes("postgresql");
const redis = onPostgres && (process.env.CI === "true" || (await redisReachable()));
const contenders = CONTENDERS.filter((name) => redis || !NEEDS_REDIS.has(name));

interface StoredRow {
  action: string;
  entity: string;
  actorId: string;
  outcome: string;
  durationMs: number;
  before: string;
  after: string;
  diff: string;
  requestId: string;
  streamId: string | null;
}

describe.runIf(onPostgres)("every peers contender", () => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  beforeAll(async () => {
    db = await createTestDatabase("postgresql");
    handle = createDatabase(db.url);
  }, 60_000);
  beforeEach(() => clearAuditTrail(handle));
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  it.each(contenders)(
    "%s stores every entry handed off, as the same audit row",
    async (name) => {
      const place = { url: db.url, queueUrl: db.ownerUrl, queue: `peers-test-${name}-${Date.now().toString(36)}`, redis: REDIS };
      const consumer = HAS_CONSUMER.has(name) ? await openConsumer(name, place) : undefined;
      const producer = await openProducer(name, place, 1);
      const n = 25;
      for (let i = 0; i < n; i++) await producer.handOff(patientUpdate(PEERS_ACTION));
      await producer.drain();
      const client = new pg.Client({ connectionString: db.url });
      await client.connect();
      let rows: StoredRow[] = [];
      try {
        // Queues deliver through their consumer: wait (widely) until all rows are there.
        for (let waited = 0; waited < 30_000 && rows.length < n; waited += 100) {
          ({ rows } = await client.query<StoredRow>(
            `SELECT "action", "entity", "actorId", "outcome", "durationMs", json_typeof("before") AS "before",
                  json_typeof("after") AS "after", json_typeof("diff") AS "diff", "requestId", "streamId"
           FROM "AuditEntry"`,
          ));
          if (rows.length < n) await new Promise((r) => setTimeout(r, 100));
        }
      } finally {
        await client.end();
        await producer.close();
        await consumer?.close();
      }
      expect(rows).toHaveLength(n);
      for (const row of rows) {
        expect(row).toMatchObject({ action: PEERS_ACTION, entity: "Patient", actorId: "staff-dentist-1", outcome: "ok", durationMs: 3.2 });
        // JSON stored as JSON objects, not as strings holding JSON.
        expect([row.before, row.after, row.diff]).toEqual(["object", "object", "object"]);
        expect(row.requestId).toMatch(/^req-\d+$/);
        // Only auditrail hash-chains its rows.
        expect(row.streamId === null).toBe(name !== "auditrail");
      }
    },
    60_000,
  );
});
