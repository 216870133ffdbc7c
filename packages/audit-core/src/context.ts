/**
 * The request context an audit entry is stamped with: who acts, and from where. Set it once per
 * request (the tRPC plugin does) or around any unit of work outside a request (a job, a script);
 * `record` reads it, so callers do not thread it through every call.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface AuditActor {
  readonly id: string;
  readonly role?: string | undefined;
}

export interface AuditContext {
  readonly actor?: AuditActor | undefined;
  readonly requestId?: string | undefined;
  readonly ip?: string | undefined;
  readonly userAgent?: string | undefined;
}

const storage = new AsyncLocalStorage<AuditContext>();

/** Runs `fn` with `context` merged over the current one (inner values win). */
export function withAuditContext<T>(context: AuditContext, fn: () => T): T {
  const outer = storage.getStore();
  return storage.run(outer ? { ...outer, ...context } : context, fn);
}

/** The context in force here, if any. */
export function currentAuditContext(): AuditContext | undefined {
  return storage.getStore();
}
