import { describe, expect, it } from "vitest";
import { type ChainedEntry, ChainStream, verifyChain } from "../chain.ts";
import { EntriesStoredElsewhereError } from "../errors.ts";
import { type AuditEntry, stampEvent } from "../event.ts";
import type { AuditSink, DeadLetter } from "../sink.ts";
import { linkAndWrite } from "./link-write.ts";
import type { RetryPolicy } from "./retry.ts";

const policy: RetryPolicy = {
  initialDelayMs: 1,
  maxDelayMs: 1,
  multiplier: 2,
  maxAttempts: Number.POSITIVE_INFINITY,
  unknownErrorAttempts: 3,
  writeTimeoutMs: 1_000,
};

const entry = (n: number, action = "patient.update"): AuditEntry =>
  stampEvent({ action, entity: "Patient", entityId: String(n) }, undefined);

/**
 * A store that behaves as the SQL sinks do: a batch holding a "poison" entry fails whole (a check
 * constraint); a stored row with another link refuses the batch whole (EntriesStoredElsewhereError);
 * a stored row with the same link is skipped.
 */
class LinkCheckingSink implements AuditSink {
  readonly rows = new Map<string, ChainedEntry>();
  readonly letters: DeadLetter[] = [];
  async write(batch: readonly AuditEntry[]): Promise<void> {
    const chained = batch as readonly ChainedEntry[];
    const poison = chained.find((e) => e.action === "poison");
    if (poison) throw Object.assign(new Error(`check constraint violated by entry ${poison.id}`), { code: "23514" });
    const elsewhere = chained.filter((e) => {
      const row = this.rows.get(e.id);
      return row !== undefined && (row.streamId !== e.streamId || row.seq !== e.seq || row.hash !== e.hash);
    });
    if (elsewhere.length > 0) throw new EntriesStoredElsewhereError(elsewhere.map((e) => e.id));
    for (const e of chained) if (!this.rows.has(e.id)) this.rows.set(e.id, e);
  }
  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    this.letters.push(...letters);
  }
  async close(): Promise<void> {}
}

const rowsOf = (sink: LinkCheckingSink, streamId: string) => [...sink.rows.values()].filter((r) => r.streamId === streamId);

describe("linkAndWrite", () => {
  it("leaves out an entry another stream stored meanwhile, links the rest again, and the stream has no gap", async () => {
    const sink = new LinkCheckingSink();
    const [a, b, c] = [entry(1), entry(2), entry(3)] as [AuditEntry, AuditEntry, AuditEntry];
    await sink.write(new ChainStream("other").link([b]));
    const ours = new ChainStream("ours");

    const outcome = await linkAndWrite(sink, ours, [a, b, c], policy);

    expect(outcome.storedElsewhere).toEqual(new Set([b.id]));
    expect(outcome.written).toBe(2);
    expect(sink.rows.get(b.id)?.streamId).toBe("other");
    expect(rowsOf(sink, "ours").map((r) => [r.id, r.seq])).toEqual([
      [a.id, 1],
      [c.id, 2],
    ]);
    await linkAndWrite(sink, ours, [entry(4)], policy);
    expect(rowsOf(sink, "ours").map((r) => r.seq)).toEqual([1, 2, 3]);
    expect(verifyChain({ rows: [...sink.rows.values()] })).toMatchObject({ ok: true, streams: 2, entries: 4 });
    expect(ours.report()).toMatchObject({ from: 0, size: 3 });
  });

  it("keeps the part a poison split committed before the refusal: linked again, it is the same and skipped", async () => {
    const sink = new LinkCheckingSink();
    const [a, poison, b, taken, c] = [entry(1), entry(2, "poison"), entry(3), entry(4), entry(5)] as [
      AuditEntry,
      AuditEntry,
      AuditEntry,
      AuditEntry,
      AuditEntry,
    ];
    await sink.write(new ChainStream("other").link([taken]));
    const ours = new ChainStream("ours");

    const outcome = await linkAndWrite(sink, ours, [a, poison, b, taken, c], policy);

    expect(outcome.storedElsewhere).toEqual(new Set([taken.id]));
    expect(outcome.deadLetters.map((l) => [l.entry.id, (l.entry as ChainedEntry).seq])).toEqual([[poison.id, 2]]);
    expect(rowsOf(sink, "ours").map((r) => [r.id, r.seq])).toEqual([
      [a.id, 1],
      [b.id, 3],
      [c.id, 4],
    ]);
    expect(verifyChain({ rows: [...sink.rows.values()], deadLettered: new Set(["ours:2"]) }).ok).toBe(true);
  });

  it("throws any other error as writeWithRetry does, and one naming none of the batch rather than loop", async () => {
    const stranger = new EntriesStoredElsewhereError(["not-in-this-batch"]);
    const sink: AuditSink = {
      write: () => Promise.reject(stranger),
      deadLetter: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    await expect(linkAndWrite(sink, new ChainStream("s"), [entry(1)], policy)).rejects.toBe(stranger);
  });
});
