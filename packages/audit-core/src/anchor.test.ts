import { spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DirectoryAnchor } from "./anchor.ts";
import { AnchorError } from "./errors.ts";
import { EMPTY_ROOT } from "./merkle.ts";
import { type SignedSeal, generateSealKeyPair, sealHash, signSeal, signingKeyFromPem } from "./seal.ts";

const signer = { name: "clinic", privateKey: signingKeyFromPem(generateSealKeyPair().privateKeyPem) };

function chainOfSeals(n: number, trail = "clinic"): SignedSeal[] {
  const seals: SignedSeal[] = [];
  for (let i = 1; i <= n; i++) {
    const prev = seals.at(-1);
    seals.push(
      signSeal(
        {
          trail,
          number: i,
          time: new Date(Date.UTC(2026, 11, 1, 6, 0, i)).toISOString(),
          prev: prev ? sealHash(prev) : null,
          streams: [{ streamId: "s1", size: 0, root: EMPTY_ROOT.toString("hex"), start: 1 }],
        },
        signer,
      ),
    );
  }
  return seals;
}

describe("DirectoryAnchor", () => {
  it("keeps one file per seal and reads them back in order", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anchor-"));
    const anchor = await DirectoryAnchor.open(dir, "clinic");
    const seals = chainOfSeals(12);
    for (const seal of seals) await anchor.append(seal, seal.seal.number % 2 === 0 ? { s1: [] } : undefined);
    expect(await readdir(join(dir, "clinic"))).toContain("000000000012.seal");
    expect(await readFile(join(dir, "clinic", "000000000003.seal"), "utf8")).toBe(seals[2]?.text);
    const read: number[] = [];
    for await (const seal of anchor.readAll()) read.push(seal.seal.number);
    expect(read).toEqual(seals.map((s) => s.seal.number));
    expect((await anchor.latest())?.text).toBe(seals[11]?.text);
    expect(await anchor.proofs(2)).toEqual({ s1: [] });
    expect(await anchor.proofs(3)).toBeUndefined();
  });

  it("never overwrites a seal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anchor-"));
    const anchor = await DirectoryAnchor.open(dir, "clinic");
    const [first] = chainOfSeals(1);
    const other = signSeal({ ...(first as SignedSeal).seal, time: "2027-01-01T00:00:00.000Z" }, signer);
    await anchor.append(first as SignedSeal);
    await expect(anchor.append(other)).rejects.toThrow(/never overwritten/);
    expect((await anchor.read(1)).text).toBe(first?.text);
  });

  it("refuses a seal of another trail and a file that is not a seal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anchor-"));
    const anchor = await DirectoryAnchor.open(dir, "clinic");
    await expect(anchor.append(chainOfSeals(1, "other")[0] as SignedSeal)).rejects.toThrow(AnchorError);
    await writeFile(join(dir, "clinic", "000000000001.seal"), "garbage");
    await expect(anchor.latest()).rejects.toThrow(AnchorError);
    await expect(DirectoryAnchor.open(dir, "../escape")).rejects.toThrow(AnchorError);
  });

  it("lets one process seal a trail; a lock left by a dead process is taken over", async () => {
    const dir = await mkdtemp(join(tmpdir(), "anchor-"));
    const first = await DirectoryAnchor.open(dir, "clinic");
    first.lock();
    const second = await DirectoryAnchor.open(dir, "clinic");
    expect(() => second.lock()).toThrow(/already sealed by this process/);
    first.unlock();
    second.lock();
    second.unlock();
    // A pid that has exited: spawnSync waited for it.
    const gone = spawnSync(process.execPath, ["-e", ""]).pid;
    await writeFile(join(dir, "clinic", ".lock"), String(gone));
    first.lock();
    expect(await readFile(join(dir, "clinic", ".lock"), "utf8")).toBe(String(process.pid));
    // A running process's lock (this test's parent, for instance) is respected.
    first.unlock();
    await writeFile(join(dir, "clinic", ".lock"), String(process.ppid));
    expect(() => second.lock()).toThrow(/sealed by process/);
  });
});
