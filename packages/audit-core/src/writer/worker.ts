/**
 * Step 3b, the worker entry (built to dist/writer/worker.js; tinypool loads it in each thread).
 * Each worker builds its own sink once from the serialisable spec, then writes the batches it is
 * given: retrying, isolating poison, keeping dead letters. Only plain data comes in and goes out.
 */
import { BroadcastChannel } from "node:worker_threads";
import Tinypool from "tinypool";
import type { AuditEntry } from "../event.ts";
import { type AuditSink, type DeadLetter, type SinkSpec, loadSink } from "../sink.ts";
import { keepDeadLetters } from "./dead-letter.ts";
import { type RetryPolicy, writeWithRetry } from "./retry.ts";

export interface WorkerData {
  readonly sink: SinkSpec;
  readonly policy: RetryPolicy;
  /** BroadcastChannel on which the writer tells its workers to stop (close past its deadline). */
  readonly stopChannel?: string;
}

export interface BatchResult {
  readonly written: number;
  readonly retries: number;
  readonly deadLettered: number;
  /** Dead letters the sink could not store; the main thread keeps them in a file. */
  readonly unstored: DeadLetter[];
}

const { sink: spec, policy, stopChannel } = Tinypool.workerData as WorkerData;
let sink: Promise<AuditSink> | undefined;

// Stopping: the write in progress is abandoned and not retried, so the worker goes idle by itself
// and can be terminated safely (terminating a thread inside a native call, e.g. better-sqlite3
// waiting out a lock, aborts the whole process). The writer has spilled these entries already.
const stop = new AbortController();
if (stopChannel) {
  const channel = new BroadcastChannel(stopChannel);
  channel.onmessage = () => stop.abort();
  channel.unref();
}

export default async function writeBatch(entries: AuditEntry[]): Promise<BatchResult> {
  sink ??= loadSink(spec).catch((error: unknown) => {
    sink = undefined;
    throw error;
  });
  const target = await sink;
  const outcome = await writeWithRetry(target, entries, policy, { signal: stop.signal });
  const unstored = await keepDeadLetters(target, outcome.deadLetters, policy, { signal: stop.signal });
  return { written: outcome.written, retries: outcome.retries, deadLettered: outcome.deadLetters.length, unstored };
}
