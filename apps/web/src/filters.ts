/** The trail's filters, kept in the page URL's query so a view can be shared (and reloaded). */
import type { AuditFilter } from "./api.ts";

export const FILTER_FIELDS = [
  { key: "actorId", label: "Actor id" },
  { key: "action", label: "Action", placeholder: "patient.*" },
  { key: "entity", label: "Entity" },
  { key: "entityId", label: "Entity id" },
  { key: "outcome", label: "Outcome", placeholder: "failed, FORBIDDEN" },
  { key: "requestId", label: "Request id" },
  { key: "ip", label: "IP" },
] as const satisfies readonly { key: keyof AuditFilter; label: string; placeholder?: string }[];

export const TIME_FIELDS = [
  { key: "from", label: "From" },
  { key: "to", label: "To" },
] as const satisfies readonly { key: keyof AuditFilter; label: string }[];

const KEYS = [...FILTER_FIELDS, ...TIME_FIELDS].map((f) => f.key);

export function filterFromQuery(params: URLSearchParams): AuditFilter {
  const filter: AuditFilter = {};
  for (const key of KEYS) {
    const value = params.get(key)?.trim();
    if (value) filter[key] = value;
  }
  return filter;
}

export function queryOf(filter: AuditFilter, extra: Record<string, string | undefined> = {}): URLSearchParams {
  const params = new URLSearchParams();
  for (const key of KEYS) {
    const value = filter[key];
    if (value) params.set(key, value);
  }
  for (const [key, value] of Object.entries(extra)) if (value) params.set(key, value);
  return params;
}

/** An ISO instant as the value of a datetime-local input (local time, minutes). */
export function toLocalInput(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** A datetime-local input's value as an ISO instant with offset (what the API takes). */
export function fromLocalInput(value: string): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
