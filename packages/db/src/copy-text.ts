/**
 * Rows of PostgreSQL's `COPY … TO STDOUT` text format, read back: what verify's walk reads a
 * PostgreSQL stream with (trail-rows.ts), one COPY per stream instead of a query per page — the
 * pg driver's parsing of every row cost more than hashing it.
 *
 * The format as PostgreSQL writes it (copyto.c, CopyAttributeOutText): one line per row, ended by
 * `\n` on every platform; fields separated by a tab; NULL as `\N`; in a value, a backslash is
 * written `\\` and the control characters backspace, form feed, newline, carriage return, tab and
 * vertical tab as `\b`, `\f`, `\n`, `\r`, `\t`, `\v` — every other character (other control
 * characters, any non-ASCII) as it is, in the client encoding (UTF-8). COPY FROM takes more
 * (octal and hex byte escapes, `\` before any character): COPY TO never writes them, so here they
 * are a CopyTextError, as is a line with another number of fields: that is not PostgreSQL's output.
 */
import { CopyTextError } from "@auditrail/audit-core";

/** One row's fields in column order: the value's text, or null for NULL. */
export type CopyFields = (string | null)[];

const NEWLINE = 0x0a;
const BACKSLASH = "\\";

/** What each escape COPY TO writes stands for, by the character after the backslash. */
const UNESCAPED: Readonly<Record<string, string>> = { "\\": "\\", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v" };

/**
 * Reads COPY text output chunk by chunk, as the connection delivers it: a row (or a UTF-8
 * character) may be split across chunks; only whole lines are decoded. Bytes of an unfinished
 * line wait for the next chunk.
 */
export class CopyTextParser {
  private pending: Buffer[] = [];

  /** `columns`: how many fields each line must have. */
  constructor(private readonly columns: number) {}

  /** Gives `row` every row whose line ends in `chunk` (with what earlier chunks left of it). */
  push(chunk: Buffer, row: (fields: CopyFields) => void): void {
    const end = chunk.lastIndexOf(NEWLINE) + 1;
    if (end === 0) {
      if (chunk.length > 0) this.pending.push(chunk);
      return;
    }
    // A line break is never inside a UTF-8 sequence (its bytes are all 0x80 and above): text cut
    // after one decodes as the whole characters it holds.
    let text: string;
    if (this.pending.length === 0) text = chunk.toString("utf8", 0, end);
    else {
      this.pending.push(chunk.subarray(0, end));
      text = Buffer.concat(this.pending).toString("utf8");
      this.pending = [];
    }
    if (end < chunk.length) this.pending.push(chunk.subarray(end));
    this.lines(text, row);
  }

  /** At the end of the output: everything read must have been whole lines. */
  end(): void {
    const left = this.pending.reduce((n, b) => n + b.length, 0);
    this.pending = [];
    if (left > 0) throw new CopyTextError(`${left} bytes after the last line break`);
  }

  /** Splits `text` (whole lines) into rows: fields cut at tabs, unescaped only when they hold a backslash. */
  private lines(text: string, row: (fields: CopyFields) => void): void {
    const columns = this.columns;
    // The next backslash in the text (its length when none): fields before it need no unescaping.
    let slash = nextBackslash(text, 0);
    for (let at = 0; at < text.length; ) {
      const lineEnd = text.indexOf("\n", at);
      const fields: CopyFields = new Array(columns);
      for (let i = 0; i < columns; i++) {
        let stop = text.indexOf("\t", at);
        if (stop === -1 || stop > lineEnd) stop = lineEnd;
        if ((stop === lineEnd) !== (i === columns - 1)) {
          throw new CopyTextError(`a line with ${stop === lineEnd ? i + 1 : `more than ${columns}`} fields, not ${columns}`);
        }
        if (slash < stop) {
          fields[i] = unescapeField(text, at, stop);
          slash = nextBackslash(text, stop);
        } else fields[i] = text.slice(at, stop);
        at = stop + 1;
      }
      row(fields);
    }
  }
}

function nextBackslash(text: string, from: number): number {
  const at = text.indexOf(BACKSLASH, from);
  return at === -1 ? text.length : at;
}

/** The field text[from, to), which holds a backslash: NULL (`\N`), or its value unescaped. */
function unescapeField(text: string, from: number, to: number): string | null {
  if (to - from === 2 && text.startsWith("\\N", from)) return null;
  let value = "";
  let start = from;
  for (let i = text.indexOf(BACKSLASH, from); i !== -1 && i < to; i = text.indexOf(BACKSLASH, start)) {
    const escaped = i + 1 < to ? text.charAt(i + 1) : "";
    const char = UNESCAPED[escaped];
    if (char === undefined) {
      throw new CopyTextError(
        escaped === "" ? "a field ending in a lone backslash" : `the escape \\${escaped}, which COPY TO never writes`,
      );
    }
    value += text.slice(start, i) + char;
    start = i + 2;
  }
  return value + text.slice(start, to);
}
