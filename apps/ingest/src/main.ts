/**
 * Starts one ingest process: JetStream (NATS_URL, comma-separated servers) → the SQL audit sink
 * (DATABASE_URL). Optional: INGEST_BATCH_SIZE, INGEST_DEAD_LETTER_DIR, LOG_LEVEL, the seal settings
 * (AUDIT_SEAL_KEY_FILE, AUDIT_ANCHOR_DIR, AUDIT_SEAL_EVERY_MS, AUDIT_TRAIL, AUDIT_WITNESS_URL); or the whole
 * configuration as JSON in argv[2] (see config.ts). Run as many as the load needs: they share one
 * durable consumer. SIGTERM/SIGINT: stop consuming, let the batch in progress commit (within
 * closeDeadlineMs), hand back what was not committed, seal what was, exit 0.
 */
import { pino } from "pino";
import { ingestConfigFromEnv, parseIngestConfig } from "./config.ts";
import { Ingest } from "./ingest.ts";

const logger = pino({ level: process.env.LOG_LEVEL ?? "info" });
const config = process.argv[2]
  ? parseIngestConfig(JSON.parse(process.argv[2]) as Parameters<typeof parseIngestConfig>[0])
  : ingestConfigFromEnv();

const ingest = await Ingest.start(config, {
  onError: (err) => logger.warn({ err }, "ingest"),
  onBatch: (event) => logger.debug(event, "batch"),
  onSweep: (event) => logger.warn(event, "swept messages the stream held at or below the consumer's ack floor"),
});
if (ingest.developmentKey)
  logger.warn({ keyFile: ingest.developmentKey }, "sealing with the development key: set AUDIT_SEAL_KEY_FILE in production");
logger.info(
  {
    stream: config.stream.name,
    consumer: config.consumer.durable,
    servers: config.servers,
    trail: ingest.trail,
    anchorDir: config.seal.anchorDir,
  },
  "ingesting",
);

for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => {
    logger.info({ signal }, "stopping");
    ingest.stop().then(
      (stats) => {
        logger.info({ stats }, "stopped");
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, "stop failed");
        process.exit(1);
      },
    );
  });
}
