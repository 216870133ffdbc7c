/**
 * Builds dist/ once before the suite: worker threads load dist/writer/worker.js, memorySinkSpec()
 * names dist/testing.js, and the durable-mode child process imports dist/index.js.
 */
import { execFileSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const packageRoot = fileURLToPath(new URL("..", import.meta.url));
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: packageRoot, stdio: "inherit" });
}
