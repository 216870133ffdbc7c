/**
 * Step 3b, the worker entry (built to dist/writer/worker.js; tinypool loads it in each thread).
 * Each worker builds its own sink once from the serialisable spec, then writes the batches it is
 * given: retrying, isolating poison, keeping dead letters. Only plain data comes in and goes out.
 */
import Tinypool from "tinypool";
import type { AuditEntry } from "../event.ts";
import { type AuditSink, type DeadLetter, type SinkSpec, loadSink } from "../sink.ts";
import { keepDeadLetters } from "./dead-letter.ts";
import { type RetryPolicy, writeWithRetry } from "./retry.ts";

export interface WorkerData {
  readonly sink: SinkSpec;
  readonly policy: RetryPolicy;
}

export interface BatchResult {
  readonly written: number;
  readonly retries: number;
  readonly deadLettered: number;
  /** Dead letters the sink could not store; the main thread keeps them in a file. */
  readonly unstored: DeadLetter[];
}

const { sink: spec, policy } = Tinypool.workerData as WorkerData;
let sink: Promise<AuditSink> | undefined;

export default async function writeBatch(entries: AuditEntry[]): Promise<BatchResult> {
  sink ??= loadSink(spec).catch((error: unknown) => {
    sink = undefined;
    throw error;
  });
  const target = await sink;
  const outcome = await writeWithRetry(target, entries, policy);
  const unstored = await keepDeadLetters(target, outcome.deadLetters, policy);
  return { written: outcome.written, retries: outcome.retries, deadLettered: outcome.deadLetters.length, unstored };
}
