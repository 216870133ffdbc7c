/**
 * `@auditrail/jetstream/testing`: a real three-node JetStream cluster on 127.0.0.1 for tests and the
 * bench. Every node gets its own free client and route ports and its own store directory under a
 * temporary folder; nodes can be killed and restarted (same ports, same store). It never touches a
 * NATS server already running on the machine (e.g. the system one on :4222).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";

/** The nats-server binary: $NATS_SERVER_BIN, else the first on PATH, /usr/sbin or /usr/local/bin. */
export function natsServerBinary(): string {
  const explicit = process.env.NATS_SERVER_BIN;
  if (explicit) return explicit;
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/local/bin", "/usr/bin"];
  for (const dir of dirs) {
    const candidate = join(dir, "nats-server");
    if (dir !== "" && existsSync(candidate)) return candidate;
  }
  throw new Error("nats-server not found: install it (Debian: apt-get install nats-server) or set NATS_SERVER_BIN");
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

interface Node {
  readonly name: string;
  readonly port: number;
  readonly routePort: number;
  readonly config: string;
  process: ChildProcess | undefined;
  exited: Promise<void> | undefined;
  log: string;
}

export class NatsCluster {
  private constructor(
    readonly dir: string,
    private readonly nodes: Node[],
  ) {}

  /** Client URLs of the nodes, in order. */
  get urls(): string[] {
    return this.nodes.map((n) => `nats://127.0.0.1:${n.port}`);
  }

  /** The servers as NATS_URL takes them (comma-separated). */
  get natsUrl(): string {
    return this.urls.join(",");
  }

  /** Starts `size` nodes (3 by default; 1 = a single server, no cluster) and resolves once JetStream answers with a meta leader. */
  static async start(size = 3): Promise<NatsCluster> {
    const binary = natsServerBinary();
    const dir = await mkdtemp(join(tmpdir(), "auditrail-nats-"));
    const ports: number[] = [];
    while (ports.length < size * 2) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    const nodes: Node[] = [];
    for (let i = 0; i < size; i++) {
      const name = `n${i + 1}`;
      const port = ports[i * 2] as number;
      const routePort = ports[i * 2 + 1] as number;
      const routes = ports.filter((_, j) => j % 2 === 1 && j !== i * 2 + 1).map((p) => `nats-route://127.0.0.1:${p}`);
      const store = join(dir, name);
      await mkdir(store);
      const config = join(dir, `${name}.conf`);
      await writeFile(
        config,
        [
          `server_name: ${name}`,
          `listen: "127.0.0.1:${port}"`,
          `jetstream { store_dir: ${JSON.stringify(store)}, max_memory_store: 64MB, max_file_store: 16GB }`,
          size === 1
            ? ""
            : `cluster { name: auditrail-test, listen: "127.0.0.1:${routePort}", routes: [${routes.map((r) => JSON.stringify(r)).join(", ")}] }`,
          "",
        ].join("\n"),
      );
      nodes.push({ name, port, routePort, config, process: undefined, exited: undefined, log: "" });
    }
    const cluster = new NatsCluster(dir, nodes);
    for (let i = 0; i < size; i++) cluster.spawn(i, binary);
    await cluster.ready();
    return cluster;
  }

  /** Resolves once every node accepts clients and JetStream answers account requests (a meta leader exists). */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const nc = await connect({ servers: this.urls, timeout: 1_000, maxReconnectAttempts: 0 });
        try {
          const jsm = await jetstreamManager(nc, { timeout: 2_000 });
          await jsm.getAccountInfo();
          return;
        } finally {
          await nc.close();
        }
      } catch (error) {
        last = error;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
    throw new Error(
      `NATS cluster not ready after ${timeoutMs} ms: ${String(last)}\n${this.nodes.map((n) => `${n.name}: ${n.log.slice(-2_000)}`).join("\n")}`,
    );
  }

  /** Kills node `index` (0-based) with `signal` and waits for it to exit. */
  async kill(index: number, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    const node = this.node(index);
    if (!node.process) return;
    node.process.kill(signal);
    await node.exited;
  }

  /** Freezes node `index` (SIGSTOP): its connections stay open and go silent, as in a network partition. */
  pause(index: number): void {
    this.node(index).process?.kill("SIGSTOP");
  }

  /** Lets a paused node run again (SIGCONT). */
  resume(index: number): void {
    this.node(index).process?.kill("SIGCONT");
  }

  /** Starts node `index` again on the same ports and store. */
  async restart(index: number): Promise<void> {
    this.spawn(index, natsServerBinary());
    await this.ready();
  }

  /** Stops every node and removes the store directories. */
  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((_, i) => this.kill(i, "SIGKILL"))); // SIGKILL ends a paused node too
    await rm(this.dir, { recursive: true, force: true });
  }

  private node(index: number): Node {
    const node = this.nodes[index];
    if (!node) throw new RangeError(`no node ${index} in a cluster of ${this.nodes.length}`);
    return node;
  }

  private spawn(index: number, binary: string): void {
    const node = this.node(index);
    if (node.process) throw new Error(`node ${node.name} is running`);
    const child = spawn(binary, ["-c", node.config], { stdio: ["ignore", "ignore", "pipe"] });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      node.log = (node.log + chunk).slice(-20_000);
    });
    node.process = child;
    node.exited = new Promise((resolve) => {
      child.once("exit", () => {
        node.process = undefined;
        resolve();
      });
    });
  }
}
