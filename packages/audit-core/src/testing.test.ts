import { randomUUID } from "node:crypto";
import { BroadcastChannel } from "node:worker_threads";
import { describe, expect, it, vi } from "vitest";
import { stampEvent } from "./event.ts";
import { MemorySink, type MemorySinkOptions, type SinkReport, createSink } from "./testing.ts";

const entries = (actions: string[]) => actions.map((action) => stampEvent({ action, entity: "E" }, undefined));

describe("MemorySink", () => {
  it("stores entries once per id, whatever the number of writes", async () => {
    const sink = new MemorySink();
    const batch = entries(["a", "b"]);
    await sink.write(batch);
    await sink.write(batch);
    expect(sink.rows.size).toBe(2);
    expect(sink.writes).toBe(2);
  });

  it("fails the first failFirst writes retryably, then hangs the next hangFirst", async () => {
    const sink = createSink({ failFirst: 1, hangFirst: 1 }) as MemorySink;
    await expect(sink.write(entries(["a"]))).rejects.toMatchObject({ code: "ECONNREFUSED" });
    let settled = false;
    void sink.write(entries(["a"])).finally(() => {
      settled = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    await sink.write(entries(["a"]));
    expect(sink.rows.size).toBe(1);
  });

  it("fails a write carrying the poison action as a constraint violation naming the entry", async () => {
    const sink = new MemorySink({ poisonAction: "bad" });
    const batch = entries(["ok", "bad"]);
    await expect(sink.write(batch)).rejects.toMatchObject({ code: "23514", message: `check constraint violated by entry ${batch[1]?.id}` });
    expect(sink.rows.size).toBe(0);
  });

  it("takes latencyMs per write", async () => {
    const sink = new MemorySink({ latencyMs: 30 });
    const started = Date.now();
    await sink.write(entries(["a"]));
    expect(Date.now() - started).toBeGreaterThanOrEqual(25);
  });

  it("keeps dead letters, or refuses them when asked to", async () => {
    const letter = {
      entry: entries(["bad"])[0] as ReturnType<typeof stampEvent>,
      error: "e",
      attempts: 1,
      failedAt: new Date().toISOString(),
    };
    const sink = new MemorySink();
    await sink.deadLetter([letter]);
    expect(sink.deadLetters.get(letter.entry.id)).toEqual(letter);
    await expect(new MemorySink({ rejectDeadLetters: true }).deadLetter([letter])).rejects.toMatchObject({ code: "42P01" });
  });

  it("reports every attempt and dead letter on its channel", async () => {
    const name = `memory-sink-${randomUUID()}`;
    const listener = new BroadcastChannel(name);
    const reports: SinkReport[] = [];
    listener.onmessage = (m) => reports.push((m as { data: SinkReport }).data);
    const sink = new MemorySink({ channel: name, failFirst: 1 });
    const batch = entries(["a"]);
    await sink.write(batch).catch(() => undefined);
    await sink.write(batch);
    await sink.deadLetter([{ entry: batch[0] as ReturnType<typeof stampEvent>, error: "e", attempts: 1, failedAt: "t" }]);
    await sink.close();
    try {
      await vi.waitFor(() => expect(reports).toHaveLength(3));
      expect(reports[0]).toMatchObject({ type: "attempt", ids: [batch[0]?.id], ok: false, error: "ECONNREFUSED" });
      expect(reports[1]).toMatchObject({ type: "attempt", ids: [batch[0]?.id], ok: true });
      expect(reports[2]).toMatchObject({ type: "deadLetter", letters: [{ error: "e" }] });
    } finally {
      listener.close();
    }
  });

  it("rejects invalid or unknown fault-injection options", () => {
    expect(() => new MemorySink({ failFirst: -1 })).toThrow();
    expect(() => new MemorySink({ failEvery: 2 } as unknown as MemorySinkOptions)).toThrow(/failEvery/);
  });
});
