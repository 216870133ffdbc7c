/**
 * The API's own metrics in Prometheus text form: HTTP requests by route (each tRPC procedure is its
 * own route) and status, their latency, and the audit events the plugin produced by outcome.
 */
import { LatencyWindow } from "@auditrail/audit-core";

export class HttpMetrics {
  private readonly counts = new Map<string, number>();
  private readonly latency = new Map<string, LatencyWindow>();
  private readonly auditEvents = new Map<string, number>();

  observe(route: string, status: number, ms: number): void {
    const key = `route="${route}",status="${status}"`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    let window = this.latency.get(route);
    if (!window) {
      window = new LatencyWindow(4096);
      this.latency.set(route, window);
    }
    window.add(ms);
  }

  /** One audit event built by the plugin (before it is written), by outcome. */
  auditEvent(outcome: string): void {
    this.auditEvents.set(outcome, (this.auditEvents.get(outcome) ?? 0) + 1);
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
    lines.push(
      "# HELP auditrail_api_audit_events_total Audit events produced by the tRPC plugin, by outcome.",
      "# TYPE auditrail_api_audit_events_total counter",
    );
    for (const [outcome, n] of this.auditEvents) lines.push(`auditrail_api_audit_events_total{outcome="${outcome}"} ${n}`);
    return `${lines.join("\n")}\n`;
  }
}
