/** What the bench prints as it goes, and the Markdown written to results/latest.md. */
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
  if (report.gates) {
    out.push("", "## Gates", "", "| provider | key | rule | value | |", "|---|---|---|---:|---|");
    for (const g of report.gates) out.push(`| ${g.provider} | ${g.key} | ${g.rule} | ${fmt(g.value)} | ${g.passed ? "pass" : "**FAIL**"} |`);
  }
  return `${out.join("\n")}\n`;
}

function fmt(v: number | undefined): string {
  return v === undefined ? "—" : String(round(v));
}

/** One terminal line: provider, case, and the figures that matter, aligned. */
export function line(provider: string, name: string, figures: Record<string, number | string>): string {
  const parts = Object.entries(figures).map(([k, v]) => `${k} ${typeof v === "number" ? round(v) : v}`);
  return `${provider.padEnd(10)} ${name.padEnd(11)} ${parts.join("  ")}`;
}
