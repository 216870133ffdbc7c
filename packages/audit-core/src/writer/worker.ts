/**
 * Step 3b, the worker entry (built to dist/writer/worker.js; tinypool loads it in each thread).
 * Each worker builds its own sink once from the serialisable spec, then writes the batches it is
 * given: retrying, isolating poison, keeping dead letters. Only plain data comes in and goes out.
 */
import Tinypool from "tinypool";
import { ChainStream, type StreamReport } from "../chain.ts";
import { messageOf } from "../errors.ts";
import type { AuditEntry } from "../event.ts";
import { type AuditSink, type DeadLetter, type SinkSpec, loadSink } from "../sink.ts";
import { keepDeadLetters } from "./dead-letter.ts";
import { linkAndWrite } from "./link-write.ts";
import { type RetryPolicy, retryRetryable, writeWithRetry } from "./retry.ts";

export interface WorkerData {
  readonly sink: SinkSpec;
  readonly policy: RetryPolicy;
  /** Set to 1 by the writer when its workers must stop (close past its deadline). */
  readonly stopFlag?: Int32Array;
}

export interface WriteTask {
  readonly entries: AuditEntry[];
  /** Some entries may be stored already (they come from the spool, or are retried): check first. */
  readonly mayExist: boolean;
  /** Dead letters decided in the main thread (an entry that killed workers): keep them too. */
  readonly letters?: DeadLetter[];
}

/**
 * Sent to each worker once at start: import the sink's module and build the sink (no database
 * call), so the first batch does not pay for loading modules (~150 ms a worker on a loaded 2-core
 * machine, measured with --cpu-prof).
 */
export interface WarmTask {
  readonly warm: true;
}

export type WarmAnswer = { readonly warmed: true } | { readonly failed: string };

/**
 * What a worker answers. It never throws: a failure it saw itself (the sink could not be built,
 * the write was stopped) comes back as `failed`, so a rejected run always means the thread died.
 */
export type WorkerAnswer = BatchResult | { readonly failed: string };

export interface BatchResult {
  readonly written: number;
  readonly retries: number;
  readonly deadLettered: number;
  /** Dead letters the sink could not store; the main thread keeps them in a file. */
  readonly unstored: DeadLetter[];
  /** This worker's stream after the batch (Merkle log state and new leaves), for the sealer; none for a transport (AuditSink.forwards). */
  readonly stream: StreamReport | undefined;
}

const { sink: spec, policy, stopFlag } = Tinypool.workerData as WorkerData;
let sink: Promise<AuditSink> | undefined;
/** This worker's hash chain: every entry it writes gets the next link (see ../chain.ts). */
const stream = new ChainStream();

// Stopping: the write in progress is abandoned and not retried, so the worker goes idle by itself
// and can be terminated safely (terminating a thread inside a native call, e.g. better-sqlite3
// waiting out a lock, aborts the whole process). The writer has spilled these entries already.
const stop = new AbortController();
if (stopFlag) {
  // Waited on in shared memory, not messaged nor polled: answers at once when the flag is set
  // already (a worker that starts after the request), and costs no timer wake-ups meanwhile.
  const waited = Atomics.waitAsync(stopFlag, 0, 0);
  if (waited.async) void waited.value.then(() => stop.abort());
  else stop.abort();
}

export default function writeBatch(task: WriteTask): Promise<WorkerAnswer>;
export default function writeBatch(task: WarmTask): Promise<WarmAnswer>;
export default async function writeBatch(task: WriteTask | WarmTask): Promise<WorkerAnswer | WarmAnswer> {
  try {
    if ("warm" in task) {
      await loadedSink();
      return { warmed: true };
    }
    return await write(task);
  } catch (error) {
    return { failed: messageOf(error) };
  }
}

/** This worker's sink, built on first use (or by a warm task at start). */
function loadedSink(): Promise<AuditSink> {
  sink ??= loadSink(spec).catch((error: unknown) => {
    sink = undefined;
    throw error;
  });
  return sink;
}

async function write({ entries, mayExist, letters = [] }: WriteTask): Promise<BatchResult> {
  const target = await loadedSink();
  const control = { signal: stop.signal };
  const stored = mayExist && target.existing ? await retryRetryable(() => existingIds(target, entries), policy, control) : undefined;
  const fresh = stored && stored.size > 0 ? entries.filter((e) => !stored.has(e.id)) : entries;
  // A requeued or replayed batch can meet an entry another stream stored meanwhile: a worker that
  // died or a process that stopped may have sent a commit the server finishes after this
  // batch's existing() ran. linkAndWrite takes back the links and writes the rest (./link-write.ts).
  const outcome = target.forwards
    ? { ...(await writeWithRetry(target, fresh, policy, control)), storedElsewhere: new Set<string>() }
    : await linkAndWrite(target, stream, fresh, policy, control);
  const unstored = await keepDeadLetters(target, [...letters, ...outcome.deadLetters], policy, control);
  return {
    written: outcome.written + (entries.length - fresh.length) + outcome.storedElsewhere.size,
    retries: outcome.retries,
    deadLettered: outcome.deadLetters.length + letters.length,
    unstored,
    stream: target.forwards ? undefined : stream.report(),
  };
}

function existingIds(target: AuditSink, entries: readonly AuditEntry[]): Promise<ReadonlySet<string>> {
  return (target.existing as NonNullable<AuditSink["existing"]>).call(
    target,
    entries.map((e) => e.id),
  );
}
