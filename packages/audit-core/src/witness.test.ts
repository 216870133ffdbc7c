import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ChainStream } from "./chain.ts";
import { WitnessError } from "./errors.ts";
import { stampEvent } from "./event.ts";
import { EMPTY_ROOT, consistencyProof, entryLeaf, rootOf } from "./merkle.ts";
import {
  type Seal,
  type SignedSeal,
  type StreamHead,
  generateSealKeyPair,
  publicKeyFromPem,
  sealHash,
  signSeal,
  signingKeyFromPem,
  verifySeal,
} from "./seal.ts";
import { WitnessClient, type WitnessServer, checkSuccession, startWitness } from "./witness.ts";

function keys(name: string) {
  const pair = generateSealKeyPair();
  return { name, privateKey: signingKeyFromPem(pair.privateKeyPem), publicKey: publicKeyFromPem(pair.publicKeyPem) };
}
const writer = keys("clinic");
const witnessKey = keys("witness-a");

/** Two streams' leaves; a seal over their first `a` and `b` entries; proofs between two such seals. */
const leavesA = new ChainStream("a")
  .link(Array.from({ length: 40 }, (_, i) => stampEvent({ action: "x", entity: "E", entityId: String(i) }, undefined)))
  .map((e) => entryLeaf(e.hash));
const leavesB = new ChainStream("b")
  .link(Array.from({ length: 40 }, (_, i) => stampEvent({ action: "y", entity: "E", entityId: String(i) }, undefined)))
  .map((e) => entryLeaf(e.hash));
const head = (streamId: string, leaves: Buffer[], size: number, start = 1): StreamHead => ({
  streamId,
  size,
  root: rootOf(leaves.slice(0, size)).toString("hex"),
  start,
});

function next(prev: SignedSeal | undefined, streams: StreamHead[], signer = writer): SignedSeal {
  const number = (prev?.seal.number ?? 0) + 1;
  return signSeal(
    {
      trail: "clinic",
      number,
      time: new Date(Date.UTC(2026, 11, 1, 6, 0, number)).toISOString(),
      prev: prev ? sealHash(prev) : null,
      streams,
    },
    signer,
  );
}
const proofs = (from: Seal, to: Seal) => {
  const out: Record<string, string[]> = {};
  for (const s of to.streams) {
    const before = from.streams.find((b) => b.streamId === s.streamId);
    const leaves = s.streamId === "a" ? leavesA : leavesB;
    if (before && before.size > 0 && s.size > before.size)
      out[s.streamId] = consistencyProof(leaves.slice(0, s.size), before.size).map((h) => h.toString("hex"));
  }
  return out;
};

describe("checkSuccession (the witness's rule)", () => {
  const one = next(undefined, [head("a", leavesA, 10)]);
  const two = next(one, [head("a", leavesA, 17), head("b", leavesB, 5)]);

  it("accepts the first seal it sees, and a successor that extends every stream", () => {
    expect(checkSuccession(undefined, one.seal, {})).toBeUndefined();
    expect(checkSuccession(one.seal, two.seal, proofs(one.seal, two.seal))).toBeUndefined();
    const idle = next(two, two.seal.streams.slice());
    expect(checkSuccession(two.seal, idle.seal, {})).toBeUndefined();
  });

  it("refuses a rollback, a replay, a skipped number and a fork", () => {
    expect(checkSuccession(two.seal, one.seal, {})).toMatch(/rolled back or replayed/);
    expect(checkSuccession(two.seal, two.seal, {})).toMatch(/rolled back or replayed/);
    const three = next(two, two.seal.streams.slice());
    expect(checkSuccession(one.seal, three.seal, {})).toMatch(/skips/);
    const forked = next(one, [head("a", leavesA, 12)]);
    const forkedNext = signSeal({ ...forked.seal, number: 3, prev: sealHash(forked) }, writer);
    expect(checkSuccession(two.seal, forkedNext.seal, {})).toMatch(/fork/);
  });

  it("refuses a vanished, shrunk, rewritten or restarted stream, and a missing or wrong proof", () => {
    const without = next(two, [head("a", leavesA, 20)]);
    expect(checkSuccession(two.seal, without.seal, proofs(two.seal, without.seal))).toMatch(/stream b vanished/);
    const shrunk = next(two, [head("a", leavesA, 16), head("b", leavesB, 5)]);
    expect(checkSuccession(two.seal, shrunk.seal, {})).toMatch(/stream a shrank/);
    const rewritten = next(two, [{ ...head("a", leavesA, 17), root: rootOf(leavesB.slice(0, 17)).toString("hex") }, head("b", leavesB, 5)]);
    expect(checkSuccession(two.seal, rewritten.seal, {})).toMatch(/rewritten/);
    const grown = next(two, [head("a", leavesA, 30), head("b", leavesB, 5)]);
    expect(checkSuccession(two.seal, grown.seal, {})).toMatch(/no valid consistency proof/);
    expect(checkSuccession(two.seal, grown.seal, { a: ["nothex"] })).toMatch(/not a list of hashes/);
    // A history rewritten below the last size: leaf 3 replaced, the log regrown to 30.
    const forgedLeaves = [...leavesA];
    forgedLeaves[3] = entryLeaf("00".repeat(32));
    const regrown = next(two, [head("a", forgedLeaves, 30), head("b", leavesB, 5)]);
    const forgedProof = consistencyProof(forgedLeaves.slice(0, 30), 17).map((h) => h.toString("hex"));
    expect(checkSuccession(two.seal, regrown.seal, { a: forgedProof })).toMatch(/no valid consistency proof/);
    // A purge moved a's start to 5 (signed); a later seal cannot bring the purged prefix back.
    const purged = next(two, [head("a", leavesA, 17, 5), head("b", leavesB, 5)]);
    expect(checkSuccession(two.seal, purged.seal, {})).toBeUndefined();
    const startBack = next(purged, [head("a", leavesA, 17, 2), head("b", leavesB, 5)]);
    expect(checkSuccession(purged.seal, startBack.seal, {})).toMatch(/start moved back/);
  });
});

describe("witness over HTTP", () => {
  const servers: WitnessServer[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });
  async function witness(dir: string) {
    const server = await startWitness({ signer: witnessKey, writerKeys: [writer.publicKey], dir });
    servers.push(server);
    return { server, client: new WitnessClient(server.url, 5_000) };
  }

  it("cosigns consistent seals, keeps them, and refuses a fork, a rollback and a stranger's seal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "witness-"));
    const { client } = await witness(dir);
    expect(await client.latest("clinic")).toBeUndefined();
    const one = next(undefined, [head("a", leavesA, 10)]);
    const two = next(one, [head("a", leavesA, 17), head("b", leavesB, 5)]);
    const cosigned = await client.submit(one, {});
    expect(verifySeal(cosigned, witnessKey.publicKey).seal).toEqual(one.seal);
    expect(verifySeal(cosigned, writer.publicKey).seal).toEqual(one.seal);
    await client.submit(two, proofs(one.seal, two.seal));
    expect((await client.latest("clinic"))?.seal).toEqual(two.seal);

    const rollback = next(one, [head("a", leavesA, 12)]);
    await expect(client.submit(rollback, {})).rejects.toMatchObject({
      refused: true,
      status: 409,
      message: expect.stringMatching(/rolled back/),
    });
    const stranger = next(two, two.seal.streams.slice(), keys("clinic"));
    await expect(client.submit(stranger, {})).rejects.toMatchObject({
      refused: true,
      message: expect.stringMatching(/not signed by a writer key/),
    });
    const vanished = next(two, [head("a", leavesA, 17)]);
    await expect(client.submit(vanished, {})).rejects.toThrow(/stream b vanished/);
  });

  it("accepts exactly one of two racing successors (a fork attempted at the same moment)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "witness-"));
    const { client } = await witness(dir);
    const one = next(undefined, [head("a", leavesA, 10)]);
    const left = next(one, [head("a", leavesA, 12)]);
    const right = next(one, [head("a", leavesA, 13)]);
    await client.submit(one, {});
    const results = await Promise.allSettled([
      client.submit(left, proofs(one.seal, left.seal)),
      client.submit(right, proofs(one.seal, right.seal)),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const winner = results[0]?.status === "fulfilled" ? left : right;
    const loser = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(loser?.reason).toMatchObject({ refused: true, message: expect.stringMatching(/rolled back or replayed/) });
    expect((await client.latest("clinic"))?.seal).toEqual(winner.seal);
  });

  it("remembers the last seal across a restart", async () => {
    const dir = await mkdtemp(join(tmpdir(), "witness-"));
    const one = next(undefined, [head("a", leavesA, 10)]);
    const two = next(one, [head("a", leavesA, 20)]);
    const first = await witness(dir);
    await first.client.submit(one, {});
    await first.client.submit(two, proofs(one.seal, two.seal));
    await first.server.close();
    servers.splice(0);
    const second = await witness(dir);
    expect((await second.client.latest("clinic"))?.seal.number).toBe(2);
    await expect(second.client.submit(next(one, [head("a", leavesA, 20)]), {})).rejects.toThrow(/rolled back/);
  });

  it("answers malformed requests with 400 and an unreachable witness is a WitnessError that is not a refusal", async () => {
    const dir = await mkdtemp(join(tmpdir(), "witness-"));
    const { server } = await witness(dir);
    const post = (body: string) =>
      fetch(`${server.url}/v1/seals`, { method: "POST", body, headers: { "content-type": "application/json" } });
    expect((await post("{")).status).toBe(400);
    expect((await post(JSON.stringify({ seal: "not a seal" }))).status).toBe(400);
    expect((await post(JSON.stringify({ seal: 1 }))).status).toBe(400);
    expect((await fetch(`${server.url}/v1/seals/..%2Fx/latest`)).status).toBe(400);
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
    await server.close();
    servers.splice(0);
    const client = new WitnessClient(server.url, 1_000);
    const error = await client
      .submit(next(undefined, [{ streamId: "a", size: 0, root: EMPTY_ROOT.toString("hex"), start: 1 }]), {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WitnessError);
    expect(error).toMatchObject({ refused: false });
  });
});
