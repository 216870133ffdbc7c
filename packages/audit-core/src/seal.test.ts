import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ChainStream, type ChainedEntry } from "./chain.ts";
import { SealFormatError, SealKeyError, SealSignatureError } from "./errors.ts";
import { stampEvent } from "./event.ts";
import { MerkleLog, entryLeaf, inclusionProof } from "./merkle.ts";
import {
  type EntryProof,
  EntryProofSchema,
  type Seal,
  cosignSeal,
  generateSealKeyPair,
  loadPublicKey,
  loadSigningKey,
  parseSeal,
  publicKeyFromPem,
  sealHash,
  signSeal,
  signingKeyFromPem,
  verifyProof,
  verifySeal,
} from "./seal.ts";

function keys(name = "clinic") {
  const pair = generateSealKeyPair();
  return { name, privateKey: signingKeyFromPem(pair.privateKeyPem), publicKey: publicKeyFromPem(pair.publicKeyPem) };
}

const writer = keys();
const ROOT = "ab".repeat(32);
const seal: Seal = {
  trail: "clinic",
  number: 2,
  time: "2026-12-01T05:40:00.000Z",
  prev: "cd".repeat(32),
  streams: [
    { streamId: "0193a1b2-0000-7000-8000-000000000001", size: 10, root: ROOT, start: 1 },
    {
      streamId: "0193a1b2-0000-7000-8000-000000000002",
      size: 0,
      root: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      start: 1,
    },
  ],
};

describe("seal text", () => {
  it("round-trips through its text and verifies with the signer's public key", () => {
    const signed = signSeal(seal, writer);
    expect(signed.text).toMatch(/^auditrail seal v1\ntrail clinic\nnumber 2\n/);
    expect(signed.text).toMatch(/\n\n— clinic [A-Za-z0-9+/]+=*\n$/);
    const parsed = parseSeal(signed.text);
    expect(parsed.seal).toEqual(seal);
    expect(parsed.text).toBe(signed.text);
    expect(verifySeal(signed.text, writer.publicKey).seal).toEqual(seal);
    expect(sealHash(parsed)).toBe(sealHash(seal));
  });

  it("a changed body, a forged signature or another key fails verification", () => {
    const signed = signSeal(seal, writer);
    const grown = signed.text.replace(" 10 ", " 11 ");
    expect(() => verifySeal(grown, writer.publicKey)).toThrow(SealSignatureError);
    const other = keys();
    const forged = signSeal({ ...seal, streams: seal.streams.slice(1) }, other);
    expect(() => verifySeal(forged.text, writer.publicKey)).toThrow(SealSignatureError);
    // A forger who copies the writer's key name still has a different key id (and signature).
    const impostor = signSeal(seal, { name: "clinic", privateKey: other.privateKey });
    expect(() => verifySeal(impostor.text, writer.publicKey)).toThrow(SealSignatureError);
    const sigLine = signed.text.split("\n").at(-2) as string;
    const raw = Buffer.from(sigLine.split(" ")[2] as string, "base64");
    raw[10] = (raw[10] as number) ^ 1;
    const tampered = signed.text.replace(sigLine, `— clinic ${raw.toString("base64")}`);
    expect(() => verifySeal(tampered, writer.publicKey)).toThrow(SealSignatureError);
  });

  it("a witness's cosignature keeps the hash and both signatures verify", () => {
    const witness = keys("witness-1");
    const signed = signSeal(seal, writer);
    const cosigned = cosignSeal(parseSeal(signed.text), witness);
    expect(cosigned.signatures.map((s) => s.keyName)).toEqual(["clinic", "witness-1"]);
    expect(sealHash(cosigned)).toBe(sealHash(signed));
    expect(verifySeal(cosigned.text, writer.publicKey).seal).toEqual(seal);
    expect(verifySeal(cosigned.text, witness.publicKey).seal).toEqual(seal);
  });

  it("refuses text that is not a canonical seal, naming the problem", () => {
    const text = signSeal(seal, writer).text;
    const bad = [
      text.replace("auditrail seal v1", "auditrail seal v2"),
      text.replace("number 2", "number 02"),
      text.replace("number 2", "number -2"),
      text.replace("time 2026-12-01T05:40:00.000Z", "time 2026-12-01 05:40"),
      text.replace(/stream (\S+) 10/, "stream $1 ten"),
      text.replace(/stream (\S+) 10 (\S+) 1/, "stream $1 10 $2 12"),
      text.replace("\n\n", "\n"),
      text.split("\n\n")[0] as string,
      `${text.split("\n\n")[0]}\n\n`,
      text.replace("— clinic", "—clinic"),
      text.replace(/(stream 0193a1b2-0000-7000-8000-000000000001[^\n]*\n)(stream [^\n]*\n)/, "$2$1"),
    ];
    for (const t of bad) expect(() => parseSeal(t), t).toThrow(SealFormatError);
    expect(() => signSeal({ ...seal, trail: "a clinic" }, writer)).toThrow(SealFormatError);
    expect(() => signSeal({ ...seal, number: 1 }, writer)).toThrow(SealFormatError); // the first seal has no prev
    expect(() => signSeal({ ...seal, number: 1, prev: null }, { name: "bad name", privateKey: writer.privateKey })).toThrow(SealKeyError);
  });
});

describe("seal keys", () => {
  it("loads a generated pair from PEM files; a private key file yields the public key too", async () => {
    const dir = await mkdtemp(join(tmpdir(), "seal-keys-"));
    const pair = generateSealKeyPair();
    await writeFile(join(dir, "seal.key"), pair.privateKeyPem);
    await writeFile(join(dir, "seal.pub"), pair.publicKeyPem);
    const privateKey = await loadSigningKey(join(dir, "seal.key"));
    const publicKey = await loadPublicKey(join(dir, "seal.pub"));
    const signed = signSeal(seal, { name: "clinic", privateKey });
    expect(verifySeal(signed.text, publicKey).seal).toEqual(seal);
    expect(verifySeal(signed.text, await loadPublicKey(join(dir, "seal.key"))).seal).toEqual(seal);
  });

  it("refuses a missing file, a non-key and a key of another algorithm", async () => {
    const dir = await mkdtemp(join(tmpdir(), "seal-keys-"));
    await writeFile(join(dir, "junk.pem"), "not a key");
    const { generateKeyPairSync } = await import("node:crypto");
    const rsa = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    await writeFile(join(dir, "ec.pem"), rsa);
    await expect(loadSigningKey(join(dir, "missing.pem"))).rejects.toThrow(SealKeyError);
    await expect(loadSigningKey(join(dir, "junk.pem"))).rejects.toThrow(SealKeyError);
    await expect(loadSigningKey(join(dir, "ec.pem"))).rejects.toThrow(/Ed25519/);
    await expect(loadPublicKey(join(dir, "ec.pem"))).rejects.toThrow(SealKeyError);
  });
});

describe("verifyProof", () => {
  // A stream of 13 entries, sealed; a proof for each entry.
  const stream = new ChainStream("0193a1b2-0000-7000-8000-00000000000a");
  const entries: ChainedEntry[] = stream.link(
    Array.from({ length: 13 }, (_, i) =>
      stampEvent({ action: "patient.read", entity: "Patient", entityId: `p${i}`, metadata: { i } }, undefined),
    ),
  );
  const leaves = entries.map((e) => entryLeaf(e.hash));
  const log = new MerkleLog();
  for (const leaf of leaves) log.append(leaf);
  const sealed = signSeal(
    {
      trail: "clinic",
      number: 1,
      time: "2026-12-01T05:40:00.000Z",
      prev: null,
      streams: [{ streamId: stream.streamId, size: 13, root: log.root().toString("hex"), start: 1 }],
    },
    writer,
  );
  const proofOf = (i: number): EntryProof => ({
    entry: entries[i] as ChainedEntry,
    path: inclusionProof(leaves, i).map((h) => h.toString("hex")),
    seal: sealed.text,
  });

  it("accepts every entry's proof offline, and the proof survives a JSON round trip", () => {
    for (let i = 0; i < entries.length; i++) {
      const proof = EntryProofSchema.parse(JSON.parse(JSON.stringify(proofOf(i))));
      const verdict = verifyProof(proof, writer.publicKey);
      expect(verdict).toMatchObject({ ok: true, stream: { streamId: stream.streamId, size: 13 } });
    }
  });

  it("names what fails: an edited entry, a wrong path, a forged seal, an entry past the seal", () => {
    const proof = proofOf(4);
    const edited = { ...proof, entry: { ...proof.entry, entityId: "someone-else" } };
    expect(verifyProof(edited, writer.publicKey)).toEqual({ ok: false, reason: expect.stringMatching(/modified/) });
    const moved = { ...proof, path: proofOf(5).path };
    expect(verifyProof(moved, writer.publicKey)).toEqual({ ok: false, reason: expect.stringMatching(/inclusion path/) });
    const other = keys();
    const forgedSeal = signSeal(parseSeal(sealed.text).seal, other).text;
    expect(verifyProof({ ...proof, seal: forgedSeal }, writer.publicKey)).toMatchObject({ ok: false });
    const late = { ...proof, entry: { ...proof.entry, seq: 14 } };
    expect(verifyProof(late, writer.publicKey)).toMatchObject({ ok: false });
    const elsewhere = { ...proof, entry: { ...proof.entry, streamId: "another" } };
    expect(verifyProof(elsewhere, writer.publicKey)).toMatchObject({ ok: false });
  });

  it("EntryProofSchema refuses malformed proofs", () => {
    const proof = JSON.parse(JSON.stringify(proofOf(0)));
    expect(EntryProofSchema.safeParse({ ...proof, path: ["xyz"] }).success).toBe(false);
    expect(EntryProofSchema.safeParse({ ...proof, entry: { ...proof.entry, seq: 0 } }).success).toBe(false);
    expect(EntryProofSchema.safeParse({ ...proof, extra: 1 }).success).toBe(false);
  });
});
