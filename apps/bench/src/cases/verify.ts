/**
 * verify: how fast and in how little memory a sealed trail is verified. A fresh database gets
 * `rows` realistic entries through the SQL sink in four chained streams (as four worker threads
 * write them) and a seal signed over them; then `verify-run.js` — a process of its own, so its
 * peak RSS is verify's alone, with the heap bound the API's verify worker has — walks the whole
 * trail with the public key and the seal, in one thread and then with one walker thread per core,
 * and reports rows/s (wall clock, and per CPU second: on a
 * shared machine the wall clock also waits for others) and its peak RSS (sampled every 10 ms,
 * module loading included).
 */
import { execFile } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { ChainStream, MerkleLog, entryLeaf, signSeal, stampEvent } from "@auditrail/audit-core";
import { type Provider, VERIFY_HEAP_MB } from "@auditrail/db";
import { createSink } from "@auditrail/db/sink";
import { createTestDatabase } from "@auditrail/db/testing";
import { patientUpdate } from "../target.ts";

export interface VerifyRunResult {
  readonly entries: number;
  /** Walker threads (one per core). */
  readonly threads: number;
  readonly ok: boolean;
  readonly problems: number;
  readonly elapsedMs: number;
  /** CPU time the verify process spent (user + system): on a shared machine, wall time waits for others. */
  readonly cpuMs: number;
  readonly maxRssMb: number;
}

export interface VerifyResult extends VerifyRunResult {
  readonly rows: number;
  readonly streams: number;
  /** One thread (the API's audit.verify runs so, to leave the other cores to requests). */
  readonly rowsPerSec: number;
  readonly rowsPerCpuSec: number;
  readonly rssMb: number;
  /** The same walk with one walker thread per core (the CLI's default). */
  readonly parallel: { readonly threads: number; readonly rowsPerSec: number; readonly rssMb: number; readonly ok: boolean };
}

const run = promisify(execFile);
const STREAMS = 4;
const BATCH = 5_000;

export async function verifyCase(provider: Provider, rows: number): Promise<VerifyResult> {
  const db = await createTestDatabase(provider);
  const dir = await mkdtemp(join(tmpdir(), "auditrail-bench-verify-"));
  try {
    const sink = createSink({ url: db.url });
    const streams = Array.from({ length: STREAMS }, () => ({ chain: new ChainStream(), log: new MerkleLog() }));
    try {
      for (let i = 0; i < rows; i += BATCH) {
        const s = streams[(i / BATCH) % STREAMS] as (typeof streams)[number];
        const entries = Array.from({ length: Math.min(BATCH, rows - i) }, () => stampEvent(patientUpdate("patient.update"), undefined));
        const linked = s.chain.link(entries);
        await sink.write(linked);
        for (const e of linked) s.log.append(entryLeaf(e.hash));
      }
    } finally {
      await sink.close();
    }
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const heads = streams
      .map((s) => ({ streamId: s.chain.streamId, size: s.log.size, root: s.log.root().toString("hex"), start: 1 }))
      .sort((a, b) => (a.streamId < b.streamId ? -1 : 1));
    const signed = signSeal(
      { trail: "bench", number: 1, time: new Date().toISOString(), prev: null, streams: heads },
      { name: "bench", privateKey },
    );
    const store = createSink({ url: db.url });
    await store.storeSeal?.(signed);
    await store.close();
    await writeFile(join(dir, "seal.txt"), signed.text);
    await writeFile(join(dir, "public.pem"), publicKey.export({ format: "pem", type: "spki" }));
    const script = fileURLToPath(new URL("../verify-run.js", import.meta.url));
    const walk = async (threads: number) => {
      // The same heap bound the API's verify threads run with (VERIFY_HEAP_MB).
      const args = [
        `--max-old-space-size=${VERIFY_HEAP_MB}`,
        script,
        db.url,
        join(dir, "public.pem"),
        join(dir, "seal.txt"),
        String(threads),
      ];
      const { stdout } = await run(process.execPath, args, { maxBuffer: 1 << 20 });
      return JSON.parse(stdout.trim().split("\n").at(-1) ?? "") as VerifyRunResult;
    };
    const result = await walk(1);
    const parallel = await walk(availableParallelism());
    return {
      ...result,
      rows,
      streams: STREAMS,
      rowsPerSec: result.entries / (result.elapsedMs / 1000),
      rowsPerCpuSec: result.entries / (result.cpuMs / 1000),
      rssMb: result.maxRssMb,
      parallel: {
        threads: parallel.threads,
        rowsPerSec: parallel.entries / (parallel.elapsedMs / 1000),
        rssMb: parallel.maxRssMb,
        ok: parallel.ok,
      },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
    await db.drop();
  }
}
