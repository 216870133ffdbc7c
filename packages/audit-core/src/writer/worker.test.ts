/**
 * The worker entry runs in tinypool threads, where v8 coverage does not reach; here it runs
 * in-process with tinypool's workerData mocked, against the built MemorySink module.
 */
import { randomUUID } from "node:crypto";
import { BroadcastChannel } from "node:worker_threads";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type AuditEntry, stampEvent } from "../event.ts";
import type { SinkReport } from "../testing.ts";
import { memorySinkSpec } from "../testing.ts";
import type { RetryPolicy } from "./retry.ts";
import type { BatchResult, WorkerData, WriteTask } from "./worker.ts";

const state = vi.hoisted(() => ({ workerData: undefined as unknown }));
vi.mock("tinypool", () => ({
  default: {
    get workerData() {
      return state.workerData;
    },
  },
}));

const policy: RetryPolicy = {
  initialDelayMs: 1,
  maxDelayMs: 2,
  multiplier: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
  unknownErrorAttempts: 2,
  writeTimeoutMs: 1_000,
};

async function loadAnswering(data: WorkerData) {
  state.workerData = data;
  vi.resetModules();
  return (await import("./worker.ts")).default;
}

/** The worker entry, for tests of batches that succeed: a `failed` answer throws. */
async function loadWorker(data: WorkerData) {
  const writeBatch = await loadAnswering(data);
  return async (task: WriteTask): Promise<BatchResult> => {
    const answer = await writeBatch(task);
    if ("failed" in answer) throw new Error(answer.failed);
    return answer;
  };
}

const batch = (actions: string[]) => actions.map((action, i) => stampEvent({ action, entity: "E", entityId: String(i) }, undefined));

let channel: BroadcastChannel;
let reports: SinkReport[];
let name: string;
beforeEach(() => {
  name = `worker-test-${randomUUID()}`;
  reports = [];
  channel = new BroadcastChannel(name);
  channel.onmessage = (m) => reports.push((m as { data: SinkReport }).data);
});
afterEach(() => {
  channel.close();
});

describe("worker writeBatch", () => {
  it("builds its sink once from the spec, writes with retry and dead-letters poison through the sink", async () => {
    const writeBatch = await loadWorker({ sink: memorySinkSpec({ channel: name, failFirst: 1, poisonAction: "bad" }), policy });
    const entries = batch(["ok", "bad", "ok", "ok"]);
    const result = await writeBatch({ entries, mayExist: false });
    expect(result).toMatchObject({ written: 3, retries: 1, deadLettered: 1, unstored: [] });
    expect(await writeBatch({ entries: batch(["ok"]), mayExist: false })).toMatchObject({ written: 1, retries: 0 });
    await vi.waitFor(() => expect(reports.some((r) => r.type === "deadLetter")).toBe(true));
  });

  it("returns the dead letters the sink refused, for the main thread's file", async () => {
    const writeBatch = await loadWorker({ sink: memorySinkSpec({ poisonAction: "bad", rejectDeadLetters: true }), policy });
    const entries = batch(["bad", "ok"]);
    const result = await writeBatch({ entries, mayExist: false });
    expect(result.written).toBe(1);
    expect(result.deadLettered).toBe(1);
    expect(result.unstored.map((l) => l.entry.id)).toEqual([entries[0]?.id]);
    expect(result.unstored[0]?.error).toMatch(/check constraint violated/);
  });

  it("answers `failed` (never throws: a rejected run means a dead thread) when the sink cannot be loaded, and tries again on the next", async () => {
    const writeBatch = await loadAnswering({ sink: { module: "/nonexistent/sink.js" }, policy });
    const failed = { failed: expect.stringMatching(/^Cannot load audit sink "\/nonexistent\/sink.js"/) };
    await expect(writeBatch({ entries: batch(["ok"]), mayExist: false })).resolves.toEqual(failed);
    await expect(writeBatch({ entries: batch(["ok"]), mayExist: false })).resolves.toEqual(failed);
  });

  it("keeps dead letters decided by the main thread through its sink, counted as dead-lettered", async () => {
    const writeBatch = await loadWorker({ sink: memorySinkSpec({ channel: name }), policy });
    const [entry] = batch(["killer"]);
    const letter = { entry: entry as AuditEntry, error: "worker died", attempts: 2, failedAt: new Date().toISOString() };
    expect(await writeBatch({ entries: [], mayExist: false, letters: [letter] })).toMatchObject({
      written: 0,
      deadLettered: 1,
      unstored: [],
    });
    await vi.waitFor(() => expect(reports).toContainEqual({ type: "deadLetter", letters: [letter] }));
  });

  it("links what it writes into its own stream, batch after batch, and reports the stream's Merkle log", async () => {
    const writeBatch = await loadWorker({ sink: memorySinkSpec({ channel: name }), policy });
    const first = await writeBatch({ entries: batch(["a", "b"]), mayExist: false });
    const second = await writeBatch({ entries: batch(["c"]), mayExist: false });
    expect(first.stream).toMatchObject({ from: 0, size: 2 });
    expect(first.stream?.leaves).toHaveLength(64);
    expect(second.stream).toMatchObject({ streamId: first.stream?.streamId, from: 2, size: 3 });
    expect(second.stream?.leaves).toHaveLength(32);
    expect(second.stream?.root).toMatch(/^[0-9a-f]{64}$/);
    expect(second.stream?.root).not.toBe(first.stream?.root);
  });

  it("keeps a dead-lettered entry's place in the stream's log", async () => {
    const writeBatch = await loadWorker({ sink: memorySinkSpec({ channel: name, poisonAction: "bad" }), policy });
    const result = await writeBatch({ entries: batch(["ok", "bad", "ok"]), mayExist: false });
    expect(result).toMatchObject({ written: 2, deadLettered: 1, stream: { size: 3 } });
  });

  it("hands a forwarding sink (a transport) its entries unlinked and reports no stream to the sealer", async () => {
    const writeBatch = await loadWorker({ sink: memorySinkSpec({ channel: name, forwards: true }), policy });
    const result = await writeBatch({ entries: batch(["a", "b"]), mayExist: false });
    expect(result).toMatchObject({ written: 2 });
    expect(result.stream).toBeUndefined();
    await vi.waitFor(() => expect(reports).toContainEqual(expect.objectContaining({ type: "attempt", ok: true, linked: false })));
  });

  it("does not give a second link to entries the sink already stores (replays)", async () => {
    const writeBatch = await loadWorker({ sink: memorySinkSpec({ channel: name }), policy });
    const entries = batch(["a", "b", "c"]);
    await writeBatch({ entries: entries.slice(0, 2), mayExist: false });
    const replay = await writeBatch({ entries, mayExist: true });
    expect(replay).toMatchObject({ written: 3, deadLettered: 0 });
    expect(replay.stream?.size).toBe(3); // only the new entry was linked
    const unchecked = await writeBatch({ entries, mayExist: false });
    expect(unchecked.stream?.size).toBe(6); // without the check every entry takes a place
  });
});
