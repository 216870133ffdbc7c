/**
 * Builds this app's dist/ once before the suite (ingest processes run dist/main.js) and checks that
 * what the scenarios drive is built: writer workers load the JetStream sink's dist/, writer
 * processes run the fault harness's dist/writer-child.js (`turbo run test` builds them first).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = fileURLToPath(new URL("..", import.meta.url));
  const require = createRequire(import.meta.url);
  execFileSync(process.execPath, [require.resolve("typescript/bin/tsc"), "-p", "tsconfig.build.json"], { cwd: root, stdio: "inherit" });
  for (const built of [
    "../../packages/jetstream/dist/sink.js",
    "../../packages/db/dist/sink.js",
    "../../tooling/fault-harness/dist/writer-child.js",
  ]) {
    const file = fileURLToPath(new URL(built, new URL("../", import.meta.url)));
    if (!existsSync(file)) throw new Error(`${file} is missing: build the workspace first (npx -y pnpm@12.4.2 build)`);
  }
}
