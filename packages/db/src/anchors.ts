/**
 * Reading the anchors — the copies of the seals kept outside the database — for verify: every
 * trail's seals from an anchor directory (audit-core's DirectoryAnchor layout, `<dir>/<trail>/`),
 * and each of those trails' newest seal from a witness. Verify checks them all (signatures,
 * numbering, predecessors) against the public key it is given; nothing here is trusted yet.
 */
import { readdir } from "node:fs/promises";
import { DirectoryAnchor, TRAIL_NAME, WitnessClient, messageOf } from "@auditrail/audit-core";

export interface AnchorSources {
  /** The anchor directory the sealer writes (AUDIT_ANCHOR_DIR). */
  readonly dir: string;
  /** A witness that keeps each trail's newest cosigned seal. */
  readonly witnessUrl?: string | undefined;
  readonly witnessTimeoutMs?: number | undefined;
}

/** A named error: the anchors could not be read (a missing directory, an unreachable witness). */
export class AnchorReadError extends Error {
  constructor(source: string, reason: string, options?: { cause?: unknown }) {
    super(`cannot read the anchors at ${source}: ${reason}`, options);
    this.name = "AnchorReadError";
  }
}

/** Every anchored seal's text: all of each trail's seals in the directory, plus the witness's newest. */
export async function readAnchoredSeals(sources: AnchorSources): Promise<string[]> {
  let trails: string[];
  try {
    trails = (await readdir(sources.dir, { withFileTypes: true })).filter((e) => e.isDirectory() && TRAIL_NAME.test(e.name)).map((e) => e.name);
  } catch (error) {
    throw new AnchorReadError(sources.dir, messageOf(error), { cause: error });
  }
  const texts: string[] = [];
  for (const trail of trails.sort()) {
    const anchor = await DirectoryAnchor.open(sources.dir, trail);
    for (const number of await anchor.numbers()) texts.push(await anchorText(anchor, number));
  }
  if (sources.witnessUrl) {
    const witness = new WitnessClient(sources.witnessUrl, sources.witnessTimeoutMs ?? 5_000);
    for (const trail of trails) {
      try {
        const latest = await witness.latest(trail);
        if (latest) texts.push(latest.text);
      } catch (error) {
        throw new AnchorReadError(sources.witnessUrl, messageOf(error), { cause: error });
      }
    }
  }
  return texts;
}

/** One anchored seal's text; a file that does not parse still goes to verify, which names it. */
async function anchorText(anchor: DirectoryAnchor, number: number): Promise<string> {
  try {
    return (await anchor.read(number)).text;
  } catch (error) {
    return `unreadable anchored seal ${anchor.trail}#${number}: ${messageOf(error)}`;
  }
}
