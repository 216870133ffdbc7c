import { CopyTextError } from "@auditrail/audit-core";
import { describe, expect, it } from "vitest";
import { type CopyFields, CopyTextParser } from "./copy-text.ts";

/** Every row `chunks` give, fed one after the other, and the parser's end. */
function parse(columns: number, chunks: readonly Buffer[]): CopyFields[] {
  const parser = new CopyTextParser(columns);
  const rows: CopyFields[] = [];
  for (const chunk of chunks) parser.push(chunk, (fields) => rows.push(fields));
  parser.end();
  return rows;
}

const bytes = (text: string) => Buffer.from(text, "utf8");

/** `buffer` cut into chunks of `size` bytes. */
const chunked = (buffer: Buffer, size: number) =>
  Array.from({ length: Math.ceil(buffer.length / size) }, (_, i) => buffer.subarray(i * size, (i + 1) * size));

/**
 * A value as PostgreSQL's COPY TO writes it in text format (copyto.c, CopyAttributeOutText, tab
 * delimiter): written out from its rules here, not taken from the code under test.
 */
function pgCopyOut(value: string | null): string {
  if (value === null) return "\\N";
  const named: Record<string, string> = { "\b": "b", "\f": "f", "\n": "n", "\r": "r", "\t": "t", "\v": "v" };
  let out = "";
  for (const c of value) {
    if (c === "\\") out += "\\\\";
    else if (named[c]) out += `\\${named[c]}`;
    else out += c;
  }
  return out;
}

const line = (fields: readonly (string | null)[]) => `${fields.map(pgCopyOut).join("\t")}\n`;

describe("CopyTextParser (COPY TO text format, read back)", () => {
  it("decodes every escape COPY TO writes: \\\\ \\b \\f \\n \\r \\t \\v", () => {
    expect(parse(1, [bytes("a\\\\b\\bc\\fd\\ne\\rf\\tg\\vh\n")])).toEqual([["a\\b\bc\fd\ne\rf\tg\vh"]]);
    expect(parse(2, [bytes("\\\\n\\\\\t\\n\\\\\\t\n")])).toEqual([["\\n\\", "\n\\\t"]]);
  });

  it("tells NULL (\\N) from the text \\N, the text N and the empty string", () => {
    expect(parse(5, [bytes("\\N\t\\\\N\tN\t\t\\N\n")])).toEqual([[null, "\\N", "N", "", null]]);
    expect(parse(3, [bytes("\t\t\n")])).toEqual([["", "", ""]]);
  });

  it("keeps other control characters, quotes and JSON's own escapes as they are", () => {
    const json = '{"a":"x\\"y\\\\z\\n\\t\\u0000","b":"\u0001\u001f\u007f"}';
    expect(parse(2, [bytes(line([json, "'\"\u0001"]))])).toEqual([[json, "'\"\u0001"]]);
  });

  it("reads back what COPY TO writes for any text: JSON with backslashes, tabs, newlines, U+FFFD, emoji, empty", () => {
    const values = [
      '{"path":"C:\\\\dir\\\\file","note":"tab\\there\\nnewline"}',
      "literal tab\tand newline\nand CR\r and backslash-n \\n",
      "\uFFFD replacement, emoji 😀👩‍👩‍👧, é, 漢字, \u2028 \u00a0",
      "",
      "\\",
      "\\N",
      "\b\f\v",
      null,
    ];
    const rows = [values, [...values].reverse()];
    expect(parse(values.length, [bytes(rows.map(line).join(""))])).toEqual(rows);
  });

  it("gives the same rows however the output is cut into chunks: 1-byte chunks, every cut point (rows and UTF-8 characters split)", () => {
    const rows = [
      ["é😀\uFFFD漢", "a\\b\tc", null],
      ["", "x\ny", "😀"],
      ["z", "", "\r\n"],
    ];
    const output = bytes(rows.map(line).join(""));
    expect(parse(3, chunked(output, 1))).toEqual(rows);
    for (const size of [2, 3, 5, 7]) expect(parse(3, chunked(output, size))).toEqual(rows);
    for (let cut = 0; cut <= output.length; cut++) {
      expect(parse(3, [output.subarray(0, cut), output.subarray(cut)])).toEqual(rows);
    }
    // A cut inside a 4-byte character: neither half alone decodes it.
    const emojiAt = output.indexOf(bytes("😀"));
    expect(parse(3, [output.subarray(0, emojiAt + 2), output.subarray(emojiAt + 2)])[0]?.[0]).toBe("é😀\uFFFD漢");
  });

  it("gives nothing for empty output or empty chunks, and each row once", () => {
    expect(parse(2, [])).toEqual([]);
    expect(parse(2, [Buffer.alloc(0), bytes("a\tb\n"), Buffer.alloc(0), bytes("c\t"), Buffer.alloc(0), bytes("d\n")])).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
  });

  it("refuses a line with fewer or more fields than the columns", () => {
    expect(() => parse(3, [bytes("a\tb\n")])).toThrow(/a line with 2 fields, not 3/);
    expect(() => parse(3, [bytes("a\tb\tc\td\n")])).toThrow(/a line with more than 3 fields, not 3/);
    expect(() => parse(2, [bytes("a\tb\nc\n")])).toThrow(CopyTextError);
  });

  it("refuses escapes COPY TO never writes (octal, hex, any other character) and a lone backslash", () => {
    for (const field of ["\\101", "\\x41", "\\q", "\\0", "a\\Nb", "\\.", "abc\\"]) {
      expect(() => parse(2, [bytes(`${field}\tx\n`)]), field).toThrow(CopyTextError);
    }
    expect(() => parse(1, [bytes("x\\\n")])).toThrow(/lone backslash/);
    expect(() => parse(1, [bytes("\\x41\n")])).toThrow(/the escape \\x, which COPY TO never writes/);
  });

  it("refuses output that stops inside a line", () => {
    const parser = new CopyTextParser(2);
    const rows: CopyFields[] = [];
    parser.push(bytes("a\tb\nc\t"), (f) => rows.push(f));
    parser.push(bytes("d"), (f) => rows.push(f));
    expect(rows).toEqual([["a", "b"]]);
    expect(() => parser.end()).toThrow(/3 bytes after the last line break/);
  });
});
