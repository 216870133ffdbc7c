/**
 * The origin's headline benchmarks. seed50: 50 entries written synchronously (each call waits for
 * its row) vs 50 recorded asynchronously (each call returns after the enqueue: the hot path is
 * the time until record() returned for all 50, as the origin timed its submits); speedup = sync
 * time / async time. seed100: the same with 100 entries, per-entry mean and
 * percentiles. Both then flush the async writer and count the rows: the origin lost 5–20 % here.
 */
import { summarize, type Summary } from "../stats.ts";
import { type Target, patientUpdate, tagFor } from "../target.ts";

export interface SyncAsyncResult {
  readonly entries: number;
  readonly sync: Summary & { totalMs: number };
  readonly async: Summary & { totalMs: number };
  readonly speedup: number;
  readonly persisted: number;
}

export async function syncVsAsync(target: Target, entries: number): Promise<SyncAsyncResult> {
  const syncWriter = await target.openWriter({ mode: "sync" });
  const asyncWriter = await target.openWriter({ mode: "async" });
  // Warm both paths outside the measurement until each runs optimised code (JIT, connections,
  // prepared statements): a sync call costs a commit, so fewer calls reach that point.
  for (let i = 0; i < 1_000; i++) await syncWriter.record(patientUpdate("bench.warmup"));
  for (let i = 0; i < 20_000; i++) await asyncWriter.record(patientUpdate("bench.warmup"));
  await asyncWriter.flush();

  // Nine rounds each, events built before the clock starts; the median round is reported, since
  // a 50-call loop lasts a fraction of a millisecond and one scheduler hiccup would decide it.
  const asyncTag = tagFor("async");
  const syncRounds: Timing[] = [];
  const asyncRounds: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const syncEvents = Array.from({ length: entries }, () => patientUpdate(tagFor("sync")));
    syncRounds.push(await timeEach(syncEvents, (e) => syncWriter.record(e), true));
    const asyncEvents = Array.from({ length: entries }, () => patientUpdate(asyncTag));
    asyncRounds.push(await timeEach(asyncEvents, (e) => asyncWriter.record(e), false));
  }
  const sync = median(syncRounds);
  const asyncTimes = median(asyncRounds);
  await asyncWriter.flush();
  const rows = await target.countRows(asyncTag);
  await syncWriter.close();
  await asyncWriter.close();
  return {
    entries,
    sync: { ...summarize(sync.samples), totalMs: sync.totalMs },
    async: { ...summarize(asyncTimes.samples), totalMs: asyncTimes.totalMs },
    speedup: sync.totalMs / asyncTimes.totalMs,
    persisted: rows / (entries * ROUNDS),
  };
}

const ROUNDS = 9;

interface Timing {
  readonly samples: number[];
  readonly totalMs: number;
}

const median = (rounds: Timing[]): Timing => [...rounds].sort((a, b) => a.totalMs - b.totalMs)[Math.floor(rounds.length / 2)] as Timing;

/**
 * Calls `fn` once per event, in sequence; per-call and total milliseconds. `awaitEach`: a call
 * lasts until its promise settles (sync: the row is committed); otherwise until it returns, and
 * the promises are awaited after the clock stopped (async: the caller does not wait for the write).
 */
async function timeEach<E>(events: E[], fn: (event: E) => Promise<unknown>, awaitEach: boolean): Promise<Timing> {
  const samples: number[] = [];
  const pending: Promise<unknown>[] = [];
  const started = performance.now();
  for (const event of events) {
    const t0 = performance.now();
    const call = fn(event);
    if (awaitEach) await call;
    else pending.push(call);
    samples.push(performance.now() - t0);
  }
  const totalMs = performance.now() - started;
  await Promise.all(pending);
  return { samples, totalMs };
}
