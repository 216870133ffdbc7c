/**
 * tailEntries on a real database: only entries that land after the start, each once, across polls
 * capped at maxPerPoll (batches may land out of order); filtered; ending when its signal aborts.
 */
import { testProviders } from "@auditrail/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EntryOut } from "../src/audit-query.ts";
import { tailEntries } from "../src/live-tail.ts";
import { type Harness, startHarness } from "./harness.ts";

describe.each(testProviders())("the live tail's polling on %s", (provider) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(provider);
  });
  afterAll(() => h?.close());

  it("yields every matching entry written after the start exactly once, even past maxPerPoll, and stops on abort", async () => {
    const at = (i: number) => new Date(Date.now() - 5_000 + i);
    await h.writer.record({ action: "tail.before", entity: "T", occurredAt: at(0) });
    await h.flush();
    const stop = new AbortController();
    const tail = tailEntries(h.db.prisma, h.db.provider, { action: "tail.*" }, stop.signal, { intervalMs: 20, maxPerPoll: 5 });
    const seen: EntryOut[] = [];
    const reading = (async () => {
      for await (const entry of tail) {
        seen.push(entry);
        if (seen.length === 12) stop.abort();
      }
    })();
    // Let the tail take its starting point, then write 12 entries (and one it must not show).
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 1; i <= 12; i++) await h.writer.record({ action: "tail.after", entity: "T", entityId: String(i), occurredAt: at(i) });
    await h.writer.record({ action: "other.after", entity: "T", occurredAt: at(13) });
    await h.flush();
    await reading;
    expect(seen.map((e) => Number(e.entityId)).sort((a, b) => a - b)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
  });
});
