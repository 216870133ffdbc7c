import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { MerkleProofError } from "./errors.ts";
import {
  EMPTY_ROOT,
  MerkleLog,
  consistencyProof,
  consistencyPathFrom,
  consistencyRanges,
  entryLeaf,
  entryLeafHex,
  inclusionPathFrom,
  inclusionProof,
  leafHash,
  nodeHash,
  rootOf,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

// The Certificate Transparency reference data (RFC 6962 test vectors, as published with the CT
// reference implementation and transparency-dev/merkle): eight leaves and the tree head of each size.
const CT_DATA = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
const CT_ROOTS = [
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const CT_INCLUSION = [
  {
    index: 0,
    size: 8,
    path: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    index: 5,
    size: 8,
    path: [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];
const CT_CONSISTENCY = [
  {
    first: 2,
    second: 8,
    path: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    first: 6,
    second: 8,
    path: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const unhex = (h: string) => Buffer.from(h, "hex");
const CT_LEAVES = CT_DATA.map((d) => leafHash(unhex(d)));

/** A reference tree hash straight from RFC 6962 §2.1's definition, for comparison. */
function mth(leaves: readonly Buffer[]): Buffer {
  if (leaves.length === 0) return createHash("sha256").digest();
  if (leaves.length === 1) return leaves[0] as Buffer;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return nodeHash(mth(leaves.slice(0, k)), mth(leaves.slice(k)));
}

const many = Array.from({ length: 70 }, (_, i) => leafHash(Buffer.from(`entry-${i}`)));

describe("RFC 6962 hashing", () => {
  it("gives the empty root, leaf and node hashes the RFC defines", () => {
    expect(hex(EMPTY_ROOT)).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(hex(leafHash(Buffer.alloc(0)))).toBe(CT_ROOTS[0]);
    expect(hex(nodeHash(CT_LEAVES[0] as Buffer, CT_LEAVES[1] as Buffer))).toBe(CT_ROOTS[1]);
  });

  it("matches the Certificate Transparency tree heads for every size 1..8", () => {
    for (let n = 1; n <= 8; n++) expect(hex(rootOf(CT_LEAVES.slice(0, n)))).toBe(CT_ROOTS[n - 1]);
  });

  it("an entry's leaf is the leaf hash of its chain hash's bytes", () => {
    const chain = "ab".repeat(32);
    expect(entryLeaf(chain)).toEqual(leafHash(unhex(chain)));
    expect(() => entryLeaf("ab")).toThrow(MerkleProofError);
    expect(() => entryLeaf("zz".repeat(32))).toThrow(MerkleProofError);
  });

  it("takes a chain hash only as 64 hex digits (either case), whatever else it holds", () => {
    const chain = "ab".repeat(32);
    expect(entryLeafHex(chain.toUpperCase())).toBe(entryLeafHex(chain));
    expect(entryLeafHex(chain)).toBe(hex(leafHash(unhex(chain))));
    for (const bad of [
      `${chain.slice(0, 63)}g`,
      `g${chain.slice(1)}`,
      `${chain.slice(0, 62)} a`,
      `0x${chain.slice(2)}`,
      `${chain}0`,
      "é".repeat(64),
      `${chain.slice(0, 63)}\u0000`,
    ]) {
      expect(() => entryLeafHex(bad)).toThrow(MerkleProofError);
      expect(() => entryLeaf(bad)).toThrow(MerkleProofError);
    }
  });
});

describe("MerkleLog", () => {
  it("has the tree hash of its leaves at every size, appending one at a time", () => {
    const log = new MerkleLog();
    expect(log.root()).toEqual(EMPTY_ROOT);
    for (let n = 1; n <= many.length; n++) {
      log.append(many[n - 1] as Buffer);
      expect(log.size).toBe(n);
      expect(hex(log.root())).toBe(hex(mth(many.slice(0, n))));
    }
  });

  it("keeps only a logarithmic frontier and continues from it after restore", () => {
    const log = new MerkleLog();
    for (const leaf of many.slice(0, 45)) log.append(leaf);
    const state = log.state();
    expect(state.frontier).toHaveLength(4); // 45 = 32 + 8 + 4 + 1
    const resumed = MerkleLog.restore(state);
    for (const leaf of many.slice(45)) {
      log.append(leaf);
      resumed.append(leaf);
    }
    expect(resumed.size).toBe(many.length);
    expect(resumed.root()).toEqual(mth(many));
  });

  it("refuses a frontier that does not fit its size", () => {
    const state = new MerkleLog().state();
    expect(() => MerkleLog.restore({ size: 3, frontier: state.frontier })).toThrow(MerkleProofError);
    expect(() => MerkleLog.restore({ size: 1, frontier: ["12"] })).toThrow(MerkleProofError);
    expect(() => MerkleLog.restore({ size: -1, frontier: [] })).toThrow(MerkleProofError);
  });
});

describe("inclusion proofs", () => {
  it("match the Certificate Transparency reference paths", () => {
    for (const v of CT_INCLUSION) {
      const leaves = CT_LEAVES.slice(0, v.size);
      expect(inclusionProof(leaves, v.index).map(hex)).toEqual(v.path);
      expect(verifyInclusion(CT_LEAVES[v.index] as Buffer, v.index, v.size, v.path.map(unhex), unhex(CT_ROOTS[v.size - 1] as string))).toBe(
        true,
      );
    }
  });

  it("every leaf of every log size up to 70 proves its inclusion", () => {
    for (let n = 1; n <= many.length; n++) {
      const leaves = many.slice(0, n);
      const root = mth(leaves);
      for (let i = 0; i < n; i++) expect(verifyInclusion(leaves[i] as Buffer, i, n, inclusionProof(leaves, i), root)).toBe(true);
    }
  });

  it("a tampered proof, leaf, index, size or root fails", () => {
    for (const n of [2, 5, 8, 13, 64, 69]) {
      const leaves = many.slice(0, n);
      const root = mth(leaves);
      for (let i = 0; i < n; i++) {
        const proof = inclusionProof(leaves, i);
        const leaf = leaves[i] as Buffer;
        const flipped = proof.map((p, j) => (j === proof.length - 1 ? Buffer.from(p.map((b, k) => (k === 7 ? b ^ 1 : b))) : p));
        expect(verifyInclusion(leaf, i, n, flipped, root)).toBe(false);
        expect(verifyInclusion(leaf, i, n, proof.slice(0, -1), root)).toBe(false);
        expect(verifyInclusion(leaf, i, n, [...proof, Buffer.alloc(32, 0xab)], root)).toBe(false);
        expect(verifyInclusion(many[(i + 1) % n] as Buffer, i, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, (i + 1) % n, n, proof, root)).toBe(false);
        expect(verifyInclusion(leaf, i, n, proof, mth(many.slice(0, n + 1)))).toBe(false);
      }
    }
    const proof = inclusionProof(many.slice(0, 8), 3);
    expect(verifyInclusion(Buffer.alloc(31), 3, 8, proof, mth(many.slice(0, 8)))).toBe(false);
    expect(verifyInclusion(many[3] as Buffer, 8, 8, proof, mth(many.slice(0, 8)))).toBe(false);
    expect(verifyInclusion(many[3] as Buffer, -1, 8, proof, mth(many.slice(0, 8)))).toBe(false);
    expect(() => inclusionProof(many.slice(0, 8), 8)).toThrow(MerkleProofError);
  });
});

describe("consistency proofs", () => {
  it("match the Certificate Transparency reference proofs", () => {
    for (const v of CT_CONSISTENCY) {
      expect(consistencyProof(CT_LEAVES.slice(0, v.second), v.first).map(hex)).toEqual(v.path);
      const [r1, r2] = [unhex(CT_ROOTS[v.first - 1] as string), unhex(CT_ROOTS[v.second - 1] as string)];
      expect(verifyConsistency(v.first, v.second, r1, r2, v.path.map(unhex))).toBe(true);
    }
  });

  it("every pair of sizes up to 70 proves consistent", () => {
    const roots = Array.from({ length: many.length + 1 }, (_, n) => mth(many.slice(0, n)));
    for (let second = 0; second <= many.length; second++) {
      for (let first = 0; first <= second; first++) {
        const proof = consistencyProof(many.slice(0, second), first);
        expect(verifyConsistency(first, second, roots[first] as Buffer, roots[second] as Buffer, proof)).toBe(true);
      }
    }
  });

  it("a rewritten history, a tampered proof or a shrinking log fails", () => {
    const forked = [...many];
    forked[3] = leafHash(Buffer.from("forged"));
    for (let second = 2; second <= 40; second++) {
      for (let first = 1; first < second; first++) {
        const proof = consistencyProof(many.slice(0, second), first);
        const r1 = mth(many.slice(0, first));
        const r2 = mth(many.slice(0, second));
        const flipped = proof.map((p, j) => (j === 0 ? Buffer.from(p.map((b, k) => (k === 3 ? b ^ 0x80 : b))) : p));
        expect(verifyConsistency(first, second, r1, r2, flipped)).toBe(false);
        expect(verifyConsistency(first, second, r1, r2, proof.slice(0, -1))).toBe(false);
        expect(verifyConsistency(first, second, r1, r2, [...proof, Buffer.alloc(32, 0xcd)])).toBe(false);
        // The second log rewrote leaf 3 of the first: no proof from the honest history fits it.
        if (first > 3) {
          const forkRoot = mth(forked.slice(0, second));
          expect(verifyConsistency(first, second, r1, forkRoot, proof)).toBe(false);
          expect(verifyConsistency(first, second, r1, forkRoot, consistencyProof(forked.slice(0, second), first))).toBe(false);
        }
      }
    }
    expect(verifyConsistency(6, 4, mth(many.slice(0, 6)), mth(many.slice(0, 4)), [])).toBe(false);
    expect(verifyConsistency(4, 4, mth(many.slice(0, 4)), mth(many.slice(0, 5)), [])).toBe(false);
    expect(verifyConsistency(0, 8, mth(many.slice(0, 1)), mth(many.slice(0, 8)), [])).toBe(false);
    expect(() => consistencyRanges(5, 3)).toThrow(MerkleProofError);
  });

  it("ranges below the first size are the first log's frontier subtrees", () => {
    for (let second = 2; second <= 70; second++) {
      for (let first = 1; first < second; first++) {
        const log = new MerkleLog();
        for (const leaf of many.slice(0, first)) log.append(leaf);
        const frontier = new Set(log.state().frontier);
        for (const [start, end] of consistencyRanges(first, second)) {
          if (end <= first) expect(frontier.has(hex(mth(many.slice(start, end))))).toBe(true);
          else expect(start).toBeGreaterThanOrEqual(first);
        }
      }
    }
  });
});

describe("proofs from a leaf source (a database streaming rows)", () => {
  const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
  const source = (leaves: readonly Buffer[], kept: number) => {
    const log = new MerkleLog();
    for (const leaf of leaves.slice(0, kept)) log.append(leaf);
    return {
      prefix: kept > 0 ? log.state() : undefined,
      *leaves(start: number, end: number) {
        if (start < kept) throw new Error(`leaf ${start} was purged`);
        yield* leaves.slice(start, end);
      },
    };
  };

  it("gives the same inclusion paths as the whole tree, also when a prefix was purged", async () => {
    const leaves = many.slice(0, 33);
    for (let n = 1; n <= leaves.length; n++) {
      const tree = leaves.slice(0, n);
      for (let kept = 0; kept < n; kept += 3) {
        for (let i = kept; i < n; i++) {
          expect(await inclusionPathFrom(i, n, source(leaves, kept))).toEqual(inclusionProof(tree, i).map(hex));
        }
      }
    }
  });

  it("gives the same consistency proofs as the whole tree, also when a prefix was purged", async () => {
    const leaves = many.slice(0, 33);
    for (let second = 1; second <= leaves.length; second++) {
      for (let first = 1; first <= second; first++) {
        for (const kept of [0, Math.floor(first / 2), first]) {
          expect(await consistencyPathFrom(first, second, source(leaves, kept))).toEqual(
            consistencyProof(leaves.slice(0, second), first).map(hex),
          );
        }
      }
    }
  });

  it("names a source that gives too few leaves", async () => {
    await expect(inclusionPathFrom(0, 8, { leaves: () => many.slice(0, 3) })).rejects.toThrow(MerkleProofError);
  });
});
