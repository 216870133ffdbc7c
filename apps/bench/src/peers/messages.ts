/** What the peers case's child processes and the bench say to each other over the IPC channel. */

/** A producer's figures, sent once every hand-off returned and its buffers drained. */
export interface ProducerDone {
  readonly type: "done";
  readonly producerP50Us: number;
  readonly producerP99Us: number;
  readonly loopDelayP99Ms: number;
  /** Epoch milliseconds (sub-ms) of the first hand-off. */
  readonly firstHandOffAt: number;
  readonly rssMb: number;
  readonly cpuS: number;
  readonly spilled: number;
}

/** A consumer, once it takes work, and once stopped. */
export type ConsumerMessage = { readonly type: "ready" } | { readonly type: "stopped"; readonly rssMb: number; readonly cpuS: number };

export type ProducerMessage = ProducerDone | { readonly type: "stopped" };

/** The bench's one instruction to a child: close and exit. */
export interface Stop {
  readonly type: "stop";
}

/** Peak RSS sampled every 50 ms (and on demand), and CPU seconds since creation. */
export class ProcessMeter {
  private peak = process.memoryUsage.rss();
  private readonly cpu = process.cpuUsage();
  private readonly timer = setInterval(() => this.sample(), 50);

  sample(): void {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }

  read(): { rssMb: number; cpuS: number } {
    this.sample();
    const used = process.cpuUsage(this.cpu);
    return { rssMb: this.peak / (1024 * 1024), cpuS: (used.user + used.system) / 1e6 };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
