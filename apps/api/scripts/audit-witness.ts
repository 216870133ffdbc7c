// Runs a witness: an HTTP server that cosigns each seal of the writers it trusts only if it is
// consistent with the last one it saw, and keeps what it cosigned in its own directory.
//   audit:witness --key FILE --writer-key FILE [--writer-key FILE …] --dir DIR [--port N] [--host H] [--name NAME]
// The API then uses it with AUDIT_WITNESS_URL=http://HOST:PORT.
import { parseArgs } from "node:util";
import { loadPublicKey, loadSigningKey, messageOf, startWitness } from "@auditrail/audit-core";

const { values } = parseArgs({
  options: {
    key: { type: "string" },
    "writer-key": { type: "string", multiple: true },
    dir: { type: "string" },
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    name: { type: "string", default: "witness" },
  },
});
const port = Number(values.port);
if (!values.key || !values["writer-key"]?.length || !values.dir || !Number.isInteger(port) || port < 0 || port > 65_535) {
  console.error("usage: audit:witness --key FILE --writer-key FILE [--writer-key FILE …] --dir DIR [--port N] [--host H] [--name NAME]");
  process.exit(2);
}
try {
  const witness = await startWitness({
    signer: { name: values.name, privateKey: await loadSigningKey(values.key) },
    writerKeys: await Promise.all(values["writer-key"].map((f) => loadPublicKey(f))),
    dir: values.dir,
    host: values.host,
    port,
  });
  console.log(`witness "${values.name}" on ${witness.url}, keeping seals in ${values.dir}`);
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void witness.close().then(() => process.exit(0)));
} catch (error) {
  console.error(`audit:witness: ${messageOf(error)}`);
  process.exit(1);
}
