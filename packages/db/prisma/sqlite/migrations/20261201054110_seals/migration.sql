-- CreateTable
CREATE TABLE "AuditSeal" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "trail" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "sealedAt" DATETIME NOT NULL,
    "note" TEXT NOT NULL
);

-- CreateTable
CREATE TABLE "AuditStreamHead" (
    "streamId" TEXT NOT NULL PRIMARY KEY,
    "seq" INTEGER NOT NULL,
    "hash" TEXT
);

-- CreateIndex
CREATE UNIQUE INDEX "AuditSeal_trail_number_key" ON "AuditSeal"("trail", "number");

-- CreateIndex
CREATE INDEX "AuditEntry_streamId_seq_idx" ON "AuditEntry"("streamId", "seq");

-- ── Append-only (issue 10). Custom SQL: Prisma's schema language has no triggers. ──────────────
-- SQLite has no roles: UPDATE is refused outright (DeadLetter: except its replay bookkeeping) and
-- DELETE only passes on a connection that registered the function auditrail_purging() and has it
-- return 1 — the retention purge's own connection (packages/db/src/retention.ts). On any other
-- connection a DELETE fails ("no such function: auditrail_purging" or the RAISE below). Whoever
-- can write the file can drop these triggers; the signed seals are what catch that.
CREATE TRIGGER "AuditEntry_no_update" BEFORE UPDATE ON "AuditEntry"
BEGIN SELECT RAISE(ABORT, 'AuditEntry is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER "AuditEntry_no_delete" BEFORE DELETE ON "AuditEntry" WHEN auditrail_purging() IS NOT 1
BEGIN SELECT RAISE(ABORT, 'AuditEntry is append-only: DELETE is not allowed (expired entries go through the retention purge)'); END;
CREATE TRIGGER "AuditSeal_no_update" BEFORE UPDATE ON "AuditSeal"
BEGIN SELECT RAISE(ABORT, 'AuditSeal is append-only: UPDATE is not allowed'); END;
CREATE TRIGGER "AuditSeal_no_delete" BEFORE DELETE ON "AuditSeal" WHEN auditrail_purging() IS NOT 1
BEGIN SELECT RAISE(ABORT, 'AuditSeal is append-only: DELETE is not allowed'); END;
CREATE TRIGGER "DeadLetter_append_only" BEFORE UPDATE ON "DeadLetter"
  WHEN NEW."id" IS NOT OLD."id" OR NEW."entry" IS NOT OLD."entry" OR NEW."failedAt" IS NOT OLD."failedAt"
BEGIN SELECT RAISE(ABORT, 'DeadLetter is append-only: only replayedAt, error and attempts may change'); END;
CREATE TRIGGER "DeadLetter_no_delete" BEFORE DELETE ON "DeadLetter" WHEN auditrail_purging() IS NOT 1
BEGIN SELECT RAISE(ABORT, 'DeadLetter is append-only: DELETE is not allowed'); END;
