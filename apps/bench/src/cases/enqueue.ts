/**
 * The hot path under load: `record` called `n` times, 100 calls per event-loop turn (as concurrent
 * requests would), each call timed alone (µs). The event-loop delay is sampled meanwhile: what
 * every other request on the server would feel. Then flush and count the rows.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { AuditReceipt } from "@auditrail/audit-core";
import { summarize, type Summary } from "../stats.ts";
import { type Target, patientUpdate, tagFor } from "../target.ts";

export interface EnqueueResult {
  readonly entries: number;
  readonly us: Summary;
  readonly p99Us: number;
  readonly loopDelayP99Ms: number;
  readonly loopDelayMaxMs: number;
  readonly flushMs: number;
  readonly persisted: number;
}

export async function enqueue(target: Target, n: number): Promise<EnqueueResult> {
  const writer = await target.openWriter();
  for (let i = 0; i < 1_000; i++) await writer.record(patientUpdate("bench.warmup"));
  await writer.flush();

  const tag = tagFor("enqueue");
  const samples = new Float64Array(n);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  for (let i = 0; i < n; i += 100) {
    const receipts: Promise<AuditReceipt>[] = [];
    for (let j = i; j < Math.min(n, i + 100); j++) {
      const event = patientUpdate(tag);
      const t0 = performance.now();
      receipts.push(writer.record(event));
      samples[j] = (performance.now() - t0) * 1_000;
    }
    await Promise.all(receipts);
    await nextTurn();
  }
  loop.disable();
  const flushStarted = performance.now();
  await writer.flush();
  const flushMs = performance.now() - flushStarted;
  const rows = await target.countRows(tag);
  await writer.close();
  const us = summarize(samples);
  return {
    entries: n,
    us,
    p99Us: us.p99,
    loopDelayP99Ms: loop.percentile(99) / 1e6,
    loopDelayMaxMs: loop.max / 1e6,
    flushMs,
    persisted: rows / n,
  };
}
