/**
 * Starts the clinic API: DATABASE_URL (default: the embedded SQLite file), PORT (3000), HOST
 * (127.0.0.1), LOG_LEVEL (info), AUDIT_SPOOL_DIR (.auditrail/spool). Refuses to start on a
 * database with pending migrations. SIGTERM/SIGINT: stop accepting, finish in-flight calls,
 * drain the audit writer, exit.
 */
import { createAuditWriter } from "@auditrail/audit-core";
import { DEMO_STAFF, createDatabase, databaseUrlFromEnv, pendingMigrations, redactUrl } from "@auditrail/db";
import { prismaSinkSpec } from "@auditrail/db/sink";
import { pino } from "pino";
import { createApp } from "./server.ts";

const logger = pino({ level: process.env.LOG_LEVEL ?? "info" });
const url = databaseUrlFromEnv();
const db = createDatabase(url);

const pending = await pendingMigrations(db);
if (pending.length > 0) {
  logger.fatal({ pending }, `Database ${redactUrl(url)} has pending migrations: run \`pnpm db:deploy\` first.`);
  process.exit(1);
}

const writer = await createAuditWriter({
  sink: prismaSinkSpec({ url }),
  spoolDir: process.env.AUDIT_SPOOL_DIR ?? ".auditrail/spool",
  onError: (err) => logger.warn({ err }, "audit writer"),
});
const app = createApp({ prisma: db.prisma, writer, logger, sessionTtlMs: 8 * 60 * 60 * 1000 }, db);
const base = await app.listen(Number(process.env.PORT ?? 3000), process.env.HOST ?? "127.0.0.1");

const demo = await db.prisma.user.count({ where: { email: { in: DEMO_STAFF.map((s) => s.email) } } });
console.log(`\nauditrail clinic API on ${base} (${db.provider}: ${redactUrl(url)})`);
console.log(`  health: ${base}/health   metrics: ${base}/metrics   tRPC: ${base}/trpc`);
if (demo > 0) {
  console.log("  demo logins (email / password):");
  for (const s of DEMO_STAFF) console.log(`    ${s.role.padEnd(13)} ${s.email} / ${s.password}`);
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "shutting down");
    app.close().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  });
}
