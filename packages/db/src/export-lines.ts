/**
 * The NDJSON export's lines beyond the stored entries: every dead letter — an entry the writer
 * linked into its stream (streamId, seq, prevHash, hash) but the database refused — as
 * `{"deadLetter": <entry>}`. It keeps its stream position, so an export carrying them verifies
 * (`audit:verify --export`) like the database does, where the DeadLetter table fills those seqs.
 */
import type { Database } from "./client.ts";

/** The member naming a dead-letter line of the export. */
export const DEAD_LETTER_LINE_KEY = "deadLetter";

/** Every dead letter as one export line (with its newline), read `chunk` at a time by id. */
export async function* deadLetterLines(prisma: Database, chunk = 500): AsyncGenerator<string> {
  let after = "";
  for (;;) {
    const rows = await prisma.deadLetter.findMany({
      where: { id: { gt: after } },
      orderBy: { id: "asc" },
      take: chunk,
      select: { id: true, entry: true },
    });
    for (const { entry } of rows) {
      // The column keeps the entry as JSON text; one that does not parse explains no seq: left out.
      let parsed: unknown;
      try {
        parsed = JSON.parse(entry);
      } catch {
        continue;
      }
      yield `${JSON.stringify({ [DEAD_LETTER_LINE_KEY]: parsed })}\n`;
    }
    const last = rows.at(-1);
    if (!last || rows.length < chunk) return;
    after = last.id;
  }
}
