/**
 * Step 6, shutdown: drain within a deadline, then spill what is left to the spool so the next
 * writer replays it; report the final accounting. Also the SIGTERM/SIGINT helper for apps.
 */
import type { AuditWriter, CloseReport } from "../writer-contract.ts";

/**
 * What close() may take past its deadline: spilling (one write and fsync), then up to
 * CLOSE_STOP_WAIT_MS for workers to stop by themselves (the stop flag ends their backoff and
 * abandons the attempt in progress), then up to CLOSE_DESTROY_WAIT_MS for terminated threads to
 * go. Whatever the workers and the sink do, close() returns by the deadline + CLOSE_MARGIN_MS.
 * Terminating is the last resort, and it has a cost: a thread terminated inside a native call
 * (better-sqlite3 waiting out a lock longer than CLOSE_STOP_WAIT_MS) aborts the process. By then
 * every entry is on disk, so nothing is lost; such waits (sqliteBusyTimeoutMs, 250 ms by
 * default in worker threads) stay under 1 s so that it does not come to that.
 */
export const CLOSE_STOP_WAIT_MS = 1_000;
export const CLOSE_DESTROY_WAIT_MS = 500;
export const CLOSE_MARGIN_MS = 2_000;

export interface DrainTarget {
  /** Resolves when everything accepted so far is written (may never, if the database is down). */
  flush(): Promise<void>;
  /** Past the deadline: stop the workers and spill every entry not yet acknowledged. */
  spillRemaining(): Promise<void>;
  /** Releases workers, connections and files. */
  release(): Promise<void>;
}

/** Flushes until `deadlineMs`; if not drained by then, spills the rest. True when it drained. */
export async function drainOrSpill(target: DrainTarget, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), deadlineMs);
  });
  const drained = await Promise.race([target.flush().then(() => true as const), deadline]);
  clearTimeout(timer);
  try {
    if (!drained) await target.spillRemaining();
  } finally {
    await target.release(); // workers and files go even if spilling failed: nothing keeps the process alive
  }
  return drained;
}

export interface SignalOptions {
  readonly signals?: readonly NodeJS.Signals[];
  /** Passed to close(); defaults to the writer's closeDeadlineMs. */
  readonly deadlineMs?: number;
  /** Called with the report before the process exits (e.g. to log it). */
  readonly onClosed?: (report: CloseReport, signal: NodeJS.Signals) => void;
  /** Exit the process after closing (default true; the exit code is 0). */
  readonly exit?: boolean;
}

/**
 * On SIGTERM/SIGINT (by default), closes the writer within its deadline, then exits. Returns a
 * function that removes the handlers. Apps with their own shutdown sequence call close() instead.
 */
export function closeOnSignals(writer: AuditWriter, options: SignalOptions = {}): () => void {
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const handler = (signal: NodeJS.Signals) => {
    remove();
    const closing = options.deadlineMs === undefined ? writer.close() : writer.close({ deadlineMs: options.deadlineMs });
    void closing.then(
      (report) => {
        options.onClosed?.(report, signal);
        if (options.exit ?? true) process.exit(0);
      },
      (error: unknown) => {
        console.error("auditrail: closing the audit writer failed", error);
        if (options.exit ?? true) process.exit(1);
      },
    );
  };
  const remove = () => {
    for (const s of signals) process.off(s, handler);
  };
  for (const s of signals) process.on(s, handler);
  return remove;
}

/** Resolves once every promise settled, or after `ms`, whichever comes first. */
export async function settledWithin(promises: readonly Promise<unknown>[], ms: number): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}
