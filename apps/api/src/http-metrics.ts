/** Request counts and latency per route and status, in Prometheus text form. */
import { LatencyWindow } from "@auditrail/audit-core";

export class HttpMetrics {
  private readonly counts = new Map<string, number>();
  private readonly latency = new Map<string, LatencyWindow>();

  observe(route: string, status: number, ms: number): void {
    const key = `route="${route}",status="${status}"`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let window = this.latency.get(route);
    if (!window) this.latency.set(route, (window = new LatencyWindow(4096)));
    window.add(ms);
  }

  text(): string {
    const lines = ["# HELP http_requests_total HTTP requests by route and status.", "# TYPE http_requests_total counter"];
    for (const [labels, n] of this.counts) lines.push(`http_requests_total{${labels}} ${n}`);
    lines.push("# HELP http_request_duration_ms HTTP request latency by route.", "# TYPE http_request_duration_ms summary");
    for (const [route, window] of this.latency) {
      const s = window.summary();
      for (const [q, v] of [["0.5", s.p50], ["0.95", s.p95], ["0.99", s.p99]] as const) {
        lines.push(`http_request_duration_ms{route="${route}",quantile="${q}"} ${v}`);
      }
    }
    return `${lines.join("\n")}\n`;
  }
}
