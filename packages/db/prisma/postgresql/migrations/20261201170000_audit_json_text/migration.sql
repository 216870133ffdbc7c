-- The audit entry's JSON columns become json (was jsonb). json keeps the text it is given — the
-- sinks give each value's canonical JSON, the text the chain hash covers — and accepts only one
-- whole JSON value, so verify hashes that text as stored instead of parsing and re-serialising
-- every value. Rows stored before keep jsonb's rendering of their value (not canonical): verify
-- parses those, as it does any text that does not give the hash as it is.
-- AlterTable
ALTER TABLE "AuditEntry"
  ALTER COLUMN "before" SET DATA TYPE JSON USING "before"::text::json,
  ALTER COLUMN "after" SET DATA TYPE JSON USING "after"::text::json,
  ALTER COLUMN "diff" SET DATA TYPE JSON USING "diff"::text::json,
  ALTER COLUMN "metadata" SET DATA TYPE JSON USING "metadata"::text::json;
