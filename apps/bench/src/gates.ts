/**
 * CI gates: ratios measured in one run, never absolute times (the machines are shared and noisy).
 * A gate reads one key of one provider's results; a missing or non-finite value fails it too.
 */
export type ProviderResults = Readonly<Record<string, unknown>>;

export interface Gate {
  readonly key: string;
  readonly rule: string;
  readonly passes: (value: number, results: ProviderResults) => boolean;
  /** The providers it applies to (all when absent): the peers case runs on PostgreSQL only. */
  readonly providers?: readonly string[];
}

export const GATES: readonly Gate[] = [
  { key: "seed50.speedup", rule: "≥ 20", passes: (v) => v >= 20 },
  { key: "seed50.persisted", rule: "= 1 (every entry written)", passes: (v) => v >= 1 },
  { key: "nplus1.page10", rule: "= nplus1.page100", passes: (v, r) => v === valueAt(r, "nplus1.page100") },
  { key: "throughput.ratioToCeiling", rule: "≥ 0.2", passes: (v) => v >= 0.2 },
  { key: "api.asyncOverhead", rule: "≤ 1.5", passes: (v) => v <= 1.5 },
  { key: "jetstream.persisted", rule: "= 1 (every entry through JetStream written)", passes: (v) => v >= 1, providers: ["postgresql"] },
  { key: "jetstream.lagAfter", rule: "= 0 (ingest caught up)", passes: (v) => v === 0, providers: ["postgresql"] },
  { key: "peers.auditrail.persisted", rule: "= 1 (every entry written)", passes: (v) => v >= 1, providers: ["postgresql"] },
  { key: "peers.auditrail.loops10.persisted", rule: "= 1 (every entry written)", passes: (v) => v >= 1, providers: ["postgresql"] },
];

export interface GateOutcome {
  readonly provider: string;
  readonly key: string;
  readonly rule: string;
  readonly value: number | undefined;
  readonly passed: boolean;
}

/** The value at a dotted path, if it is a finite number. */
export function valueAt(results: ProviderResults, path: string): number | undefined {
  let node: unknown = results;
  for (const part of path.split(".")) {
    if (typeof node !== "object" || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return typeof node === "number" && Number.isFinite(node) ? node : undefined;
}

export function evaluateGates(byProvider: Readonly<Record<string, ProviderResults>>): GateOutcome[] {
  const outcomes: GateOutcome[] = [];
  for (const [provider, results] of Object.entries(byProvider)) {
    for (const gate of GATES) {
      if (gate.providers && !gate.providers.includes(provider)) continue;
      const value = valueAt(results, gate.key);
      outcomes.push({ provider, key: gate.key, rule: gate.rule, value, passed: value !== undefined && gate.passes(value, results) });
    }
  }
  return outcomes;
}
