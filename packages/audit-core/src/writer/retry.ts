/**
 * Step 4, write with retry: what to do when the sink throws.
 * - retryable (connection refused/reset, timeouts, SQLITE_BUSY/LOCKED, serialization failures,
 *   deadlocks): wait — exponential backoff with full jitter, capped — and write the same rows again.
 * - poison (constraint or data errors): the batch is split in halves until the offending entries
 *   stand alone; each is dead-lettered with its error, every other entry is written.
 * - unknown errors are retried until the chunk's `unknownErrorAttempts`-th attempt, then treated as poison, so a bug can
 *   neither block the writer forever nor lose an entry (dead letters are kept and replayable).
 * - EntriesStoredElsewhereError (entries another stream stored meanwhile; the sink stored nothing
 *   of the chunk) is neither: retrying the same links fails forever and dead-lettering a stored
 *   entry is wrong, so it goes straight to the caller, which links the rest again (./link-write.ts).
 */
import { AuditWriteError, EntriesStoredElsewhereError, WriteStoppedError, WriteTimeoutError, messageOf } from "../errors.ts";
import type { AuditEntry } from "../event.ts";
import type { AuditSink, DeadLetter, ErrorKind } from "../sink.ts";

export interface RetryPolicy {
  readonly initialDelayMs: number;
  readonly maxDelayMs: number;
  readonly multiplier: number;
  /** Attempts per chunk before giving up with AuditWriteError; Infinity = until written. */
  readonly maxAttempts: number;
  readonly unknownErrorAttempts: number;
  /** An attempt that takes longer fails with a retryable WriteTimeoutError. */
  readonly writeTimeoutMs: number;
}

/** Full jitter: a uniform delay in [0, min(cap, initial × multiplier^(attempt−1))]. */
export function backoffDelay(attempt: number, policy: RetryPolicy, random = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1));
  return Math.round(random() * ceiling);
}

const RETRYABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ENOTCONN",
  "ERR_AUDIT_WRITE_TIMEOUT",
  // PostgreSQL SQLSTATE: serialization failure, deadlock, lock not available, query cancelled
  // (statement timeout), admin shutdown, crash shutdown, cannot connect now, too many connections.
  "40001",
  "40P01",
  "55P03",
  "57014",
  "57P01",
  "57P02",
  "57P03",
  "53300",
]);
const RETRYABLE_PREFIXES = ["SQLITE_BUSY", "SQLITE_LOCKED", "08", "53"];
const POISON_PREFIXES = ["SQLITE_CONSTRAINT", "SQLITE_TOOBIG", "SQLITE_MISMATCH", "SQLITE_RANGE", "22", "23"];
const POISON_CODES = new Set(["ERR_AUDIT_INVALID_EVENT"]);
const CONNECTION_MESSAGES =
  /connection terminated|connection refused|timeout exceeded when trying to connect|database is locked|server closed the connection/i;

/**
 * Reads the `code` along an error's cause chain: Node's network codes, PostgreSQL's SQLSTATE and
 * SQLite's result codes, what the drivers the sinks use (pg, better-sqlite3) throw. A sink whose
 * driver speaks other codes (an ORM's, a broker's) says so in its own `classify`, asked first.
 */
export function classifyError(error: unknown, sink?: Pick<AuditSink, "classify">): ErrorKind | undefined {
  const own = sink?.classify?.(error);
  if (own) return own;
  for (let e: unknown = error, depth = 0; e && depth < 6; depth++) {
    if (typeof e !== "object") break;
    const record = e as { code?: unknown; cause?: unknown; message?: unknown };
    const code = record.code;
    if (typeof code === "string") {
      if (RETRYABLE_CODES.has(code) || RETRYABLE_PREFIXES.some((p) => code.startsWith(p))) {
        return "retryable";
      }
      if (POISON_CODES.has(code) || (code.length > 0 && POISON_PREFIXES.some((p) => code.startsWith(p)))) {
        return "poison";
      }
    }
    if (typeof record.message === "string" && CONNECTION_MESSAGES.test(record.message)) return "retryable";
    e = record.cause;
  }
  return undefined;
}

export interface WriteOutcome {
  written: number;
  retries: number;
  deadLetters: DeadLetter[];
}

export interface WriteControl {
  /**
   * Once aborted, the attempt in progress is abandoned (it fails with WriteStoppedError, never
   * classified: a stop is not poison), the backoff sleep ends, and the write gives up.
   */
  readonly signal?: AbortSignal;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly onRetry?: (attempt: number, delayMs: number, error: unknown) => void;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * Writes `entries`, retrying and isolating poison as described above. Resolves once every entry
 * is either written or in `deadLetters`; rejects with AuditWriteError after `maxAttempts`, and
 * with the sink's EntriesStoredElsewhereError as it is. Chunks are written in order, so when that
 * error comes, what was committed before it is a prefix of `entries` ahead of every id it names.
 */
export async function writeWithRetry(
  sink: AuditSink,
  entries: readonly AuditEntry[],
  policy: RetryPolicy,
  control: WriteControl = {},
): Promise<WriteOutcome> {
  const outcome: WriteOutcome = { written: 0, retries: 0, deadLetters: [] };
  const sleep = control.sleep ?? ((ms: number) => defaultSleep(ms, control.signal));

  async function writeChunk(chunk: readonly AuditEntry[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      // Stopping: no new attempt (one may block its thread, as a native busy wait does).
      if (control.signal?.aborted) throw new AuditWriteError(attempt - 1, new WriteStoppedError());
      try {
        await withTimeout(sink.write(chunk), policy.writeTimeoutMs, control.signal);
        outcome.written += chunk.length;
        return;
      } catch (error) {
        if (control.signal?.aborted) throw new AuditWriteError(attempt, error);
        if (error instanceof EntriesStoredElsewhereError) throw error;
        const kind = classifyError(error, sink) ?? (attempt >= policy.unknownErrorAttempts ? "poison" : "retryable");
        if (kind === "poison") {
          if (chunk.length === 1) {
            outcome.deadLetters.push({
              entry: chunk[0] as AuditEntry,
              error: messageOf(error),
              attempts: attempt,
              failedAt: new Date().toISOString(),
            });
            return;
          }
          const mid = Math.ceil(chunk.length / 2);
          await writeChunk(chunk.slice(0, mid));
          await writeChunk(chunk.slice(mid));
          return;
        }
        if (attempt >= policy.maxAttempts) throw new AuditWriteError(attempt, error);
        outcome.retries++;
        const delay = backoffDelay(attempt, policy);
        control.onRetry?.(attempt, delay, error);
        await sleep(delay);
      }
    }
  }

  await writeChunk(entries);
  return outcome;
}

/** Retries `fn` while its errors are retryable (dead letters themselves must not be lost). */
export async function retryRetryable<T>(fn: () => Promise<T>, policy: RetryPolicy, control: WriteControl = {}): Promise<T> {
  const sleep = control.sleep ?? ((ms: number) => defaultSleep(ms, control.signal));
  for (let attempt = 1; ; attempt++) {
    if (control.signal?.aborted) throw new WriteStoppedError();
    try {
      return await withTimeout(fn(), policy.writeTimeoutMs, control.signal);
    } catch (error) {
      if (control.signal?.aborted || classifyError(error) !== "retryable" || attempt >= policy.maxAttempts) {
        throw error;
      }
      await sleep(backoffDelay(attempt, policy));
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new WriteTimeoutError(ms)), ms);
    if (!signal) return;
    onAbort = () => reject(new WriteStoppedError());
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
  });
  return Promise.race([promise, timeout]).finally(() => {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  });
}
