/**
 * The tRPC plugin's errors, in the style of ../errors.ts: a stable code, a message that says what
 * was wrong and what is accepted instead.
 */
import { AuditrailError } from "../errors.ts";

/** createAuditPlugin's options failed validation; `issues` lists every problem. */
export class InvalidAuditPluginOptionsError extends AuditrailError {
  constructor(readonly issues: readonly string[]) {
    super("ERR_AUDIT_PLUGIN_OPTIONS", `Invalid audit plugin options:\n- ${issues.join("\n- ")}`);
  }
}

/** Procedures whose `meta.audit` is invalid or missing, or asks for what the plugin was not given. */
export class InvalidAuditMetaError extends AuditrailError {
  constructor(readonly issues: readonly string[]) {
    super("ERR_AUDIT_META", `Invalid audit meta:\n- ${issues.join("\n- ")}`);
  }
}

/** A procedure used the plugin in a way its configuration does not allow (found at call time). */
export class AuditConfigError extends AuditrailError {
  constructor(path: string, reason: string) {
    super("ERR_AUDIT_CONFIG", `Audit plugin misused by procedure "${path}": ${reason}`);
  }
}
