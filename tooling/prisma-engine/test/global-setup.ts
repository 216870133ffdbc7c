import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** Compiles src/ to dist/ so that bin/schema-engine runs the current code. */
export default function setup(): void {
  const packageDir = fileURLToPath(new URL("..", import.meta.url));
  const tsc = join(packageDir, "node_modules", "typescript", "bin", "tsc");
  execFileSync(process.execPath, [tsc, "-p", "tsconfig.build.json"], { cwd: packageDir, stdio: "inherit" });
}
