/** What the bench prints as it goes, and the Markdown written to results/latest.md. */
import type { PeerResult } from "./cases/peers.ts";
import type { GateOutcome } from "./gates.ts";
import { round } from "./stats.ts";

export interface RunReport {
  readonly profile: string;
  readonly node: string;
  readonly startedAt: string;
  readonly machine: { readonly cpus: number; readonly cpuModel: string; readonly memoryGb: number; readonly platform: string };
  readonly results: Record<string, Record<string, unknown>>;
  gates?: GateOutcome[];
}

/** Every numeric leaf as [dotted key, value], in insertion order. */
export function flatten(value: unknown, prefix = ""): [string, number][] {
  if (typeof value === "number") return [[prefix, value]];
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k));
}

export function markdown(report: RunReport): string {
  const providers = Object.keys(report.results);
  const keys = [...new Set(providers.flatMap((p) => flatten(report.results[p]).map(([k]) => k)))];
  const lookup = new Map(providers.map((p) => [p, new Map(flatten(report.results[p]))]));
  const out = [
    `# auditrail bench — ${report.profile} profile`,
    "",
    `Node ${report.node}, ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.memoryGb} GiB, ${report.machine.platform}; started ${report.startedAt}.`,
    "Times in ms unless the key says Us (µs); ratios are measured within this one run.",
    "",
    `| metric | ${providers.join(" | ")} |`,
    `|---|${providers.map(() => "---:").join("|")}|`,
    ...keys.map((k) => `| ${k} | ${providers.map((p) => fmt(lookup.get(p)?.get(k))).join(" | ")} |`),
  ];
  const peers = report.results.postgresql?.peers;
  if (typeof peers === "object" && peers !== null) out.push("", ...peersTable(peers as Record<string, PeerResult>));
  if (report.gates) {
    out.push("", "## Gates", "", "| provider | key | rule | value | |", "|---|---|---|---:|---|");
    for (const g of report.gates)
      out.push(`| ${g.provider} | ${g.key} | ${g.rule} | ${fmt(g.value)} | ${g.passed ? "pass" : "**FAIL**"} |`);
  }
  return `${out.join("\n")}\n`;
}

/** The peers case as one table, fastest end-to-end (one request loop) first. */
export function peersTable(peers: Readonly<Record<string, PeerResult>>): string[] {
  const rows = Object.entries(peers).sort(([, a], [, b]) => b.rowsPerSec - a.rowsPerSec);
  const entries = rows[0]?.[1].entries;
  return [
    `## Peers (PostgreSQL, ${entries ?? "—"} entries each; 1 request loop, and 10 loops)`,
    "",
    "| contender | hand-off p50 µs | p99 µs | loop delay p99 ms | rows/s | persisted | producer RSS MB | consumer RSS MB | producer CPU s | consumer CPU s | 10 loops: p99 µs | 10 loops: loop delay p99 ms | 10 loops: rows/s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...rows.map(
      ([name, r]) =>
        `| ${name} | ${[r.producerP50Us, r.producerP99Us, r.loopDelayP99Ms, r.rowsPerSec, r.persisted, r.rssMb, r.consumerRssMb, r.cpuS, r.consumerCpuS, r.loops10.producerP99Us, r.loops10.loopDelayP99Ms, r.loops10.rowsPerSec].map(fmt).join(" | ")} |`,
    ),
  ];
}

function fmt(v: number | undefined): string {
  return v === undefined ? "—" : String(round(v));
}

/** One terminal line: provider, case, and the figures that matter, aligned. */
export function line(provider: string, name: string, figures: Record<string, number | string>): string {
  const parts = Object.entries(figures).map(([k, v]) => `${k} ${typeof v === "number" ? round(v) : v}`);
  return `${provider.padEnd(10)} ${name.padEnd(11)} ${parts.join("  ")}`;
}
