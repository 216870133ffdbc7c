/**
 * The PostgreSQL audit sink: a small pg pool of its own (one per worker). A batch is ONE
 * statement whatever its size: each column travels as one array parameter and `unnest` turns
 * the arrays back into rows, `ON CONFLICT DO NOTHING` skips ids already stored.
 */
import { type AuditEntry, type AuditSink, type DeadLetter, type ErrorKind, type SignedSeal, sealHash } from "@auditrail/audit-core";
import pg from "pg";
import { AUDIT_COLUMNS, auditRow, quoted } from "./audit-rows.ts";

const COLUMN_TYPES: Record<(typeof AUDIT_COLUMNS)[number], string> = {
  id: "text", occurredAt: "timestamp(3)", actorId: "text", actorRole: "text", action: "text",
  entity: "text", entityId: "text", outcome: "text", path: "text", durationMs: "float8",
  before: "jsonb", after: "jsonb", diff: "jsonb", metadata: "jsonb", requestId: "text", ip: "text",
  userAgent: "text", streamId: "text", seq: "int", prevHash: "text", hash: "text",
};

const INSERT_ENTRIES =
  `INSERT INTO "AuditEntry" (${AUDIT_COLUMNS.map(quoted).join(", ")}) ` +
  // occurredAt is ISO-8601 UTC text; cast to timestamp(3) (no zone) PostgreSQL keeps the UTC wall time.
  `SELECT * FROM unnest(${AUDIT_COLUMNS.map((c, i) => `$${i + 1}::${COLUMN_TYPES[c]}[]`).join(", ")}) ` +
  `ON CONFLICT ("id") DO NOTHING`;

const INSERT_LETTERS =
  `INSERT INTO "DeadLetter" ("id", "entry", "error", "attempts", "failedAt") ` +
  `SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamp(3)[]) ` +
  `ON CONFLICT ("id") DO NOTHING`;

export interface PostgresSinkOptions {
  readonly poolSize: number;
  readonly connectTimeoutMs: number;
  readonly queryTimeoutMs: number;
}

/** pg's own timeout errors carry no code; they mean "try again", never "bad data". */
const PG_TIMEOUTS = /^(Query read timeout|timeout expired|timeout exceeded when trying to connect|Connection terminated due to connection timeout)$/;

export class PostgresAuditSink implements AuditSink {
  private readonly pool: pg.Pool;

  constructor(url: string, options: PostgresSinkOptions) {
    this.pool = new pg.Pool({
      connectionString: url,
      max: options.poolSize,
      // A silent connection must not hold its pooled client forever (see SqlSinkOptionsSchema):
      // on either timeout pg fails the call and the pool drops (destroys) that client.
      connectionTimeoutMillis: options.connectTimeoutMs,
      query_timeout: options.queryTimeoutMs,
    });
    // An idle connection dropped by the server must not crash the worker; the next query reconnects.
    this.pool.on("error", () => undefined);
  }

  classify(error: unknown): ErrorKind | undefined {
    return error instanceof Error && PG_TIMEOUTS.test(error.message) ? "retryable" : undefined;
  }

  async write(entries: readonly AuditEntry[]): Promise<void> {
    const columns: unknown[][] = AUDIT_COLUMNS.map(() => []);
    for (const entry of entries) {
      auditRow(entry).forEach((value, i) => (columns[i] as unknown[]).push(value));
    }
    await this.pool.query(INSERT_ENTRIES, columns);
  }

  async existing(ids: readonly string[]): Promise<ReadonlySet<string>> {
    // Dead letters count too: a rejected entry replayed again must not take a new place in a chain.
    const { rows } = await this.pool.query<{ id: string }>(
      `SELECT "id" FROM "AuditEntry" WHERE "id" = ANY($1::text[]) UNION SELECT "id" FROM "DeadLetter" WHERE "id" = ANY($1::text[])`,
      [ids],
    );
    return new Set(rows.map((r) => r.id));
  }

  async deadLetter(letters: readonly DeadLetter[]): Promise<void> {
    await this.pool.query(INSERT_LETTERS, [
      letters.map((l) => l.entry.id),
      letters.map((l) => JSON.stringify(l.entry)),
      letters.map((l) => l.error),
      letters.map((l) => l.attempts),
      letters.map((l) => l.failedAt),
    ]);
  }

  /** Keeps a signed seal (a copy: verify trusts the anchors), skipping one already stored. */
  async storeSeal(signed: SignedSeal): Promise<void> {
    const { seal } = signed;
    await this.pool.query(
      `INSERT INTO "AuditSeal" ("id", "trail", "number", "sealedAt", "note") VALUES ($1, $2, $3, $4::timestamp(3), $5) ON CONFLICT DO NOTHING`,
      [sealHash(signed), seal.trail, seal.number, seal.time, signed.text],
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
