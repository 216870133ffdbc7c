/**
 * Scenario 5: poison entries mixed into steady load — ones a CHECK constraint (PostgreSQL) or
 * trigger (SQLite) rejects, and oversized ones a size constraint rejects. They are dead-lettered
 * with their error and listable; every neighbour is written; once the cause is fixed they replay.
 */
import { type AuditEvent, createAuditWriter } from "@auditrail/audit-core";
import type { DatabaseHandle } from "@auditrail/db";
import { listDeadLetters, replayDeadLetters } from "@auditrail/db/dead-letters";
import { sqlSinkSpec } from "@auditrail/db/sink";
import { runRawSql } from "@auditrail/db/testing";
import { afterEach, describe, expect, it } from "vitest";
import { printAccounting, reconcile, storedIds } from "../src/accounting.ts";
import { defaultEvent, startLoad } from "../src/load.ts";
import { Scope, providers, sleep } from "./helpers.ts";

const MAX_METADATA = 4_096;

const isRejectedAction = (n: number) => n % 40 === 7;
const isOversized = (n: number) => n % 97 === 13;

function event(n: number): AuditEvent {
  if (isRejectedAction(n)) return { ...defaultEvent(n), action: "poison.rejected" };
  if (isOversized(n)) return { ...defaultEvent(n), metadata: { n, blob: "x".repeat(MAX_METADATA * 2) } };
  return defaultEvent(n);
}

/** Database-side causes, each with its fix. */
async function addCauses(handle: DatabaseHandle): Promise<{ fixRejected: () => Promise<void>; fixOversized: () => Promise<void> }> {
  const sql = (text: string) => handle.prisma.$executeRawUnsafe(text);
  if (handle.provider === "sqlite") {
    await sql(`CREATE TRIGGER reject_action BEFORE INSERT ON "AuditEntry" WHEN NEW."action" = 'poison.rejected'
               BEGIN SELECT RAISE(ABORT, 'poison entry rejected'); END`);
    await sql(`CREATE TRIGGER reject_oversized BEFORE INSERT ON "AuditEntry" WHEN length(NEW."metadata") > ${MAX_METADATA}
               BEGIN SELECT RAISE(ABORT, 'metadata oversized'); END`);
    return {
      fixRejected: async () => void (await sql(`DROP TRIGGER reject_action`)),
      fixOversized: async () => void (await sql(`DROP TRIGGER reject_oversized`)),
    };
  }
  // PostgreSQL: as the owner — the application's role (the test's connection) may not alter tables.
  const owner = (text: string) => runRawSql(handle.url, text);
  await owner(`ALTER TABLE "AuditEntry" ADD CONSTRAINT reject_action CHECK ("action" <> 'poison.rejected')`);
  await owner(`ALTER TABLE "AuditEntry" ADD CONSTRAINT metadata_oversized CHECK (octet_length("metadata"::text) <= ${MAX_METADATA})`);
  return {
    fixRejected: () => owner(`ALTER TABLE "AuditEntry" DROP CONSTRAINT reject_action`),
    fixOversized: () => owner(`ALTER TABLE "AuditEntry" DROP CONSTRAINT metadata_oversized`),
  };
}

describe.each(providers)("scenario 5: poison entries on %s", (provider) => {
  const scope = new Scope();
  afterEach(() => scope.close());

  it("dead-letters poison (constraint-violating, oversized) with its error, writes every neighbour, replays once the cause is fixed", async () => {
    const { db, handle } = await scope.database(provider);
    const causes = await addCauses(handle);
    const spoolDir = await scope.tempDir();
    const writer = scope.writer(
      await createAuditWriter({
        sink: sqlSinkSpec({ url: db.url }),
        spoolDir,
        maxWorkers: 2,
        maxBatchSize: 200,
        retry: { initialDelayMs: 10, maxDelayMs: 100 },
      }),
    );
    const kinds = new Map<string, "rejected" | "oversized">();
    const load = startLoad(writer, {
      ratePerSec: 600,
      concurrency: 8,
      event,
      onRecorded: (receipt, n) => {
        if (isRejectedAction(n)) kinds.set(receipt.id, "rejected");
        else if (isOversized(n)) kinds.set(receipt.id, "oversized");
      },
    });
    await sleep(2_500);
    const result = await load.stop();
    await writer.flush();
    const recorded = result.receipts.map((r) => r.id);
    const poison = [...kinds.keys()];
    const oversized = poison.filter((id) => kinds.get(id) === "oversized");
    expect(oversized.length).toBeGreaterThan(0);
    expect(poison.length).toBeGreaterThan(oversized.length);

    // Dead-lettered, listed with their error; every neighbour written, nothing twice.
    const letters = await listDeadLetters(handle);
    expect(new Set(letters.map((l) => l.id))).toEqual(new Set(poison));
    for (const letter of letters) {
      const expected =
        kinds.get(letter.id) === "oversized"
          ? provider === "sqlite"
            ? /metadata oversized/
            : /metadata_oversized/
          : provider === "sqlite"
            ? /poison entry rejected/
            : /reject_action/;
      expect(letter.error).toMatch(expected);
      expect((letter.entry as { id: string }).id).toBe(letter.id);
    }
    const beforeFix = reconcile({ recorded, stored: await storedIds(handle), deadLettered: letters.map((l) => l.id) });
    expect(beforeFix).toMatchObject({ lost: [], unexpected: [], duplicates: [] });
    expect(beforeFix.written).toBe(recorded.length - poison.length);
    const stats = writer.stats();
    expect(stats).toMatchObject({ recorded: recorded.length, written: recorded.length - poison.length, deadLettered: poison.length });

    // Fix one cause: only its letters replay; the others stay pending with the new error counted.
    await causes.fixRejected();
    const first = await replayDeadLetters(db.url);
    expect(first.replayed).toBe(poison.length - oversized.length);
    expect(new Set(first.failed.map((f) => f.id))).toEqual(new Set(oversized));
    const pending = await listDeadLetters(handle);
    expect(new Set(pending.map((l) => l.id))).toEqual(new Set(oversized));
    expect(pending.every((l) => l.attempts >= 2)).toBe(true);

    // Fix the other: the rest replays; a second replay finds nothing to do.
    await causes.fixOversized();
    const second = await replayDeadLetters(db.url);
    expect(second).toEqual({ replayed: oversized.length, failed: [] });
    expect(await replayDeadLetters(db.url)).toEqual({ replayed: 0, failed: [] });
    expect(await listDeadLetters(handle)).toEqual([]);
    const all = await listDeadLetters(handle, { pending: false });
    expect(all).toHaveLength(poison.length);
    expect(all.every((l) => l.replayedAt !== null)).toBe(true);

    const stored = await storedIds(handle);
    const after = reconcile({ recorded, stored });
    printAccounting(`poison-${provider}`, {
      recorded: recorded.length,
      written: beforeFix.written,
      deadLettered: poison.length,
      spilled: stats.spilled,
      replayed: first.replayed + second.replayed,
      lost: after.lost.length,
      extra: { rejected: poison.length - oversized.length, oversized: oversized.length, writtenAfterReplay: after.written },
    });
    expect(after).toMatchObject({ lost: [], unexpected: [], duplicates: [] });
    expect(stored).toHaveLength(recorded.length);
  });
});
