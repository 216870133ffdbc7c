import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type SealedTrail, type TrailTemplate, createSealedTrail } from "../test/sealed-trail.ts";
import { deadLetterLines } from "./export-lines.ts";
import { ExportFormatError, verifyExportFile } from "./export-verify.ts";
import { testProviders } from "./testing.ts";
import { openTrailRows } from "./trail-rows.ts";

/** The trail as the API's NDJSON export writes it: every row with its chain fields, then the dead letters. */
async function exportLines(t: SealedTrail, withDeadLetters: boolean): Promise<string> {
  const rows = await openTrailRows(t.db.url);
  let text = "";
  try {
    for (const streamId of await rows.streams()) {
      for (const row of await rows.range(streamId, 0, 2 ** 31 - 1)) text += `${JSON.stringify(row)}\n`;
    }
  } finally {
    await rows.close();
  }
  if (withDeadLetters) for await (const line of deadLetterLines(t.handle.prisma)) text += line;
  return text;
}

describe.each(testProviders())("verifying an NDJSON export on %s", (provider) => {
  let template: TrailTemplate;
  let t: SealedTrail;
  let dir: string;
  beforeAll(async () => {
    template = await createSealedTrail(provider);
    t = await template.copy();
    dir = await mkdtemp(join(tmpdir(), "auditrail-export-test-"));
  });
  afterAll(async () => {
    await t?.close();
    await template?.drop();
    await rm(dir, { recursive: true, force: true });
  });

  const verifyText = async (text: string) => {
    const file = join(dir, `export-${Math.random().toString(36).slice(2)}.ndjson`);
    await writeFile(file, text);
    return verifyExportFile(file, { publicKey: t.publicKey, anchoredSeals: t.anchored, graceMs: 0 });
  };

  it("carries the dead letters at their stream positions: the export verifies as the database does", async () => {
    const text = await exportLines(t, true);
    expect(text).toMatch(/^\{"deadLetter":\{/m);
    const fromDatabase = await t.verify();
    const fromExport = await verifyText(text);
    expect(fromDatabase.ok).toBe(true);
    expect(fromExport).toMatchObject({ ok: true, entries: fromDatabase.entries, streams: fromDatabase.streams });
  });

  it("without its dead-letter lines, names the dead-lettered seq deleted", async () => {
    const report = await verifyText(await exportLines(t, false));
    expect(report.ok).toBe(false);
    expect(report.problems.map((p) => p.kind)).toContain("deleted");
  });

  it("refuses a line that is neither an entry nor a dead letter, naming the line", async () => {
    await expect(verifyText('{"deadLetter":null}\n')).rejects.toThrow(ExportFormatError);
    await expect(verifyText("42\n")).rejects.toThrow(/:1: not an exported audit entry nor a dead letter/);
  });
});
