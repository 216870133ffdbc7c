/**
 * The ingest service: JetStream → the SQL audit sink. Every process is one client of the same
 * durable pull consumer, so N processes share the stream's backlog and scale out.
 *
 *   consume ─► buffer ─► batch (size/age) ─► skip ids already stored ─► link (this process's chain)
 *           ─► write with retry (poison isolated and dead-lettered) ─► commit ─► ack
 *
 * - An entry is acknowledged only after its row (or dead letter) committed; a process that dies
 *   mid-batch leaves its messages unacknowledged and JetStream redelivers them after the ack wait.
 * - Writes are idempotent: ids already stored (a redelivery, or a replay published again after
 *   the duplicate window) are skipped before linking, so they take no second place in a chain.
 *   Two processes can still hold one message at once (after a whole-cluster freeze the ack-wait
 *   timers fire together and redeliver what another process is writing): the one whose write
 *   comes second finds the entry stored under the other's link, the sink stores nothing of its
 *   batch (EntriesStoredElsewhereError), and it takes back the batch's links, counts the entry as
 *   already stored and links and writes the rest again (linkAndWrite), so its chain has no gap.
 * - While a batch waits on the database (retrying an outage), its messages and the buffered ones
 *   are kept "in progress" (`working()`), so they are not redelivered to another process meanwhile.
 * - Each process chains what it writes into a stream of its own and owns a Sealer: after each
 *   commit the stream's Merkle log is reported to it, and it signs a seal over it (at most every
 *   seal.sealEveryMs, and at stop) into the anchor folder and the seal table (see sealing.ts).
 * - The sweep: a message can stay in the work-queue stream at or below the consumer's ack floor,
 *   where the consumer never delivers it again (given up after consumer.maxDeliver deliveries, or a
 *   server whose stream and consumer state fell out of step; see README.md). At start, every
 *   sweepEveryMs, after a reconnect and after missed heartbeats, ingest reads such messages by
 *   sequence, publishes each again (the consumer delivers the copy like any message, to one
 *   process, and ids already stored are skipped) and only then deletes the original.
 * - Entries the database refuses for good, and dead letters published by API writers, go to the
 *   DeadLetter table (the writer's dead-letter path), or to a file if the database refuses those too.
 *   A message that is not an audit entry at all is kept in `rejected-messages.ndjson` and terminated.
 */
import { appendFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  type AuditEntry,
  AuditEntrySchema,
  type AuditSink,
  ChainStream,
  type DeadLetter,
  type RetryPolicy,
  type WriteControl,
  appendDeadLetterFile,
  formatIssues,
  keepDeadLetters,
  linkAndWrite,
  messageOf,
  retryRetryable,
} from "@auditrail/audit-core";
import type { OpenedSealer } from "@auditrail/db";
import { createSink } from "@auditrail/db/sink";
import { connectNats, ensureAuditStream } from "@auditrail/jetstream/stream";
import {
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type MsgRequest,
  type StoredMsg,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { z } from "zod";
import { type IngestConfig, type ResolvedIngestConfig, parseIngestConfig } from "./config.ts";
import { openIngestSealing } from "./sealing.ts";

export interface IngestStats {
  /** Entries whose row this process committed. */
  readonly written: number;
  /** Entries found stored already (redelivered, or published again) and only acknowledged. */
  readonly alreadyStored: number;
  /** Entries the database refused for good plus dead letters published by writers, kept as dead letters. */
  readonly deadLettered: number;
  /** Messages that were not audit entries (kept in rejected-messages.ndjson, terminated). */
  readonly rejected: number;
  /** Messages JetStream delivered more than once. */
  readonly redelivered: number;
  /**
   * Messages the sweep found in the stream at or below the consumer's ack floor (never to be
   * delivered again), published again and deleted; the copies are delivered and counted as any message.
   */
  readonly swept: number;
  readonly retries: number;
  readonly batches: number;
  /** Seals this process's sealer anchored (its trail: `Ingest.trail`). */
  readonly seals: number;
}

export interface IngestHooks {
  /** Errors handled (a batch that failed and was handed back, a connection problem). */
  readonly onError?: (error: Error) => void;
  /** Before a batch is written (size) and after it was committed and acknowledged. */
  readonly onBatch?: (event: { phase: "writing" | "acked"; messages: number; written: number }) => void;
  /** After a sweep that found messages at or below the consumer's ack floor (published again, then deleted). */
  readonly onSweep?: (event: { swept: number; ackFloor: number; firstSeq: number; messages: number }) => void;
}

const DeadLetterSchema = z.object({
  entry: AuditEntrySchema,
  error: z.string(),
  attempts: z.number(),
  failedAt: z.string(),
});

export const REJECTED_FILE = "rejected-messages.ndjson";

export class Ingest {
  private readonly buffer: JsMsg[] = [];
  private readonly processing = new Set<JsMsg>();
  private readonly chain = new ChainStream();
  private readonly abort = new AbortController();
  private readonly decoder = new TextDecoder();
  private readonly policy: RetryPolicy;
  private wake: (() => void) | undefined;
  private stopping = false;
  private messages: ConsumerMessages | undefined;
  private loop: Promise<void> = Promise.resolve();
  private heartbeat: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweepRetry: NodeJS.Timeout | undefined;
  /** The sweep running now (one at a time), and whether another was asked for meanwhile. */
  private sweeping: Promise<void> | undefined;
  private sweepAgain = false;
  private jsm: JetStreamManager | undefined;
  private counters = {
    written: 0,
    alreadyStored: 0,
    deadLettered: 0,
    rejected: 0,
    redelivered: 0,
    swept: 0,
    retries: 0,
    batches: 0,
  };

  private constructor(
    readonly config: ResolvedIngestConfig,
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly sink: AuditSink,
    private readonly sealing: OpenedSealer,
    private readonly hooks: IngestHooks,
  ) {
    this.policy = retryPolicy(config);
  }

  /**
   * Opens this process's sealer (a bad key or a trail another running process seals fail here),
   * connects (retrying until the cluster answers), creates or updates the stream and consumer,
   * starts consuming. `wrapSink` wraps the database sink (tests play a second process with it).
   */
  static async start(
    input: IngestConfig,
    hooks: IngestHooks = {},
    wrapSink: (sink: AuditSink) => AuditSink = (sink) => sink,
  ): Promise<Ingest> {
    const config = parseIngestConfig(input);
    const policy = retryPolicy(config);
    const retryAll: WriteControl = { onRetry: (_attempt, _delay, error) => hooks.onError?.(asError(error)) };
    const sealing = await openIngestSealing(config.seal, config.databaseUrl, (error) => hooks.onError?.(error));
    let nc: NatsConnection;
    try {
      nc = await retryRetryable(() => connectNats(config.servers, config.name).catch(asRetryable), policy, retryAll);
    } catch (error) {
      await sealing.sealer.close();
      throw error;
    }
    const ingest = new Ingest(config, nc, jetstream(nc), wrapSink(createSink({ url: config.databaseUrl })), sealing, hooks);
    await ingest.subscribe(retryAll);
    ingest.loop = ingest.run();
    // Keep every delivered, unacknowledged message in progress while this process holds it.
    ingest.heartbeat = setInterval(() => ingest.keepWorking(), Math.max(250, Math.floor(config.consumer.ackWaitMs / 3)));
    if (config.sweepEveryMs > 0) {
      // Once at start too: a previous run may have ended with such messages left behind.
      ingest.requestSweep();
      ingest.sweepTimer = setInterval(() => ingest.requestSweep(), config.sweepEveryMs);
      void ingest.watchConnection();
    }
    return ingest;
  }

  stats(): IngestStats {
    return { ...this.counters, seals: this.sealing.sealer.stats().seals };
  }

  /** The trail this process seals (the anchor folder's sub-folder). */
  get trail(): string {
    return this.sealing.trail;
  }

  /** The development key's file when no signing key was configured (worth a warning). */
  get developmentKey(): string | undefined {
    return this.sealing.developmentKey;
  }

  /** Seals now what was written since the last seal (the timer does so every seal.sealEveryMs). */
  seal(): Promise<void> {
    return this.sealing.sealer.seal().then(() => undefined);
  }

  /**
   * Stops: no new deliveries; the batch being written gets closeDeadlineMs to commit (then it is
   * abandoned); what is held and not committed is handed back (nak) for another process; then
   * what was committed is sealed (the sealer's close).
   */
  async stop(): Promise<IngestStats> {
    if (!this.stopping) {
      this.stopping = true;
      await this.messages?.close().catch(() => undefined);
      this.wake?.();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.loop, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.config.closeDeadlineMs)))]);
      clearTimeout(timer);
      this.abort.abort();
      await this.loop;
      clearInterval(this.heartbeat);
      clearInterval(this.sweepTimer);
      clearTimeout(this.sweepRetry);
      await this.sweeping;
      for (const m of this.buffer.splice(0)) m.nak();
      await this.nc.drain().catch(() => this.nc.close());
      await this.sealing.sealer.close();
      await this.sink.close();
    }
    return this.stats();
  }

  /** Creates or updates the stream and consumer and starts consuming, retrying until the cluster lets it. */
  private subscribe(control: WriteControl): Promise<void> {
    return retryRetryable(
      async () => {
        await setUp(this.nc, this.config);
        await this.consume().catch(asRetryable);
      },
      this.policy,
      control,
    );
  }

  private async consume(): Promise<void> {
    const consumer = await this.js.consumers.get(this.config.stream.name, this.config.consumer.durable);
    const previous = this.messages;
    // Deliveries are buffered here while a batch is written; one pull asks for one batch, so a
    // process holds little more than what it writes next and the rest stays for the others.
    this.messages = await consumer.consume({
      max_messages: this.config.batchSize,
      expires: this.config.pullExpiresMs,
      callback: (m) => {
        this.buffer.push(m);
        // The first message ends an idle wait; a full batch ends the wait for more.
        if (this.buffer.length === 1 || this.buffer.length >= this.config.batchSize) this.wake?.();
      },
    });
    if (previous) await previous.close().catch(() => undefined);
    void this.watch(this.messages);
  }

  /**
   * The pull loop survives reconnects and moved leaders by itself; a consumer or stream that is
   * gone (deleted, or lost by the cluster) is created again and consumed anew. Unacknowledged
   * entries are still in the work-queue stream, so the new consumer delivers them.
   */
  private async watch(messages: ConsumerMessages): Promise<void> {
    for await (const status of messages.status()) {
      if (this.stopping || messages !== this.messages) return;
      // The pull heard nothing from the cluster: once it answers again, look for what it left behind.
      if (status.type === "heartbeats_missed") this.requestSweep();
      if (status.type !== "consumer_not_found" && status.type !== "consumer_deleted" && status.type !== "stream_not_found") continue;
      this.hooks.onError?.(new Error(`JetStream ${status.type.replaceAll("_", " ")}: creating the stream and consumer again`));
      try {
        await this.subscribe({ signal: this.abort.signal });
      } catch (error) {
        if (!this.stopping) this.hooks.onError?.(asError(error));
      }
      return;
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      if (this.buffer.length === 0) await this.waitForMessages(undefined);
      else if (this.buffer.length < this.config.batchSize) await this.waitForMessages(this.config.maxBatchWaitMs);
      if (this.stopping || this.buffer.length === 0) continue;
      const batch = this.buffer.splice(0, this.config.batchSize);
      for (const m of batch) this.processing.add(m);
      try {
        await this.handle(batch);
      } catch (error) {
        // Not committed: hand the batch back. A stop redelivers at once, anything else after a pause.
        for (const m of batch) m.nak(this.stopping ? 0 : this.config.retry.maxDelayMs);
        if (!this.stopping) this.hooks.onError?.(asError(error));
      } finally {
        for (const m of batch) this.processing.delete(m);
      }
    }
  }

  /** Resolves on the next wake (a first message, a full batch, stop) or after `ms`. */
  private waitForMessages(ms: number | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.wake = undefined;
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  private async handle(batch: readonly JsMsg[]): Promise<void> {
    const control = { signal: this.abort.signal, onRetry: () => this.counters.retries++ };
    const entries = new Map<string, AuditEntry>();
    const letters: DeadLetter[] = [];
    const rejected: { seq: number; subject: string; error: string; payload: string }[] = [];
    let entryMessages = 0;
    for (const m of batch) {
      if (m.redelivered) this.counters.redelivered++;
      const text = this.decoder.decode(m.data);
      const schema = m.subject === this.config.stream.subjects.deadLetters ? DeadLetterSchema : AuditEntrySchema;
      const parsed = safeJson(text, schema);
      if (!parsed.ok) rejected.push({ seq: m.seq, subject: m.subject, error: parsed.error, payload: text });
      else if ("entry" in parsed.value) letters.push(parsed.value);
      else {
        entryMessages++;
        if (!entries.has(parsed.value.id)) entries.set(parsed.value.id, parsed.value);
      }
    }
    this.hooks.onBatch?.({ phase: "writing", messages: batch.length, written: this.counters.written });

    const ids = [...entries.keys()];
    const stored =
      ids.length > 0 && this.sink.existing
        ? await retryRetryable(() => (this.sink.existing as NonNullable<AuditSink["existing"]>).call(this.sink, ids), this.policy, control)
        : new Set<string>();
    const fresh = [...entries.values()].filter((e) => !stored.has(e.id));
    // Another process may hold the same messages (redelivered after the ack wait while this one
    // still writes them) and store them between existing() and this write: linkAndWrite then takes
    // back this batch's links and writes the rest, so this stream keeps no seq without a row.
    const outcome = await linkAndWrite(this.sink, this.chain, fresh, this.policy, control);
    const unstored = await keepDeadLetters(this.sink, [...outcome.deadLetters, ...letters], this.policy, control);
    if (unstored.length > 0) await appendDeadLetterFile(this.config.deadLetterDir, unstored);
    // Committed (rows and dead letters alike keep their places): the sealer signs them at its next seal.
    if (fresh.length > outcome.storedElsewhere.size) this.sealing.sealer.report(this.chain.report());
    if (rejected.length > 0) {
      await mkdir(this.config.deadLetterDir, { recursive: true });
      await appendFile(join(this.config.deadLetterDir, REJECTED_FILE), rejected.map((r) => `${JSON.stringify(r)}\n`).join(""));
    }

    for (const m of batch) {
      // No reason text: nats-server before 2.10.4 ignores a "+TERM <reason>" and redelivers.
      if (rejected.some((r) => r.seq === m.seq)) m.term();
      else m.ack();
    }
    this.counters.written += outcome.written;
    // Stored before (or by another process meanwhile), or the same entry twice in this batch (published again after the duplicate window).
    this.counters.alreadyStored += stored.size + outcome.storedElsewhere.size + (entryMessages - entries.size);
    this.counters.deadLettered += outcome.deadLetters.length + letters.length;
    this.counters.rejected += rejected.length;
    this.counters.batches++;
    this.hooks.onBatch?.({ phase: "acked", messages: batch.length, written: this.counters.written });
  }

  private requestSweep(): void {
    if (this.stopping) return;
    if (this.sweeping) {
      this.sweepAgain = true;
      return;
    }
    this.sweeping = this.sweep()
      .catch((error: unknown) => {
        // Not finished (the cluster not answering yet): try again after a pause.
        if (this.stopping) return;
        this.hooks.onError?.(asError(error));
        clearTimeout(this.sweepRetry);
        this.sweepRetry = setTimeout(() => this.requestSweep(), this.config.retry.maxDelayMs);
      })
      .finally(() => {
        this.sweeping = undefined;
        if (this.sweepAgain) {
          this.sweepAgain = false;
          this.requestSweep();
        }
      });
  }

  /** A reconnect: the cluster was unreachable for this process, so look for what it left behind. */
  private async watchConnection(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === "reconnect") this.requestSweep();
    }
  }

  /**
   * Finds the messages the stream holds at or below the consumer's ack floor, by sequence, and
   * publishes each again before deleting it. Everything at or below the ack floor was
   * acknowledged (after its commit), terminated (rejected, kept in its file) or given up after
   * consumer.maxDeliver deliveries, so such a message was handled already or will never be
   * delivered: its copy is, and ingest stores it unless its id is stored already. The copy's
   * message id names the original's sequence, so two processes sweeping the same message at once
   * publish one copy (the stream's duplicate window); a process that dies between publishing and
   * deleting leaves the original for the next sweep, which publishes it again, and the copy's id
   * is skipped as stored. Nothing is linked or written here: the copies take the one path every
   * delivery takes.
   */
  private async sweep(): Promise<void> {
    this.jsm ??= await jetstreamManager(this.nc);
    const jsm = this.jsm;
    const { name } = this.config.stream;
    const consumer = await jsm.consumers.info(name, this.config.consumer.durable);
    const ackFloor = consumer.ack_floor.stream_seq;
    const { state } = await jsm.streams.info(name);
    if (state.messages === 0 || state.first_seq > ackFloor) return;
    let swept = 0;
    let seq = state.first_seq;
    while (!this.stopping && seq <= ackFloor) {
      // The first message at or after seq (nats-server answers next_by_subj since 2.9; the client types omit it).
      const query: MsgRequest = Object.assign({ seq }, { next_by_subj: ">" });
      const m: StoredMsg | null = await jsm.streams.getMessage(name, query);
      if (m === null || m.seq > ackFloor) break;
      await this.js.publish(m.subject, m.data, { msgID: `swept-${name}-${m.seq}` });
      await deleteIfPresent(jsm, name, m.seq);
      swept++;
      this.counters.swept++;
      seq = m.seq + 1;
    }
    if (swept > 0) this.hooks.onSweep?.({ swept, ackFloor, firstSeq: state.first_seq, messages: state.messages });
  }

  private keepWorking(): void {
    for (const m of this.processing) m.working();
    for (const m of this.buffer) m.working();
  }
}

/** Deletes message `seq`; one already gone (swept by another process meanwhile) is fine. */
async function deleteIfPresent(jsm: JetStreamManager, stream: string, seq: number): Promise<void> {
  try {
    await jsm.streams.deleteMessage(stream, seq, false);
  } catch (error) {
    if ((await jsm.streams.getMessage(stream, { seq })) !== null) throw error;
  }
}

/** Retryable errors are retried until they pass: the entries wait in the stream meanwhile. */
function retryPolicy(config: ResolvedIngestConfig): RetryPolicy {
  return { ...config.retry, maxAttempts: Number.POSITIVE_INFINITY };
}

function safeJson<S extends z.ZodType>(text: string, schema: S): { ok: true; value: z.output<S> } | { ok: false; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, error: `not JSON: ${messageOf(error)}` };
  }
  const parsed = schema.safeParse(value);
  return parsed.success
    ? { ok: true, value: parsed.data }
    : { ok: false, error: formatIssues(parsed.error.issues, "(message)").join("; ") };
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(messageOf(error));
}

/**
 * Creates or updates the stream and consumer. Any failure is retryable: right after a leader
 * change or a restart the cluster answers "JetStream system temporarily unavailable" for a while.
 */
function setUp(nc: NatsConnection, config: ResolvedIngestConfig): Promise<void> {
  return jetstreamManager(nc)
    .then((jsm) => ensureAuditStream(jsm, config.stream, config.consumer))
    .catch(asRetryable);
}

/** Connecting to the cluster or setting up the stream: always worth another try. */
function asRetryable(error: unknown): never {
  throw Object.assign(new Error(`JetStream not ready: ${messageOf(error)}`, { cause: error }), { code: "ECONNREFUSED" });
}
