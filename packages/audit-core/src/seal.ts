/**
 * Seals: the writer's signed word on what every stream of a trail held at one moment. A seal
 * names the trail, its number (1, 2, 3, … for the trail's life, across restarts), the time, the
 * hash of the previous seal, and for every stream ever written its size and Merkle root (see
 * ./merkle.ts), plus where the stream now starts if a purge removed a prefix. It is signed with
 * Ed25519 and kept outside the database (./anchor.ts, ./witness.ts) — so rewriting history needs
 * the signing key, not just write access to the table.
 *
 * The text form follows C2SP signed notes (https://c2sp.org/signed-note): a body of lines, a
 * blank line, then one signature line per signer, `— <key name> <base64(key id ‖ signature)>`,
 * the key id being the first 4 bytes of SHA-256(key name ‖ "\n" ‖ 0x01 ‖ 32-byte public key).
 * A witness cosigns by adding its own line. The body:
 *
 *   auditrail seal v1
 *   trail <name>
 *   number <n>
 *   time <ISO-8601 UTC>
 *   prev <base64 SHA-256 of the previous seal's body | ->
 *   stream <streamId> <size> <base64 root> <first seq kept>     (one per stream, sorted by id)
 *
 * A seal's hash is SHA-256 of its body (signatures excluded, so a cosignature does not change it).
 */
import { type KeyObject, createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { type ChainedEntry, chainHash } from "./chain.ts";
import { MerkleProofError, SealFormatError, SealKeyError, SealSignatureError, messageOf } from "./errors.ts";
import { AuditEntrySchema } from "./event.ts";
import { HASH_BYTES, entryLeaf, hashFromHex, verifyInclusion } from "./merkle.ts";

/** One stream's state in a seal. */
export interface StreamHead {
  readonly streamId: string;
  /** Leaves in the stream's log: entries with seq 1..size (written or dead-lettered). */
  readonly size: number;
  /** The log's Merkle root at that size, hex. */
  readonly root: string;
  /** The first seq still kept: 1, or the start a signed purge gave the stream. */
  readonly start: number;
}

export interface Seal {
  readonly trail: string;
  readonly number: number;
  /** ISO-8601 UTC, milliseconds. */
  readonly time: string;
  /** Hex SHA-256 of the previous seal's body; null for a trail's first seal. */
  readonly prev: string | null;
  /** Every stream of the trail, sorted by streamId. */
  readonly streams: readonly StreamHead[];
}

export interface SealSignature {
  readonly keyName: string;
  /** The 4-byte key id, hex. */
  readonly keyId: string;
  readonly signature: Buffer;
}

export interface SignedSeal {
  readonly seal: Seal;
  /** The signed body text (ends in a newline). */
  readonly body: string;
  readonly signatures: readonly SealSignature[];
  /** The whole note: body, blank line, signature lines. What anchors and the database keep. */
  readonly text: string;
}

/** A signer: a key name (as it appears on signature lines) and its Ed25519 private key. */
export interface SealSigner {
  readonly name: string;
  readonly privateKey: KeyObject;
}

const HEADER = "auditrail seal v1";
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const KEY_NAME = /^[^\s+]{1,128}$/;
/** What a trail name may be (also a key name, so no spaces and no "+"). */
export const TRAIL_NAME = NAME;
/** What a stream id may be. */
export const STREAM_ID = NAME;

const b64 = (hex: string) => Buffer.from(hex, "hex").toString("base64");

/** The body text of `seal` (what is signed and hashed). Validates the seal first. */
export function sealBody(seal: Seal): string {
  checkSeal(seal);
  const lines = [
    HEADER,
    `trail ${seal.trail}`,
    `number ${seal.number}`,
    `time ${seal.time}`,
    `prev ${seal.prev === null ? "-" : b64(seal.prev)}`,
    ...seal.streams.map((s) => `stream ${s.streamId} ${s.size} ${b64(s.root)} ${s.start}`),
  ];
  return `${lines.join("\n")}\n`;
}

/** Hex SHA-256 of a seal's body: what the next seal's `prev` names. */
export function sealHash(seal: Seal | SignedSeal): string {
  const body = "body" in seal ? seal.body : sealBody(seal);
  return createHash("sha256").update(body).digest("hex");
}

/** The C2SP key id: first 4 bytes of SHA-256(name ‖ "\n" ‖ 0x01 ‖ raw public key). */
export function keyId(name: string, publicKey: KeyObject): Buffer {
  return createHash("sha256")
    .update(`${name}\n`)
    .update(Buffer.from([0x01]))
    .update(rawPublicKey(publicKey))
    .digest()
    .subarray(0, 4);
}

/** Signs `seal` with `signer`. */
export function signSeal(seal: Seal, signer: SealSigner): SignedSeal {
  const body = sealBody(seal);
  const signature = signatureOf(body, signer);
  return { seal, body, signatures: [signature], text: noteText(body, [signature]) };
}

/** Adds `signer`'s signature (a witness's cosignature) to a signed seal. */
export function cosignSeal(signed: SignedSeal, signer: SealSigner): SignedSeal {
  const signature = signatureOf(signed.body, signer);
  const signatures = [...signed.signatures.filter((s) => s.keyName !== signer.name), signature];
  return { ...signed, signatures, text: noteText(signed.body, signatures) };
}

/** Parses a seal's text (body and signature lines); checks its form, not its signatures. */
export function parseSeal(text: string): SignedSeal {
  const split = text.indexOf("\n\n");
  if (split < 0) throw new SealFormatError("no blank line between the body and the signatures");
  const body = text.slice(0, split + 1);
  const lines = body.slice(0, -1).split("\n");
  if (lines[0] !== HEADER) throw new SealFormatError(`the first line must be "${HEADER}"`);
  const field = (i: number, key: string): string => {
    const line = lines[i];
    if (line === undefined || !line.startsWith(`${key} `)) throw new SealFormatError(`line ${i + 1} must be "${key} …"`);
    return line.slice(key.length + 1);
  };
  const trail = field(1, "trail");
  const number = integer(field(2, "number"), "number");
  const time = field(3, "time");
  const prevText = field(4, "prev");
  const prev = prevText === "-" ? null : hexOf(prevText, "prev");
  const streams = lines.slice(5).map((line, i) => {
    const parts = line.split(" ");
    if (parts.length !== 5 || parts[0] !== "stream") throw new SealFormatError(`line ${i + 6} must be "stream <id> <size> <root> <start>"`);
    const [, streamId, size, root, start] = parts as [string, string, string, string, string];
    return { streamId, size: integer(size, "size"), root: hexOf(root, "root"), start: integer(start, "start") };
  });
  const seal: Seal = { trail, number, time, prev, streams };
  checkSeal(seal);
  const signatures = text
    .slice(split + 2)
    .split("\n")
    .filter((line, i, all) => line !== "" || i < all.length - 1)
    .map((line, i) => {
      const m = /^— (\S+) ([A-Za-z0-9+/]+={0,2})$/.exec(line);
      const raw = m ? Buffer.from(m[2] as string, "base64") : undefined;
      if (!m || !raw || raw.length !== 68)
        throw new SealFormatError(`signature line ${i + 1} must be "— <key name> <base64 of key id and signature>"`);
      return { keyName: m[1] as string, keyId: raw.subarray(0, 4).toString("hex"), signature: raw.subarray(4) };
    });
  if (signatures.length === 0) throw new SealFormatError("no signature line");
  if (sealBody(seal) !== body) throw new SealFormatError("the body is not in canonical form");
  return { seal, body, signatures, text };
}

/**
 * Checks that a signature on the seal verifies with `publicKey` (under any key name); returns the
 * parsed seal. Throws SealFormatError or SealSignatureError.
 */
export function verifySeal(seal: string | SignedSeal, publicKey: KeyObject): SignedSeal {
  const signed = typeof seal === "string" ? parseSeal(seal) : seal;
  const raw = rawPublicKey(publicKey);
  for (const s of signed.signatures) {
    if (keyId(s.keyName, publicKey).toString("hex") !== s.keyId) continue;
    if (verify(null, Buffer.from(signed.body), { key: publicKey }, s.signature)) return signed;
    throw new SealSignatureError(`the signature by "${s.keyName}" does not match the seal's body`);
  }
  throw new SealSignatureError(
    `no signature by the key ${raw.toString("base64")} (key ids on the seal: ${signed.signatures.map((s) => `${s.keyName}/${s.keyId}`).join(", ")})`,
  );
}

// ── keys ──────────────────────────────────────────────────────────────────────────────────────

/** A fresh Ed25519 key pair as PEM text (PKCS#8 private, SPKI public): what `audit:keygen` writes. */
export function generateSealKeyPair(): { privateKeyPem: string; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  return {
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
    publicKeyPem: publicKey.export({ format: "pem", type: "spki" }).toString(),
  };
}

/** An Ed25519 private key from PEM text. */
export function signingKeyFromPem(pem: string, source = "(PEM text)"): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw new SealKeyError(source, `not a PEM private key (${messageOf(error)})`, error);
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new SealKeyError(source, `is a ${key.asymmetricKeyType ?? "unknown"} key; seals use Ed25519`);
  return key;
}

/** An Ed25519 public key from PEM text (a private key's PEM gives its public half). */
export function publicKeyFromPem(pem: string, source = "(PEM text)"): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (error) {
    throw new SealKeyError(source, `not a PEM public key (${messageOf(error)})`, error);
  }
  if (key.asymmetricKeyType !== "ed25519")
    throw new SealKeyError(source, `is a ${key.asymmetricKeyType ?? "unknown"} key; seals use Ed25519`);
  return key;
}

/** Reads an Ed25519 private key from a PEM file. */
export async function loadSigningKey(file: string): Promise<KeyObject> {
  return signingKeyFromPem(await readKeyFile(file), file);
}

/** Reads an Ed25519 public key from a PEM file. */
export async function loadPublicKey(file: string): Promise<KeyObject> {
  return publicKeyFromPem(await readKeyFile(file), file);
}

// ── proofs ────────────────────────────────────────────────────────────────────────────────────

/** Everything needed to check one entry offline: the entry, its inclusion path, the signed seal. */
export interface EntryProof {
  /** The entry as stored, with its chain link (streamId, seq, prevHash, hash). */
  readonly entry: ChainedEntry;
  /** RFC 9162 inclusion path of leaf seq − 1 in the stream's log at the seal's size, hex. */
  readonly path: readonly string[];
  /** The signed seal's text; its head for entry.streamId gives the log size and root. */
  readonly seal: string;
}

const hex64 = z.string().regex(/^[0-9a-f]{64}$/, "64 lowercase hex digits");

/** Validates a proof read from outside (a file, a request): the CLI's `--proof FILE`. */
export const EntryProofSchema = z.strictObject({
  entry: AuditEntrySchema.extend({
    streamId: z.string().regex(STREAM_ID),
    seq: z.number().int().min(1),
    prevHash: hex64.nullable(),
    hash: hex64,
  }),
  path: z.array(hex64).max(64),
  seal: z
    .string()
    .min(1)
    .max(16 * 1024 * 1024),
});

export type ProofVerdict =
  | { readonly ok: true; readonly seal: Seal; readonly stream: StreamHead }
  | { readonly ok: false; readonly reason: string };

/**
 * Checks a proof with no database: the seal is signed by `publicKey`; the entry's content still
 * gives its chain hash; its leaf and the inclusion path lead to the root the seal signed for its
 * stream. Never throws for a bad proof: the verdict says what failed.
 */
export function verifyProof(proof: EntryProof, publicKey: KeyObject): ProofVerdict {
  let signed: SignedSeal;
  try {
    signed = verifySeal(proof.seal, publicKey);
  } catch (error) {
    return { ok: false, reason: messageOf(error) };
  }
  const { entry } = proof;
  if (chainHash(entry, entry.streamId, entry.prevHash) !== entry.hash) {
    return { ok: false, reason: "the entry's content does not match its chain hash (modified)" };
  }
  const stream = signed.seal.streams.find((s) => s.streamId === entry.streamId);
  if (!stream) return { ok: false, reason: `the seal has no stream ${entry.streamId}` };
  if (entry.seq > stream.size) return { ok: false, reason: `seq ${entry.seq} is beyond the sealed size ${stream.size} of its stream` };
  let path: Buffer[];
  try {
    path = proof.path.map(hashFromHex);
  } catch (error) {
    return { ok: false, reason: messageOf(error) };
  }
  if (!verifyInclusion(entryLeaf(entry.hash), entry.seq - 1, stream.size, path, hashFromHex(stream.root))) {
    return { ok: false, reason: "the inclusion path does not lead to the sealed root" };
  }
  return { ok: true, seal: signed.seal, stream };
}

// ── internals ─────────────────────────────────────────────────────────────────────────────────

function checkSeal(seal: Seal): void {
  if (!TRAIL_NAME.test(seal.trail)) throw new SealFormatError(`trail name ${JSON.stringify(seal.trail)} must match ${TRAIL_NAME}`);
  if (!Number.isSafeInteger(seal.number) || seal.number < 1) throw new SealFormatError(`number ${seal.number} must be a positive integer`);
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(seal.time) || new Date(seal.time).toISOString() !== seal.time) {
    throw new SealFormatError(`time ${JSON.stringify(seal.time)} must be ISO-8601 UTC with milliseconds`);
  }
  if (seal.prev !== null) checkHex(seal.prev, "prev");
  if ((seal.prev === null) !== (seal.number === 1)) throw new SealFormatError("exactly the first seal (number 1) has no prev");
  let last = "";
  for (const s of seal.streams) {
    if (!STREAM_ID.test(s.streamId)) throw new SealFormatError(`stream id ${JSON.stringify(s.streamId)} must match ${STREAM_ID}`);
    if (s.streamId <= last) throw new SealFormatError("streams must be sorted by id, each once");
    last = s.streamId;
    if (!Number.isSafeInteger(s.size) || s.size < 0) throw new SealFormatError(`stream ${s.streamId}: size must be a non-negative integer`);
    if (!Number.isSafeInteger(s.start) || s.start < 1 || s.start > s.size + 1) {
      throw new SealFormatError(`stream ${s.streamId}: start ${s.start} must be within 1..size + 1`);
    }
    checkHex(s.root, `stream ${s.streamId} root`);
  }
}

function checkHex(value: string, what: string): void {
  try {
    hashFromHex(value);
  } catch (error) {
    if (error instanceof MerkleProofError) throw new SealFormatError(`${what}: ${error.message}`);
    throw error;
  }
}

function integer(text: string, what: string): number {
  if (!/^(0|[1-9]\d{0,15})$/.test(text) || !Number.isSafeInteger(Number(text)))
    throw new SealFormatError(`${what} "${text}" is not an integer`);
  return Number(text);
}

function hexOf(base64: string, what: string): string {
  const bytes = Buffer.from(base64, "base64");
  if (bytes.length !== HASH_BYTES || bytes.toString("base64") !== base64) throw new SealFormatError(`${what} is not a base64 SHA-256 hash`);
  return bytes.toString("hex");
}

function signatureOf(body: string, signer: SealSigner): SealSignature {
  if (!KEY_NAME.test(signer.name)) throw new SealKeyError(signer.name, 'a key name has no spaces and no "+" (1–128 characters)');
  const publicKey = createPublicKey(signer.privateKey);
  return {
    keyName: signer.name,
    keyId: keyId(signer.name, publicKey).toString("hex"),
    signature: sign(null, Buffer.from(body), signer.privateKey),
  };
}

function noteText(body: string, signatures: readonly SealSignature[]): string {
  const lines = signatures.map((s) => `— ${s.keyName} ${Buffer.concat([Buffer.from(s.keyId, "hex"), s.signature]).toString("base64")}\n`);
  return `${body}\n${lines.join("")}`;
}

function rawPublicKey(publicKey: KeyObject): Buffer {
  if (publicKey.asymmetricKeyType !== "ed25519") throw new SealKeyError("(public key)", "is not an Ed25519 key");
  const der =
    publicKey.type === "private"
      ? createPublicKey(publicKey).export({ format: "der", type: "spki" })
      : publicKey.export({ format: "der", type: "spki" });
  return der.subarray(der.length - 32);
}

async function readKeyFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    throw new SealKeyError(file, `cannot be read (${messageOf(error)})`, error);
  }
}
