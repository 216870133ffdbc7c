/**
 * Verifies the audit trail's hash chains (see audit-core's chain.ts): loads every chained row,
 * the dead letters (whose seqs are explained gaps) and the retention purges (where purged streams
 * now start), and reports OK or, per stream, the first broken link and what kind of tampering it
 * shows: modified, deleted, reordered or truncated. Rows written by a business transaction
 * (transactional mode) are not chained and not checked here.
 *
 * It reads the whole chained table into memory: fine for the sizes this project runs at; a
 * trail of many millions of rows wants a per-stream, paged walk.
 */
import { type ChainedEntry, PURGE_ACTION, type PurgeStart, type VerifyReport, readDeadLetterFile, verifyChain } from "@auditrail/audit-core";
import type { DatabaseHandle } from "./client.ts";

type Json = ChainedEntry["before"];

/**
 * `spoolDir`: the writer's spool folder, whose fallback file may hold dead letters that reached no
 * table (the database was unreachable then); their places in a chain are explained gaps too.
 */
export async function verifyAuditTrail(handle: Pick<DatabaseHandle, "prisma">, options: { readonly spoolDir?: string } = {}): Promise<VerifyReport> {
  const { prisma } = handle;
  // In this order, one after the other: a batch's dead letters commit after its rows, and a purge
  // that commits meanwhile only adds starts below which rows are then skipped.
  const stored = await prisma.auditEntry.findMany({ where: { streamId: { not: null } } });
  const letters = await prisma.deadLetter.findMany({ select: { entry: true } });
  const purges = await prisma.auditEntry.findMany({ where: { action: PURGE_ACTION }, select: { metadata: true } });
  const rows: ChainedEntry[] = stored.map((r) => ({
    id: r.id,
    occurredAt: r.occurredAt.toISOString(),
    action: r.action,
    entity: r.entity,
    entityId: r.entityId,
    outcome: r.outcome,
    actorId: r.actorId,
    actorRole: r.actorRole,
    path: r.path,
    durationMs: r.durationMs,
    before: r.before as Json,
    after: r.after as Json,
    diff: r.diff as Json,
    metadata: r.metadata as Json,
    requestId: r.requestId,
    ip: r.ip,
    userAgent: r.userAgent,
    streamId: r.streamId as string,
    seq: r.seq ?? 0,
    prevHash: r.prevHash,
    hash: r.hash ?? "",
  }));
  const deadLettered = new Set<string>();
  const fromFile = options.spoolDir ? await readDeadLetterFile(options.spoolDir) : [];
  for (const entry of [...letters.map((l) => parseLetter(l.entry)), ...fromFile.map((l) => l.entry)]) {
    const e = entry as { streamId?: unknown; seq?: unknown } | null;
    if (typeof e?.streamId === "string" && typeof e.seq === "number") deadLettered.add(`${e.streamId}:${e.seq}`);
  }
  const starts: PurgeStart[] = purges.flatMap(({ metadata }) => {
    const streams = (metadata as { streams?: unknown } | null)?.streams;
    return Array.isArray(streams) ? (streams as PurgeStart[]) : [];
  });
  return verifyChain({ rows, deadLettered, purges: starts });
}

/** A dead letter's stored JSON text (anything unreadable explains no gap). */
function parseLetter(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
