// Writes an Ed25519 key pair for signing seals: <out>/<name>.pem (private, mode 0600) and
// <out>/<name>.pub.pem (public: give it to auditors, who verify with it). Never overwrites.
//   pnpm --filter @auditrail/api audit:keygen -- --out /secure/keys --name clinic-seal
// Then start the API with AUDIT_SEAL_KEY_FILE=/secure/keys/clinic-seal.pem.
import { mkdir, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { scriptArgs } from "./args.ts";
import { generateSealKeyPair } from "@auditrail/audit-core";

const { values } = parseArgs({
  args: scriptArgs(),
  options: { out: { type: "string", default: ".auditrail/keys" }, name: { type: "string", default: "seal" } },
});
if (!/^[\w.-]{1,64}$/.test(values.name)) {
  console.error("usage: audit:keygen [--out DIR] [--name NAME]   (NAME: letters, digits, . _ -)");
  process.exit(2);
}
const dir = resolve(values.out);
const privateFile = join(dir, `${values.name}.pem`);
const publicFile = join(dir, `${values.name}.pub.pem`);
const { privateKeyPem, publicKeyPem } = generateSealKeyPair();
await mkdir(dir, { recursive: true });
try {
  await writeFile(privateFile, privateKeyPem, { flag: "wx", mode: 0o600 });
  await writeFile(publicFile, publicKeyPem, { flag: "wx" });
} catch (error) {
  if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  console.error(`${(error as NodeJS.ErrnoException).path ?? privateFile} exists: keygen never overwrites a key.`);
  process.exit(1);
}
console.log(`signing key: ${privateFile} (keep it away from the database; AUDIT_SEAL_KEY_FILE)`);
console.log(`public key:  ${publicFile} (for audit:verify --public-key)`);
