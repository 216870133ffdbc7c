/**
 * The ingest service's configuration: one schema, every default stated here, validated at start
 * (InvalidJetStreamConfigError lists every problem). `ingestConfigFromEnv` maps the environment.
 */
import { TRAIL_NAME } from "@auditrail/audit-core";
import { AuditConsumerConfigSchema, AuditStreamConfigSchema, NatsServersSchema, parseConfig } from "@auditrail/jetstream/stream";
import { z } from "zod";

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** This process's sealer, as @auditrail/db's openSealer takes it (sealing.ts opens it). */
export const IngestSealConfigSchema = z.strictObject({
  /** This process's trail (the anchor's sub-folder). Default: ingest-<host>-<pid>. */
  trail: z.string().regex(TRAIL_NAME, "1–128 of A-Z a-z 0-9 . _ -, starting with a letter or digit").optional(),
  /** The Ed25519 signing key (PEM). Unset: the development key under .auditrail/keys. */
  signingKeyFile: z.string().min(1).optional(),
  /** The append-only anchor folder: another volume than the database's in production. */
  anchorDir: z.string().min(1).default(".auditrail/anchors"),
  /** A seal at most this often, only when something new was written; and one at stop. */
  sealEveryMs: int(10, 86_400_000).default(1_000),
  /** A witness that cosigns each seal. */
  witnessUrl: z.url().optional(),
});

export const IngestConfigSchema = z
  .strictObject({
    /** NATS servers of the cluster (comma-separated string or array). */
    servers: NatsServersSchema,
    /** The database the entries go to (`postgresql://…` or `file:…`), written with @auditrail/db's SQL sink. */
    databaseUrl: z.string().min(1),
    stream: AuditStreamConfigSchema.prefault({}),
    consumer: AuditConsumerConfigSchema.prefault({}),
    /** Entries per database write (one statement on PostgreSQL). */
    batchSize: int(1, 10_000).default(500),
    /** A partial batch waits this long for more entries before it is written. */
    maxBatchWaitMs: int(0, 10_000).default(20),
    /**
     * Each pull request to the consumer lives this long; a request lost with a node (or a consumer
     * leader that moved) is noticed within it (heartbeats every half of it) and pulled again.
     */
    pullExpiresMs: int(1_000, 300_000).default(5_000),
    /**
     * How often the sweep looks for messages the stream still holds at or below the consumer's ack
     * floor (which the consumer will never deliver again), publishes each again and deletes it;
     * it also runs at start, after a reconnect and after the pull noticed an unreachable cluster
     * (missed heartbeats). 0: never.
     */
    sweepEveryMs: z.union([z.literal(0), int(100, 3_600_000)]).default(30_000),
    /** Retry of retryable database errors (backoff with full jitter), as the writer does. */
    retry: z
      .strictObject({
        initialDelayMs: int(1, 60_000).default(50),
        maxDelayMs: int(1, 600_000).default(5_000),
        multiplier: z.number().min(1).max(10).default(2),
        /** Attempts at an error no rule recognises before the entry is treated as poison. */
        unknownErrorAttempts: int(1, 100).default(5),
        /** One database write taking longer fails (retryably) as a timeout. */
        writeTimeoutMs: int(1, 600_000).default(10_000),
      })
      .prefault({}),
    /** Where dead letters go when the database will not take them either, and unreadable messages. */
    deadLetterDir: z.string().min(1).default(".auditrail/ingest"),
    /** This process's sealer: its trail, signing key, anchor folder, interval, witness (see sealing.ts). */
    seal: IngestSealConfigSchema.prefault({}),
    /** On stop, the batch being written gets this long to commit before it is abandoned (and redelivered). */
    closeDeadlineMs: int(0, 600_000).default(10_000),
    /** Connection name shown in the server's monitoring. */
    name: z.string().min(1).default("auditrail-ingest"),
  })
  .superRefine((c, ctx) => {
    if (c.retry.maxDelayMs < c.retry.initialDelayMs) {
      ctx.addIssue({ code: "custom", path: ["retry", "maxDelayMs"], message: "must be ≥ retry.initialDelayMs" });
    }
    if (c.batchSize > c.consumer.maxAckPending) {
      ctx.addIssue({ code: "custom", path: ["batchSize"], message: "must be ≤ consumer.maxAckPending (a batch could never fill)" });
    }
  });

export type IngestConfig = z.input<typeof IngestConfigSchema>;
export type ResolvedIngestConfig = z.output<typeof IngestConfigSchema>;

export function parseIngestConfig(input: IngestConfig): ResolvedIngestConfig {
  return parseConfig(IngestConfigSchema, input, "ingest configuration");
}

/**
 * NATS_URL (comma-separated servers, required), DATABASE_URL (required), INGEST_BATCH_SIZE,
 * INGEST_DEAD_LETTER_DIR, and the seal settings (AUDIT_SEAL_KEY_FILE, AUDIT_ANCHOR_DIR,
 * AUDIT_SEAL_EVERY_MS, AUDIT_TRAIL, AUDIT_WITNESS_URL, as the API names them); the stream and consumer
 * keep their defaults (AUDIT / ingest, R3).
 */
export function ingestConfigFromEnv(env: NodeJS.ProcessEnv = process.env): ResolvedIngestConfig {
  const sealEveryMs = env.AUDIT_SEAL_EVERY_MS ? Number(env.AUDIT_SEAL_EVERY_MS) : undefined;
  const batchSize = env.INGEST_BATCH_SIZE === undefined ? undefined : Number(env.INGEST_BATCH_SIZE);
  return parseIngestConfig({
    servers: env.NATS_URL ?? "",
    databaseUrl: env.DATABASE_URL ?? "",
    ...(batchSize === undefined ? {} : { batchSize }),
    ...(env.INGEST_DEAD_LETTER_DIR ? { deadLetterDir: env.INGEST_DEAD_LETTER_DIR } : {}),
    seal: {
      ...(env.AUDIT_TRAIL ? { trail: env.AUDIT_TRAIL } : {}),
      ...(env.AUDIT_SEAL_KEY_FILE ? { signingKeyFile: env.AUDIT_SEAL_KEY_FILE } : {}),
      ...(env.AUDIT_ANCHOR_DIR ? { anchorDir: env.AUDIT_ANCHOR_DIR } : {}),
      ...(sealEveryMs === undefined ? {} : { sealEveryMs }),
      ...(env.AUDIT_WITNESS_URL ? { witnessUrl: env.AUDIT_WITNESS_URL } : {}),
    },
  });
}
