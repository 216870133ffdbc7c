/**
 * The memory case in a process of its own (spawned by main.ts with --expose-gc), so that what it
 * measures is the writer under a flood and not what earlier cases left in the heap:
 *
 *   node --expose-gc memory-run.js <provider> <entries>
 *
 * Prints the MemoryResult as one JSON line.
 */
import type { Provider } from "@auditrail/db";
import { memory } from "./cases/memory.ts";
import { openTarget } from "./target.ts";

const [provider, entries] = process.argv.slice(2);
if ((provider !== "sqlite" && provider !== "postgresql") || !Number.isInteger(Number(entries))) {
  console.error("usage: memory-run.js <sqlite|postgresql> <entries>");
  process.exit(2);
}
const target = await openTarget(provider as Provider);
try {
  console.log(JSON.stringify(await memory(target, Number(entries))));
} finally {
  await target.close();
}
process.exit(0);
