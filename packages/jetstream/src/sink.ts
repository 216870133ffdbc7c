/**
 * `@auditrail/jetstream/sink`: the JetStream transport as a writer sink. Each writer worker builds
 * one from the spec and publishes its batches to the audit stream; `createAuditWriter`, its modes,
 * retries, spill and stats work unchanged:
 *
 * - every entry of a batch is published at once (async publish, the batch in flight) with
 *   `Nats-Msg-Id` = entry id, so a retried or replayed entry within the stream's duplicate
 *   window is acknowledged as a duplicate and stored once;
 * - a batch counts as written when the stream acknowledged every entry (with R3: stored on a
 *   majority of the replicas);
 * - anything else — timeouts, no responders, a full stream (`discard: new`), a lost leader — fails
 *   the write retryably, so the writer retries and, once its queue is full, spills to its spool.
 *   An entry larger than the stream accepts is poison: the writer dead-letters it.
 *
 * It is a transport (`forwards`): entries go out unlinked; `apps/ingest` chains them where they
 * are stored.
 */
import type { AuditEntry, AuditSink, DeadLetter, ErrorKind, SinkOptions, SinkSpec } from "@auditrail/audit-core";
import { type JetStreamClient, JetStreamApiError, jetstream } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { AuditStreamConfigSchema, NatsServersSchema, connectNats, parseConfig } from "./stream.ts";

export const JetStreamSinkOptionsSchema = z.strictObject({
  /** NATS servers of the cluster (comma-separated string or array). */
  servers: NatsServersSchema,
  /** The stream's configuration (only its subjects are used here; ingest creates the stream). */
  stream: AuditStreamConfigSchema.prefault({}),
  /**
   * One publish unacknowledged this long fails the batch (retryably). Keep it below the writer's
   * retry.writeTimeoutMs, which abandons the whole attempt.
   */
  publishTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
  /** Connection name shown in the server's monitoring. */
  name: z.string().min(1).default("auditrail-writer"),
});

export type JetStreamSinkOptions = z.input<typeof JetStreamSinkOptionsSchema>;

/** JetStream's "message size exceeds maximum allowed" (the stream's max_msg_size). */
const MESSAGE_TOO_LARGE = 10_054;

/** A publish failed; `kind` says whether the same entry can succeed later. */
export class JetStreamPublishError extends Error {
  override readonly name = "JetStreamPublishError";
  constructor(
    readonly kind: ErrorKind,
    readonly failed: number,
    readonly total: number,
    cause: unknown,
  ) {
    super(`${failed} of ${total} publishes to JetStream failed: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** Poison: the entry itself is refused (too large for the server or the stream); anything else can pass later. */
function kindOf(error: unknown): ErrorKind {
  if (error instanceof JetStreamApiError) return error.code === MESSAGE_TOO_LARGE ? "poison" : "retryable";
  if (error instanceof Error && error.name === "InvalidArgumentError" && /max_payload/.test(error.message)) return "poison";
  return "retryable";
}

export class JetStreamAuditSink implements AuditSink {
  readonly forwards = true;
  private connection: Promise<{ nc: NatsConnection; js: JetStreamClient }> | undefined;
  private readonly encoder = new TextEncoder();

  constructor(private readonly options: z.output<typeof JetStreamSinkOptionsSchema>) {}

  async write(entries: readonly AuditEntry[]): Promise<void> {
    const { js } = await this.connect();
    const { subjects } = this.options.stream;
    await this.publishAll(
      js,
      entries.map((entry) => ({ subject: subjects.entries, id: entry.id, body: JSON.stringify(entry) })),
    );
  }

  /** Dead letters travel on their own subject; ingest keeps them in the database's DeadLetter table. */
  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    const { js } = await this.connect();
    const { subjects } = this.options.stream;
    await this.publishAll(
      js,
      letters.map((letter) => ({ subject: subjects.deadLetters, id: `dead-${letter.entry.id}`, body: JSON.stringify(letter) })),
    );
  }

  classify(error: unknown): ErrorKind | undefined {
    return error instanceof JetStreamPublishError ? error.kind : undefined;
  }

  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = undefined;
    const open = await connection?.catch(() => undefined);
    // drain: publishes already handed to the client go out before the socket closes.
    await open?.nc.drain().catch(() => open.nc.close());
  }

  private async publishAll(js: JetStreamClient, messages: readonly { subject: string; id: string; body: string }[]): Promise<void> {
    const timeout = this.options.publishTimeoutMs;
    const results = await Promise.allSettled(
      messages.map((m) => js.publish(m.subject, this.encoder.encode(m.body), { msgID: m.id, timeout })),
    );
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failures.length === 0) return;
    const reasons = failures.map((f) => f.reason as unknown);
    // One retryable failure makes the batch retryable: the poison, if any, is isolated on retry.
    const retryable = reasons.find((r) => kindOf(r) === "retryable");
    throw new JetStreamPublishError(
      retryable === undefined ? "poison" : "retryable",
      failures.length,
      messages.length,
      retryable ?? reasons[0],
    );
  }

  private connect(): Promise<{ nc: NatsConnection; js: JetStreamClient }> {
    this.connection ??= connectNats(this.options.servers, this.options.name).then(
      (nc) => ({ nc, js: jetstream(nc) }),
      (error: unknown) => {
        // No server reachable now: fail this write (retryably) and dial again on the next one.
        this.connection = undefined;
        throw new JetStreamPublishError("retryable", 1, 1, error);
      },
    );
    return this.connection;
  }
}

/** The module entry workers call. */
export function createSink(options: SinkOptions): AuditSink {
  return new JetStreamAuditSink(parseConfig(JetStreamSinkOptionsSchema, options, "JetStream sink options"));
}

/** The spec naming this module's built file, for createAuditWriter({ sink }). Validates the options now. */
export function jetStreamSinkSpec(options: JetStreamSinkOptions): SinkSpec {
  parseConfig(JetStreamSinkOptionsSchema, options, "JetStream sink options");
  // Resolves to dist/sink.js from src/ (tests, tsx) and from dist/ alike: workers need built JS.
  return { module: new URL("../dist/sink.js", import.meta.url).href, options: { ...options } };
}
