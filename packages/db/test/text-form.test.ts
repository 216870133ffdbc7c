/**
 * One text form, stored as hashed; dead letters that cannot be refused; the fallback file listed,
 * replayed and known to verify — on SQLite and PostgreSQL.
 */
import { appendFile, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import {
  type AuditEntry,
  ChainStream,
  DEAD_LETTER_FILE,
  type DeadLetter,
  Sealer,
  createAuditWriter,
  stampEvent,
  uuidv7,
} from "@auditrail/audit-core";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type DatabaseHandle, createDatabase } from "../src/client.ts";
import { importDeadLetterFile, listDeadLetters, replayDeadLetters } from "../src/dead-letters.ts";
import { readAnchoredSeals } from "../src/anchors.ts";
import { createSink, sqlSinkSpec } from "../src/sink.ts";
import { type TestDatabase, clearAuditTrail, createTestDatabase, testProviders } from "../src/testing.ts";
import { verifyAuditTrail } from "../src/verify.ts";

/**
 * Verify needs a seal over what it finds (a trail with rows and no seal is `seal-missing`), so each
 * test seals what it wrote into anchors under its spool directory and verifies from those.
 */
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const openSealer = (url: string, spoolDir: string) =>
  Sealer.open({
    trail: "clinic",
    signingKey: privateKey,
    anchorDir: join(spoolDir, "anchors"),
    sink: sqlSinkSpec({ url }),
    sealEveryMs: 60_000,
  });
const verifySealed = async (url: string, anchorsIn: string, letters?: { spoolDir: string }) =>
  verifyAuditTrail({
    url,
    publicKey,
    anchoredSeals: await readAnchoredSeals({ dir: join(anchorsIn, "anchors") }),
    graceMs: 0,
    ...(letters ? { spoolDir: letters.spoolDir } : {}),
  });

const run = promisify(execFile);
const packageRoot = fileURLToPath(new URL("..", import.meta.url));
const BAD = "x\ud800y\u0000z\udfff";
const GOOD = "x\ufffdy\ufffdz\ufffd";

describe.each(testProviders())("text form and dead letters on %s", (provider) => {
  let db: TestDatabase;
  let handle: DatabaseHandle;
  let spoolDir: string;

  beforeAll(async () => {
    db = await createTestDatabase(provider);
    handle = createDatabase(db.url);
  });
  afterEach(async () => {
    await clearAuditTrail(handle);
    await rm(spoolDir, { recursive: true, force: true });
  });
  afterAll(async () => {
    await handle?.close();
    await db?.drop();
  });

  it("stores an entry with NUL and lone surrogates in every field as one row, exactly as hashed, and verify says OK", async () => {
    spoolDir = await mkdtemp(join(tmpdir(), "auditrail-text-"));
    const sealer = await openSealer(db.url, spoolDir);
    const writer = await createAuditWriter({
      sink: sqlSinkSpec({ url: db.url }),
      spoolDir,
      sealer,
      onError: (e) => {
        throw e;
      },
    });
    const receipt = await writer.record({
      action: `auth.login${BAD}`,
      entity: BAD,
      entityId: BAD,
      outcome: BAD,
      actor: { id: BAD, role: BAD },
      path: BAD,
      before: { [BAD]: BAD, list: [BAD, { [`k${BAD}`]: 1 }] },
      after: BAD,
      diff: [{ path: `/${BAD}`, value: BAD }],
      metadata: { email: `x${BAD}@clinic.test` },
      requestId: BAD,
      ip: BAD,
      userAgent: BAD,
    });
    await writer.flush();
    await writer.close();
    const rows = await handle.prisma.auditEntry.findMany();
    expect(rows).toHaveLength(1);
    expect(await handle.prisma.deadLetter.count()).toBe(0);
    const row = rows[0] as (typeof rows)[number];
    expect(row).toMatchObject({
      id: receipt.id,
      action: `auth.login${GOOD}`,
      entity: GOOD,
      entityId: GOOD,
      outcome: GOOD,
      actorId: GOOD,
      actorRole: GOOD,
      path: GOOD,
      requestId: GOOD,
      ip: GOOD,
      userAgent: GOOD,
      after: GOOD,
    });
    expect(row.before).toEqual({ [GOOD]: GOOD, list: [GOOD, { [`k${GOOD}`]: 1 }] });
    expect(row.metadata).toEqual({ email: `x${GOOD}@clinic.test` });
    await sealer.seal();
    await sealer.close();
    expect(await verifySealed(db.url, spoolDir)).toMatchObject({ ok: true, problems: [], unsealed: 0 });
  });

  it("keeps a dead letter whatever its text (the entry as text, not jsonb) and lists it parsed", async () => {
    spoolDir = await mkdtemp(join(tmpdir(), "auditrail-text-"));
    // Built by hand, past normalisation: what an older writer (or a bug) could hand over.
    const raw: AuditEntry = { ...stampEvent({ action: "a.b", entity: "E" }, undefined), userAgent: BAD, metadata: { [BAD]: BAD } };
    const sink = createSink({ url: db.url });
    await sink.deadLetter([{ entry: raw, error: "rejected", attempts: 1, failedAt: new Date().toISOString() }]);
    await sink.close();
    const [letter, ...rest] = await listDeadLetters(handle);
    expect(rest).toEqual([]);
    expect(letter).toMatchObject({ id: raw.id, source: "table", error: "rejected" });
    expect(letter?.entry).toEqual(JSON.parse(JSON.stringify(raw)));
  });

  it("lists letters waiting in the fallback file, imports and replays them, and verify knows them meanwhile", async () => {
    spoolDir = await mkdtemp(join(tmpdir(), "auditrail-text-"));
    // A chain of three whose middle entry was dead-lettered while the database was unreachable.
    const stream = new ChainStream();
    const [first, middle, last] = stream.link(
      [1, 2, 3].map((i) => stampEvent({ action: "patient.read", entity: "Patient", entityId: `p-${i}` }, undefined)),
    );
    const sink = createSink({ url: db.url });
    await sink.write([first as AuditEntry, last as AuditEntry]);
    await sink.close();
    const sealer = await openSealer(db.url, spoolDir);
    sealer.report(stream.report());
    await sealer.seal();
    await sealer.close();
    const letter: DeadLetter = { entry: middle as AuditEntry, error: "value too long", attempts: 1, failedAt: new Date().toISOString() };
    await appendFile(join(spoolDir, DEAD_LETTER_FILE), `${JSON.stringify(letter)}\n`);

    expect(await verifySealed(db.url, spoolDir)).toMatchObject({ ok: false }); // without the file: a gap
    expect(await verifySealed(db.url, spoolDir, { spoolDir })).toMatchObject({ ok: true, problems: [] });
    const listed = await listDeadLetters(handle, { spoolDir });
    expect(listed.map((l) => [l.id, l.source])).toEqual([[middle?.id, "file"]]);

    const report = await replayDeadLetters(db.url, { spoolDir });
    expect(report).toEqual({ replayed: 1, failed: [] });
    expect((await readdir(spoolDir)).filter((f) => f.startsWith("dead-letters"))).toEqual([]);
    expect(await handle.prisma.auditEntry.count()).toBe(3);
    expect(await listDeadLetters(handle, { spoolDir })).toEqual([]);
    expect(await verifySealed(db.url, spoolDir)).toMatchObject({ ok: true, problems: [] });
    expect(await importDeadLetterFile(db.url, spoolDir)).toBe(0); // nothing left to import
  });

  it("the dead-letters CLI lists the fallback file's letters and replays them", async () => {
    spoolDir = await mkdtemp(join(tmpdir(), "auditrail-text-"));
    const entry = stampEvent({ action: "patient.read", entity: "Patient", entityId: "p-cli" }, undefined);
    await appendFile(
      join(spoolDir, DEAD_LETTER_FILE),
      `${JSON.stringify({ entry, error: "e", attempts: 1, failedAt: new Date().toISOString() })}\n`,
    );
    const cli = (...args: string[]) =>
      run(join(packageRoot, "node_modules", ".bin", "tsx"), [join(packageRoot, "scripts", "dead-letters.ts"), ...args], {
        env: { ...process.env, DATABASE_URL: db.url },
      });
    const listed = await cli("list", "--spool", spoolDir);
    expect(JSON.parse(listed.stdout.trim())).toMatchObject({ id: entry.id, source: "file" });
    const replayed = await cli("replay", "--spool", spoolDir);
    expect(JSON.parse(replayed.stdout)).toEqual({ replayed: 1, failed: [] });
    expect((await handle.prisma.auditEntry.findMany()).map((r) => r.id)).toEqual([entry.id]);
    await expect(cli("bogus")).rejects.toMatchObject({ code: 2, stderr: expect.stringContaining("usage: dead-letters") });
  });

  it("importing the fallback file twice keeps each letter once", async () => {
    spoolDir = await mkdtemp(join(tmpdir(), "auditrail-text-"));
    const entry = { ...stampEvent({ action: "a.b", entity: "E" }, undefined), id: uuidv7() };
    const line = `${JSON.stringify({ entry, error: "e", attempts: 1, failedAt: new Date().toISOString() })}\n`;
    await appendFile(join(spoolDir, DEAD_LETTER_FILE), line);
    expect(await importDeadLetterFile(db.url, spoolDir)).toBe(1);
    await appendFile(join(spoolDir, DEAD_LETTER_FILE), line);
    expect(await importDeadLetterFile(db.url, spoolDir)).toBe(1);
    expect(await handle.prisma.deadLetter.count()).toBe(1);
  });
});
