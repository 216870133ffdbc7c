/**
 * A witness: a small HTTP service, run apart from the writer (another host in production), that
 * cosigns a seal only if it is consistent with the last seal it saw of the same trail, and keeps
 * every seal it cosigned in its own append-only folder. A writer — or someone holding the
 * database and the writer's anchor folder — can then no longer roll the trail back, fork it, or
 * quietly drop a stream: the witness has the newer seal and refused the other.
 *
 *   POST /v1/seals                 { seal: <signed seal text>, proofs: { <streamId>: [hex…] } }
 *        200 { seal: <cosigned text> }   409 { error } (inconsistent)   400 { error } (malformed)
 *   GET  /v1/seals/<trail>/latest  200 { seal: <cosigned text> }   404 (never seen)
 *   GET  /health                   200
 *
 * Consistent (checkSuccession): same trail; number = last + 1; prev = hash of the last; every
 * stream of the last is still there, no smaller, its start not moved back; a stream of the same
 * size has the same root; a grown stream comes with a valid RFC 9162 consistency proof from its
 * last size and root. The first seal a witness sees of a trail is taken on trust (trust on first
 * use): start the witness with the trail.
 */
import { type KeyObject, createPublicKey } from "node:crypto";
import { type IncomingMessage, type ServerResponse, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { z } from "zod";
import { type ConsistencyProofs, DirectoryAnchor } from "./anchor.ts";
import { WitnessError, formatIssues, messageOf } from "./errors.ts";
import { hashFromHex, verifyConsistency } from "./merkle.ts";
import { type Seal, type SealSigner, type SignedSeal, TRAIL_NAME, cosignSeal, parseSeal, sealHash, verifySeal } from "./seal.ts";

/**
 * Why `next` may not follow `last` (undefined: it may). Pure: the witness's whole rule.
 * `proofs` holds, per grown stream, its consistency proof (hex) from `last`'s size to `next`'s.
 */
export function checkSuccession(last: Seal | undefined, next: Seal, proofs: ConsistencyProofs): string | undefined {
  if (!last) return undefined;
  if (next.trail !== last.trail) return `seal of trail "${next.trail}" compared with trail "${last.trail}"`;
  if (next.number <= last.number) return `rolled back or replayed: seal ${next.number} after seal ${last.number}`;
  if (next.number !== last.number + 1) return `seal ${next.number} skips seals after ${last.number}`;
  if (next.prev !== sealHash(last)) return `fork: seal ${next.number} does not name seal ${last.number} as its previous`;
  const heads = new Map(next.streams.map((s) => [s.streamId, s]));
  for (const before of last.streams) {
    const after = heads.get(before.streamId);
    if (!after) return `stream ${before.streamId} vanished`;
    if (after.size < before.size) return `stream ${before.streamId} shrank from ${before.size} to ${after.size} (rolled back)`;
    if (after.start < before.start) return `stream ${before.streamId} start moved back from ${before.start} to ${after.start}`;
    const proof = proofs[before.streamId] ?? [];
    if (after.size === before.size) {
      if (after.root !== before.root) return `stream ${before.streamId} was rewritten: same size ${after.size}, another root`;
      continue;
    }
    if (before.size === 0) continue;
    let path: Buffer[];
    try {
      path = proof.map(hashFromHex);
    } catch {
      return `stream ${before.streamId}: the consistency proof is not a list of hashes`;
    }
    if (!verifyConsistency(before.size, after.size, hashFromHex(before.root), hashFromHex(after.root), path)) {
      return `stream ${before.streamId}: no valid consistency proof from size ${before.size} to ${after.size} (history rewritten?)`;
    }
  }
  return undefined;
}

export interface WitnessOptions {
  /** The witness's own key and name (on its cosignature lines). */
  readonly signer: SealSigner;
  /** Public keys of the writers whose seals it accepts. */
  readonly writerKeys: readonly KeyObject[];
  /** Where it keeps what it cosigned: <dir>/<trail>/<number>.seal (append-only, as the anchor). */
  readonly dir: string;
  readonly host?: string;
  /** 0 (default): any free port. */
  readonly port?: number;
  /** Requests larger than this are refused (413). */
  readonly maxBodyBytes?: number;
}

export interface WitnessServer {
  readonly url: string;
  close(): Promise<void>;
}

const SubmitSchema = z.strictObject({
  seal: z.string().min(1),
  proofs: z.record(z.string(), z.array(z.string()).max(128)).default({}),
});

/** Starts a witness on `host:port` (127.0.0.1, any free port by default). */
export async function startWitness(options: WitnessOptions): Promise<WitnessServer> {
  if (options.writerKeys.length === 0) throw new WitnessError("a witness needs at least one writer public key", false);
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const trails = new Map<string, Promise<{ anchor: DirectoryAnchor; last: SignedSeal | undefined; turn: Promise<unknown> }>>();

  /** A trail's state, loaded once (concurrent first requests share the load). */
  function trail(name: string) {
    let state = trails.get(name);
    if (!state) {
      state = DirectoryAnchor.open(options.dir, name).then(async (anchor) => ({
        anchor,
        last: await anchor.latest(),
        turn: Promise.resolve() as Promise<unknown>,
      }));
      state.catch(() => trails.delete(name));
      trails.set(name, state);
    }
    return state;
  }

  async function submit(body: unknown): Promise<[number, unknown]> {
    const parsed = SubmitSchema.safeParse(body);
    if (!parsed.success) return [400, { error: formatIssues(parsed.error.issues, "(body)").join("; ") }];
    let signed: SignedSeal;
    try {
      signed = parseSeal(parsed.data.seal);
    } catch (error) {
      return [400, { error: messageOf(error) }];
    }
    if (!options.writerKeys.some((key) => signedBy(signed, key)))
      return [409, { error: "the seal is not signed by a writer key this witness accepts" }];
    const state = await trail(signed.seal.trail);
    // One seal of a trail at a time: two racing successors must not both be accepted.
    const decision = state.turn.then(async (): Promise<[number, unknown]> => {
      const refusal = checkSuccession(state.last?.seal, signed.seal, parsed.data.proofs);
      if (refusal) return [409, { error: refusal }];
      const cosigned = cosignSeal(signed, options.signer);
      await state.anchor.append(cosigned);
      state.last = cosigned;
      return [200, { seal: cosigned.text }];
    });
    state.turn = decision.catch(() => undefined);
    return decision;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://witness");
    if (req.method === "GET" && url.pathname === "/health") return send(res, 200, { ok: true });
    const latest = /^\/v1\/seals\/([^/]+)\/latest$/.exec(url.pathname);
    if (req.method === "GET" && latest) {
      const name = decodeURIComponent(latest[1] as string);
      if (!TRAIL_NAME.test(name)) return send(res, 400, { error: `trail name must match ${TRAIL_NAME}` });
      const state = await trail(name);
      return state.last ? send(res, 200, { seal: state.last.text }) : send(res, 404, { error: `no seal of trail "${name}"` });
    }
    if (req.method === "POST" && url.pathname === "/v1/seals") {
      const text = await readBody(req, maxBody);
      if (text === undefined) return send(res, 413, { error: `request larger than ${maxBody} bytes` });
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return send(res, 400, { error: "the body is not JSON" });
      }
      const [status, payload] = await submit(body);
      return send(res, status, payload);
    }
    return send(res, 404, { error: "not found" });
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { error: `witness failed: ${messageOf(error)}` }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** What a writer uses to reach a witness. */
export class WitnessClient {
  constructor(
    readonly url: string,
    private readonly timeoutMs: number,
  ) {}

  /** Submits a seal; resolves with the witness's cosigned copy. WitnessError: refused (409) or unreachable. */
  async submit(signed: SignedSeal, proofs: ConsistencyProofs): Promise<SignedSeal> {
    const body = await this.call("/v1/seals", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ seal: signed.text, proofs }),
    });
    return parseSeal(body.seal);
  }

  /** The newest seal of `trail` the witness cosigned, or undefined if it has none. */
  async latest(trail: string): Promise<SignedSeal | undefined> {
    try {
      return parseSeal((await this.call(`/v1/seals/${encodeURIComponent(trail)}/latest`, { method: "GET" })).seal);
    } catch (error) {
      if (error instanceof WitnessError && error.status === 404) return undefined;
      throw error;
    }
  }

  private async call(path: string, init: RequestInit): Promise<{ seal: string }> {
    let response: Response;
    let text: string;
    try {
      response = await fetch(new URL(path, this.url), { ...init, signal: AbortSignal.timeout(this.timeoutMs) });
      text = await response.text();
    } catch (error) {
      throw new WitnessError(`${this.url}: ${messageOf(error)}`, false, error);
    }
    let body: { seal?: unknown; error?: unknown } = {};
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      // Not JSON: the status says enough.
    }
    if (response.ok && typeof body.seal === "string") return { seal: body.seal };
    const reason = typeof body.error === "string" ? body.error : `HTTP ${response.status}`;
    throw new WitnessError(reason, response.status === 409, undefined, response.status);
  }
}

function signedBy(signed: SignedSeal, key: KeyObject): boolean {
  try {
    verifySeal(signed, key.type === "private" ? createPublicKey(key) : key);
    return true;
  } catch {
    return false;
  }
}

function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        resolve(undefined);
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
