/**
 * Step 3b, the worker entry (built to dist/writer/worker.js; tinypool loads it in each thread).
 * Each worker builds its own sink once from the serialisable spec, then writes the batches it is
 * given: retrying, isolating poison, keeping dead letters. Only plain data comes in and goes out.
 */
import { BroadcastChannel } from "node:worker_threads";
import Tinypool from "tinypool";
import { ChainStream } from "../chain.ts";
import type { AuditEntry } from "../event.ts";
import { type AuditSink, type DeadLetter, type SinkSpec, loadSink } from "../sink.ts";
import { keepDeadLetters } from "./dead-letter.ts";
import { type RetryPolicy, retryRetryable, writeWithRetry } from "./retry.ts";

export interface WorkerData {
  readonly sink: SinkSpec;
  readonly policy: RetryPolicy;
  /** BroadcastChannel on which the writer tells its workers to stop (close past its deadline). */
  readonly stopChannel?: string;
}

export interface WriteTask {
  readonly entries: AuditEntry[];
  /** Some entries may be stored already (they come from the spool, or are retried): check first. */
  readonly mayExist: boolean;
}

export interface BatchResult {
  readonly written: number;
  readonly retries: number;
  readonly deadLettered: number;
  /** Dead letters the sink could not store; the main thread keeps them in a file. */
  readonly unstored: DeadLetter[];
  /** This worker's chain head after the batch, for checkpoints. */
  readonly head: { streamId: string; seq: number; hash: string } | undefined;
}

const { sink: spec, policy, stopChannel } = Tinypool.workerData as WorkerData;
let sink: Promise<AuditSink> | undefined;
/** This worker's hash chain: every entry it writes gets the next link (see ../chain.ts). */
const stream = new ChainStream();

// Stopping: the write in progress is abandoned and not retried, so the worker goes idle by itself
// and can be terminated safely (terminating a thread inside a native call, e.g. better-sqlite3
// waiting out a lock, aborts the whole process). The writer has spilled these entries already.
const stop = new AbortController();
if (stopChannel) {
  const channel = new BroadcastChannel(stopChannel);
  channel.onmessage = () => stop.abort();
  channel.unref();
}

export default async function writeBatch({ entries, mayExist }: WriteTask): Promise<BatchResult> {
  sink ??= loadSink(spec).catch((error: unknown) => {
    sink = undefined;
    throw error;
  });
  const target = await sink;
  const control = { signal: stop.signal };
  const stored = mayExist && target.existing ? await retryRetryable(() => existingIds(target, entries), policy, control) : undefined;
  const fresh = stored && stored.size > 0 ? entries.filter((e) => !stored.has(e.id)) : entries;
  const outcome = await writeWithRetry(target, target.forwards ? fresh : stream.link(fresh), policy, control);
  const unstored = await keepDeadLetters(target, outcome.deadLetters, policy, control);
  const head = target.forwards ? undefined : stream.head;
  return {
    written: outcome.written + (entries.length - fresh.length),
    retries: outcome.retries,
    deadLettered: outcome.deadLetters.length,
    unstored,
    head: head && { streamId: stream.streamId, ...head },
  };
}

function existingIds(target: AuditSink, entries: readonly AuditEntry[]): Promise<ReadonlySet<string>> {
  return (target.existing as NonNullable<AuditSink["existing"]>).call(target, entries.map((e) => e.id));
}
