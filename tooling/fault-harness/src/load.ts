/**
 * Load: `concurrency` simulated callers, each recording one audit event at a time at a steady
 * pace, as request handlers would. A caller whose record() waits (the `block` overflow policy,
 * durable fsync, sync mode) waits; it does not catch up afterwards. Every resolved receipt is
 * kept (and reported), so a test knows exactly which entries the writer accepted.
 */
import type { AuditEvent, AuditReceipt, AuditWriter } from "@auditrail/audit-core";

export interface LoadOptions {
  /** Target entries per second over all callers. */
  readonly ratePerSec: number;
  /** Callers recording concurrently (default 8). */
  readonly concurrency?: number;
  /** The n-th event (default: a `patient.read` with entityId `load-<n>`). */
  readonly event?: (n: number) => AuditEvent;
  /** Called once per resolved record(). */
  readonly onRecorded?: (receipt: AuditReceipt, n: number) => void;
  /** Called once per rejected record() (e.g. after close, or a failed fsync). */
  readonly onRejected?: (error: unknown, n: number) => void;
}

export interface LoadResult {
  /** Receipts of every record() that resolved, in resolution order. */
  readonly receipts: readonly AuditReceipt[];
  /** Events whose record() rejected. */
  readonly rejected: number;
  /** Receipts by state (queued, spilled, spooled, written, dropped). */
  readonly states: Readonly<Record<string, number>>;
}

export interface Load {
  /** Receipts so far (live view). */
  readonly receipts: readonly AuditReceipt[];
  /** Resolves once `count` receipts have arrived. */
  reached(count: number): Promise<void>;
  /** Stops the callers (each finishes the record() it is waiting on) and returns the result. */
  stop(): Promise<LoadResult>;
}

export const defaultEvent = (n: number): AuditEvent => ({
  action: "patient.read",
  entity: "Patient",
  entityId: `load-${n}`,
  actor: { id: "fault-harness", role: "dentist" },
  metadata: { n },
});

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function startLoad(writer: AuditWriter, options: LoadOptions): Load {
  const concurrency = options.concurrency ?? 8;
  const event = options.event ?? defaultEvent;
  const interval = (concurrency * 1000) / options.ratePerSec;
  const receipts: AuditReceipt[] = [];
  const states: Record<string, number> = {};
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  let rejected = 0;
  let running = true;
  let n = 0;

  const caller = async (index: number) => {
    let next = performance.now() + (interval * index) / concurrency;
    while (running) {
      const wait = next - performance.now();
      // Always yield: in async mode record() resolves at once and would starve the event loop.
      await (wait > 0 ? sleep(wait) : new Promise<void>((r) => setImmediate(r)));
      if (!running) break;
      next = Math.max(next + interval, performance.now());
      const i = n++;
      try {
        const receipt = await writer.record(event(i));
        receipts.push(receipt);
        states[receipt.state] = (states[receipt.state] ?? 0) + 1;
        options.onRecorded?.(receipt, i);
        for (let w = waiters.length - 1; w >= 0; w--) {
          const waiter = waiters[w] as (typeof waiters)[number];
          if (receipts.length >= waiter.count) {
            waiters.splice(w, 1);
            waiter.resolve();
          }
        }
      } catch (error) {
        rejected++;
        options.onRejected?.(error, i);
      }
    }
  };
  const callers = Array.from({ length: concurrency }, (_, i) => caller(i));

  return {
    receipts,
    reached: (count) => (receipts.length >= count ? Promise.resolve() : new Promise((resolve) => waiters.push({ count, resolve }))),
    stop: async () => {
      running = false;
      await Promise.all(callers);
      return { receipts, rejected, states: { ...states } };
    },
  };
}
