/**
 * One side of one peers contender, in a process of its own (forked by cases/peers.ts with an IPC
 * channel), so its RSS and CPU are its own:
 *
 *   peers-run.js producer <contender> <url> <queueUrl> <queue> <entries> <loops>
 *   peers-run.js consumer <contender> <url> <queueUrl> <queue>
 *
 * The producer hands `entries` events over from `loops` concurrent request loops, each hand-off
 * awaited and followed by setImmediate (a separate request), then drains and sends ProducerDone.
 * Both close and exit on Stop.
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";
import { summarize } from "./stats.ts";
import { type ContenderName, PEERS_ACTION, type Place, REDIS, isContender, openConsumer, openProducer } from "./peers/contenders.ts";
import { type ConsumerMessage, type ProducerMessage, ProcessMeter, type Stop } from "./peers/messages.ts";
import { patientUpdate } from "./target.ts";

const [role, name = "", url = "", queueUrl = "", queue = "", entries = "0", loops = "1"] = process.argv.slice(2);
if ((role !== "producer" && role !== "consumer") || !isContender(name) || !url || !queueUrl || !queue || !process.send) {
  console.error("usage (forked): peers-run.js producer|consumer <contender> <url> <queueUrl> <queue> [entries loops]");
  process.exit(2);
}
const place: Place = { url, queueUrl, queue, redis: REDIS };
const meter = new ProcessMeter();
const send = (message: ConsumerMessage | ProducerMessage) => process.send?.(message);
const stopped = new Promise<void>((resolve) => process.on("message", (m: Stop) => m.type === "stop" && resolve()));

if (role === "consumer") {
  const consumer = await openConsumer(name, place);
  send({ type: "ready" });
  await stopped;
  const { rssMb, cpuS } = meter.read();
  await consumer.close();
  send({ type: "stopped", rssMb, cpuS });
} else {
  await produce(name, Number(entries), Number(loops));
  send({ type: "stopped" });
}
meter.stop();
process.disconnect();
process.exit(0);

async function produce(contender: ContenderName, n: number, loopCount: number): Promise<void> {
  const producer = await openProducer(contender, place, loopCount);
  const samples = new Float64Array(n);
  let next = 0;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const firstHandOffAt = performance.timeOrigin + performance.now();
  const loop = async () => {
    while (next < n) {
      const i = next++;
      const event = patientUpdate(PEERS_ACTION);
      const t0 = performance.now();
      await producer.handOff(event);
      samples[i] = (performance.now() - t0) * 1_000;
      await nextTurn();
    }
  };
  await Promise.all(Array.from({ length: loopCount }, loop));
  delay.disable();
  await producer.drain();
  const us = summarize(samples);
  send({
    type: "done",
    producerP50Us: us.p50,
    producerP99Us: us.p99,
    loopDelayP99Ms: delay.percentile(99) / 1e6,
    firstHandOffAt,
    ...meter.read(),
    spilled: producer.spilled(),
  });
  await stopped;
  await producer.close();
}
