/**
 * One writer per spool directory: `writer.lock` holds the owner's pid and start time. A second
 * live writer gets SpoolLockedError; a lock whose owner is gone (no such pid, or the pid now
 * belongs to a process started at another time) is taken over, and the spool it left is
 * replayed by the new owner (Spool.open queues every segment it finds).
 */
import { open, readFile, unlink } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { SpoolLockedError } from "../errors.ts";

export const LOCK_FILE = "writer.lock";

interface LockOwner {
  readonly pid: number;
  /** Process start time: /proc's clock-tick count where there is one, else ms since the epoch. */
  readonly start: string;
}

/** The start time of process `pid`, as the kernel reports it (Linux), or undefined. */
function procStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime), counted after the parenthesised command name, which may hold spaces.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

const selfStart = procStart(process.pid) ?? String(Math.round(Date.now() - process.uptime() * 1000));

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
  }
  const start = procStart(owner.pid);
  return start === undefined || start === owner.start;
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, "utf8")) as Partial<LockOwner>;
    return typeof owner.pid === "number" && typeof owner.start === "string" ? { pid: owner.pid, start: owner.start } : undefined;
  } catch {
    return undefined; // unreadable or half-written: its owner died while taking it
  }
}

/** Takes the lock of `dir` (which exists) and returns the function that gives it back. */
export async function lockSpool(dir: string): Promise<() => Promise<void>> {
  const file = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, start: selfStart };
  const text = JSON.stringify(me);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const handle = await open(file, "wx");
      await handle.writeFile(text);
      await handle.close();
      // Two processes taking over one dead owner's lock at once: only the one whose text stayed wins.
      if ((await readFile(file, "utf8")) !== text) continue;
      return async () => {
        if ((await readFile(file, "utf8").catch(() => "")) === text) await unlink(file).catch(() => undefined);
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = await readOwner(file);
    if (owner && isAlive(owner)) throw new SpoolLockedError(dir, owner.pid);
    await unlink(file).catch(() => undefined);
  }
  const owner = await readOwner(file);
  throw new SpoolLockedError(dir, owner?.pid ?? -1);
}
