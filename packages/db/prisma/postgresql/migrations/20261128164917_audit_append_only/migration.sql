-- The audit trail is append-only: rows are inserted, never updated, and deleted only by the
-- retention purge (packages/db/src/retention.ts), which sets `auditrail.purge` for its own
-- transaction only. Custom SQL: Prisma's schema language has no triggers.

CREATE FUNCTION auditrail_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('auditrail.purge', true) = 'on' THEN
    RETURN OLD;
  END IF;
  RAISE EXCEPTION 'AuditEntry is append-only: % is not allowed (expired entries go through the retention purge)', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER "AuditEntry_append_only"
  BEFORE UPDATE OR DELETE ON "AuditEntry"
  FOR EACH ROW EXECUTE FUNCTION auditrail_append_only();

CREATE TRIGGER "AuditEntry_no_truncate"
  BEFORE TRUNCATE ON "AuditEntry"
  FOR EACH STATEMENT EXECUTE FUNCTION auditrail_append_only();
