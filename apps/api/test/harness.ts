/**
 * A real clinic server for tests: a fresh migrated + seeded database of the given provider, a
 * pooled audit writer on the Prisma sink, listening on an ephemeral port of 127.0.0.1.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditWriter, createAuditWriter } from "@auditrail/audit-core";
import { type DatabaseHandle, DEMO_STAFF, type Provider, createDatabase, seedDemoData } from "@auditrail/db";
import { prismaSinkSpec } from "@auditrail/db/sink";
import { createTestDatabase } from "@auditrail/db/testing";
import { TRPCClientError } from "@trpc/client";
import { pino } from "pino";
import { createClinicClient } from "../src/client.ts";
import type { AppRouter } from "../src/router.ts";
import { createApp } from "../src/server.ts";

export interface Harness {
  readonly base: string;
  readonly db: DatabaseHandle;
  readonly writer: AuditWriter;
  client(token?: string): ReturnType<typeof createClinicClient>;
  /** Signs in as the demo user of `role` and returns a client carrying the token. */
  as(role: (typeof DEMO_STAFF)[number]["role"]): Promise<ReturnType<typeof createClinicClient>>;
  close(): Promise<void>;
}

export async function startHarness(provider: Provider): Promise<Harness> {
  const database = await createTestDatabase(provider);
  const db = createDatabase(database.url);
  await seedDemoData(db.prisma);
  const spoolDir = await mkdtemp(join(tmpdir(), "auditrail-api-spool-"));
  const writer = await createAuditWriter({ sink: prismaSinkSpec({ url: database.url }), spoolDir, maxBatchWaitMs: 5 });
  const app = createApp({ prisma: db.prisma, writer, logger: pino({ level: "silent" }), sessionTtlMs: 60_000 }, db);
  const base = await app.listen(0, "127.0.0.1");
  const client = (token?: string) => createClinicClient(base, token);
  return {
    base,
    db,
    writer,
    client,
    as: async (role) => {
      const staff = DEMO_STAFF.find((s) => s.role === role);
      if (!staff) throw new Error(`no demo staff with role ${role}`);
      const { token } = await client().auth.login.mutate({ email: staff.email, password: staff.password });
      return client(token);
    },
    close: async () => {
      await app.close();
      await rm(spoolDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}

/** The TRPCClientError a call fails with; fails the test if the call succeeds. */
export async function errorOf(promise: Promise<unknown>): Promise<TRPCClientError<AppRouter>> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCClientError) return error as TRPCClientError<AppRouter>;
    throw error;
  }
  throw new Error("expected the call to fail");
}
