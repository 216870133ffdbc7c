/**
 * Linking and writing a batch that may meet entries another stream stored meanwhile. Two holders
 * of the same entry (two ingest processes given one redelivered message, a requeued batch whose
 * first write still commits) can both find it not stored, both link it into their own streams and
 * both write it. The one that loses must not skip it as stored: its stream has given that entry a
 * seq, and later entries link through it, so the stream would have a gap verify reports as a
 * deletion. The SQL sinks therefore refuse such a batch whole (EntriesStoredElsewhereError, nothing
 * stored); here the links are taken back, those entries left out (they are stored) and the rest
 * linked again and written.
 *
 * Taking back is sound even after a poison split committed part of the batch: writeWithRetry
 * writes chunks in order, so the committed part is a prefix of the linked batch ahead of every id
 * the error names. Leaving those ids out changes no link of that prefix (a link depends only on
 * the entries before it), so linked again its rows are the same and the sinks skip them as ours.
 */
import type { ChainStream } from "../chain.ts";
import { EntriesStoredElsewhereError } from "../errors.ts";
import type { AuditEntry } from "../event.ts";
import type { AuditSink } from "../sink.ts";
import { type RetryPolicy, type WriteControl, type WriteOutcome, writeWithRetry } from "./retry.ts";

export interface LinkedWriteOutcome extends WriteOutcome {
  /** Ids of `entries` found stored under another stream's link: left out of this stream, not written here. */
  readonly storedElsewhere: ReadonlySet<string>;
}

/**
 * Links `entries` into `stream` and writes them (writeWithRetry). On EntriesStoredElsewhereError
 * the stream is rewound to where it stood, the named entries are left out and the rest is linked
 * and written again, until a write goes through. Any other error is thrown as writeWithRetry throws it.
 */
export async function linkAndWrite(
  sink: AuditSink,
  stream: ChainStream,
  entries: readonly AuditEntry[],
  policy: RetryPolicy,
  control: WriteControl = {},
): Promise<LinkedWriteOutcome> {
  const storedElsewhere = new Set<string>();
  let rest = entries;
  for (;;) {
    const mark = stream.mark();
    try {
      const outcome = await writeWithRetry(sink, stream.link(rest), policy, control);
      return { ...outcome, storedElsewhere };
    } catch (error) {
      if (!(error instanceof EntriesStoredElsewhereError)) throw error;
      const named = new Set(error.ids);
      const next = rest.filter((e) => !named.has(e.id));
      // It names none of this batch: leaving nothing out would only meet it again.
      if (next.length === rest.length) throw error;
      stream.rewind(mark);
      for (const e of rest) if (named.has(e.id)) storedElsewhere.add(e.id);
      rest = next;
    }
  }
}
