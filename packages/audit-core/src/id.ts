/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. Made from `randomUUID()`
 * (which draws from a cached entropy pool, so this costs well under a microsecond): its first 48
 * bits are replaced by the timestamp and its version nibble set to 7; the variant bits are kept.
 */
import { randomUUID } from "node:crypto";

export function uuidv7(now: number = Date.now()): string {
  const ts = now.toString(16).padStart(12, "0");
  const random = randomUUID();
  return `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7${random.slice(15)}`;
}
