import { writeSync } from "node:fs";
import { mkdtemp, open, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { SpoolCorruptError } from "../errors.ts";
import { type AuditEntry, stampEvent } from "../event.ts";
import { Spool, spoolFs } from "./spool.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "audit-spool-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(dir, { recursive: true, force: true });
});

const entries = (n: number): AuditEntry[] =>
  Array.from({ length: n }, (_, i) => stampEvent({ action: "a.b", entity: "E", entityId: String(i) }, undefined));
const segmentName = (id: number) => `segment-${String(id).padStart(16, "0")}.ndjson`;
const lines = (list: readonly AuditEntry[]) => list.map((e) => `${JSON.stringify(e)}\n`).join("");
const diskError = (code: string) => Object.assign(new Error(`${code}: injected`), { code });
/** The `call`-th write from now puts half its bytes in, then fails with ENOSPC (a disk filling up). */
function tearWrite(call: number): void {
  let calls = 0;
  vi.spyOn(spoolFs, "writeSync").mockImplementation((fd, buffer, offset, length) => {
    calls++;
    if (calls !== call) return writeSync(fd, buffer, offset, length);
    writeSync(fd, buffer, offset, Math.floor(length / 2));
    throw diskError("ENOSPC");
  });
}
/** Files opened from now get `patch` applied to their handle (to make datasync or close fail). */
function patchHandles(patch: (handle: Awaited<ReturnType<typeof open>>) => void): void {
  vi.spyOn(spoolFs, "open").mockImplementation(async (file) => {
    const handle = await open(file, "a");
    patch(handle);
    return handle;
  });
}
/** Every file opened from now closes, then reports EIO (a delayed write error). */
function failEveryClose(): void {
  patchHandles((handle) => {
    const close = handle.close.bind(handle);
    handle.close = async () => {
      await close();
      throw diskError("EIO");
    };
  });
}
const listSegments = async () => (await readdir(dir)).filter((f) => f.startsWith("segment-")).sort();

async function readAll(spool: Spool, max = 1_000): Promise<Array<{ segment: number; ids: string[] }>> {
  const chunks: Array<{ segment: number; ids: string[] }> = [];
  for (let c = await spool.nextReplay(max); c; c = await spool.nextReplay(max)) {
    chunks.push({ segment: c.segment, ids: c.entries.map((e) => e.id) });
  }
  return chunks;
}

describe("Spool", () => {
  it("resolves a turn's appends without waiting for the event loop, yet lets it turn when a caller appends in a tight loop", async () => {
    const spool = await Spool.open(dir, 100_000);
    const batch = entries(1);
    await spool.append(batch, false, false); // opens the segment file (that waits for the loop)
    await new Promise((resolve) => setImmediate(resolve));
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    await spool.append(batch, false, false);
    expect(turned).toBe(false); // written and resolved within the turn
    for (let i = 0; i < 1_500 && !turned; i++) await spool.append(batch, false, false);
    expect(turned).toBe(true); // after 1,000 appends without a turn, the commit waited for one
    await spool.close();
  });

  it("resolves an append once its lines are on disk, one JSON entry per line", async () => {
    const spool = await Spool.open(join(dir, "nested", "spool"), 100);
    const batch = entries(3);
    const segment = await spool.append(batch, false, true);
    const text = await readFile(join(dir, "nested", "spool", segmentName(segment)), "utf8");
    expect(text).toBe(lines(batch));
    await spool.close();
  });

  it("group-commits concurrent appends into the same segment", async () => {
    const spool = await Spool.open(dir, 100);
    const batch = entries(20);
    const segments = await Promise.all(batch.map((e) => spool.append([e], true, true)));
    expect(new Set(segments).size).toBe(1);
    expect(spool.backlog).toBe(20);
    const text = await readFile(join(dir, segmentName(segments[0] as number)), "utf8");
    expect(text).toBe(lines(batch));
    await spool.close();
  });

  it("keeps one active segment for queued entries and one for spilled ones, each rotating when full", async () => {
    const spool = await Spool.open(dir, 2);
    const [a, b, c, d, e] = await Promise.all([
      spool.append(entries(2), true, false),
      spool.append(entries(1), true, false),
      spool.append(entries(1), false, false),
      spool.append(entries(1), true, false),
      spool.append(entries(1), false, false),
    ]);
    // interleaving the two kinds does not rotate: only a full segment does
    expect([a, b, c, d, e]).toEqual([1, 2, 3, 2, 3]);
    expect(await listSegments()).toEqual([1, 2, 3].map(segmentName));
    await spool.close();
  });

  it("replays spilled entries oldest segment first, in chunks, and deletes a segment once all its entries settle", async () => {
    const spool = await Spool.open(dir, 3);
    const batch = entries(5);
    await Promise.all(batch.map((e) => spool.append([e], true, true)));
    expect(spool.hasReplay).toBe(true);
    const chunks = await readAll(spool, 2);
    expect(chunks.map((c) => [c.segment, c.ids.length])).toEqual([
      [1, 2],
      [1, 1],
      [2, 2],
    ]);
    expect(chunks.flatMap((c) => c.ids)).toEqual(batch.map((e) => e.id));
    await spool.settle(1, 2);
    expect(await listSegments()).toEqual([segmentName(1), segmentName(2)]);
    await spool.settle(1, 1);
    expect(await listSegments()).toEqual([segmentName(2)]);
    await spool.settle(2, 2);
    await spool.settle(99, 1); // unknown segments are ignored
    expect(await listSegments()).toEqual([]);
    expect(spool.hasReplay).toBe(false);
    expect(spool.backlog).toBe(0);
    await spool.close();
  });

  it("does not replay segments whose entries were queued as well, and deletes each once all its entries are acknowledged", async () => {
    const spool = await Spool.open(dir, 100);
    const segment = await spool.append(entries(2), false, true);
    expect(spool.hasReplay).toBe(false);
    expect(await spool.nextReplay(10)).toBeUndefined();
    await spool.settle(segment, 1); // one entry still unacknowledged: kept
    expect(await listSegments()).toEqual([segmentName(segment)]);
    await spool.settle(segment, 1); // all acknowledged: deleted at once, even though it was active
    expect(await listSegments()).toEqual([]);
    expect(await spool.append(entries(1), false, false)).toBe(segment + 1);
    await spool.close();
    expect(await listSegments()).toEqual([segmentName(segment + 1)]); // unacknowledged: the next writer replays it
  });

  it("keeps unsettled segments on close, and a new spool replays them", async () => {
    const first = await Spool.open(dir, 100);
    const durable = entries(2);
    const spilled = entries(3);
    await first.append(durable, false, true);
    await first.append(spilled, true, true);
    await first.close();
    expect(await listSegments()).toEqual([segmentName(1), segmentName(2)]);

    const second = await Spool.open(dir, 100);
    expect(second.hasReplay).toBe(true);
    const chunks = await readAll(second);
    expect(chunks.flatMap((c) => c.ids)).toEqual([...durable, ...spilled].map((e) => e.id));
    expect(second.backlog).toBe(5);
    const next = await second.append(entries(1), true, true);
    expect(next).toBe(3);
    await second.settle(1, 2);
    await second.settle(2, 3);
    expect(second.backlog).toBe(1);
    await second.close();
    expect(await listSegments()).toEqual([segmentName(3)]);
  });

  it("skips a torn last line (a crash mid-append) and replays the lines before it", async () => {
    const batch = entries(2);
    const torn = JSON.stringify(entries(1)[0]).slice(0, 40);
    await writeFile(join(dir, segmentName(1)), lines(batch) + torn);
    const spool = await Spool.open(dir, 100);
    const chunks = await readAll(spool);
    expect(chunks.flatMap((c) => c.ids)).toEqual(batch.map((e) => e.id));
    await spool.settle(1, 2);
    expect(await listSegments()).toEqual([]);
    await spool.close();
  });

  it("discards a segment holding nothing but a torn line, so it never blocks replay", async () => {
    await writeFile(join(dir, segmentName(1)), JSON.stringify(entries(1)[0]).slice(0, 30));
    await writeFile(join(dir, segmentName(2)), "");
    const later = entries(1);
    await writeFile(join(dir, segmentName(3)), lines(later));
    const spool = await Spool.open(dir, 100);
    const chunks = await readAll(spool);
    expect(chunks).toEqual([{ segment: 3, ids: later.map((e) => e.id) }]);
    await spool.settle(3, 1);
    expect(spool.hasReplay).toBe(false);
    expect(await listSegments()).toEqual([]);
    await spool.close();
  });

  it("sets a corrupt line aside in corrupt.ndjson, raises SpoolCorruptError once naming file and line, and replays the rest", async () => {
    const [a, b] = entries(2);
    await writeFile(join(dir, segmentName(1)), `${JSON.stringify(a)}\n{"not":"an entry"}\n${JSON.stringify(b)}\n`);
    const spool = await Spool.open(dir, 100);
    expect((await spool.nextReplay(10))?.entries).toEqual([a]);
    const error = await spool.nextReplay(10).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpoolCorruptError);
    expect((error as SpoolCorruptError).code).toBe("ERR_AUDIT_SPOOL_CORRUPT");
    expect((error as SpoolCorruptError).message).toBe(`Spool segment ${join(dir, segmentName(1))} line 2 is not a valid entry`);
    expect((await spool.nextReplay(10))?.entries).toEqual([b]);
    expect(JSON.parse(await readFile(join(dir, "corrupt.ndjson"), "utf8"))).toEqual({
      file: join(dir, segmentName(1)),
      line: 2,
      text: '{"not":"an entry"}',
    });
    await spool.settle(1, 2);
    expect(spool.hasReplay).toBe(false);
    await spool.close();
    expect(await listSegments()).toEqual([]);
  });

  it("treats a segment deleted behind its back as empty", async () => {
    await writeFile(join(dir, segmentName(1)), lines(entries(1)));
    const spool = await Spool.open(dir, 100);
    await rm(join(dir, segmentName(1)));
    expect(await spool.nextReplay(10)).toBeUndefined();
    expect(spool.hasReplay).toBe(false);
    await spool.close();
  });

  it("ignores files that are not segments", async () => {
    await writeFile(join(dir, "dead-letters.ndjson"), "");
    await writeFile(join(dir, "segment-1.ndjson"), "x");
    const spool = await Spool.open(dir, 100);
    expect(spool.hasReplay).toBe(false);
    expect(await spool.append(entries(1), true, true)).toBe(1);
    await spool.close();
  });

  it("rejects an append whose write fails", async () => {
    const spool = await Spool.open(join(dir, "gone"), 100);
    await rm(join(dir, "gone"), { recursive: true });
    await expect(spool.append(entries(1), true, true)).rejects.toMatchObject({ code: "ENOENT" });
    await spool.close();
  });

  it("rolls a torn write back: the rejected lines are gone and the next append's line replays intact", async () => {
    const spool = await Spool.open(dir, 100_000);
    const [first, next] = [entries(1), entries(1)];
    const segment = await spool.append(first, true, false);
    tearWrite(2); // 300 entries are written in two slices (256 + 44): the second one tears
    await expect(spool.append(entries(300), true, false)).rejects.toMatchObject({ code: "ENOSPC" });
    vi.restoreAllMocks();
    expect(await spool.append(next, true, false)).toBe(segment);

    expect(await readFile(join(dir, segmentName(segment)), "utf8")).toBe(lines([...first, ...next]));
    expect(spool.backlog).toBe(2); // the rejected entries do not count as appended
    expect(await readAll(spool)).toEqual([{ segment, ids: [first[0]?.id, next[0]?.id] }]);
    await spool.settle(segment, 2);
    expect(await listSegments()).toEqual([]); // every entry settled: the segment goes
    await spool.close();
  });

  it("rolls back a commit whose fdatasync fails (durable mode): its entries are never replayed", async () => {
    let failSync = false;
    patchHandles((handle) => {
      const datasync = handle.datasync.bind(handle);
      handle.datasync = () => (failSync ? Promise.reject(diskError("EIO")) : datasync());
    });
    const spool = await Spool.open(dir, 100);
    const [first, rejected, next] = [entries(1), entries(3), entries(1)];
    const segment = await spool.append(first, true, true);
    failSync = true;
    await expect(spool.append(rejected, true, true)).rejects.toMatchObject({ code: "EIO" });
    failSync = false;
    expect(await spool.append(next, true, true)).toBe(segment);
    expect(await readFile(join(dir, segmentName(segment)), "utf8")).toBe(lines([...first, ...next]));
    expect(await readAll(spool)).toEqual([{ segment, ids: [first[0]?.id, next[0]?.id] }]);
    await spool.close();
  });

  it("starts a new segment after a failed commit it cannot cut back, so no later line follows the torn one", async () => {
    const spool = await Spool.open(dir, 100_000);
    const [first, next] = [entries(1), entries(1)];
    const segment = await spool.append(first, true, false);
    tearWrite(1);
    vi.spyOn(spoolFs, "ftruncateSync").mockImplementation(() => {
      throw diskError("EIO");
    });
    await expect(spool.append(entries(1), true, false)).rejects.toMatchObject({ code: "ENOSPC" });
    vi.restoreAllMocks();
    const after = await spool.append(next, true, false);
    expect(after).not.toBe(segment);
    expect(await readFile(join(dir, segmentName(after)), "utf8")).toBe(lines(next));
    // The old segment ends in the torn line, which replay drops; no SpoolCorruptError.
    expect(await readAll(spool)).toEqual([
      { segment, ids: [first[0]?.id] },
      { segment: after, ids: [next[0]?.id] },
    ]);
    await spool.close();
  });

  it("keeps committing after a segment's file fails to close (a delayed EIO)", async () => {
    let failed = false;
    patchHandles((handle) => {
      const close = handle.close.bind(handle);
      handle.close = async () => {
        await close();
        if (failed) return;
        failed = true;
        throw diskError("EIO");
      };
    });
    const spool = await Spool.open(dir, 2);
    // Segment 1 fills and is sealed in the same turn, so the commit closes its file; segment 2 is
    // written in that same commit, after the close.
    const appends = [spool.append(entries(2), false, false), spool.append(entries(1), false, false)];
    expect(await Promise.all(appends)).toEqual([1, 2]);
    expect(await spool.append(entries(1), false, false)).toBe(2);
    expect(failed).toBe(true);
    await spool.close();
  });

  it("a segment whose file fails to close when its last entry settles is still deleted, and the error told (not thrown)", async () => {
    failEveryClose();
    const told: unknown[] = [];
    const spool = await Spool.open(dir, 100, { onError: (error) => told.push(error) });
    const segment = await spool.append(entries(2), false, false);
    await spool.settle(segment, 2);
    expect(await listSegments()).toEqual([]);
    expect(told).toEqual([expect.objectContaining({ code: "EIO" })]);
    await spool.close();
  });

  it("close() closes every file and deletes every settled segment even when a file fails to close", async () => {
    failEveryClose();
    const told: unknown[] = [];
    const spool = await Spool.open(dir, 100, { onError: (error) => told.push(error) });
    const queued = await spool.append(entries(1), false, false);
    await spool.append(entries(1), true, false); // spilled: kept for replay
    await spool.settle(queued, 1);
    await spool.close();
    expect(told.length).toBeGreaterThan(0);
    expect(await listSegments()).toHaveLength(1);
    const next = await Spool.open(dir, 100);
    expect((await readAll(next)).flatMap((c) => c.ids)).toHaveLength(1);
    await next.close();
  });

  it("tells each waiter once even when one throws, and commits chained after that one still run", async () => {
    const spool = await Spool.open(dir, 100);
    await spool.append(entries(1), false, false); // opens the file, so the next commit runs within the turn
    const calls: unknown[] = [];
    let chained: (later: { receipt: Promise<number> }) => void = () => undefined;
    const thrown = new Promise<{ receipt: Promise<number> }>((resolve) => {
      chained = resolve;
    });
    spool.appendThen(entries(1), false, false, (error) => calls.push(["before", error]));
    spool.appendThen(entries(1), false, false, (error) => {
      calls.push(["throws", error]);
      chained({ receipt: spool.append(entries(1), false, false) }); // the next commit, after this one
      throw new Error("a broken waiter");
    });
    spool.appendThen(entries(1), false, false, (error) => calls.push(["after", error]));
    const { receipt } = await thrown;
    expect(await receipt).toBe(1);
    expect(calls).toEqual([
      ["before", undefined],
      ["throws", undefined],
      ["after", undefined],
    ]);
    await spool.close();
  });
});
