/**
 * Loads `@prisma/schema-engine-wasm`.
 *
 * The package's entry point does `import * as wasm from "./schema_engine_bg.wasm"`,
 * which Node 20 only supports behind `--experimental-wasm-modules`. We load the
 * JS glue (`schema_engine_bg.js`) ourselves, instantiate the `.wasm` file with it
 * as import object and hand the instance back to the glue, which is exactly
 * what the entry point does.
 */
import { readFile } from "node:fs/promises";

import type { SchemaEngine as WasmSchemaEngine } from "@prisma/schema-engine-wasm";
import * as glue from "@prisma/schema-engine-wasm/schema_engine_bg";

export type { WasmSchemaEngine };

/**
 * The Wasm engine reports the reason of a Rust panic through
 * `globalThis.PRISMA_WASM_PANIC_REGISTRY.set_message()`; without it a panic is
 * only an opaque `RuntimeError: unreachable`.
 */
class PanicRegistry {
  message = "";
  set_message(message: string): void {
    this.message = message;
  }
}

export const panicRegistry = new PanicRegistry();

declare global {
  var PRISMA_WASM_PANIC_REGISTRY: PanicRegistry | undefined;
}

/**
 * The slice of the WebAssembly JS API used here. `@types/node` 20 does not
 * declare the `WebAssembly` global (it lives in TypeScript's DOM lib).
 */
interface WebAssemblyApi {
  instantiate(
    bytes: Uint8Array,
    imports: Record<string, Record<string, unknown>>,
  ): Promise<{ instance: { exports: Record<string, unknown> } }>;
}

function webAssembly(): WebAssemblyApi {
  const api: unknown = Reflect.get(globalThis, "WebAssembly");
  if (typeof api !== "object" || api === null || typeof Reflect.get(api, "instantiate") !== "function") {
    throw new Error("WebAssembly is not available in this JavaScript runtime");
  }
  return api as WebAssemblyApi;
}

let loaded: Promise<typeof glue> | undefined;

async function instantiate(): Promise<typeof glue> {
  globalThis.PRISMA_WASM_PANIC_REGISTRY = panicRegistry;
  const glueUrl = import.meta.resolve("@prisma/schema-engine-wasm/schema_engine_bg");
  const bytes = await readFile(new URL("schema_engine_bg.wasm", glueUrl));
  const { instance } = await webAssembly().instantiate(bytes, { "./schema_engine_bg.js": { ...glue } });
  glue.__wbg_set_wasm(instance.exports);
  const start = instance.exports.__wbindgen_start;
  if (typeof start === "function") start();
  return glue;
}

export function loadWasm(): Promise<typeof glue> {
  loaded ??= instantiate();
  return loaded;
}

/** Git hash of prisma-engines the Wasm module was built from. */
export async function wasmEngineVersion(): Promise<string> {
  return (await loadWasm()).version();
}

/** Whether an error thrown by the engine is a Rust panic (the module is unusable afterwards). */
export function isWasmPanic(error: unknown): error is Error {
  return error instanceof Error && error.name === "RuntimeError";
}

export function panicMessage(error: Error): string {
  return panicRegistry.message !== "" ? panicRegistry.message : error.message;
}
