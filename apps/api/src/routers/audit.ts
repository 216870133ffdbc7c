/**
 * The audit trail itself, for auditors and admins only: list (filters + cursor), get, stats, the
 * live tail (a subscription, over SSE), the writers' health; dead letters for admins.
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
import { listDeadLetters, replayDeadLetters } from "@auditrail/db/dead-letters";
import { tailEntries } from "../live-tail.ts";
import { allowed, notFound } from "../trpc.ts";
import { writerHealth } from "../writer-health.ts";

/** The shortest retention the purge accepts: nothing younger than this can be purged. */
export const MINIMUM_RETENTION_DAYS = 30;

export const AuditList = AuditFilter.extend({ limit: Limit(200, 50), cursor: Cursor.optional() });

/** The fields of a dead letter's entry worth showing in a list (the entry may be stored as JSON or as text). */
const LetterSummary = z.object({
  action: z.string(),
  entity: z.string(),
  entityId: z.string().nullish(),
  occurredAt: z.union([z.string(), z.date()]).transform((v) => new Date(v).toISOString()),
});

function letterEntry(stored: unknown): unknown {
  if (typeof stored !== "string") return stored;
  try {
    return JSON.parse(stored);
  } catch {
    return stored;
  }
}

export const auditRouter = {
  list: allowed("read audit")
    .meta({ audit: { action: "audit.list", entity: "AuditEntry" } })
    .input(AuditList)
    .query(async ({ ctx, input }) => {
      const { limit, cursor, ...filter } = input;
      const after = cursor === undefined ? undefined : decodeCursor(cursor, AuditKey);
      const rows = await ctx.prisma.auditEntry.findMany({
        where: auditWhere(ctx.provider, filter, after),
        orderBy: AUDIT_ORDER,
        take: limit + 1,
      });
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
      const report = await verifyOffThread({
        url: seals.url,
        publicKeyPem: seals.publicKeyPem,
        anchors: seals.anchors,
        maxProblems: input.maxProblems,
      }).catch((error: unknown) => {
        throw new TRPCError({ code: "INTERNAL_SERVER_ERROR", message: `verify could not run: ${messageOf(error)}` });
      });
      ctx.audit.annotate({
        ok: report.ok,
        streams: report.streams,
        entries: report.entries,
        problems: report.problemCount,
        unsealed: report.unsealed,
      });
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
      const report = await retryConflicts(
        () => purgeAuditEntries(ctx, { olderThan, actor, reason: input.reason }),
        RETRY_LIMITS,
        "The purge",
      );
      const signed = report.streams.length > 0 ? await seals.sealer.notePurge(report.streams) : undefined;
      ctx.audit.annotate({ deleted: report.deleted, purgeEntryId: report.entryId, seal: signed?.seal.number ?? null });
      return {
        deleted: report.deleted,
        entryId: report.entryId,
        streams: report.streams.map((s) => ({ streamId: s.streamId, firstSeq: s.firstSeq })),
        seal: signed?.seal.number ?? null,
      };
    }),

  /**
   * New entries matching the filter as they are written (oldest first), until the client goes away
   * or the server shuts down. Over SSE with httpSubscriptionLink. The start is audited.
   */
  tail: allowed("read audit")
    .meta({ audit: { action: "audit.tail", entity: "AuditEntry", kind: "access", after: false } })
    .input(AuditFilter.default({}))
    .subscription(async function* ({ ctx, input, signal }) {
      ctx.audit.annotate({ filter: input });
      const stop = signal ? AbortSignal.any([signal, ctx.stopping]) : ctx.stopping;
      yield* tailEntries(ctx.prisma, ctx.provider, input, stop);
    }),

  /**
   * Each writer's state: queued, in flight, spool backlog, written (and per second, measured
   * between calls), retried, dead-lettered, dropped, spilled; and the dead letters still pending.
   */
  health: allowed("read audit")
    // Audited like every call (the viewer's health page polls it every 2 s while open, each poll
    // an entry): a refused call must leave evidence too.
    .meta({ audit: { action: "audit.health", entity: "AuditWriter" } })
    .query(async ({ ctx }) => {
      const { async: main, sync, durable } = ctx.writers;
      return {
        writers: [main, sync, durable].flatMap((w) => (w ? [writerHealth(w)] : [])),
        pendingDeadLetters: await ctx.prisma.deadLetter.count({ where: { replayedAt: null } }),
      };
    }),

  /** Dead letters (admins): oldest first, each with the database's reason and its entry. */
  deadLetters: allowed("replay dead letters")
    .meta({ audit: { action: "audit.deadLetters.list", entity: "DeadLetter" } })
    .input(z.strictObject({ pending: z.boolean().default(true), limit: Limit(500, 100) }).default({ pending: true, limit: 100 }))
    .query(async ({ ctx, input }) => {
      const letters = await listDeadLetters(ctx.database, input);
      ctx.audit.annotate({ count: letters.length });
      return letters.map((letter) => {
        const entry = letterEntry(letter.entry);
        const summary = LetterSummary.safeParse(entry);
        return {
          id: letter.id,
          reason: letter.error,
          attempts: letter.attempts,
          failedAt: letter.failedAt.toISOString(),
          replayedAt: letter.replayedAt?.toISOString() ?? null,
          summary: summary.success ? summary.data : null,
          entry,
        };
      });
    }),

  /** Re-inserts pending dead letters (all, or `ids`); those still rejected stay pending with the new reason. */
  replayDeadLetters: allowed("replay dead letters")
    .meta({ audit: { action: "audit.deadLetters.replay", entity: "DeadLetter", after: false } })
    .input(z.strictObject({ ids: z.array(Id).min(1).max(500).optional() }).default({}))
    .mutation(async ({ ctx, input }) => {
      const report = await replayDeadLetters(ctx.database.url, input.ids ? { ids: input.ids } : {});
      ctx.audit.annotate({ ids: input.ids ?? "all pending", replayed: report.replayed, failed: report.failed.length });
      return report;
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
  if (!ctx.seals)
    throw new TRPCError({ code: "PRECONDITION_FAILED", message: "This server runs without seals: no signing key or anchors configured." });
  return ctx.seals;
}
