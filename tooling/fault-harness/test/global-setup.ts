/**
 * Builds this package's dist/ once before the suite (the writer child process runs
 * dist/writer-child.js) and checks that the packages it drives are built (workers and the child
 * load their dist/; `turbo run test` builds them first).
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
    "../../packages/audit-core/dist/writer/worker.js",
    "../../packages/db/dist/sink.js",
    "../../apps/api/dist/index.js",
  ]) {
    const file = fileURLToPath(new URL(built, new URL("../", import.meta.url)));
    if (!existsSync(file)) throw new Error(`${file} is missing: build the workspace first (npx -y pnpm@12.4.2 build)`);
  }
}
