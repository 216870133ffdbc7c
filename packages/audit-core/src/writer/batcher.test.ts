import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { stampEvent } from "../event.ts";
import { Batcher } from "./batcher.ts";
import { BoundedQueue, type QueueItem } from "./queue.ts";

function setup(options: { maxBatchSize: number; maxBatchWaitMs: number; slots: number }) {
  const queue = new BoundedQueue(1_000);
  const batches: QueueItem[][] = [];
  const batcher = new Batcher(queue, options, (batch) => batches.push(batch));
  const add = (n: number) => {
    for (let i = 0; i < n; i++) {
      queue.offer({ entry: stampEvent({ action: "a.b", entity: "E" }, undefined), segment: undefined });
      batcher.notify();
    }
  };
  return { queue, batches, batcher, add };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("Batcher", () => {
  it("sends a batch on the next event-loop turn once maxBatchSize entries wait, never inside notify()", () => {
    const { batches, add } = setup({ maxBatchSize: 3, maxBatchWaitMs: 1_000, slots: 2 });
    add(2);
    vi.advanceTimersByTime(0);
    expect(batches).toHaveLength(0);
    add(1);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(0);
    expect(batches.map((b) => b.length)).toEqual([3]);
  });

  it("sends a partial batch once its oldest entry waited maxBatchWaitMs", () => {
    const { batches, add } = setup({ maxBatchSize: 10, maxBatchWaitMs: 20, slots: 1 });
    add(4);
    vi.advanceTimersByTime(19);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(1);
    expect(batches.map((b) => b.length)).toEqual([4]);
  });

  it("never has more batches in flight than slots; done() frees a slot for what waited", () => {
    const { batches, batcher, add, queue } = setup({ maxBatchSize: 2, maxBatchWaitMs: 5, slots: 2 });
    add(7);
    vi.advanceTimersByTime(0);
    expect(batches.map((b) => b.length)).toEqual([2, 2]);
    vi.advanceTimersByTime(100);
    expect(batches).toHaveLength(2);
    queue.settle(2);
    batcher.done();
    expect(batches.map((b) => b.length)).toEqual([2, 2, 2]);
    queue.settle(2);
    batcher.done();
    // the last, partial entry leaves at once: it has waited long enough
    expect(batches.map((b) => b.length)).toEqual([2, 2, 2, 1]);
  });

  it("a batch that finishes early leaves what arrived meanwhile to age: one batch per maxBatchWaitMs at low rates, not one per round trip", () => {
    const { batches, batcher, add, queue } = setup({ maxBatchSize: 100, maxBatchWaitMs: 20, slots: 2 });
    add(1);
    vi.advanceTimersByTime(20);
    expect(batches.map((b) => b.length)).toEqual([1]);
    vi.advanceTimersByTime(2);
    add(1); // arrives while the first batch is written
    vi.advanceTimersByTime(3);
    queue.settle(1);
    batcher.done(); // the write took 5 ms: the new entry has waited 3
    expect(batches).toHaveLength(1);
    add(2);
    vi.advanceTimersByTime(16);
    expect(batches).toHaveLength(1);
    vi.advanceTimersByTime(1); // 20 ms after the entry that arrived during the write
    expect(batches.map((b) => b.length)).toEqual([1, 3]);
  });

  it("sends what waits on the next turn while urgent (flush), without waiting for it to age", () => {
    const { batches, batcher, add } = setup({ maxBatchSize: 100, maxBatchWaitMs: 1_000, slots: 3 });
    batcher.hurry();
    add(1);
    add(1);
    vi.advanceTimersByTime(0);
    expect(batches.map((b) => b.length)).toEqual([2]);
    add(1);
    vi.advanceTimersByTime(0);
    expect(batches.map((b) => b.length)).toEqual([2, 1]);
  });

  it("holds batches while paused and sends them when the pause ends", () => {
    const { batches, batcher, add } = setup({ maxBatchSize: 2, maxBatchWaitMs: 1, slots: 1 });
    batcher.pauseFor(50);
    add(4);
    vi.advanceTimersByTime(30);
    expect(batches).toHaveLength(0);
    vi.advanceTimersByTime(25);
    expect(batches.map((b) => b.length)).toEqual([2]);
  });

  it("stop() cancels a pending age timer", () => {
    const { batches, batcher, add } = setup({ maxBatchSize: 10, maxBatchWaitMs: 10, slots: 1 });
    add(1);
    batcher.stop();
    vi.advanceTimersByTime(100);
    expect(batches).toHaveLength(0);
  });
});
