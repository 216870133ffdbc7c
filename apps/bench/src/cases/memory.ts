/**
 * Memory under a flood: `n` async entries recorded 1,000 per event-loop turn, faster than any
 * database takes them. The queue must stay within its bound (overflow spills to disk), so RSS
 * growth stays bounded however large n is. Sampled before, every 10,000 entries, and after
 * flush(). With --expose-gc (the bench script passes it) each sample follows a full GC, so it
 * measures what the writer retains rather than how lazily V8 collects; `rawRssPeakMb` is the
 * peak RSS seen without forcing GC, for comparison.
 */
import { setImmediate as nextTurn } from "node:timers/promises";
import type { AuditReceipt } from "@auditrail/audit-core";
import { type Target, patientUpdate, tagFor } from "../target.ts";

export interface MemoryResult {
  readonly entries: number;
  readonly maxQueueSize: number;
  readonly maxQueuedSeen: number;
  readonly withinBound: boolean;
  readonly rssBeforeMb: number;
  readonly rssPeakMb: number;
  readonly rssAfterFlushMb: number;
  readonly heapBeforeMb: number;
  readonly heapPeakMb: number;
  readonly heapAfterFlushMb: number;
  readonly rssGrowthMb: number;
  readonly rawRssPeakMb: number;
  readonly gcBeforeSamples: boolean;
  readonly spilled: number;
  readonly persisted: number;
}

const mb = (bytes: number) => bytes / (1024 * 1024);

export async function memory(target: Target, n: number): Promise<MemoryResult> {
  const maxQueueSize = 10_000; // the writer's default, stated so the report can show the bound
  const writer = await target.openWriter({ maxQueueSize, overflow: "spill" });
  globalThis.gc?.();
  const before = process.memoryUsage();
  let peakRss = before.rss;
  let peakHeap = before.heapUsed;
  let rawPeakRss = before.rss;
  let maxQueued = 0;
  const tag = tagFor("memory");
  for (let i = 0; i < n; i += 1_000) {
    const receipts: Promise<AuditReceipt>[] = [];
    for (let j = i; j < Math.min(n, i + 1_000); j++) receipts.push(writer.record(patientUpdate(tag)));
    await Promise.all(receipts);
    const s = writer.stats();
    maxQueued = Math.max(maxQueued, s.queued + s.inFlight);
    if (i % 10_000 === 0) {
      rawPeakRss = Math.max(rawPeakRss, process.memoryUsage.rss());
      globalThis.gc?.();
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }
    await nextTurn();
  }
  await writer.flush();
  globalThis.gc?.();
  const after = process.memoryUsage();
  const rows = await target.countRows(tag);
  const spilled = writer.stats().spilled;
  await writer.close();
  return {
    entries: n,
    maxQueueSize,
    maxQueuedSeen: maxQueued,
    withinBound: maxQueued <= maxQueueSize,
    rssBeforeMb: mb(before.rss),
    rssPeakMb: mb(peakRss),
    rssAfterFlushMb: mb(after.rss),
    heapBeforeMb: mb(before.heapUsed),
    heapPeakMb: mb(peakHeap),
    heapAfterFlushMb: mb(after.heapUsed),
    rssGrowthMb: mb(peakRss - before.rss),
    rawRssPeakMb: mb(rawPeakRss),
    gcBeforeSamples: typeof globalThis.gc === "function",
    spilled,
    persisted: rows / n,
  };
}
