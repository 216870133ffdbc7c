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
  const texts: string[] = [];
  for await (const text of anchoredSealTexts(sources)) texts.push(text);
  return texts;
}

/**
 * The anchored seals' texts one at a time (verify's input, in bounded memory): trail by trail,
 * each trail's seals in ascending number order from the directory, the witness's newest of that
 * trail placed at its number (after the directory's copy, or after the last one when it is newer).
 */
export async function* anchoredSealTexts(sources: AnchorSources): AsyncGenerator<string> {
  let trails: string[];
  try {
    trails = (await readdir(sources.dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory() && TRAIL_NAME.test(e.name))
      .map((e) => e.name);
  } catch (error) {
    throw new AnchorReadError(sources.dir, messageOf(error), { cause: error });
  }
  const witness = sources.witnessUrl ? new WitnessClient(sources.witnessUrl, sources.witnessTimeoutMs ?? 5_000) : undefined;
  for (const trail of trails.sort()) {
    let cosigned: { number: number; text: string } | undefined;
    if (witness) {
      try {
        const latest = await witness.latest(trail);
        if (latest) cosigned = { number: latest.seal.number, text: latest.text };
      } catch (error) {
        throw new AnchorReadError(sources.witnessUrl as string, messageOf(error), { cause: error });
      }
    }
    const anchor = await DirectoryAnchor.open(sources.dir, trail);
    for (const number of await anchor.numbers()) {
      if (cosigned && cosigned.number < number) {
        yield cosigned.text;
        cosigned = undefined;
      }
      yield await anchorText(anchor, number);
    }
    if (cosigned) yield cosigned.text;
  }
}

/** One anchored seal's text; a file that does not parse still goes to verify, which names it. */
async function anchorText(anchor: DirectoryAnchor, number: number): Promise<string> {
  try {
    return (await anchor.read(number)).text;
  } catch (error) {
    return `unreadable anchored seal ${anchor.trail}#${number}: ${messageOf(error)}`;
  }
}
