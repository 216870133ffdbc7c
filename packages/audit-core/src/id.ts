/**
 * UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, version nibble 7, then random bits with the
 * variant bits set. The timestamp's hex is computed once per millisecond: `record` calls this on
 * its hot path, often many times within one millisecond.
 *
 * The random bits come from a pool of crypto random bytes, 10 per id, filled ahead of use: when
 * the pool runs out the spare one, filled meanwhile by `randomFill` on libuv's thread pool, takes
 * its place, and the used one is filled again in the background. Only if the spare is not ready
 * yet (more than IDS_PER_POOL ids in one event-loop turn) is the pool filled synchronously.
 * `randomUUID()`, used before, refills its own cache of 128 UUIDs synchronously inside the call:
 * inside record() in a loaded writer the id's p99 was 18–36 µs (p50 0.5 µs), and with this pool
 * 5.5 µs (apps/bench/RESULTS.md, *Hot path round*).
 */
import { randomFill, randomFillSync } from "node:crypto";

const IDS_PER_POOL = 1_024;
const BYTES_PER_ID = 10;

let lastMs = -1;
let prefix = "";

let pool = Buffer.alloc(IDS_PER_POOL * BYTES_PER_ID);
let spare = Buffer.alloc(IDS_PER_POOL * BYTES_PER_ID);
let spareReady = false;
let spareFilling = false;
/** Ids taken from `pool`; it starts used up, so the first call fills it. */
let taken = IDS_PER_POOL;

export function uuidv7(now: number = Date.now()): string {
  if (now !== lastMs) {
    const ts = now.toString(16).padStart(12, "0");
    prefix = `${ts.slice(0, 8)}-${ts.slice(8, 12)}-7`;
    lastMs = now;
  }
  const at = nextRandom();
  // 9 bytes give 18 hex digits: 12 bits of rand_a, then 12 + 48 bits of rand_b after the variant
  // digit, whose two low bits come from the 10th byte.
  const hex = pool.toString("hex", at, at + 9);
  const variant = VARIANT_DIGITS[(pool[at + 9] as number) & 3] as string;
  return `${prefix}${hex.slice(0, 3)}-${variant}${hex.slice(3, 6)}-${hex.slice(6, 18)}`;
}

/** RFC 9562 variant `10xx`: the digit 8, 9, a or b. */
const VARIANT_DIGITS = "89ab";

/** The offset in `pool` of the next id's unused random bytes. */
function nextRandom(): number {
  if (taken === IDS_PER_POOL) {
    if (spareReady) {
      [pool, spare] = [spare, pool];
      spareReady = false;
    } else {
      randomFillSync(pool);
    }
    taken = 0;
    if (!spareFilling && !spareReady) fillSpare();
  }
  return taken++ * BYTES_PER_ID;
}

function fillSpare(): void {
  spareFilling = true;
  randomFill(spare, (error) => {
    spareFilling = false;
    // On an error the spare stays not ready, and the pool is filled synchronously when it runs out.
    spareReady = error === null;
  });
}
