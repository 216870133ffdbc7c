/**
 * Starts the clinic API: DATABASE_URL (default: the embedded SQLite file), PORT (3000), HOST
 * (127.0.0.1), LOG_LEVEL (info), TRUST_PROXY (1: take the client IP from X-Forwarded-For), AUDIT_SPOOL_DIR (.auditrail/spool; the durable writer uses its
 * `durable` subfolder), AUDIT_TRANSPORT (direct | jetstream: publish to NATS_URL, see audit-transport.ts). Refuses to start on a database with pending migrations, or with a
 * procedure whose audit meta is missing or invalid. SIGTERM/SIGINT: stop accepting, finish
 * in-flight calls, drain the audit writers (spilling to disk what cannot be written in time), exit.
 */
import { join } from "node:path";
import { createAuditWriter } from "@auditrail/audit-core";
import { DEMO_STAFF, createDatabase, databaseUrlFromEnv, pendingMigrations, redactUrl } from "@auditrail/db";
import { pino } from "pino";
import { auditSinkSpec, auditTransportFromEnv } from "./audit-transport.ts";
import { appRouter } from "./router.ts";
import { createApp } from "./server.ts";
import { audit } from "./trpc.ts";

const logger = pino({ level: process.env.LOG_LEVEL ?? "info" });
const url = databaseUrlFromEnv();
const db = createDatabase(url);

const pending = await pendingMigrations(db);
if (pending.length > 0) {
  logger.fatal({ pending }, `Database ${redactUrl(url)} has pending migrations: run \`pnpm db:deploy\` first.`);
  process.exit(1);
}

const spoolDir = process.env.AUDIT_SPOOL_DIR ?? ".auditrail/spool";
const transport = auditTransportFromEnv();
const sink = auditSinkSpec(transport, url);
const onError = (err: Error) => logger.warn({ err }, "audit writer");
const writers = {
  async: await createAuditWriter({ sink, spoolDir, onError }),
  sync: await createAuditWriter({ sink, mode: "sync", spoolDir, onError }),
  durable: await createAuditWriter({ sink, mode: "durable", spoolDir: join(spoolDir, "durable"), maxWorkers: 1, onError }),
};
audit.verify(appRouter, writers);

const trustProxy = process.env.TRUST_PROXY === "1";
const app = createApp({ prisma: db.prisma, writers, logger, sessionTtlMs: 8 * 60 * 60 * 1000, trustProxy }, db);
const base = await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1");

const demo = await db.prisma.user.count({ where: { email: { in: DEMO_STAFF.map((s) => s.email) } } });
console.log(`\nauditrail clinic API on ${base} (${db.provider}: ${redactUrl(url)})`);
if (transport.transport === "jetstream") console.log(`  audit entries: published to JetStream at ${transport.servers.join(",")} (written by apps/ingest)`);
console.log(`  health: ${base}/health   metrics: ${base}/metrics   tRPC: ${base}/trpc   export: ${base}/audit/export`);
if (demo > 0) {
  console.log("  demo logins (email / password):");
  for (const s of DEMO_STAFF) console.log(`    ${s.role.padEnd(13)} ${s.email} / ${s.password}`);
  console.log("  try the demo (another terminal): npx -y pnpm@12.4.2 --filter @auditrail/api demo");
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "shutting down: no new connections, finishing in-flight calls");
    app.close().then(
      (report) => {
        const summary = Object.fromEntries(
          Object.entries(report.writers).map(([mode, r]) => [mode, { drained: r.drained, written: r.written, spilled: r.spilled }]),
        );
        logger.info({ requestsFinished: report.requestsFinished, writers: summary }, "shut down");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
