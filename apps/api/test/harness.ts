/**
 * A real clinic server for tests: a fresh migrated + seeded database of the given provider, the
 * three audit writers main.ts makes (async, sync, durable) on the Prisma sink, listening on an
 * ephemeral port of 127.0.0.1. Every SQL statement the app's own client sends is counted (the
 * writers' workers have their own connections and are not).
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type AuditWriter, type Sealer, generateSealKeyPair } from "@auditrail/audit-core";
import type { AuditWriters } from "@auditrail/audit-core/trpc";
import { type AuditEntryRow, type DatabaseHandle, DEMO_STAFF, type Provider, createDatabase, seedDemoData } from "@auditrail/db";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { createTestDatabase, runRawSql } from "@auditrail/db/testing";
import { TRPCClientError } from "@trpc/client";
import { type Logger, pino } from "pino";
import { createClinicClient } from "../src/client.ts";
import { type AppRouter, appRouter } from "../src/router.ts";
import { loadConfig } from "../src/config.ts";
import { openSealing } from "../src/sealing.ts";
import { type App, createApp } from "../src/server.ts";
import { audit } from "../src/trpc.ts";
import { openWriters } from "../src/writers.ts";

export type Role = (typeof DEMO_STAFF)[number]["role"];
export type Client = ReturnType<typeof createClinicClient>;

export interface Harness {
  readonly provider: Provider;
  readonly base: string;
  readonly db: DatabaseHandle;
  readonly app: App;
  /** The async (default) writer. */
  readonly writer: AuditWriter;
  readonly writers: Record<keyof AuditWriters, AuditWriter>;
  client(token?: string): Client;
  /** Signs in as the demo user of `role` and returns a client carrying the token. */
  as(role: Role): Promise<Client>;
  /** The demo user of `role` (id, email). */
  staff(role: Role): Promise<{ id: string; email: string }>;
  /** Waits until every entry recorded so far is in the AuditEntry table. */
  flush(): Promise<void>;
  /** Flushes, then the AuditEntry rows matching `where`, oldest first. */
  entries(
    where?: Partial<Pick<AuditEntryRow, "action" | "entity" | "entityId" | "outcome" | "actorId" | "requestId">>,
  ): Promise<AuditEntryRow[]>;
  /** Runs `fn` and counts the SQL statements the app's client sent meanwhile. */
  statements<T>(fn: () => Promise<T>): Promise<{ result: T; count: number; sql: string[] }>;
  /** The seals: the sealer (seal() to cover everything written so far), key files, anchor dir, its env. */
  readonly seals: {
    readonly sealer: Sealer;
    readonly keyFile: string;
    readonly publicKeyFile: string;
    readonly anchorDir: string;
    readonly env: Record<string, string>;
  };
  /** Makes the database refuse inserts of `ok` audit entries with this action (a fault to inject). */
  refuseAuditInserts(action: string): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Default: silent. */
  readonly logger?: Logger;
  readonly sessionTtlMs?: number;
  /** A directory to serve as the viewer (createApp's webRoot). */
  readonly webRoot?: string;
}

export async function startHarness(provider: Provider, options: HarnessOptions = {}): Promise<Harness> {
  const database = await createTestDatabase(provider);
  let log: string[] | undefined;
  const db = createDatabase(database.url, { onStatement: (sql) => log?.push(sql) });
  await seedDemoData(db.prisma);
  const spoolDir = await mkdtemp(join(tmpdir(), "auditrail-api-spool-"));
  const sink = sqlSinkSpec({ url: database.url });
  // Seals as main.ts makes them: a key pair of this test's own, anchors in its temp dir.
  const { privateKeyPem, publicKeyPem } = generateSealKeyPair();
  const keyFile = join(spoolDir, "seal.pem");
  const publicKeyFile = join(spoolDir, "seal.pub.pem");
  await writeFile(keyFile, privateKeyPem, { mode: 0o600 });
  await writeFile(publicKeyFile, publicKeyPem);
  const anchorDir = join(spoolDir, "anchors");
  const env = { AUDIT_SEAL_KEY_FILE: keyFile, AUDIT_ANCHOR_DIR: anchorDir, AUDIT_SEAL_EVERY_MS: "60000" };
  const sealing = await openSealing(loadConfig(env).seal, database.url, () => undefined);
  const { sealer } = sealing;
  const writers = await openWriters({ sink, spoolDir, sealer }, { maxBatchWaitMs: 5 }, { maxWorkers: 1 });
  audit.verify(appRouter, writers);
  const logger = options.logger ?? pino({ level: "silent" });
  const app = createApp(
    { prisma: db.prisma, writers, logger, sessionTtlMs: options.sessionTtlMs ?? 60_000, seals: sealing.services },
    db,
    options.webRoot === undefined ? {} : { webRoot: options.webRoot },
  );
  const base = await app.listen(0, "127.0.0.1");
  const client = (token?: string) => createClinicClient(base, token);
  const flush = async () => {
    await Promise.all([writers.async.flush(), writers.sync.flush(), writers.durable.flush()]);
  };
  const staff = async (role: Role) => {
    const s = DEMO_STAFF.find((x) => x.role === role);
    if (!s) throw new Error(`no demo staff with role ${role}`);
    return db.prisma.user.findUniqueOrThrow({ where: { email: s.email }, select: { id: true, email: true } });
  };
  return {
    provider,
    base,
    db,
    app,
    writer: writers.async,
    writers,
    client,
    as: async (role) => {
      const s = DEMO_STAFF.find((x) => x.role === role);
      if (!s) throw new Error(`no demo staff with role ${role}`);
      const { token } = await client().auth.login.mutate({ email: s.email, password: s.password });
      return client(token);
    },
    staff,
    flush,
    entries: async (where = {}) => {
      await flush();
      return db.prisma.auditEntry.findMany({ where, orderBy: [{ occurredAt: "asc" }, { id: "asc" }] });
    },
    statements: async (fn) => {
      const sql: string[] = [];
      log = sql;
      try {
        const result = await fn();
        return { result, count: sql.length, sql };
      } finally {
        log = undefined;
      }
    },
    refuseAuditInserts: async (action) => {
      const literal = `'${action.replaceAll("'", "''")}'`;
      if (provider === "sqlite") {
        await db.prisma.$executeRawUnsafe(
          `CREATE TRIGGER refuse_audit BEFORE INSERT ON "AuditEntry" WHEN NEW."action" = ${literal} AND NEW."outcome" = 'ok'
           BEGIN SELECT RAISE(ABORT, 'audit insert refused (test fault)'); END`,
        );
        return async () => void (await db.prisma.$executeRawUnsafe(`DROP TRIGGER refuse_audit`));
      }
      // As the owner: the application's role may not create functions or triggers.
      await runRawSql(
        database.url,
        `CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'audit insert refused (test fault)'; END $$;
         CREATE TRIGGER refuse_audit BEFORE INSERT ON "AuditEntry" FOR EACH ROW
         WHEN (NEW."action" = ${literal} AND NEW."outcome" = 'ok') EXECUTE FUNCTION refuse_audit();`,
      );
      return () => runRawSql(database.url, `DROP TRIGGER refuse_audit ON "AuditEntry"; DROP FUNCTION refuse_audit();`);
    },
    seals: { sealer, keyFile, publicKeyFile, anchorDir, env },
    close: async () => {
      await app.close({ deadlineMs: 2_000 });
      await sealing.close();
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

/** Every text column and JSON column of the audit table, as one string: what "never stored" is checked against. */
export function storedText(rows: readonly AuditEntryRow[]): string {
  return JSON.stringify(rows);
}
