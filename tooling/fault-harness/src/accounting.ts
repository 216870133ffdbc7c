/**
 * The exact accounting of a scenario: every recorded id must end as exactly one of written (a row
 * in AuditEntry), dead-lettered (a row in DeadLetter) or still on disk in the spool; nothing else
 * may appear, and no id may be stored twice. One line per scenario is printed.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DatabaseHandle } from "@auditrail/db";

export interface Accounting {
  readonly recorded: number;
  readonly written: number;
  readonly deadLettered: number;
  /** Entries the writer spilled to disk (queue full, or left at shutdown). */
  readonly spilled: number;
  /** Entries read back from the spool and written (same or next process). */
  readonly replayed: number;
  readonly lost: number;
  /** Extra fields printed after the standard ones (e.g. `inSpool`, `p50`). */
  readonly extra?: Readonly<Record<string, string | number>>;
}

export function accountingLine(scenario: string, a: Accounting): string {
  const extra = Object.entries(a.extra ?? {})
    .map(([k, v]) => ` ${k}=${v}`)
    .join("");
  return (
    `[fault:${scenario}] recorded=${a.recorded} written=${a.written} dead-lettered=${a.deadLettered} ` +
    `spilled=${a.spilled} replayed=${a.replayed} lost=${a.lost}${extra}`
  );
}

/** Prints the accounting line (to stdout, where CI logs keep it) and returns it. */
export function printAccounting(scenario: string, a: Accounting): string {
  const line = accountingLine(scenario, a);
  console.log(line);
  return line;
}

/** Ids of every AuditEntry row. */
export async function storedIds(db: DatabaseHandle): Promise<string[]> {
  const rows = await db.prisma.auditEntry.findMany({ select: { id: true } });
  return rows.map((r) => r.id);
}

/** Ids of every DeadLetter row (the dead entry's id). */
export async function deadLetterIds(db: DatabaseHandle): Promise<string[]> {
  const rows = await db.prisma.deadLetter.findMany({ select: { id: true } });
  return rows.map((r) => r.id);
}

const SEGMENT = /^segment-\d{16}\.ndjson$/;

/** Ids of every entry in the spool's segment files (a torn last line is skipped, as replay does). */
export async function spoolIds(spoolDir: string): Promise<string[]> {
  const names = (await readdir(spoolDir).catch(() => [] as string[])).filter((n) => SEGMENT.test(n)).sort();
  const ids: string[] = [];
  for (const name of names) {
    const lines = (await readFile(join(spoolDir, name), "utf8")).split("\n");
    lines.forEach((line, i) => {
      if (line === "") return;
      try {
        ids.push((JSON.parse(line) as { id: string }).id);
      } catch (error) {
        if (i !== lines.length - 1) throw new Error(`${name} line ${i + 1} is not JSON`, { cause: error });
      }
    });
  }
  return ids;
}

/** Segment files in the spool folder. */
export async function segmentFiles(spoolDir: string): Promise<string[]> {
  return (await readdir(spoolDir).catch(() => [] as string[])).filter((n) => SEGMENT.test(n)).sort();
}

export interface Reconciliation {
  /** Recorded ids found nowhere. */
  readonly lost: string[];
  /** Stored or dead-lettered ids nobody recorded. */
  readonly unexpected: string[];
  /** Ids recorded twice, or both written and dead-lettered. */
  readonly duplicates: string[];
  readonly written: number;
  readonly deadLettered: number;
  /** Recorded ids neither written nor dead-lettered but in the spool. */
  readonly onlyInSpool: number;
}

/** Matches what was recorded against where it ended up. */
export function reconcile(input: {
  recorded: readonly string[];
  stored: readonly string[];
  deadLettered?: readonly string[];
  spooled?: readonly string[];
}): Reconciliation {
  const recorded = new Set(input.recorded);
  const duplicates = input.recorded.length === recorded.size ? [] : dupes(input.recorded);
  const stored = new Set(input.stored);
  const dead = new Set(input.deadLettered ?? []);
  const spooled = new Set(input.spooled ?? []);
  for (const id of dead) if (stored.has(id)) duplicates.push(id);
  const lost: string[] = [];
  let onlyInSpool = 0;
  for (const id of recorded) {
    if (stored.has(id) || dead.has(id)) continue;
    if (spooled.has(id)) onlyInSpool++;
    else lost.push(id);
  }
  const unexpected = [...stored, ...dead].filter((id) => !recorded.has(id));
  return { lost, unexpected, duplicates, written: stored.size, deadLettered: dead.size, onlyInSpool };
}

function dupes(ids: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const id of ids) {
    if (seen.has(id)) out.push(id);
    seen.add(id);
  }
  return out;
}
