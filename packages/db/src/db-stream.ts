/**
 * The database's own stream (TRANSACTIONAL_STREAM: entries written by business transactions, purge
 * entries) as a source for the writer's sealer (`sealer.addSource(source.poll)`): before each seal
 * it reads the rows appended since the last poll, in seq order, and reports the stream's Merkle log
 * — so those rows are under a signed seal within one interval, like the workers' streams.
 * Its own connection; memory: the log's frontier plus one page of leaf hashes.
 */
import { type ChainedEntry, MerkleLog, PURGE_ACTION, type StreamReport, entryLeaf } from "@auditrail/audit-core";
import { TRANSACTIONAL_STREAM } from "./sink.ts";
import { type TrailRows, openTrailRows } from "./trail-rows.ts";
import type { PurgeRecord } from "./verify.ts";

const PAGE = 5_000;

export interface DatabaseStreamSource {
  /** The stream's growth since the last poll (none when nothing was appended). */
  poll(): Promise<StreamReport[]>;
  close(): Promise<void>;
}

export async function databaseStreamSource(url: string): Promise<DatabaseStreamSource> {
  const rows: TrailRows = await openTrailRows(url);
  let log: MerkleLog | undefined;
  let after = { seq: 0, id: "" };
  return {
    async poll() {
      log ??= await startingLog(rows);
      const from = log.size;
      const fromFrontier = log.state().frontier;
      const leaves: Buffer[] = [];
      if (after.seq < from) after = { seq: from, id: "" };
      for (;;) {
        const page = await rows.page(TRANSACTIONAL_STREAM, after, PAGE);
        for (const row of page) {
          // Rows are appended under the stream head's lock: seqs come without gaps or repeats.
          if (row.seq !== log.size + 1 || row.hash === null) continue;
          const leaf = entryLeaf((row as ChainedEntry).hash);
          log.append(leaf);
          leaves.push(leaf);
        }
        const last = page.at(-1);
        if (last) after = { seq: last.seq as number, id: last.id };
        if (page.length < PAGE) break;
      }
      if (log.size === from) return [];
      const { size, frontier } = log.state();
      return [
        {
          streamId: TRANSACTIONAL_STREAM,
          from,
          size,
          root: log.root().toString("hex"),
          frontier,
          leaves: Buffer.concat(leaves),
          fromFrontier,
        },
      ];
    },
    close: () => rows.close(),
  };
}

/** Seq 1, or — when a purge removed the stream's prefix — the newest purge record's log. */
async function startingLog(rows: TrailRows): Promise<MerkleLog> {
  let newest: PurgeRecord | undefined;
  for (const entry of await rows.withAction(PURGE_ACTION)) {
    const streams = (entry.metadata as { streams?: unknown } | null)?.streams;
    if (!Array.isArray(streams)) continue;
    for (const s of streams as PurgeRecord[]) {
      if (s?.streamId === TRANSACTIONAL_STREAM && (!newest || s.firstSeq > newest.firstSeq)) newest = s;
    }
  }
  return newest ? MerkleLog.restore(newest.prefix) : new MerkleLog();
}
