/**
 * A TCP fault proxy on 127.0.0.1 between a client (the audit writer's sink) and a server
 * (PostgreSQL), switched between four modes on command, so an outage is simulated without
 * touching the shared server:
 *
 * - `pass`: bytes flow both ways as they come.
 * - `delay`: every chunk, in each direction, is held `delayMs` before it is forwarded (order kept),
 *   so one request/response round trip costs 2 × delayMs more.
 * - `blackhole`: nothing flows and nothing is answered. Connections open at the switch, and those
 *   accepted meanwhile, go silent *for good* (their bytes are discarded, as after a firewall or NAT
 *   drops its state): only a reset or close ends them, a later `pass` does not revive them.
 * - `reset`: every open connection is cut with a TCP RST (both sides); new ones are reset on accept.
 *
 * Built on node:net only; no data is parsed.
 */
import { type AddressInfo, type Server, type Socket, connect, createServer } from "node:net";

export type FaultMode = "pass" | "delay" | "blackhole" | "reset";

export interface FaultProxyOptions {
  readonly target: { readonly host: string; readonly port: number };
  /** Port to listen on (default: an ephemeral one). */
  readonly port?: number;
}

export interface FaultProxyStats {
  /** Connections accepted since start. */
  readonly accepted: number;
  /** Connections open now (forwarding or silenced). */
  readonly open: number;
  /** Connections cut with a reset (open ones at a switch to `reset`, and new ones during it). */
  readonly reset: number;
  /** Connections silenced by a blackhole. */
  readonly blackholed: number;
}

export interface FaultProxy {
  readonly host: string;
  readonly port: number;
  /** `dbUrl` with its host and port replaced by the proxy's. */
  url(dbUrl: string): string;
  /** Switches the mode; `delayMs` (per chunk, per direction) is required for `delay`. */
  mode(mode: FaultMode, options?: { delayMs?: number }): void;
  readonly current: FaultMode;
  stats(): FaultProxyStats;
  /** Stops listening and destroys every connection. */
  close(): Promise<void>;
}

/** One direction of one connection: a FIFO of chunks, each forwarded at its due time. */
class Lane {
  private readonly queue: Array<{ at: number; chunk: Buffer }> = [];
  private last = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly link: Link,
    private readonly out: Socket,
  ) {}

  push(chunk: Buffer, delayMs: number): void {
    const now = Date.now();
    // Never earlier than the chunk before it: a change of mode must not reorder the stream.
    const at = Math.max(now + delayMs, this.last);
    this.last = at;
    this.queue.push({ at, chunk });
    this.pump();
  }

  clear(): void {
    this.queue.length = 0;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.timer) return;
    const now = Date.now();
    while (this.queue.length > 0 && (this.queue[0] as { at: number }).at <= now) {
      const { chunk } = this.queue.shift() as { chunk: Buffer };
      if (!this.link.silent && !this.out.destroyed) this.out.write(chunk);
    }
    const next = this.queue[0];
    if (next) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.pump();
      }, next.at - now);
    }
  }
}

class Link {
  silent = false;
  readonly toServer: Lane;
  readonly toClient: Lane;

  constructor(
    readonly client: Socket,
    readonly server: Socket | undefined,
  ) {
    this.toServer = new Lane(this, server ?? client);
    this.toClient = new Lane(this, client);
  }

  silence(): void {
    this.silent = true;
    this.toServer.clear();
    this.toClient.clear();
  }

  reset(): void {
    this.silence();
    if (!this.client.destroyed) this.client.resetAndDestroy();
    if (this.server && !this.server.destroyed) this.server.resetAndDestroy();
  }

  destroy(): void {
    this.silence();
    this.client.destroy();
    this.server?.destroy();
  }
}

export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const { target } = options;
  const links = new Set<Link>();
  let mode: FaultMode = "pass";
  let delayMs = 0;
  let accepted = 0;
  let resets = 0;
  let blackholed = 0;

  const server: Server = createServer({ noDelay: true }, (client) => {
    accepted++;
    client.on("error", () => undefined);
    if (mode === "reset") {
      resets++;
      client.resetAndDestroy();
      return;
    }
    if (mode === "blackhole") {
      // Accepted (the kernel already did), then never answered.
      const link = new Link(client, undefined);
      link.silence();
      blackholed++;
      links.add(link);
      client.on("data", () => undefined);
      client.on("close", () => links.delete(link));
      return;
    }
    const upstream = connect({ host: target.host, port: target.port, noDelay: true });
    upstream.on("error", () => undefined);
    const link = new Link(client, upstream);
    links.add(link);
    const delay = () => (mode === "delay" ? delayMs : 0);
    client.on("data", (chunk: Buffer) => {
      if (!link.silent) link.toServer.push(chunk, delay());
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!link.silent) link.toClient.push(chunk, delay());
    });
    // A close on one side closes the other (unless silenced: a blackhole carries no FIN either).
    client.on("close", () => {
      if (!link.silent) upstream.destroy();
      if (client.destroyed && upstream.destroyed) links.delete(link);
    });
    upstream.on("close", () => {
      if (!link.silent) client.destroy();
      if (client.destroyed && upstream.destroyed) links.delete(link);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    host: "127.0.0.1",
    port,
    url(dbUrl) {
      const url = new URL(dbUrl);
      url.hostname = "127.0.0.1";
      url.port = String(port);
      return url.toString();
    },
    mode(next, opts = {}) {
      if (next === "delay") {
        if (opts.delayMs === undefined || opts.delayMs < 0) throw new Error('mode("delay") needs { delayMs ≥ 0 }');
        delayMs = opts.delayMs;
      }
      mode = next;
      if (next === "blackhole") {
        for (const link of links) {
          if (!link.silent) blackholed++;
          link.silence();
        }
      } else if (next === "reset") {
        for (const link of links) {
          resets++;
          link.reset();
        }
        links.clear();
      }
    },
    get current() {
      return mode;
    },
    stats: () => ({ accepted, open: links.size, reset: resets, blackholed }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const link of links) link.destroy();
        links.clear();
        server.close(() => resolve());
      }),
  };
}
