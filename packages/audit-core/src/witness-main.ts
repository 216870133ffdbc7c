#!/usr/bin/env node
/**
 * `auditrail-witness`: runs a witness (./witness.ts) until SIGINT/SIGTERM.
 *
 *   auditrail-witness --dir <folder> --key <witness private key PEM> --writer-key <writer public key PEM> [--writer-key …]
 *                     [--name <key name>] [--host 127.0.0.1] [--port 0]
 *
 * Each flag may come from the environment instead: AUDIT_WITNESS_DIR, AUDIT_WITNESS_KEY_FILE,
 * AUDIT_WITNESS_WRITER_KEYS (comma-separated files), AUDIT_WITNESS_NAME, AUDIT_WITNESS_HOST,
 * AUDIT_WITNESS_PORT. Prints one JSON line `{ "witness": <url>, "name": … }` once listening.
 */
import { parseArgs } from "node:util";
import { messageOf } from "./errors.ts";
import { loadPublicKey, loadSigningKey } from "./seal.ts";
import { startWitness } from "./witness.ts";

const USAGE =
  "usage: auditrail-witness --dir <folder> --key <witness key PEM> --writer-key <writer public key PEM> [--writer-key …] [--name witness] [--host 127.0.0.1] [--port 0]";

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      dir: { type: "string" },
      key: { type: "string" },
      "writer-key": { type: "string", multiple: true },
      name: { type: "string" },
      host: { type: "string" },
      port: { type: "string" },
    },
  });
  const env = process.env;
  const dir = values.dir ?? env.AUDIT_WITNESS_DIR;
  const keyFile = values.key ?? env.AUDIT_WITNESS_KEY_FILE;
  const writerKeyFiles = values["writer-key"] ?? env.AUDIT_WITNESS_WRITER_KEYS?.split(",").filter((f) => f !== "") ?? [];
  const port = Number(values.port ?? env.AUDIT_WITNESS_PORT ?? "0");
  if (!dir || !keyFile || writerKeyFiles.length === 0 || !Number.isInteger(port) || port < 0 || port > 65_535) {
    process.stderr.write(`${USAGE}\n`);
    process.exitCode = 2;
    return;
  }
  const name = values.name ?? env.AUDIT_WITNESS_NAME ?? "witness";
  const server = await startWitness({
    signer: { name, privateKey: await loadSigningKey(keyFile) },
    writerKeys: await Promise.all(writerKeyFiles.map(loadPublicKey)),
    dir,
    host: values.host ?? env.AUDIT_WITNESS_HOST ?? "127.0.0.1",
    port,
  });
  process.stdout.write(`${JSON.stringify({ witness: server.url, name, dir })}\n`);
  const stop = () => {
    void server.close().finally(() => process.exit(0));
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`auditrail-witness: ${messageOf(error)}\n`);
  process.exitCode = 1;
});
