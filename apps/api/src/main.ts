/**
 * Starts the clinic API with the settings of src/config.ts (every environment variable — the
 * writers', the seals' and the transport's —, its default and what it accepts; a bad value: the
 * variable named on stderr, exit 1; AUDIT_TRANSPORT=jetstream publishes entries for apps/ingest to
 * write). Logs the settings in effect as one line (the seal key file's path, never the key). Serves the
 * audit viewer (apps/web/dist) at /. Refuses to start on a database with pending migrations, or
 * with a procedure whose audit meta is missing or invalid. SIGTERM/SIGINT: stop accepting, finish
 * in-flight calls, drain the audit writers (spilling to disk what cannot be written in time), exit.
 */
import { fileURLToPath } from "node:url";
import { AuditrailError } from "@auditrail/audit-core";
import { DEMO_STAFF, createDatabase, pendingMigrations, redactUrl, sealKeyFile } from "@auditrail/db";
import { pino } from "pino";
import { auditSinkSpec } from "./audit-transport.ts";
import { type Config, ConfigError, type WriterConfigInEffect, loadConfig } from "./config.ts";
import { appRouter } from "./router.ts";
import { openSealing } from "./sealing.ts";
import { createApp } from "./server.ts";
import { openWriters } from "./writers.ts";
import { audit } from "./trpc.ts";

/** config.ts's settings, or exit 1 with every bad variable and what it accepts on stderr (no stack). */
function settingsOrExit(): Config {
  try {
    return loadConfig(process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`auditrail API: ${error.message}`);
    process.exit(1);
  }
}

/**
 * A start step, or exit 1 with one line on stderr (no stack) when it fails with a named library
 * error or a system error: the seal key file missing or not Ed25519, the anchor folder not
 * writable, another API holding AUDIT_SPOOL_DIR, the port taken. Anything else is a bug: thrown.
 */
async function startOrExit<T>(step: Promise<T>): Promise<T> {
  try {
    return await step;
  } catch (error) {
    const system = error instanceof Error && typeof (error as NodeJS.ErrnoException).syscall === "string";
    if (!(error instanceof AuditrailError || system)) throw error;
    console.error(`auditrail API: cannot start: ${error.message}`);
    process.exit(1);
  }
}

const config = settingsOrExit();
const { transport } = config;

const logger = pino({ level: config.logLevel });
const url = config.databaseUrl;
// The signing key in effect (made under .auditrail/keys when AUDIT_SEAL_KEY_FILE is unset), so the
// start line shows its path.
const sealKey = await startOrExit(sealKeyFile(config.seal.signingKeyFile));
const seal = { ...config.seal, signingKeyFile: sealKey.keyFile };
logger.info({ config: { ...config, databaseUrl: redactUrl(url), seal } }, "config");
if (config.audit.defaultMode === "off") {
  logger.warn("AUDIT_MODE=off: procedures that pin no audit mode write no audit entries");
}
const db = createDatabase(url);

const pending = await pendingMigrations(db);
if (pending.length > 0) {
  logger.fatal({ pending }, `Database ${redactUrl(url)} has pending migrations: run \`pnpm db:deploy\` first.`);
  process.exit(1);
}

const { spoolDir, maxWorkers, maxQueueSize, overflow, maxBatchSize, maxBatchWaitMs, closeDeadlineMs } = config.audit;
const sink = auditSinkSpec(transport, url);
const onError = (err: Error) => logger.warn({ err }, "audit writer");
// Seals are stored in the database's seal table whatever the transport (the JetStream sink has no
// storeSeal: with AUDIT_TRANSPORT=jetstream this process seals the database's own stream only).
const sealing = await startOrExit(openSealing(seal, url, (err) => logger.warn({ err }, "audit sealer")));
if (sealKey.development) {
  logger.warn(
    { keyFile: sealKey.keyFile },
    "AUDIT_SEAL_KEY_FILE is not set: seals are signed with a DEVELOPMENT key made on this machine. In production create a key pair with `pnpm --filter @auditrail/api audit:keygen`, keep the private key out of the database's reach and set AUDIT_SEAL_KEY_FILE.",
  );
}
const { sealer } = sealing;
const writers = await startOrExit(
  openWriters({ sink, spoolDir, closeDeadlineMs, onError, sealer }, { maxWorkers, maxQueueSize, overflow, maxBatchSize, maxBatchWaitMs }),
);
audit.verify(appRouter, writers);

// The viewer (apps/web), built next to this app by `turbo run build`.
const webRoot = fileURLToPath(new URL("../../web/dist/", import.meta.url));
const app = createApp(
  {
    prisma: db.prisma,
    writers,
    logger,
    sessionTtlMs: config.sessionTtlMs,
    trustProxy: config.trustProxy,
    auditDefaultMode: config.audit.defaultMode,
    writerConfig: { ...config.audit, sealEveryMs: seal.sealEveryMs, sealKeyFile: seal.signingKeyFile } satisfies WriterConfigInEffect,
    seals: sealing.services,
  },
  db,
  { webRoot },
);
const base = await startOrExit(app.listen(config.port, config.host));

const demo = await db.prisma.user.count({ where: { email: { in: DEMO_STAFF.map((s) => s.email) } } });
console.log(`\nauditrail clinic API on ${base} (${db.provider}: ${redactUrl(url)})`);
console.log(`  audit viewer: ${base}/ (sign in as the auditor or the admin)`);
if (transport.transport === "jetstream")
  console.log(`  audit entries: published to JetStream at ${transport.servers.join(",")} (written by apps/ingest)`);
console.log(`  health: ${base}/health   metrics: ${base}/metrics   tRPC: ${base}/trpc   export: ${base}/audit/export`);
if (demo > 0) {
  console.log("  demo logins (email / password):");
  for (const s of DEMO_STAFF) console.log(`    ${s.role.padEnd(13)} ${s.email} / ${s.password}`);
  console.log(`  try the demo (another terminal): ${demoCommand(base)}`);
}

/** The demo runs against http://localhost:3000 unless API_URL says otherwise. */
function demoCommand(at: string): string {
  const command = "npx -y pnpm@12.4.2 --filter @auditrail/api demo";
  const { hostname, port } = new URL(at);
  const local = hostname === "localhost" || hostname === "127.0.0.1";
  return local && port === "3000" ? command : `API_URL=${at} ${command}`;
}

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "shutting down: no new connections, finishing in-flight calls");
    app.close().then(
      async (report) => {
        await sealing.close(); // the last seal, over everything the writers stored
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
