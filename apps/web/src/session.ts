/** The signed-in user, kept for the tab's lifetime (sessionStorage): closing the tab signs out. */
export interface Session {
  readonly token: string;
  readonly user: { readonly id: string; readonly email: string; readonly name: string; readonly role: string };
}

const KEY = "auditrail.session";

export function loadSession(): Session | undefined {
  const raw = sessionStorage.getItem(KEY);
  if (!raw) return undefined;
  try {
    const parsed: unknown = JSON.parse(raw);
    return isSession(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(session: Session | undefined): void {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

function isSession(value: unknown): value is Session {
  if (typeof value !== "object" || value === null) return false;
  const { token, user } = value as Record<string, unknown>;
  if (typeof token !== "string" || typeof user !== "object" || user === null) return false;
  const u = user as Record<string, unknown>;
  return ["id", "email", "name", "role"].every((k) => typeof u[k] === "string");
}

/** What each role may see in the viewer; the API enforces the same (apps/api/src/permissions.ts). */
export const canReadAudit = (role: string) => role === "admin" || role === "auditor";
export const canVerify = (role: string) => role === "auditor";
export const canReplayDeadLetters = (role: string) => role === "admin";
