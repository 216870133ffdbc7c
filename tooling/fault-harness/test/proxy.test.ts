/** The fault proxy itself, against a local echo server: pass, delay, blackhole, reset. */
import { type AddressInfo, type Server, type Socket, connect, createServer } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type FaultProxy, startFaultProxy } from "../src/proxy.ts";

let echo: Server;
let proxy: FaultProxy;
const sockets: Socket[] = [];

beforeAll(async () => {
  echo = createServer((s) => {
    s.on("error", () => undefined);
    s.pipe(s);
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", resolve));
  proxy = await startFaultProxy({ target: { host: "127.0.0.1", port: (echo.address() as AddressInfo).port } });
});
afterEach(() => {
  for (const s of sockets.splice(0)) s.destroy();
  proxy.mode("pass");
});
afterAll(async () => {
  await proxy.close();
  await new Promise((resolve) => echo.close(resolve));
});

async function open(): Promise<Socket> {
  const socket = connect({ host: proxy.host, port: proxy.port, noDelay: true });
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  return socket;
}

/** Sends `text` and waits up to `ms` for it to come back; the round trip in ms, or an error. */
function roundTrip(socket: Socket, text: string, ms = 2_000): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    let got = "";
    const timer = setTimeout(() => done(new Error(`no echo within ${ms} ms`)), ms);
    const onData = (chunk: Buffer) => {
      got += chunk.toString();
      if (got.length >= text.length) done();
    };
    const onError = (error: Error) => done(error);
    const onClose = () => done(new Error("closed"));
    function done(error?: Error) {
      clearTimeout(timer);
      socket.off("data", onData).off("error", onError).off("close", onClose);
      if (error) reject(error);
      else resolve(performance.now() - started);
    }
    socket.on("data", onData).on("error", onError).on("close", onClose);
    socket.write(text);
  });
}

describe("the fault proxy", () => {
  it("passes bytes both ways and rewrites a database URL to point at itself", async () => {
    const s = await open();
    expect(await roundTrip(s, "hello")).toBeLessThan(500);
    expect(proxy.url("postgresql://postgres:pw@db.example:5432/test?sslmode=disable")).toBe(
      `postgresql://postgres:pw@127.0.0.1:${proxy.port}/test?sslmode=disable`,
    );
  });

  it("delays every chunk in each direction, keeping order, and stops delaying on pass", async () => {
    const s = await open();
    proxy.mode("delay", { delayMs: 150 });
    const rtt = await roundTrip(s, "slow");
    expect(rtt).toBeGreaterThanOrEqual(295);
    let got = "";
    s.on("data", (c: Buffer) => (got += c.toString()));
    s.write("a");
    await new Promise((r) => setTimeout(r, 20));
    proxy.mode("pass");
    s.write("b");
    await new Promise((r) => setTimeout(r, 450));
    expect(got).toBe("ab");
    s.removeAllListeners("data");
    // Well under the 300 ms delay it had (with room for a loaded machine): the delay is off.
    expect(await roundTrip(s, "fast")).toBeLessThan(250);
  });

  it("blackholes open and new connections: accepted, never answered, not revived by pass", async () => {
    const before = await open();
    proxy.mode("blackhole");
    const during = await open();
    await expect(roundTrip(before, "x", 300)).rejects.toThrow(/no echo/);
    await expect(roundTrip(during, "y", 300)).rejects.toThrow(/no echo/);
    proxy.mode("pass");
    await expect(roundTrip(before, "z", 300)).rejects.toThrow(/no echo/);
    expect(await roundTrip(await open(), "fresh")).toBeLessThan(500);
    expect(proxy.stats().blackholed).toBeGreaterThanOrEqual(2);
  });

  it("resets open connections and every new one while in reset mode", async () => {
    const s = await open();
    const reset = new Promise<string>((resolve) => s.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? "")));
    proxy.mode("reset");
    expect(await reset).toBe("ECONNRESET");
    const next = connect({ host: proxy.host, port: proxy.port });
    sockets.push(next);
    const failed = await new Promise<string>((resolve) => {
      next.once("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? ""));
      next.once("connect", () => next.write("?"));
    });
    expect(failed).toBe("ECONNRESET");
    proxy.mode("pass");
    expect(await roundTrip(await open(), "back")).toBeLessThan(500);
  });
});
