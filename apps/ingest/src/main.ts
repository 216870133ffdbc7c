/**
 * Starts one ingest process: JetStream (NATS_URL, comma-separated servers) → the SQL audit sink
 * (DATABASE_URL). Optional: INGEST_BATCH_SIZE, INGEST_DEAD_LETTER_DIR, LOG_LEVEL; or the whole
 * configuration as JSON in argv[2] (see config.ts). Run as many as the load needs: they share one
 * durable consumer. SIGTERM/SIGINT: stop consuming, let the batch in progress commit (within
 * closeDeadlineMs), hand back what was not committed, exit 0.
 */
import { pino } from "pino";
import { ingestConfigFromEnv, parseIngestConfig } from "./config.ts";
import { Ingest } from "./ingest.ts";

const logger = pino({ level: process.env.LOG_LEVEL ?? "info" });
const config = process.argv[2] ? parseIngestConfig(JSON.parse(process.argv[2]) as Parameters<typeof parseIngestConfig>[0]) : ingestConfigFromEnv();

const ingest = await Ingest.start(config, {
  onError: (err) => logger.warn({ err }, "ingest"),
  onBatch: (event) => logger.debug(event, "batch"),
});
logger.info({ stream: config.stream.name, consumer: config.consumer.durable, servers: config.servers }, "ingesting");

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
