/**
 * The load generator of the api case, run as its own process so the server's event loop is not
 * shared with the client's. Sends `requests` tRPC mutations (POST /trpc/<path>, JSON body) over
 * keep-alive connections, `concurrency` at a time after `warmup` unmeasured ones, and prints the
 * per-request latencies (ms) as one JSON line. Every response must be 200, or it exits 1.
 *
 *   node load.js <baseUrl> <token> <path> <bodiesJson> <requests> <concurrency> <warmup>
 *
 * bodiesJson is an array of request bodies, used round-robin.
 */
import { Agent, request } from "node:http";

const [base, token, path, bodiesJson, requests, concurrency, warmup] = process.argv.slice(2);
if (!base || !token || !path || !bodiesJson) {
  console.error("usage: load.js <baseUrl> <token> <path> <bodiesJson> <requests> <concurrency> <warmup>");
  process.exit(2);
}
const bodies = (JSON.parse(bodiesJson) as unknown[]).map((b) => JSON.stringify(b));
const url = new URL(`/trpc/${path}`, base);
const agent = new Agent({ keepAlive: true, maxSockets: Number(concurrency ?? 1) });

function call(i: number): Promise<number> {
  const body = bodies[i % bodies.length] as string;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: "POST",
        agent,
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body), authorization: `Bearer ${token}` },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          if (res.statusCode !== 200) reject(new Error(`HTTP ${res.statusCode}: ${Buffer.concat(chunks).toString()}`));
          else resolve(performance.now() - started);
        });
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

async function run(count: number, offset: number, parallel: number): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) {
        const i = next++;
        latencies.push(await call(offset + i));
      }
    }),
  );
  return latencies;
}

const parallel = Number(concurrency ?? 1);
await run(Number(warmup ?? 0), 0, parallel);
const latencies = await run(Number(requests ?? 100), Number(warmup ?? 0), parallel);
console.log(JSON.stringify({ latencies }));
agent.destroy();
