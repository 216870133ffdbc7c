/**
 * Step 3a, the pool: tinypool worker threads, each owning a sink. A batch goes to a free worker
 * as plain data (structured clone) and comes back as a BatchResult. The worker entry is the built
 * file dist/writer/worker.js (Node 20 workers cannot load TypeScript); the path below resolves to
 * it from src/writer (tests) and from dist/writer alike.
 */
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import Tinypool from "tinypool";
import { WorkerEntryMissingError, messageOf } from "../errors.ts";
import type { SinkSpec } from "../sink.ts";
import type { RetryPolicy } from "./retry.ts";
import type { WarmAnswer, WarmTask, WorkerAnswer, WorkerData, WriteTask } from "./worker.ts";

const WORKER_ENTRY = fileURLToPath(new URL("../../dist/writer/worker.js", import.meta.url));

export class WorkerPool {
  private readonly pool: Tinypool;
  /** Set to 1 (and notified) to stop: shared memory, seen even by a worker that starts after the request. */
  private readonly stopFlag = new Int32Array(new SharedArrayBuffer(4));

  constructor(
    sink: SinkSpec,
    policy: RetryPolicy,
    private readonly threads: number,
  ) {
    if (!existsSync(WORKER_ENTRY)) throw new WorkerEntryMissingError(WORKER_ENTRY);
    const workerData: WorkerData = { sink, policy, stopFlag: this.stopFlag };
    this.pool = new Tinypool({
      filename: WORKER_ENTRY,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: Number.POSITIVE_INFINITY,
      // A worker holds one batch at a time: a small heap makes V8 collect early instead of
      // growing each thread's heap under a flood (halves the process RSS growth measured by the
      // bench's memory case). A worker that ran out would be replaced and its batch retried.
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 96 },
      workerData,
    });
  }

  /**
   * Writes one batch in a worker; aborting `signal` terminates that worker (used past a
   * deadline). Rejects only when the thread died (the worker answers its own failures).
   */
  run(task: WriteTask, signal: AbortSignal): Promise<WorkerAnswer> {
    return this.pool.run(task, { signal }) as Promise<WorkerAnswer>;
  }

  /**
   * Has every worker load its sink now (one warm task each: a worker runs one task at a time, so
   * `threads` concurrent tasks reach `threads` workers). Never rejects: a worker that could not
   * build its sink (or died) answers `failed`, and tries again on its first batch.
   */
  warm(): Promise<WarmAnswer[]> {
    const task: WarmTask = { warm: true };
    return Promise.all(
      Array.from({ length: this.threads }, () =>
        (this.pool.run(task) as Promise<WarmAnswer>).catch((error: unknown): WarmAnswer => ({ failed: messageOf(error) })),
      ),
    );
  }

  /** Tells every worker to abandon its write in progress and not retry: their runs then reject. */
  stop(): void {
    Atomics.store(this.stopFlag, 0, 1);
    Atomics.notify(this.stopFlag, 0);
  }

  destroy(): Promise<void> {
    return this.pool.destroy();
  }
}
