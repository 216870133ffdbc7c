/**
 * The audit trail itself, for auditors and admins only: list (filters + cursor), get, stats.
 * Reading the trail is audited too. The streamed export (NDJSON / CSV) is a plain HTTP route next
 * to tRPC: see ../export.ts for why.
 */
import { TRPCError, type TRPCRouterRecord } from "@trpc/server";
import { z } from "zod";
import { AUDIT_ORDER, AuditFilter, AuditKey, auditWhere, entryOut, keyOf } from "../audit-query.ts";
import { Cursor, Limit, decodeCursor, pageOf } from "../pagination.ts";
import { Id, Instant, toDate } from "../schemas.ts";
import { type EntryProof, messageOf } from "@auditrail/audit-core";
import { ProofUnavailableError, buildEntryProof, purgeAuditEntries, verifyOffThread } from "@auditrail/db";
import type { Context } from "../context.ts";
import type { SealServices } from "../sealing.ts";
import { RETRY_LIMITS, retryConflicts } from "../transact.ts";
import { allowed, notFound } from "../trpc.ts";

/** The shortest retention the purge accepts: nothing younger than this can be purged. */
export const MINIMUM_RETENTION_DAYS = 30;

export const AuditList = AuditFilter.extend({ limit: Limit(200, 50), cursor: Cursor.optional() });

export const auditRouter = {
  list: allowed("read audit")
    .meta({ audit: { action: "audit.list", entity: "AuditEntry" } })
    .input(AuditList)
    .query(async ({ ctx, input }) => {
      const { limit, cursor, ...filter } = input;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, AuditKey);
      const rows = await ctx.prisma.auditEntry.findMany({ where: auditWhere(ctx.provider, filter, after), orderBy: AUDIT_ORDER, take: limit + 1 });
      const page = pageOf(rows, limit, keyOf, entryOut);
      ctx.audit.annotate({ filter, count: page.items.length });
      return page;
    }),

  get: allowed("read audit")
    .meta({ audit: { action: "audit.read", entity: "AuditEntry", id: "input.id" } })
    .input(z.strictObject({ id: Id }))
    .query(async ({ ctx, input }) => {
      const row = await ctx.prisma.auditEntry.findUnique({ where: { id: input.id } });
      if (!row) throw notFound("audit entry", input.id);
      return entryOut(row);
    }),

  /**
   * Verifies the trail against the signed seals kept outside the database (the public key and the
   * anchors come from the server's configuration, never from the database), in a worker thread so
   * the API keeps answering meanwhile. Reports every break (at most `maxProblems` listed) and how
   * many entries are younger than the newest seal.
   */
  verify: allowed("verify audit")
    .meta({ audit: { action: "audit.verify", entity: "AuditEntry", kind: "access" } })
    .input(z.strictObject({ maxProblems: z.number().int().min(1).max(10_000).default(100) }).default({ maxProblems: 100 }))
    .query(async ({ ctx, input }) => {
      const seals = sealsOf(ctx);
      const report = await verifyOffThread({ url: seals.url, publicKeyPem: seals.publicKeyPem, anchors: seals.anchors, maxProblems: input.maxProblems }).catch(
        (error: unknown) => {
          throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `verify could not run: ${messageOf(error)}` });
        },
      );
      ctx.audit.annotate({ ok: report.ok, streams: report.streams, entries: report.entries, problems: report.problemCount, unsealed: report.unsealed });
      return report;
    }),

  /**
   * An entry with its Merkle inclusion path and the signed seal that covers it: checkable offline
   * with the public key alone (`audit:verify --proof FILE --public-key FILE`, or audit-core's
   * verifyProof). PRECONDITION_FAILED while no seal covers the entry yet.
   */
  proof: allowed("read audit")
    .meta({ audit: { action: "audit.proof", entity: "AuditEntry", id: "input.id" } })
    .input(z.strictObject({ id: Id }))
    .query(async ({ ctx, input }) => {
      const seals = sealsOf(ctx);
      let proof: EntryProof | undefined;
      try {
        proof = await buildEntryProof(seals.url, input.id);
      } catch (error) {
        if (error instanceof ProofUnavailableError) throw new TRPCError({ code: "PRECONDITION_FAILED", message: error.message });
        throw error;
      }
      if (!proof) throw notFound("audit entry", input.id);
      return proof;
    }),

  /**
   * Retention: deletes entries older than `olderThan` through the one controlled path (whole
   * stream prefixes, one transaction, recorded as an `audit.purge` entry), then has the sealer sign
   * the streams' new starts at once, so verify accepts the purge. Refuses a cut-off less than
   * `minimumRetentionDays` ago. While the writers hold the database it waits (retries) up to
   * RETRY_LIMITS.budgetMs, then fails with CONFLICT.
   */
  purge: allowed("purge audit")
    .meta({ audit: { action: "audit.purge.request", entity: "AuditEntry", kind: "change", after: false } })
    .input(z.strictObject({ olderThan: Instant, reason: z.string().trim().min(1).max(500) }))
    .mutation(async ({ ctx, input }) => {
      const seals = sealsOf(ctx);
      const olderThan = toDate(input.olderThan);
      const earliest = Date.now() - MINIMUM_RETENTION_DAYS * 86_400_000;
      if (olderThan.getTime() > earliest) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: `olderThan must be at least ${MINIMUM_RETENTION_DAYS} days ago: the trail keeps everything younger.`,
        });
      }
      const actor = { id: ctx.user.id, role: ctx.user.role };
      // SQLite: the purge needs the write lock the audit writers keep taking; it retries within
      // RETRY_LIMITS (10 s), then answers CONFLICT.
      const report = await retryConflicts(() => purgeAuditEntries(ctx, { olderThan, actor, reason: input.reason }), RETRY_LIMITS, "The purge");
      const signed = report.streams.length > 0 ? await seals.sealer.notePurge(report.streams) : undefined;
      ctx.audit.annotate({ deleted: report.deleted, purgeEntryId: report.entryId, seal: signed?.seal.number ?? null });
      return { deleted: report.deleted, entryId: report.entryId, streams: report.streams.map((s) => ({ streamId: s.streamId, firstSeq: s.firstSeq })), seal: signed?.seal.number ?? null };
    }),

  /** Counts by outcome and by action over a time range, and the writers' live statistics. */
  stats: allowed("read audit")
    .meta({ audit: { action: "audit.stats", entity: "AuditEntry" } })
    .input(z.strictObject({ from: Instant.optional(), to: Instant.optional() }).default({}))
    .query(async ({ ctx, input }) => {
      const where = auditWhere(ctx.provider, input);
      const [byOutcome, byAction] = await Promise.all([
        ctx.prisma.auditEntry.groupBy({ by: ["outcome"], where, _count: { _all: true } }),
        ctx.prisma.auditEntry.groupBy({ by: ["action"], where, _count: { _all: true } }),
      ]);
      const { async: main, sync, durable } = ctx.writers;
      return {
        from: input.from ? toDate(input.from).toISOString() : null,
        to: input.to ? toDate(input.to).toISOString() : null,
        total: byOutcome.reduce((n, g) => n + g._count._all, 0),
        byOutcome: Object.fromEntries(byOutcome.map((g) => [g.outcome, g._count._all])),
        byAction: byAction
          .map((g) => ({ action: g.action, count: g._count._all }))
          .sort((a, b) => b.count - a.count || a.action.localeCompare(b.action)),
        writers: {
          async: main.stats(),
          ...(sync ? { sync: sync.stats() } : {}),
          ...(durable ? { durable: durable.stats() } : {}),
        },
      };
    }),
} satisfies TRPCRouterRecord;

/** The server's seal configuration; PRECONDITION_FAILED when it runs without one. */
function sealsOf(ctx: Pick<Context, "seals">): SealServices {
  if (!ctx.seals) throw new TRPCError({ code: "PRECONDITION_FAILED", message: "This server runs without seals: no signing key or anchors configured." });
  return ctx.seals;
}
