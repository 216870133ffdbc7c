/**
 * The clinic API for the browser tests, as `pnpm start` runs it: a fresh migrated + seeded
 * database of the given provider, the async / sync / durable writers, and the built viewer
 * (apps/web/dist) served at /, on an ephemeral port of 127.0.0.1.
 */
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type AuditWriter, generateSealKeyPair } from "@auditrail/audit-core";
import { createApp, openSealing, openWriters } from "@auditrail/api";
import { type ClinicClient, createClinicClient } from "@auditrail/api/client";
import { DEMO_STAFF, type DatabaseHandle, type Provider, createDatabase, seedDemoData } from "@auditrail/db";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { createTestDatabase } from "@auditrail/db/testing";
import { pino } from "pino";

export const WEB_ROOT = fileURLToPath(new URL("../dist/", import.meta.url));

export type Role = (typeof DEMO_STAFF)[number]["role"];

export interface TestServer {
  readonly base: string;
  readonly db: DatabaseHandle;
  /** The async writer (to record entries directly, as a background job would). */
  readonly writer: AuditWriter;
  login(role: Role): { email: string; password: string };
  /** A typed API client signed in as the demo user of `role`. */
  as(role: Role): Promise<ClinicClient>;
  /** Waits until every entry recorded so far is written. */
  flush(): Promise<void>;
  /** Writes everything recorded so far and signs a seal over it (what the interval would do). */
  seal(): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(provider: Provider): Promise<TestServer> {
  if (!(await stat(join(WEB_ROOT, "index.html")).catch(() => undefined))) {
    throw new Error(`The viewer is not built (${WEB_ROOT}): run \`pnpm --filter @auditrail/web build\` first.`);
  }
  const database = await createTestDatabase(provider);
  const db = createDatabase(database.url);
  await seedDemoData(db.prisma);
  const spoolDir = await mkdtemp(join(tmpdir(), "auditrail-web-spool-"));
  const sink = sqlSinkSpec({ url: database.url });
  // Seals as the API's main.ts makes them: a key pair of this test's own, anchors in its temp dir.
  const keyFile = join(spoolDir, "seal.pem");
  await writeFile(keyFile, generateSealKeyPair().privateKeyPem, { mode: 0o600 });
  const seal = { trail: "clinic", signingKeyFile: keyFile, anchorDir: join(spoolDir, "anchors"), sealEveryMs: 60_000 };
  const sealing = await openSealing(seal, database.url, () => undefined);
  const { sealer } = sealing;
  const writers = await openWriters({ sink, spoolDir, sealer }, { maxBatchWaitMs: 5 }, { maxWorkers: 1 });
  const app = createApp(
    { prisma: db.prisma, writers, logger: pino({ level: "silent" }), sessionTtlMs: 600_000, seals: sealing.services },
    db,
    { webRoot: WEB_ROOT },
  );
  const base = await app.listen(0, "127.0.0.1");
  const login = (role: Role) => {
    const staff = DEMO_STAFF.find((s) => s.role === role);
    if (!staff) throw new Error(`no demo staff with role ${role}`);
    return { email: staff.email, password: staff.password };
  };
  return {
    base,
    db,
    writer: writers.async,
    login,
    as: async (role) => {
      const { token } = await createClinicClient(base).auth.login.mutate(login(role));
      return createClinicClient(base, token);
    },
    flush: async () => {
      await Promise.all(Object.values(writers).map((w) => w.flush()));
    },
    seal: async () => {
      await Promise.all(Object.values(writers).map((w) => w.flush()));
      await sealer.seal();
    },
    close: async () => {
      await app.close({ deadlineMs: 2_000 });
      await sealing.close();
      await rm(spoolDir, { recursive: true, force: true });
      await database.drop();
    },
  };
}
