import { describe, expect, it } from "vitest";
import { stampEvent } from "../event.ts";
import { BoundedQueue, type QueueItem } from "./queue.ts";

const item = (i: number, segment?: number): QueueItem => ({
  entry: stampEvent({ action: "a.b", entity: "E", entityId: String(i) }, undefined),
  segment,
});
const ids = (items: readonly QueueItem[]) => items.map((i) => i.entry.entityId);

describe("BoundedQueue", () => {
  it("accepts items up to its capacity and refuses the next", () => {
    const q = new BoundedQueue(3);
    expect([1, 2, 3, 4].map((i) => q.offer(item(i)))).toEqual([true, true, true, false]);
    expect(q.queued).toBe(3);
    expect(q.room).toBe(0);
  });

  it("takes items oldest first and keeps counting them against capacity until settled", () => {
    const q = new BoundedQueue(3);
    for (const i of [1, 2, 3]) q.offer(item(i));
    expect(ids(q.take(2))).toEqual(["1", "2"]);
    expect(q.queued).toBe(1);
    expect(q.flying).toBe(2);
    expect(q.offer(item(4))).toBe(false);
    q.settle(2);
    expect(q.flying).toBe(0);
    expect(q.room).toBe(2);
    expect(q.offer(item(4))).toBe(true);
    expect(ids(q.take(10))).toEqual(["3", "4"]);
  });

  it("holds reserved places until they are fulfilled (with an item) or given back", () => {
    const q = new BoundedQueue(2);
    expect(q.reserve()).toBe(true);
    expect(q.reserve()).toBe(true);
    expect(q.reserve()).toBe(false);
    expect(q.offer(item(0))).toBe(false);
    expect(q.reservations).toBe(2);
    q.fulfil(item(1));
    q.fulfil(undefined);
    expect(q.reservations).toBe(0);
    expect(q.queued).toBe(1);
    expect(q.room).toBe(1);
  });

  it("puts a failed batch back at the head, ahead of newer items", () => {
    const q = new BoundedQueue(10);
    for (const i of [1, 2, 3, 4]) q.offer(item(i));
    const batch = q.take(2);
    q.offer(item(5));
    q.requeue(batch);
    expect(q.flying).toBe(0);
    expect(ids(q.take(10))).toEqual(["1", "2", "3", "4", "5"]);
  });

  it("drain empties the queue and returns what waited", () => {
    const q = new BoundedQueue(10);
    for (const i of [1, 2, 3]) q.offer(item(i, 7));
    q.take(1);
    const rest = q.drain();
    expect(ids(rest)).toEqual(["2", "3"]);
    expect(rest.every((r) => r.segment === 7)).toBe(true);
    expect(q.queued).toBe(0);
  });

  it("keeps FIFO order across its internal compaction of long runs", () => {
    const q = new BoundedQueue(20_000);
    for (let i = 0; i < 10_000; i++) q.offer(item(i));
    const taken: string[] = [];
    while (q.queued > 0) {
      const batch = q.take(700);
      taken.push(...(ids(batch) as string[]));
      q.settle(batch.length);
      q.offer(item(10_000 + taken.length));
      if (taken.length >= 12_000) break;
    }
    expect(taken.slice(0, 10_000)).toEqual(Array.from({ length: 10_000 }, (_, i) => String(i)));
    expect(new Set(taken).size).toBe(taken.length);
  });
});
