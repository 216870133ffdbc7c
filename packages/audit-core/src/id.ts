/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Made from `randomUUID()`
 * (which draws from a cached entropy pool): its first 48 bits are replaced by the timestamp and
 * its version nibble set to 7; the variant bits are kept. The timestamp's hex is computed once
 * per millisecond: `record` calls this on its hot path, often many times within one millisecond.
 */
import { randomUUID } from "node:crypto";

let lastMs = -1;
let prefix = "";

export function uuidv7(now: number = Date.now()): string {
  if (now !== lastMs) {
    const ts = now.toString(16).padStart(12, "0");
    prefix = `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7`;
    lastMs = now;
  }
  return prefix + randomUUID().slice(15);
}
