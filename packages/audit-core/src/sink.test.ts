import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SinkLoadError } from "./errors.ts";
import { checkSinkModule, loadSink } from "./sink.ts";
import { memorySinkSpec } from "./testing.ts";

describe("sink specs", () => {
  it("memorySinkSpec names the built testing module, which workers can import", () => {
    const spec = memorySinkSpec({ failFirst: 1 });
    expect(spec.module).toMatch(/^file:\/\/.*\/dist\/testing\.js$/);
    expect(spec.options).toEqual({ failFirst: 1 });
  });

  it("loads a sink from a file URL or an absolute path, passing the spec's options", async () => {
    const { module } = memorySinkSpec();
    expect(typeof (await checkSinkModule({ module }))).toBe("function");
    const sink = await loadSink({ module: fileURLToPath(module), options: { failFirst: 1 } });
    await expect(sink.write([])).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await sink.write([]);
    await sink.close();
    const defaults = await loadSink({ module });
    await defaults.write([]);
  });

  it("throws SinkLoadError naming the module when it cannot be imported", async () => {
    const error = await checkSinkModule({ module: "/no/such/sink.js" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SinkLoadError);
    expect((error as SinkLoadError).message).toMatch(/^Cannot load audit sink "\/no\/such\/sink\.js": /);
    expect((error as SinkLoadError).cause).toBeInstanceOf(Error);
    await expect(loadSink({ module: "no-such-package-xyz" })).rejects.toBeInstanceOf(SinkLoadError);
  });

  it("throws SinkLoadError when the module does not export createSink", async () => {
    await expect(checkSinkModule({ module: "node:path" })).rejects.toThrow(
      new SinkLoadError("node:path", "the module does not export a createSink(options) function"),
    );
  });
});
