-- CreateTable
CREATE TABLE "AuditSeal" (
    "id" TEXT NOT NULL,
    "trail" TEXT NOT NULL,
    "number" INTEGER NOT NULL,
    "sealedAt" TIMESTAMP(3) NOT NULL,
    "note" TEXT NOT NULL,

    CONSTRAINT "AuditSeal_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditStreamHead" (
    "streamId" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "hash" TEXT,

    CONSTRAINT "AuditStreamHead_pkey" PRIMARY KEY ("streamId")
);

-- CreateIndex
CREATE UNIQUE INDEX "AuditSeal_trail_number_key" ON "AuditSeal"("trail", "number");

-- CreateIndex
CREATE INDEX "AuditEntry_streamId_seq_idx" ON "AuditEntry"("streamId", "seq");

-- ── Append-only with no session-settable escape (issue 10) ─────────────────────────────────────
-- Custom SQL (Prisma's schema language has no triggers, roles or functions).
--
-- The earlier trigger let any session `SET LOCAL auditrail.purge = 'on'` and then DELETE. Now a
-- DELETE of audit rows is allowed only while running as the owner of auditrail_purge(), which is
-- what that SECURITY DEFINER function does. The application connects as a role that is NOT the
-- owner and holds only INSERT/SELECT on the audit tables (+ EXECUTE on the purge): grant it the
-- group role auditrail_app created below (see the README, "Threat model").

CREATE OR REPLACE FUNCTION auditrail_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND TG_TABLE_NAME = 'AuditEntry' AND current_user::regrole::oid =
     (SELECT proowner FROM pg_proc WHERE oid = 'auditrail_purge(timestamp, jsonb)'::regprocedure) THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION '% is append-only: % is not allowed (expired entries go through the retention purge)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Dead letters: the entry, its id and when it failed never change; replay bookkeeping may.
CREATE FUNCTION auditrail_dead_letter_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW."id" IS DISTINCT FROM OLD."id" OR NEW."entry"::text IS DISTINCT FROM OLD."entry"::text
     OR NEW."failedAt" IS DISTINCT FROM OLD."failedAt" THEN
    RAISE EXCEPTION 'DeadLetter is append-only: only replayedAt, error and attempts may change'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;

/*
 * The retention purge, the one way audit rows leave. `cuts` is [{ "streamId": text, "lastSeq": int }]:
 * each stream loses the prefix up to lastSeq, which must hold only rows older than `older_than`
 * (a prefix, so no stream is left with a hole; the caller records where each stream now starts in
 * a purge entry that a signed seal then covers). Unchained rows older than `older_than` go too,
 * except earlier purge entries. Returns the number of rows deleted.
 */
CREATE FUNCTION auditrail_purge(older_than timestamp, cuts jsonb) RETURNS integer
  LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
DECLARE
  cut jsonb;
  n integer;
  total integer := 0;
BEGIN
  FOR cut IN SELECT * FROM jsonb_array_elements(cuts) LOOP
    IF EXISTS (SELECT 1 FROM "AuditEntry" WHERE "streamId" = cut->>'streamId' AND "seq" <= (cut->>'lastSeq')::int
               AND "occurredAt" >= older_than) THEN
      RAISE EXCEPTION 'auditrail_purge: stream % has entries younger than % at or below seq %', cut->>'streamId', older_than, cut->>'lastSeq'
        USING ERRCODE = 'check_violation';
    END IF;
    DELETE FROM "AuditEntry" WHERE "streamId" = cut->>'streamId' AND "seq" <= (cut->>'lastSeq')::int;
    GET DIAGNOSTICS n = ROW_COUNT;
    total := total + n;
  END LOOP;
  DELETE FROM "AuditEntry" WHERE "streamId" IS NULL AND "occurredAt" < older_than AND "action" <> 'audit.purge';
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN total + n;
END;
$$;

DROP TRIGGER "AuditEntry_append_only" ON "AuditEntry";
DROP TRIGGER "AuditEntry_no_truncate" ON "AuditEntry";
CREATE TRIGGER "AuditEntry_append_only" BEFORE UPDATE OR DELETE ON "AuditEntry"
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_append_only();
CREATE TRIGGER "AuditEntry_no_truncate" BEFORE TRUNCATE ON "AuditEntry"
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_append_only();
CREATE TRIGGER "AuditSeal_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "AuditSeal"
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_append_only();
CREATE TRIGGER "DeadLetter_no_delete" BEFORE DELETE OR TRUNCATE ON "DeadLetter"
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_append_only();
CREATE TRIGGER "DeadLetter_append_only" BEFORE UPDATE ON "DeadLetter"
  FOR EACH ROW EXECUTE FUNCTION auditrail_dead_letter_guard();

-- The application's role: full use of the clinic tables, INSERT/SELECT on the audit tables, the
-- replay bookkeeping columns of DeadLetter, and the purge function. Roles are cluster-wide: made
-- once, by whichever database migrates first.
DO $$
BEGIN
  CREATE ROLE auditrail_app NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
DO $$
BEGIN
  EXECUTE format('GRANT USAGE ON SCHEMA %I TO auditrail_app', current_schema());
  EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO auditrail_app', current_schema());
  EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO auditrail_app', current_schema());
END
$$;
REVOKE UPDATE, DELETE, TRUNCATE ON "AuditEntry", "DeadLetter", "AuditSeal" FROM auditrail_app;
GRANT UPDATE ("replayedAt", "error", "attempts") ON "DeadLetter" TO auditrail_app;
REVOKE ALL ON FUNCTION auditrail_purge(timestamp, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auditrail_purge(timestamp, jsonb) TO auditrail_app;
