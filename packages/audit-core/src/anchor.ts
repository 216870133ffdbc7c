/**
 * The directory anchor: seals kept outside the database, one file per seal, append-only.
 *
 *   <dir>/<trail>/000000000001.seal         the signed seal's text
 *   <dir>/<trail>/000000000001.proofs.json  (with a witness) consistency proofs from the previous
 *                                           seal to this one, so a witness that missed seals can
 *                                           be brought up to date from here
 *   <dir>/<trail>/.lock                     the pid of the process sealing this trail
 *
 * A file is created with O_EXCL (never overwritten: a second seal with a number already used
 * fails), written, fsynced, and the folder fsynced, before the seal counts as sealed. In
 * production the folder lives on another volume (another host's mount, a WORM bucket's sync) than
 * the database: someone who can rewrite the database cannot rewrite this.
 */
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { mkdir, open, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { AnchorError, messageOf } from "./errors.ts";
import { type SignedSeal, TRAIL_NAME, parseSeal } from "./seal.ts";

const DIGITS = 12;
const SEAL_FILE = /^(\d{12})\.seal$/;
const fileOf = (number: number, ext: string) => `${String(number).padStart(DIGITS, "0")}.${ext}`;

/** Consistency proofs by stream id (hex hashes, proof order), from the previous seal to this one. */
export type ConsistencyProofs = Readonly<Record<string, readonly string[]>>;

export class DirectoryAnchor {
  private locked = false;

  private constructor(
    readonly dir: string,
    readonly trail: string,
  ) {}

  /** The anchor of `trail` under `dir` (created if missing). Reading only: no lock taken. */
  static async open(dir: string, trail: string): Promise<DirectoryAnchor> {
    if (!TRAIL_NAME.test(trail)) throw new AnchorError(dir, `trail name ${JSON.stringify(trail)} must match ${TRAIL_NAME}`);
    const anchor = new DirectoryAnchor(dir, trail);
    try {
      await mkdir(anchor.folder, { recursive: true });
    } catch (error) {
      throw new AnchorError(dir, `cannot create ${anchor.folder} (${messageOf(error)})`, error);
    }
    return anchor;
  }

  get folder(): string {
    return join(this.dir, this.trail);
  }

  /**
   * Takes the trail's lock: one process seals a trail at a time (two would fork it). A lock left by
   * a process that no longer runs is taken over.
   */
  lock(): void {
    const file = join(this.folder, ".lock");
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const fd = openSync(file, "wx");
        writeSync(fd, String(process.pid));
        closeSync(fd);
        this.locked = true;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST")
          throw new AnchorError(this.dir, `cannot lock ${file} (${messageOf(error)})`, error);
        const holder = Number(readFileSync(file, "utf8"));
        if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isRunning(holder)) {
          throw new AnchorError(this.dir, `trail "${this.trail}" is sealed by process ${holder} (${file}); one process seals a trail`);
        }
        if (holder === process.pid) throw new AnchorError(this.dir, `trail "${this.trail}" is already sealed by this process`);
        unlinkSync(file);
      }
    }
    throw new AnchorError(this.dir, `cannot take ${file}`);
  }

  unlock(): void {
    if (!this.locked) return;
    this.locked = false;
    try {
      unlinkSync(join(this.folder, ".lock"));
    } catch {
      // Already gone: nothing to release.
    }
  }

  /** Appends a seal (and, with a witness, its consistency proofs): O_EXCL, fsync, folder fsync. */
  async append(signed: SignedSeal, proofs?: ConsistencyProofs): Promise<void> {
    if (signed.seal.trail !== this.trail)
      throw new AnchorError(this.dir, `seal of trail "${signed.seal.trail}" given to the anchor of "${this.trail}"`);
    // Proofs first, and replaceable: left behind by a crash before the seal file, they are rewritten.
    if (proofs) await this.writeFile(fileOf(signed.seal.number, "proofs.json"), `${JSON.stringify(proofs)}\n`, "w");
    await this.writeFile(fileOf(signed.seal.number, "seal"), signed.text, "wx");
    await this.syncFolder();
  }

  /** Seal numbers present, ascending. */
  async numbers(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.folder);
    } catch (error) {
      throw new AnchorError(this.dir, `cannot read ${this.folder} (${messageOf(error)})`, error);
    }
    return names
      .map((name) => SEAL_FILE.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
  }

  /** The seal with this number (parsed, not yet verified: use verifySeal with the public key). */
  async read(number: number): Promise<SignedSeal> {
    const file = join(this.folder, fileOf(number, "seal"));
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (error) {
      throw new AnchorError(this.dir, `cannot read ${file} (${messageOf(error)})`, error);
    }
    try {
      return parseSeal(text);
    } catch (error) {
      throw new AnchorError(this.dir, `${file}: ${messageOf(error)}`, error);
    }
  }

  /** The consistency proofs kept with seal `number`, if any. */
  async proofs(number: number): Promise<ConsistencyProofs | undefined> {
    const text = await readFile(join(this.folder, fileOf(number, "proofs.json")), "utf8").catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as ConsistencyProofs);
  }

  /** The newest seal, or undefined for a trail never sealed. */
  async latest(): Promise<SignedSeal | undefined> {
    const numbers = await this.numbers();
    const last = numbers.at(-1);
    return last === undefined ? undefined : this.read(last);
  }

  /** Every seal, oldest first (one file in memory at a time). */
  async *readAll(): AsyncGenerator<SignedSeal> {
    for (const number of await this.numbers()) yield await this.read(number);
  }

  private async writeFile(name: string, text: string, flags: "w" | "wx"): Promise<void> {
    const file = join(this.folder, name);
    try {
      const handle = await open(file, flags);
      try {
        await handle.writeFile(text);
        await handle.sync();
      } finally {
        await handle.close();
      }
    } catch (error) {
      const reason =
        (error as NodeJS.ErrnoException).code === "EEXIST" ? "exists already; anchored seals are never overwritten" : messageOf(error);
      throw new AnchorError(this.dir, `${file}: ${reason}`, error);
    }
  }

  private async syncFolder(): Promise<void> {
    const handle = await open(this.folder, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
