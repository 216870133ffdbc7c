/** Display helpers shared by the views. */
export const REDACTED = "[REDACTED]";

/** Local time, to the millisecond (or the second, for narrow columns). */
export function formatTime(iso: string, millis = true): string {
  const d = new Date(iso);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${millis ? `.${pad(d.getMilliseconds(), 3)}` : ""}`;
}

export function actorOf(e: { actorId: string | null; actorRole: string | null }): string {
  if (!e.actorId) return "anonymous";
  return e.actorRole ? `${e.actorRole} · ${e.actorId}` : e.actorId;
}

export function outcomeClass(outcome: string): string {
  return outcome === "ok" ? "outcome ok" : "outcome failed";
}
