/**
 * `@auditrail/jetstream/stream`: the one typed configuration of the audit stream and its shared
 * consumer, and the calls that create (or update) them on a JetStream cluster.
 *
 * The stream is a work queue (a message is removed once ingest acknowledged it), so its limits
 * bound the *backlog* — what the API nodes published and ingest has not yet committed. With
 * `discard: new`, a full stream refuses the publish: the writer's sink fails retryably and the
 * writer spills to its local spool. Nothing is dropped silently.
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  ReplayPolicy,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { InvalidJetStreamConfigError, formatIssues } from "@auditrail/audit-core";
import { type NatsConnection, connect } from "@nats-io/transport-node";
import { z } from "zod";

/** Thrown by parseConfig; defined with every other error in audit-core's errors table. */
export { InvalidJetStreamConfigError } from "@auditrail/audit-core";

/** Parses `input` with `schema`, or throws InvalidJetStreamConfigError naming each problem. */
export function parseConfig<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    throw new InvalidJetStreamConfigError(what, formatIssues(parsed.error.issues, "(config)"));
  }
  return parsed.data;
}

const ms = (min: number, max: number) => z.number().int().min(min).max(max);
/** JetStream durations travel as nanoseconds. */
export const nanos = (millis: number): number => millis * 1_000_000;

export const AuditStreamConfigSchema = z.strictObject({
  /** Stream name. */
  name: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
    .default("AUDIT"),
  /** Subjects: writers publish entries to `entries` and dead letters to `deadLetters`. */
  subjects: z
    .strictObject({
      entries: z.string().min(1).default("audit.entries"),
      deadLetters: z.string().min(1).default("audit.dead-letters"),
    })
    .prefault({}),
  /** Copies kept by the cluster (1, 3 or 5); an acknowledged publish is on a majority of them. */
  replicas: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(3),
  /** Unconsumed entries older than this are removed: keep it well above the longest ingest outage you plan for. */
  maxAgeMs: ms(1_000, 365 * 24 * 3_600_000).default(7 * 24 * 3_600_000),
  /** Backlog bound in bytes; once reached, publishes are refused (discard new) and writers spill. */
  maxBytes: z
    .number()
    .int()
    .min(1_024)
    .default(1024 ** 3),
  /** A message id (the entry id) seen again within this window is acknowledged as a duplicate and not stored. */
  duplicateWindowMs: ms(100, 24 * 3_600_000).default(120_000),
  /** Largest message accepted (a bigger entry is refused as poison and dead-lettered by the writer). */
  maxMessageBytes: z
    .number()
    .int()
    .min(1_024)
    .max(64 * 1024 ** 2)
    .default(1024 ** 2),
});

export type AuditStreamConfig = z.input<typeof AuditStreamConfigSchema>;
export type ResolvedStreamConfig = z.output<typeof AuditStreamConfigSchema>;

export const AuditConsumerConfigSchema = z
  .strictObject({
    /** Durable name shared by every ingest process. */
    durable: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, _ and - only")
      .default("ingest"),
    /** An entry delivered and not acknowledged within this time is delivered again (to any process). */
    ackWaitMs: ms(1_000, 3_600_000).default(30_000),
    /**
     * Redelivery delays for the 1st, 2nd, … redelivery of one message (the last one repeats).
     * Each must be ≥ ackWaitMs: JetStream uses the first as the ack wait when a list is set.
     * Empty: every redelivery waits ackWaitMs.
     */
    backoffMs: z
      .array(ms(1_000, 24 * 3_600_000))
      .max(20)
      .default([]),
    /** Entries delivered and not yet acknowledged, over all ingest processes: the in-flight bound. */
    maxAckPending: z.number().int().min(1).max(1_000_000).default(4_000),
    /**
     * Deliveries of one message before JetStream gives up on it; -1 = never. Ingest dead-letters
     * poison itself (the database refuses the entry), so the default never lets the server drop one.
     */
    maxDeliver: z
      .number()
      .int()
      .min(-1)
      .default(-1)
      .refine((n) => n !== 0, "0 is not allowed (use -1 for unlimited)"),
  })
  .superRefine((c, ctx) => {
    if (c.backoffMs.some((b) => b < c.ackWaitMs)) {
      ctx.addIssue({ code: "custom", path: ["backoffMs"], message: "every delay must be ≥ ackWaitMs" });
    }
    if (c.maxDeliver !== -1 && c.backoffMs.length >= c.maxDeliver) {
      ctx.addIssue({ code: "custom", path: ["backoffMs"], message: "needs fewer entries than maxDeliver" });
    }
  });

export type AuditConsumerConfig = z.input<typeof AuditConsumerConfigSchema>;
export type ResolvedConsumerConfig = z.output<typeof AuditConsumerConfigSchema>;

/** The NATS server list: a comma-separated string (as in NATS_URL) or an array; at least one. */
export const NatsServersSchema = z
  .union([z.string(), z.array(z.string())])
  .transform((v) => (typeof v === "string" ? v.split(",") : v).map((s) => s.trim()).filter((s) => s !== ""))
  .pipe(z.array(z.string().regex(/^(nats:\/\/)?[^\s/:]+(:\d+)?$/, "host[:port] or nats://host[:port]")).min(1, "at least one server"));

/**
 * Connects to the cluster and keeps reconnecting for good (a writer or ingest process outlives
 * any outage of the cluster; its own retry and spill policy decides what to do meanwhile).
 */
export function connectNats(servers: readonly string[], name: string): Promise<NatsConnection> {
  return connect({ servers: [...servers], name, maxReconnectAttempts: -1, reconnectTimeWait: 500, timeout: 5_000 });
}

export function streamConfig(config: ResolvedStreamConfig): WithName<StreamConfig> {
  return {
    name: config.name,
    subjects: [config.subjects.entries, config.subjects.deadLetters],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    num_replicas: config.replicas,
    max_age: nanos(config.maxAgeMs),
    max_bytes: config.maxBytes,
    max_msg_size: config.maxMessageBytes,
    duplicate_window: nanos(config.duplicateWindowMs),
  };
}

type WithName<T> = Partial<T> & { name: string };

export function consumerConfig(config: ResolvedConsumerConfig): ConsumerConfig {
  return {
    durable_name: config.durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    replay_policy: ReplayPolicy.Instant,
    ack_wait: nanos(config.ackWaitMs),
    max_ack_pending: config.maxAckPending,
    max_deliver: config.maxDeliver,
    ...(config.backoffMs.length > 0 ? { backoff: config.backoffMs.map(nanos) } : {}),
  };
}

/**
 * Creates the stream and the durable consumer, or brings existing ones to this configuration.
 * Safe to call from every ingest process at start.
 */
export async function ensureAuditStream(
  jsm: JetStreamManager,
  stream: ResolvedStreamConfig,
  consumer: ResolvedConsumerConfig,
): Promise<void> {
  const wanted = streamConfig(stream);
  const exists = await jsm.streams.info(stream.name).then(
    () => true,
    (error: unknown) => {
      if (isNotFound(error)) return false;
      throw error;
    },
  );
  if (exists) await jsm.streams.update(stream.name, wanted);
  else await jsm.streams.add(wanted);
  const existing = await jsm.consumers.info(stream.name, consumer.durable).then(
    () => true,
    (error: unknown) => {
      if (isNotFound(error)) return false;
      throw error;
    },
  );
  const wantedConsumer = consumerConfig(consumer);
  if (existing) await jsm.consumers.update(stream.name, consumer.durable, wantedConsumer);
  else await jsm.consumers.add(stream.name, wantedConsumer);
}

function isNotFound(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamNotFound || error.code === JetStreamApiCodes.ConsumerNotFound)
  );
}
